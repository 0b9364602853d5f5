//! CPU kernels, one per `sem` op, looked up by name.
//!
//! Views (reshape, permute, expand, slice, select, split) are zero-copy.
//! Hot kernels read their operands' native element type (f32 fast paths,
//! threads for large tensors); the rest compute in f64 (exact for the
//! integer range used, within rounding of PyTorch's f32 results) and store
//! the plan's result type. Elementwise ops live in [`crate::elementwise`],
//! matrix products and convolution in [`crate::linalg`].

use crate::backward;
use crate::encoder_layer;
use crate::elementwise::{self, scalar_value, PARALLEL_MIN};
use crate::linalg::{self, pair};
use crate::tensor::{numel, strides, Elem, Storage, Tensor, Value};
use std::sync::Arc;
use crate::with_elem;
use genie_plan::{AttrDict, Attribute, DType, Op, Type};
use rayon::prelude::*;
use std::collections::HashMap;

/// Sizes bound to shape symbols for this call.
pub type SymEnv = HashMap<u32, i64>;

pub struct Ctx<'a> {
    pub op: Op,
    pub attrs: &'a AttrDict,
    pub results: &'a [Type],
    /// Per result: true when nothing reads it (empty: all are read).
    pub unused: &'a [bool],
    pub env: &'a SymEnv,
    /// Per result: the memory of its buffer in the plan's buffer table,
    /// when it has one (empty: none has). See [`Ctx::output`].
    pub buffers: &'a [BufferSlot],
}

pub type Kernel = fn(&Ctx, &[Value]) -> Result<Vec<Value>, String>;
pub(crate) type R = Result<Vec<Value>, String>;

/// Where a kernel finds (and takes) the memory planned for a result.
pub type BufferSlot = std::sync::Mutex<Option<Arc<Storage>>>;

/// Memory for one result, held exclusively until it becomes a tensor.
pub struct OutBuf<T> {
    storage: Arc<Storage>,
    n: usize,
    _elem: std::marker::PhantomData<T>,
}

impl<T: Elem> OutBuf<T> {
    /// The elements, not yet written.
    pub fn uninit(&mut self) -> &mut [std::mem::MaybeUninit<T>] {
        let raw = Arc::get_mut(&mut self.storage).and_then(Storage::bytes_mut).expect("output buffers are held exclusively and writable");
        // SAFETY: the storage is aligned for every dtype and holds at least
        // `n` elements (checked when the buffer was chosen).
        unsafe { std::slice::from_raw_parts_mut(raw.as_mut_ptr().cast::<std::mem::MaybeUninit<T>>(), self.n) }
    }

    /// The elements, zeroed first (for kernels that accumulate).
    pub fn zeroed(&mut self) -> &mut [T] {
        let out = self.uninit();
        out.iter_mut().for_each(|x| {
            x.write(T::default());
        });
        // SAFETY: every element was just written.
        unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<T>(), out.len()) }
    }

    /// The buffer as a contiguous tensor of `shape`.
    ///
    /// # Safety
    /// Every element must have been written.
    pub unsafe fn assume_init(self, shape: Vec<usize>) -> Result<Tensor, String> {
        if numel(&shape) != self.n {
            return Err(format!("shape {shape:?} needs {} elements, the buffer holds {}", numel(&shape), self.n));
        }
        let st = strides(&shape);
        Tensor::from_storage(self.storage, T::DTYPE, shape, st, 0)
    }
}

impl Ctx<'_> {
    /// Memory for result `i`, `n` elements of `T`: the plan's buffer for
    /// it when it has one that is free and large enough, fresh memory
    /// otherwise. Kernels that write every element of a new result use it,
    /// so static-size temporaries live in the plan's buffers.
    pub fn output<T: Elem>(&self, i: usize, n: usize) -> Result<OutBuf<T>, String> {
        let bytes = n.checked_mul(std::mem::size_of::<T>()).ok_or("output size overflows")?;
        if let Some(slot) = self.buffers.get(i) {
            let mut slot = slot.lock().map_err(|_| "a kernel panicked holding a buffer")?;
            if let Some(mut s) = slot.take() {
                if s.bytes() >= bytes && Arc::get_mut(&mut s).is_some_and(|s| s.bytes_mut().is_some()) {
                    return Ok(OutBuf { storage: s, n, _elem: std::marker::PhantomData });
                }
                *slot = Some(s);
            }
        }
        Ok(OutBuf { storage: Arc::new(Storage::alloc(bytes)?), n, _elem: std::marker::PhantomData })
    }


    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.attrs.get(name).map(|a| self.eval(a)).transpose()
    }

    pub(crate) fn req_int(&self, name: &str) -> Result<i64, String> {
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
    pub(crate) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.attrs.get(name) {
            None => Ok(None),
            Some(Attribute::Array(items)) => items.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>().map(Some),
            Some(a) => Ok(Some(vec![self.eval(a)?])),
        }
    }

    pub(crate) fn float(&self, name: &str) -> Option<f64> {
        self.attrs.get(name).and_then(Attribute::as_float)
    }

    /// Whether result `i` is read by anything (a plan output counts).
    pub(crate) fn result_used(&self, i: usize) -> bool {
        !self.unused.get(i).copied().unwrap_or(false)
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.attrs.get(name).and_then(Attribute::as_bool).unwrap_or(false)
    }

    pub(crate) fn out_dtype(&self, i: usize) -> Result<DType, String> {
        self.results.get(i).and_then(|t| t.dtype()).ok_or_else(|| format!("'{}' result #{i} has no element type", self.op))
    }

    pub(crate) fn scalar_result(&self) -> bool {
        matches!(self.results.first(), Some(Type::Scalar(_)))
    }
}

pub(crate) fn norm_dim(d: i64, rank: usize) -> Result<usize, String> {
    let r = rank.max(1) as i64;
    let n = if d < 0 { d + r } else { d };
    if n < 0 || n >= r {
        return Err(format!("dim {d} out of range for rank {rank}"));
    }
    Ok(n as usize)
}

/// A value as a tensor (Python scalars become 0-d tensors).
pub(crate) fn tensor(v: &Value) -> Result<Tensor, String> {
    Ok(match v {
        Value::Tensor(t) => t.clone(),
        Value::Int(i) => Tensor::scalar(*i),
        Value::Float(f) => Tensor::scalar(*f),
        Value::Bool(b) => Tensor::scalar(*b),
        Value::None => return Err("expected a tensor, got None".into()),
    })
}

pub(crate) fn tref(v: &Value) -> Result<&Tensor, String> {
    match v {
        Value::Tensor(t) => Ok(t),
        other => Err(format!("expected a tensor, got {other:?}")),
    }
}

/// Optional per-channel (or per-element) parameter `i` of a norm op: None
/// when absent, its values when it holds exactly `n` of them.
fn norm_param(args: &[Value], i: usize, n: usize, what: &str) -> Result<Option<Vec<f64>>, String> {
    match args.get(i) {
        Some(Value::Tensor(t)) if t.numel() == n => Ok(Some(t.to_f64())),
        Some(Value::Tensor(t)) => Err(format!("{what} parameter #{i} of shape {:?} where {n} values are needed", t.shape)),
        _ => Ok(None),
    }
}

