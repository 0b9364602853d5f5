//! Elementwise kernels over broadcast, strided operands.
//!
//! [`zip_map`] walks the output in row-major order, merging dims that are
//! contiguous in every operand so the inner loop runs over long unit-stride
//! rows (which LLVM vectorises), and splits large outputs across the rayon
//! pool. f32 operands take typed fast paths with vectorisable `exp`, `tanh`
//! and `erf`; other element types compute in f64 and store the plan's result
//! type.

use crate::kernels::{broadcast_shapes, one, tensor, Ctx, R};
use crate::tensor::{numel, Elem, Tensor, Value};
use genie_plan::{Attribute, DType, Op};
use rayon::prelude::*;

/// Outputs at least this large are split across threads.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

/// `f` applied to the elements of `ins` broadcast to `shape`.
pub fn zip_map<T: Elem, O: Elem, const N: usize>(ins: [&Tensor; N], shape: &[usize], f: impl Fn([T; N]) -> O + Sync) -> Result<Tensor, String> {
    let mut srcs: [&[T]; N] = [&[]; N];
    let mut st: Vec<[usize; N]> = vec![[0; N]; shape.len()];
    let mut base = [0usize; N];
    for (k, t) in ins.iter().enumerate() {
        let e = t.expanded(shape)?;
        srcs[k] = t.storage_slice::<T>()?;
        for (d, &s) in e.strides().iter().enumerate() {
            st[d][k] = s;
        }
        base[k] = e.offset();
    }
    let (dims, st) = collapse_joint(shape, &st);
    let n = numel(shape);
    let inner = dims.last().copied().unwrap_or(1);
    let mut out = vec![O::default(); n];
    if n == 0 {
        return Tensor::from_vec(shape.to_vec(), out);
    }
    let step = st.last().copied().unwrap_or([1; N]);
    let outer_dims = &dims[..dims.len().saturating_sub(1)];
    let outer_st = &st[..st.len().saturating_sub(1)];
    let run_rows = |first_row: usize, chunk: &mut [O]| {
        for (r, row) in chunk.chunks_mut(inner).enumerate() {
            // Offsets of this row in each operand.
            let mut offs = base;
            let mut rest = first_row + r;
            for d in (0..outer_dims.len()).rev() {
                let i = rest % outer_dims[d];
                rest /= outer_dims[d];
                for k in 0..N {
                    offs[k] += i * outer_st[d][k];
                }
            }
            if step.iter().all(|&s| s == 1) {
                let s: [&[T]; N] = std::array::from_fn(|k| &srcs[k][offs[k]..offs[k] + inner]);
                for (j, o) in row.iter_mut().enumerate() {
                    *o = f(std::array::from_fn(|k| s[k][j]));
                }
            } else {
                for (j, o) in row.iter_mut().enumerate() {
                    *o = f(std::array::from_fn(|k| srcs[k][offs[k] + j * step[k]]));
                }
            }
        }
    };
    if n >= PARALLEL_MIN {
        let rows_per_task = (PARALLEL_MIN / inner).max(1);
        out.par_chunks_mut(rows_per_task * inner).enumerate().for_each(|(i, chunk)| run_rows(i * rows_per_task, chunk));
    } else {
        run_rows(0, &mut out);
    }
    Tensor::from_vec(shape.to_vec(), out)
}

/// Drops size-1 dims and merges neighbours contiguous in every operand.
fn collapse_joint<const N: usize>(shape: &[usize], st: &[[usize; N]]) -> (Vec<usize>, Vec<[usize; N]>) {
    let (mut dims, mut strides): (Vec<usize>, Vec<[usize; N]>) = (vec![], vec![]);
    for (&n, s) in shape.iter().zip(st) {
        if n == 1 {
            continue;
        }
        match (dims.last_mut(), strides.last_mut()) {
            (Some(pn), Some(ps)) if (0..N).all(|k| ps[k] == s[k] * n) => {
                *pn *= n;
                *ps = *s;
            }
            _ => {
                dims.push(n);
                strides.push(*s);
            }
        }
    }
    (dims, strides)
}

fn out_shape(ts: &[&Tensor]) -> Result<Vec<usize>, String> {
    ts.iter().try_fold(vec![], |s, t| broadcast_shapes(&s, &t.shape))
}

