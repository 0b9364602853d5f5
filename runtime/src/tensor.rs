//! Host tensors: a shared, read-only storage plus shape, strides and an
//! offset, so views (reshape, permute, expand, slice, select) never copy.
//!
//! Storage is either a `Vec` the runtime allocated or memory borrowed from
//! the caller (a torch tensor, kept alive by an owner handle), which is how
//! weights and inputs enter a plan without a copy. Every element type of the
//! IR is held: f32, f64, f16, bf16, i64, i32, i16, i8, u8 and bool.

pub use genie_plan::DType;
use half::{bf16, f16};
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// An element type the CPU backend stores natively.
pub trait Elem: Copy + Default + Send + Sync + PartialEq + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

macro_rules! elem {
    ($t:ty, $d:ident, $to:expr, $from:expr) => {
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                $to(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                $from(v)
            }
        }
    };
}

elem!(f32, F32, |x: f32| x as f64, |v: f64| v as f32);
elem!(f64, F64, |x: f64| x, |v: f64| v);
elem!(f16, F16, |x: f16| x.to_f64(), f16::from_f64);
elem!(bf16, BF16, |x: bf16| x.to_f64(), bf16::from_f64);
elem!(i64, I64, |x: i64| x as f64, |v: f64| v as i64);
elem!(i32, I32, |x: i32| x as f64, |v: f64| v as i32);
elem!(i16, I16, |x: i16| x as f64, |v: f64| v as i16);
elem!(i8, I8, |x: i8| x as f64, |v: f64| v as i8);
elem!(u8, U8, |x: u8| x as f64, |v: f64| v as u8);
elem!(bool, I1, |x: bool| if x { 1.0 } else { 0.0 }, |v: f64| v != 0.0);

