//! The remote runtime's call overhead, next to a raw TCP ping-pong of the
//! same request size in the same run: a tiny plan (16 floats in, 16 out)
//! run through `genie-runtime serve` (in-process, on its own threads) and
//! the same bytes echoed by a bare socket thread. Both clients are the
//! blocking Rust client code path, so the difference is the protocol and
//! the server.

use criterion::{criterion_group, criterion_main, Criterion};
use genie_ir::parse_module;
use genie_remote::client::Client;
use genie_remote::protocol::{hash_bytes, Arg, TensorMeta};
use genie_runtime::Tensor;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn start_echo() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if s.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    addr
}

fn tiny_call(c: &mut Criterion) {
    let addr = genie_benches::start_remote_server(1, 1 << 30);
    let mut client = Client::connect(&addr, b"", Duration::from_secs(10)).unwrap();
    let m = parse_module("func.func @f(%x: tensor<16xf32>) -> tensor<16xf32> {\n  %0 = sem.neg %x : tensor<16xf32>\n  return %0 : tensor<16xf32>\n}\n", "tiny.mlir").unwrap();
    let plan = genie_plan::encode(&genie_codegen::compile_module(&m).unwrap()[0]);
    let h = hash_bytes(&[&plan]);
    client.put_plan(h, &plan).unwrap();
    let exec = client.load(h, vec![]).unwrap();
    let x = Tensor::from_vec(vec![16], vec![1.5f32; 16]).unwrap();
    let arg = || vec![Arg::Tensor(TensorMeta { dtype: x.dtype(), shape: vec![16] })];
    let before = client.stats.bytes_sent;
    client.run(exec, arg(), std::slice::from_ref(&x), vec![true], vec![]).unwrap();
    let request = (client.stats.bytes_sent - before) as usize;

    let mut g = c.benchmark_group("remote_call");
    g.bench_function("genie_tiny_plan", |b| b.iter(|| client.run(exec, arg(), std::slice::from_ref(&x), vec![true], vec![]).unwrap()));
    // As the Python client calls it: with a deadline the server watches.
    client.deadline = Some(Duration::from_secs(600));
    g.bench_function("genie_tiny_plan_with_deadline", |b| b.iter(|| client.run(exec, arg(), std::slice::from_ref(&x), vec![true], vec![]).unwrap()));
    client.deadline = None;
    let mut echo = TcpStream::connect(start_echo()).unwrap();
    echo.set_nodelay(true).unwrap();
    let payload = vec![7u8; request];
    let mut back = vec![0u8; request];
    g.bench_function(format!("raw_tcp_pingpong_{request}B"), |b| {
        b.iter(|| {
            echo.write_all(&payload).unwrap();
            echo.read_exact(&mut back).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, tiny_call);
criterion_main!(benches);