/// The generic path: operands cast to f64, `f` in f64, stored as the result type.
fn map_f64<const N: usize>(ctx: &Ctx, args: &[Value], f: impl Fn([f64; N]) -> f64 + Sync) -> R {
    let d = ctx.out_dtype(0)?;
    let ts: Vec<Tensor> = args[..N].iter().map(|a| tensor(a).and_then(|t| t.cast(DType::F64))).collect::<Result<_, _>>()?;
    let refs: [&Tensor; N] = std::array::from_fn(|k| &ts[k]);
    let shape = out_shape(&refs)?;
    let r = zip_map::<f64, f64, N>(refs, &shape, f)?;
    if ctx.scalar_result() {
        let v = r.to_f64().first().copied().ok_or("a scalar op produced no value")?;
        return Ok(vec![scalar_value(v, d)]);
    }
    one(r.cast(d)?)
}

pub fn scalar_value(v: f64, d: DType) -> Value {
    if d.is_float() {
        Value::Float(v)
    } else if d.is_bool() {
        Value::Bool(v != 0.0)
    } else {
        Value::Int(v as i64)
    }
}

/// The f32 tensor operands of an op whose result is an f32 tensor, with
/// Python-number operands as constants; None when the fast path does not apply.
fn f32_operands<'a>(ctx: &Ctx, args: &'a [Value], out: DType) -> Option<Vec<Operand<'a>>> {
    if ctx.scalar_result() || ctx.out_dtype(0).ok()? != out {
        return None;
    }
    let ops: Vec<Operand> = args
        .iter()
        .map(|a| match a {
            Value::Tensor(t) if t.dtype() == DType::F32 => Some(Operand::Tensor(t)),
            Value::Float(x) => Some(Operand::Const(*x as f32)),
            Value::Int(x) => Some(Operand::Const(*x as f32)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    ops.iter().any(|o| matches!(o, Operand::Tensor(_))).then_some(ops)
}

enum Operand<'a> {
    Tensor(&'a Tensor),
    Const(f32),
}

/// Runs a binary f32 function over two operands, either of which may be a constant.
fn binary_f32<O: Elem>(a: &Operand, b: &Operand, f: impl Fn(f32, f32) -> O + Sync) -> Result<Tensor, String> {
    match (a, b) {
        (Operand::Tensor(x), Operand::Tensor(y)) => zip_map::<f32, O, 2>([x, y], &broadcast_shapes(&x.shape, &y.shape)?, |[p, q]| f(p, q)),
        (Operand::Tensor(x), Operand::Const(c)) => zip_map::<f32, O, 1>([x], &x.shape, |[p]| f(p, *c)),
        (Operand::Const(c), Operand::Tensor(y)) => zip_map::<f32, O, 1>([y], &y.shape, |[q]| f(*c, q)),
        (Operand::Const(_), Operand::Const(_)) => Err("no tensor operand".into()),
    }
}

// ----- vectorisable f32 math -------------------------------------------------------

/// e^x within 2 ulp (Cephes' polynomial after range reduction by ln 2);
/// branch-free so loops over it vectorise.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(-87.3, 88.3);
    let k = (xc * std::f32::consts::LOG2_E).round();
    let r = xc - k * 0.693_359_4 + k * 2.121_944_4e-4;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_65) * r + 0.5;
    let y = p * z + r + 1.0;
    let scaled = y * f32::from_bits(((k as i32 + 127) as u32) << 23);
    if x > 88.72 {
        f32::INFINITY
    } else if x < -87.33 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        scaled
    }
}

/// tanh within a few ulp: Cephes' odd polynomial near 0, 1 - 2/(e^2x + 1) beyond.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small = ((((-5.704_988_6e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 0.133_314_42) * z - 0.333_332_8) * z * x + x;
    let large = (1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// erf with absolute error below 1.5e-7 (Abramowitz & Stegun 7.1.26), enough
/// for f32 GELU.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    (1.0 - poly * exp_f32(-a * a)).copysign(x)
}

#[inline(always)]
fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// The error function in f64: a Maclaurin series near 0, a continued
/// fraction for erfc further out; both agree with libm to ~1e-15.
pub fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        let x2 = x * x;
        let (mut sum, mut term) = (x, x);
        // Terms shrink geometrically here; 60 bounds the loop for any input.
        for n in 1..60 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else if x.is_nan() {
        x
    } else {
        let ax = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        let erfc = (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * (ax + f));
        (1.0 - erfc).copysign(x)
    }
}