/// Runs `$body` with `$T` bound to the Rust type of dtype `$d`.
#[macro_export]
macro_rules! with_elem {
    ($d:expr, $T:ident => $body:expr) => {
        match $d {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::tensor::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::tensor::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::tensor::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::tensor::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::tensor::DType::I1 => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Bytes a tensor's elements live in; never written while shared.
pub struct Storage {
    ptr: *const u8,
    bytes: usize,
    /// Memory the runtime allocated (not borrowed from the caller): it may
    /// be written through [`Storage::bytes_mut`] while held exclusively.
    writable: bool,
    /// Memory only the runtime's kernels write (through [`OutBuf`]-style
    /// buffers): its bools need no check.
    ///
    /// [`OutBuf`]: crate::kernels::OutBuf
    kernel_written: bool,
    _owner: Box<dyn Any + Send + Sync>,
    /// Released after the memory (an allocator's account).
    _guard: Option<Box<dyn Any + Send + Sync>>,
    /// For an append buffer: how far it is filled (see [`crate::append`]).
    pub(crate) growth: Option<crate::append::Growth>,
}

// SAFETY: the memory is read-only while shared (the runtime writes a buffer
// only through `&mut Storage`, i.e. before sharing it or while it holds the
// only reference; external memory is the caller's promise, see
// `Storage::external`), so sharing it between threads is sound.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    pub fn from_vec<T: Elem>(v: Vec<T>) -> Storage {
        let bytes = std::mem::size_of_val(v.as_slice());
        let ptr = v.as_ptr().cast::<u8>();
        // Moving the Vec into the box keeps its heap buffer where it is.
        Storage { ptr, bytes, writable: true, kernel_written: false, _owner: Box::new(v), _guard: None, growth: None }
    }

    /// `bytes` of uninitialised memory, aligned for every dtype; an error
    /// (not an abort) when the allocation fails.
    pub fn alloc(bytes: usize) -> Result<Storage, String> {
        let mut words: Vec<std::mem::MaybeUninit<u64>> = Vec::new();
        words.try_reserve_exact(bytes.div_ceil(8)).map_err(|_| format!("out of memory: cannot allocate {bytes} bytes"))?;
        // SAFETY: MaybeUninit needs no initialisation.
        unsafe { words.set_len(bytes.div_ceil(8)) };
        let ptr = words.as_ptr().cast::<u8>();
        Ok(Storage { ptr, bytes, writable: true, kernel_written: true, _owner: Box::new(words), _guard: None, growth: None })
    }

    /// The same storage, also keeping `guard` until it is dropped.
    pub fn with_guard(mut self, guard: Box<dyn Any + Send + Sync>) -> Storage {
        self._guard = Some(guard);
        self
    }

    /// Memory owned elsewhere, kept alive by `owner`.
    ///
    /// # Safety
    /// `ptr` must be valid for reads of `bytes` bytes for as long as `owner`
    /// lives, and nothing may write it while the runtime can read it.
    pub unsafe fn external(ptr: *const u8, bytes: usize, owner: Box<dyn Any + Send + Sync>) -> Storage {
        Storage { ptr, bytes, writable: false, kernel_written: false, _owner: owner, _guard: None, growth: None }
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// One of the runtime's append buffers (see [`crate::append`]): what
    /// any view of it shows never changes, so results may share it.
    pub fn is_append_buffer(&self) -> bool {
        self.growth.is_some()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The memory for writing, when the runtime allocated it (`&mut`
    /// proves nobody else can read it meanwhile).
    pub fn bytes_mut(&mut self) -> Option<&mut [std::mem::MaybeUninit<u8>]> {
        // SAFETY: runtime-allocated memory of `bytes` bytes, held exclusively.
        self.writable.then(|| unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut std::mem::MaybeUninit<u8>, self.bytes) })
    }
}

impl Tensor {
    /// A view made by the runtime itself over runtime-written memory, whose
    /// bounds the caller has checked.
    pub(crate) fn view_unchecked(storage: Arc<Storage>, dtype: DType, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Tensor {
        debug_assert!(reach(&shape, &strides, offset).is_some_and(|e| e * dtype.byte_size() <= storage.bytes));
        Tensor { shape, strides, offset, dtype, storage }
    }
}

#[derive(Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
    dtype: DType,
    storage: Arc<Storage>,
}

/// A runtime value: what a plan value holds while the plan runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Tensor(Tensor),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
}

/// The bytes of a word buffer (see [`Tensor::word_buffer`]).
pub fn words_as_bytes(words: &mut [u64], bytes: usize) -> &mut [u8] {
    assert!(bytes <= words.len() * 8, "{bytes} bytes do not fit {} words", words.len());
    // SAFETY: u64 has no invalid bit patterns and a stricter alignment than
    // u8; the slice covers memory the words own.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), bytes) }
}

/// A buffer of `n` elements not yet written: for kernels that write every
/// element (a copy, a fill, a BLAS product with beta 0) before anything
/// reads it, which would otherwise pay a zeroing pass over it first.
pub(crate) fn uninit_vec<T>(n: usize) -> Vec<std::mem::MaybeUninit<T>> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: MaybeUninit<T> needs no initialisation.
    unsafe { v.set_len(n) };
    v
}

/// The buffer of [`uninit_vec`] once written.
///
/// # Safety
/// Every element must have been written.
pub(crate) unsafe fn assume_init_vec<T>(v: Vec<std::mem::MaybeUninit<T>>) -> Vec<T> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: same allocation, layout and length; the caller vouches that the
    // elements are initialised.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<T>(), v.len(), v.capacity()) }
}

/// One past the last element a strided view reaches (0 when empty).
pub fn reach(shape: &[usize], strides: &[usize], offset: usize) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().zip(strides).try_fold(offset + 1, |acc, (&n, &s)| (n - 1).checked_mul(s).and_then(|x| x.checked_add(acc)))
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous tensor.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Offsets (in elements) of every element of a strided layout, row-major.
pub fn offsets(shape: &[usize], strides: &[usize], offset: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(numel(shape));
    for_each_row(shape, strides, offset, |base, step, len| out.extend((0..len).map(|j| base + j * step)));
    out
}

