//! Workloads for Genie's benchmarks.
//!
//! [`gpt2_like_module`] stacks copies of `examples/gpt2_block.mlir` (weights
//! become `dense_resource` constants, each layer feeds the next) until the
//! module holds the requested number of ops: the [`BENCH_OPS`]-op module the
//! IR goals are stated for. The rest starts the in-process runtime server and
//! the raw-socket and fresh-memory baselines the remote benches compare it
//! with.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// Size of the module the compiler-phase benches (`ir`, `plan`) share.
pub const BENCH_OPS: usize = 20_000;

/// Starts `genie-runtime serve` in this process on its own threads
/// (listening on 127.0.0.1, any port) and returns its address.
pub fn start_remote_server(worker_threads: usize, memory_limit: u64) -> String {
    start_remote_server_at("127.0.0.1:0", worker_threads, memory_limit)
}

/// [`start_remote_server`] listening on `listen` (`host:port` or
/// `unix:///path`); returns the address to connect to.
pub fn start_remote_server_at(listen: &str, worker_threads: usize, memory_limit: u64) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let listen = listen.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(worker_threads).enable_all().build().expect("tokio runtime");
        let (_keep, shutdown) = tokio::sync::watch::channel(false);
        let config = genie_remote::server::Config {
            listen,
            memory_limit,
            token: None,
            metrics: None,
            idle_timeout: std::time::Duration::from_secs(600),
            max_payload: memory_limit,
            payload_timeout: std::time::Duration::from_secs(30),
            max_connections: 256,
            ready: Some(tx),
            tls: None,
            run_workers: 2,
            resume_grace: std::time::Duration::from_secs(60),
            session_memory: memory_limit,
            session_plans: 1024,
        };
        rt.block_on(genie_remote::server::serve(config, shutdown)).expect("genie-runtime serve");
    });
    rx.recv().expect("the server reports its address")
}

/// A fresh buffer of `bytes` (untouched pages until written), with the
/// huge-page advice the server gives its receive buffers.
pub fn fresh(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    // SAFETY: advice on memory the Vec owns; it changes no contents.
    unsafe { libc::madvise(v.as_mut_ptr().cast(), v.len(), libc::MADV_HUGEPAGE) };
    v
}

/// The last `keep` fresh buffers handed out, like the server's store keeps
/// uploads (and evicts the oldest once its memory limit is reached).
pub struct Kept {
    keep: usize,
    bufs: VecDeque<Vec<u8>>,
}

impl Kept {
    pub fn new(keep: usize) -> Kept {
        Kept { keep: keep.max(1), bufs: VecDeque::new() }
    }

    /// A fresh buffer of `bytes`, dropping the oldest one first when full.
    pub fn next(&mut self, bytes: usize) -> &mut [u8] {
        if self.bufs.len() == self.keep {
            self.bufs.pop_front();
        }
        self.bufs.push_back(fresh(bytes));
        self.bufs.back_mut().expect("just pushed")
    }
}

/// A raw TCP receiver on its own thread: reads messages of `bytes` into
/// fresh memory (keeping the last `keep`, see [`Kept`]) and acknowledges
/// each with one byte. Returns the connected sending side, for [`raw_send`].
pub fn start_raw_sink(bytes: usize, keep: usize) -> TcpStream {
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = sink.local_addr().expect("bound address");
    std::thread::spawn(move || {
        let (mut s, _) = sink.accept().expect("the sender connects");
        let mut kept = Kept::new(keep);
        while s.read_exact(kept.next(bytes)).is_ok() && s.write_all(b"k").is_ok() {}
    });
    let raw = TcpStream::connect(addr).expect("connect to the raw sink");
    raw.set_nodelay(true).expect("TCP_NODELAY");
    raw
}

/// Sends `data` to a [`start_raw_sink`] receiver and waits for its ack.
pub fn raw_send(raw: &mut TcpStream, data: &[u8]) {
    raw.write_all(data).expect("raw send");
    raw.read_exact(&mut [0u8; 1]).expect("raw ack");
}

const BLOCK: &str = include_str!("../../examples/gpt2_block.mlir");

/// Custom-form text of a GPT-2-like module with at least `min_ops` ops.
pub fn gpt2_like_module(min_ops: usize) -> String {
    let header = BLOCK.lines().find(|l| l.trim_start().starts_with("func.func")).expect("example has a function");
    let arg_types = parse_arg_types(header);
    let body: Vec<&str> = BLOCK
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("func.func"))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("return"))
        .collect();
    let input_ty = &arg_types[0];
    let mut out = String::new();
    out.push_str("module @gpt2_like attributes {genie.symbols = {s0 = [1, 1024]}} {\n");
    out.push_str(&format!("  func.func @forward(%x: {input_ty}) -> {input_ty} {{\n"));
    let (mut ops, mut layer, mut prev) = (0usize, 0usize, "%x".to_string());
    while ops < min_ops {
        for (k, ty) in arg_types.iter().enumerate().skip(1) {
            out.push_str(&format!("    %w{layer}_{k} = sem.constant {{value = dense_resource<h{layer}.w{k}> : {ty}}} : {ty}\n"));
            ops += 1;
        }
        let mut last = String::new();
        for line in &body {
            let line = rename(line, layer, &prev);
            if let Some(def) = line.trim_start().strip_prefix('%') {
                last = format!("%{}", def.split([' ', ':']).next().unwrap_or_default());
            }
            out.push_str(&line);
            out.push('\n');
            ops += 1;
        }
        prev = last;
        layer += 1;
    }
    out.push_str(&format!("    return {prev} : {input_ty}\n  }}\n}}\n"));
    out
}

fn parse_arg_types(header: &str) -> Vec<String> {
    let args = &header[header.find('(').expect("(") + 1..header.find(") ->").expect(") ->")];
    args.split("%arg").skip(1).map(|a| a.split_once(": ").expect("typed arg").1.trim_end_matches([',', ' ']).to_string()).collect()
}

/// Renames `%argK` to layer weights (or the previous output) and `%N` to `%lL_N`.
fn rename(line: &str, layer: usize, prev: &str) -> String {
    let mut out = String::with_capacity(line.len() + 32);
    let mut rest = line;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let len = tail.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(tail.len());
        let name = &tail[..len];
        match name.strip_prefix("arg") {
            Some("0") => out.push_str(prev),
            Some(k) => out.push_str(&format!("%w{layer}_{k}")),
            None => out.push_str(&format!("%l{layer}_{name}")),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_module_is_valid_and_large_enough() {
        let text = gpt2_like_module(2_000);
        let m = genie_ir::parse_module(&text, "gen.mlir").unwrap_or_else(|d| panic!("{d}"));
        genie_ir::verify(&m).unwrap_or_else(|d| panic!("{d}"));
        assert!(m.num_ops() >= 2_000);
    }
}
