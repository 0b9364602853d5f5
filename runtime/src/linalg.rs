//! Matrix products and convolution through BLAS (OpenBLAS's CBLAS interface).
//!
//! Strided operands go to BLAS without a copy whenever one of their dims is
//! unit-stride (a transposed weight is passed as `Trans`); single-row
//! products use GEMV, the shape of an LLM decode step. Convolution is
//! im2col + one GEMM per sample and group. f32 and f64 run natively; other
//! element types compute in f64 and are stored as the plan's result type.

use crate::kernels::{broadcast_shapes, one, tensor, tref, Ctx, R};
use crate::tensor::{Elem, Tensor, Value};
use genie_ir::DType;
use rayon::prelude::*;
use std::os::raw::c_int;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(o: c_int, ta: c_int, tb: c_int, m: c_int, n: c_int, k: c_int, alpha: f32, a: *const f32, lda: c_int, b: *const f32, ldb: c_int, beta: f32, c: *mut f32, ldc: c_int);
    fn cblas_dgemm(o: c_int, ta: c_int, tb: c_int, m: c_int, n: c_int, k: c_int, alpha: f64, a: *const f64, lda: c_int, b: *const f64, ldb: c_int, beta: f64, c: *mut f64, ldc: c_int);
    fn cblas_sgemv(o: c_int, t: c_int, m: c_int, n: c_int, alpha: f32, a: *const f32, lda: c_int, x: *const f32, incx: c_int, beta: f32, y: *mut f32, incy: c_int);
    fn cblas_dgemv(o: c_int, t: c_int, m: c_int, n: c_int, alpha: f64, a: *const f64, lda: c_int, x: *const f64, incx: c_int, beta: f64, y: *mut f64, incy: c_int);
}

/// Element types BLAS multiplies natively.
pub trait Blas: Elem {
    /// # Safety
    /// Pointers must cover the matrices their dims and leading dims describe.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(ta: bool, tb: bool, m: c_int, n: c_int, k: c_int, alpha: Self, a: *const Self, lda: c_int, b: *const Self, ldb: c_int, beta: Self, c: *mut Self, ldc: c_int);
    /// # Safety
    /// As for `gemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemv(t: bool, m: c_int, n: c_int, a: *const Self, lda: c_int, x: *const Self, incx: c_int, beta: Self, y: *mut Self);
}

fn flag(t: bool) -> c_int {
    if t {
        TRANS
    } else {
        NO_TRANS
    }
}