/// Calls `f(base, step, len)` for each innermost run of a strided layout,
/// in row-major order, after merging dims that are contiguous with each other.
pub fn for_each_row(shape: &[usize], strides: &[usize], offset: usize, mut f: impl FnMut(usize, usize, usize)) {
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = collapse(shape, strides);
    let Some((&len, outer)) = shape.split_last() else {
        return f(offset, 1, 1);
    };
    let step = *strides.last().unwrap_or(&1);
    let mut idx = vec![0usize; outer.len()];
    let mut base = offset;
    loop {
        f(base, step, len);
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            base += strides[d];
            if idx[d] < outer[d] {
                break;
            }
            base -= strides[d] * outer[d];
            idx[d] = 0;
        }
    }
}

/// Drops size-1 dims and merges neighbours whose strides chain.
fn collapse(shape: &[usize], strides: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let (mut sh, mut st): (Vec<usize>, Vec<usize>) = (Vec::with_capacity(shape.len()), Vec::with_capacity(shape.len()));
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        match (sh.last_mut(), st.last_mut()) {
            (Some(pn), Some(ps)) if *ps == s * n => {
                *pn *= n;
                *ps = s;
            }
            _ => {
                sh.push(n);
                st.push(s);
            }
        }
    }
    (sh, st)
}

impl Tensor {
    /// A contiguous tensor owning `data`.
    pub fn from_vec<T: Elem>(shape: Vec<usize>, data: Vec<T>) -> Result<Tensor, String> {
        if numel(&shape) != data.len() {
            return Err(format!("shape {shape:?} needs {} elements, got {}", numel(&shape), data.len()));
        }
        let st = strides(&shape);
        Ok(Tensor { shape, strides: st, offset: 0, dtype: T::DTYPE, storage: Arc::new(Storage::from_vec(data)) })
    }

