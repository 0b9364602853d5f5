//! Measures what a target file says about a device: its f32 matrix-product
//! rate and its memory read bandwidth, through the same kernels plans run.
//! `genie-runtime calibrate` prints the result as a target entry.

use crate::hal::Device;
use crate::tensor::{Tensor, Value};
use crate::Executable;
use genie_plan::{AttrDict, Builder, DType, Dim, Op, Role, Type};
use rayon::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// Median of `runs` timings of `f`, in seconds (one untimed warm-up first).
fn median_seconds(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    f()?;
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn matrix(n: usize, seed: f64) -> Tensor {
    Tensor::from_f64(vec![n, n], DType::F32, (0..n * n).map(|i| ((i % 17) as f64 - 8.0) * 0.01 + seed).collect()).expect("sizes match")
}

/// FLOP/s of an `n`×`n`×`n` f32 matrix product on `device` (the median of 5).
pub fn gemm_flops(device: Arc<dyn Device>, n: usize) -> Result<f64, String> {
    let mut b = Builder::new("calibrate_gemm");
    let d = b.device("dev", device.kind());
    let ty = Type::tensor(vec![Dim::Static(n as i64); 2], DType::F32);
    let x = b.input(d, &ty, Role::Input);
    let y = b.input(d, &ty, Role::Input);
    let z = b.call(d, Op::Mm, &[x, y], &AttrDict::new(), &[ty])[0];
    b.output(z, false);
    let exe = Executable::load_on(b.finish().map_err(|e| e.to_string())?, &|_| Ok(device.clone()))?;
    let (a, c) = (matrix(n, 0.0), matrix(n, 0.5));
    let s = median_seconds(5, || exe.run(vec![Value::Tensor(a.clone()), Value::Tensor(c.clone())]).map(drop))?;
    Ok(2.0 * (n as f64).powi(3) / s)
}

/// Bytes/s the host reads from memory: a parallel sum over `bytes` of
/// 64-bit words, more than the caches hold (the median of 5).
pub fn read_bandwidth(bytes: usize) -> Result<f64, String> {
    let words: Vec<u64> = (0..bytes / 8).map(|i| i as u64).collect();
    let mut sink = 0u64;
    let s = median_seconds(5, || {
        sink = sink.wrapping_add(words.par_chunks(1 << 16).map(|c| c.iter().fold(0u64, |a, &w| a.wrapping_add(w))).reduce(|| 0, u64::wrapping_add));
        Ok(())
    })?;
    std::hint::black_box(sink);
    Ok((words.len() * 8) as f64 / s)
}

/// Physical memory of this host, in bytes (Linux: `/proc/meminfo`).
pub fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_something_plausible() {
        let f = gemm_flops(crate::Cpu::shared(), 64).unwrap();
        assert!(f > 1e6 && f.is_finite(), "{f}");
        let b = read_bandwidth(1 << 20).unwrap();
        assert!(b > 1e6 && b.is_finite(), "{b}");
        assert!(host_memory().is_none_or(|m| m > 1 << 20));
    }
}
