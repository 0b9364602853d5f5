//! CPU kernels, one per `sem` op, looked up by name.
//!
//! Elementwise ops broadcast like PyTorch and compute in f64 (exact for the
//! supported integer range, and within rounding of PyTorch's f32 results);
//! the plan's result type decides the stored dtype. Matrix products go
//! through `matrixmultiply` (a tuned, blocked GEMM). Views are materialised.

use crate::tensor::{numel, strides, unsupported_dtype, Data, Tensor, Value};
use genie_ir::{AttrDict, Attribute, DType, Type};
use std::collections::HashMap;

/// Sizes bound to shape symbols for this call.
pub type SymEnv = HashMap<u32, i64>;

pub struct Ctx<'a> {
    pub op: &'a str,
    pub attrs: &'a AttrDict,
    pub results: Vec<&'a Type>,
    pub env: &'a SymEnv,
}

pub type Kernel = fn(&Ctx, &[Value]) -> Result<Vec<Value>, String>;
type R = Result<Vec<Value>, String>;

impl Ctx<'_> {
    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.attrs.get(name).map(|a| self.eval(a)).transpose()
    }

    fn req_int(&self, name: &str) -> Result<i64, String> {
        self.int(name)?.ok_or_else(|| format!("'{}' needs attribute '{name}'", self.op))
    }

    fn eval(&self, a: &Attribute) -> Result<i64, String> {
        match a {
            Attribute::Int(v, _) => Ok(*v),
            Attribute::Bool(b) => Ok(i64::from(*b)),
            Attribute::Sym(e) => e.eval(&|s| self.env.get(&s).copied()).ok_or_else(|| format!("size {e} has an unbound symbol")),
            other => Err(format!("expected an integer, got a {}", other.kind_name())),
        }
    }

    /// An int, or a list of ints (`dim = 1` or `dim = [0, 2]`).
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.attrs.get(name) {
            None => Ok(None),
            Some(Attribute::Array(items)) => items.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>().map(Some),
            Some(a) => Ok(Some(vec![self.eval(a)?])),
        }
    }

    fn float(&self, name: &str) -> Option<f64> {
        self.attrs.get(name).and_then(Attribute::as_float)
    }

    fn flag(&self, name: &str) -> bool {
        self.attrs.get(name).and_then(Attribute::as_bool).unwrap_or(false)
    }

    fn out_dtype(&self, i: usize) -> Result<DType, String> {
        self.results.get(i).and_then(|t| t.dtype()).ok_or_else(|| format!("'{}' result #{i} has no element type", self.op))
    }

    fn scalar_result(&self) -> bool {
        matches!(self.results.first(), Some(Type::Scalar(_)))
    }
}

fn norm_dim(d: i64, rank: usize) -> Result<usize, String> {
    let r = rank.max(1) as i64;
    let n = if d < 0 { d + r } else { d };
    if n < 0 || n >= r {
        return Err(format!("dim {d} out of range for rank {rank}"));
    }
    Ok(n as usize)
}

/// A value as a tensor (Python scalars become 0-d tensors).
fn tensor(v: &Value) -> Result<Tensor, String> {
    Ok(match v {
        Value::Tensor(t) => t.clone(),
        Value::Int(i) => Tensor { shape: vec![], data: Data::I64(vec![*i]) },
        Value::Float(f) => Tensor { shape: vec![], data: Data::F64(vec![*f]) },
        Value::Bool(b) => Tensor { shape: vec![], data: Data::Bool(vec![*b]) },
        Value::None => return Err("expected a tensor, got None".into()),
    })
}

fn tref(v: &Value) -> Result<&Tensor, String> {
    match v {
        Value::Tensor(t) => Ok(t),
        other => Err(format!("expected a tensor, got {other:?}")),
    }
}

fn one(t: Tensor) -> R {
    Ok(vec![Value::Tensor(t)])
}

fn scalar_value(v: f64, d: DType) -> Value {
    if d.is_float() {
        Value::Float(v)
    } else if d.is_bool() {
        Value::Bool(v != 0.0)
    } else {
        Value::Int(v as i64)
    }
}

pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
            let y = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
            match (x, y) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
            }
        })
        .collect()
}

/// Strides of `shape` (contiguous) viewed in the rank of `out`, 0 where broadcast.
fn bcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let s = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len()).map(|i| if i < lead || shape[i - lead] == 1 { 0 } else { s[i - lead] }).collect()
}

/// Source offsets, per input, of every output element in row-major order.
fn broadcast_offsets(out: &[usize], inputs: &[&[usize]]) -> Vec<Vec<usize>> {
    let st: Vec<Vec<usize>> = inputs.iter().map(|s| bcast_strides(s, out)).collect();
    let n = numel(out);
    let mut offs = vec![Vec::with_capacity(n); inputs.len()];
    let mut idx = vec![0usize; out.len()];
    let mut cur = vec![0usize; inputs.len()];
    for _ in 0..n {
        for (k, o) in offs.iter_mut().enumerate() {
            o.push(cur[k]);
        }
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            for k in 0..inputs.len() {
                cur[k] += st[k][d];
            }
            if idx[d] < out[d] {
                break;
            }
            for k in 0..inputs.len() {
                cur[k] -= st[k][d] * out[d];
            }
            idx[d] = 0;
        }
    }
    offs
}

/// Elementwise over broadcast operands, computing in f64.
fn elementwise(ctx: &Ctx, args: &[Value], f: impl Fn(&[f64]) -> f64) -> R {
    let d = ctx.out_dtype(0)?;
    if ctx.scalar_result() {
        let xs: Vec<f64> = args.iter().map(|a| tensor(a).map(|t| t.to_f64()[0])).collect::<Result<_, _>>()?;
        return Ok(vec![scalar_value(f(&xs), d)]);
    }
    let ts: Vec<Tensor> = args.iter().map(tensor).collect::<Result<_, _>>()?;
    let mut shape: Vec<usize> = vec![];
    for t in &ts {
        shape = broadcast_shapes(&shape, &t.shape)?;
    }
    let vals: Vec<Vec<f64>> = ts.iter().map(Tensor::to_f64).collect();
    let shapes: Vec<&[usize]> = ts.iter().map(|t| t.shape.as_slice()).collect();
    let offs = broadcast_offsets(&shape, &shapes);
    let mut xs = vec![0.0; ts.len()];
    let out: Vec<f64> = (0..numel(&shape))
        .map(|i| {
            for k in 0..ts.len() {
                xs[k] = vals[k][offs[k][i]];
            }
            f(&xs)
        })
        .collect();
    one(Tensor::from_f64(shape, d, out)?)
}