    /// A view of `storage`; fails unless every element lies inside it and
    /// the storage is aligned for `dtype` (so element reads are always sound).
    pub fn from_storage(storage: Arc<Storage>, dtype: DType, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Result<Tensor, String> {
        if strides.len() != shape.len() {
            return Err(format!("{} strides for {} dims", strides.len(), shape.len()));
        }
        let size = dtype.byte_size();
        if !(storage.ptr as usize).is_multiple_of(size) {
            return Err(format!("{dtype} data at {:p} is not aligned to {size} bytes", storage.ptr));
        }
        let end = reach(&shape, &strides, offset).ok_or("strides overflow")?;
        if end.checked_mul(size).is_none_or(|b| b > storage.bytes) {
            return Err(format!("a view of {shape:?} with strides {strides:?} at offset {offset} reaches past the {} bytes of its storage", storage.bytes));
        }
        if dtype == DType::I1 && !storage.kernel_written {
            // Bytes other than 0 and 1 are not valid `bool`s (the runtime's
            // own kernels write only valid ones).
            // SAFETY: the view's bytes are within the storage (checked above).
            let raw = unsafe { std::slice::from_raw_parts(storage.ptr, end) };
            if raw.iter().any(|&b| b > 1) {
                return Err("bool data holds bytes other than 0 and 1".into());
            }
        }
        Ok(Tensor { shape, strides, offset, dtype, storage })
    }

    pub fn scalar<T: Elem>(v: T) -> Tensor {
        Tensor { shape: vec![], strides: vec![], offset: 0, dtype: T::DTYPE, storage: Arc::new(Storage::from_vec(vec![v])) }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Whether the elements are laid out row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1;
        for (&n, &s) in self.shape.iter().zip(&self.strides).rev() {
            if n != 1 && s != expect {
                return false;
            }
            expect *= n;
        }
        true
    }

    /// The storage as elements of `T`, up to the last one this view
    /// reaches (views index into it; memory past it, such as the room an
    /// append buffer keeps, is not part of the slice).
    pub fn storage_slice<T: Elem>(&self) -> Result<&[T], String> {
        if T::DTYPE != self.dtype {
            return Err(format!("expected a {} tensor, got {}", T::DTYPE, self.dtype));
        }
        let end = reach(&self.shape, &self.strides, self.offset).expect("checked when the view was made");
        // SAFETY: `from_storage`/`from_vec` checked alignment and bounds, the
        // dtype matches `T` (bools were checked to be 0/1), and no element a
        // view reaches is written while the storage is shared.
        Ok(unsafe { std::slice::from_raw_parts(self.storage.ptr.cast::<T>(), end) })
    }

    /// The elements, if contiguous and of type `T`.
    pub fn as_slice<T: Elem>(&self) -> Option<&[T]> {
        if T::DTYPE != self.dtype || !self.is_contiguous() {
            return None;
        }
        self.storage_slice::<T>().ok().map(|s| &s[self.offset..self.offset + self.numel()])
    }

    /// The elements in row-major order, of type `T` (which must be the dtype).
    pub fn to_vec<T: Elem>(&self) -> Result<Vec<T>, String> {
        if let Some(s) = self.as_slice::<T>() {
            return Ok(s.to_vec());
        }
        let src = self.storage_slice::<T>()?;
        let mut out = Vec::with_capacity(self.numel());
        for_each_row(&self.shape, &self.strides, self.offset, |base, step, len| {
            if step == 1 {
                out.extend_from_slice(&src[base..base + len]);
            } else {
                out.extend((0..len).map(|j| src[base + j * step]));
            }
        });
        Ok(out)
    }

    /// Row-major elements converted to `U`.
    fn convert<U>(&self, f64_to: impl Fn(f64) -> U) -> Vec<U> {
        with_elem!(self.dtype, T => {
            let src = self.storage_slice::<T>().expect("dtype matches");
            let mut out = Vec::with_capacity(self.numel());
            for_each_row(&self.shape, &self.strides, self.offset, |base, step, len| {
                out.extend((0..len).map(|j| f64_to(src[base + j * step].to_f64())));
            });
            out
        })
    }

    /// Every element as f64 (exact for integers up to 2^53).
    pub fn to_f64(&self) -> Vec<f64> {
        self.as_slice::<f64>().map(<[f64]>::to_vec).unwrap_or_else(|| self.convert(|x| x))
    }

    pub fn to_i64(&self) -> Vec<i64> {
        match self.dtype {
            DType::I64 => self.to_vec::<i64>().expect("dtype matches"),
            _ => self.convert(|x| x as i64),
        }
    }

    /// Builds a tensor of `dtype` from f64 values (the generic compute path).
    pub fn from_f64(shape: Vec<usize>, dtype: DType, v: Vec<f64>) -> Result<Tensor, String> {
        with_elem!(dtype, T => Tensor::from_vec(shape, v.into_iter().map(T::from_f64).collect::<Vec<T>>()))
    }

    pub fn zeros(shape: Vec<usize>, dtype: DType) -> Result<Tensor, String> {
        with_elem!(dtype, T => Tensor::from_vec(shape.clone(), vec![T::default(); numel(&shape)]))
    }

    /// The same elements as another dtype (a no-op view when it already is).
    pub fn cast(&self, dtype: DType) -> Result<Tensor, String> {
        if dtype == self.dtype {
            return Ok(self.clone());
        }
        with_elem!(dtype, T => Tensor::from_vec(self.shape.clone(), self.convert(T::from_f64)))
    }

    /// A contiguous tensor with the same elements (shares storage when it
    /// already is contiguous).
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        with_elem!(self.dtype, T => Tensor::from_vec(self.shape.clone(), self.to_vec::<T>().expect("dtype matches")).expect("sizes match"))
    }

    /// A contiguous copy in fresh memory (even when already contiguous).
    pub fn copied(&self) -> Tensor {
        with_elem!(self.dtype, T => Tensor::from_vec(self.shape.clone(), self.to_vec::<T>().expect("dtype matches")).expect("sizes match"))
    }