pub(crate) fn one(t: Tensor) -> R {
    Ok(vec![Value::Tensor(t)])
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
/// shape with keepdim applied, group size, the values group after group).
fn reduce_groups(t: &Tensor, red: &[bool], keepdim: bool) -> Result<(Vec<usize>, usize, Vec<f64>), String> {
    // Moving the reduced dims last makes every group a contiguous run.
    let mut perm: Vec<usize> = (0..red.len()).filter(|&d| !red[d]).collect();
    perm.extend((0..red.len()).filter(|&d| red[d]));
    let group: usize = (0..red.len()).filter(|&d| red[d]).map(|d| t.shape[d]).product();
    let vals = t.permuted(&perm)?.to_f64();
    let shape = if keepdim {
        t.shape.iter().zip(red).map(|(&s, &r)| if r { 1 } else { s }).collect()
    } else {
        t.shape.iter().zip(red).filter(|(_, &r)| !r).map(|(&s, _)| s).collect()
    };
    Ok((shape, group, vals))
}

fn reduce(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let red = reduced_dims(ctx, t.shape.len(), "dim")?;
    let (shape, group, vals) = reduce_groups(t, &red, ctx.flag("keepdim"))?;
    let correction = ctx.float("correction").unwrap_or(1.0);
    type Fold = Box<dyn Fn(&[f64]) -> f64>;
    let f: Fold = match ctx.op {
        Op::Sum => Box::new(|g| g.iter().sum()),
        Op::Mean => Box::new(|g| g.iter().sum::<f64>() / g.len() as f64),
        Op::Prod => Box::new(|g| g.iter().product()),
        Op::Amax => Box::new(|g| g.iter().copied().fold(f64::NEG_INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) })),
        Op::Amin => Box::new(|g| g.iter().copied().fold(f64::INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) })),
        Op::Any => Box::new(|g| if g.iter().any(|&x| x != 0.0) { 1.0 } else { 0.0 }),
        Op::All => Box::new(|g| if g.iter().all(|&x| x != 0.0) { 1.0 } else { 0.0 }),
        Op::Logsumexp => Box::new(|g| {
            let m = g.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m + g.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }),
        Op::Var => Box::new(move |g| {
            let n = g.len() as f64;
            let mean = g.iter().sum::<f64>() / n;
            g.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - correction).max(0.0)
        }),
        other => return Err(format!("no reduction kernel for '{other}'")),
    };
    let out: Vec<f64> = if group == 0 { vec![f(&[]); numel(&shape)] } else { vals.chunks(group).map(&f).collect() };
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

/// Softmax or log-softmax of each row (the last dim of a contiguous buffer).
fn softmax_rows<T: Elem>(x: &[T], size: usize, log: bool, exp: impl Fn(f64) -> f64 + Sync) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    let row = |(src, dst): (&[T], &mut [T])| {
        let m = src.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v.to_f64()));
        let mut sum = 0.0;
        for (d, &v) in dst.iter_mut().zip(src) {
            let e = exp(v.to_f64() - m);
            sum += e;
            *d = T::from_f64(e);
        }
        if log {
            let ls = sum.ln();
            dst.iter_mut().zip(src).for_each(|(d, &v)| *d = T::from_f64(v.to_f64() - m - ls));
        } else {
            let inv = 1.0 / sum;
            dst.iter_mut().for_each(|d| *d = T::from_f64(d.to_f64() * inv));
        }
    };
    if x.len() >= 1 << 14 {
        x.par_chunks(size).zip(out.par_chunks_mut(size)).for_each(row);
    } else {
        x.chunks(size).zip(out.chunks_mut(size)).for_each(row);
    }
    out
}

