//! `genie-sem-canonicalize`: folds shape arithmetic and constant scalars,
//! removes identity view/reshape/permute/expand/clone (and friends), composes
//! chains of views and permutes, and deletes dead ops. Runs to a fixpoint.

use crate::Pass;
use genie_ir::{AttrDict, Attribute, BinOp, Builder, DType, Diagnostics, Dim, Module, OpId, SymExpr, Type, ValueId};

pub struct Canonicalize;

/// Rounds before giving up on a fixpoint (each round is linear in the IR).
const MAX_ROUNDS: usize = 16;

impl Pass for Canonicalize {
    fn name(&self) -> &'static str {
        "genie-sem-canonicalize"
    }

    fn description(&self) -> &'static str {
        "fold shape arithmetic and constant scalars, remove identity views/permutes/copies, DCE"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        for _ in 0..MAX_ROUNDS {
            let mut changed = false;
            for op in m.walk() {
                if m.is_erased(op) {
                    continue;
                }
                changed |= simplify_sym_attrs(m, op);
                changed |= compose(m, op);
                if let Some(folded) = fold(m, op) {
                    let result = m.op(op).results[0];
                    let replacement = match folded {
                        // Uses (a function's return above all) keep their exact type.
                        Folded::Forward(v) if m.value_type(v) != m.value_type(result) => continue,
                        Folded::Forward(v) => v,
                        Folded::Constant(value) => {
                            let ty = m.value_type(result).clone();
                            let mut attrs = AttrDict::new();
                            attrs.set("value", value);
                            let mut b = Builder::before(m, op);
                            b.loc = b.module.op(op).loc.clone();
                            b.value("sem.constant", &[], ty, attrs)
                        }
                    };
                    m.replace_all_uses(result, replacement);
                    changed = true;
                }
            }
            changed |= dead_code_elimination(m);
            if !changed {
                break;
            }
        }
        Ok(())
    }
}

enum Folded {
    /// The op computes one of its operands (or another existing value).
    Forward(ValueId),
    /// The op computes a constant.
    Constant(Attribute),
}

/// Removes ops without side effects whose results are all unused, walking
/// backwards so chains of dead ops go in one sweep.
pub fn dead_code_elimination(m: &mut Module) -> bool {
    let mut changed = false;
    for op in m.walk().into_iter().rev() {
        let data = m.op(op);
        if m.is_erased(op) || !data.def.is_removable() || !data.regions.is_empty() {
            continue;
        }
        if data.results.iter().all(|&r| !m.has_uses(r)) {
            m.erase_op(op);
            changed = true;
        }
    }
    changed
}

fn simplify_attr(a: &Attribute) -> Option<Attribute> {
    match a {
        Attribute::Sym(e) => {
            let s = e.simplify();
            match s.as_const() {
                Some(c) => Some(Attribute::int(c)),
                None if s != *e => Some(Attribute::Sym(s)),
                None => None,
            }
        }
        Attribute::Array(items) => {
            let mut changed = false;
            let new: Vec<Attribute> = items
                .iter()
                .map(|i| match simplify_attr(i) {
                    Some(n) => {
                        changed = true;
                        n
                    }
                    None => i.clone(),
                })
                .collect();
            changed.then_some(Attribute::Array(new))
        }
        _ => None,
    }
}

/// Simplifies symbolic expressions in attributes (`s0 * 1` → `s0`, `4 * 2` → `8`).
fn simplify_sym_attrs(m: &mut Module, op: OpId) -> bool {
    let updates: Vec<(String, Attribute)> =
        m.op(op).attrs.iter().filter_map(|(k, v)| simplify_attr(v).map(|n| (k.to_string(), n))).collect();
    let changed = !updates.is_empty();
    for (k, v) in updates {
        m.op_mut(op).attrs.set(k, v);
    }
    changed
}

/// Rewrites chains in place: view(view(x)) → view(x), permute(permute(x)) →
/// one permute.
fn compose(m: &mut Module, op: OpId) -> bool {
    let data = m.op(op);
    let name = data.name();
    let Some(&input) = data.operands.first() else { return false };
    let Some(inner) = m.defining_op(input) else { return false };
    let inner_name = m.op(inner).name();
    let is_view = |n: &str| matches!(n, "sem.view" | "sem.reshape" | "sem._unsafe_view");
    if is_view(name) && is_view(inner_name) {
        let src = m.op(inner).operands[0];
        m.set_operand(op, 0, src);
        return true;
    }
    if name == "sem.permute" && inner_name == "sem.permute" {
        let outer = data.attr("dims").and_then(Attribute::as_int_array);
        let first = m.op(inner).attr("dims").and_then(Attribute::as_int_array);
        let (Some(outer), Some(first)) = (outer, first) else { return false };
        let rank = first.len() as i64;
        let norm = |d: i64| if d < 0 { d + rank } else { d };
        let composed: Option<Vec<Attribute>> =
            outer.iter().map(|&o| first.get(norm(o) as usize).map(|&f| Attribute::int(norm(f)))).collect();
        let Some(composed) = composed else { return false };
        let src = m.op(inner).operands[0];
        m.op_mut(op).attrs.set("dims", Attribute::Array(composed));
        m.set_operand(op, 0, src);
        return true;
    }
    false
}

