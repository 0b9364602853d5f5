//! Training kernels: the backward ops and training-mode forward ops that
//! aot_autograd (core ATen decompositions) leaves in the forward and backward
//! graphs of a training step (GPT-2, ResNet-18).
//!
//! Like the rest of the CPU backend they compute in f64 and store the plan's
//! result dtype. A result the plan types as `none` (a gradient masked off by
//! `output_mask`) is returned as `Value::None` and not computed.

use crate::kernels::{index, norm_dim, one, tensor, tref, Ctx};
use crate::linalg::Blas;
use crate::tensor::{numel, strides, Tensor, Value};
use genie_plan::{Attribute, DType, Op, Type};
use std::sync::atomic::{AtomicU64, Ordering};

type R = Result<Vec<Value>, String>;

// ----- helpers ---------------------------------------------------------------

/// Whether the plan wants result `i` (masked-off gradients are typed `none`).
fn wanted(ctx: &Ctx, i: usize) -> bool {
    !matches!(ctx.results.get(i), Some(Type::None))
}

/// Result `i` as a tensor of the plan's dtype.
fn result(ctx: &Ctx, i: usize, shape: Vec<usize>, v: Vec<f64>) -> Result<Value, String> {
    Ok(Value::Tensor(Tensor::from_f64(shape, ctx.out_dtype(i)?, v)?))
}

/// An optional tensor operand's values (`None` when absent or `none`).
fn opt_values(args: &[Value], i: usize) -> Option<Vec<f64>> {
    match args.get(i) {
        Some(Value::Tensor(t)) => Some(t.to_f64()),
        _ => None,
    }
}

fn arg<'a>(ctx: &Ctx, args: &'a [Value], i: usize) -> Result<&'a Tensor, String> {
    tref(args.get(i).ok_or_else(|| format!("'{}' needs at least {} operands, got {}", ctx.op, i + 1, args.len()))?)
}

/// A two-element size attribute (`stride = [2, 2]`; one value is used twice).
fn pair(ctx: &Ctx, name: &str, default: usize) -> Result<[usize; 2], String> {
    let v = ctx.ints(name)?.unwrap_or_default();
    let at = |i: usize| -> Result<usize, String> {
        let x = match v.len() {
            0 => return Ok(default),
            1 => v[0],
            _ => v[i],
        };
        usize::try_from(x).map_err(|_| format!("'{}': negative {name} {x}", ctx.op))
    };
    Ok([at(0)?, at(1)?])
}

/// `t`'s values broadcast (PyTorch rules) to `to`, in row-major order.
fn broadcast_to(t: &Tensor, to: &[usize]) -> Result<Vec<f64>, String> {
    let from = &t.shape[..];
    let lead = to.len().checked_sub(from.len()).ok_or_else(|| format!("cannot broadcast {from:?} to {to:?}"))?;
    if from.iter().enumerate().any(|(i, &s)| s != 1 && s != to[lead + i]) {
        return Err(format!("cannot broadcast {from:?} to {to:?}"));
    }
    let st = strides(from);
    let src: Vec<usize> = (0..to.len()).map(|d| if d < lead || from[d - lead] == 1 { 0 } else { st[d - lead] }).collect();
    let v = t.to_f64();
    let ost = strides(to);
    Ok((0..numel(to)).map(|i| v[(0..to.len()).map(|d| (i / ost[d]) % to[d] * src[d]).sum::<usize>()]).collect())
}