/// The error function: a Maclaurin series near 0, a continued fraction for
/// erfc further out; both agree with libm to ~1e-15.
fn erf(x: f64) -> f64 {
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

fn gelu(ctx: &Ctx, x: f64) -> f64 {
    if ctx.attrs.get("approximate").and_then(Attribute::as_str) == Some("tanh") {
        let k = (2.0 / std::f64::consts::PI).sqrt();
        0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
    } else {
        0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
    }
}

fn unary(ctx: &Ctx, args: &[Value]) -> R {
    let f: fn(f64) -> f64 = match ctx.op {
        "sem.neg" => |x| -x,
        "sem.abs" => f64::abs,
        "sem.exp" => f64::exp,
        "sem.expm1" => f64::exp_m1,
        "sem.log" => f64::ln,
        "sem.log1p" => f64::ln_1p,
        "sem.sqrt" => f64::sqrt,
        "sem.rsqrt" => |x| 1.0 / x.sqrt(),
        "sem.reciprocal" => |x| 1.0 / x,
        "sem.sin" => f64::sin,
        "sem.cos" => f64::cos,
        "sem.tanh" => f64::tanh,
        "sem.sigmoid" => |x| 1.0 / (1.0 + (-x).exp()),
        "sem.silu" => |x| x / (1.0 + (-x).exp()),
        "sem.relu" => |x| if x > 0.0 { x } else { 0.0 },
        "sem.erf" => erf,
        "sem.floor" => f64::floor,
        "sem.ceil" => f64::ceil,
        "sem.round" => f64::round_ties_even,
        "sem.trunc" => f64::trunc,
        "sem.sign" => |x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 },
        "sem.logical_not" => |x| if x == 0.0 { 1.0 } else { 0.0 },
        "sem.bitwise_not" => |x| !(x as i64) as f64,
        "sem.isnan" => |x| if x.is_nan() { 1.0 } else { 0.0 },
        "sem.hardsigmoid" => |x| (x + 3.0).clamp(0.0, 6.0) / 6.0,
        "sem.hardswish" => |x| x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        "sem.clone" | "sem.alias" | "sem.detach" | "sem.lift_fresh_copy" | "sem._to_copy" | "sem.convert_element_type" => |x| x,
        other => return Err(format!("no unary kernel for '{other}'")),
    };
    elementwise(ctx, args, |x| f(x[0]))
}

fn gelu_kernel(ctx: &Ctx, args: &[Value]) -> R {
    elementwise(ctx, &args[..1], |x| gelu(ctx, x[0]))
}

fn clamp_like(ctx: &Ctx, args: &[Value]) -> R {
    let (lo_name, hi_name, lo_default, hi_default) = match ctx.op {
        "sem.hardtanh" => ("min_val", "max_val", -1.0, 1.0),
        _ => ("min", "max", f64::NEG_INFINITY, f64::INFINITY),
    };
    let lo = ctx.float(lo_name).unwrap_or(lo_default);
    let hi = ctx.float(hi_name).unwrap_or(hi_default);
    elementwise(ctx, &args[..1], |x| if x[0].is_nan() { x[0] } else { x[0].max(lo).min(hi) })
}

fn leaky_relu(ctx: &Ctx, args: &[Value]) -> R {
    let slope = ctx.float("negative_slope").unwrap_or(0.01);
    elementwise(ctx, &args[..1], |x| if x[0] > 0.0 { x[0] } else { x[0] * slope })
}

fn floor_div(a: f64, b: f64) -> f64 {
    (a / b).floor()
}

fn binary(ctx: &Ctx, args: &[Value]) -> R {
    let alpha = ctx.float("alpha").unwrap_or(1.0);
    let int_result = ctx.out_dtype(0).map(|d| d.is_int()).unwrap_or(false);
    let rounding = ctx.attrs.get("rounding_mode").and_then(Attribute::as_str).map(str::to_string);
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let f: Box<dyn Fn(f64, f64) -> f64> = match ctx.op {
        "sem.add" => Box::new(move |x, y| x + alpha * y),
        "sem.sub" => Box::new(move |x, y| x - alpha * y),
        "sem.mul" => Box::new(|x, y| x * y),
        "sem.div" => match rounding.as_deref() {
            Some("floor") => Box::new(floor_div),
            Some("trunc") => Box::new(|x, y| (x / y).trunc()),
            _ => Box::new(|x, y| x / y),
        },
        "sem.floor_divide" => Box::new(floor_div),
        "sem.remainder" => Box::new(move |x, y| if int_result || y != 0.0 { x - y * (x / y).floor() } else { f64::NAN }),
        "sem.fmod" => Box::new(|x, y| x % y),
        "sem.pow" => Box::new(f64::powf),
        "sem.atan2" => Box::new(f64::atan2),
        "sem.maximum" => Box::new(|x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) }),
        "sem.minimum" => Box::new(|x, y| if x.is_nan() || y.is_nan() { f64::NAN } else { x.min(y) }),
        "sem.eq" => Box::new(move |x, y| b(x == y)),
        "sem.ne" => Box::new(move |x, y| b(x != y)),
        "sem.lt" => Box::new(move |x, y| b(x < y)),
        "sem.le" => Box::new(move |x, y| b(x <= y)),
        "sem.gt" => Box::new(move |x, y| b(x > y)),
        "sem.ge" => Box::new(move |x, y| b(x >= y)),
        "sem.logical_and" => Box::new(move |x, y| b(x != 0.0 && y != 0.0)),
        "sem.logical_or" => Box::new(move |x, y| b(x != 0.0 || y != 0.0)),
        "sem.logical_xor" => Box::new(move |x, y| b((x != 0.0) != (y != 0.0))),
        "sem.bitwise_and" => Box::new(|x, y| ((x as i64) & (y as i64)) as f64),
        "sem.bitwise_or" => Box::new(|x, y| ((x as i64) | (y as i64)) as f64),
        "sem.bitwise_xor" => Box::new(|x, y| ((x as i64) ^ (y as i64)) as f64),
        other => return Err(format!("no binary kernel for '{other}'")),
    };
    elementwise(ctx, args, |x| f(x[0], x[1]))
}

fn where_(ctx: &Ctx, args: &[Value]) -> R {
    elementwise(ctx, args, |x| if x[0] != 0.0 { x[1] } else { x[2] })
}

fn masked_fill(ctx: &Ctx, args: &[Value]) -> R {
    elementwise(ctx, args, |x| if x[1] != 0.0 { x[2] } else { x[0] })
}

