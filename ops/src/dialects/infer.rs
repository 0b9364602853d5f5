//! Shape and dtype rules for `sem` ops, with symbolic dims.
//!
//! Dim arithmetic goes through [`SymExpr`]: a result that simplifies to a
//! constant is static, to a single symbol is symbolic, anything else is `?`.

use super::InferCtx;
use crate::attrs::Attribute;
use crate::symexpr::{BinOp, SymExpr};
use crate::types::{DType, Dim, TensorType, Type};

type Res = Result<Vec<Type>, String>;

// ----- helpers ---------------------------------------------------------------

fn tensor<'a>(ctx: &'a InferCtx, i: usize) -> Result<&'a TensorType, String> {
    match ctx.operands.get(i) {
        Some(Type::Tensor(t)) => Ok(t),
        Some(other) => Err(format!("operand #{i} must be a tensor, got {other}")),
        None => Err(format!("expected at least {} operands", i + 1)),
    }
}

fn opt_tensor<'a>(ctx: &'a InferCtx, i: usize) -> Option<&'a TensorType> {
    ctx.operands.get(i).and_then(|t| t.as_tensor())
}

fn one(t: Type) -> Res {
    Ok(vec![t])
}

fn int_attr(ctx: &InferCtx, name: &str) -> Result<Option<i64>, String> {
    match ctx.attrs.get(name) {
        None => Ok(None),
        Some(a) => a.as_int().map(Some).ok_or_else(|| format!("attribute '{name}' must be an integer")),
    }
}

fn req_int(ctx: &InferCtx, name: &str) -> Result<i64, String> {
    int_attr(ctx, name)?.ok_or_else(|| format!("requires attribute '{name}'"))
}

fn ints_attr(ctx: &InferCtx, name: &str) -> Result<Option<Vec<i64>>, String> {
    match ctx.attrs.get(name) {
        None => Ok(None),
        Some(a) => a.as_int_array().map(Some).ok_or_else(|| format!("attribute '{name}' must be an integer array")),
    }
}

/// `dim = 1` or `dim = [0, 2]` (ATen overloads take either).
fn int_or_ints_attr(ctx: &InferCtx, name: &str) -> Result<Option<Vec<i64>>, String> {
    match ctx.attrs.get(name) {
        Some(Attribute::Int(v, _)) => Ok(Some(vec![*v])),
        _ => ints_attr(ctx, name),
    }
}

fn req_ints(ctx: &InferCtx, name: &str) -> Result<Vec<i64>, String> {
    ints_attr(ctx, name)?.ok_or_else(|| format!("requires attribute '{name}'"))
}

/// Integers or symbolic expressions (`shape = [1, s0, 768]`).
fn exprs_attr(ctx: &InferCtx, name: &str) -> Result<Vec<SymExpr>, String> {
    let arr = ctx.attrs.get(name).and_then(Attribute::as_array).ok_or_else(|| format!("requires array attribute '{name}'"))?;
    arr.iter().map(|a| a.as_sym_expr().ok_or_else(|| format!("attribute '{name}' must hold integers or symbolic sizes"))).collect()
}

fn bool_attr(ctx: &InferCtx, name: &str) -> bool {
    ctx.attrs.get(name).and_then(Attribute::as_bool).unwrap_or(false)
}

fn dtype_attr(ctx: &InferCtx, name: &str) -> Option<DType> {
    ctx.attrs.get(name).and_then(Attribute::as_dtype)
}

/// Normalises a possibly negative dim index against a rank.
fn norm_dim(d: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let n = if d < 0 { d + r.max(1) } else { d };
    if n < 0 || n >= r.max(1) {
        return Err(format!("dim {d} is out of range for rank {rank}"));
    }
    Ok(n as usize)
}

fn dim_expr(d: Dim) -> Option<SymExpr> {
    match d {
        Dim::Static(n) => Some(SymExpr::Const(n)),
        Dim::Sym(s) => Some(SymExpr::Sym(s)),
        Dim::Dynamic => None,
    }
}

fn expr_dim(e: Option<SymExpr>) -> Dim {
    match e.map(|e| e.simplify()) {
        Some(SymExpr::Const(n)) => Dim::Static(n),
        Some(SymExpr::Sym(s)) => Dim::Sym(s),
        _ => Dim::Dynamic,
    }
}

fn arith(op: BinOp, a: Option<SymExpr>, b: Option<SymExpr>) -> Option<SymExpr> {
    Some(SymExpr::bin(op, a?, b?).simplify())
}

fn product(dims: &[Dim]) -> Option<SymExpr> {
    dims.iter().try_fold(SymExpr::Const(1), |acc, &d| Some(SymExpr::bin(BinOp::Mul, acc, dim_expr(d)?).simplify()))
}

fn broadcast_dims(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { Dim::Static(1) };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { Dim::Static(1) };
        out.push(match (da, db) {
            (Dim::Static(1), d) | (d, Dim::Static(1)) => d,
            (Dim::Static(x), Dim::Static(y)) if x != y => {
                return Err(format!("shapes cannot broadcast: size {x} vs {y} at dim {i}"));
            }
            (x, y) if x == y => x,
            (Dim::Static(x), _) | (_, Dim::Static(x)) => Dim::Static(x),
            _ => Dim::Dynamic,
        });
    }
    Ok(out)
}

/// Default dtype for a Python scalar of this category (PyTorch's defaults).
fn scalar_default(d: DType) -> DType {
    if d.is_float() {
        DType::F32
    } else if d.is_int() {
        DType::I64
    } else {
        DType::I1
    }
}

fn promote_opt(acc: Option<DType>, d: DType) -> Option<DType> {
    Some(acc.map_or(d, |a| DType::promote(a, d)))
}

/// c10's combine_categories: the higher-priority group decides unless the
/// lower one brings a higher category (bool < integer < float).
fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (Some(h), None) => Some(h),
        (Some(h), Some(_)) if h.is_float() => Some(h),
        (Some(h), Some(l)) if h.is_bool() || l.is_float() => Some(DType::promote(h, l)),
        (Some(h), Some(_)) => Some(h),
    }
}

/// `torch.result_type`: tensors with dims decide, then 0-d tensors, then
/// Python scalars (a float counts as the default dtype f32, an int as i64).
fn promote_operands(tys: &[&Type]) -> Option<DType> {
    let (mut dimensioned, mut zero_dim, mut wrapped) = (None, None, None);
    for t in tys {
        match t {
            Type::Tensor(tt) if tt.rank() > 0 => dimensioned = promote_opt(dimensioned, tt.dtype),
            Type::Tensor(tt) => zero_dim = promote_opt(zero_dim, tt.dtype),
            Type::Scalar(d) => wrapped = promote_opt(wrapped, scalar_default(*d)),
            _ => {}
        }
    }
    combine_categories(dimensioned, combine_categories(zero_dim, wrapped))
}