/// c[m×n] += op(a)·op(b) for row-major slices, where op(x) reads x as
/// stored transposed when its flag is set (a: m×k, b: k×n after op).
#[allow(clippy::too_many_arguments)]
fn gemm_acc(a: &[f64], ta: bool, b: &[f64], tb: bool, c: &mut [f64], m: usize, k: usize, n: usize) -> Result<(), String> {
    if a.len() < m * k || b.len() < k * n || c.len() < m * n {
        return Err(format!("matrix product {m}x{k} by {k}x{n}: operands hold {}, {} and {} elements", a.len(), b.len(), c.len()));
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let int = |x: usize| i32::try_from(x).map_err(|_| format!("dimension {x} is too large for BLAS"));
    let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
    // SAFETY: the lengths were checked above; with these leading dims every
    // index read stays below m*k (a), k*n (b) and m*n (c).
    unsafe {
        <f64 as Blas>::gemm(crate::linalg::blas()?, ta, tb, int(m)?, int(n)?, int(k)?, 1.0, a.as_ptr(), int(lda)?, b.as_ptr(), int(ldb)?, 1.0, c.as_mut_ptr(), int(n)?);
    }
    Ok(())
}

// ----- data movement -----------------------------------------------------------

/// Pads the trailing dims with `value`: `pad` holds (before, after) pairs,
/// last dim first; negative amounts crop.
pub(crate) fn constant_pad_nd(ctx: &Ctx, args: &[Value]) -> R {
    let x = arg(ctx, args, 0)?;
    let pad = ctx.ints("pad")?.unwrap_or_default();
    let value = ctx.float("value").unwrap_or(0.0);
    let rank = x.shape.len();
    if pad.len() % 2 != 0 || pad.len() / 2 > rank {
        return Err(format!("pad {pad:?} must hold (before, after) pairs for at most {rank} dims"));
    }
    let mut before = vec![0i64; rank];
    let mut shape = x.shape.to_vec();
    for (i, p) in pad.chunks(2).enumerate() {
        let d = rank - 1 - i;
        let n = x.shape[d] as i64 + p[0] + p[1];
        if n < 0 {
            return Err(format!("pad {pad:?} leaves dim {d} of size {} with {n} elements", x.shape[d]));
        }
        before[d] = p[0];
        shape[d] = n as usize;
    }
    let (v, ist, ost) = (x.to_f64(), strides(&x.shape), strides(&shape));
    let out = (0..numel(&shape))
        .map(|i| {
            let mut src = 0;
            for d in 0..rank {
                let at = ((i / ost[d]) % shape[d]) as i64 - before[d];
                if at < 0 || at >= x.shape[d] as i64 {
                    return value;
                }
                src += at as usize * ist[d];
            }
            v[src]
        })
        .collect();
    one(Tensor::from_f64(shape, ctx.out_dtype(0)?, out)?)
}

/// `self` with `src` (a tensor, or a scalar value) written at `index` along
/// `dim`: out[.., index[i], ..] = src[i], or added (`scatter_add`,
/// `reduce = "add"`) or multiplied (`reduce = "multiply"`).
pub(crate) fn scatter(ctx: &Ctx, args: &[Value]) -> R {
    let x = arg(ctx, args, 0)?;
    let idx = arg(ctx, args, 1)?;
    let src = tensor(args.get(2).ok_or("scatter needs a src operand")?)?;
    let rank = x.shape.len();
    let dim = norm_dim(ctx.req_int("dim")?, rank)?;
    let reduce = match ctx.op {
        Op::ScatterAdd => Some("add"),
        _ => ctx.attrs.get("reduce").and_then(Attribute::as_str),
    };
    let scalar = src.shape.is_empty() && src.numel() == 1;
    if idx.shape.len() != rank || (!scalar && src.shape.len() != rank) {
        return Err(format!("scatter: index {:?}, self {:?} and src {:?} must have the same rank", idx.shape, x.shape, src.shape));
    }
    for d in 0..rank {
        if (d != dim && idx.shape[d] > x.shape[d]) || (!scalar && idx.shape[d] > src.shape[d]) {
            return Err(format!("scatter index {:?} is larger than self {:?} or src {:?}", idx.shape, x.shape, src.shape));
        }
    }
    let mut out = x.to_f64();
    let (iv, sv) = (idx.to_i64(), src.to_f64());
    let (ist, xst, sst) = (strides(&idx.shape), strides(&x.shape), strides(&src.shape));
    let size = x.shape.get(dim).copied().unwrap_or(1) as i64;
    for (i, &r) in iv.iter().enumerate() {
        let r = if r < 0 { r + size } else { r };
        if r < 0 || r >= size {
            return Err(format!("scatter index {r} out of range for size {size}"));
        }
        let (mut o, mut s) = (0, 0);
        for d in 0..idx.shape.len() {
            let c = (i / ist[d]) % idx.shape[d];
            o += if d == dim { r as usize } else { c } * xst[d];
            if !scalar {
                s += c * sst[d];
            }
        }
        let v = sv[if scalar { 0 } else { s }];
        match reduce {
            None => out[o] = v,
            Some("add" | "sum") => out[o] += v,
            Some("multiply" | "prod") => out[o] *= v,
            Some(other) => return Err(format!("scatter reduce '{other}' is not supported (add or multiply)")),
        }
    }
    one(Tensor::from_f64(x.shape.to_vec(), ctx.out_dtype(0)?, out)?)
}

/// `self` with `values` written at `self[indices]` (advanced indexing, `none`
/// skips a dim), or added there with `accumulate`; `values` broadcasts to the
/// indexed shape. Duplicate indices accumulate.
pub(crate) fn index_put(ctx: &Ctx, args: &[Value]) -> R {
    if args.len() < 3 {
        return Err(format!("index_put needs self, indices and values, got {} operands", args.len()));
    }
    let x = arg(ctx, args, 0)?;
    let values = tensor(&args[args.len() - 1])?;
    // Indexing a tensor of flat positions with the same indices gives the
    // position of every indexed element.
    let iota = Tensor::from_f64(x.shape.to_vec(), DType::I64, (0..x.numel()).map(|i| i as f64).collect())?;
    let mut iargs = vec![Value::Tensor(iota)];
    iargs.extend(args[1..args.len() - 1].iter().cloned());
    let pos = match index(ctx, &iargs)?.pop() {
        Some(Value::Tensor(t)) => t,
        _ => return Err("index_put: indexing gave no tensor".into()),
    };
    let vals = broadcast_to(&values, &pos.shape).map_err(|e| format!("index_put values: {e}"))?;
    let mut out = x.to_f64();
    let acc = ctx.flag("accumulate");
    for (p, v) in pos.to_i64().into_iter().zip(vals) {
        if acc {
            out[p as usize] += v;
        } else {
            out[p as usize] = v;
        }
    }
    one(Tensor::from_f64(x.shape.to_vec(), ctx.out_dtype(0)?, out)?)
}

// ----- training-mode forward ops --------------------------------------------------

/// Batch norm of a training step: normalises each channel with the batch's
/// mean and biased variance, returns them as save_mean and save_invstd =
/// 1/sqrt(var + eps), and the running stats moved by `momentum` towards the
/// batch mean and unbiased variance. With `training = false` it uses the
/// running stats and returns empty saved stats (as PyTorch does on CPU).
pub(crate) fn batch_norm_functional(ctx: &Ctx, args: &[Value]) -> R {
    let x = arg(ctx, args, 0)?;
    let (rm, rv) = (arg(ctx, args, 3)?.to_f64(), arg(ctx, args, 4)?.to_f64());
    let (w, b) = (opt_values(args, 1), opt_values(args, 2));
    if x.shape.len() < 2 {
        return Err(format!("batch norm needs an input of rank >= 2, got shape {:?}", x.shape));
    }
    let c = x.shape[1];
    for (name, len) in [("running_mean", Some(rm.len())), ("running_var", Some(rv.len())), ("weight", w.as_ref().map(Vec::len)), ("bias", b.as_ref().map(Vec::len))] {
        if len.is_some_and(|l| l != c) {
            return Err(format!("batch norm {name} has {} elements for {c} channels", len.unwrap_or(0)));
        }
    }
    let (momentum, eps) = (ctx.float("momentum").unwrap_or(0.1), ctx.float("eps").unwrap_or(1e-5));
    let inner: usize = x.shape[2..].iter().product();
    let count = x.numel() / c.max(1);
    let v = x.to_f64();
    let channel = |ch: usize| (0..x.shape[0]).flat_map(move |n| (0..inner).map(move |i| (n * c + ch) * inner + i));
    let training = ctx.flag("training");
    let (mean, var): (Vec<f64>, Vec<f64>) = if training {
        if count < 2 {
            return Err(format!("batch norm in training needs more than one value per channel, got input shape {:?}", x.shape));
        }
        (0..c)
            .map(|ch| {
                let m = channel(ch).map(|i| v[i]).sum::<f64>() / count as f64;
                (m, channel(ch).map(|i| (v[i] - m) * (v[i] - m)).sum::<f64>() / count as f64)
            })
            .unzip()
    } else {
        (rm.clone(), rv.clone())
    };
    let invstd: Vec<f64> = var.iter().map(|s| 1.0 / (s + eps).sqrt()).collect();
    let out = v
        .iter()
        .enumerate()
        .map(|(i, &val)| {
            let ch = (i / inner) % c;
            (val - mean[ch]) * invstd[ch] * w.as_ref().map_or(1.0, |w| w[ch]) + b.as_ref().map_or(0.0, |b| b[ch])
        })
        .collect();
    let (save_mean, save_invstd, new_rm, new_rv) = if training {
        let unbias = count as f64 / (count - 1) as f64;
        let new_rm = (0..c).map(|ch| momentum * mean[ch] + (1.0 - momentum) * rm[ch]).collect();
        let new_rv = (0..c).map(|ch| momentum * var[ch] * unbias + (1.0 - momentum) * rv[ch]).collect();
        (mean, invstd, new_rm, new_rv)
    } else {
        (vec![], vec![], rm, rv)
    };
    let stat = vec![save_mean.len()];
    Ok(vec![
        result(ctx, 0, x.shape.to_vec(), out)?,
        result(ctx, 1, stat.clone(), save_mean)?,
        result(ctx, 2, stat, save_invstd)?,
        result(ctx, 3, vec![c], new_rm)?,
        result(ctx, 4, vec![c], new_rv)?,
    ])
}

/// A process-wide random stream for dropout masks (splitmix64 per call).
static DROPOUT_SEED: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Dropout: keeps each element with probability 1 - p, scaled by 1/(1 - p),
/// and returns the result with the keep mask. With `train = false` the input
/// passes through under an all-true mask. The random stream is the runtime's
/// own, so masks differ from eager PyTorch's.
pub(crate) fn native_dropout(ctx: &Ctx, args: &[Value]) -> R {
    let x = arg(ctx, args, 0)?;
    let p = ctx.float("p").ok_or("native_dropout needs attribute 'p'")?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("dropout probability must be in [0, 1], got {p}"));
    }
    let train = ctx.attrs.get("train").and_then(Attribute::as_bool).unwrap_or(true);
    let v = x.to_f64();
    let keep: Vec<bool> = if train {
        let seed = splitmix64(DROPOUT_SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed));
        // 53 random bits as a uniform number in [0, 1).
        (0..v.len()).map(|i| ((splitmix64(seed ^ i as u64) >> 11) as f64 / (1u64 << 53) as f64) >= p).collect()
    } else {
        vec![true; v.len()]
    };
    let scale = if !train { 1.0 } else if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
    let out = v.iter().zip(&keep).map(|(&x, &k)| if k { x * scale } else { 0.0 }).collect();
    let mask = keep.iter().map(|&k| f64::from(u8::from(k))).collect();
    Ok(vec![result(ctx, 0, x.shape.to_vec(), out)?, result(ctx, 1, x.shape.to_vec(), mask)?])
}

