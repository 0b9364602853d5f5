//! 3×3, stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks").
//!
//! Each 2×2 block of output pixels ("tile") comes from a 4×4 input patch.
//! Transformed, the convolution becomes 16 independent matrix products, one
//! per position ξ of the 4×4 transformed tile:
//!
//!   M[ξ] (out channels × tiles) = U[ξ] (out × in channels) · V[ξ] (in channels × tiles)
//!
//! where U = G g Gᵀ transforms each 3×3 filter and V = Bᵀ d B each input
//! patch; the output tile is Aᵀ M A. That is 16 multiplies per 4 outputs
//! instead of 36: 2.25× fewer, at the price of the (memory-bound)
//! transforms, so the convolution only takes this path when there are
//! enough tiles for the products to dominate. The transforms' coefficients
//! are 0, ±1 and ±½, exact in floating point; the result differs from direct
//! convolution by rounding only.
use crate::linalg::{blas, Blas, Conv};
use crate::tensor::{assume_init_vec, uninit_vec};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Output pixels (over the batch) from which the transformed products pay
/// for the transforms. Measured on ResNet-18 (benches/runtime_latency.py):
/// 56×56 at batch 1 and 14×14 at batch 8 gain; from 4,096 on, batch 8 went
/// from 1.13× to 1.24× eager's time, and 512 measured the same as 1,024.
const MIN_PIXELS: usize = 1024;

/// Whether `g` (with `groups` groups and batch `n`) takes this path.
pub(crate) fn applies(g: &Conv, groups: usize, n: usize) -> bool {
    groups == 1 && g.kh == 3 && g.kw == 3 && g.stride == [1, 1] && g.dil == [1, 1] && n * g.ho * g.wo >= MIN_PIXELS
}

/// U[ξ][o][c] for every filter of `w` ([o, c, 3, 3], contiguous).
fn transform_filters<T: Blas>(w: &[T], o: usize, c: usize) -> Vec<T> {
    let half = T::from_f64(0.5);
    let mut u = vec![T::default(); 16 * o * c];
    let plane = o * c;
    // Each task fills all 16 planes for a run of filters; the planes are
    // disjoint per filter, so they are written through raw offsets.
    let u_addr = u.as_mut_ptr() as usize;
    (0..plane).into_par_iter().with_min_len(1024).for_each(|f| {
        let g = &w[f * 9..f * 9 + 9];
        // Rows of G g (4 × 3), then columns: (G g) Gᵀ (4 × 4).
        let mut gg = [[T::default(); 3]; 4];
        for j in 0..3 {
            let (a, b, cc) = (g[j], g[3 + j], g[6 + j]);
            gg[0][j] = a;
            gg[1][j] = (a + b + cc) * half;
            gg[2][j] = (a - b + cc) * half;
            gg[3][j] = cc;
        }
        for (i, row) in gg.iter().enumerate() {
            let (a, b, cc) = (row[0], row[1], row[2]);
            let vals = [a, (a + b + cc) * half, (a - b + cc) * half, cc];
            for (j, v) in vals.into_iter().enumerate() {
                // SAFETY: (4i+j)*plane + f < 16*plane, and only task f writes index f of a plane.
                unsafe { *(u_addr as *mut T).add((4 * i + j) * plane + f) = v };
            }
        }
    });
    u
}