/// Arithmetic on scalars: the usual promotion among their own types
/// (Python's ints and floats are i64 and f64).
fn python_scalar_type(tys: &[&Type]) -> Option<DType> {
    tys.iter().filter_map(|t| t.dtype()).reduce(DType::promote)
}

fn all_scalars(tys: &[&Type]) -> bool {
    tys.iter().all(|t| t.is_scalar())
}

/// Elementwise result: broadcast tensor shapes; a scalar when all are scalars.
fn elementwise(ctx: &InferCtx, tys: &[&Type], dtype: DType) -> Res {
    let mut dims: Option<Vec<Dim>> = None;
    for t in tys {
        match t {
            Type::Tensor(tt) => {
                dims = Some(match dims {
                    None => tt.dims.to_vec(),
                    Some(d) => broadcast_dims(&d, &tt.dims)?,
                })
            }
            Type::Scalar(_) => {}
            other => return Err(format!("'{}' does not take {other}", ctx.op_name)),
        }
    }
    one(match dims {
        Some(d) => Type::tensor(d, dtype),
        None => Type::Scalar(dtype),
    })
}

fn to_float(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::F32
    }
}

fn with_dtype(t: &Type, dtype: DType) -> Type {
    match t {
        Type::Tensor(tt) => Type::tensor(tt.dims.clone(), dtype),
        _ => Type::Scalar(dtype),
    }
}

fn first<'a>(ctx: &InferCtx<'a>) -> Result<&'a Type, String> {
    ctx.operands.first().copied().ok_or_else(|| "expected an operand".to_string())
}

// ----- constants ---------------------------------------------------------------

pub fn constant(ctx: &InferCtx) -> Res {
    one(match ctx.attrs.get("value") {
        Some(Attribute::Int(_, d)) => Type::Scalar(*d),
        Some(Attribute::Float(_, d)) => Type::Scalar(*d),
        Some(Attribute::Bool(_)) => Type::Scalar(DType::I1),
        Some(Attribute::Sym(_)) => Type::Scalar(DType::I64),
        Some(Attribute::DenseResource { ty, .. }) => Type::Tensor((**ty).clone()),
        Some(other) => return Err(format!("'value' cannot be a {}", other.kind_name())),
        None => return Err("requires attribute 'value'".into()),
    })
}

/// A recognised pattern outlined into a function: its results are what the
/// body function returns (`function_type`), and its operands must fit the
/// body's arguments.
pub fn region(ctx: &InferCtx) -> Res {
    let Some((inputs, outputs)) = ctx.attrs.get("function_type").and_then(Attribute::as_function_type) else {
        return Err("requires 'function_type', the type of its body function".into());
    };
    if inputs.len() != ctx.operands.len() {
        return Err(format!("has {} operand(s), but its body takes {}", ctx.operands.len(), inputs.len()));
    }
    for (i, (have, want)) in ctx.operands.iter().zip(inputs).enumerate() {
        if !want.compatible(have) {
            return Err(format!("operand #{i} has type {have}, but its body takes {want}"));
        }
    }
    Ok(outputs.to_vec())
}

pub fn none(_: &InferCtx) -> Res {
    one(Type::None)
}

pub fn sym_size(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    norm_dim(req_int(ctx, "dim")?, t.rank())?;
    one(Type::Scalar(DType::I64))
}

pub fn sym_numel(ctx: &InferCtx) -> Res {
    tensor(ctx, 0)?;
    one(Type::Scalar(DType::I64))
}

// ----- elementwise -------------------------------------------------------------

pub fn unary(ctx: &InferCtx) -> Res {
    one(first(ctx)?.clone())
}

/// Float result: integer tensors give f32 (the default dtype), Python
/// scalars give a Python float (f64).
pub fn unary_float(ctx: &InferCtx) -> Res {
    let t = first(ctx)?;
    let d = t.dtype().ok_or("operand must be a tensor or scalar")?;
    let d = if t.is_scalar() && !d.is_float() { DType::F64 } else { to_float(d) };
    one(with_dtype(t, d))
}

/// floor/ceil: like the input for tensors; `math.floor` of a Python float is an int.
pub fn round_to_int(ctx: &InferCtx) -> Res {
    let t = first(ctx)?;
    match t {
        Type::Scalar(d) if d.is_float() => one(Type::Scalar(DType::I64)),
        _ => one(t.clone()),
    }
}

pub fn unary_bool(ctx: &InferCtx) -> Res {
    one(with_dtype(first(ctx)?, DType::I1))
}

pub fn same_as_operand0(ctx: &InferCtx) -> Res {
    tensor(ctx, 0).map(|t| vec![Type::Tensor(t.clone())])
}

pub fn same_as_operand1(ctx: &InferCtx) -> Res {
    tensor(ctx, 1).map(|t| vec![Type::Tensor(t.clone())])
}

pub fn to_copy(ctx: &InferCtx) -> Res {
    let t = first(ctx)?;
    let d = dtype_attr(ctx, "dtype").or(t.dtype()).ok_or("operand must be a tensor or scalar")?;
    one(with_dtype(t, d))
}

fn promoted(ctx: &InferCtx) -> Result<DType, String> {
    let d = if all_scalars(&ctx.operands) { python_scalar_type(&ctx.operands) } else { promote_operands(&ctx.operands) };
    d.ok_or_else(|| "operands must be tensors or scalars".to_string())
}

pub fn binary(ctx: &InferCtx) -> Res {
    elementwise(ctx, &ctx.operands, promoted(ctx)?)
}

/// True division: integer inputs give a float result (f32 for tensors, a
/// Python float for scalars).
pub fn true_div(ctx: &InferCtx) -> Res {
    let d = promoted(ctx)?;
    let d = match (ctx.attrs.contains("rounding_mode"), all_scalars(&ctx.operands)) {
        (true, _) => d,
        (false, true) => DType::F64,
        (false, false) => to_float(d),
    };
    elementwise(ctx, &ctx.operands, d)
}

/// clamp(self, min, max): the bounds take part in promotion as Python scalars.
pub fn clamp(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    let bounds: Vec<Type> = ["min", "max"]
        .iter()
        .filter_map(|n| match ctx.attrs.get(n) {
            Some(Attribute::Float(..)) => Some(Type::Scalar(DType::F64)),
            Some(Attribute::Int(..)) => Some(Type::Scalar(DType::I64)),
            _ => None,
        })
        .collect();
    let self_ty = Type::Tensor(t.clone());
    let mut tys: Vec<&Type> = vec![&self_ty];
    tys.extend(bounds.iter());
    let d = promote_operands(&tys).ok_or("clamp needs a tensor")?;
    one(Type::tensor(t.dims.clone(), d))
}

pub fn binary_pow(ctx: &InferCtx) -> Res {
    binary(ctx)
}

pub fn compare(ctx: &InferCtx) -> Res {
    elementwise(ctx, &ctx.operands, DType::I1)
}