// ----- reductions ------------------------------------------------------------------

/// Splits a shape around the reduced dims: (kept shape, reduced flags).
fn reduced_dims(ctx: &Ctx, rank: usize, name: &str) -> Result<Vec<bool>, String> {
    let mut red = vec![false; rank];
    match ctx.ints(name)? {
        Some(ds) if !ds.is_empty() => {
            for d in ds {
                red[norm_dim(d, rank)?] = true;
            }
        }
        _ => red.iter_mut().for_each(|r| *r = true),
    }
    Ok(red)
}

/// Groups elements by output position for a reduction; returns (output
/// shape with keepdim applied, groups of input values).
fn reduce_groups(t: &Tensor, red: &[bool], keepdim: bool) -> (Vec<usize>, Vec<Vec<f64>>) {
    let vals = t.to_f64();
    let kept: Vec<usize> = t.shape.iter().zip(red).map(|(&s, &r)| if r { 1 } else { s }).collect();
    let kept_strides = strides(&kept);
    let in_strides = strides(&t.shape);
    let mut groups = vec![Vec::new(); numel(&kept)];
    for (i, v) in vals.into_iter().enumerate() {
        let mut o = 0;
        for d in 0..t.shape.len() {
            let idx = (i / in_strides[d]) % t.shape[d].max(1);
            if !red[d] {
                o += idx * kept_strides[d];
            }
        }
        groups[o].push(v);
    }
    let shape = if keepdim { kept } else { t.shape.iter().zip(red).filter(|(_, &r)| !r).map(|(&s, _)| s).collect() };
    (shape, groups)
}

fn reduce(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let red = reduced_dims(ctx, t.shape.len(), "dim")?;
    let (shape, groups) = reduce_groups(t, &red, ctx.flag("keepdim"));
    let correction = ctx.float("correction").unwrap_or(1.0);
    let f: Box<dyn Fn(&[f64]) -> f64> = match ctx.op {
        "sem.sum" => Box::new(|g| g.iter().sum()),
        "sem.mean" => Box::new(|g| g.iter().sum::<f64>() / g.len() as f64),
        "sem.prod" => Box::new(|g| g.iter().product()),
        "sem.amax" => Box::new(|g| g.iter().copied().fold(f64::NEG_INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })),
        "sem.amin" => Box::new(|g| g.iter().copied().fold(f64::INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) })),
        "sem.any" => Box::new(|g| if g.iter().any(|&x| x != 0.0) { 1.0 } else { 0.0 }),
        "sem.all" => Box::new(|g| if g.iter().all(|&x| x != 0.0) { 1.0 } else { 0.0 }),
        "sem.logsumexp" => Box::new(|g| {
            let m = g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m + g.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }),
        "sem.var" => Box::new(move |g| {
            let n = g.len() as f64;
            let mean = g.iter().sum::<f64>() / n;
            g.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - correction).max(0.0)
        }),
        other => return Err(format!("no reduction kernel for '{other}'")),
    };
    let out: Vec<f64> = groups.iter().map(|g| f(g)).collect();
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

fn softmax(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let d = norm_dim(ctx.req_int("dim")?, rank)?;
    let vals = t.to_f64();
    let size = t.shape.get(d).copied().unwrap_or(1);
    let inner: usize = t.shape[d + 1..].iter().product();
    let outer = numel(&t.shape) / (size * inner).max(1);
    let mut out = vec![0.0; vals.len()];
    let log = ctx.op == "sem._log_softmax";
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| o * size * inner + k * inner + i;
            let m = (0..size).map(|k| vals[at(k)]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..size).map(|k| (vals[at(k)] - m).exp()).sum();
            for k in 0..size {
                out[at(k)] = if log { vals[at(k)] - m - sum.ln() } else { (vals[at(k)] - m).exp() / sum };
            }
        }
    }
    one(Tensor::from_f64(t.shape.clone(), ctx.out_dtype(0)?, out)?)
}

fn cumsum(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let vals = t.to_f64();
    let size = t.shape.get(d).copied().unwrap_or(1);
    let inner: usize = t.shape.get(d + 1..).map_or(1, |s| s.iter().product());
    let mut out = vals.clone();
    for o in 0..numel(&t.shape) / (size * inner).max(1) {
        for i in 0..inner {
            for k in 1..size {
                let at = o * size * inner + k * inner + i;
                out[at] += out[at - inner];
            }
        }
    }
    one(Tensor::from_f64(t.shape.clone(), ctx.out_dtype(0)?, out)?)
}

fn arg_reduce(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let keep = ctx.flag("keepdim");
    let pick_max = matches!(ctx.op, "sem.argmax" | "sem.max_dim");
    let (t, dim) = match ctx.int("dim")? {
        Some(d) => (t.clone(), norm_dim(d, t.shape.len())?),
        None => (t.clone().reshaped(vec![t.numel()])?, 0),
    };
    let mut red = vec![false; t.shape.len()];
    if !red.is_empty() {
        red[dim] = true;
    }
    let (shape, groups) = reduce_groups(&t, &red, keep && ctx.int("dim")?.is_some());
    let mut values = Vec::new();
    let mut indices = Vec::new();
    for g in &groups {
        let mut best = 0;
        for (i, &x) in g.iter().enumerate() {
            let better = if pick_max { x > g[best] } else { x < g[best] };
            if x.is_nan() || (better && !g[best].is_nan()) {
                best = i;
                if x.is_nan() {
                    break;
                }
            }
        }
        values.push(g.get(best).copied().unwrap_or(f64::NAN));
        indices.push(best as f64);
    }
    let shape = if ctx.int("dim")?.is_none() && keep { vec![1; tref(&args[0])?.shape.len()] } else { shape };
    if matches!(ctx.op, "sem.argmax" | "sem.argmin") {
        return one(Tensor::from_f64(shape, DType::I64, indices)?);
    }
    Ok(vec![
        Value::Tensor(Tensor::from_f64(shape.clone(), ctx.out_dtype(0)?, values)?),
        Value::Tensor(Tensor::from_f64(shape, DType::I64, indices)?),
    ])
}

// ----- linear algebra ----------------------------------------------------------------

/// C[m,n] = A[m,k] B[k,n] for row-major slices.
fn gemm(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, dtype: DType) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    if dtype == DType::F32 {
        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
        let mut c32 = vec![0.0f32; m * n];
        // SAFETY: the slices hold m*k, k*n and m*n elements with the row-major
        // strides passed here, as matrixmultiply requires.
        unsafe {
            matrixmultiply::sgemm(m, k, n, 1.0, a32.as_ptr(), k as isize, 1, b32.as_ptr(), n as isize, 1, 0.0, c32.as_mut_ptr(), n as isize, 1);
        }
        return c32.into_iter().map(|x| x as f64).collect();
    }
    // SAFETY: as above, for f64.
    unsafe {
        matrixmultiply::dgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 0.0, c.as_mut_ptr(), n as isize, 1);
    }
    c
}