/// Sum of f32s in eight lanes, so the loop vectorises.
fn sum_f32(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn max_f32(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for k in 0..8 {
            acc[k] = acc[k].max(c[k]);
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

/// Softmax (or log-softmax) of one f32 row, as PyTorch computes it in f32.
fn softmax_row_f32(src: &[f32], dst: &mut [f32], log: bool) {
    let m = max_f32(src);
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = elementwise::exp_f32(v - m);
    }
    let sum = sum_f32(dst);
    if log {
        let ls = sum.ln();
        dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v - m - ls);
    } else {
        let inv = 1.0 / sum;
        dst.iter_mut().for_each(|d| *d *= inv);
    }
}

fn softmax(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let d = norm_dim(ctx.req_int("dim")?, rank)?;
    let log = ctx.op == Op::LogSoftmax;
    if t.numel() == 0 || rank == 0 {
        let x = t.cast(ctx.out_dtype(0)?)?;
        return one(if rank == 0 { Tensor::from_f64(vec![], x.dtype(), vec![if log { 0.0 } else { 1.0 }])? } else { x });
    }
    // Softmax runs over the last dim of a contiguous buffer; other dims are
    // permuted there and back (the result is then a strided view).
    let mut perm: Vec<usize> = (0..rank).filter(|&i| i != d).collect();
    perm.push(d);
    let inv: Vec<usize> = (0..rank).map(|i| perm.iter().position(|&p| p == i).unwrap_or(i)).collect();
    let x = t.permuted(&perm)?.contiguous();
    let size = t.shape[d];
    let out = if x.dtype() == DType::F32 && ctx.out_dtype(0)? == DType::F32 {
        let v = x.as_slice::<f32>().ok_or("contiguous f32")?;
        let mut out = vec![0f32; v.len()];
        let rows = |(src, dst): (&[f32], &mut [f32])| softmax_row_f32(src, dst, log);
        if v.len() >= 1 << 14 {
            v.par_chunks(size).zip(out.par_chunks_mut(size)).for_each(rows);
        } else {
            v.chunks(size).zip(out.chunks_mut(size)).for_each(rows);
        }
        Tensor::from_vec(x.shape.clone(), out)?
    } else {
        let v = x.to_f64();
        Tensor::from_f64(x.shape.clone(), ctx.out_dtype(0)?, softmax_rows(&v, size, log, f64::exp))?
    };
    one(out.permuted(&inv)?)
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
    let pick_max = matches!(ctx.op, Op::Argmax | Op::MaxDim);
    let (t, dim) = match ctx.int("dim")? {
        Some(d) => (t.clone(), norm_dim(d, t.shape.len())?),
        None => (t.clone().reshaped(vec![t.numel()])?, 0),
    };
    let mut red = vec![false; t.shape.len()];
    if !red.is_empty() {
        red[dim] = true;
    }
    let (shape, group, vals) = reduce_groups(&t, &red, keep && ctx.int("dim")?.is_some())?;
    if group == 0 {
        return Err(format!("'{}' of an empty dim", ctx.op));
    }
    let mut values = Vec::new();
    let mut indices = Vec::new();
    for g in vals.chunks(group) {
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
        values.push(g[best]);
        indices.push(best as f64);
    }
    let shape = if ctx.int("dim")?.is_none() && keep { vec![1; tref(&args[0])?.shape.len()] } else { shape };
    if matches!(ctx.op, Op::Argmax | Op::Argmin) {
        return one(Tensor::from_f64(shape, DType::I64, indices)?);
    }
    Ok(vec![
        Value::Tensor(Tensor::from_f64(shape.clone(), ctx.out_dtype(0)?, values)?),
        Value::Tensor(Tensor::from_f64(shape, DType::I64, indices)?),
    ])
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
    let name = if ctx.op == Op::Reshape { "shape" } else { "size" };
    let shape = target_shape(ctx, t.numel(), name)?;
    one(t.clone().reshaped(shape)?)
}





fn permute(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let perm = if ctx.op == Op::Transpose {
        let (a, b) = (norm_dim(ctx.req_int("dim0")?, rank)?, norm_dim(ctx.req_int("dim1")?, rank)?);
        let mut p: Vec<usize> = (0..rank).collect();
        p.swap(a, b);
        p
    } else {
        ctx.ints("dims")?.unwrap_or_default().into_iter().map(|d| norm_dim(d, rank)).collect::<Result<_, _>>()?
    };
    one(t.permuted(&perm)?)
}

fn expand(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let sizes = ctx.ints("size")?.unwrap_or_default();
    let lead = sizes.len().checked_sub(t.shape.len()).ok_or_else(|| format!("cannot expand {:?} to {sizes:?}", t.shape))?;
    let shape: Vec<usize> = sizes.iter().enumerate().map(|(i, &s)| if s == -1 && i >= lead { t.shape[i - lead] } else { s.max(0) as usize }).collect();
    one(t.expanded(&shape)?)
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
    one(t.sliced(d, start, end, step))
}

fn select(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    let i = ctx.req_int("index")?;
    let i = if i < 0 { i + t.shape[d] as i64 } else { i };
    if i < 0 || i as usize >= t.shape[d] {
        return Err(format!("index {i} out of range for dim {d} of size {}", t.shape[d]));
    }
    one(t.selected(d, i as usize))
}

fn cat(ctx: &Ctx, args: &[Value]) -> R {
    let ts: Vec<&Tensor> = args.iter().map(tref).collect::<Result<_, _>>()?;
    // Legacy behaviour: 1-d empty tensors are skipped.
    let ts: Vec<&Tensor> = ts.iter().copied().filter(|t| !(t.shape == [0] && ts.iter().any(|u| u.shape.len() != 1))).collect();
    let first = ts.first().ok_or("cat of nothing")?;
    let d = norm_dim(ctx.req_int("dim")?, first.shape.len())?;
    let mut shape = first.shape.clone();
    shape[d] = ts.iter().map(|t| t.shape.get(d).copied().unwrap_or(0)).sum();
    for t in &ts {
        if t.shape.len() != shape.len() || t.shape.iter().zip(&shape).enumerate().any(|(i, (&a, &b))| i != d && a != b) {
            return Err(format!("cat along dim {d}: {:?} does not match {:?}", t.shape, first.shape));
        }
    }
    let dtype = ctx.out_dtype(0)?;
    let outer: usize = shape[..d].iter().product();
    let parts: Vec<Tensor> = ts.iter().map(|t| t.cast(dtype).map(|t| t.contiguous())).collect::<Result<_, _>>()?;
    with_elem!(dtype, T => {
        let mut out: Vec<T> = Vec::with_capacity(numel(&shape));
        let slices: Vec<&[T]> = parts.iter().map(|t| t.as_slice::<T>().ok_or("contiguous part")).collect::<Result<_, _>>()?;
        for o in 0..outer {
            for (t, v) in parts.iter().zip(&slices) {
                let chunk: usize = t.shape[d..].iter().product();
                out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
            }
        }
        one(Tensor::from_vec(shape, out)?)
    })
}

fn split(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.int("dim")?.unwrap_or(0), t.shape.len())?;
    let n = t.shape[d];
    let sizes: Vec<usize> = match ctx.op {
        Op::Split => {
            let s = ctx.req_int("split_size")?.max(1) as usize;
            if n == 0 { vec![0] } else { (0..n).step_by(s).map(|i| s.min(n - i)).collect() }
        }
        _ => ctx.ints("split_sizes")?.unwrap_or_default().into_iter().map(|s| s.max(0) as usize).collect(),
    };
    if sizes.iter().sum::<usize>() != n {
        return Err(format!("split sizes {sizes:?} do not add up to {n}"));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for s in sizes {
        out.push(Value::Tensor(t.sliced(d, start, start + s, 1)));
        start += s;
    }
    Ok(out)
}

/// Reverses along `dims`: a copy, since strides here are never negative.
fn flip(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let dims: Vec<usize> = ctx.ints("dims")?.unwrap_or_default().into_iter().map(|d| norm_dim(d, rank)).collect::<Result<_, _>>()?;
    let st = strides(&t.shape);
    let n = t.numel();
    let index = (0..n).map(|i| {
        let mut src = 0;
        for (d, (&s, &n)) in st.iter().zip(&t.shape).enumerate() {
            let k = (i / s) % n;
            src += if dims.contains(&d) { n - 1 - k } else { k } * s;
        }
        src
    });
    one(t.gather(t.shape.clone(), index))
}

/// Tiles the tensor `repeats[d]` times along each dim (leading repeats add dims).
fn repeat(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let reps: Vec<usize> = ctx.ints("repeats")?.unwrap_or_default().into_iter().map(|r| usize::try_from(r).map_err(|_| format!("negative repeat {r}"))).collect::<Result<_, _>>()?;
    let lead = reps.len().checked_sub(t.shape.len()).ok_or_else(|| format!("repeats {reps:?} has fewer dims than {:?}", t.shape))?;
    let mut src_shape = vec![1; lead];
    src_shape.extend_from_slice(&t.shape);
    let shape: Vec<usize> = src_shape.iter().zip(&reps).map(|(&s, &r)| s * r).collect();
    let (ost, sst) = (strides(&shape), strides(&src_shape));
    let index = (0..numel(&shape)).map(|i| (0..shape.len()).map(|d| ((i / ost[d]) % shape[d]) % src_shape[d].max(1) * sst[d]).sum());
    one(t.gather(shape.clone(), index))
}

/// `as_strided` over the input's elements in row-major order: graphs apply
/// it to fresh contiguous tensors, whose storage starts at their first
/// element, while here that tensor may be a view of a larger buffer.
fn as_strided(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?.contiguous();
    let to_usize = |v: Vec<i64>, what: &str| v.into_iter().map(|x| usize::try_from(x).map_err(|_| format!("negative {what} {x}"))).collect::<Result<Vec<_>, _>>();
    let size = to_usize(ctx.ints("size")?.unwrap_or_default(), "size")?;
    let stride = to_usize(ctx.ints("stride")?.unwrap_or_default(), "stride")?;
    let offset = usize::try_from(ctx.int("storage_offset")?.unwrap_or(0)).map_err(|_| "negative storage offset".to_string())?;
    let last = size.iter().zip(&stride).map(|(&n, &s)| n.saturating_sub(1) * s).sum::<usize>() + offset;
    if size.iter().all(|&n| n > 0) && last >= t.numel() {
        return Err(format!("as_strided {size:?} / {stride:?} at offset {offset} reaches past the {} elements of its input", t.numel()));
    }
    one(Tensor::from_storage(t.storage().clone(), t.dtype(), size, stride, t.offset() + offset)?)
}

/// Every index along `dim`, the dim removed (views).
fn unbind(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let d = norm_dim(ctx.int("dim")?.unwrap_or(0), t.shape.len())?;
    Ok((0..t.shape[d]).map(|i| Value::Tensor(t.selected(d, i))).collect())
}

/// `self` with the region a view op selects replaced by `src`:
/// `copy` (everything), `slice_scatter` and `select_scatter`.
fn scatter_view(ctx: &Ctx, args: &[Value]) -> R {
    let (base, src) = (tref(&args[0])?, tensor(&args[1])?);
    let rank = base.shape.len();
    // Logical positions of the region, found by viewing an index tensor the same way.
    let ids = Tensor::from_vec(base.shape.clone(), (0..base.numel() as i64).collect::<Vec<i64>>())?;
    let region = match ctx.op {
        Op::Copy => ids,
        Op::SliceScatter => {
            let d = norm_dim(ctx.int("dim")?.unwrap_or(0), rank)?;
            let (start, end, step) = slice_range(ctx, base.shape[d])?;
            ids.sliced(d, start, end, step)
        }
        _ => {
            let d = norm_dim(ctx.req_int("dim")?, rank)?;
            let i = ctx.req_int("index")?;
            let i = if i < 0 { i + base.shape[d] as i64 } else { i };
            if i < 0 || i as usize >= base.shape[d] {
                return Err(format!("index {i} out of range for dim {d} of size {}", base.shape[d]));
            }
            ids.selected(d, i as usize)
        }
    };
    let src = src.expanded(&region.shape).map_err(|e| format!("source does not fit the region: {e}"))?;
    let dtype = ctx.out_dtype(0)?;
    with_elem!(dtype, T => {
        let mut out = base.cast(dtype)?.to_vec::<T>()?;
        let vals = src.cast(dtype)?.to_vec::<T>()?;
        for (pos, v) in region.to_i64().into_iter().zip(vals) {
            out[pos as usize] = v;
        }
        one(Tensor::from_vec(base.shape.clone(), out)?)
    })
}

/// Group norm: statistics per (sample, group), affine per channel; returns
/// the output and the [N, group] means and reciprocal standard deviations.
fn group_norm(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let groups = ctx.req_int("group")?.max(1) as usize;
    let eps = ctx.float("eps").unwrap_or(1e-5);
    if x.shape.len() < 2 || x.shape[1] % groups != 0 {
        return Err(format!("group norm of {:?} into {groups} groups", x.shape));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let inner: usize = x.shape[2..].iter().product();
    let (w, b) = (norm_param(args, 1, c, "group norm")?, norm_param(args, 2, c, "group norm")?);
    let v = x.to_f64();
    let per_group = c / groups * inner;
    let mut out = vec![0.0; v.len()];
    let (mut means, mut rstds) = (Vec::with_capacity(n * groups), Vec::with_capacity(n * groups));
    for (g, chunk) in v.chunks(per_group.max(1)).enumerate().take(n * groups) {
        let mean = chunk.iter().sum::<f64>() / per_group as f64;
        let var = chunk.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / per_group as f64;
        let rstd = 1.0 / (var + eps).sqrt();
        for (j, &xv) in chunk.iter().enumerate() {
            let ch = (g % groups) * (c / groups) + j / inner.max(1);
            out[g * per_group + j] = (xv - mean) * rstd * w.as_ref().map_or(1.0, |w| w[ch]) + b.as_ref().map_or(0.0, |b| b[ch]);
        }
        means.push(mean);
        rstds.push(rstd);
    }
    Ok(vec![
        Value::Tensor(Tensor::from_f64(x.shape.clone(), ctx.out_dtype(0)?, out)?),
        Value::Tensor(Tensor::from_f64(vec![n, groups], ctx.out_dtype(1)?, means)?),
        Value::Tensor(Tensor::from_f64(vec![n, groups], ctx.out_dtype(2)?, rstds)?),
    ])
}

fn embedding(_ctx: &Ctx, args: &[Value]) -> R {
    let (w, idx) = (tref(&args[0])?, tref(&args[1])?);
    if w.shape.len() != 2 {
        return Err(format!("embedding weight must be 2-d, got {:?}", w.shape));
    }
    let (rows, dim) = (w.shape[0], w.shape[1]);
    let w = w.contiguous();
    let mut shape = idx.shape.clone();
    shape.push(dim);
    with_elem!(w.dtype(), T => {
        let table = w.as_slice::<T>().ok_or("contiguous table")?;
        let mut out: Vec<T> = Vec::with_capacity(idx.numel() * dim);
        for r in idx.to_i64() {
            if r < 0 || r as usize >= rows {
                return Err(format!("embedding index {r} out of range for {rows} rows"));
            }
            out.extend_from_slice(&table[r as usize * dim..(r as usize + 1) * dim]);
        }
        one(Tensor::from_vec(shape, out)?)
    })
}

/// `EmbeddingBag`: rows of `weight` pooled per bag (mode 0 sum, 1 mean,
/// 2 max). Bag `b` holds `indices[offsets[b]..offsets[b+1]]`; indices equal
/// to `padding_idx` are skipped. Returns (result, offset2bag, bag_size,
/// max_indices) as PyTorch's CPU kernel does.
/// How many lookups ahead an embedding bag prefetches its rows.
const PREFETCH_AHEAD: usize = 16;

/// Hints the CPU to load `t[first..first + len]` into cache (no effect
/// where there is no prefetch instruction, or when the range is outside `t`).
#[inline(always)]
fn prefetch(t: &[f32], first: usize, len: usize) {
    if first + len > t.len() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    for at in (0..len).step_by(16) {
        // SAFETY: a prefetch never faults, and the address lies inside `t`.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(t.as_ptr().add(first + at).cast::<i8>()) };
    }
}

fn embedding_bag(ctx: &Ctx, args: &[Value]) -> R {
    let (w, idx, offs) = (tref(&args[0])?, tref(&args[1])?, tref(&args[2])?);
    let psw = match args.get(3) {
        Some(Value::Tensor(t)) => Some(t.to_f64()),
        _ => None,
    };
    if w.shape.len() != 2 || idx.shape.len() != 1 || offs.shape.len() != 1 {
        return Err(format!("embedding bag needs a 2-d table and 1-d indices and offsets, got {:?}, {:?}, {:?}", w.shape, idx.shape, offs.shape));
    }
    let mode = ctx.req_int("mode")?;
    if !(0..=2).contains(&mode) {
        return Err(format!("embedding bag mode {mode} (expected 0 sum, 1 mean or 2 max)"));
    }
    let (rows, dim) = (w.shape[0], w.shape[1]);
    let (ids, starts) = (idx.to_i64(), offs.to_i64());
    let n = ids.len();
    let bags = if ctx.flag("include_last_offset") { starts.len().saturating_sub(1) } else { starts.len() };
    let padding = ctx.int("padding_idx")?.filter(|&p| p >= 0);
    // Each bag's span of indices, checked up front.
    let spans = (0..bags)
        .map(|b| {
            let lo = usize::try_from(starts[b]).map_err(|_| format!("negative offset {}", starts[b]))?;
            let hi = if b + 1 < starts.len() { usize::try_from(starts[b + 1]).map_err(|_| format!("negative offset {}", starts[b + 1]))? } else { n };
            if lo > hi || hi > n {
                return Err(format!("bag {b} spans indices {lo}..{hi} of {n}"));
            }
            Ok((lo, hi))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(&r) = ids.iter().find(|&&r| Some(r) != padding && (r < 0 || r as usize >= rows)) {
        return Err(format!("embedding bag index {r} out of range for {rows} rows"));
    }
    // Rows are read in place: converting a whole (large) table per call
    // costs far more than the lookups.
    let f32_table = w.as_slice::<f32>();
    let other_table = if f32_table.is_none() { w.to_f64() } else { vec![] };
    let mut out = vec![0.0; bags * dim];
    let mut max_idx = vec![-1.0; if mode == 2 { bags * dim } else { bags }];
    let idx_width = if mode == 2 { dim } else { 1 };
    // One bag: accumulate its rows (a whole row slice at a time), in f64.
    let bag = |b: usize, acc: &mut [f64], arg: &mut [f64]| -> f64 {
        let (lo, hi) = spans[b];
        let mut count = 0usize;
        for (j, &r) in ids.iter().enumerate().take(hi).skip(lo) {
            // Rows are scattered over a large table: ask for the row a few
            // lookups ahead now, so its cache misses overlap this row's work.
            if let (Some(t), Some(&ahead)) = (f32_table, ids.get(j + PREFETCH_AHEAD)) {
                prefetch(t, ahead as usize * dim, dim);
            }
            if Some(r) == padding {
                continue;
            }
            let first = r as usize * dim;
            let scale = psw.as_ref().map_or(1.0, |p| p[j]);
            if mode == 2 {
                for k in 0..dim {
                    let v = f32_table.map_or_else(|| other_table[first + k], |t| f64::from(t[first + k]));
                    if count == 0 || v > acc[k] {
                        acc[k] = v;
                        arg[k] = r as f64;
                    }
                }
            } else if let Some(t) = f32_table {
                acc.iter_mut().zip(&t[first..first + dim]).for_each(|(a, &v)| *a += scale * f64::from(v));
            } else {
                acc.iter_mut().zip(&other_table[first..first + dim]).for_each(|(a, &v)| *a += scale * v);
            }
            count += 1;
        }
        if mode == 1 && count > 0 {
            acc.iter_mut().for_each(|a| *a /= count as f64);
        }
        count as f64
    };
    let mut bag_size = vec![0.0; bags];
    let work = |((b, (acc, arg)), size): ((usize, (&mut [f64], &mut [f64])), &mut f64)| *size = bag(b, acc, arg);
    if n * dim >= PARALLEL_MIN && dim > 0 {
        out.par_chunks_mut(dim).zip(max_idx.par_chunks_mut(idx_width)).enumerate().zip(bag_size.par_iter_mut()).for_each(work);
    } else if dim > 0 {
        out.chunks_mut(dim).zip(max_idx.chunks_mut(idx_width)).enumerate().zip(bag_size.iter_mut()).for_each(work);
    }
    let mut offset2bag = vec![0.0; n];
    for (b, &(lo, hi)) in spans.iter().enumerate() {
        offset2bag[lo..hi].fill(b as f64);
    }
    Ok(vec![
        Value::Tensor(Tensor::from_f64(vec![bags, dim], ctx.out_dtype(0)?, out)?),
        Value::Tensor(Tensor::from_f64(vec![n], DType::I64, offset2bag)?),
        Value::Tensor(Tensor::from_f64(vec![bags], DType::I64, bag_size)?),
        Value::Tensor(Tensor::from_f64(if mode == 2 { vec![bags, dim] } else { vec![bags] }, DType::I64, max_idx)?),
    ])
}

/// `sort` and `topk` along a dim: values and their int64 indices. NaN
/// counts as the largest value, as in PyTorch; ties keep index order.
fn sort_like(ctx: &Ctx, args: &[Value]) -> R {
    let t = tref(&args[0])?;
    let rank = t.shape.len();
    let d = norm_dim(ctx.int("dim")?.unwrap_or(-1), rank)?;
    let size = t.shape.get(d).copied().unwrap_or(1);
    let (descending, keep) = match ctx.op {
        Op::Topk => {
            let k = ctx.req_int("k")?;
            if k < 0 || k as usize > size {
                return Err(format!("topk k={k} out of range for a dim of size {size}"));
            }
            (ctx.attrs.get("largest").and_then(Attribute::as_bool).unwrap_or(true), k as usize)
        }
        _ => (ctx.flag("descending"), size),
    };
    let mut perm: Vec<usize> = (0..rank).filter(|&i| i != d).collect();
    if rank > 0 {
        perm.push(d);
    }
    let vals = t.permuted(&perm)?.to_f64();
    let order = |a: &f64, b: &f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    };
    let (mut out_v, mut out_i) = (Vec::with_capacity(vals.len()), Vec::with_capacity(vals.len()));
    for row in vals.chunks(size.max(1)) {
        let mut ix: Vec<usize> = (0..row.len()).collect();
        ix.sort_by(|&a, &b| if descending { order(&row[b], &row[a]) } else { order(&row[a], &row[b]) });
        for &i in ix.iter().take(keep) {
            out_v.push(row[i]);
            out_i.push(i as f64);
        }
    }
    let mut shape: Vec<usize> = perm.iter().map(|&p| t.shape[p]).collect();
    if let Some(last) = shape.last_mut() {
        *last = keep;
    }
    let inv: Vec<usize> = (0..rank).map(|i| perm.iter().position(|&p| p == i).unwrap_or(i)).collect();
    Ok(vec![
        Value::Tensor(Tensor::from_f64(shape.clone(), ctx.out_dtype(0)?, out_v)?.permuted(&inv)?),
        Value::Tensor(Tensor::from_f64(shape, DType::I64, out_i)?.permuted(&inv)?),
    ])
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
pub(crate) fn index(_ctx: &Ctx, args: &[Value]) -> R {
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
        Op::FullLike | Op::Fill => tref(&args[0])?.shape.clone(),
        _ => ctx.ints("size")?.unwrap_or_default().into_iter().map(|s| s.max(0) as usize).collect(),
    };
    let value = match ctx.op {
        Op::Fill => tensor(&args[1])?.to_f64().first().copied().ok_or("fill with an empty tensor")?,
        Op::Empty => 0.0,
        _ => ctx.float("fill_value").or_else(|| ctx.attrs.get("fill_value").and_then(Attribute::as_bool).map(f64::from)).unwrap_or(0.0),
    };
    with_elem!(d, T => one(Tensor::from_vec(shape.clone(), vec![T::from_f64(value); numel(&shape)])?))
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

/// Runs `row` over the rows of `x` (`inner` long) into `out`, in parallel
/// when large; returns each row's (mean, rstd) as `row` reports them.
fn norm_rows<T: Elem>(x: &[T], out: &mut [T], inner: usize, row: impl Fn(&[T], &mut [T]) -> (f64, f64) + Sync) -> (Vec<f64>, Vec<f64>) {
    let mut stats = vec![(0.0, 0.0); x.len() / inner.max(1)];
    if inner > 0 && x.len() >= 1 << 14 {
        x.par_chunks(inner).zip(out.par_chunks_mut(inner)).zip(stats.par_iter_mut()).for_each(|((s, d), st)| *st = row(s, d));
    } else if inner > 0 {
        x.chunks(inner).zip(out.chunks_mut(inner)).zip(stats.iter_mut()).for_each(|((s, d), st)| *st = row(s, d));
    }
    stats.into_iter().unzip()
}

/// Normalises each row of `x` (contiguous, rows of `inner`), returning the
/// output and each row's mean and reciprocal standard deviation.
fn layer_norm_rows<T: Elem>(x: &[T], inner: usize, w: Option<&[f64]>, b: Option<&[f64]>, eps: f64) -> (Vec<T>, Vec<f64>, Vec<f64>) {
    let mut out = vec![T::default(); x.len()];
    let (means, rstds) = norm_rows(x, &mut out, inner, |src, dst| {
        let mean = src.iter().map(|v| v.to_f64()).sum::<f64>() / inner as f64;
        let var = src.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / inner as f64;
        let rstd = 1.0 / (var + eps).sqrt();
        for (i, (d, &v)) in dst.iter_mut().zip(src).enumerate() {
            let y = (v.to_f64() - mean) * rstd;
            *d = T::from_f64(y * w.map_or(1.0, |w| w[i]) + b.map_or(0.0, |b| b[i]));
        }
        (mean, rstd)
    });
    (out, means, rstds)
}

/// The f32 form of [`layer_norm_rows`], vectorised, statistics in f32 as
/// PyTorch keeps them.
fn layer_norm_rows_f32(x: &[f32], inner: usize, w: Option<&[f32]>, b: Option<&[f32]>, eps: f32) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
    let mut out = vec![0f32; x.len()];
    let (means, rstds) = norm_rows(x, &mut out, inner, |src, dst| {
        let mean = sum_f32(src) / inner as f32;
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = (v - mean) * (v - mean);
        }
        let rstd = 1.0 / (sum_f32(dst) / inner as f32 + eps).sqrt();
        match (w, b) {
            (Some(w), Some(b)) => dst.iter_mut().zip(src).zip(w.iter().zip(b)).for_each(|((d, &v), (&w, &b))| *d = (v - mean) * rstd * w + b),
            _ => dst.iter_mut().zip(src).enumerate().for_each(|(i, (d, &v))| *d = (v - mean) * rstd * w.map_or(1.0, |w| w[i]) + b.map_or(0.0, |b| b[i])),
        }
        (mean as f64, rstd as f64)
    });
    (out, means, rstds)
}

fn layer_norm(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let norm = ctx.ints("normalized_shape")?.unwrap_or_default();
    let eps = ctx.float("eps").unwrap_or(1e-5);
    let inner: usize = norm.iter().map(|&n| n.max(0) as usize).product();
    let lead = x.shape.len().checked_sub(norm.len()).ok_or("normalized_shape has more dims than the input")?;
    if x.shape[lead..].iter().map(|&n| n as i64).ne(norm.iter().copied()) {
        return Err(format!("normalized_shape {norm:?} does not match input {:?}", x.shape));
    }
    let (w, b) = (norm_param(args, 1, inner, "layer norm")?, norm_param(args, 2, inner, "layer norm")?);
    let xc = x.contiguous();
    let d = ctx.out_dtype(0)?;
    let f32_param = |i: usize| match args.get(i) {
        Some(Value::Tensor(t)) => t.contiguous().as_slice::<f32>().map(|s| Some(s.to_vec())),
        _ => Some(None),
    };
    if let (Some(v), DType::F32, Some(w32), Some(b32)) = (xc.as_slice::<f32>(), d, f32_param(1), f32_param(2)) {
        let (out, means, rstds) = layer_norm_rows_f32(v, inner, w32.as_deref(), b32.as_deref(), eps as f32);
        let mut stat_shape = x.shape[..lead].to_vec();
        stat_shape.extend(std::iter::repeat_n(1, norm.len()));
        return Ok(vec![
            Value::Tensor(Tensor::from_vec(x.shape.clone(), out)?),
            Value::Tensor(Tensor::from_f64(stat_shape.clone(), ctx.out_dtype(1)?, means)?),
            Value::Tensor(Tensor::from_f64(stat_shape, ctx.out_dtype(2)?, rstds)?),
        ]);
    }
    let (out, means, rstds) = with_elem!(xc.dtype(), T => {
        let (o, m, r) = layer_norm_rows(xc.as_slice::<T>().ok_or("contiguous input")?, inner, w.as_deref(), b.as_deref(), eps);
        (Tensor::from_vec(x.shape.clone(), o)?.cast(d)?, m, r)
    });
    let mut stat_shape = x.shape[..lead].to_vec();
    stat_shape.extend(std::iter::repeat_n(1, norm.len()));
    Ok(vec![
        Value::Tensor(out),
        Value::Tensor(Tensor::from_f64(stat_shape.clone(), ctx.out_dtype(1)?, means)?),
        Value::Tensor(Tensor::from_f64(stat_shape, ctx.out_dtype(2)?, rstds)?),
    ])
}

fn batch_norm_inference(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    if x.shape.len() < 2 {
        return Err(format!("batch norm needs an input with a channel dim, got {:?}", x.shape));
    }
    let c = x.shape[1];
    let param = |i: usize| norm_param(args, i, c, "batch norm");
    let (w, b) = (param(1)?, param(2)?);
    let (mean, var) = (param(3)?.ok_or("batch norm without running mean")?, param(4)?.ok_or("batch norm without running var")?);
    let eps = ctx.float("eps").unwrap_or(1e-5);
    // y = x * scale + shift per channel.
    let scale: Vec<f64> = (0..c).map(|i| w.as_ref().map_or(1.0, |w| w[i]) / (var[i] + eps).sqrt()).collect();
    let shift: Vec<f64> = (0..c).map(|i| b.as_ref().map_or(0.0, |b| b[i]) - mean[i] * scale[i]).collect();
    let inner: usize = x.shape[2..].iter().product();
    let xc = x.contiguous();
    let d = ctx.out_dtype(0)?;
    let out = with_elem!(xc.dtype(), T => {
        let src = xc.as_slice::<T>().ok_or("contiguous input")?;
        let mut out = vec![T::default(); src.len()];
        if inner > 0 {
            out.par_chunks_mut(inner).zip(src.par_chunks(inner)).enumerate().for_each(|(p, (dst, s))| {
                let (k, sh) = (scale[p % c], shift[p % c]);
                if let (Some(dst), Some(s)) = (as_f32_mut(dst), as_f32(s)) {
                    let (k, sh) = (k as f32, sh as f32);
                    dst.iter_mut().zip(s).for_each(|(o, &v)| *o = v * k + sh);
                } else {
                    dst.iter_mut().zip(s).for_each(|(o, &v)| *o = T::from_f64(v.to_f64() * k + sh));
                }
            });
        }
        Tensor::from_vec(x.shape.clone(), out)?.cast(d)?
    });
    Ok(vec![
        Value::Tensor(out),
        Value::Tensor(Tensor::zeros(vec![0], ctx.out_dtype(1)?)?),
        Value::Tensor(Tensor::zeros(vec![0], ctx.out_dtype(2)?)?),
    ])
}

/// A slice of `T` as f32, when `T` is f32 (for typed fast paths in generic kernels).
fn as_f32<T: Elem>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 exactly when its dtype says so.
    (T::DTYPE == DType::F32).then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
}

fn as_f32_mut<T: Elem>(s: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: as above.
    (T::DTYPE == DType::F32).then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
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

/// Window geometry of a 2-d pooling op.
struct Pool {
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ho: usize,
    wo: usize,
}

/// Max pooling of one plane: values and, unless `idx` is empty, the flat
/// indices of the maxima.
fn max_pool_plane<T: Elem>(plane: &[T], g: &Pool, out: &mut [T], idx: &mut [i64]) {
    if let (Some(p), Some(o)) = (as_f32(plane), as_f32_mut(out)) {
        return if idx.is_empty() { max_pool_values_f32(p, g, o) } else { max_pool_plane_f32(p, g, o, idx) };
    }
    for y in 0..g.ho {
        for xx in 0..g.wo {
            let (y0, x0) = ((y * g.s[0]) as isize - g.p[0] as isize, (xx * g.s[1]) as isize - g.p[1] as isize);
            let (mut best, mut at) = (f64::NEG_INFINITY, 0usize);
            for a in 0..g.k[0] {
                let iy = y0 + (a * g.d[0]) as isize;
                if iy < 0 || iy as usize >= g.h {
                    continue;
                }
                for b in 0..g.k[1] {
                    let ix = x0 + (b * g.d[1]) as isize;
                    if ix < 0 || ix as usize >= g.w {
                        continue;
                    }
                    let i = iy as usize * g.w + ix as usize;
                    let v = plane[i].to_f64();
                    if v > best || v.is_nan() {
                        best = v;
                        at = i;
                    }
                }
            }
            out[y * g.wo + xx] = T::from_f64(best);
            if !idx.is_empty() {
                idx[y * g.wo + xx] = at as i64;
            }
        }
    }
}

/// Per output position along one axis: the first input coordinate inside
/// the image and how many taps land inside it.
fn pool_taps(outputs: usize, s: usize, p: usize, k: usize, d: usize, n: usize) -> Vec<(usize, usize)> {
    (0..outputs)
        .map(|o| {
            let start = (o * s) as isize - p as isize;
            let first = if start >= 0 { 0 } else { ((-start) as usize).div_ceil(d) };
            let last = (0..k).rev().find(|&t| start + ((t * d) as isize) < n as isize).map_or(0, |t| t + 1);
            ((start + (first * d) as isize).max(0) as usize, last.saturating_sub(first))
        })
        .collect()
}

/// The larger of two floats, NaN winning (as torch's max pooling does).
#[inline(always)]
fn max_nan(m: f32, v: f32) -> f32 {
    if v > m || v.is_nan() {
        v
    } else {
        m
    }
}

/// [`max_pool_plane`] for f32: the window is clipped to the image up front.
fn max_pool_plane_f32(plane: &[f32], g: &Pool, out: &mut [f32], idx: &mut [i64]) {
    let cols = pool_taps(g.wo, g.s[1], g.p[1], g.k[1], g.d[1], g.w);
    for (y, &(iy0, ny)) in pool_taps(g.ho, g.s[0], g.p[0], g.k[0], g.d[0], g.h).iter().enumerate() {
        for (xx, &(ix0, nx)) in cols.iter().enumerate() {
            let (mut best, mut at) = (f32::NEG_INFINITY, 0usize);
            for a in 0..ny {
                let row = (iy0 + a * g.d[0]) * g.w;
                for b in 0..nx {
                    let i = row + ix0 + b * g.d[1];
                    let v = plane[i];
                    if v > best || v.is_nan() {
                        best = v;
                        at = i;
                    }
                }
            }
            out[y * g.wo + xx] = best;
            idx[y * g.wo + xx] = at as i64;
        }
    }
}

/// Max pooling values only (nothing reads the indices): the window's rows
/// are reduced first, a whole line at a time (vectorised), then its columns.
fn max_pool_values_f32(plane: &[f32], g: &Pool, out: &mut [f32]) {
    let cols = pool_taps(g.wo, g.s[1], g.p[1], g.k[1], g.d[1], g.w);
    let mut line = vec![f32::NEG_INFINITY; g.w];
    for (y, &(iy0, ny)) in pool_taps(g.ho, g.s[0], g.p[0], g.k[0], g.d[0], g.h).iter().enumerate() {
        line.fill(f32::NEG_INFINITY);
        for a in 0..ny {
            let src = &plane[(iy0 + a * g.d[0]) * g.w..][..g.w];
            line.iter_mut().zip(src).for_each(|(m, &v)| *m = max_nan(*m, v));
        }
        for (o, &(ix0, nx)) in out[y * g.wo..(y + 1) * g.wo].iter_mut().zip(&cols) {
            *o = (0..nx).fold(f32::NEG_INFINITY, |m, b| max_nan(m, line[ix0 + b * g.d[1]]));
        }
    }
}

/// Average pooling of one plane.
fn avg_pool_plane<T: Elem>(plane: &[T], g: &Pool, include_pad: bool, divisor: Option<i64>, out: &mut [T]) {
    for y in 0..g.ho {
        for xx in 0..g.wo {
            let (y0, x0) = ((y * g.s[0]) as isize - g.p[0] as isize, (xx * g.s[1]) as isize - g.p[1] as isize);
            let (y1, x1) = ((y0 + g.k[0] as isize).min((g.h + g.p[0]) as isize), (x0 + g.k[1] as isize).min((g.w + g.p[1]) as isize));
            let pool_size = ((y1 - y0) * (x1 - x0)) as f64;
            let (ya, xa, yb, xb) = (y0.max(0), x0.max(0), y1.min(g.h as isize), x1.min(g.w as isize));
            let mut sum = 0.0;
            for iy in ya..yb {
                for ix in xa..xb {
                    sum += plane[iy as usize * g.w + ix as usize].to_f64();
                }
            }
            let count = match divisor {
                Some(d) => d as f64,
                None if include_pad => pool_size,
                None => ((yb - ya) * (xb - xa)) as f64,
            };
            out[y * g.wo + xx] = T::from_f64(sum / count);
        }
    }
}

fn pool2d(ctx: &Ctx, args: &[Value]) -> R {
    let x = tref(&args[0])?;
    let r = x.shape.len();
    if r < 3 {
        return Err("pooling needs an input of rank 3 or 4".into());
    }
    let k = pair(ctx, "kernel_size", 1)?;
    let stride = ctx.ints("stride")?.filter(|s| !s.is_empty());
    let s = if stride.is_some() { pair(ctx, "stride", 1)? } else { k };
    let p = pair(ctx, "padding", 0)?;
    let is_max = ctx.op == Op::MaxPool2dWithIndices;
    let d = if is_max { pair(ctx, "dilation", 1)? } else { [1, 1] };
    if k.contains(&0) || s.contains(&0) || d.contains(&0) {
        return Err("pooling with a zero kernel size, stride or dilation".into());
    }
    let ceil = ctx.flag("ceil_mode");
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let g = Pool { h, w, k, s, p, d, ho: pool_len(h, k[0], s[0], p[0], d[0], ceil), wo: pool_len(w, k[1], s[1], p[1], d[1], ceil) };
    let plane_out = (g.ho * g.wo).max(1);
    let include_pad = ctx.attrs.get("count_include_pad").and_then(Attribute::as_bool).unwrap_or(true);
    let divisor = ctx.int("divisor_override")?;
    let mut shape = x.shape.clone();
    shape[r - 2] = g.ho;
    shape[r - 1] = g.wo;
    let xc = x.contiguous();
    let plane_in = (h * w).max(1);
    let n_out = numel(&shape);
    let out_t = with_elem!(xc.dtype(), T => {
        let src = xc.as_slice::<T>().ok_or("contiguous input")?;
        let mut out = vec![T::default(); n_out];
        // Inference graphs never read the indices: skip them.
        let with_indices = is_max && ctx.result_used(1);
        let mut idx = vec![0i64; if with_indices { n_out } else { 0 }];
        if is_max {
            if with_indices {
                out.par_chunks_mut(plane_out).zip(idx.par_chunks_mut(plane_out)).zip(src.par_chunks(plane_in)).for_each(|((o, i), pl)| max_pool_plane(pl, &g, o, i));
            } else {
                out.par_chunks_mut(plane_out).zip(src.par_chunks(plane_in)).for_each(|(o, pl)| max_pool_plane(pl, &g, o, &mut []));
            }
        } else {
            out.par_chunks_mut(plane_out).zip(src.par_chunks(plane_in)).for_each(|(o, pl)| avg_pool_plane(pl, &g, include_pad, divisor, o));
        }
        (Tensor::from_vec(shape.clone(), out)?.cast(ctx.out_dtype(0)?)?, idx)
    });
    let mut res = vec![Value::Tensor(out_t.0)];
    if is_max {
        // An index tensor nothing reads is not made.
        res.push(if out_t.1.is_empty() && n_out > 0 { Value::None } else { Value::Tensor(Tensor::from_vec(shape, out_t.1)?) });
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
    let lower = ctx.op == Op::Tril;
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
    if ctx.op == Op::SymNumel {
        return Ok(vec![Value::Int(t.numel() as i64)]);
    }
    let d = norm_dim(ctx.req_int("dim")?, t.shape.len())?;
    Ok(vec![Value::Int(t.shape[d] as i64)])
}

/// The kernel running `op` with `attrs`, or why the CPU backend cannot:
/// checked when a plan loads, so unsupported graphs fall back before running.
pub fn kernel_with(op: Op, attrs: &AttrDict) -> Result<Kernel, String> {
    if op == Op::Convolution && attrs.get("transposed").and_then(Attribute::as_bool) == Some(true) {
        return Err("op 'sem.convolution' with transposed = true is not supported by the CPU backend yet".into());
    }
    kernel_for(op).ok_or_else(|| format!("op '{op}' is not supported by the CPU backend yet"))
}

/// The kernel implementing `op`, if the CPU backend has one.
pub fn kernel_for(op: Op) -> Option<Kernel> {
    Some(match op {
        Op::Constant => constant,
        Op::None => none,
        Op::SymSize | Op::SymNumel => sym_size,
        Op::Clamp | Op::Hardtanh => elementwise::clamp_like,
        Op::LeakyRelu => elementwise::leaky_relu,
        Op::Neg | Op::Abs | Op::Exp | Op::Expm1 | Op::Log | Op::Log1p | Op::Sqrt | Op::Rsqrt | Op::Reciprocal
        | Op::Sin | Op::Cos | Op::Tanh | Op::Sigmoid | Op::Silu | Op::Relu | Op::Erf | Op::Floor | Op::Ceil
        | Op::Round | Op::Trunc | Op::Sign | Op::LogicalNot | Op::BitwiseNot | Op::Isnan | Op::Hardsigmoid
        | Op::Hardswish | Op::Clone | Op::Alias | Op::Detach | Op::LiftFreshCopy | Op::ToCopy
        | Op::ConvertElementType | Op::Gelu => elementwise::unary,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::FloorDivide | Op::Remainder | Op::Fmod | Op::Pow | Op::Atan2
        | Op::Maximum | Op::Minimum | Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::LogicalAnd
        | Op::LogicalOr | Op::LogicalXor | Op::BitwiseAnd | Op::BitwiseOr | Op::BitwiseXor => elementwise::binary,
        Op::Where | Op::MaskedFill => elementwise::select_by_mask,
        Op::Sum | Op::Mean | Op::Prod | Op::Amax | Op::Amin | Op::Any | Op::All | Op::Logsumexp | Op::Var => reduce,
        Op::Argmax | Op::Argmin | Op::MaxDim | Op::MinDim => arg_reduce,
        Op::Softmax | Op::LogSoftmax => softmax,
        Op::Cumsum => cumsum,
        Op::Mm => linalg::mm,
        Op::Bmm => linalg::bmm,
        Op::Addmm => linalg::addmm,
        Op::View | Op::Reshape | Op::UnsafeView => view,
        Op::Permute | Op::Transpose => permute,
        Op::Expand => expand,
        Op::Unsqueeze => unsqueeze,
        Op::Squeeze => squeeze,
        Op::Slice => slice,
        Op::Select => select,
        Op::Cat => cat,
        Op::Append => crate::append::append,
        Op::Split | Op::SplitWithSizes => split,
        Op::Embedding => embedding,
        Op::EmbeddingBag => embedding_bag,
        Op::Flip => flip,
        Op::AsStrided => as_strided,
        Op::Repeat => repeat,
        Op::Unbind => unbind,
        Op::Copy | Op::SliceScatter | Op::SelectScatter => scatter_view,
        Op::NativeGroupNorm => group_norm,
        Op::TransformerEncoderLayerFwd => encoder_layer::transformer_encoder_layer,
        Op::Sort | Op::Topk => sort_like,
        Op::IndexSelect => index_select,
        Op::Gather => gather,
        Op::Index => index,
        Op::Full | Op::FullLike | Op::Empty | Op::Fill => full,
        Op::ScalarTensor => scalar_tensor,
        Op::Arange => arange,
        Op::NativeLayerNorm => layer_norm,
        Op::Tril | Op::Triu => tri,
        Op::Convolution => linalg::convolution,
        Op::NativeBatchNormLegitNoTraining => batch_norm_inference,
        Op::MaxPool2dWithIndices | Op::AvgPool2d => pool2d,
        Op::AdaptiveAvgPool2d => adaptive_avg_pool2d,
        // Training: backward ops and training-mode forward ops.
        Op::ConstantPadNd => backward::constant_pad_nd,
        Op::Scatter | Op::ScatterAdd => backward::scatter,
        Op::IndexPut => backward::index_put,
        Op::NativeBatchNormLegitFunctional => backward::batch_norm_functional,
        Op::NativeDropout => backward::native_dropout,
        Op::ConvolutionBackward => backward::convolution_backward,
        Op::MaxPool2dWithIndicesBackward => backward::max_pool2d_with_indices_backward,
        Op::ScaledDotProductFlashAttentionForCpuBackward => backward::sdpa_flash_backward,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_values_match_the_indexed_pass() {
        // Windows over padding, dilation, strides, ties and a NaN.
        for (h, w, k, s, p, d) in [(9, 11, 3, 2, 1, 1), (8, 8, 2, 2, 0, 1), (10, 7, 3, 1, 1, 2), (5, 5, 3, 3, 1, 1)] {
            let mut x: Vec<f32> = (0..h * w).map(|i| ((i * 37 % 11) as f32 - 5.0).max(0.0)).collect();
            x[h * w / 2] = f32::NAN;
            let g = Pool { h, w, k: [k; 2], s: [s; 2], p: [p; 2], d: [d; 2], ho: pool_len(h, k, s, p, d, false), wo: pool_len(w, k, s, p, d, false) };
            let n = g.ho * g.wo;
            let (mut with_idx, mut idx, mut values) = (vec![0f32; n], vec![0i64; n], vec![0f32; n]);
            max_pool_plane(&x, &g, &mut with_idx, &mut idx);
            max_pool_plane(&x, &g, &mut values, &mut []);
            for i in 0..n {
                assert!(with_idx[i] == values[i] || (with_idx[i].is_nan() && values[i].is_nan()), "h{h} w{w} k{k} s{s} p{p} d{d} at {i}");
                let v = x[idx[i] as usize];
                assert!(v == with_idx[i] || v.is_nan());
            }
        }
    }

    #[test]
    fn broadcast_offsets_follow_pytorch() {
        let offs = broadcast_offsets(&[2, 3], &[&[3], &[2, 1]]);
        assert_eq!(offs[0], [0, 1, 2, 0, 1, 2]);
        assert_eq!(offs[1], [0, 0, 0, 1, 1, 1]);
    }
}
