//! Upload throughput of one 64 MiB tensor (PutTensor) into the in-process
//! `genie-runtime serve` over TCP loopback, next to its baselines in the same
//! run: a raw TCP socket whose receiver reads the same bytes into fresh
//! memory, and a single-thread memcpy into fresh memory. Then the same upload
//! over a Unix socket, where the client copies the bytes into a sealed memfd
//! that the server maps (shared memory: one copy, no socket traffic).
//! Receivers keep the last few uploads, as the server's store does under its
//! memory limit. Tensor names are a counter: the server checks a tensor's
//! content hash before another session uses it, not on upload.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use genie_benches::{raw_send, start_raw_sink, start_remote_server, start_remote_server_at, Kept};
use genie_remote::client::Client;
use genie_runtime::Tensor;
use std::time::Duration;

const BYTES: usize = 64 << 20;
/// Uploads each receiver keeps (the server's memory limit holds this many).
const KEEP: usize = 4;

/// Uploads `t` under a new name each time.
fn put_fresh(client: &mut Client, t: &Tensor) {
    let mut name = [0u8; 32];
    name[..8].copy_from_slice(&(client.stats.round_trips + 1).to_le_bytes());
    client.put_tensor(name, t).unwrap();
}

fn connect(addr: &str) -> Client {
    Client::connect(addr, b"", Duration::from_secs(60)).unwrap()
}

fn upload(c: &mut Criterion) {
    let t = Tensor::from_vec(vec![BYTES / 4], (0..BYTES / 4).map(|i| i as f32).collect()).unwrap();
    let data = t.contiguous_bytes().unwrap();
    let limit = (KEEP * BYTES) as u64;

    let mut g = c.benchmark_group("upload");
    g.throughput(Throughput::Bytes(BYTES as u64)).sampling_mode(SamplingMode::Flat);
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    let mut tcp = connect(&start_remote_server(2, limit));
    g.bench_function("genie_put_tensor_tcp", |b| b.iter(|| put_fresh(&mut tcp, &t)));
    let mut raw = start_raw_sink(BYTES, KEEP);
    g.bench_function("raw_tcp_into_fresh_memory", |b| b.iter(|| raw_send(&mut raw, data)));
    let mut kept = Kept::new(KEEP);
    g.bench_function("memcpy_into_fresh_memory", |b| b.iter(|| kept.next(BYTES).copy_from_slice(data)));
    if cfg!(target_os = "linux") {
        let path = std::env::temp_dir().join(format!("genie-bench-upload-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut unix = connect(&start_remote_server_at(&format!("unix://{}", path.display()), 2, limit));
        g.bench_function("genie_put_tensor_unix_shm", |b| b.iter(|| put_fresh(&mut unix, &t)));
        assert!(unix.stats.shm_bytes > 0, "the Unix-socket upload went through shared memory");
        let _ = std::fs::remove_file(&path);
    }
    g.finish();
}

criterion_group!(benches, upload);
criterion_main!(benches);