fn matmul_batched(ctx: &Ctx, a: &Tensor, b: &Tensor, batch: usize) -> Result<Vec<f64>, String> {
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
    let (k2, n) = (b.shape[rb - 2], b.shape[rb - 1]);
    if k != k2 {
        return Err(format!("'{}': inner dims {k} and {k2} differ", ctx.op));
    }
    let d = ctx.out_dtype(0)?;
    let (av, bv) = (a.to_f64(), b.to_f64());
    let mut out = Vec::with_capacity(batch * m * n);
    for i in 0..batch {
        out.extend(gemm(&av[i * m * k..(i + 1) * m * k], &bv[i * k * n..(i + 1) * k * n], m, k, n, d));
    }
    Ok(out)
}

fn mm(ctx: &Ctx, args: &[Value]) -> R {
    let (a, b) = (tref(&args[0])?, tref(&args[1])?);
    if a.shape.len() != 2 || b.shape.len() != 2 {
        return Err("mm needs 2-d operands".into());
    }
    let out = matmul_batched(ctx, a, b, 1)?;
    one(Tensor::from_f64(vec![a.shape[0], b.shape[1]], ctx.out_dtype(0)?, out)?)
}

fn bmm(ctx: &Ctx, args: &[Value]) -> R {
    let (a, b) = (tref(&args[0])?, tref(&args[1])?);
    if a.shape.len() != 3 || b.shape.len() != 3 || a.shape[0] != b.shape[0] {
        return Err("bmm needs 3-d operands with equal batch".into());
    }
    let out = matmul_batched(ctx, a, b, a.shape[0])?;
    one(Tensor::from_f64(vec![a.shape[0], a.shape[1], b.shape[2]], ctx.out_dtype(0)?, out)?)
}

fn addmm(ctx: &Ctx, args: &[Value]) -> R {
    let bias = tensor(&args[0])?;
    let (a, b) = (tref(&args[1])?, tref(&args[2])?);
    let prod = matmul_batched(ctx, a, b, 1)?;
    let shape = vec![a.shape[0], b.shape[1]];
    let (beta, alpha) = (ctx.float("beta").unwrap_or(1.0), ctx.float("alpha").unwrap_or(1.0));
    let offs = broadcast_offsets(&shape, &[&bias.shape]);
    let bv = bias.to_f64();
    let out: Vec<f64> = prod.iter().enumerate().map(|(i, &p)| beta * bv[offs[0][i]] + alpha * p).collect();
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

// ----- shapes and data movement ---------------------------------------------------------

fn target_shape(ctx: &Ctx, numel_in: usize, name: &str) -> Result<Vec<usize>, String> {
    let dims = ctx.ints(name)?.ok_or_else(|| format!("'{}' needs attribute '{name}'", ctx.op))?;
    let known: i64 = dims.iter().filter(|&&d| d != -1).product();
    dims.iter()
        .map(|&d| match d {
            -1 if known > 0 => Ok(numel_in / known as usize),
            -1 => Ok(0),
            d if d >= 0 => Ok(d as usize),
            d => Err(format!("bad size {d}")),
        })
        .collect()
}

fn view(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let name = if ctx.op == "sem.reshape" { "shape" } else { "size" };
    let shape = target_shape(ctx, t.numel(), name)?;
    one(t.clone().reshaped(shape)?)
}

/// Element index map for a permutation of dims.
fn permuted(t: &Tensor, perm: &[usize]) -> Tensor {
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape[p]).collect();
    let st = strides(&t.shape);
    let src: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let offs = broadcast_offsets_with(&shape, &src);
    t.gather(shape, offs.into_iter())
}

/// Offsets for an output shape walking an input with explicit strides.
fn broadcast_offsets_with(shape: &[usize], st: &[usize]) -> Vec<usize> {
    let n = numel(shape);
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    let mut cur = 0usize;
    for _ in 0..n {
        out.push(cur);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            cur += st[d];
            if idx[d] < shape[d] {
                break;
            }
            cur -= st[d] * shape[d];
            idx[d] = 0;
        }
    }
    out
}

fn permute(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let perm = if ctx.op == "sem.transpose" {
        let (a, b) = (norm_dim(ctx.req_int("dim0")?, rank)?, norm_dim(ctx.req_int("dim1")?, rank)?);
        let mut p: Vec<usize> = (0..rank).collect();
        p.swap(a, b);
        p
    } else {
        ctx.ints("dims")?.unwrap_or_default().into_iter().map(|d| norm_dim(d, rank)).collect::<Result<_, _>>()?
    };
    one(permuted(t, &perm))
}

fn expand(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let sizes = ctx.ints("size")?.unwrap_or_default();
    let lead = sizes.len() - t.shape.len();
    let shape: Vec<usize> = sizes.iter().enumerate().map(|(i, &s)| if s == -1 { t.shape[i - lead] } else { s as usize }).collect();
    let offs = broadcast_offsets(&shape, &[&t.shape]);
    one(t.gather(shape, offs.into_iter().next().unwrap_or_default().into_iter()))
}

fn unsqueeze(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let mut shape = t.shape.clone();
    shape.insert(norm_dim(ctx.req_int("dim")?, shape.len() + 1)?, 1);
    one(t.clone().reshaped(shape)?)
}

fn squeeze(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let red = reduced_dims(ctx, t.shape.len(), "dim")?;
    let shape = t.shape.iter().zip(&red).filter(|(&s, &r)| !(r && s == 1)).map(|(&s, _)| s).collect();
    one(t.clone().reshaped(shape)?)
}

fn slice_range(ctx: &Ctx, size: usize) -> Result<(usize, usize, usize), String> {
    let clamp = |v: i64| -> usize {
        let v = if v < 0 { v + size as i64 } else { v };
        v.clamp(0, size as i64) as usize
    };
    let start = clamp(ctx.int("start")?.unwrap_or(0));
    let end = clamp(ctx.int("end")?.unwrap_or(i64::MAX).min(i64::MAX / 2));
    let step = ctx.int("step")?.unwrap_or(1).max(1) as usize;
    Ok((start, end.max(start), step))
}

