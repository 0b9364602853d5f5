//! What a run allocates, known before it runs, so that a caller with a
//! memory limit refuses a run rather than aborting in the middle of one.
//!
//! Every result is counted at the size the op table's shape rules give
//! from its operands, not the size the plan declares: the verifier accepts
//! a declared `?`, a symbol no input binds, or a static size where the
//! operands give a symbol (they are compatible), and any of these would hide
//! an allocation. At load the types are inferred symbolically from the
//! inputs' ([`Accounting::of`]); when every size then follows from the
//! inputs' symbols, a run's need is a sum over those types. Otherwise (a size such
//! as `s0 + 1` that the type system cannot name, or a data-dependent one)
//! the run's types are inferred again from the actual input shapes, and a
//! data-dependent dim (the rows a boolean mask selects) counts at its
//! bound, the largest operand's element count. On top of the live values
//! each kernel call has its scratch ([`crate::hal::Device::scratch`]).

use crate::kernels::SymEnv;
use genie_plan::dialects::InferCtx;
use genie_plan::{AttrDict, Attribute, DType, Dim, Instr, Op, Plan, Type};

/// The types a run's memory is counted by.
pub(crate) struct Accounting {
    /// Per value: its type by the shape rules (declared, where none applies).
    pub types: Vec<Type>,
    /// Every result size follows from the symbols the inputs bind.
    pub closed: bool,
}

/// The order the interpreter runs the streams in (each until it awaits a
/// value not yet sent): every value is defined before it is read.
pub(crate) fn walk_order(plan: &Plan) -> Vec<(usize, usize)> {
    let mut order = Vec::with_capacity(plan.num_instructions());
    let mut pcs = vec![0usize; plan.streams.len()];
    let mut arrived = vec![false; plan.values.len()];
    loop {
        let mut progressed = false;
        for (d, stream) in plan.streams.iter().enumerate() {
            while let Some(ins) = stream.get(pcs[d]) {
                match ins {
                    Instr::Await { value } if !arrived[*value as usize] => break,
                    Instr::Send { result, .. } => arrived[*result as usize] = true,
                    _ => {}
                }
                order.push((d, pcs[d]));
                pcs[d] += 1;
                progressed = true;
            }
        }
        // (The verifier refuses streams that wait for each other.)
        if !progressed {
            return order;
        }
    }
}

/// Types by the shape rules: `types` holds those of the plan's inputs and
/// loads; every call's results are inferred from its operands'.
/// With `env` (a run's symbols) the seed types are the run's actual
/// shapes, so a dim the rules leave unknown is data-dependent and gets its
/// bound.
fn infer_all(
    plan: &Plan,
    order: &[(usize, usize)],
    mut types: Vec<Type>,
    env: Option<&SymEnv>,
) -> Result<Vec<Type>, (usize, usize, String)> {
    for &(d, pc) in order {
        match &plan.streams[d][pc] {
            Instr::Call {
                op,
                operands,
                results,
                attrs,
            } => {
                let def = op.def();
                let Some(infer) = def.infer else { continue };
                let operand_types: Vec<&Type> =
                    operands.iter().map(|&o| &types[o as usize]).collect();
                let a = &plan.attrs[*attrs as usize];
                // Sizes written as expressions of the symbols (`1 + s87`)
                // become numbers, as the kernels read them.
                let evaluated;
                let a = match env {
                    Some(env) if a.iter().any(|(_, v)| has_sym(v)) => {
                        let mut e = AttrDict::new();
                        for (k, v) in a.iter() {
                            e.set(k.to_string(), evaluate(v, env).map_err(|m| (d, pc, m))?);
                        }
                        evaluated = e;
                        &evaluated
                    }
                    _ => a,
                };
                let ctx = InferCtx {
                    op_name: def.name,
                    operands: operand_types,
                    attrs: a,
                    num_results: results.len(),
                };
                let inferred = match infer(&ctx) {
                    Ok(t) if t.len() == results.len() => t,
                    Ok(t) => {
                        return Err((
                            d,
                            pc,
                            format!(
                                "the shape rule gives {} results for {}",
                                t.len(),
                                results.len()
                            ),
                        ))
                    }
                    Err(e) => return Err((d, pc, e)),
                };
                // (Saturating: an operand's size may be a hostile plan's.)
                let bound = env.is_some().then(|| {
                    ctx.operands
                        .iter()
                        .filter_map(|t| t.as_tensor())
                        .map(|t| t.dims.iter().map(|d| d.as_static().unwrap_or(0).max(0)).fold(1i64, i64::saturating_mul))
                        .max()
                        .unwrap_or(0)
                });
                for (&r, t) in results.iter().zip(inferred) {
                    types[r as usize] = match bound {
                        Some(b) => with_bound(t, b),
                        None => t,
                    };
                }
            }
            Instr::Send { value, result } => {
                types[*result as usize] = types[*value as usize].clone()
            }
            _ => {}
        }
    }
    Ok(types)
}

