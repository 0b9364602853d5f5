//! Matrix products and convolution through BLAS: OpenBLAS's CBLAS interface
//! by default, or, inside a PyTorch process, the BLAS PyTorch itself carries
//! (MKL on x86 wheels) once [`use_host_blas`] finds it.
//!
//! Strided operands go to BLAS without a copy whenever one of their dims is
//! unit-stride (a transposed weight is passed as `Trans`); single-row
//! products use GEMV, the shape of an LLM decode step. Convolution is
//! im2col + one GEMM per sample and group. f32 and f64 run natively; other
//! element types compute in f64 and are stored as the plan's result type.

use crate::kernels::{broadcast_shapes, one, tensor, tref, Ctx, R};
use crate::tensor::{assume_init_vec, uninit_vec, Elem, Tensor, Value};
use genie_plan::DType;
use rayon::prelude::*;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::os::raw::c_int;
use std::sync::OnceLock;

/// Fortran BLAS entry points (`sgemm_`, ...): what both OpenBLAS and
/// PyTorch's MKL export, so one calling convention serves either.
type FortranGemm<T> = unsafe extern "C" fn(*const u8, *const u8, *const c_int, *const c_int, *const c_int, *const T, *const T, *const c_int, *const T, *const c_int, *const T, *mut T, *const c_int);
type FortranGemv<T> = unsafe extern "C" fn(*const u8, *const c_int, *const c_int, *const T, *const T, *const c_int, *const T, *const c_int, *const T, *mut T, *const c_int);

/// The BLAS products run on, loaded once.
pub struct Library {
    name: &'static str,
    sgemm: FortranGemm<f32>,
    dgemm: FortranGemm<f64>,
    sgemv: FortranGemv<f32>,
    dgemv: FortranGemv<f64>,
    /// The library runs each call on the caller's thread alone (OpenBLAS,
    /// made single-threaded here), so large products are split across
    /// rayon's threads by the caller; MKL threads itself.
    on_callers_thread: bool,
    /// OpenBLAS's kernel family ("SkylakeX", "Haswell", ...), when it says.
    core: Option<String>,
}

static BLAS: OnceLock<Result<Library, String>> = OnceLock::new();

extern "C" {
    fn dlopen(filename: *const std::ffi::c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
}

const RTLD_NOW: c_int = 2;
const RTLD_NOLOAD: c_int = 4;
const OPENBLAS: &str = "libopenblas.so.0";

/// The four products of the library `handle`, by their Fortran names.
///
/// # Safety
/// `handle` is a live dlopen handle of a library whose symbols of these
/// names have the reference BLAS signatures.
unsafe fn resolve(handle: *mut c_void, library: &str, name: &'static str, on_callers_thread: bool) -> Result<Library, String> {
    let sym = |symbol: &std::ffi::CStr| {
        // SAFETY: dlsym on a live handle with a NUL-terminated name.
        let p = unsafe { dlsym(handle, symbol.as_ptr()) };
        if p.is_null() {
            Err(format!("{library} does not export {}", symbol.to_string_lossy()))
        } else {
            Ok(p)
        }
    };
    // SAFETY: the caller vouches for the signatures; every pointer is non-null.
    unsafe {
        Ok(Library {
            name,
            sgemm: std::mem::transmute::<*mut c_void, FortranGemm<f32>>(sym(c"sgemm_")?),
            dgemm: std::mem::transmute::<*mut c_void, FortranGemm<f64>>(sym(c"dgemm_")?),
            sgemv: std::mem::transmute::<*mut c_void, FortranGemv<f32>>(sym(c"sgemv_")?),
            dgemv: std::mem::transmute::<*mut c_void, FortranGemv<f64>>(sym(c"dgemv_")?),
            on_callers_thread,
            core: None,
        })
    }
}

/// Uses the BLAS inside an already loaded shared library (PyTorch's
/// `libtorch_cpu.so`, which carries MKL) instead of OpenBLAS, so products run
/// on the same BLAS and threads as eager PyTorch. Must come before the first
/// product; the library must export the Fortran `sgemm_`, `dgemm_`, `sgemv_`
/// and `dgemv_`.
pub fn use_host_blas(library: &str) -> Result<(), String> {
    let path = std::ffi::CString::new(library).map_err(|_| "library path holds a NUL byte".to_string())?;
    // SAFETY: dlopen with RTLD_NOLOAD only returns a library already mapped
    // into the process.
    let handle = unsafe { dlopen(path.as_ptr(), RTLD_NOW | RTLD_NOLOAD) };
    if handle.is_null() {
        return Err(format!("{library} is not loaded in this process"));
    }
    // SAFETY: a live handle; MKL's Fortran BLAS has the reference signatures.
    let host = unsafe { resolve(handle, library, "host", false)? };
    match BLAS.set(Ok(host)) {
        Ok(()) => Ok(()),
        Err(_) => match BLAS.get() {
            Some(Ok(lib)) if lib.name == "host" => Ok(()),
            _ => Err("products already ran on OpenBLAS: use_host_blas must come before the first product".into()),
        },
    }
}

/// The OpenBLAS kernel family for this CPU, named for `OPENBLAS_CORETYPE`.
/// OpenBLAS picks its kernels from the CPU model, and under a hypervisor
/// that hides the model it falls back to its generic SSE3 kernels
/// ("Prescott"), which ran GEMV at half the speed of its AVX-512 ones here
/// (7.2 against 14.6 GB/s); the instruction set extensions say enough.
fn openblas_core() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") && std::arch::is_x86_feature_detected!("avx512vl") && std::arch::is_x86_feature_detected!("avx512dq") {
            return Some("SkylakeX");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some("Haswell");
        }
    }
    None
}