fn slice(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let (start, end, step) = slice_range(ctx, t.shape[d])?;
    let mut shape = t.shape.clone();
    shape[d] = (end - start).div_ceil(step);
    let st = strides(&t.shape);
    let mut walk = st.clone();
    walk[d] *= step;
    let base = start * st[d];
    let offs = broadcast_offsets_with(&shape, &walk);
    one(t.gather(shape, offs.into_iter().map(|o| o + base)))
}

fn select(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let i = ctx.req_int("index")?;
    let i = if i < 0 { i + t.shape[d] as i64 } else { i } as usize;
    let st = strides(&t.shape);
    let mut shape = t.shape.clone();
    shape.remove(d);
    let mut walk = st.clone();
    walk.remove(d);
    let offs = broadcast_offsets_with(&shape, &walk);
    one(t.gather(shape, offs.into_iter().map(|o| o + i * st[d])))
}

fn cat(ctx: &Ctx, args: &[Value]) -> R {
    let ts: Vec<&Tensor> = args.iter().map(tref).collect::<Result<_, _>>()?;
    let ts: Vec<&Tensor> = ts.iter().copied().filter(|t| !(t.shape == [0] && ts.iter().any(|u| u.shape.len() != 1))).collect();
    let first = ts.first().ok_or("cat of nothing")?;
    let d = norm_dim(ctx.req_int("dim")?, first.shape.len())?;
    let mut shape = first.shape.clone();
    shape[d] = ts.iter().map(|t| t.shape[d]).sum();
    let outer: usize = shape[..d].iter().product();
    let mut out = Vec::with_capacity(numel(&shape));
    let vals: Vec<Vec<f64>> = ts.iter().map(|t| t.to_f64()).collect();
    for o in 0..outer {
        for (t, v) in ts.iter().zip(&vals) {
            let chunk: usize = t.shape[d..].iter().product();
            out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
        }
    }
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

fn split(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.int("dim")?.unwrap_or(0), t.shape.len())?;
    let n = t.shape[d];
    let sizes: Vec<usize> = match ctx.op {
        "sem.split" => {
            let s = ctx.req_int("split_size")?.max(1) as usize;
            if n == 0 { vec![0] } else { (0..n).step_by(s).map(|i| s.min(n - i)).collect() }
        }
        _ => ctx.ints("split_sizes")?.unwrap_or_default().into_iter().map(|s| s as usize).collect(),
    };
    let st = strides(&t.shape);
    let mut start = 0;
    let mut out = Vec::new();
    for s in sizes {
        let mut shape = t.shape.clone();
        shape[d] = s;
        let offs = broadcast_offsets_with(&shape, &st);
        out.push(Value::Tensor(t.gather(shape, offs.into_iter().map(|o| o + start * st[d]))));
        start += s;
    }
    Ok(out)
}

fn embedding(_ctx: &Ctx, args: &[Value]) -> R {
    let (w, idx) = (tref(&args[0])?, tref(&args[1])?);
    let dim = w.shape[1];
    let rows = idx.to_i64();
    let mut offs = Vec::with_capacity(rows.len() * dim);
    for &r in &rows {
        if r < 0 || r as usize >= w.shape[0] {
            return Err(format!("embedding index {r} out of range for {} rows", w.shape[0]));
        }
        offs.extend((0..dim).map(|j| r as usize * dim + j));
    }
    let mut shape = idx.shape.clone();
    shape.push(dim);
    one(w.gather(shape, offs.into_iter()))
}

fn index_select(ctx: &Ctx, args: &[Value]) -> R {
    let (t, idx) = (tref(&args[0])?, tref(&args[1])?);
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let rows: Vec<usize> = idx.to_i64().into_iter().map(|r| if r < 0 { (r + t.shape[d] as i64) as usize } else { r as usize }).collect();
    let mut shape = t.shape.clone();
    shape[d] = rows.len();
    let inner: usize = t.shape[d + 1..].iter().product();
    let outer: usize = t.shape[..d].iter().product();
    let mut offs = Vec::new();
    for o in 0..outer {
        for &r in &rows {
            offs.extend((0..inner).map(|i| (o * t.shape[d] + r) * inner + i));
        }
    }
    one(t.gather(shape, offs.into_iter()))
}

fn gather(ctx: &Ctx, args: &[Value]) -> R {
    let (t, idx) = (tref(&args[0])?, tref(&args[1])?);
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let st = strides(&t.shape);
    let ist = strides(&idx.shape);
    let rows = idx.to_i64();
    let mut offs = Vec::with_capacity(rows.len());
    for (i, &r) in rows.iter().enumerate() {
        let r = if r < 0 { r + t.shape[d] as i64 } else { r };
        if r < 0 || r as usize >= t.shape[d] {
            return Err(format!("gather index {r} out of range for size {}", t.shape[d]));
        }
        let mut off = 0;
        for k in 0..idx.shape.len() {
            let pos = (i / ist[k]) % idx.shape[k];
            off += if k == d { r as usize } else { pos } * st[k];
        }
        offs.push(off);
    }
    one(t.gather(idx.shape.clone(), offs.into_iter()))
}

/// Advanced indexing with integer index tensors (`None` skips a dim).
fn index(_ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let idx: Vec<Option<Tensor>> = args[1..]
        .iter()
        .map(|a| match a {
            Value::None => Ok(None),
            v => tensor(v).map(Some),
        })
        .collect::<Result<_, _>>()?;
    if idx.iter().flatten().any(|i| i.dtype() == DType::I1) {
        return Err("boolean-mask indexing is not supported by the CPU backend yet".into());
    }
    let positions: Vec<usize> = idx.iter().enumerate().filter(|(_, i)| i.is_some()).map(|(p, _)| p).collect();
    let mut bshape: Vec<usize> = vec![];
    for i in idx.iter().flatten() {
        bshape = broadcast_shapes(&bshape, &i.shape)?;
    }
    let shapes: Vec<&[usize]> = idx.iter().flatten().map(|i| i.shape.as_slice()).collect();
    let boffs = broadcast_offsets(&bshape, &shapes);
    let ivals: Vec<Vec<i64>> = idx.iter().flatten().map(Tensor::to_i64).collect();
    let rest: Vec<usize> = (0..t.shape.len()).filter(|d| !positions.contains(d)).collect();
    let adjacent = positions.windows(2).all(|w| w[1] == w[0] + 1);
    let first = positions.first().copied().unwrap_or(0);
    let (before, after): (Vec<usize>, Vec<usize>) = if adjacent { rest.iter().partition(|&&d| d < first) } else { (vec![], rest.clone()) };
    let mut shape: Vec<usize> = before.iter().map(|&d| t.shape[d]).collect();
    shape.extend(&bshape);
    shape.extend(after.iter().map(|&d| t.shape[d]));
    let st = strides(&t.shape);
    let nb = numel(&bshape);
    let before_n: usize = before.iter().map(|&d| t.shape[d]).product();
    let after_n: usize = after.iter().map(|&d| t.shape[d]).product();
    let pos_of = |dims: &[usize], mut lin: usize| -> usize {
        let mut off = 0;
        for &d in dims.iter().rev() {
            off += (lin % t.shape[d]) * st[d];
            lin /= t.shape[d];
        }
        off
    };
    let mut offs = Vec::with_capacity(before_n * nb * after_n);
    for b in 0..before_n {
        for j in 0..nb {
            let mut base = pos_of(&before, b);
            for (k, &p) in positions.iter().enumerate() {
                let v = ivals[k][boffs[k][j]];
                let v = if v < 0 { v + t.shape[p] as i64 } else { v };
                if v < 0 || v as usize >= t.shape[p] {
                    return Err(format!("index {v} out of range for dim {p} of size {}", t.shape[p]));
                }
                base += v as usize * st[p];
            }
            for a in 0..after_n {
                offs.push(base + pos_of(&after, a));
            }
        }
    }
    one(t.gather(shape, offs.into_iter()))
}