pub fn where_(ctx: &InferCtx) -> Res {
    let cond = tensor(ctx, 0)?;
    if !cond.dtype.is_bool() {
        return Err(format!("condition must be an i1 tensor, got {}", cond.dtype));
    }
    // The condition takes no part in promotion; scalar branches count as
    // Python scalars (two floats give the default dtype f32).
    let d = promote_operands(&ctx.operands[1..]).ok_or("operands must be tensors or scalars")?;
    elementwise(ctx, &ctx.operands, d)
}

/// masked_fill broadcasts self against the mask; the dtype stays self's.
pub fn masked_fill(ctx: &InferCtx) -> Res {
    let (x, mask) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    one(Type::tensor(broadcast_dims(&x.dims, &mask.dims)?, x.dtype))
}

// ----- reductions ----------------------------------------------------------------

fn reduce_shape(ctx: &InferCtx, t: &TensorType, dims: Option<Vec<i64>>, keepdim: bool) -> Result<Vec<Dim>, String> {
    let reduced: Vec<usize> = match dims {
        Some(ds) if !ds.is_empty() => ds.iter().map(|&d| norm_dim(d, t.rank())).collect::<Result<_, _>>()?,
        _ => (0..t.rank()).collect(),
    };
    let _ = ctx;
    Ok(t.dims
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (reduced.contains(&i), keepdim) {
            (false, _) => Some(d),
            (true, true) => Some(Dim::Static(1)),
            (true, false) => None,
        })
        .collect())
}

fn reduce_with(ctx: &InferCtx, dtype: impl Fn(DType) -> DType) -> Res {
    let t = tensor(ctx, 0)?;
    let dims = reduce_shape(ctx, t, int_or_ints_attr(ctx, "dim")?, bool_attr(ctx, "keepdim"))?;
    let d = dtype_attr(ctx, "dtype").unwrap_or_else(|| dtype(t.dtype));
    one(Type::tensor(dims, d))
}

/// Sums of integers or bools accumulate in i64, like PyTorch.
pub fn reduce_sum(ctx: &InferCtx) -> Res {
    reduce_with(ctx, |d| if d.is_float() { d } else { DType::I64 })
}

pub fn reduce_float(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    if !t.dtype.is_float() && dtype_attr(ctx, "dtype").is_none() {
        return Err(format!("'{}' needs a floating-point input, got {}", ctx.op_name, t.dtype));
    }
    reduce_with(ctx, |d| d)
}

pub fn reduce_same(ctx: &InferCtx) -> Res {
    reduce_with(ctx, |d| d)
}

/// any/all: bool, except that uint8 input stays uint8 (PyTorch's legacy rule).
pub fn reduce_bool(ctx: &InferCtx) -> Res {
    reduce_with(ctx, |d| if d == DType::U8 { DType::U8 } else { DType::I1 })
}

/// logsumexp: integer input gives f32.
pub fn reduce_to_float(ctx: &InferCtx) -> Res {
    reduce_with(ctx, to_float)
}

pub fn arg_reduce(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    let keep = bool_attr(ctx, "keepdim");
    let dims = match int_attr(ctx, "dim")? {
        Some(d) => reduce_shape(ctx, t, Some(vec![d]), keep)?,
        None if keep => vec![Dim::Static(1); t.rank()],
        None => vec![],
    };
    one(Type::tensor(dims, DType::I64))
}

pub fn values_and_indices(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    let dims = reduce_shape(ctx, t, Some(vec![req_int(ctx, "dim")?]), bool_attr(ctx, "keepdim"))?;
    Ok(vec![Type::tensor(dims.clone(), t.dtype), Type::tensor(dims, DType::I64)])
}

pub fn cumsum(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    norm_dim(req_int(ctx, "dim")?, t.rank())?;
    let d = dtype_attr(ctx, "dtype").unwrap_or(if t.dtype.is_float() { t.dtype } else { DType::I64 });
    one(Type::tensor(t.dims.clone(), d))
}

pub fn softmax(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    norm_dim(req_int(ctx, "dim")?, t.rank())?;
    let d = if bool_attr(ctx, "half_to_float") { DType::F32 } else { to_float(t.dtype) };
    one(Type::tensor(t.dims.clone(), d))
}

/// The gradient has the forward input's dtype (`input_dtype`).
pub fn softmax_backward(ctx: &InferCtx) -> Res {
    let g = tensor(ctx, 0)?;
    one(Type::tensor(g.dims.clone(), dtype_attr(ctx, "input_dtype").unwrap_or(g.dtype)))
}

pub fn topk(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    let dim = norm_dim(int_attr(ctx, "dim")?.unwrap_or(-1), t.rank())?;
    let k = ctx.attrs.get("k").and_then(Attribute::as_sym_expr).ok_or("requires attribute 'k'")?;
    let mut dims = t.dims.clone();
    if !dims.is_empty() {
        dims[dim] = expr_dim(Some(k));
    }
    Ok(vec![Type::tensor(dims.clone(), t.dtype), Type::tensor(dims, DType::I64)])
}

pub fn sort(ctx: &InferCtx) -> Res {
    let t = tensor(ctx, 0)?;
    norm_dim(int_attr(ctx, "dim")?.unwrap_or(-1), t.rank())?;
    Ok(vec![Type::Tensor(t.clone()), Type::tensor(t.dims.clone(), DType::I64)])
}

// ----- linear algebra --------------------------------------------------------------

fn check_same_dtype(ctx: &InferCtx, a: &TensorType, b: &TensorType) -> Result<(), String> {
    if a.dtype != b.dtype {
        return Err(format!("'{}' operands have different dtypes: {} and {}", ctx.op_name, a.dtype, b.dtype));
    }
    Ok(())
}

fn check_contract(k1: Dim, k2: Dim) -> Result<(), String> {
    if !k1.compatible(k2) {
        return Err(format!("contraction dims differ: {} vs {}", fmt_dim(k1), fmt_dim(k2)));
    }
    Ok(())
}

fn fmt_dim(d: Dim) -> String {
    match d {
        Dim::Static(n) => n.to_string(),
        Dim::Sym(s) => format!("s{s}"),
        Dim::Dynamic => "?".into(),
    }
}

fn check_rank(ctx: &InferCtx, t: &TensorType, rank: usize, what: &str) -> Result<(), String> {
    if t.rank() != rank {
        return Err(format!("'{}' expects {what} of rank {rank}, got rank {}", ctx.op_name, t.rank()));
    }
    Ok(())
}

pub fn mm(ctx: &InferCtx) -> Res {
    let (a, b) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_rank(ctx, a, 2, "self")?;
    check_rank(ctx, b, 2, "mat2")?;
    check_same_dtype(ctx, a, b)?;
    check_contract(a.dims[1], b.dims[0])?;
    one(Type::tensor(vec![a.dims[0], b.dims[1]], a.dtype))
}