/// Loads OpenBLAS (at first use, not at link time, so its kernel family can
/// be chosen before it initialises) and makes it single-threaded.
fn load_openblas() -> Result<Library, String> {
    if std::env::var_os("OPENBLAS_CORETYPE").is_none() {
        if let Some(core) = openblas_core() {
            // OpenBLAS reads this once, while dlopen runs its initialiser below.
            std::env::set_var("OPENBLAS_CORETYPE", core);
        }
    }
    let path = std::ffi::CString::new(OPENBLAS).map_err(|_| "library name holds a NUL byte".to_string())?;
    // SAFETY: dlopen of a library by name; the result is checked for null.
    let handle = unsafe { dlopen(path.as_ptr(), RTLD_NOW) };
    if handle.is_null() {
        return Err(format!("matrix products need OpenBLAS, and {OPENBLAS} could not be loaded (Debian: apt-get install libopenblas0)"));
    }
    // SAFETY: a live handle to OpenBLAS, whose Fortran BLAS has the reference signatures.
    let mut lib = unsafe { resolve(handle, OPENBLAS, "openblas", true)? };
    // SAFETY: plain functions of OpenBLAS's API, `void (int)` and
    // `char *(void)` (a static string). OpenBLAS must not start its own
    // threads next to rayon's.
    unsafe {
        let p = dlsym(handle, c"openblas_set_num_threads".as_ptr());
        if !p.is_null() {
            std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int)>(p)(1);
        }
        let p = dlsym(handle, c"openblas_get_corename".as_ptr());
        if !p.is_null() {
            let name = std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const std::ffi::c_char>(p)();
            if !name.is_null() {
                lib.core = Some(std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned());
            }
        }
    }
    Ok(lib)
}

/// The BLAS products run on: the host's after [`use_host_blas`], else OpenBLAS.
pub fn blas() -> Result<&'static Library, String> {
    BLAS.get_or_init(load_openblas).as_ref().map_err(Clone::clone)
}

/// Which BLAS products run on: "host", "openblas", or "none" (not loaded yet).
pub fn blas_provider() -> &'static str {
    match BLAS.get() {
        Some(Ok(lib)) => lib.name,
        Some(Err(_)) => "unavailable",
        None => "none",
    }
}

/// The BLAS and its kernel family, for logs: "openblas (SkylakeX)".
pub fn blas_description() -> String {
    match blas() {
        Ok(Library { name, core: Some(core), .. }) => format!("{name} ({core})"),
        Ok(lib) => lib.name.to_string(),
        Err(e) => e,
    }
}

fn tchar(t: bool) -> *const u8 {
    if t {
        b"T".as_ptr()
    } else {
        b"N".as_ptr()
    }
}