fn full(ctx: &Ctx, args: &[Value]) -> R {
    let d = ctx.out_dtype(0)?;
    let shape: Vec<usize> = match ctx.op {
        "sem.full_like" | "sem.fill" => tref(&args[0])?.shape.clone(),
        _ => ctx.ints("size")?.unwrap_or_default().into_iter().map(|s| s as usize).collect(),
    };
    let value = match ctx.op {
        "sem.fill" => tensor(&args[1])?.to_f64()[0],
        "sem.empty" => 0.0,
        _ => ctx.float("fill_value").or_else(|| ctx.attrs.get("fill_value").and_then(Attribute::as_bool).map(f64::from)).unwrap_or(0.0),
    };
    let n = numel(&shape);
    one(Tensor::from_f64(shape, d, vec![value; n])?)
}

fn scalar_tensor(ctx: &Ctx, args: &[Value]) -> R {
    let v = tensor(&args[0])?.to_f64()[0];
    one(Tensor::from_f64(vec![], ctx.out_dtype(0)?, vec![v])?)
}

fn arange(ctx: &Ctx, _args: &[Value]) -> R {
    let start = ctx.int("start")?.unwrap_or(0);
    let end = ctx.req_int("end")?;
    let step = ctx.int("step")?.unwrap_or(1);
    if step == 0 {
        return Err("arange step is zero".into());
    }
    let mut v = Vec::new();
    let mut x = start;
    while (step > 0 && x < end) || (step < 0 && x > end) {
        v.push(x as f64);
        x += step;
    }
    one(Tensor::from_f64(vec![v.len()], ctx.out_dtype(0)?, v)?)
}

fn layer_norm(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let norm = ctx.ints("normalized_shape")?.unwrap_or_default();
    let eps = ctx.float("eps").unwrap_or(1e-5);
    let inner: usize = norm.iter().map(|&n| n as usize).product();
    let outer = x.numel() / inner.max(1);
    let w = match &args.get(1) {
        Some(Value::Tensor(t)) => Some(t.to_f64()),
        _ => None,
    };
    let b = match &args.get(2) {
        Some(Value::Tensor(t)) => Some(t.to_f64()),
        _ => None,
    };
    let v = x.to_f64();
    let mut out = vec![0.0; v.len()];
    let (mut means, mut rstds) = (Vec::with_capacity(outer), Vec::with_capacity(outer));
    for o in 0..outer {
        let row = &v[o * inner..(o + 1) * inner];
        let mean = row.iter().sum::<f64>() / inner as f64;
        let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / inner as f64;
        let rstd = 1.0 / (var + eps).sqrt();
        for i in 0..inner {
            let mut y = (row[i] - mean) * rstd;
            if let Some(w) = &w {
                y *= w[i];
            }
            if let Some(b) = &b {
                y += b[i];
            }
            out[o * inner + i] = y;
        }
        means.push(mean);
        rstds.push(rstd);
    }
    let lead = x.shape.len() - norm.len();
    let mut stat_shape = x.shape[..lead].to_vec();
    stat_shape.extend(std::iter::repeat_n(1, norm.len()));
    Ok(vec![
        Value::Tensor(Tensor::from_f64(x.shape.clone(), ctx.out_dtype(0)?, out)?),
        Value::Tensor(Tensor::from_f64(stat_shape.clone(), ctx.out_dtype(1)?, means)?),
        Value::Tensor(Tensor::from_f64(stat_shape, ctx.out_dtype(2)?, rstds)?),
    ])
}

fn pair(ctx: &Ctx, name: &str, default: usize) -> Result<[usize; 2], String> {
    let v = ctx.ints(name)?.unwrap_or_default();
    let get = |i: usize| match v.len() {
        0 => Ok(default),
        1 => usize::try_from(v[0]).map_err(|_| format!("negative {name}")),
        _ => usize::try_from(v[i]).map_err(|_| format!("negative {name}")),
    };
    Ok([get(0)?, get(1)?])
}

