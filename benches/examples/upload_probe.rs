//! Bulk upload through `genie-runtime serve` (in-process, its own threads)
//! next to a raw TCP socket whose receiver keeps the bytes in fresh memory
//! (with the same huge-page advice the server gives its receive buffers),
//! Rust on both sides, alternating in one run:
//! `cargo run --release -p genie-benches --example upload_probe [MiB]`.
use genie_remote::client::Client;
use genie_remote::protocol::tensor_hash;
use genie_runtime::Tensor;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn fresh(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    // SAFETY: advice on memory the Vec owns; it changes no contents.
    unsafe { libc::madvise(v.as_mut_ptr().cast(), v.len(), libc::MADV_HUGEPAGE) };
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let bytes = mib << 20;
    let mut client = Client::connect(&genie_benches::start_remote_server(2, 16 << 30), b"", Duration::from_secs(60)).unwrap();

    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink_addr = sink.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = sink.accept().unwrap();
        // Kept, like the server's store keeps uploads (no unmapping in between).
        let mut kept = vec![];
        loop {
            let mut v = fresh(bytes);
            if s.read_exact(&mut v).is_err() {
                return;
            }
            kept.push(v);
            s.write_all(b"k").unwrap();
        }
    });
    let mut raw = TcpStream::connect(sink_addr).unwrap();
    raw.set_nodelay(true).unwrap();
    let data = vec![3u8; bytes];

    let (mut genie, mut socket) = (vec![], vec![]);
    for rep in 0..5 {
        let t = Tensor::from_vec(vec![bytes / 4], (0..bytes / 4).map(|i| (i + rep) as f32).collect()).unwrap();
        let h = tensor_hash(&t);
        let start = Instant::now();
        client.put_tensor(h, &t).unwrap();
        genie.push(mib as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        raw.write_all(&data).unwrap();
        raw.read_exact(&mut [0u8; 1]).unwrap();
        socket.push(mib as f64 / start.elapsed().as_secs_f64());
    }
    let (g, r) = (median(genie), median(socket));
    println!("upload of {mib} MiB (median of 5): genie {g:.0} MiB/s, raw socket into fresh memory {r:.0} MiB/s ({:.2}x)", g / r);
}
