//! `genie-runtime calibrate`: measures this host's device and, given a
//! server, the link to it, and prints them as a target file (see
//! `genie_plan::target`) the compiler reads.

use crate::client::Client;
use crate::protocol::tensor_hash;
use genie_plan::{DeviceKind, Link, Target, TargetDevice};
use genie_runtime::{calibrate, Cpu, Tensor};
use std::time::{Duration, Instant};

/// This host's CPU as a target device named `name`, at `at` (`None`:
/// embedded in a client's process).
pub fn cpu_device(name: &str, at: Option<String>) -> Result<TargetDevice, String> {
    Ok(TargetDevice {
        name: name.to_string(),
        kind: DeviceKind::Cpu,
        at,
        memory: calibrate::host_memory().unwrap_or(16 << 30),
        flops: calibrate::gemm_flops(Cpu::shared(), 512)?,
        bandwidth: calibrate::read_bandwidth(256 << 20)?,
        ops: None,
    })
}

/// The link from this client to the server at `url`: one-way latency from
/// the median of 50 pings, bandwidth from uploading 64 MiB (median of 3).
pub fn link_to(url: &str, token: &[u8], device: &str) -> Result<Link, String> {
    let mut c = Client::connect(url, token, Duration::from_secs(60)).map_err(|e| format!("cannot reach {url}: {e}"))?;
    let mut pings = Vec::new();
    for _ in 0..51 {
        let start = Instant::now();
        c.ping().map_err(|e| format!("ping {url}: {e}"))?;
        pings.push(start.elapsed().as_secs_f64());
    }
    pings.sort_by(f64::total_cmp);
    let latency = pings[pings.len() / 2] / 2.0;
    let n = 16 << 20;
    let mut uploads = Vec::new();
    for round in 0..3u32 {
        // Fresh data each time, so the server cannot answer "already have it".
        let t = Tensor::from_vec(vec![n], (0..n as u32).map(|i| i.wrapping_mul(2654435761).wrapping_add(round)).map(|i| i as f32).collect::<Vec<f32>>())?;
        let h = tensor_hash(&t);
        let start = Instant::now();
        c.put_tensor(h, &t).map_err(|e| format!("upload to {url}: {e}"))?;
        uploads.push(start.elapsed().as_secs_f64() - 2.0 * latency);
    }
    uploads.sort_by(f64::total_cmp);
    let bandwidth = (n * 4) as f64 / uploads[1].max(1e-9);
    Ok(Link { from: "client".into(), to: device.to_string(), bandwidth, latency })
}

/// The target file `calibrate` prints.
pub fn target(name: &str, link: Option<(&str, &[u8])>) -> Result<String, String> {
    let device = cpu_device(name, link.map(|(url, _)| url.to_string()))?;
    let links = match link {
        Some((url, token)) => vec![link_to(url, token, name)?],
        None => vec![],
    };
    let t = Target { devices: vec![device], links };
    Ok(format!("# Measured by genie-runtime calibrate on this host.\n{}", t.to_toml()))
}