fn has_sym(a: &Attribute) -> bool {
    match a {
        Attribute::Sym(_) => true,
        Attribute::Array(v) => v.iter().any(has_sym),
        _ => false,
    }
}

fn evaluate(a: &Attribute, env: &SymEnv) -> Result<Attribute, String> {
    Ok(match a {
        Attribute::Sym(e) => Attribute::Int(
            e.eval(&|s| env.get(&s).copied())
                .ok_or_else(|| format!("size {e} has an unbound symbol"))?,
            DType::I64,
        ),
        Attribute::Array(v) => Attribute::Array(
            v.iter()
                .map(|x| evaluate(x, env))
                .collect::<Result<_, _>>()?,
        ),
        a => a.clone(),
    })
}

/// A data-dependent dim at its bound: a count of selected elements is at
/// most the largest operand's element count.
fn with_bound(t: Type, bound: i64) -> Type {
    match t {
        Type::Tensor(mut tt) => {
            for d in tt.dims.iter_mut().filter(|d| d.as_static().is_none()) {
                *d = Dim::Static(bound);
            }
            Type::Tensor(tt)
        }
        t => t,
    }
}

impl Accounting {
    /// Infers the plan's types once, at load, from the declared types of
    /// its inputs and residents only.
    pub fn of(plan: &Plan, order: &[(usize, usize)]) -> Accounting {
        let declared: Vec<Type> = (0..plan.values.len() as u32)
            .map(|v| plan.value_type(v).clone())
            .collect();
        let Ok(types) = infer_all(plan, order, declared.clone(), None) else {
            return Accounting {
                types: declared,
                closed: false,
            };
        };
        let mut bound = std::collections::HashSet::new();
        for &i in &plan.inputs {
            if let Type::Tensor(t) = plan.value_type(i) {
                bound.extend(t.dims.iter().filter_map(|d| {
                    if let Dim::Sym(s) = d {
                        Some(*s)
                    } else {
                        None
                    }
                }));
            }
        }
        let closed = order.iter().all(|&(d, pc)| match &plan.streams[d][pc] {
            Instr::Call { op, results, .. } if !op.def().is_view() => results
                .iter()
                .all(|&r| closed_type(&types[r as usize], &bound)),
            _ => true,
        });
        Accounting { types, closed }
    }

    /// The types of a run on inputs of `input_types` (and loads of
    /// `load_types`, per resident), every size known.
    pub fn concrete(
        plan: &Plan,
        order: &[(usize, usize)],
        input_types: Vec<Type>,
        load_types: &[Option<Type>],
        env: &SymEnv,
    ) -> Result<Vec<Type>, (usize, usize, String)> {
        let mut types: Vec<Type> = (0..plan.values.len() as u32)
            .map(|v| plan.value_type(v).clone())
            .collect();
        for (&i, t) in plan.inputs.iter().zip(input_types) {
            types[i as usize] = t;
        }
        for &(d, pc) in order {
            if let Instr::Load { resident, result } = &plan.streams[d][pc] {
                if let Some(Some(t)) = load_types.get(*resident as usize) {
                    types[*result as usize] = t.clone();
                }
            }
        }
        infer_all(plan, order, types, Some(env))
    }
}

fn closed_type(t: &Type, bound: &std::collections::HashSet<u32>) -> bool {
    match t {
        Type::Tensor(t) => t.dims.iter().all(|d| match d {
            Dim::Static(_) => true,
            Dim::Sym(s) => bound.contains(s),
            Dim::Dynamic => false,
        }),
        _ => true,
    }
}

/// The bytes of a value of type `ty` with the symbols of `env`; `None`
/// when that overflows 64 bits (an unknown dim counts as empty: callers
/// only ask about closed or concrete types).
pub(crate) fn type_bytes(ty: &Type, env: &SymEnv) -> Option<u64> {
    let Type::Tensor(tt) = ty else { return Some(0) };
    let mut n = tt.dtype.byte_size() as u64;
    for d in &tt.dims {
        let k = match *d {
            Dim::Static(k) => k,
            Dim::Sym(s) => env.get(&s).copied().unwrap_or(0),
            Dim::Dynamic => 0,
        };
        n = n.checked_mul(u64::try_from(k).unwrap_or(0))?;
    }
    Some(n)
}

