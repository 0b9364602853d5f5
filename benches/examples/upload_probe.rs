//! Bulk upload through `genie-runtime serve` (in-process, its own threads)
//! next to a raw TCP socket whose receiver keeps the bytes in fresh memory
//! (with the same huge-page advice the server gives its receive buffers),
//! Rust on both sides, alternating in one run:
//! `cargo run --release -p genie-benches --example upload_probe [MiB]`.
//! (`cargo bench -p genie-benches --bench upload` measures the same at
//! 64 MiB under criterion, with memcpy and shared-memory baselines.)
use genie_benches::{raw_send, start_raw_sink};
use genie_remote::client::Client;
use genie_remote::protocol::tensor_hash;
use genie_runtime::Tensor;
use std::time::{Duration, Instant};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let bytes = mib << 20;
    let mut client = Client::connect(&genie_benches::start_remote_server(2, 16 << 30), b"", Duration::from_secs(60)).unwrap();
    // Kept, like the server's store keeps uploads (no unmapping in between).
    let mut raw = start_raw_sink(bytes, usize::MAX);
    let data = vec![3u8; bytes];

    let (mut genie, mut socket) = (vec![], vec![]);
    for rep in 0..5 {
        let t = Tensor::from_vec(vec![bytes / 4], (0..bytes / 4).map(|i| (i + rep) as f32).collect()).unwrap();
        let h = tensor_hash(&t);
        let start = Instant::now();
        client.put_tensor(h, &t).unwrap();
        genie.push(mib as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        raw_send(&mut raw, &data);
        socket.push(mib as f64 / start.elapsed().as_secs_f64());
    }
    let (g, r) = (median(genie), median(socket));
    println!("upload of {mib} MiB (median of 5): genie {g:.0} MiB/s, raw socket into fresh memory {r:.0} MiB/s ({:.2}x)", g / r);
}
