//! `sem.append`: `cat(self, update)` along `dim`, written in place when it
//! can be — how a decode step grows its KV cache without copying it.
//!
//! An *append buffer* holds a tensor with `dim` outermost in memory and room
//! for more positions along it: position `p`'s elements are the `inner`
//! elements from `p * inner`. A view of the first `len` positions reaches
//! only memory below `len * inner`, so writing later positions never
//! touches what any earlier view can read: views of shorter prefixes stay
//! valid. The buffer records how many positions are filled; an append to a
//! view that ends exactly there claims the next positions (an atomic
//! compare-and-swap) and writes the update in place. Any other append — the
//! input is not an append buffer, does not end at the fill mark (a second
//! continuation of the same prefix, as beam search makes), or the room is
//! used up — copies into a new buffer with room for as many positions again
//! (geometric growth), so appends cost amortised O(update).

use crate::kernels::{norm_dim, one, tref, Ctx, R};
use crate::tensor::{for_each_row, numel, Elem, Storage, Tensor, Value};
use crate::with_elem;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What makes a storage an append buffer.
pub(crate) struct Growth {
    /// The dim positions are appended along (outermost in memory).
    dim: usize,
    /// The other dims, in order.
    others: Vec<usize>,
    /// Positions the buffer has room for.
    capacity: usize,
    /// Positions written so far.
    filled: AtomicUsize,
}

/// Strides of a tensor of `shape` laid out with `dim` outermost.
fn layout_strides(shape: &[usize], dim: usize) -> Vec<usize> {
    let mut st = vec![0; shape.len()];
    let mut step = 1;
    for d in (0..shape.len()).rev().filter(|&d| d != dim) {
        st[d] = step;
        step *= shape[d];
    }
    st[dim] = step;
    st
}

/// Append buffers handed out by address, so a caller passing one back
/// through foreign memory handles (torch over DLPack) finds it again.
fn registry() -> &'static Mutex<BTreeMap<usize, Weak<Storage>>> {
    static R: std::sync::OnceLock<Mutex<BTreeMap<usize, Weak<Storage>>>> = std::sync::OnceLock::new();
    R.get_or_init(Default::default)
}

/// The append buffer whose memory holds `ptr`, if one is alive.
pub fn own_storage(ptr: *const u8) -> Option<Arc<Storage>> {
    let reg = registry().lock().ok()?;
    let (_, weak) = reg.range(..=ptr as usize).next_back()?;
    let s = weak.upgrade()?;
    let start = s.as_ptr() as usize;
    ((ptr as usize) < start + s.bytes()).then_some(s)
}

fn register(s: &Arc<Storage>) {
    if let Ok(mut reg) = registry().lock() {
        reg.retain(|_, w| w.strong_count() > 0);
        reg.insert(s.as_ptr() as usize, Arc::downgrade(s));
    }
}

/// Copies `src` (any layout) in row-major order to `dst`.
///
/// # Safety
/// `dst` must be valid for `src.numel()` writes that no reader can see.
unsafe fn copy_rows<T: Elem>(src: &Tensor, dst: *mut T) -> Result<(), String> {
    let data = src.storage_slice::<T>()?;
    let mut at = 0;
    for_each_row(&src.shape, src.strides(), src.offset(), |base, step, len| {
        for j in 0..len {
            // SAFETY: `at` < numel, as the caller promised room for.
            unsafe { dst.add(at).write(data[base + j * step]) };
            at += 1;
        }
    });
    Ok(())
}

/// `src` with `dim` moved to the front (its row-major order is the append
/// buffer's memory order).
fn dim_first(src: &Tensor, dim: usize) -> Result<Tensor, String> {
    let mut perm = vec![dim];
    perm.extend((0..src.shape.len()).filter(|&d| d != dim));
    src.permuted(&perm)
}