/// 2-d convolution: per sample and group, an im2col matrix times the
/// group's weights (one GEMM).
fn convolution(ctx: &Ctx, args: &[Value]) -> R {
    let (x, w) = (tref(&args[0])?, tref(&args[1])?);
    if x.shape.len() != 4 || w.shape.len() != 4 {
        return Err("the CPU backend runs 2-d convolutions only".into());
    }
    if ctx.flag("transposed") {
        return Err("transposed convolutions are not supported by the CPU backend yet".into());
    }
    let groups = ctx.int("groups")?.unwrap_or(1).max(1) as usize;
    let [sh, sw] = pair(ctx, "stride", 1)?;
    let [ph, pw] = pair(ctx, "padding", 0)?;
    let [dh, dw] = pair(ctx, "dilation", 1)?;
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if cg * groups != c || o % groups != 0 {
        return Err(format!("weight {:?} does not fit input {:?} with {groups} groups", w.shape, x.shape));
    }
    let ho = (h + 2 * ph).checked_sub(dh * (kh - 1) + 1).ok_or("kernel larger than input")? / sh + 1;
    let wo = (wd + 2 * pw).checked_sub(dw * (kw - 1) + 1).ok_or("kernel larger than input")? / sw + 1;
    let og = o / groups;
    let d = ctx.out_dtype(0)?;
    let (xv, wv) = (x.to_f64(), w.to_f64());
    let bias = match args.get(2) {
        Some(Value::Tensor(b)) => Some(b.to_f64()),
        _ => None,
    };
    let k = cg * kh * kw;
    let mut out = vec![0.0; n * o * ho * wo];
    let mut col = vec![0.0; k * ho * wo];
    for ni in 0..n {
        for g in 0..groups {
            for ci in 0..cg {
                for a in 0..kh {
                    for b in 0..kw {
                        let row = (ci * kh + a) * kw + b;
                        for y in 0..ho {
                            for xx in 0..wo {
                                let iy = (y * sh + a * dh) as isize - ph as isize;
                                let ix = (xx * sw + b * dw) as isize - pw as isize;
                                col[row * ho * wo + y * wo + xx] = if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    xv[((ni * c + g * cg + ci) * h + iy as usize) * wd + ix as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                    }
                }
            }
            let wg = &wv[g * og * k..(g + 1) * og * k];
            let prod = gemm(wg, &col, og, k, ho * wo, d);
            let base = (ni * o + g * og) * ho * wo;
            out[base..base + og * ho * wo].copy_from_slice(&prod);
        }
        if let Some(b) = &bias {
            for oc in 0..o {
                for v in &mut out[(ni * o + oc) * ho * wo..(ni * o + oc + 1) * ho * wo] {
                    *v += b[oc];
                }
            }
        }
    }
    one(Tensor::from_f64(vec![n, o, ho, wo], d, out)?)
}

fn batch_norm_inference(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let param = |i: usize| match args.get(i) {
        Some(Value::Tensor(t)) => Some(t.to_f64()),
        _ => None,
    };
    let (w, b) = (param(1), param(2));
    let (mean, var) = (tref(&args[3])?.to_f64(), tref(&args[4])?.to_f64());
    let eps = ctx.float("eps").unwrap_or(1e-5);
    let c = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let v = x.to_f64();
    let out: Vec<f64> = v
        .iter()
        .enumerate()
        .map(|(i, &val)| {
            let ch = (i / inner) % c;
            let mut y = (val - mean[ch]) / (var[ch] + eps).sqrt();
            if let Some(w) = &w {
                y *= w[ch];
            }
            if let Some(b) = &b {
                y += b[ch];
            }
            y
        })
        .collect();
    Ok(vec![
        Value::Tensor(Tensor::from_f64(x.shape.clone(), ctx.out_dtype(0)?, out)?),
        Value::Tensor(Tensor::from_f64(vec![0], ctx.out_dtype(1)?, vec![])?),
        Value::Tensor(Tensor::from_f64(vec![0], ctx.out_dtype(2)?, vec![])?),
    ])
}

/// Output length of a pooling window sweep, as PyTorch computes it.
fn pool_len(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let span = (n + 2 * p) as i64 - (d * (k - 1)) as i64 - 1;
    let mut o = if ceil { (span + s as i64 - 1).div_euclid(s as i64) + 1 } else { span.div_euclid(s as i64) + 1 };
    if ceil && (o - 1) * s as i64 >= (n + p) as i64 {
        o -= 1;
    }
    o.max(0) as usize
}

fn pool2d(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let r = x.shape.len();
    if r < 3 {
        return Err("pooling needs an input of rank 3 or 4".into());
    }
    let [kh, kw] = pair(ctx, "kernel_size", 1)?;
    let stride = ctx.ints("stride")?.filter(|s| !s.is_empty());
    let [sh, sw] = if stride.is_some() { pair(ctx, "stride", 1)? } else { [kh, kw] };
    let [ph, pw] = pair(ctx, "padding", 0)?;
    let is_max = ctx.op == "sem.max_pool2d_with_indices";
    let [dh, dw] = if is_max { pair(ctx, "dilation", 1)? } else { [1, 1] };
    let ceil = ctx.flag("ceil_mode");
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let (ho, wo) = (pool_len(h, kh, sh, ph, dh, ceil), pool_len(w, kw, sw, pw, dw, ceil));
    let planes = x.numel() / (h * w).max(1);
    let v = x.to_f64();
    let include_pad = ctx.attrs.get("count_include_pad").and_then(Attribute::as_bool).unwrap_or(true);
    let divisor = ctx.int("divisor_override")?;
    let (mut out, mut idx) = (Vec::with_capacity(planes * ho * wo), Vec::new());
    for p in 0..planes {
        let plane = &v[p * h * w..(p + 1) * h * w];
        for y in 0..ho {
            for xx in 0..wo {
                let (y0, x0) = ((y * sh) as isize - ph as isize, (xx * sw) as isize - pw as isize);
                if is_max {
                    let (mut best, mut at) = (f64::NEG_INFINITY, 0usize);
                    for a in 0..kh {
                        for b in 0..kw {
                            let (iy, ix) = (y0 + (a * dh) as isize, x0 + (b * dw) as isize);
                            if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                continue;
                            }
                            let i = iy as usize * w + ix as usize;
                            if plane[i] > best || plane[i].is_nan() {
                                best = plane[i];
                                at = i;
                            }
                        }
                    }
                    out.push(best);
                    idx.push(at as f64);
                } else {
                    let (y1, x1) = ((y0 + kh as isize).min((h + ph) as isize), (x0 + kw as isize).min((w + pw) as isize));
                    let pool_size = ((y1 - y0) * (x1 - x0)) as f64;
                    let (ya, xa, yb, xb) = (y0.max(0), x0.max(0), y1.min(h as isize), x1.min(w as isize));
                    let mut sum = 0.0;
                    for iy in ya..yb {
                        for ix in xa..xb {
                            sum += plane[iy as usize * w + ix as usize];
                        }
                    }
                    let count = match divisor {
                        Some(d) => d as f64,
                        None if include_pad => pool_size,
                        None => ((yb - ya) * (xb - xa)) as f64,
                    };
                    out.push(sum / count);
                }
            }
        }
    }
    let mut shape = x.shape.clone();
    shape[r - 2] = ho;
    shape[r - 1] = wo;
    let mut res = vec![Value::Tensor(Tensor::from_f64(shape.clone(), ctx.out_dtype(0)?, out)?)];
    if is_max {
        res.push(Value::Tensor(Tensor::from_f64(shape, DType::I64, idx)?));
    }
    Ok(res)
}

fn adaptive_avg_pool2d(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let r = x.shape.len();
    let [oh, ow] = pair(ctx, "output_size", 1)?;
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let planes = x.numel() / (h * w).max(1);
    let v = x.to_f64();
    let mut out = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        for y in 0..oh {
            let (y0, y1) = (y * h / oh, ((y + 1) * h).div_ceil(oh));
            for xx in 0..ow {
                let (x0, x1) = (xx * w / ow, ((xx + 1) * w).div_ceil(ow));
                let mut sum = 0.0;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        sum += v[p * h * w + iy * w + ix];
                    }
                }
                out.push(sum / ((y1 - y0) * (x1 - x0)) as f64);
            }
        }
    }
    let mut shape = x.shape.clone();
    shape[r - 2] = oh;
    shape[r - 1] = ow;
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