fn tanh_gelu(ctx: &Ctx) -> bool {
    ctx.attrs.get("approximate").and_then(Attribute::as_str) == Some("tanh")
}

// ----- kernels ---------------------------------------------------------------------

/// The f32 form of a unary op, where PyTorch computes in f32 too. Each arm
/// instantiates `zip_map` with its own closure so the math inlines into the
/// loop and vectorises.
fn unary_f32(ctx: &Ctx, t: &Tensor) -> Option<Result<Tensor, String>> {
    const K: f32 = 0.797_884_6; // sqrt(2/pi)
    macro_rules! map {
        ($f:expr) => {
            zip_map::<f32, f32, 1>([t], &t.shape, |[x]| $f(x))
        };
    }
    Some(match ctx.op {
        Op::Neg => map!(|x: f32| -x),
        Op::Abs => map!(f32::abs),
        Op::Exp => map!(exp_f32),
        Op::Sqrt => map!(f32::sqrt),
        Op::Rsqrt => map!(|x: f32| 1.0 / x.sqrt()),
        Op::Reciprocal => map!(|x: f32| 1.0 / x),
        Op::Tanh => map!(tanh_f32),
        Op::Sigmoid => map!(sigmoid_f32),
        Op::Silu => map!(|x: f32| x * sigmoid_f32(x)),
        Op::Relu => map!(|x: f32| if x > 0.0 { x } else { 0.0 }),
        Op::Gelu if tanh_gelu(ctx) => map!(|x: f32| 0.5 * x * (1.0 + tanh_f32(K * (x + 0.044_715 * x * x * x)))),
        Op::Gelu => map!(|x: f32| 0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))),
        Op::Hardsigmoid => map!(|x: f32| (x + 3.0).clamp(0.0, 6.0) / 6.0),
        Op::Hardswish => map!(|x: f32| x * (x + 3.0).clamp(0.0, 6.0) / 6.0),
        Op::Floor => map!(f32::floor),
        Op::Ceil => map!(f32::ceil),
        Op::Trunc => map!(f32::trunc),
        _ => return None,
    })
}

pub fn unary(ctx: &Ctx, args: &[Value]) -> R {
    if let Some(Value::Tensor(t)) = args.first() {
        // Copies and casts to the same dtype share storage: tensors are immutable.
        if matches!(ctx.op, Op::Clone | Op::Alias | Op::Detach | Op::LiftFreshCopy | Op::ToCopy | Op::ConvertElementType) && !ctx.scalar_result() {
            return one(t.cast(ctx.out_dtype(0)?)?);
        }
        if f32_operands(ctx, &args[..1], DType::F32).is_some() {
            if let Some(r) = unary_f32(ctx, t) {
                return one(r?);
            }
        }
        // Logical ops on bools stay bools.
        if t.dtype() == DType::I1 && ctx.out_dtype(0).ok() == Some(DType::I1) && !ctx.scalar_result() && matches!(ctx.op, Op::LogicalNot | Op::BitwiseNot) {
            return one(zip_map::<bool, bool, 1>([t], &t.shape, |[x]| !x)?);
        }
    }
    let f: fn(f64) -> f64 = match ctx.op {
        Op::Neg => |x| -x,
        Op::Abs => f64::abs,
        Op::Exp => f64::exp,
        Op::Expm1 => f64::exp_m1,
        Op::Log => f64::ln,
        Op::Log1p => f64::ln_1p,
        Op::Sqrt => f64::sqrt,
        Op::Rsqrt => |x| 1.0 / x.sqrt(),
        Op::Reciprocal => |x| 1.0 / x,
        Op::Sin => f64::sin,
        Op::Cos => f64::cos,
        Op::Tanh => f64::tanh,
        Op::Sigmoid => |x| 1.0 / (1.0 + (-x).exp()),
        Op::Silu => |x| x / (1.0 + (-x).exp()),
        Op::Relu => |x| if x > 0.0 { x } else { 0.0 },
        Op::Erf => erf,
        Op::Floor => f64::floor,
        Op::Ceil => f64::ceil,
        Op::Round => f64::round_ties_even,
        Op::Trunc => f64::trunc,
        Op::Sign => |x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 },
        Op::LogicalNot => |x| if x == 0.0 { 1.0 } else { 0.0 },
        // On bools, ~ is logical not (the integer form would make every bool true).
        Op::BitwiseNot if ctx.out_dtype(0).ok() == Some(DType::I1) => |x| if x == 0.0 { 1.0 } else { 0.0 },
        Op::BitwiseNot => |x| !(x as i64) as f64,
        Op::Isnan => |x| if x.is_nan() { 1.0 } else { 0.0 },
        Op::Hardsigmoid => |x| (x + 3.0).clamp(0.0, 6.0) / 6.0,
        Op::Hardswish => |x| x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        Op::Gelu if tanh_gelu(ctx) => |x| {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
        },
        Op::Gelu => |x| 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        Op::Clone | Op::Alias | Op::Detach | Op::LiftFreshCopy | Op::ToCopy | Op::ConvertElementType => |x| x,
        other => return Err(format!("no unary kernel for '{other}'")),
    };
    map_f64(ctx, &args[..1], |[x]| f(x))
}