/// V[ξ][c][t] for the input patches of `count` samples starting at sample
/// `first` of `x` ([n, c, h, w], contiguous); t runs over the samples'
/// tiles, row by row. A row of tiles is transformed at once: the row
/// transform Bᵀ d runs along whole (zero-padded) input lines, the column
/// transform writes each ξ's run of tiles contiguously.
fn transform_inputs<T: Blas>(x: &[T], g: &Conv, first: usize, count: usize, tiles: [usize; 2]) -> Vec<T> {
    let (c, h, w) = (g.c, g.h, g.w);
    let per_sample = tiles[0] * tiles[1];
    let cols = count * per_sample;
    // Every element is written below (16 runs per row of tiles and channel).
    let mut v = uninit_vec::<T>(16 * c * cols);
    let v_addr = v.as_mut_ptr() as usize;
    let plane = c * cols;
    // A padded line covers the patches of a row of tiles: 2 per tile, plus 2.
    let width = 2 * tiles[1] + 2;
    (0..count * c).into_par_iter().for_each(|job| {
        let (s, ci) = (job / c, job % c);
        let src = &x[((first + s) * c + ci) * h * w..][..h * w];
        let mut lines = vec![T::default(); 4 * width];
        let mut t = vec![T::default(); 4 * width];
        for ty in 0..tiles[0] {
            for (i, line) in lines.chunks_mut(width).enumerate() {
                let iy = (2 * ty + i) as isize - g.pad[0] as isize;
                line.fill(T::default());
                if iy >= 0 && (iy as usize) < h {
                    // Line position p holds input column p - pad.
                    let row = &src[iy as usize * w..][..w];
                    let (lo, hi) = (g.pad[1], (g.pad[1] + w).min(width));
                    line[lo..hi].copy_from_slice(&row[..hi - lo]);
                }
            }
            // Bᵀ d along whole lines.
            let (l0, rest) = lines.split_at(width);
            let (l1, rest) = rest.split_at(width);
            let (l2, l3) = rest.split_at(width);
            let (t0, rest) = t.split_at_mut(width);
            let (t1, rest) = rest.split_at_mut(width);
            let (t2, t3) = rest.split_at_mut(width);
            for p in 0..width {
                t0[p] = l0[p] - l2[p];
                t1[p] = l1[p] + l2[p];
                t2[p] = l2[p] - l1[p];
                t3[p] = l1[p] - l3[p];
            }
            // (Bᵀ d) B: tile tx reads line positions 2tx .. 2tx+3.
            let at = ci * cols + s * per_sample + ty * tiles[1];
            for (i, ti) in [&*t0, &*t1, &*t2, &*t3].into_iter().enumerate() {
                // SAFETY: the four runs of `tiles[1]` elements at `at` in planes
                // 4i..4i+3 lie inside v, and only this task writes them.
                let run = |j: usize| unsafe { std::slice::from_raw_parts_mut((v_addr as *mut MaybeUninit<T>).add((4 * i + j) * plane + at), tiles[1]) };
                let (r0, r1, r2, r3) = (run(0), run(1), run(2), run(3));
                for tx in 0..tiles[1] {
                    let q = &ti[2 * tx..2 * tx + 4];
                    r0[tx].write(q[0] - q[2]);
                    r1[tx].write(q[1] + q[2]);
                    r2[tx].write(q[2] - q[1]);
                    r3[tx].write(q[1] - q[3]);
                }
            }
        }
    });
    // SAFETY: written in full above.
    unsafe { assume_init_vec(v) }
}

/// Convolution of samples `first..first + count` into `out` (their NCHW
/// outputs, contiguous), with `u` the transformed filters.
fn conv_samples<T: Blas>(x: &[T], u: &[T], g: &Conv, o: usize, first: usize, count: usize, out: &mut [MaybeUninit<T>]) -> Result<(), String> {
    let tiles = [g.ho.div_ceil(2), g.wo.div_ceil(2)];
    let per_sample = tiles[0] * tiles[1];
    let cols = count * per_sample;
    let lib = blas()?;
    let v = transform_inputs(x, g, first, count, tiles);
    // Written in full by the products (beta 0).
    let mut m = uninit_vec::<T>(16 * o * cols);
    let (c, int) = (g.c, |n: usize| i32::try_from(n).map_err(|_| format!("dimension {n} is too large for BLAS")));
    let (oi, ci, ni) = (int(o)?, int(c)?, int(cols)?);
    // SAFETY: U[ξ] is o×c, V[ξ] c×cols and M[ξ] o×cols, all row-major.
    let product = |xi: usize, mx: &mut [MaybeUninit<T>]| unsafe {
        T::raw_gemm(lib, false, false, oi, ni, ci, T::from_f64(1.0), u[xi * o * c..].as_ptr(), ci, v[xi * c * cols..].as_ptr(), ni, T::default(), mx.as_mut_ptr().cast::<T>(), ni)
    };
    if lib.on_callers_thread() {
        // The 16 products are independent: each runs single-threaded on its
        // own task, which keeps every core busy without splitting any one.
        m.par_chunks_mut(o * cols).enumerate().for_each(|(xi, mx)| product(xi, mx));
    } else {
        m.chunks_mut(o * cols).enumerate().for_each(|(xi, mx)| product(xi, mx));
    }
    drop(v);
    // SAFETY: the 16 products wrote all of it.
    let m = unsafe { assume_init_vec(m) };
    let plane = g.ho * g.wo;
    let mplane = o * cols;
    out.par_chunks_mut(plane).enumerate().for_each(|(job, dst)| {
        let (s, oc) = (job / o, job % o);
        let n = tiles[1];
        let mut r = vec![T::default(); 8 * n];
        for ty in 0..tiles[0] {
            let at = oc * cols + s * per_sample + ty * n;
            let e = |xi: usize| &m[xi * mplane + at..][..n];
            // Aᵀ M, a run of tiles at a time: r[2][4] runs.
            for j in 0..4 {
                let (m0, m1, m2, m3) = (e(j), e(4 + j), e(8 + j), e(12 + j));
                let (a, b) = r.split_at_mut(4 * n);
                let (ra, rb) = (&mut a[j * n..][..n], &mut b[j * n..][..n]);
                for tx in 0..n {
                    ra[tx] = m0[tx] + m1[tx] + m2[tx];
                    rb[tx] = m1[tx] - m2[tx] - m3[tx];
                }
            }
            // (Aᵀ M) A into output rows 2ty and 2ty+1.
            for i in 0..2 {
                let y = 2 * ty + i;
                if y >= g.ho {
                    break;
                }
                let q = |j: usize| &r[(4 * i + j) * n..][..n];
                let (q0, q1, q2, q3) = (q(0), q(1), q(2), q(3));
                let line = &mut dst[y * g.wo..(y + 1) * g.wo];
                for tx in 0..n {
                    line[2 * tx].write(q0[tx] + q1[tx] + q2[tx]);
                    if 2 * tx + 1 < g.wo {
                        line[2 * tx + 1].write(q1[tx] - q2[tx] - q3[tx]);
                    }
                }
            }
        }
    });
    Ok(())
}