/// Element types BLAS multiplies natively. `raw_*` call BLAS as is;
/// `gemm`/`gemv` split large products across the runtime's rayon threads
/// when the library runs single-threaded (OpenBLAS here), so one thread pool
/// serves kernels and products alike (two pools spinning on the same cores
/// cost more than BLAS's own threading gains).
pub trait Blas: Elem + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self> {
    fn fortran_gemm(lib: &Library) -> FortranGemm<Self>;
    fn fortran_gemv(lib: &Library) -> FortranGemv<Self>;

    /// Row-major `C = alpha op(A) op(B) + beta C` on the calling thread.
    ///
    /// # Safety
    /// Pointers must cover the matrices their dims and leading dims describe.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_gemm(lib: &Library, ta: bool, tb: bool, m: c_int, n: c_int, k: c_int, alpha: Self, a: *const Self, lda: c_int, b: *const Self, ldb: c_int, beta: Self, c: *mut Self, ldc: c_int) {
        // Row-major through column-major BLAS: C^T = op(B)^T op(A)^T.
        unsafe { Self::fortran_gemm(lib)(tchar(tb), tchar(ta), &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc) }
    }

    /// Row-major `y = op(A) x + beta y` with `A` of `m` rows and `n` columns,
    /// on the calling thread.
    ///
    /// # Safety
    /// As for `raw_gemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_gemv(lib: &Library, t: bool, m: c_int, n: c_int, a: *const Self, lda: c_int, x: *const Self, incx: c_int, beta: Self, y: *mut Self) {
        // The row-major matrix is its transpose in column-major BLAS.
        let one = Self::from_f64(1.0);
        unsafe { Self::fortran_gemv(lib)(tchar(!t), &n, &m, &one, a, &lda, x, &incx, &beta, y, &1) }
    }

    /// `raw_gemm`, split across threads when large.
    ///
    /// # Safety
    /// As for `raw_gemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(lib: &Library, ta: bool, tb: bool, m: c_int, n: c_int, k: c_int, alpha: Self, a: *const Self, lda: c_int, b: *const Self, ldb: c_int, beta: Self, c: *mut Self, ldc: c_int) {
        let parts = split_count(lib, m as f64 * n as f64 * k as f64);
        if parts == 1 {
            return unsafe { Self::raw_gemm(lib, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) };
        }
        let (a, b, c) = (a as usize, b as usize, c as usize);
        let size = std::mem::size_of::<Self>();
        // Split the longer side of C; each part is an independent product.
        let rows = m >= n;
        let len = if rows { m } else { n };
        let step = (len as usize).div_ceil(parts);
        (0..parts).into_par_iter().for_each(|p| {
            let lo = p * step;
            let hi = (lo + step).min(len as usize);
            if lo >= hi {
                return;
            }
            let part = (hi - lo) as c_int;
            // SAFETY: each part reads a sub-block of A or B and writes a
            // disjoint block of C, all inside what the caller vouched for.
            unsafe {
                if rows {
                    let a_off = if ta { lo } else { lo * lda as usize };
                    Self::raw_gemm(lib, ta, tb, part, n, k, alpha, (a + a_off * size) as *const Self, lda, b as *const Self, ldb, beta, (c + lo * ldc as usize * size) as *mut Self, ldc);
                } else {
                    let b_off = if tb { lo * ldb as usize } else { lo };
                    Self::raw_gemm(lib, ta, tb, m, part, k, alpha, a as *const Self, lda, (b + b_off * size) as *const Self, ldb, beta, (c + lo * size) as *mut Self, ldc);
                }
            }
        });
    }

    /// `raw_gemv`, split across threads when large.
    ///
    /// # Safety
    /// As for `raw_gemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemv(lib: &Library, t: bool, m: c_int, n: c_int, a: *const Self, lda: c_int, x: *const Self, incx: c_int, beta: Self, y: *mut Self) {
        let parts = split_count(lib, m as f64 * n as f64);
        if parts == 1 {
            return unsafe { Self::raw_gemv(lib, t, m, n, a, lda, x, incx, beta, y) };
        }
        let (a, x, y) = (a as usize, x as usize, y as usize);
        let size = std::mem::size_of::<Self>();
        // Split the output: rows of A (y = A x) or its columns (y = A^T x).
        let len = if t { n } else { m } as usize;
        let step = len.div_ceil(parts);
        (0..parts).into_par_iter().for_each(|p| {
            let lo = p * step;
            let hi = (lo + step).min(len);
            if lo >= hi {
                return;
            }
            let part = (hi - lo) as c_int;
            // SAFETY: each part reads a block of A and writes a disjoint run of y.
            unsafe {
                if t {
                    Self::raw_gemv(lib, t, m, part, (a + lo * size) as *const Self, lda, x as *const Self, incx, beta, (y + lo * size) as *mut Self);
                } else {
                    Self::raw_gemv(lib, t, part, n, (a + lo * lda as usize * size) as *const Self, lda, x as *const Self, incx, beta, (y + lo * size) as *mut Self);
                }
            }
        });
    }
}