pub fn append(ctx: &Ctx, args: &[Value]) -> R {
    let (x, u) = (tref(&args[0])?, tref(&args[1])?);
    // cat skips a legacy empty [0] tensor: appending to one is a copy of u.
    let legacy_empty;
    let x = if x.shape == [0] && u.shape.len() != 1 {
        let mut shape = u.shape.clone();
        let d = norm_dim(ctx.req_int("dim")?, shape.len())?;
        shape[d] = 0;
        legacy_empty = Tensor::from_f64(shape, u.dtype(), vec![])?;
        &legacy_empty
    } else {
        x
    };
    let rank = x.shape.len();
    let dim = norm_dim(ctx.req_int("dim")?, rank)?;
    let out_dtype = ctx.out_dtype(0)?;
    if u.shape.len() != rank || (0..rank).any(|d| d != dim && u.shape[d] != x.shape[d]) {
        return Err(format!("cannot append {:?} to {:?} along dim {dim}", u.shape, x.shape));
    }
    let (x, u) = (x.cast(out_dtype)?, u.cast(out_dtype)?);
    let (len, add) = (x.shape[dim], u.shape[dim]);
    let mut shape = x.shape.clone();
    shape[dim] = len + add;
    let others: Vec<usize> = (0..rank).filter(|&d| d != dim).map(|d| x.shape[d]).collect();
    let inner = numel(&others);
    let size = out_dtype.byte_size();
    with_elem!(out_dtype, T => {
        // In place: `x` is the filled prefix of an append buffer with room.
        let s = x.storage();
        if let Some(g) = &s.growth {
            let fits = g.dim == dim && g.others == others && x.offset() == 0 && x.strides() == layout_strides(&x.shape, dim).as_slice() && len + add <= g.capacity;
            if fits && g.filled.compare_exchange(len, len + add, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                // SAFETY: positions len..len+add lie inside the buffer and no
                // view reaches them; the compare-and-swap made them ours.
                unsafe { copy_rows::<T>(&dim_first(&u, dim)?, (s.as_ptr() as *mut T).add(len * inner))? };
                let strides = layout_strides(&shape, dim);
                return one(Tensor::view_unchecked(s.clone(), out_dtype, shape, strides, 0));
            }
        }
        // A new buffer with room for as many positions again.
        let capacity = (2 * (len + add)).max(len + add + 16);
        let bytes = capacity.checked_mul(inner).and_then(|n| n.checked_mul(size)).ok_or("append buffer size overflows")?;
        let mut storage = Storage::alloc(bytes)?;
        storage.growth = Some(Growth { dim, others, capacity, filled: AtomicUsize::new(len + add) });
        let base = storage.as_ptr() as *mut T;
        // SAFETY: fresh memory for `capacity * inner` elements; the prefix
        // and the update fill the first `(len + add) * inner`.
        unsafe {
            copy_rows::<T>(&dim_first(&x, dim)?, base)?;
            copy_rows::<T>(&dim_first(&u, dim)?, base.add(len * inner))?;
        }
        let storage = Arc::new(storage);
        register(&storage);
        let strides = layout_strides(&shape, dim);
        one(Tensor::view_unchecked(storage, out_dtype, shape, strides, 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use genie_plan::{AttrDict, Attribute, DType, Op, Type};

    fn run(x: &Tensor, u: &Tensor, dim: i64) -> Tensor {
        let mut attrs = AttrDict::new();
        attrs.set("dim", Attribute::int(dim));
        let mut shape = x.shape.clone();
        let d = norm_dim(dim, shape.len()).unwrap();
        shape[d] += u.shape[d];
        let ty = [Type::tensor(shape.iter().map(|&n| genie_plan::Dim::Static(n as i64)).collect::<Vec<_>>(), DType::F32)];
        let env = Default::default();
        let ctx = Ctx { op: Op::Append, attrs: &attrs, results: &ty, unused: &[], env: &env, buffers: &[] };
        match append(&ctx, &[Value::Tensor(x.clone()), Value::Tensor(u.clone())]).unwrap().remove(0) {
            Value::Tensor(t) => t,
            other => panic!("{other:?}"),
        }
    }

    fn t(shape: &[usize], start: f64) -> Tensor {
        let n = numel(shape);
        Tensor::from_f64(shape.to_vec(), DType::F32, (0..n).map(|i| start + i as f64).collect()).unwrap()
    }

    /// What cat gives.
    fn cat(x: &Tensor, u: &Tensor, dim: usize) -> Vec<f64> {
        let (xs, us) = (dim_first(x, dim).unwrap().to_f64(), dim_first(u, dim).unwrap().to_f64());
        let joined = Tensor::from_f64(
            std::iter::once(x.shape[dim] + u.shape[dim]).chain((0..x.shape.len()).filter(|&d| d != dim).map(|d| x.shape[d])).collect(),
            DType::F32,
            xs.into_iter().chain(us).collect(),
        )
        .unwrap();
        let mut inv = vec![0; x.shape.len()];
        let perm: Vec<usize> = std::iter::once(dim).chain((0..x.shape.len()).filter(|&d| d != dim)).collect();
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        joined.permuted(&inv).unwrap().to_f64()
    }

    #[test]
    fn appends_in_place_and_earlier_views_stay_valid() {
        // A [1, 2, s, 3] cache growing along dim 2, one position a step.
        let mut cache = t(&[1, 2, 4, 3], 0.0);
        let first = run(&cache, &t(&[1, 2, 1, 3], 100.0), 2);
        assert_eq!(first.to_f64(), cat(&cache, &t(&[1, 2, 1, 3], 100.0), 2));
        cache = first.clone();
        let before = cache.to_f64();
        let mut prev = cache.clone();
        for step in 0..20 {
            let u = t(&[1, 2, 1, 3], 1000.0 * (step + 2) as f64);
            let next = run(&prev, &u, 2);
            assert_eq!(next.to_f64(), cat(&prev, &u, 2), "step {step}");
            if step < 10 {
                // Capacity for 2 * 5 = 10 positions: the first steps stay in place.
                assert!(Arc::ptr_eq(next.storage(), first.storage()), "step {step} copied");
            }
            prev = next;
        }
        // The first result never changed while the buffer filled up.
        assert_eq!(cache.to_f64(), before);
    }

    #[test]
    fn a_second_continuation_of_the_same_prefix_copies() {
        let base = run(&t(&[3, 2], 0.0), &t(&[1, 2], 10.0), 0);
        let a = run(&base, &t(&[1, 2], 20.0), 0);
        let b = run(&base, &t(&[1, 2], 30.0), 0);
        assert!(Arc::ptr_eq(a.storage(), base.storage()), "the first continuation appends in place");
        assert!(!Arc::ptr_eq(b.storage(), base.storage()), "the second copies");
        assert_eq!(a.to_f64(), [0., 1., 2., 3., 4., 5., 10., 11., 20., 21.]);
        assert_eq!(b.to_f64(), [0., 1., 2., 3., 4., 5., 10., 11., 30., 31.]);
        assert_eq!(base.to_f64(), [0., 1., 2., 3., 4., 5., 10., 11.]);
    }

    #[test]
    fn inner_dims_and_registry() {
        let x = t(&[2, 3, 4], 0.0).permuted(&[0, 2, 1]).unwrap(); // strided input [2, 4, 3]
        let u = t(&[2, 4, 2], 50.0);
        let out = run(&x, &u, -1);
        assert_eq!(out.to_f64(), cat(&x, &u, 2));
        let found = own_storage(unsafe { out.storage().as_ptr().add(8) }).unwrap();
        assert!(Arc::ptr_eq(&found, out.storage()));
        assert!(own_storage(x.storage().as_ptr()).is_none());
    }
}