pub fn bmm(ctx: &InferCtx) -> Res {
    let (a, b) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_rank(ctx, a, 3, "self")?;
    check_rank(ctx, b, 3, "mat2")?;
    check_same_dtype(ctx, a, b)?;
    check_contract(a.dims[2], b.dims[1])?;
    if !a.dims[0].compatible(b.dims[0]) {
        return Err(format!("batch dims differ: {} vs {}", fmt_dim(a.dims[0]), fmt_dim(b.dims[0])));
    }
    one(Type::tensor(vec![a.dims[0].refine(b.dims[0]), a.dims[1], b.dims[2]], a.dtype))
}

pub fn addmm(ctx: &InferCtx) -> Res {
    let bias = tensor(ctx, 0)?;
    let (a, b) = (tensor(ctx, 1)?, tensor(ctx, 2)?);
    check_rank(ctx, a, 2, "mat1")?;
    check_rank(ctx, b, 2, "mat2")?;
    check_same_dtype(ctx, a, b)?;
    check_contract(a.dims[1], b.dims[0])?;
    let out = vec![a.dims[0], b.dims[1]];
    broadcast_dims(&out, &bias.dims).map_err(|e| format!("self does not broadcast to the product: {e}"))?;
    one(Type::tensor(out, a.dtype))
}

pub fn matmul(ctx: &InferCtx) -> Res {
    let (a, b) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_same_dtype(ctx, a, b)?;
    if a.rank() == 0 || b.rank() == 0 {
        return Err("matmul operands must have rank >= 1".into());
    }
    let (ar, br) = (a.rank(), b.rank());
    let k_a = a.dims[ar - 1];
    let k_b = if br == 1 { b.dims[0] } else { b.dims[br - 2] };
    check_contract(k_a, k_b)?;
    let batch_a = if ar > 2 { &a.dims[..ar - 2] } else { &[][..] };
    let batch_b = if br > 2 { &b.dims[..br - 2] } else { &[][..] };
    let mut out = broadcast_dims(batch_a, batch_b)?;
    if ar >= 2 {
        out.push(a.dims[ar - 2]);
    }
    if br >= 2 {
        out.push(b.dims[br - 1]);
    }
    one(Type::tensor(out, a.dtype))
}

/// `(in + 2p - d(k - 1) - 1) / s + 1`, or the transposed inverse.
fn conv_out(input: Dim, k: Dim, s: i64, p: i64, d: i64, out_pad: i64, transposed: bool, ceil: bool) -> Dim {
    let (i, k) = (dim_expr(input), dim_expr(k));
    let c = |v: i64| Some(SymExpr::Const(v));
    let span = arith(BinOp::Mul, c(d), arith(BinOp::Sub, k, c(1)));
    if transposed {
        let base = arith(BinOp::Sub, arith(BinOp::Mul, arith(BinOp::Sub, i, c(1)), c(s)), c(2 * p));
        return expr_dim(arith(BinOp::Add, arith(BinOp::Add, base, span), c(out_pad + 1)));
    }
    let numer = arith(BinOp::Sub, arith(BinOp::Sub, arith(BinOp::Add, i.clone(), c(2 * p)), span), c(1));
    let div = if ceil { BinOp::CeilDiv } else { BinOp::FloorDiv };
    let out = expr_dim(arith(BinOp::Add, arith(div, numer, c(s)), c(1)));
    if !ceil {
        return out;
    }
    // With ceil_mode, PyTorch drops a last window that starts in the padding.
    match (out, i.and_then(|e| e.as_const())) {
        (Dim::Static(o), Some(n)) if (o - 1) * s >= n + p => Dim::Static(o - 1),
        (Dim::Static(o), Some(_)) => Dim::Static(o),
        _ => Dim::Dynamic,
    }
}

fn per_dim(v: &[i64], i: usize, default: i64) -> i64 {
    match v.len() {
        0 => default,
        1 => v[0],
        _ => v.get(i).copied().unwrap_or(default),
    }
}

pub fn convolution(ctx: &InferCtx) -> Res {
    let (x, w) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    if x.rank() < 3 || x.rank() != w.rank() {
        return Err(format!("convolution expects input and weight of equal rank >= 3, got {} and {}", x.rank(), w.rank()));
    }
    check_same_dtype(ctx, x, w)?;
    let (stride, padding, dilation) = (req_ints(ctx, "stride")?, req_ints(ctx, "padding")?, req_ints(ctx, "dilation")?);
    let out_pad = ints_attr(ctx, "output_padding")?.unwrap_or_default();
    let groups = req_int(ctx, "groups")?;
    if groups < 1 {
        return Err(format!("groups must be >= 1, got {groups}"));
    }
    let transposed = bool_attr(ctx, "transposed");
    let out_channels = if transposed { expr_dim(arith(BinOp::Mul, dim_expr(w.dims[1]), Some(SymExpr::Const(groups)))) } else { w.dims[0] };
    let in_channels = if transposed { w.dims[0] } else { expr_dim(arith(BinOp::Mul, dim_expr(w.dims[1]), Some(SymExpr::Const(groups)))) };
    if !x.dims[1].compatible(in_channels) {
        return Err(format!("input has {} channels but weight expects {}", fmt_dim(x.dims[1]), fmt_dim(in_channels)));
    }
    let mut out = vec![x.dims[0], out_channels];
    for i in 0..x.rank() - 2 {
        let s = per_dim(&stride, i, 1);
        if s < 1 {
            return Err(format!("stride must be >= 1, got {s}"));
        }
        out.push(conv_out(x.dims[i + 2], w.dims[i + 2], s, per_dim(&padding, i, 0), per_dim(&dilation, i, 1), per_dim(&out_pad, i, 0), transposed, false));
    }
    one(Type::tensor(out, x.dtype))
}

fn masked(mask: &[bool], i: usize, t: Type) -> Type {
    if mask.get(i).copied().unwrap_or(true) {
        t
    } else {
        Type::None
    }
}

fn output_mask(ctx: &InferCtx) -> Result<Vec<bool>, String> {
    let arr = ctx.attrs.get("output_mask").and_then(Attribute::as_array).ok_or("requires array attribute 'output_mask'")?;
    arr.iter().map(|a| a.as_bool().ok_or_else(|| "output_mask must hold booleans".to_string())).collect()
}

pub fn convolution_backward(ctx: &InferCtx) -> Res {
    let (x, w) = (tensor(ctx, 1)?, tensor(ctx, 2)?);
    let mask = output_mask(ctx)?;
    // Transposed weights are [in, out / groups, …].
    let out_ch = if bool_attr(ctx, "transposed") {
        let groups = int_attr(ctx, "groups")?.unwrap_or(1);
        expr_dim(arith(BinOp::Mul, dim_expr(w.dims[1]), Some(SymExpr::Const(groups))))
    } else {
        w.dims[0]
    };
    Ok(vec![
        masked(&mask, 0, Type::Tensor(x.clone())),
        masked(&mask, 1, Type::Tensor(w.clone())),
        masked(&mask, 2, Type::tensor(vec![out_ch], w.dtype)),
    ])
}