    /// A view with new shape and strides over the same storage.
    fn restrided(&self, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Tensor {
        Tensor { shape, strides, offset, dtype: self.dtype, storage: self.storage.clone() }
    }

    /// Same elements, another shape: a view when the strides allow it (as
    /// `torch.Tensor.view`), otherwise a contiguous copy (as `reshape`).
    pub fn reshaped(self, shape: Vec<usize>) -> Result<Tensor, String> {
        if numel(&shape) != self.numel() {
            return Err(format!("cannot view {:?} ({} elements) as {:?}", self.shape, self.numel(), shape));
        }
        if let Some(st) = view_strides(&self.shape, &self.strides, &shape) {
            return Ok(self.restrided(shape, st, self.offset));
        }
        let c = self.contiguous();
        let st = strides(&shape);
        Ok(c.restrided(shape, st, c.offset))
    }

    /// Dims reordered (a view).
    pub fn permuted(&self, perm: &[usize]) -> Result<Tensor, String> {
        let mut seen = vec![false; self.shape.len()];
        if perm.len() != self.shape.len() || perm.iter().any(|&p| p >= seen.len() || std::mem::replace(&mut seen[p], true)) {
            return Err(format!("{perm:?} is not a permutation of {} dims", self.shape.len()));
        }
        Ok(self.restrided(perm.iter().map(|&p| self.shape[p]).collect(), perm.iter().map(|&p| self.strides[p]).collect(), self.offset))
    }

    /// Broadcast to `shape` (a view with zero strides on broadcast dims).
    pub fn expanded(&self, shape: &[usize]) -> Result<Tensor, String> {
        if shape.len() < self.shape.len() {
            return Err(format!("cannot expand {:?} to fewer dims {shape:?}", self.shape));
        }
        let lead = shape.len() - self.shape.len();
        let mut st = vec![0; shape.len()];
        for (i, &n) in shape.iter().enumerate().skip(lead) {
            let (have, s) = (self.shape[i - lead], self.strides[i - lead]);
            st[i] = match have {
                h if h == n => s,
                1 => 0,
                _ => return Err(format!("cannot expand {:?} to {shape:?}", self.shape)),
            };
        }
        Ok(self.restrided(shape.to_vec(), st, self.offset))
    }

    /// Elements `start, start+step, …` (< `end`) along `dim` (a view).
    pub fn sliced(&self, dim: usize, start: usize, end: usize, step: usize) -> Tensor {
        let mut shape = self.shape.clone();
        let mut st = self.strides.clone();
        shape[dim] = end.saturating_sub(start).div_ceil(step.max(1));
        let offset = if shape[dim] == 0 { self.offset } else { self.offset + start * self.strides[dim] };
        st[dim] *= step.max(1);
        self.restrided(shape, st, offset)
    }

    /// Index `i` of `dim`, which is removed (a view).
    pub fn selected(&self, dim: usize, i: usize) -> Tensor {
        let mut shape = self.shape.clone();
        let mut st = self.strides.clone();
        let offset = self.offset + i * st[dim];
        shape.remove(dim);
        st.remove(dim);
        self.restrided(shape, st, offset)
    }

    /// Gathers elements by logical (row-major) index, keeping the element type.
    pub fn gather(&self, shape: Vec<usize>, index: impl Iterator<Item = usize>) -> Tensor {
        with_elem!(self.dtype, T => {
            let src = self.storage_slice::<T>().expect("dtype matches");
            let v: Vec<T> = if self.is_contiguous() {
                let s = &src[self.offset..];
                index.map(|i| s[i]).collect()
            } else {
                let offs = offsets(&self.shape, &self.strides, self.offset);
                index.map(|i| src[offs[i]]).collect()
            };
            Tensor::from_vec(shape, v).expect("gather produces one element per index")
        })
    }

    /// Raw little-endian bytes in row-major order (bools as one byte each).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.contiguous().contiguous_bytes().expect("contiguous() makes a contiguous tensor").to_vec()
    }