/// The whole convolution of `x` ([n, c, h, w]) by `w` ([o, c, 3, 3]), both
/// contiguous, into a new NCHW buffer (no bias).
pub(crate) fn conv3x3<T: Blas>(x: &[T], w: &[T], n: usize, o: usize, g: &Conv) -> Result<Vec<T>, String> {
    let u = transform_filters(w, o, g.c);
    let plane = g.ho * g.wo;
    // Every output pixel is written by its tile's output transform.
    let mut out = uninit_vec::<T>(n * o * plane);
    // Samples go through together (wider products) while the transformed
    // inputs and products stay within a few tens of MiB.
    let per_sample_bytes = 16 * g.ho.div_ceil(2) * g.wo.div_ceil(2) * (g.c + o) * std::mem::size_of::<T>();
    let group = (BUDGET_BYTES / per_sample_bytes.max(1)).clamp(1, n.max(1));
    let mut first = 0;
    while first < n {
        let count = group.min(n - first);
        conv_samples(x, &u, g, o, first, count, &mut out[first * o * plane..(first + count) * o * plane])?;
        first += count;
    }
    // SAFETY: written in full by the samples' transforms.
    Ok(unsafe { assume_init_vec(out) })
}

const BUDGET_BYTES: usize = 48 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution by the definition, in f64.
    fn reference(x: &[f64], w: &[f64], n: usize, o: usize, g: &Conv) -> Vec<f64> {
        let mut out = vec![0.0; n * o * g.ho * g.wo];
        for s in 0..n {
            for oc in 0..o {
                for y in 0..g.ho {
                    for xx in 0..g.wo {
                        let mut acc = 0.0;
                        for ci in 0..g.c {
                            for a in 0..3 {
                                for b in 0..3 {
                                    let (iy, ix) = ((y + a) as isize - g.pad[0] as isize, (xx + b) as isize - g.pad[1] as isize);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                        acc += x[((s * g.c + ci) * g.h + iy as usize) * g.w + ix as usize] * w[((oc * g.c + ci) * 3 + a) * 3 + b];
                                    }
                                }
                            }
                        }
                        out[((s * o + oc) * g.ho + y) * g.wo + xx] = acc;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_direct_convolution() {
        // Odd and even output sizes, padding 0..2, several samples and channels.
        for (n, c, o, h, w, pad) in [(1, 3, 4, 7, 9, 1), (3, 5, 2, 8, 8, 1), (2, 2, 3, 6, 5, 0), (1, 4, 4, 5, 7, 2), (2, 1, 1, 3, 3, 1)] {
            let (ho, wo) = (h + 2 * pad - 2, w + 2 * pad - 2);
            let g = Conv { c, h, w, cg: c, kh: 3, kw: 3, stride: [1, 1], pad: [pad; 2], dil: [1, 1], ho, wo };
            let x: Vec<f64> = (0..n * c * h * w).map(|i| ((i * 7919 % 97) as f64 - 48.0) / 16.0).collect();
            let wt: Vec<f64> = (0..o * c * 9).map(|i| ((i * 104729 % 61) as f64 - 30.0) / 8.0).collect();
            let want = reference(&x, &wt, n, o, &g);
            let got = conv3x3(&x, &wt, n, o, &g).unwrap();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "n{n} c{c} o{o} {h}x{w} pad {pad}: element {i} is {a}, want {b}");
            }
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let wf: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            let got = conv3x3(&xf, &wf, n, o, &g).unwrap();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()), "f32 n{n} c{c} o{o} {h}x{w} pad {pad}: element {i} is {a}, want {b}");
            }
        }
    }

    #[test]
    fn takes_only_large_plain_3x3_convolutions() {
        let g = |k: usize, s: usize, ho: usize| Conv { c: 8, h: ho, w: ho, cg: 8, kh: k, kw: k, stride: [s; 2], pad: [1; 2], dil: [1, 1], ho, wo: ho };
        assert!(applies(&g(3, 1, 56), 1, 1));
        assert!(!applies(&g(3, 1, 7), 1, 8), "too few pixels");
        assert!(applies(&g(3, 1, 14), 1, 8));
        assert!(!applies(&g(3, 2, 56), 1, 1), "strided");
        assert!(!applies(&g(1, 1, 56), 1, 1), "1x1");
        assert!(!applies(&g(3, 1, 56), 2, 1), "grouped");
    }
}