pub fn sdpa(ctx: &InferCtx) -> Res {
    let (q, k, v) = (tensor(ctx, 0)?, tensor(ctx, 1)?, tensor(ctx, 2)?);
    if q.rank() < 2 || k.rank() != q.rank() || v.rank() != q.rank() {
        return Err("query, key and value must have the same rank >= 2".into());
    }
    let r = q.rank();
    check_contract(q.dims[r - 1], k.dims[r - 1])?;
    // Batch dims broadcast across query, key and value; with grouped-query
    // attention the key/value heads (dim -3) divide the query heads instead.
    let gqa = bool_attr(ctx, "enable_gqa") && r >= 3;
    let batch = if gqa { r - 3 } else { r - 2 };
    let mut out = broadcast_dims(&broadcast_dims(&q.dims[..batch], &k.dims[..batch])?, &v.dims[..batch])?;
    if gqa {
        out.push(q.dims[r - 3]);
    }
    out.push(q.dims[r - 2]);
    out.push(v.dims[r - 1]);
    one(Type::tensor(out, q.dtype))
}

/// Gradients of attention: each has the type of its query, key or value.
pub fn sdpa_backward(ctx: &InferCtx) -> Res {
    (1..4).map(|i| tensor(ctx, i).map(|t| Type::Tensor(t.clone()))).collect()
}

// ----- normalisation --------------------------------------------------------------

pub fn layer_norm(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let norm = req_ints(ctx, "normalized_shape")?;
    if norm.len() > x.rank() {
        return Err(format!("normalized_shape has {} dims but input has rank {}", norm.len(), x.rank()));
    }
    let lead = x.rank() - norm.len();
    for (i, &n) in norm.iter().enumerate() {
        if !x.dims[lead + i].compatible(Dim::Static(n)) {
            return Err(format!("normalized_shape {norm:?} does not match the trailing input dims"));
        }
    }
    let mut stat = x.dims[..lead].to_vec();
    stat.extend(std::iter::repeat_n(Dim::Static(1), norm.len()));
    let sd = stats_dtype(ctx, x, &[1, 2]);
    Ok(vec![Type::Tensor(x.clone()), Type::tensor(stat.clone(), sd), Type::tensor(stat, sd)])
}

pub fn layer_norm_backward(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 1)?;
    let mask = output_mask(ctx)?;
    let param = |i| opt_tensor(ctx, i).map_or(Type::None, |t| Type::Tensor(t.clone()));
    Ok(vec![masked(&mask, 0, Type::Tensor(x.clone())), masked(&mask, 1, param(4)), masked(&mask, 2, param(5))])
}

/// Statistics of a norm: float, and as wide as the widest of the input and
/// the parameters (an f16 input with f32 weights gives f32 statistics).
fn stats_dtype(ctx: &InferCtx, x: &TensorType, params: &[usize]) -> DType {
    let d = params.iter().filter_map(|&i| opt_tensor(ctx, i)).map(|t| t.dtype).filter(|d| d.is_float()).fold(x.dtype, DType::promote);
    to_float(d)
}

fn channels(ctx: &InferCtx, x: &TensorType) -> Result<Dim, String> {
    if x.rank() < 2 {
        return Err(format!("'{}' expects an input of rank >= 2, got rank {}", ctx.op_name, x.rank()));
    }
    Ok(x.dims[1])
}

pub fn batch_norm_inference(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    channels(ctx, x)?;
    let empty = Type::tensor(vec![Dim::Static(0)], stats_dtype(ctx, x, &[1, 2, 3, 4]));
    Ok(vec![Type::Tensor(x.clone()), empty.clone(), empty])
}

pub fn batch_norm_functional(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let c = Type::tensor(vec![channels(ctx, x)?], stats_dtype(ctx, x, &[1, 2, 3, 4]));
    let running = Type::Tensor(tensor(ctx, 3)?.clone());
    Ok(vec![Type::Tensor(x.clone()), c.clone(), c, running.clone(), running])
}

pub fn batch_norm_backward(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 1)?;
    let mask = output_mask(ctx)?;
    // Parameter gradients take the weight's dtype (f32 weights under an f16 input).
    let pd = opt_tensor(ctx, 2).map_or(x.dtype, |w| w.dtype);
    let c = Type::tensor(vec![channels(ctx, x)?], pd);
    Ok(vec![masked(&mask, 0, Type::Tensor(x.clone())), masked(&mask, 1, c.clone()), masked(&mask, 2, c)])
}

pub fn group_norm(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    channels(ctx, x)?;
    let g = req_int(ctx, "group")?;
    let stat = Type::tensor(vec![x.dims[0], Dim::Static(g)], to_float(x.dtype));
    Ok(vec![Type::Tensor(x.clone()), stat.clone(), stat])
}

// ----- views and data movement --------------------------------------------------------

/// view/_unsafe_view take `size`, reshape takes `shape` (ATen's names).
pub fn view(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let shape = exprs_attr(ctx, if ctx.op_name == "sem.reshape" { "shape" } else { "size" })?;
    let infer_at: Vec<usize> = shape.iter().enumerate().filter(|(_, e)| e.as_const() == Some(-1)).map(|(i, _)| i).collect();
    if infer_at.len() > 1 {
        return Err("shape may contain at most one -1".into());
    }
    let mut dims: Vec<Dim> = shape.iter().map(|e| expr_dim(Some(e.clone()))).collect();
    if let Some(&i) = infer_at.first() {
        let others: Vec<Dim> = dims.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &d)| d).collect();
        dims[i] = expr_dim(arith(BinOp::FloorDiv, product(&x.dims), product(&others)));
    }
    if let (Some(a), Some(b)) = (x.num_elements(), TensorType::new(dims.clone(), x.dtype).num_elements()) {
        if a != b {
            return Err(format!("cannot view {a} elements as shape {} ({b} elements)", fmt_dims(&dims)));
        }
    }
    one(Type::tensor(dims, x.dtype))
}

fn fmt_dims(dims: &[Dim]) -> String {
    format!("[{}]", dims.iter().map(|&d| fmt_dim(d)).collect::<Vec<_>>().join(", "))
}