impl Blas for f32 {
    unsafe fn gemm(ta: bool, tb: bool, m: c_int, n: c_int, k: c_int, alpha: f32, a: *const f32, lda: c_int, b: *const f32, ldb: c_int, beta: f32, c: *mut f32, ldc: c_int) {
        cblas_sgemm(ROW_MAJOR, flag(ta), flag(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    unsafe fn gemv(t: bool, m: c_int, n: c_int, a: *const f32, lda: c_int, x: *const f32, incx: c_int, beta: f32, y: *mut f32) {
        cblas_sgemv(ROW_MAJOR, flag(t), m, n, 1.0, a, lda, x, incx, beta, y, 1)
    }
}

impl Blas for f64 {
    unsafe fn gemm(ta: bool, tb: bool, m: c_int, n: c_int, k: c_int, alpha: f64, a: *const f64, lda: c_int, b: *const f64, ldb: c_int, beta: f64, c: *mut f64, ldc: c_int) {
        cblas_dgemm(ROW_MAJOR, flag(ta), flag(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    unsafe fn gemv(t: bool, m: c_int, n: c_int, a: *const f64, lda: c_int, x: *const f64, incx: c_int, beta: f64, y: *mut f64) {
        cblas_dgemv(ROW_MAJOR, flag(t), m, n, 1.0, a, lda, x, incx, beta, y, 1)
    }
}

/// A 2-d operand as BLAS sees it: a pointer, whether it is stored
/// transposed, and the leading dimension.
struct Mat<T> {
    ptr: *const T,
    trans: bool,
    ld: usize,
    /// Stride between consecutive elements of a single-row operand (GEMV).
    row_step: usize,
}

/// `t` (2-d, dtype T) as a BLAS operand, copying only when neither dim is
/// unit-stride (or a dim is broadcast).
fn as_mat<T: Blas>(t: &Tensor, keep: &mut Vec<Tensor>) -> Result<Mat<T>, String> {
    let (r, c) = (t.shape[0], t.shape[1]);
    let (s0, s1) = (t.strides()[0], t.strides()[1]);
    let no_trans = (c <= 1 || s1 == 1) && (r <= 1 || s0 >= c.max(1));
    let trans = (r <= 1 || s0 == 1) && (c <= 1 || s1 >= r.max(1));
    let data = t.storage_slice::<T>()?;
    // SAFETY: the view's offset lies inside its storage (checked on creation).
    let ptr = unsafe { data.as_ptr().add(t.offset().min(data.len())) };
    let row_step = if c > 1 { s1 } else { 1 };
    if no_trans && (r > 1 || row_step > 0) {
        return Ok(Mat { ptr, trans: false, ld: if r <= 1 { c.max(1) } else { s0 }, row_step });
    }
    if trans {
        return Ok(Mat { ptr, trans: true, ld: if c <= 1 { r.max(1) } else { s1 }, row_step });
    }
    let copy = t.contiguous();
    let ptr = copy.as_slice::<T>().ok_or("a contiguous copy")?.as_ptr();
    keep.push(copy);
    Ok(Mat { ptr, trans: false, ld: c.max(1), row_step: 1 })
}

fn int(n: usize) -> Result<c_int, String> {
    c_int::try_from(n).map_err(|_| format!("dimension {n} is too large for BLAS"))
}

/// `out[m,n] = alpha * a[m,k] @ b[k,n] + beta * out` with `a`, `b` 2-d views.
fn gemm_into<T: Blas>(a: &Tensor, b: &Tensor, alpha: T, beta: T, out: &mut [T]) -> Result<(), String> {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
    if b.shape[0] != k {
        return Err(format!("inner dims {k} and {} differ", b.shape[0]));
    }
    if out.len() != m * n {
        return Err("output size mismatch".into());
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        out.iter_mut().for_each(|o| *o = T::from_f64(o.to_f64() * beta.to_f64()));
        return Ok(());
    }
    let mut keep = vec![];
    let (ma, mb) = (as_mat::<T>(a, &mut keep)?, as_mat::<T>(b, &mut keep)?);
    // SAFETY: `as_mat` describes each operand within its storage; `out`
    // holds m*n elements with leading dimension n.
    unsafe {
        if m == 1 && alpha.to_f64() == 1.0 && ma.row_step > 0 {
            // One row: y[n] = B^T a, a matrix-vector product.
            let (t, rows, cols) = if mb.trans { (false, n, k) } else { (true, k, n) };
            T::gemv(t, int(rows)?, int(cols)?, mb.ptr, int(mb.ld)?, ma.ptr, int(ma.row_step)?, beta, out.as_mut_ptr());
        } else {
            T::gemm(ma.trans, mb.trans, int(m)?, int(n)?, int(k)?, alpha, ma.ptr, int(ma.ld)?, mb.ptr, int(mb.ld)?, beta, out.as_mut_ptr(), int(n)?);
        }
    }
    Ok(())
}

/// The element type products of `ts` compute in: f32 or f64 natively,
/// everything else through f64.
fn compute_type(ts: &[&Tensor]) -> DType {
    if ts.iter().all(|t| t.dtype() == DType::F32) {
        DType::F32
    } else {
        DType::F64
    }
}

/// Batched product of 3-d views: out[i] = alpha * a[i] @ b[i] (+ beta * init).
fn batched<T: Blas>(a: &Tensor, b: &Tensor, alpha: f64, beta: f64, init: Option<Vec<T>>) -> Result<Tensor, String> {
    let (batch, m, n) = (a.shape[0], a.shape[1], b.shape[2]);
    let mut out = init.unwrap_or_else(|| vec![T::default(); batch * m * n]);
    for (i, chunk) in out.chunks_mut((m * n).max(1)).enumerate().take(batch) {
        gemm_into::<T>(&a.selected(0, i), &b.selected(0, i), T::from_f64(alpha), T::from_f64(beta), chunk)?;
    }
    Tensor::from_vec(vec![batch, m, n], out)
}

/// Products of 3-d operands in the compute type, cast to the result type.
fn product(ctx: &Ctx, a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Tensor, String> {
    if a.shape[0] != b.shape[0] || a.shape[2] != b.shape[1] {
        return Err(format!("'{}': operands {:?} and {:?} do not multiply", ctx.op, a.shape, b.shape));
    }
    let (alpha, beta) = (ctx.float("alpha").unwrap_or(1.0), if bias.is_some() { ctx.float("beta").unwrap_or(1.0) } else { 0.0 });
    let shape = [a.shape[0], a.shape[1], b.shape[2]];
    let ct = compute_type(&[a, b]);
    let (a, b) = (a.cast(ct)?, b.cast(ct)?);
    // The bias, broadcast and scaled by beta, is GEMM's initial C.
    let init = |bias: &Tensor| -> Result<Tensor, String> { bias.expanded(&shape)?.cast(ct) };
    let r = match ct {
        DType::F32 => {
            let c = bias.map(|t| init(t).and_then(|t| t.to_vec::<f32>())).transpose()?;
            batched::<f32>(&a, &b, alpha, beta, c)?
        }
        _ => {
            let c = bias.map(|t| init(t).and_then(|t| t.to_vec::<f64>())).transpose()?;
            batched::<f64>(&a, &b, alpha, beta, c)?
        }
    };
    r.cast(ctx.out_dtype(0)?)
}

fn unsqueeze0(t: &Tensor) -> Result<Tensor, String> {
    let mut shape = vec![1];
    shape.extend_from_slice(&t.shape);
    t.clone().reshaped(shape)
}

pub fn mm(ctx: &Ctx, args: &[Value]) -> R {
    let (a, b) = (tref(&args[0])?, tref(&args[1])?);
    if a.shape.len() != 2 || b.shape.len() != 2 {
        return Err(format!("mm needs 2-d operands, got {:?} and {:?}", a.shape, b.shape));
    }
    let r = product(ctx, &unsqueeze0(a)?, &unsqueeze0(b)?, None)?;
    one(r.selected(0, 0))
}

pub fn bmm(ctx: &Ctx, args: &[Value]) -> R {
    let (a, b) = (tref(&args[0])?, tref(&args[1])?);
    if a.shape.len() != 3 || b.shape.len() != 3 || a.shape[0] != b.shape[0] {
        return Err(format!("bmm needs 3-d operands with equal batch, got {:?} and {:?}", a.shape, b.shape));
    }
    one(product(ctx, a, b, None)?)
}

pub fn addmm(ctx: &Ctx, args: &[Value]) -> R {
    let bias = tensor(&args[0])?;
    let (a, b) = (tref(&args[1])?, tref(&args[2])?);
    if a.shape.len() != 2 || b.shape.len() != 2 {
        return Err(format!("addmm needs 2-d operands, got {:?} and {:?}", a.shape, b.shape));
    }
    broadcast_shapes(&bias.shape, &[a.shape[0], b.shape[1]])?;
    let bias = bias.expanded(&[a.shape[0], b.shape[1]])?;
    let r = product(ctx, &unsqueeze0(a)?, &unsqueeze0(b)?, Some(&unsqueeze0(&bias)?))?;
    one(r.selected(0, 0))
}

pub fn pair(ctx: &Ctx, name: &str, default: usize) -> Result<[usize; 2], String> {
    let v = ctx.ints(name)?.unwrap_or_default();
    let get = |i: usize| match v.len() {
        0 => Ok(default),
        1 => usize::try_from(v[0]).map_err(|_| format!("negative {name}")),
        _ => usize::try_from(v[i]).map_err(|_| format!("negative {name}")),
    };
    Ok([get(0)?, get(1)?])
}

/// Geometry of a 2-d convolution.
#[derive(Clone, Copy)]
struct Conv {
    c: usize,
    h: usize,
    w: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    ho: usize,
    wo: usize,
}

impl Conv {
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad == [0, 0]
    }
}

/// Unfolds the `cg` channels of one sample/group plane `x` ([cg, h, w]) into
/// `col` ([cg*kh*kw, ho*wo]).
fn im2col<T: Elem>(x: &[T], g: &Conv, col: &mut [T]) {
    let plane = g.ho * g.wo;
    let fill = |row: usize, out: &mut [T]| {
        let (ci, a, b) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        let src = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for y in 0..g.ho {
            let iy = (y * g.stride[0] + a * g.dil[0]) as isize - g.pad[0] as isize;
            let dst = &mut out[y * g.wo..(y + 1) * g.wo];
            if iy < 0 || iy as usize >= g.h {
                dst.fill(T::default());
                continue;
            }
            let line = &src[iy as usize * g.w..(iy as usize + 1) * g.w];
            for (xx, d) in dst.iter_mut().enumerate() {
                let ix = (xx * g.stride[1] + b * g.dil[1]) as isize - g.pad[1] as isize;
                *d = if ix >= 0 && (ix as usize) < g.w { line[ix as usize] } else { T::default() };
            }
        }
    };
    if col.len() >= 1 << 16 {
        col.par_chunks_mut(plane).enumerate().for_each(|(row, out)| fill(row, out));
    } else {
        col.chunks_mut(plane).enumerate().for_each(|(row, out)| fill(row, out));
    }
}

fn conv_typed<T: Blas>(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, groups: usize, g: &Conv) -> Result<Tensor, String> {
    let (n, o) = (x.shape[0], w.shape[0]);
    let (xc, wc) = (x.contiguous(), w.contiguous());
    let (xv, wv) = (xc.as_slice::<T>().ok_or("input type")?, wc.as_slice::<T>().ok_or("weight type")?);
    let og = o / groups;
    let k = g.cg * g.kh * g.kw;
    let plane = g.ho * g.wo;
    let mut out = vec![T::default(); n * o * plane];
    let mut col = if g.is_pointwise() { vec![] } else { vec![T::default(); k * plane] };
    for ni in 0..n {
        for gi in 0..groups {
            let xs = &xv[(ni * g.c + gi * g.cg) * g.h * g.w..(ni * g.c + (gi + 1) * g.cg) * g.h * g.w];
            let b_ptr = if g.is_pointwise() {
                xs.as_ptr()
            } else {
                im2col(xs, g, &mut col);
                col.as_ptr()
            };
            let dst = &mut out[(ni * o + gi * og) * plane..(ni * o + (gi + 1) * og) * plane];
            // SAFETY: weights hold og*k elements from this group's start, the
            // column matrix k*plane, the destination og*plane.
            unsafe {
                T::gemm(false, false, int(og)?, int(plane)?, int(k)?, T::from_f64(1.0), wv[gi * og * k..].as_ptr(), int(k)?, b_ptr, int(plane)?, T::default(), dst.as_mut_ptr(), int(plane)?);
            }
        }
    }
    if let Some(b) = bias {
        let bv = b.cast(T::DTYPE)?.to_vec::<T>()?;
        out.par_chunks_mut(plane.max(1)).enumerate().for_each(|(i, p)| {
            let add = bv[i % o].to_f64();
            p.iter_mut().for_each(|v| *v = T::from_f64(v.to_f64() + add));
        });
    }
    Tensor::from_vec(vec![n, o, g.ho, g.wo], out)
}

/// 2-d convolution (`aten.convolution`, not transposed).
pub fn convolution(ctx: &Ctx, args: &[Value]) -> R {
    let (x, w) = (tref(&args[0])?, tref(&args[1])?);
    if x.shape.len() != 4 || w.shape.len() != 4 {
        return Err(format!("the CPU backend runs 2-d convolutions only (input {:?}, weight {:?})", x.shape, w.shape));
    }
    if ctx.flag("transposed") {
        return Err("transposed convolutions are not supported by the CPU backend yet".into());
    }
    let groups = ctx.int("groups")?.unwrap_or(1).max(1) as usize;
    let stride = pair(ctx, "stride", 1)?;
    let pad = pair(ctx, "padding", 0)?;
    let dil = pair(ctx, "dilation", 1)?;
    let (c, h, wd) = (x.shape[1], x.shape[2], x.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if cg * groups != c || o % groups != 0 || kh == 0 || kw == 0 || stride.contains(&0) {
        return Err(format!("weight {:?} does not fit input {:?} with {groups} groups", w.shape, x.shape));
    }
    let ho = (h + 2 * pad[0]).checked_sub(dil[0] * (kh - 1) + 1).ok_or("kernel larger than input")? / stride[0] + 1;
    let wo = (wd + 2 * pad[1]).checked_sub(dil[1] * (kw - 1) + 1).ok_or("kernel larger than input")? / stride[1] + 1;
    let g = Conv { c, h, w: wd, cg, kh, kw, stride, pad, dil, ho, wo };
    let bias = match args.get(2) {
        Some(Value::Tensor(b)) => Some(b),
        _ => None,
    };
    let r = match compute_type(&[x, w]) {
        DType::F32 => conv_typed::<f32>(x, w, bias, groups, &g)?,
        _ => conv_typed::<f64>(&x.cast(DType::F64)?, &w.cast(DType::F64)?, bias, groups, &g)?,
    };
    one(r.cast(ctx.out_dtype(0)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Tensor, b: &Tensor) -> Vec<f64> {
        let (av, bv) = (a.to_f64(), b.to_f64());
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
        (0..m * n).map(|i| (0..k).map(|j| av[(i / n) * k + j] * bv[j * n + i % n]).sum()).collect()
    }

    #[test]
    fn gemm_takes_strided_views_without_copies() {
        let a = Tensor::from_vec(vec![3, 4], (0..12).map(|i| i as f32 * 0.5).collect()).unwrap();
        let b = Tensor::from_vec(vec![5, 4], (0..20).map(|i| (i as f32 - 7.0) * 0.25).collect()).unwrap();
        let bt = b.permuted(&[1, 0]).unwrap(); // [4, 5], transposed storage
        for (lhs, rhs) in [(a.clone(), bt.clone()), (a.sliced(0, 2, 3, 1), bt.clone()), (a.sliced(1, 0, 4, 2), bt.sliced(0, 0, 4, 2))] {
            let mut out = vec![0f32; lhs.shape[0] * rhs.shape[1]];
            gemm_into::<f32>(&lhs, &rhs, 1.0, 0.0, &mut out).unwrap();
            let want = naive(&lhs, &rhs);
            for (x, y) in out.iter().zip(&want) {
                assert!((*x as f64 - y).abs() < 1e-4, "{out:?} vs {want:?}");
            }
        }
        let mut keep = vec![];
        assert!(as_mat::<f32>(&bt, &mut keep).unwrap().trans);
        assert!(keep.is_empty(), "a transposed weight must not be copied");
    }
}