fn tri(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let k = ctx.int("diagonal")?.unwrap_or(0);
    let r = t.shape.len();
    let (rows, cols) = (t.shape[r - 2], t.shape[r - 1]);
    let lower = ctx.op == "sem.tril";
    let v: Vec<f64> = t
        .to_f64()
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            let (row, col) = ((i / cols) % rows, i % cols);
            let keep = if lower { (col as i64) - (row as i64) <= k } else { (col as i64) - (row as i64) >= k };
            if keep { x } else { 0.0 }
        })
        .collect();
    one(Tensor::from_f64(t.shape.clone(), ctx.out_dtype(0)?, v)?)
}

fn constant(ctx: &Ctx, _args: &[Value]) -> R {
    let d = ctx.out_dtype(0).unwrap_or(DType::I64);
    Ok(vec![match ctx.attrs.get("value") {
        Some(Attribute::Int(v, _)) => scalar_value(*v as f64, d),
        Some(Attribute::Float(v, _)) => Value::Float(*v),
        Some(Attribute::Bool(b)) => Value::Bool(*b),
        Some(a @ Attribute::Sym(_)) => Value::Int(ctx.eval(a)?),
        Some(Attribute::DenseResource { .. }) => return Err("dense resources are bound by the executable".into()),
        other => return Err(format!("unsupported constant {other:?}")),
    }])
}

fn none(_: &Ctx, _: &[Value]) -> R {
    Ok(vec![Value::None])
}

fn sym_size(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    if ctx.op == "sem.sym_numel" {
        return Ok(vec![Value::Int(t.numel() as i64)]);
    }
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    Ok(vec![Value::Int(t.shape[d] as i64)])
}

/// The kernel implementing `op`, if the CPU backend has one.
pub fn kernel_for(op: &str) -> Option<Kernel> {
    Some(match op {
        "sem.constant" => constant,
        "sem.none" => none,
        "sem.sym_size" | "sem.sym_numel" => sym_size,
        "sem.gelu" => gelu_kernel,
        "sem.clamp" | "sem.hardtanh" => clamp_like,
        "sem.leaky_relu" => leaky_relu,
        "sem.neg" | "sem.abs" | "sem.exp" | "sem.expm1" | "sem.log" | "sem.log1p" | "sem.sqrt" | "sem.rsqrt" | "sem.reciprocal"
        | "sem.sin" | "sem.cos" | "sem.tanh" | "sem.sigmoid" | "sem.silu" | "sem.relu" | "sem.erf" | "sem.floor" | "sem.ceil"
        | "sem.round" | "sem.trunc" | "sem.sign" | "sem.logical_not" | "sem.bitwise_not" | "sem.isnan" | "sem.hardsigmoid"
        | "sem.hardswish" | "sem.clone" | "sem.alias" | "sem.detach" | "sem.lift_fresh_copy" | "sem._to_copy"
        | "sem.convert_element_type" => unary,
        "sem.add" | "sem.sub" | "sem.mul" | "sem.div" | "sem.floor_divide" | "sem.remainder" | "sem.fmod" | "sem.pow" | "sem.atan2"
        | "sem.maximum" | "sem.minimum" | "sem.eq" | "sem.ne" | "sem.lt" | "sem.le" | "sem.gt" | "sem.ge" | "sem.logical_and"
        | "sem.logical_or" | "sem.logical_xor" | "sem.bitwise_and" | "sem.bitwise_or" | "sem.bitwise_xor" => binary,
        "sem.where" => where_,
        "sem.masked_fill" => masked_fill,
        "sem.sum" | "sem.mean" | "sem.prod" | "sem.amax" | "sem.amin" | "sem.any" | "sem.all" | "sem.logsumexp" | "sem.var" => reduce,
        "sem.argmax" | "sem.argmin" | "sem.max_dim" | "sem.min_dim" => arg_reduce,
        "sem._softmax" | "sem._log_softmax" => softmax,
        "sem.cumsum" => cumsum,
        "sem.mm" => mm,
        "sem.bmm" => bmm,
        "sem.addmm" => addmm,
        "sem.view" | "sem.reshape" | "sem._unsafe_view" => view,
        "sem.permute" | "sem.transpose" => permute,
        "sem.expand" => expand,
        "sem.unsqueeze" => unsqueeze,
        "sem.squeeze" => squeeze,
        "sem.slice" => slice,
        "sem.select" => select,
        "sem.cat" => cat,
        "sem.split" | "sem.split_with_sizes" => split,
        "sem.embedding" => embedding,
        "sem.index_select" => index_select,
        "sem.gather" => gather,
        "sem.index" => index,
        "sem.full" | "sem.full_like" | "sem.empty" | "sem.fill" => full,
        "sem.scalar_tensor" => scalar_tensor,
        "sem.arange" => arange,
        "sem.native_layer_norm" => layer_norm,
        "sem.tril" | "sem.triu" => tri,
        "sem.convolution" => convolution,
        "sem._native_batch_norm_legit_no_training" => batch_norm_inference,
        "sem.max_pool2d_with_indices" | "sem.avg_pool2d" => pool2d,
        "sem._adaptive_avg_pool2d" => adaptive_avg_pool2d,
        _ => return None,
    })
}

/// Checks a dtype the backend can hold.
pub fn check_dtype(d: DType) -> Result<(), String> {
    match d {
        DType::F32 | DType::F64 | DType::I64 | DType::I32 | DType::I1 => Ok(()),
        d => Err(unsupported_dtype(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        for (x, want) in [(0.0, 0.0), (0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (-2.0, -0.995_322_265_018_952_7), (3.0, 0.999_977_909_503_001_4)] {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {} not {want}", erf(x));
        }
    }

    #[test]
    fn broadcast_offsets_follow_pytorch() {
        let offs = broadcast_offsets(&[2, 3], &[&[3], &[2, 1]]);
        assert_eq!(offs[0], [0, 1, 2, 0, 1, 2]);
        assert_eq!(offs[1], [0, 0, 0, 1, 1, 1]);
    }
}