fn constant_of(m: &Module, v: ValueId) -> Option<&Attribute> {
    let d = m.defining_op(v)?;
    (m.op(d).name() == "sem.constant").then(|| m.op(d).attr("value")).flatten()
}

fn has_no_dynamic_dims(t: &Type) -> bool {
    t.as_tensor().is_some_and(|t| !t.dims.contains(&Dim::Dynamic))
}

fn fold(m: &Module, op: OpId) -> Option<Folded> {
    let data = m.op(op);
    if data.results.len() != 1 || !data.regions.is_empty() {
        return None;
    }
    let result_ty = m.value_type(data.results[0]);
    let operand = |i: usize| data.operands.get(i).copied();
    let same_type_as_input = || operand(0).is_some_and(|x| m.value_type(x) == result_ty && has_no_dynamic_dims(result_ty));
    let attr_ints = |n: &str| data.attr(n).and_then(Attribute::as_int_array);
    let forward = || operand(0).map(Folded::Forward);
    match data.name() {
        "sem.clone" | "sem.alias" | "sem.detach" | "sem.lift_fresh_copy" => forward(),
        "sem.view" | "sem.reshape" | "sem._unsafe_view" | "sem.expand" if same_type_as_input() => forward(),
        "sem.squeeze" | "sem.repeat" if same_type_as_input() => forward(),
        "sem.flip" if attr_ints("dims").is_some_and(|d| d.is_empty()) => forward(),
        "sem._to_copy" if operand(0).is_some_and(|x| m.value_type(x) == result_ty) && data.attrs.iter().all(|(k, _)| k == "dtype" || k.contains('.')) => forward(),
        "sem.permute" => {
            let dims = attr_ints("dims")?;
            let rank = dims.len() as i64;
            dims.iter().enumerate().all(|(i, &d)| d == i as i64 || d + rank == i as i64).then(forward)?
        }
        "sem.transpose" => {
            let rank = m.value_type(operand(0)?).as_tensor()?.rank() as i64;
            let norm = |d: i64| if d < 0 { d + rank } else { d };
            let (a, b) = (data.attr("dim0")?.as_int()?, data.attr("dim1")?.as_int()?);
            (norm(a) == norm(b)).then(forward)?
        }
        "sem.slice" => {
            // A symbolic start is not known to be 0.
            let start = data.attr("start").map_or(Some(0), |s| s.as_sym_expr().and_then(|e| e.simplify().as_const()));
            let step = data.attr("step").and_then(Attribute::as_int).unwrap_or(1);
            let open_end = data.attr("end").is_none_or(|e| e.as_int().is_some_and(|v| v >= i64::MAX / 2));
            let dim = data.attr("dim")?.as_int()?;
            let t = m.value_type(operand(0)?).as_tensor()?;
            let d = if dim < 0 { dim + t.rank() as i64 } else { dim };
            let size = t.dims.get(d as usize)?;
            let end_is_size = data.attr("end").and_then(Attribute::as_sym_expr).is_some_and(|e| match size {
                Dim::Static(n) => e.as_const().is_some_and(|v| v >= *n),
                Dim::Sym(s) => e.as_sym() == Some(*s),
                Dim::Dynamic => false,
            });
            (start == Some(0) && step == 1 && (open_end || end_is_size)).then(forward)?
        }
        "sem.cat" if data.operands.len() == 1 && m.value_type(data.operands[0]) == result_ty => forward(),
        "sem.sym_size" => {
            let t = m.value_type(operand(0)?).as_tensor()?;
            let dim = data.attr("dim")?.as_int()?;
            let d = if dim < 0 { dim + t.rank() as i64 } else { dim };
            match t.dims.get(d as usize)? {
                Dim::Static(n) => Some(Folded::Constant(Attribute::int(*n))),
                Dim::Sym(s) => Some(Folded::Constant(Attribute::Sym(SymExpr::Sym(*s)))),
                Dim::Dynamic => None,
            }
        }
        "sem.sym_numel" => {
            let t = m.value_type(operand(0)?).as_tensor()?;
            let mut e = SymExpr::Const(1);
            for d in &t.dims {
                let de = match d {
                    Dim::Static(n) => SymExpr::Const(*n),
                    Dim::Sym(s) => SymExpr::Sym(*s),
                    Dim::Dynamic => return None,
                };
                e = SymExpr::bin(BinOp::Mul, e, de);
            }
            Some(Folded::Constant(sym_or_int(e.simplify(), DType::I64)))
        }
        _ if result_ty.is_scalar() => fold_scalar(m, op, result_ty),
        _ => None,
    }
}