    /// The bytes of a contiguous tensor, in row-major order; `None` for a
    /// strided view (call [`Tensor::contiguous`] first). No copy.
    pub fn contiguous_bytes(&self) -> Option<&[u8]> {
        if !self.is_contiguous() {
            return None;
        }
        if self.numel() == 0 {
            // Empty tensors may have a null data pointer.
            return Some(&[]);
        }
        let size = self.dtype.byte_size();
        // SAFETY: bounds were checked when the view was made; contiguous
        // means the elements are the `numel` ones from `offset` on.
        Some(unsafe { std::slice::from_raw_parts(self.storage.ptr.add(self.offset * size), self.numel() * size) })
    }

    /// A new contiguous tensor whose bytes `fill` writes (e.g. straight
    /// from a socket). Bool data must be 0 or 1.
    pub fn filled_by(dtype: DType, shape: Vec<usize>, fill: impl FnOnce(&mut [u8]) -> Result<(), String>) -> Result<Tensor, String> {
        if dtype == DType::I1 {
            // Bytes are checked before they become `bool`s.
            let mut raw = vec![0u8; numel(&shape)];
            fill(&mut raw)?;
            if raw.iter().any(|&b| b > 1) {
                return Err("bool data holds bytes other than 0 and 1".into());
            }
            return Tensor::from_vec(shape, raw.into_iter().map(|b| b == 1).collect::<Vec<bool>>());
        }
        with_elem!(dtype, T => {
            let mut v = vec![T::default(); numel(&shape)];
            let bytes = std::mem::size_of_val(v.as_slice());
            // SAFETY: the buffer holds exactly `bytes` initialised bytes, and
            // every bit pattern is a valid `T` for the non-bool dtypes.
            let raw = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), bytes) };
            fill(raw)?;
            Tensor::from_vec(shape, v)
        })
    }

    /// A buffer for `bytes` bytes of tensor data, aligned for every dtype;
    /// fill it through [`words_as_bytes`], then wrap it with
    /// [`Tensor::from_words`]. For readers that cannot take a closure
    /// (async IO).
    pub fn word_buffer(bytes: usize) -> Vec<u64> {
        vec![0u64; bytes.div_ceil(8)]
    }

    /// A contiguous tensor over `words` (its first `numel * size` bytes,
    /// host byte order), without copying; bool data is checked.
    pub fn from_words(words: Vec<u64>, dtype: DType, shape: Vec<usize>) -> Result<Tensor, String> {
        let bytes = numel(&shape) * dtype.byte_size();
        if bytes > words.len() * 8 {
            return Err(format!("a {dtype} tensor of shape {shape:?} needs {bytes} bytes, the buffer holds {}", words.len() * 8));
        }
        let ptr = words.as_ptr().cast::<u8>();
        // SAFETY: the Vec's heap buffer does not move when the Vec is boxed,
        // stays alive as the storage's owner, and holds at least `bytes` bytes.
        let storage = unsafe { Storage::external(ptr, bytes, Box::new(words)) };
        let st = strides(&shape);
        Tensor::from_storage(Arc::new(storage), dtype, shape, st, 0)
    }

    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Tensor, String> {
        let want = numel(&shape) * dtype.byte_size();
        if bytes.len() != want {
            return Err(format!("a {dtype} tensor of shape {shape:?} needs {want} bytes, got {}", bytes.len()));
        }
        with_elem!(dtype, T => {
            let mut v = vec![T::default(); numel(&shape)];
            if dtype == DType::I1 && bytes.iter().any(|&b| b > 1) {
                return Err("bool data holds bytes other than 0 and 1".into());
            }
            // SAFETY: `v` holds exactly `want` bytes, every bit pattern copied
            // is a valid `T` (bools were checked above), and the regions are distinct.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast::<u8>(), want) };
            Tensor::from_vec(shape, v)
        })
    }
}