pub fn clamp_like(ctx: &Ctx, args: &[Value]) -> R {
    let (lo_name, hi_name, lo_default, hi_default) = match ctx.op {
        Op::Hardtanh => ("min_val", "max_val", -1.0, 1.0),
        _ => ("min", "max", f64::NEG_INFINITY, f64::INFINITY),
    };
    let lo = ctx.float(lo_name).unwrap_or(lo_default);
    let hi = ctx.float(hi_name).unwrap_or(hi_default);
    if let (Some(Value::Tensor(t)), Some(_)) = (args.first(), f32_operands(ctx, &args[..1], DType::F32)) {
        let (l, h) = (lo as f32, hi as f32);
        return one(zip_map::<f32, f32, 1>([t], &t.shape, |[x]| if x.is_nan() { x } else { x.max(l).min(h) })?);
    }
    map_f64(ctx, &args[..1], |[x]| if x.is_nan() { x } else { x.max(lo).min(hi) })
}

pub fn leaky_relu(ctx: &Ctx, args: &[Value]) -> R {
    let slope = ctx.float("negative_slope").unwrap_or(0.01);
    map_f64(ctx, &args[..1], |[x]| if x > 0.0 { x } else { x * slope })
}

fn floor_div(a: f64, b: f64) -> f64 {
    (a / b).floor()
}

/// The f32 form of a binary op, when PyTorch computes it in f32.
fn binary_f32_kernel(ctx: &Ctx, args: &[Value]) -> Option<R> {
    let rounding = ctx.attrs.get("rounding_mode").and_then(Attribute::as_str);
    if let Some(ops) = f32_operands(ctx, &args[..2], DType::F32) {
        let alpha = ctx.float("alpha").unwrap_or(1.0) as f32;
        let (a, b) = (&ops[0], &ops[1]);
        let r = match ctx.op {
            Op::Add if alpha == 1.0 => binary_f32(a, b, |x, y| x + y),
            Op::Add => binary_f32(a, b, |x, y| x + alpha * y),
            Op::Sub if alpha == 1.0 => binary_f32(a, b, |x, y| x - y),
            Op::Sub => binary_f32(a, b, |x, y| x - alpha * y),
            Op::Mul => binary_f32(a, b, |x, y| x * y),
            Op::Div if rounding.is_none() => binary_f32(a, b, |x, y| x / y),
            Op::Pow => match b {
                Operand::Const(2.0) => binary_f32(a, b, |x, _| x * x),
                Operand::Const(3.0) => binary_f32(a, b, |x, _| x * x * x),
                Operand::Const(0.5) => binary_f32(a, b, |x, _| x.sqrt()),
                _ => binary_f32(a, b, f32::powf),
            },
            Op::Maximum => binary_f32(a, b, |x, y| if x.is_nan() || y.is_nan() { f32::NAN } else { x.max(y) }),
            Op::Minimum => binary_f32(a, b, |x, y| if x.is_nan() || y.is_nan() { f32::NAN } else { x.min(y) }),
            _ => return None,
        };
        return Some(r.map(|t| vec![Value::Tensor(t)]));
    }
    if let Some(ops) = f32_operands(ctx, &args[..2], DType::I1) {
        let (a, b) = (&ops[0], &ops[1]);
        let r = match ctx.op {
            Op::Eq => binary_f32(a, b, |x, y| x == y),
            Op::Ne => binary_f32(a, b, |x, y| x != y),
            Op::Lt => binary_f32(a, b, |x, y| x < y),
            Op::Le => binary_f32(a, b, |x, y| x <= y),
            Op::Gt => binary_f32(a, b, |x, y| x > y),
            Op::Ge => binary_f32(a, b, |x, y| x >= y),
            _ => return None,
        };
        return Some(r.map(|t| vec![Value::Tensor(t)]));
    }
    None
}