// ----- backward ops ------------------------------------------------------------------

/// Gradients of a 2-d convolution for its input, weight and bias: per sample
/// and group, grad_weight += grad_out · im2col(input)ᵀ, and
/// grad_input = col2im(weightᵀ · grad_out); grad_bias sums grad_out over
/// batch and space.
pub(crate) fn convolution_backward(ctx: &Ctx, args: &[Value]) -> R {
    let (go, x, w) = (arg(ctx, args, 0)?, arg(ctx, args, 1)?, arg(ctx, args, 2)?);
    if x.shape.len() != 4 || w.shape.len() != 4 || go.shape.len() != 4 {
        return Err("the CPU backend runs backward of 2-d convolutions only".into());
    }
    if ctx.flag("transposed") {
        return Err("backward of transposed convolutions is not supported by the CPU backend yet".into());
    }
    let groups = ctx.int("groups")?.unwrap_or(1).max(1) as usize;
    let [sh, sw] = pair(ctx, "stride", 1)?;
    let [ph, pw] = pair(ctx, "padding", 0)?;
    let [dh, dw] = pair(ctx, "dilation", 1)?;
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if cg * groups != c || o % groups != 0 || sh == 0 || sw == 0 {
        return Err(format!("weight {:?} does not fit input {:?} with {groups} groups and stride [{sh}, {sw}]", w.shape, x.shape));
    }
    let ho = (h + 2 * ph).checked_sub(dh * kh.saturating_sub(1) + 1).ok_or("kernel larger than input")? / sh + 1;
    let wo = (wd + 2 * pw).checked_sub(dw * kw.saturating_sub(1) + 1).ok_or("kernel larger than input")? / sw + 1;
    if go.shape[..] != [n, o, ho, wo] {
        return Err(format!("grad_output has shape {:?}, the convolution's output is {:?}", go.shape, [n, o, ho, wo]));
    }
    let (og, k, p) = (o / groups, cg * kh * kw, ho * wo);
    let (gov, xv, wv) = (go.to_f64(), x.to_f64(), w.to_f64());
    let (want_x, want_w) = (wanted(ctx, 0), wanted(ctx, 1));
    let mut gx = vec![0.0; if want_x { x.numel() } else { 0 }];
    let mut gw = vec![0.0; if want_w { w.numel() } else { 0 }];
    let mut col = vec![0.0; k * p];
    // For each (row of the im2col matrix, output pixel): the input offset
    // within one channel plane, or None where the window reads padding.
    let taps: Vec<Option<usize>> = (0..kh * kw)
        .flat_map(|ab| (0..p).map(move |yx| (ab, yx)))
        .map(|(ab, yx)| {
            let (iy, ix) = ((yx / wo * sh + ab / kw * dh) as isize - ph as isize, (yx % wo * sw + ab % kw * dw) as isize - pw as isize);
            (iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd).then(|| iy as usize * wd + ix as usize)
        })
        .collect();
    for ni in 0..n {
        for g in 0..groups {
            let gout = &gov[(ni * o + g * og) * p..(ni * o + (g + 1) * og) * p];
            let plane = |ci: usize| (ni * c + g * cg + ci) * h * wd;
            if want_w {
                for ci in 0..cg {
                    for (t, tap) in taps.iter().enumerate() {
                        col[ci * kh * kw * p + t] = tap.map_or(0.0, |at| xv[plane(ci) + at]);
                    }
                }
                gemm_acc(gout, false, &col, true, &mut gw[g * og * k..(g + 1) * og * k], og, p, k)?;
            }
            if want_x {
                col.fill(0.0);
                gemm_acc(&wv[g * og * k..(g + 1) * og * k], true, gout, false, &mut col, k, og, p)?;
                for ci in 0..cg {
                    for (t, tap) in taps.iter().enumerate() {
                        if let Some(at) = tap {
                            gx[plane(ci) + at] += col[ci * kh * kw * p + t];
                        }
                    }
                }
            }
        }
    }
    let gb = wanted(ctx, 2).then(|| (0..o).map(|oc| (0..n).map(|ni| gov[(ni * o + oc) * p..(ni * o + oc + 1) * p].iter().sum::<f64>()).sum()).collect());
    Ok(vec![
        if want_x { result(ctx, 0, x.shape.to_vec(), gx)? } else { Value::None },
        if want_w { result(ctx, 1, w.shape.to_vec(), gw)? } else { Value::None },
        match gb {
            Some(gb) => result(ctx, 2, vec![o], gb)?,
            None => Value::None,
        },
    ])
}