pub fn permute(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let perm = req_ints(ctx, "dims")?;
    if perm.len() != x.rank() {
        return Err(format!("permutation {perm:?} has {} entries for rank {}", perm.len(), x.rank()));
    }
    let mut seen = vec![false; x.rank()];
    let mut dims = Vec::with_capacity(x.rank());
    for &p in &perm {
        let p = norm_dim(p, x.rank())?;
        if std::mem::replace(&mut seen[p], true) {
            return Err(format!("{perm:?} is not a permutation"));
        }
        dims.push(x.dims[p]);
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn transpose(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let (a, b) = (norm_dim(req_int(ctx, "dim0")?, x.rank())?, norm_dim(req_int(ctx, "dim1")?, x.rank())?);
    let mut dims = x.dims.clone();
    if !dims.is_empty() {
        dims.swap(a, b);
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn expand(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let shape = exprs_attr(ctx, "size")?;
    if shape.len() < x.rank() {
        return Err(format!("cannot expand rank {} to {} dims", x.rank(), shape.len()));
    }
    let lead = shape.len() - x.rank();
    let mut dims = Vec::with_capacity(shape.len());
    for (i, e) in shape.iter().enumerate() {
        let target = expr_dim(Some(e.clone()));
        let d = if i < lead {
            target
        } else {
            let src = x.dims[i - lead];
            match target {
                Dim::Static(-1) => src,
                t if src == Dim::Static(1) || src.compatible(t) => t.refine(src),
                t => return Err(format!("cannot expand size {} to {}", fmt_dim(src), fmt_dim(t))),
            }
        };
        dims.push(d);
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn repeat(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let reps = req_ints(ctx, "repeats")?;
    if reps.len() < x.rank() {
        return Err(format!("repeats has {} entries for rank {}", reps.len(), x.rank()));
    }
    let lead = reps.len() - x.rank();
    let dims: Vec<Dim> = reps
        .iter()
        .enumerate()
        .map(|(i, &r)| if i < lead { Dim::Static(r) } else { expr_dim(arith(BinOp::Mul, dim_expr(x.dims[i - lead]), Some(SymExpr::Const(r)))) })
        .collect();
    one(Type::tensor(dims, x.dtype))
}

pub fn squeeze(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let which: Vec<usize> = match int_or_ints_attr(ctx, "dim")? {
        Some(ds) => ds.iter().map(|&d| norm_dim(d, x.rank())).collect::<Result<_, _>>()?,
        None => (0..x.rank()).collect(),
    };
    let dims: Vec<Dim> = x.dims.iter().enumerate().filter(|&(i, &d)| !(which.contains(&i) && d == Dim::Static(1))).map(|(_, &d)| d).collect();
    one(Type::tensor(dims, x.dtype))
}

pub fn unsqueeze(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(req_int(ctx, "dim")?, x.rank() + 1)?;
    let mut dims = x.dims.clone();
    dims.insert(d, Dim::Static(1));
    one(Type::tensor(dims, x.dtype))
}

/// Length of `x[start:end:step]` for a dim of size `size`, clamping like Python.
fn slice_len(size: Dim, start: Option<SymExpr>, end: Option<SymExpr>, step: i64) -> Dim {
    let start = start.unwrap_or(SymExpr::Const(0));
    let end_is_open = end.as_ref().is_none_or(|e| e.as_const().is_some_and(|v| v >= i64::MAX / 2));
    if let (Some(n), Some(s)) = (size.as_static(), start.as_const()) {
        let e = if end_is_open { Some(n) } else { end.as_ref().and_then(SymExpr::as_const) };
        if let Some(e) = e {
            let clamp = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
            let (s, e) = (clamp(s), clamp(e));
            return Dim::Static(if e > s { (e - s + step - 1) / step } else { 0 });
        }
    }
    if start.as_const() == Some(0) && step == 1 {
        if end_is_open {
            return size;
        }
        return expr_dim(end);
    }
    let end = if end_is_open { dim_expr(size) } else { end };
    expr_dim(arith(BinOp::CeilDiv, arith(BinOp::Sub, end, Some(start)), Some(SymExpr::Const(step))))
}

pub fn slice(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(req_int(ctx, "dim")?, x.rank())?;
    let step = int_attr(ctx, "step")?.unwrap_or(1);
    if step < 1 {
        return Err(format!("slice step must be >= 1, got {step}"));
    }
    let get = |n: &str| ctx.attrs.get(n).and_then(Attribute::as_sym_expr);
    let mut dims = x.dims.clone();
    dims[d] = slice_len(x.dims[d], get("start"), get("end"), step);
    one(Type::tensor(dims, x.dtype))
}

pub fn select(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(req_int(ctx, "dim")?, x.rank())?;
    if let (Some(i), Some(n)) = (ctx.attrs.get("index").and_then(Attribute::as_int), x.dims[d].as_static()) {
        if i >= n || i < -n {
            return Err(format!("index {i} is out of range for dim {d} of size {n}"));
        }
    }
    let mut dims = x.dims.clone();
    dims.remove(d);
    one(Type::tensor(dims, x.dtype))
}

pub fn cat(ctx: &InferCtx) -> Res {
    let all: Vec<&TensorType> = (0..ctx.operands.len()).map(|i| tensor(ctx, i)).collect::<Result<_, _>>()?;
    // Like PyTorch, skip legacy empty 1-d tensors (shape [0]) next to others.
    let legacy_empty = |t: &TensorType| t.rank() == 1 && t.dims[0] == Dim::Static(0);
    let ts: Vec<&TensorType> = if all.iter().all(|t| legacy_empty(t)) { all.clone() } else { all.iter().copied().filter(|t| !legacy_empty(t)).collect() };
    let first = ts.first().ok_or("cat needs at least one tensor")?;
    let d = norm_dim(req_int(ctx, "dim")?, first.rank())?;
    let mut dims = first.dims.clone();
    let mut total = dim_expr(first.dims[d]);
    let mut dtype = first.dtype;
    for t in &ts[1..] {
        if t.rank() != first.rank() {
            return Err(format!("cat operands have ranks {} and {}", first.rank(), t.rank()));
        }
        for i in 0..t.rank() {
            if i != d && !dims[i].compatible(t.dims[i]) {
                return Err(format!("cat operands differ at dim {i}: {} vs {}", fmt_dim(dims[i]), fmt_dim(t.dims[i])));
            }
            if i != d {
                dims[i] = dims[i].refine(t.dims[i]);
            }
        }
        total = arith(BinOp::Add, total, dim_expr(t.dims[d]));
        dtype = DType::promote(dtype, t.dtype);
    }
    dims[d] = expr_dim(total);
    one(Type::tensor(dims, dtype))
}

fn split_by(ctx: &InferCtx, sizes: &[i64], dim: usize, x: &TensorType) -> Res {
    if sizes.len() != ctx.num_results {
        return Err(format!("splits into {} pieces but the op has {} results", sizes.len(), ctx.num_results));
    }
    Ok(sizes
        .iter()
        .map(|&s| {
            let mut dims = x.dims.clone();
            dims[dim] = Dim::Static(s);
            Type::tensor(dims, x.dtype)
        })
        .collect())
}

pub fn split(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(int_attr(ctx, "dim")?.unwrap_or(0), x.rank())?;
    let size = req_int(ctx, "split_size")?;
    if size < 1 {
        return Err(format!("split_size must be >= 1, got {size}"));
    }
    match x.dims[d].as_static() {
        // A size-0 dim still splits into one empty piece.
        Some(0) => split_by(ctx, &[0], d, x),
        Some(n) => {
            let sizes: Vec<i64> = (0..n).step_by(size as usize).map(|s| size.min(n - s)).collect();
            split_by(ctx, &sizes, d, x)
        }
        None => Ok((0..ctx.num_results)
            .map(|_| {
                let mut dims = x.dims.clone();
                dims[d] = Dim::Dynamic;
                Type::tensor(dims, x.dtype)
            })
            .collect()),
    }
}

pub fn split_with_sizes(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(int_attr(ctx, "dim")?.unwrap_or(0), x.rank())?;
    let sizes = req_ints(ctx, "split_sizes")?;
    if let Some(n) = x.dims[d].as_static() {
        if sizes.iter().sum::<i64>() != n {
            return Err(format!("split sizes {sizes:?} do not add up to dim size {n}"));
        }
    }
    split_by(ctx, &sizes, d, x)
}

pub fn unbind(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let d = norm_dim(int_attr(ctx, "dim")?.unwrap_or(0), x.rank())?;
    if let Some(n) = x.dims[d].as_static() {
        if n as usize != ctx.num_results {
            return Err(format!("unbinds a dim of size {n} into {} results", ctx.num_results));
        }
    }
    let mut dims = x.dims.clone();
    dims.remove(d);
    Ok(vec![Type::tensor(dims, x.dtype); ctx.num_results])
}

pub fn constant_pad_nd(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let pad = req_ints(ctx, "pad")?;
    if pad.len() % 2 != 0 || pad.len() / 2 > x.rank() {
        return Err(format!("pad {pad:?} must have an even length of at most 2 x rank"));
    }
    let mut dims = x.dims.clone();
    for (i, pair) in pad.chunks(2).enumerate() {
        let d = x.rank() - 1 - i;
        dims[d] = expr_dim(arith(BinOp::Add, dim_expr(dims[d]), Some(SymExpr::Const(pair[0] + pair[1]))));
    }
    one(Type::tensor(dims, x.dtype))
}

// ----- indexing and embeddings ----------------------------------------------------------

fn check_index_dtype(t: &TensorType, what: &str) -> Result<(), String> {
    if !(t.dtype.is_int() || t.dtype.is_bool()) {
        return Err(format!("{what} must be an integer tensor, got {}", t.dtype));
    }
    Ok(())
}

pub fn embedding(ctx: &InferCtx) -> Res {
    let (w, idx) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_rank(ctx, w, 2, "weight")?;
    check_index_dtype(idx, "indices")?;
    let mut dims = idx.dims.clone();
    dims.push(w.dims[1]);
    one(Type::tensor(dims, w.dtype))
}

pub fn embedding_backward(ctx: &InferCtx) -> Res {
    let g = tensor(ctx, 0)?;
    let n = req_int(ctx, "num_weights")?;
    let last = *g.dims.last().ok_or("grad_output must have rank >= 1")?;
    one(Type::tensor(vec![Dim::Static(n), last], g.dtype))
}

pub fn embedding_bag(ctx: &InferCtx) -> Res {
    let (w, idx, offsets) = (tensor(ctx, 0)?, tensor(ctx, 1)?, tensor(ctx, 2)?);
    check_rank(ctx, w, 2, "weight")?;
    check_index_dtype(idx, "indices")?;
    check_index_dtype(offsets, "offsets")?;
    let n_offsets = offsets.dims.first().copied().unwrap_or(Dim::Dynamic);
    let bags = if bool_attr(ctx, "include_last_offset") { expr_dim(arith(BinOp::Sub, dim_expr(n_offsets), Some(SymExpr::Const(1)))) } else { n_offsets };
    // The auxiliary results (read only by the backward) have backend-specific
    // lengths (the CPU kernel leaves offset2bag empty on its fast path, CUDA
    // leaves max_indices empty outside max mode), so they stay `?` — except
    // max_indices in max mode (mode 2), one per bag and column everywhere.
    let max_indices = if int_attr(ctx, "mode")? == Some(2) { vec![bags, w.dims[1]] } else { vec![Dim::Dynamic] };
    Ok(vec![
        Type::tensor(vec![bags, w.dims[1]], w.dtype),
        Type::tensor(vec![Dim::Dynamic], idx.dtype),
        Type::tensor(vec![Dim::Dynamic], idx.dtype),
        Type::tensor(max_indices, idx.dtype),
    ])
}

/// Advanced indexing. An integer index tensor stands for one dim of self, a
/// boolean mask of rank k for k dims (it selects a data-dependent count).
pub fn index(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let mut pos = 0usize;
    let mut consumed: Vec<(usize, usize)> = Vec::new(); // (first dim, how many) per index tensor
    let mut bcast: Option<Vec<Dim>> = None;
    for t in &ctx.operands[1..] {
        match t.as_tensor() {
            None => pos += 1,
            Some(t) => {
                check_index_dtype(t, "index")?;
                let (width, dims) = if t.dtype.is_bool() { (t.rank().max(1), vec![Dim::Dynamic]) } else { (1, t.dims.to_vec()) };
                consumed.push((pos, width));
                pos += width;
                bcast = Some(match bcast {
                    None => dims,
                    Some(b) => broadcast_dims(&b, &dims)?,
                });
            }
        }
    }
    if pos > x.rank() {
        return Err(format!("indices cover {pos} dims of a tensor of rank {}", x.rank()));
    }
    let Some(bcast) = bcast else { return one(Type::Tensor(x.clone())) };
    let indexed = |i: usize| consumed.iter().any(|&(f, w)| (f..f + w).contains(&i));
    let adjacent = consumed.windows(2).all(|w| w[1].0 == w[0].0 + w[0].1);
    let first = consumed[0].0;
    let rest = |range: std::ops::Range<usize>| range.filter(|&i| !indexed(i)).map(|i| x.dims[i]).collect::<Vec<_>>();
    let mut dims = Vec::new();
    if adjacent {
        dims.extend(rest(0..first));
        dims.extend(bcast);
        dims.extend(rest(first..x.rank()));
    } else {
        dims.extend(bcast);
        dims.extend(rest(0..x.rank()));
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn index_select(ctx: &InferCtx) -> Res {
    let (x, i) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_index_dtype(i, "index")?;
    let d = norm_dim(req_int(ctx, "dim")?, x.rank())?;
    let mut dims = x.dims.clone();
    if !dims.is_empty() {
        dims[d] = i.dims.first().copied().unwrap_or(Dim::Static(1));
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn gather(ctx: &InferCtx) -> Res {
    let (x, i) = (tensor(ctx, 0)?, tensor(ctx, 1)?);
    check_index_dtype(i, "index")?;
    norm_dim(req_int(ctx, "dim")?, x.rank())?;
    one(Type::tensor(i.dims.clone(), x.dtype))
}

// ----- factories -----------------------------------------------------------------------

fn required_dtype(ctx: &InferCtx) -> Result<DType, String> {
    dtype_attr(ctx, "dtype").ok_or_else(|| "requires attribute 'dtype'".to_string())
}

pub fn full(ctx: &InferCtx) -> Res {
    let size = exprs_attr(ctx, "size")?;
    let dims: Vec<Dim> = size.into_iter().map(|e| expr_dim(Some(e))).collect();
    one(Type::tensor(dims, required_dtype(ctx)?))
}

/// as_strided: `size` gives the shape, the input's dtype carries over.
pub fn as_strided(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let dims: Vec<Dim> = exprs_attr(ctx, "size")?.into_iter().map(|e| expr_dim(Some(e))).collect();
    if exprs_attr(ctx, "stride")?.len() != dims.len() {
        return Err("size and stride must have the same length".into());
    }
    one(Type::tensor(dims, x.dtype))
}

pub fn full_like(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    one(Type::tensor(x.dims.clone(), dtype_attr(ctx, "dtype").unwrap_or(x.dtype)))
}

/// Without a dtype, torch.scalar_tensor always uses the default dtype (f32).
pub fn scalar_tensor(ctx: &InferCtx) -> Res {
    if !matches!(ctx.operands.first(), Some(Type::Scalar(_))) {
        return Err("value must be a scalar".into());
    }
    one(Type::tensor(vec![], dtype_attr(ctx, "dtype").unwrap_or(DType::F32)))
}

pub fn arange(ctx: &InferCtx) -> Res {
    let get = |n: &str| ctx.attrs.get(n).and_then(Attribute::as_sym_expr);
    let step = int_attr(ctx, "step")?.unwrap_or(1);
    if step == 0 {
        return Err("arange step must not be zero".into());
    }
    let start = get("start").unwrap_or(SymExpr::Const(0));
    let end = get("end").ok_or("requires attribute 'end'")?;
    let len = expr_dim(arith(BinOp::CeilDiv, Some(SymExpr::bin(BinOp::Sub, end, start)), Some(SymExpr::Const(step))));
    let len = match len {
        Dim::Static(n) if n < 0 => Dim::Static(0),
        d => d,
    };
    one(Type::tensor(vec![len], required_dtype(ctx)?))
}

pub fn dropout(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    Ok(vec![Type::Tensor(x.clone()), Type::tensor(x.dims.clone(), DType::I1)])
}

// ----- pooling ---------------------------------------------------------------------------

fn pool_out(ctx: &InferCtx, dilated: bool) -> Result<Type, String> {
    let x = tensor(ctx, 0)?;
    if x.rank() < 3 {
        return Err(format!("'{}' expects an input of rank 3 or 4, got rank {}", ctx.op_name, x.rank()));
    }
    let k = req_ints(ctx, "kernel_size")?;
    let stride = ints_attr(ctx, "stride")?.filter(|s| !s.is_empty()).unwrap_or_else(|| k.clone());
    let pad = ints_attr(ctx, "padding")?.unwrap_or_default();
    let dil = if dilated { ints_attr(ctx, "dilation")?.unwrap_or_default() } else { vec![] };
    let ceil = bool_attr(ctx, "ceil_mode");
    let mut dims = x.dims.clone();
    let r = dims.len();
    for i in 0..2 {
        let s = per_dim(&stride, i, 1);
        if s < 1 {
            return Err(format!("stride must be >= 1, got {s}"));
        }
        dims[r - 2 + i] = conv_out(x.dims[r - 2 + i], Dim::Static(per_dim(&k, i, 1)), s, per_dim(&pad, i, 0), per_dim(&dil, i, 1), 0, false, ceil);
    }
    Ok(Type::tensor(dims, x.dtype))
}

pub fn max_pool2d(ctx: &InferCtx) -> Res {
    let out = pool_out(ctx, true)?;
    let idx = with_dtype(&out, DType::I64);
    Ok(vec![out, idx])
}

pub fn avg_pool2d(ctx: &InferCtx) -> Res {
    pool_out(ctx, false).map(|t| vec![t])
}

pub fn adaptive_avg_pool2d(ctx: &InferCtx) -> Res {
    let x = tensor(ctx, 0)?;
    let out = req_ints(ctx, "output_size")?;
    if x.rank() < 3 || out.len() != 2 {
        return Err("expects an input of rank 3 or 4 and a 2-entry output_size".into());
    }
    let mut dims = x.dims.clone();
    let r = dims.len();
    dims[r - 2] = Dim::Static(out[0]);
    dims[r - 1] = Dim::Static(out[1]);
    one(Type::tensor(dims, x.dtype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::AttrDict;

    fn ctx<'a>(name: &'static str, ops: Vec<&'a Type>, attrs: &'a AttrDict) -> InferCtx<'a> {
        InferCtx { op_name: name, operands: ops, attrs, num_results: 1 }
    }

    #[test]
    fn broadcasting_keeps_symbols() {
        let a = Type::tensor(vec![Dim::Sym(0), Dim::Static(1), Dim::Static(64)], DType::F32);
        let b = Type::tensor(vec![Dim::Static(12), Dim::Static(64)], DType::F32);
        let attrs = AttrDict::new();
        let r = binary(&ctx("sem.add", vec![&a, &b], &attrs)).unwrap();
        assert_eq!(r[0].to_string(), "tensor<s0x12x64xf32>");
    }

    #[test]
    fn view_infers_minus_one_symbolically() {
        let x = Type::tensor(vec![Dim::Static(1), Dim::Sym(0), Dim::Static(768)], DType::F32);
        let mut attrs = AttrDict::new();
        attrs.set("size", Attribute::Array(vec![Attribute::int(1), Attribute::int(-1), Attribute::int(12), Attribute::int(64)]));
        let r = view(&ctx("sem.view", vec![&x], &attrs)).unwrap();
        assert_eq!(r[0].to_string(), "tensor<1xs0x12x64xf32>");
    }

    #[test]
    fn conv_output_size() {
        let x = Type::tensor(vec![Dim::Static(1), Dim::Static(3), Dim::Static(224), Dim::Static(224)], DType::F32);
        let w = Type::tensor(vec![Dim::Static(64), Dim::Static(3), Dim::Static(7), Dim::Static(7)], DType::F32);
        let mut attrs = AttrDict::new();
        attrs.set("stride", Attribute::Array(vec![Attribute::int(2), Attribute::int(2)]));
        attrs.set("padding", Attribute::Array(vec![Attribute::int(3), Attribute::int(3)]));
        attrs.set("dilation", Attribute::Array(vec![Attribute::int(1), Attribute::int(1)]));
        attrs.set("groups", Attribute::int(1));
        let r = convolution(&ctx("sem.convolution", vec![&x, &w, &Type::None], &attrs)).unwrap();
        assert_eq!(r[0].to_string(), "tensor<1x64x112x112xf32>");
    }

    #[test]
    fn mm_rejects_mismatched_contraction() {
        let a = Type::tensor(vec![Dim::Static(4), Dim::Static(8)], DType::F32);
        let b = Type::tensor(vec![Dim::Static(7), Dim::Static(16)], DType::F32);
        let attrs = AttrDict::new();
        let e = mm(&ctx("sem.mm", vec![&a, &b], &attrs)).unwrap_err();
        assert!(e.contains("contraction dims differ: 8 vs 7"), "{e}");
    }
}