pub fn binary(ctx: &Ctx, args: &[Value]) -> R {
    if args.len() < 2 {
        return Err(format!("'{}' needs two operands", ctx.op));
    }
    if let Some(r) = binary_f32_kernel(ctx, args) {
        return r;
    }
    let alpha = ctx.float("alpha").unwrap_or(1.0);
    let int_result = ctx.out_dtype(0).map(|d| d.is_int()).unwrap_or(false);
    let rounding = ctx.attrs.get("rounding_mode").and_then(Attribute::as_str).map(str::to_string);
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let f: Box<dyn Fn(f64, f64) -> f64 + Sync> = match ctx.op {
        Op::Add => Box::new(move |x, y| x + alpha * y),
        Op::Sub => Box::new(move |x, y| x - alpha * y),
        Op::Mul => Box::new(|x, y| x * y),
        Op::Div => match rounding.as_deref() {
            Some("floor") => Box::new(floor_div),
            Some("trunc") => Box::new(|x, y| (x / y).trunc()),
            _ => Box::new(|x, y| x / y),
        },
        Op::FloorDivide => Box::new(floor_div),
        Op::Remainder => Box::new(move |x, y| if int_result || y != 0.0 { x - y * (x / y).floor() } else { f64::NAN }),
        Op::Fmod => Box::new(|x, y| x % y),
        Op::Pow => Box::new(f64::powf),
        Op::Atan2 => Box::new(f64::atan2),
        Op::Maximum => Box::new(|x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) }),
        Op::Minimum => Box::new(|x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.min(y) }),
        Op::Eq => Box::new(move |x, y| b(x == y)),
        Op::Ne => Box::new(move |x, y| b(x != y)),
        Op::Lt => Box::new(move |x, y| b(x < y)),
        Op::Le => Box::new(move |x, y| b(x <= y)),
        Op::Gt => Box::new(move |x, y| b(x > y)),
        Op::Ge => Box::new(move |x, y| b(x >= y)),
        Op::LogicalAnd => Box::new(move |x, y| b(x != 0.0 && y != 0.0)),
        Op::LogicalOr => Box::new(move |x, y| b(x != 0.0 || y != 0.0)),
        Op::LogicalXor => Box::new(move |x, y| b((x != 0.0) != (y != 0.0))),
        Op::BitwiseAnd => Box::new(|x, y| ((x as i64) & (y as i64)) as f64),
        Op::BitwiseOr => Box::new(|x, y| ((x as i64) | (y as i64)) as f64),
        Op::BitwiseXor => Box::new(|x, y| ((x as i64) ^ (y as i64)) as f64),
        other => return Err(format!("no binary kernel for '{other}'")),
    };
    map_f64(ctx, args, |[x, y]| f(x, y))
}

/// `where(cond, a, b)`; `masked_fill(a, mask, value)` is the same with the
/// operands reordered.
pub fn select_by_mask(ctx: &Ctx, args: &[Value]) -> R {
    // `where(cond, a, b)` takes a where cond holds; `masked_fill(self,
    // mask, value)` takes value where mask holds.
    let (cond, a, b) = match ctx.op {
        Op::MaskedFill => (args.get(1), args.get(2), args.first()),
        _ => (args.first(), args.get(1), args.get(2)),
    };
    let (Some(cond), Some(a), Some(b)) = (cond, a, b) else {
        return Err(format!("'{}' needs three operands", ctx.op));
    };
    if let (Value::Tensor(c), Some(ops)) = (cond, f32_operands(ctx, &[a.clone(), b.clone()], DType::F32)) {
        if c.dtype() == DType::I1 {
            let r = match (&ops[0], &ops[1]) {
                (Operand::Tensor(x), Operand::Tensor(y)) => where3(c, x, y),
                (Operand::Tensor(x), Operand::Const(v)) => {
                    let v = *v;
                    zip_pair(c, x, &out_shape(&[c, x])?, move |m, p| if m { p } else { v })
                }
                (Operand::Const(v), Operand::Tensor(y)) => {
                    let v = *v;
                    zip_pair(c, y, &out_shape(&[c, y])?, move |m, q| if m { v } else { q })
                }
                _ => return Err("no tensor operand".into()),
            };
            return one(r?);
        }
    }
    let (c, a, b) = (tensor(cond)?.cast(DType::F64)?, tensor(a)?.cast(DType::F64)?, tensor(b)?.cast(DType::F64)?);
    let shape = out_shape(&[&c, &a, &b])?;
    one(zip_map::<f64, f64, 3>([&c, &a, &b], &shape, |[m, x, y]| if m != 0.0 { x } else { y })?.cast(ctx.out_dtype(0)?)?)
}

