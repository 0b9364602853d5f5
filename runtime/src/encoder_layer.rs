//! `aten._transformer_encoder_layer_fwd`: the fused fast path eager PyTorch
//! takes for `nn.TransformerEncoderLayer` in eval mode, run as its parts
//! (packed QKV projection, scaled dot-product attention per head, output
//! projection, residuals, two layer norms and the feed-forward block) in f64.

use crate::kernels::{one, tref, Ctx, R};
use crate::linalg::Blas;
use crate::tensor::{Tensor, Value};
use genie_plan::DType;

/// `x[rows, din] @ w[dout, din]^T + b` (a PyTorch linear layer).
fn linear(x: &[f64], rows: usize, w: &Tensor, b: &Tensor) -> Result<Vec<f64>, String> {
    let (dout, din) = (w.shape[0], w.shape[1]);
    if x.len() != rows * din || b.numel() != dout {
        return Err(format!("linear layer {:?} does not fit rows of {}", w.shape, x.len() / rows.max(1)));
    }
    let bias = b.to_f64();
    let mut out: Vec<f64> = (0..rows * dout).map(|i| bias[i % dout]).collect();
    let wv = w.to_f64();
    let int = |n: usize| i32::try_from(n).map_err(|_| format!("dimension {n} is too large for BLAS"));
    if rows > 0 && dout > 0 && din > 0 {
        // SAFETY: x is rows×din, w dout×din (read transposed), out rows×dout.
        let lib = crate::linalg::blas()?;
        unsafe { <f64 as Blas>::gemm(lib, false, true, int(rows)?, int(dout)?, int(din)?, 1.0, x.as_ptr(), int(din)?, wv.as_ptr(), int(din)?, 1.0, out.as_mut_ptr(), int(dout)?) };
    }
    Ok(out)
}

fn layer_norm(x: &mut [f64], e: usize, w: &Tensor, b: &Tensor, eps: f64) {
    let (w, b) = (w.to_f64(), b.to_f64());
    for row in x.chunks_mut(e) {
        let mean = row.iter().sum::<f64>() / e as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / e as f64;
        let rstd = 1.0 / (var + eps).sqrt();
        row.iter_mut().enumerate().for_each(|(i, v)| *v = (*v - mean) * rstd * w[i] + b[i]);
    }
}

/// Multi-head self-attention over `x` ([batch, len, e] flattened), with an
/// optional [len, len] mask (bool: true blocks; float: added to the scores).
fn attention(x: &[f64], batch: usize, len: usize, e: usize, heads: usize, args: &[Value], mask: Option<&Tensor>) -> Result<Vec<f64>, String> {
    let d = e / heads;
    let qkv = linear(x, batch * len, tref(&args[1])?, tref(&args[2])?)?;
    let mask = match mask {
        None => None,
        Some(m) if m.shape == [len, len] => Some((m.dtype() == DType::I1, m.to_f64())),
        Some(m) => return Err(format!("attention masks of shape {:?} are not supported yet (only [{len}, {len}])", m.shape)),
    };
    let scale = 1.0 / (d as f64).sqrt();
    let mut ctx = vec![0.0; batch * len * e];
    let at = |b: usize, t: usize, part: usize, h: usize, j: usize| qkv[(b * len + t) * 3 * e + part * e + h * d + j];
    let mut scores = vec![0.0; len];
    for b in 0..batch {
        for h in 0..heads {
            for i in 0..len {
                for (j, s) in scores.iter_mut().enumerate() {
                    *s = (0..d).map(|k| at(b, i, 0, h, k) * at(b, j, 1, h, k)).sum::<f64>() * scale;
                    match &mask {
                        Some((true, m)) if m[i * len + j] != 0.0 => *s = f64::NEG_INFINITY,
                        Some((false, m)) => *s += m[i * len + j],
                        _ => {}
                    }
                }
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for k in 0..d {
                    let v: f64 = scores.iter().enumerate().map(|(j, s)| (s - max).exp() / sum * at(b, j, 2, h, k)).sum();
                    ctx[(b * len + i) * e + h * d + k] = v;
                }
            }
        }
    }
    linear(&ctx, batch * len, tref(&args[3])?, tref(&args[4])?)
}

pub fn transformer_encoder_layer(ctx: &Ctx, args: &[Value]) -> R {
    let src = tref(&args[0])?;
    if src.shape.len() != 3 {
        return Err(format!("expected a [batch, len, embed] input, got {:?}", src.shape));
    }
    let (batch, len, e) = (src.shape[0], src.shape[1], src.shape[2]);
    let heads = ctx.req_int("num_heads")?.max(1) as usize;
    if e as i64 != ctx.req_int("embed_dim")? || e % heads != 0 {
        return Err(format!("embed dim {e} with {heads} heads"));
    }
    let eps = ctx.float("eps").unwrap_or(1e-5);
    let (gelu, norm_first) = (ctx.flag("use_gelu"), ctx.flag("norm_first"));
    let mask = match args.get(13) {
        Some(Value::Tensor(m)) => Some(m),
        _ => None,
    };
    let (n1w, n1b, n2w, n2b) = (tref(&args[5])?, tref(&args[6])?, tref(&args[7])?, tref(&args[8])?);
    let mut x = src.to_f64();
    let rows = batch * len;
    // Attention block.
    let mut h = x.clone();
    if norm_first {
        layer_norm(&mut h, e, n1w, n1b, eps);
    }
    let attn = attention(&h, batch, len, e, heads, args, mask)?;
    x.iter_mut().zip(&attn).for_each(|(v, a)| *v += a);
    if !norm_first {
        layer_norm(&mut x, e, n1w, n1b, eps);
    }
    // Feed-forward block.
    let mut h = x.clone();
    if norm_first {
        layer_norm(&mut h, e, n2w, n2b, eps);
    }
    let mut f = linear(&h, rows, tref(&args[9])?, tref(&args[10])?)?;
    f.iter_mut().for_each(|v| *v = if gelu { 0.5 * *v * (1.0 + crate::elementwise::erf(*v / std::f64::consts::SQRT_2)) } else { v.max(0.0) });
    let f = linear(&f, rows, tref(&args[11])?, tref(&args[12])?)?;
    x.iter_mut().zip(&f).for_each(|(v, a)| *v += a);
    if !norm_first {
        layer_norm(&mut x, e, n2w, n2b, eps);
    }
    one(Tensor::from_f64(src.shape.clone(), ctx.out_dtype(0)?, x)?)
}