/// How many parts a product of `work` multiply-adds is split into: one when
/// small (or when the library threads itself), else one per thread.
fn split_count(lib: &Library, work: f64) -> usize {
    if !lib.on_callers_thread {
        return 1;
    }
    let threads = rayon::current_num_threads();
    if threads <= 1 || work < 1.0e6 {
        1
    } else {
        threads
    }
}

impl Library {
    /// Whether each call runs on the calling thread only (see the field).
    pub(crate) fn on_callers_thread(&self) -> bool {
        self.on_callers_thread
    }
}

impl Blas for f32 {
    fn fortran_gemm(lib: &Library) -> FortranGemm<f32> {
        lib.sgemm
    }
    fn fortran_gemv(lib: &Library) -> FortranGemv<f32> {
        lib.sgemv
    }
}

impl Blas for f64 {
    fn fortran_gemm(lib: &Library) -> FortranGemm<f64> {
        lib.dgemm
    }
    fn fortran_gemv(lib: &Library) -> FortranGemv<f64> {
        lib.dgemv
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
    let lib = blas()?;
    let mut keep = vec![];
    let (ma, mb) = (as_mat::<T>(a, &mut keep)?, as_mat::<T>(b, &mut keep)?);
    // SAFETY: `as_mat` describes each operand within its storage; `out`
    // holds m*n elements with leading dimension n.
    unsafe {
        if m == 1 && alpha.to_f64() == 1.0 && ma.row_step > 0 {
            // One row: y[n] = B^T a, a matrix-vector product.
            let (t, rows, cols) = if mb.trans { (false, n, k) } else { (true, k, n) };
            T::gemv(lib, t, int(rows)?, int(cols)?, mb.ptr, int(mb.ld)?, ma.ptr, int(ma.row_step)?, beta, out.as_mut_ptr());
        } else {
            T::gemm(lib, ma.trans, mb.trans, int(m)?, int(n)?, int(k)?, alpha, ma.ptr, int(ma.ld)?, mb.ptr, int(mb.ld)?, beta, out.as_mut_ptr(), int(n)?);
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
pub(crate) struct Conv {
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) cg: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: [usize; 2],
    pub(crate) pad: [usize; 2],
    pub(crate) dil: [usize; 2],
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Conv {
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad == [0, 0]
    }
}

/// Unfolds the `cg` channels of the sample/group planes `xs` (each [cg, h,
/// w]) into `col` ([cg*kh*kw, samples*ho*wo]: each row holds every sample's
/// pixels in turn), writing every element. Each output line is a run of an
/// input line with zeros where the window hangs over the padding. At a
/// column stride above one, each input line is first split into its stride
/// phases (`x[.., p::stride]` one after another), so every run is contiguous.
fn im2col<T: Elem>(xs: &[&[T]], g: &Conv, col: &mut [MaybeUninit<T>]) {
    let plane = g.ho * g.wo;
    let s = g.stride[1];
    let count = xs.len();
    let phased: Vec<Vec<T>> = if s == 1 { vec![] } else { xs.iter().map(|x| split_phases(x, g.w, s)).collect() };
    let sample = |i: usize| if s == 1 { xs[i] } else { &phased[i][..] };
    // Where phase p starts inside a phased line.
    let phase_start = |p: usize| (0..p).map(|q| (g.w - q).div_ceil(s)).sum::<usize>();
    let zero = MaybeUninit::new(T::default());
    // Chunk j of `col` is row j / count for sample j % count.
    let fill = |j: usize, out: &mut [MaybeUninit<T>]| {
        let row = j / count;
        let (ci, a, b) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        let src = &sample(j % count)[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        // Output columns whose input column lies inside the image.
        let shift = (b * g.dil[1]) as isize - g.pad[1] as isize;
        let si = s as isize;
        let lo = if shift >= 0 { 0 } else { ((-shift + si - 1) / si) as usize };
        let hi = ((g.w as isize - shift + si - 1) / si).clamp(0, g.wo as isize) as usize;
        // Input column x*s + shift sits in phase shift mod s, at x + shift div s.
        let first = (phase_start(shift.rem_euclid(si) as usize) as isize + lo as isize + shift.div_euclid(si)) as usize;
        for y in 0..g.ho {
            let iy = (y * g.stride[0] + a * g.dil[0]) as isize - g.pad[0] as isize;
            let dst = &mut out[y * g.wo..(y + 1) * g.wo];
            if iy < 0 || iy as usize >= g.h || lo >= hi {
                dst.fill(zero);
                continue;
            }
            let line = &src[iy as usize * g.w..(iy as usize + 1) * g.w];
            dst[..lo].fill(zero);
            dst[hi..].fill(zero);
            for (d, &v) in dst[lo..hi].iter_mut().zip(&line[first..first + (hi - lo)]) {
                d.write(v);
            }
        }
    };
    if col.len() >= 1 << 16 {
        col.par_chunks_mut(plane).enumerate().for_each(|(row, out)| fill(row, out));
    } else {
        col.chunks_mut(plane).enumerate().for_each(|(row, out)| fill(row, out));
    }
}

/// Every line of `x` (lines of `w`) rearranged by phase: the elements at
/// columns 0, s, 2s, .., then 1, 1+s, .., and so on.
fn split_phases<T: Elem>(x: &[T], w: usize, s: usize) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    let split = |(src, dst): (&[T], &mut [T])| {
        let mut at = 0;
        for p in 0..s.min(w) {
            for v in src[p..].iter().step_by(s) {
                dst[at] = *v;
                at += 1;
            }
        }
    };
    if x.len() >= 1 << 16 {
        x.par_chunks(w).zip(out.par_chunks_mut(w)).for_each(split);
    } else {
        x.chunks(w).zip(out.chunks_mut(w)).for_each(split);
    }
    out
}

fn conv_typed<T: Blas>(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, groups: usize, g: &Conv) -> Result<Tensor, String> {
    let lib = blas()?;
    let (n, o) = (x.shape[0], w.shape[0]);
    let (xc, wc) = (x.contiguous(), w.contiguous());
    let (xv, wv) = (xc.as_slice::<T>().ok_or("input type")?, wc.as_slice::<T>().ok_or("weight type")?);
    let og = o / groups;
    let k = g.cg * g.kh * g.kw;
    let plane = g.ho * g.wo;
    if k == 0 || plane == 0 {
        // No input channels (or no pixels): nothing for BLAS to write.
        return finish_conv(vec![T::default(); n * o * plane], bias, n, o, g);
    }
    if crate::winograd::applies(g, groups, n) {
        return finish_conv(crate::winograd::conv3x3(xv, wv, n, o, g)?, bias, n, o, g);
    }
    // Small planes: several samples share one product (wider, so faster;
    // for a pointwise convolution that costs a copy of the input). Large
    // pointwise ones read the input in place, one sample at a time.
    let batch = samples_per_product(plane, k, n);
    let in_place = g.is_pointwise() && batch == 1;
    // Every element of these is written (by im2col, a product with beta 0 or
    // the copy back) before it is read.
    let mut out = uninit_vec::<T>(n * o * plane);
    let mut col = uninit_vec::<T>(if in_place { 0 } else { k * batch * plane });
    let mut tmp = uninit_vec::<T>(if batch == 1 && plane >= og { 0 } else { batch * plane * og });
    for first in (0..n).step_by(batch) {
        let count = batch.min(n - first);
        let cols = count * plane;
        // Few pixels, many channels (the deep layers): BLAS is faster on the
        // transposed product (pixels × channels), transposed back into place
        // afterwards; otherwise it writes output channels × pixels, straight
        // into the NCHW output when there is one sample.
        let pixel_major = cols < og;
        let direct = count == 1 && !pixel_major;
        for gi in 0..groups {
            let input = |s: usize| &xv[((first + s) * g.c + gi * g.cg) * g.h * g.w..][..g.cg * g.h * g.w];
            let b_ptr = if in_place {
                input(0).as_ptr()
            } else {
                let xs: Vec<&[T]> = (0..count).map(input).collect();
                im2col(&xs, g, &mut col[..k * cols]);
                col.as_ptr().cast::<T>()
            };
            let w_ptr = wv[gi * og * k..].as_ptr();
            let dst_ptr = if direct { out[(first * o + gi * og) * plane..].as_mut_ptr() } else { tmp.as_mut_ptr() }.cast::<T>();
            // SAFETY: weights hold og*k elements from this group's start, the
            // column matrix k*cols, the destination og*cols (out or tmp).
            unsafe {
                if pixel_major {
                    T::gemm(lib, true, true, int(cols)?, int(og)?, int(k)?, T::from_f64(1.0), b_ptr, int(cols)?, w_ptr, int(k)?, T::default(), dst_ptr, int(og)?);
                } else {
                    T::gemm(lib, false, false, int(og)?, int(cols)?, int(k)?, T::from_f64(1.0), w_ptr, int(k)?, b_ptr, int(cols)?, T::default(), dst_ptr, int(cols)?);
                }
            }
            if direct {
                continue;
            }
            for si in 0..count {
                let dst = &mut out[((first + si) * o + gi * og) * plane..][..og * plane];
                if pixel_major {
                    // Blocks of pixels keep both sides of the transpose in cache.
                    for p0 in (0..plane).step_by(64) {
                        let p1 = (p0 + 64).min(plane);
                        for (oc, line) in dst.chunks_mut(plane).enumerate() {
                            for p in p0..p1 {
                                line[p] = tmp[(si * plane + p) * og + oc];
                            }
                        }
                    }
                } else {
                    for (oc, line) in dst.chunks_mut(plane).enumerate() {
                        line.copy_from_slice(&tmp[oc * cols + si * plane..][..plane]);
                    }
                }
            }
        }
    }
    // SAFETY: every output element was written (see above).
    finish_conv(unsafe { assume_init_vec(out) }, bias, n, o, g)
}

/// How many samples' pixels go through one product: enough for about a
/// thousand columns, within 32 MiB of unfolded input.
fn samples_per_product(plane: usize, k: usize, n: usize) -> usize {
    let by_width = 1024usize.div_ceil(plane.max(1));
    let by_memory = (32usize << 20) / (k * plane * 8).max(1);
    by_width.min(by_memory).clamp(1, n.max(1))
}

/// Adds the bias per output channel and wraps the NCHW result.
fn finish_conv<T: Elem>(mut out: Vec<T>, bias: Option<&Tensor>, n: usize, o: usize, g: &Conv) -> Result<Tensor, String> {
    let plane = g.ho * g.wo;
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
    fn openblas_runs_the_kernels_of_this_cpu_not_the_generic_ones() {
        // Under a hypervisor hiding the CPU model OpenBLAS would pick its
        // SSE3 "Prescott" kernels; the runtime names the family it has.
        let lib = blas().unwrap();
        if lib.name == "openblas" && openblas_core().is_some() && std::env::var_os("OPENBLAS_CORETYPE").map(|c| c == openblas_core().unwrap()).unwrap_or(false) {
            assert_eq!(lib.core.as_deref().map(str::to_ascii_lowercase), openblas_core().map(str::to_ascii_lowercase), "{}", blas_description());
        }
        assert_ne!(lib.core.as_deref(), Some("Prescott"), "{}", blas_description());
    }

    #[test]
    fn convolution_matches_the_definition_across_batching_and_layouts() {
        // (n, c, o, h, w, k, stride, pad, groups): samples batched into one
        // product (both orientations), grouped, pointwise (copied and batched, or
        // read in place), one sample direct.
        for (n, c, o, h, w, k, st, pad, groups) in [(3, 4, 6, 5, 5, 3, 2, 1, 1), (3, 4, 64, 5, 5, 3, 2, 1, 1), (2, 4, 6, 6, 6, 3, 1, 1, 2), (2, 3, 5, 4, 4, 1, 1, 0, 1), (2, 3, 5, 32, 32, 1, 1, 0, 1), (1, 3, 4, 40, 40, 3, 2, 1, 1)] {
            let cg = c / groups;
            let og = o / groups;
            let ho = (h + 2 * pad - k) / st + 1;
            let wo = (w + 2 * pad - k) / st + 1;
            let xv: Vec<f64> = (0..n * c * h * w).map(|i| ((i * 7919 % 89) as f64 - 44.0) / 8.0).collect();
            let wv: Vec<f64> = (0..o * cg * k * k).map(|i| ((i * 104729 % 53) as f64 - 26.0) / 16.0).collect();
            let x = Tensor::from_vec(vec![n, c, h, w], xv.clone()).unwrap();
            let wt = Tensor::from_vec(vec![o, cg, k, k], wv.clone()).unwrap();
            let g = Conv { c, h, w, cg, kh: k, kw: k, stride: [st; 2], pad: [pad; 2], dil: [1, 1], ho, wo };
            let got = conv_typed::<f64>(&x, &wt, None, groups, &g).unwrap().to_vec::<f64>().unwrap();
            for s in 0..n {
                for oc in 0..o {
                    let gi = oc / og;
                    for y in 0..ho {
                        for xx in 0..wo {
                            let mut want = 0.0;
                            for ci in 0..cg {
                                for a in 0..k {
                                    for b in 0..k {
                                        let (iy, ix) = ((y * st + a) as isize - pad as isize, (xx * st + b) as isize - pad as isize);
                                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                            want += xv[((s * c + gi * cg + ci) * h + iy as usize) * w + ix as usize] * wv[((oc * cg + ci) * k + a) * k + b];
                                        }
                                    }
                                }
                            }
                            let at = ((s * o + oc) * ho + y) * wo + xx;
                            assert!((got[at] - want).abs() < 1e-9, "case n{n} c{c} o{o} {h}x{w} k{k} s{st} g{groups}: sample {s} channel {oc} ({y}, {xx}) is {}, want {want}", got[at]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn im2col_matches_the_definition() {
        for (h, w, k, stride, pad, dil) in [(5, 6, 3, 1, 1, 1), (7, 7, 3, 2, 1, 1), (6, 5, 2, 3, 2, 2), (4, 4, 1, 2, 0, 1), (3, 3, 3, 1, 0, 1), (9, 11, 3, 4, 1, 1), (64, 64, 7, 2, 3, 1), (130, 262, 3, 2, 1, 1)] {
            let x: Vec<f32> = (0..2 * h * w).map(|i| i as f32 + 1.0).collect();
            let ho = (h + 2 * pad - dil * (k - 1) - 1) / stride + 1;
            let wo = (w + 2 * pad - dil * (k - 1) - 1) / stride + 1;
            let g = Conv { c: 2, h, w, cg: 2, kh: k, kw: k, stride: [stride; 2], pad: [pad; 2], dil: [dil; 2], ho, wo };
            let mut col = uninit_vec::<f32>(2 * k * k * ho * wo);
            im2col(&[&x[..]], &g, &mut col);
            // SAFETY: im2col writes every element.
            let col = unsafe { assume_init_vec(col) };
            for (row, line) in col.chunks(ho * wo).enumerate() {
                let (ci, a, b) = (row / (k * k), (row / k) % k, row % k);
                for (i, &v) in line.iter().enumerate() {
                    let iy = (i / wo * stride + a * dil) as isize - pad as isize;
                    let ix = (i % wo * stride + b * dil) as isize - pad as isize;
                    let want = if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w { x[ci * h * w + iy as usize * w + ix as usize] } else { 0.0 };
                    assert_eq!(v, want, "h{h} w{w} k{k} s{stride} p{pad} d{dil} row {row} col {i}");
                }
            }
        }
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