/// A bool mask and an f32 tensor of the same shape, combined by `f`.
fn zip_pair(mask: &Tensor, x: &Tensor, shape: &[usize], f: impl Fn(bool, f32) -> f32 + Sync) -> Result<Tensor, String> {
    // zip_map wants one element type; view the mask as f32 selectors.
    let m = mask.cast(DType::F32)?;
    zip_map::<f32, f32, 2>([&m, x], shape, |[s, p]| f(s != 0.0, p))
}

fn where3(c: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor, String> {
    let shape = out_shape(&[c, x, y])?;
    let m = c.cast(DType::F32)?;
    zip_map::<f32, f32, 3>([&m, x, y], &shape, |[s, p, q]| if s != 0.0 { p } else { q })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        for (x, want) in [(0.0, 0.0), (0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (-2.0, -0.995_322_265_018_952_7), (3.0, 0.999_977_909_503_001_4)] {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {} not {want}", erf(x));
            assert!((erf_f32(x as f32) as f64 - want).abs() < 2e-7, "erf_f32({x})");
        }
    }

    #[test]
    fn fast_f32_math_matches_libm() {
        let mut worst = (0.0f64, 0.0f64);
        // exp over its finite f32 range, tanh over everything interesting.
        for i in -17_400..=17_600 {
            let x = i as f32 * 0.005;
            let e = ((exp_f32(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            let t = (tanh_f32(x) as f64 - (x as f64).tanh()).abs();
            worst = (worst.0.max(e), worst.1.max(t));
        }
        assert!(worst.0 < 3e-7, "exp relative error {}", worst.0);
        assert!(worst.1 < 3e-7, "tanh absolute error {}", worst.1);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-100.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan() && tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(20.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn bitwise_not_of_bools_is_logical_not() {
        let (attrs, env) = (genie_plan::AttrDict::new(), crate::kernels::SymEnv::new());
        let ty = [genie_plan::Type::tensor(vec![genie_plan::Dim::Static(2)], DType::I1)];
        let ctx = Ctx { op: Op::BitwiseNot, attrs: &attrs, results: &ty, unused: &[], env: &env, buffers: &[] };
        let x = Value::Tensor(Tensor::from_f64(vec![2], DType::I1, vec![1.0, 0.0]).unwrap());
        let out = unary(&ctx, &[x]).unwrap();
        assert_eq!(crate::kernels::tref(&out[0]).unwrap().to_f64(), [0.0, 1.0]);
    }

    #[test]
    fn zip_map_broadcasts_strided_operands() {
        let a = Tensor::from_vec(vec![2, 3], vec![0f32, 1., 2., 3., 4., 5.]).unwrap();
        let at = a.permuted(&[1, 0]).unwrap();
        let b = Tensor::from_vec(vec![2], vec![10f32, 20.]).unwrap();
        let r = zip_map::<f32, f32, 2>([&at, &b], &[3, 2], |[x, y]| x + y).unwrap();
        assert_eq!(r.to_vec::<f32>().unwrap(), [10., 23., 11., 24., 12., 25.]);
        // Large enough to run in parallel.
        let big = Tensor::from_vec(vec![300, 300], (0..90_000).map(|i| i as f32).collect()).unwrap();
        let r = zip_map::<f32, f32, 1>([&big.permuted(&[1, 0]).unwrap()], &[300, 300], |[x]| x).unwrap();
        assert_eq!(r.to_vec::<f32>().unwrap()[301], 301.0);
        assert_eq!(r.to_vec::<f32>().unwrap()[1], 300.0);
    }
}