/// Strides that view `(shape, strides)` as `new` without moving elements,
/// if there are any (PyTorch's `computeStride`).
fn view_strides(shape: &[usize], strides: &[usize], new: &[usize]) -> Option<Vec<usize>> {
    if numel(shape) == 0 {
        return Some(self::strides(new));
    }
    let mut out = vec![0; new.len()];
    let mut view_d = new.len() as isize - 1;
    let mut chunk_base = *strides.last().unwrap_or(&1);
    let mut tensor_numel = 1;
    let mut view_numel = 1;
    for d in (0..shape.len()).rev() {
        tensor_numel *= shape[d];
        if d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base) {
            while view_d >= 0 && (view_numel < tensor_numel || new[view_d as usize] == 1) {
                out[view_d as usize] = view_numel * chunk_base;
                view_numel *= new[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if d > 0 {
                chunk_base = strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(out)
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Tensor) -> bool {
        self.dtype == other.dtype && self.shape == other.shape && self.to_f64() == other.to_f64()
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.convert(|x| x);
        let shown: Vec<f64> = v.iter().take(8).copied().collect();
        write!(f, "Tensor({} {:?} {:?}{})", self.dtype, self.shape, shown, if v.len() > 8 { " …" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(shape: &[usize]) -> Tensor {
        Tensor::from_vec(shape.to_vec(), (0..numel(shape)).map(|i| i as f32).collect()).unwrap()
    }

    #[test]
    fn views_share_storage() {
        let t = iota(&[2, 3]);
        let p = t.permuted(&[1, 0]).unwrap();
        assert!(Arc::ptr_eq(p.storage(), t.storage()));
        assert_eq!(p.to_vec::<f32>().unwrap(), [0., 3., 1., 4., 2., 5.]);
        assert!(!p.is_contiguous());
        let s = t.sliced(1, 1, 3, 1);
        assert_eq!(s.to_vec::<f32>().unwrap(), [1., 2., 4., 5.]);
        assert_eq!(t.selected(0, 1).to_vec::<f32>().unwrap(), [3., 4., 5.]);
        let e = iota(&[3]).expanded(&[2, 3]).unwrap();
        assert_eq!(e.strides(), [0, 1]);
        assert_eq!(e.to_f64(), [0., 1., 2., 0., 1., 2.]);
    }

    #[test]
    fn reshape_views_when_strides_allow() {
        let t = iota(&[2, 3, 4]);
        let v = t.clone().reshaped(vec![6, 4]).unwrap();
        assert!(Arc::ptr_eq(v.storage(), t.storage()));
        // A transposed tensor cannot be flattened without a copy.
        let p = t.permuted(&[0, 2, 1]).unwrap();
        let flat = p.clone().reshaped(vec![24]).unwrap();
        assert!(!Arc::ptr_eq(flat.storage(), t.storage()));
        assert_eq!(flat.to_vec::<f32>().unwrap(), p.to_vec::<f32>().unwrap());
        // Splitting a dim of a transposed tensor still views.
        let split = p.reshaped(vec![2, 2, 2, 3]).unwrap();
        assert!(Arc::ptr_eq(split.storage(), t.storage()));
        assert_eq!(split.strides(), [12, 2, 1, 4]);
    }

    #[test]
    fn bad_views_are_refused() {
        let s = Arc::new(Storage::from_vec(vec![0f32; 6]));
        assert!(Tensor::from_storage(s.clone(), DType::F32, vec![2, 3], vec![3, 1], 0).is_ok());
        let e = Tensor::from_storage(s.clone(), DType::F32, vec![2, 3], vec![3, 1], 1).unwrap_err();
        assert!(e.contains("reaches past the 24 bytes"), "{e}");
        let e = Tensor::from_storage(s, DType::F64, vec![4], vec![1], 0).unwrap_err();
        assert!(e.contains("reaches past"), "{e}");
        let b = Arc::new(Storage::from_vec(vec![0u8, 2]));
        assert!(Tensor::from_storage(b, DType::I1, vec![2], vec![1], 0).unwrap_err().contains("bool"));
    }

    #[test]
    fn bytes_round_trip_every_dtype() {
        for d in DType::ALL {
            let t = Tensor::from_f64(vec![2, 2], d, vec![0., 1., 0., 1.]).unwrap();
            let back = Tensor::from_bytes(d, vec![2, 2], &t.to_bytes()).unwrap();
            assert_eq!(back, t, "{d}");
        }
    }
}