/// The CPU kernels' scratch for one call, beyond its results, from the
/// sizes of its operands and results: an upper bound, checked against what
/// the kernels allocate by `runtime/tests/run_memory.rs`.
/// - In general a kernel may copy every operand and result to f64 (the
///   generic paths: reductions, scans, every narrow float type) and make
///   contiguous copies: each operand and result's bytes plus 8 per element.
/// - Products in f32 and f64 hand their operands to BLAS, copying at most
///   a non-contiguous one: operands plus results.
/// - Gathers (embedding, index_select, gather, index) read the table in
///   place.
/// - A convolution adds its im2col matrix (input channels per group ×
///   kernel pixels × batch × output pixels) and a product the size of its
///   output; sorts and top-k an index and a key per element; an append
///   that grows its buffer one of twice the length.
pub fn cpu_scratch(
    op: Op,
    // (No CPU kernel's scratch depends on its attributes yet.)
    _attrs: &AttrDict,
    operands: &[&Type],
    results: &[&Type],
    env: &SymEnv,
) -> u64 {
    if op.def().is_view() {
        return 0;
    }
    let bytes = |t: &Type| type_bytes(t, env).unwrap_or(u64::MAX);
    let elems = |t: &Type| -> u64 {
        let Type::Tensor(tt) = t else { return 0 };
        tt.dims
            .iter()
            .map(|d| dim_of(*d, env))
            .fold(1u64, u64::saturating_mul)
    };
    let sum = |ts: &mut dyn Iterator<Item = &&Type>, per: &dyn Fn(&Type) -> u64| {
        ts.fold(0u64, |a, t| a.saturating_add(per(t)))
    };
    let generic = |t: &Type| bytes(t).saturating_add(elems(t).saturating_mul(8));
    let wide = operands.iter().chain(results).all(|t| {
        t.as_tensor()
            .is_none_or(|t| matches!(t.dtype, DType::F32 | DType::F64))
    });
    match op {
        Op::Mm | Op::Bmm | Op::Addmm | Op::Matmul if wide => {
            sum(&mut operands.iter().chain(results), &bytes)
        }
        Op::Embedding | Op::IndexSelect | Op::Gather | Op::Index => {
            sum(&mut operands.iter().skip(1).chain(results), &generic)
        }
        Op::Convolution => {
            let all = sum(&mut operands.iter().chain(results), &generic);
            let product = results.first().map_or(0, |t| bytes(t));
            all.saturating_add(conv_columns(operands, results, env, wide))
                .saturating_add(product)
        }
        Op::Sort | Op::Topk | Op::Argmax | Op::Argmin | Op::MaxDim | Op::MinDim => {
            let keys = operands.first().map_or(0, |t| elems(t)).saturating_mul(16);
            sum(&mut operands.iter().chain(results), &generic).saturating_add(keys)
        }
        Op::Append => sum(&mut operands.iter().chain(results), &generic).saturating_add(
            results
                .iter()
                .map(|t| bytes(t))
                .fold(0, u64::saturating_add)
                .saturating_mul(2),
        ),
        _ => sum(&mut operands.iter().chain(results), &generic),
    }
}

fn dim_of(d: Dim, env: &SymEnv) -> u64 {
    match d {
        Dim::Static(k) => k.max(0) as u64,
        Dim::Sym(s) => env.get(&s).copied().unwrap_or(0).max(0) as u64,
        Dim::Dynamic => 0,
    }
}

/// im2col's matrix for a convolution: (C/groups · kernel pixels) × (N ·
/// output pixels) elements, in the compute type (f64 for narrow types).
fn conv_columns(operands: &[&Type], results: &[&Type], env: &SymEnv, wide: bool) -> u64 {
    let (Some(w), Some(out)) = (
        operands.get(1).and_then(|t| t.as_tensor()),
        results.first().and_then(|t| t.as_tensor()),
    ) else {
        return 0;
    };
    // weight [O, C/groups, k...]; output [N, O, pixels...].
    let per_column: u64 = w
        .dims
        .iter()
        .skip(1)
        .map(|d| dim_of(*d, env))
        .fold(1, u64::saturating_mul);
    let columns: u64 = out
        .dims
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, d)| dim_of(*d, env))
        .fold(1, u64::saturating_mul);
    let elem = if wide {
        out.dtype.byte_size() as u64
    } else {
        8
    };
    per_column.saturating_mul(columns).saturating_mul(elem)
}