/// Gradient of 2-d max pooling: each output gradient goes to the input
/// element its window's max came from (`indices`, flat within each h×w
/// plane), summed where windows overlap.
pub(crate) fn max_pool2d_with_indices_backward(ctx: &Ctx, args: &[Value]) -> R {
    let (go, x, idx) = (arg(ctx, args, 0)?, arg(ctx, args, 1)?, arg(ctx, args, 2)?);
    let r = x.shape.len();
    if r < 3 || go.shape.len() != r || idx.shape[..] != go.shape[..] || go.shape[..r - 2] != x.shape[..r - 2] {
        return Err(format!("max pool backward: grad_output {:?}, input {:?} and indices {:?} do not fit", go.shape, x.shape, idx.shape));
    }
    let hw = x.shape[r - 2] * x.shape[r - 1];
    let per_plane = go.shape[r - 2] * go.shape[r - 1];
    let mut gx = vec![0.0; x.numel()];
    for (i, (g, at)) in go.to_f64().into_iter().zip(idx.to_i64()).enumerate() {
        if at < 0 || at as usize >= hw {
            return Err(format!("max pool index {at} out of range for a {}x{} plane", x.shape[r - 2], x.shape[r - 1]));
        }
        gx[i / per_plane.max(1) * hw + at as usize] += g;
    }
    one(Tensor::from_f64(x.shape.to_vec(), ctx.out_dtype(0)?, gx)?)
}