fn sym_or_int(e: SymExpr, dtype: DType) -> Attribute {
    match e.as_const() {
        Some(c) => Attribute::Int(c, dtype),
        None => Attribute::Sym(e),
    }
}

/// Folds scalar arithmetic on constants, including symbolic sizes.
fn fold_scalar(m: &Module, op: OpId, result_ty: &Type) -> Option<Folded> {
    let data = m.op(op);
    let dtype = result_ty.dtype()?;
    let args: Vec<&Attribute> = data.operands.iter().map(|&v| constant_of(m, v)).collect::<Option<_>>()?;
    let alpha = data.attr("alpha");
    if let [a] = args.as_slice() {
        return match (data.name(), a) {
            ("sem.neg", Attribute::Float(x, _)) => Some(Folded::Constant(Attribute::Float(-x, dtype))),
            ("sem.neg", a) => Some(Folded::Constant(sym_or_int(SymExpr::bin(BinOp::Mul, a.as_sym_expr()?, SymExpr::Const(-1)).simplify(), dtype))),
            _ => None,
        };
    }
    let [a, b] = args.as_slice() else { return None };
    if dtype.is_float() {
        let (x, y) = (a.as_float()?, b.as_float()?);
        let alpha = alpha.map_or(Some(1.0), Attribute::as_float)?;
        let v = match data.name() {
            "sem.add" => x + alpha * y,
            "sem.sub" => x - alpha * y,
            "sem.mul" => x * y,
            "sem.div" if data.attrs.is_empty() => x / y,
            // PyTorch's maximum/minimum propagate NaN; f64::max/min drop it.
            "sem.maximum" | "sem.minimum" if x.is_nan() || y.is_nan() => f64::NAN,
            "sem.maximum" => x.max(y),
            "sem.minimum" => x.min(y),
            _ => return None,
        };
        return Some(Folded::Constant(Attribute::Float(v, dtype)));
    }
    let (x, y) = (a.as_sym_expr()?, b.as_sym_expr()?);
    if dtype == DType::I1 {
        let (x, y) = (x.simplify().as_const()?, y.simplify().as_const()?);
        let v = match data.name() {
            "sem.eq" => x == y,
            "sem.ne" => x != y,
            "sem.lt" => x < y,
            "sem.le" => x <= y,
            "sem.gt" => x > y,
            "sem.ge" => x >= y,
            _ => return None,
        };
        return Some(Folded::Constant(Attribute::Bool(v)));
    }
    let alpha = alpha.map_or(Some(1), Attribute::as_int)?;
    let scaled = |y: SymExpr| if alpha == 1 { y } else { SymExpr::bin(BinOp::Mul, y, SymExpr::Const(alpha)) };
    let e = match data.name() {
        "sem.add" => SymExpr::bin(BinOp::Add, x, scaled(y)),
        "sem.sub" => SymExpr::bin(BinOp::Sub, x, scaled(y)),
        "sem.mul" => SymExpr::bin(BinOp::Mul, x, y),
        "sem.floor_divide" => SymExpr::bin(BinOp::FloorDiv, x, y),
        "sem.div" if data.attr("rounding_mode").and_then(Attribute::as_str) == Some("floor") => SymExpr::bin(BinOp::FloorDiv, x, y),
        // Python's % takes the divisor's sign; the affine `mod` only agrees
        // for a positive divisor.
        "sem.remainder" => match (x.simplify().as_const(), y.simplify().as_const()) {
            (Some(a), Some(b)) if b != 0 => SymExpr::Const(a - b * BinOp::FloorDiv.apply(a, b)?),
            (_, Some(b)) if b > 0 => SymExpr::bin(BinOp::Mod, x, y),
            _ => return None,
        },
        "sem.maximum" | "sem.minimum" => {
            let (x, y) = (x.simplify().as_const()?, y.simplify().as_const()?);
            SymExpr::Const(if data.name() == "sem.maximum" { x.max(y) } else { x.min(y) })
        }
        _ => return None,
    };
    let e = e.simplify();
    // Division by zero stays unfolded, so the runtime reports it.
    if let SymExpr::Bin(BinOp::FloorDiv | BinOp::Mod, _, d) = &e {
        if d.as_const() == Some(0) {
            return None;
        }
    }
    Some(Folded::Constant(sym_or_int(e, dtype)))
}