/// Gradients of scaled dot-product attention (CPU flash kernel) for query,
/// key and value. The attention weights P = softmax(scale·q·kᵀ + mask) are
/// recomputed from q and k; the `logsumexp` operand is not read, because the
/// core decomposition of the forward op hands the attention weights there.
/// Then dV = Pᵀ·dO, dS = P ⊙ (dO·Vᵀ − rowsum(P ⊙ dO·Vᵀ)), dQ = scale·dS·K,
/// dK = scale·dSᵀ·Q; key/value heads shared by several query heads (grouped
/// query attention) sum their gradients.
pub(crate) fn sdpa_flash_backward(ctx: &Ctx, args: &[Value]) -> R {
    let (go, q, k, v) = (arg(ctx, args, 0)?, arg(ctx, args, 1)?, arg(ctx, args, 2)?, arg(ctx, args, 3)?);
    if [go, q, k, v].iter().any(|t| t.shape.len() != 4) {
        return Err("attention backward needs 4-d grad_out, query, key and value".into());
    }
    let (b, hq, l, e) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
    let (hk, s, ev) = (k.shape[1], k.shape[2], v.shape[3]);
    if k.shape[..] != [b, hk, s, e] || v.shape[..] != [b, hk, s, ev] || go.shape[..] != [b, hq, l, ev] || hk == 0 || hq % hk != 0 {
        return Err(format!("attention backward: grad_out {:?}, query {:?}, key {:?} and value {:?} do not fit", go.shape, q.shape, k.shape, v.shape));
    }
    if ctx.float("dropout_p").unwrap_or(0.0) != 0.0 {
        return Err("attention backward with dropout is not supported by the CPU backend".into());
    }
    let scale = ctx.float("scale").unwrap_or(1.0 / (e as f64).sqrt());
    let causal = ctx.flag("is_causal");
    let mask = match args.get(6) {
        Some(Value::Tensor(m)) => {
            let vals = broadcast_to(m, &[b, hq, l, s]).map_err(|e| format!("attn_mask: {e}"))?;
            let is_bool = m.dtype() == DType::I1;
            Some(vals.into_iter().map(|x| if !is_bool { x } else if x != 0.0 { 0.0 } else { f64::NEG_INFINITY }).collect::<Vec<f64>>())
        }
        _ => None,
    };
    let (gov, qv, kv, vv) = (go.to_f64(), q.to_f64(), k.to_f64(), v.to_f64());
    let (mut gq, mut gk, mut gv) = (vec![0.0; qv.len()], vec![0.0; kv.len()], vec![0.0; vv.len()]);
    let mut pm = vec![0.0; l * s];
    let mut dp = vec![0.0; l * s];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / (hq / hk);
            let (qo, ko, vo, go_o) = ((bi * hq + h) * l * e, (bi * hk + kh) * s * e, (bi * hk + kh) * s * ev, (bi * hq + h) * l * ev);
            let (qs, ks, vs, dos) = (&qv[qo..qo + l * e], &kv[ko..ko + s * e], &vv[vo..vo + s * ev], &gov[go_o..go_o + l * ev]);
            // P = softmax(scale · q kᵀ + mask), a fully masked row being 0.
            pm.fill(0.0);
            gemm_acc(qs, false, ks, true, &mut pm, l, e, s)?;
            for i in 0..l {
                let row = &mut pm[i * s..(i + 1) * s];
                for (j, x) in row.iter_mut().enumerate() {
                    *x = *x * scale + mask.as_ref().map_or(0.0, |m| m[((bi * hq + h) * l + i) * s + j]);
                    if causal && j > i {
                        *x = f64::NEG_INFINITY;
                    }
                }
                let mx = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if mx == f64::NEG_INFINITY {
                    row.fill(0.0);
                    continue;
                }
                row.iter_mut().for_each(|x| *x = (*x - mx).exp());
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= sum);
            }
            gemm_acc(&pm, true, dos, false, &mut gv[vo..vo + s * ev], s, l, ev)?;
            dp.fill(0.0);
            gemm_acc(dos, false, vs, true, &mut dp, l, ev, s)?;
            for i in 0..l {
                let (pr, dr) = (&pm[i * s..(i + 1) * s], &mut dp[i * s..(i + 1) * s]);
                let dot: f64 = pr.iter().zip(dr.iter()).map(|(p, d)| p * d).sum();
                dr.iter_mut().zip(pr).for_each(|(d, p)| *d = p * (*d - dot) * scale);
            }
            gemm_acc(&dp, false, ks, false, &mut gq[qo..qo + l * e], l, s, e)?;
            gemm_acc(&dp, true, qs, false, &mut gk[ko..ko + s * e], s, l, e)?;
        }
    }
    Ok(vec![
        result(ctx, 0, q.shape.to_vec(), gq)?,
        result(ctx, 1, k.shape.to_vec(), gk)?,
        result(ctx, 2, v.shape.to_vec(), gv)?,
    ])
}
