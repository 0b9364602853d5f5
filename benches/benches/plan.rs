//! The compiler phases after `lower_to_exec`, on the same GPT-2-like module
//! the `ir` bench times up to it (parse, verify, shape inference +
//! canonicalize + CSE, lowering live there): codegen of the `exec` module
//! into a plan (buffer planning included), then the plan container —
//! encode, verify, decode (checksum + parse + verify: what the runtime server
//! does on every PutPlan) and disassembly (`genie-opt --dump-plan`). The
//! container phases report throughput in plan bytes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use genie_benches::{gpt2_like_module, BENCH_OPS};
use genie_codegen::compile_module;
use genie_plan::{decode, encode, verify};
use genie_ir::parse_module;
use genie_passes::lower_to_exec::LowerToExec;
use genie_passes::Pass;
use std::time::Duration;

fn plan(c: &mut Criterion) {
    let mut module = parse_module(&gpt2_like_module(BENCH_OPS), "bench.mlir").expect("generated module parses");
    let n = module.num_ops();
    LowerToExec.run(&mut module).expect("the module lowers to exec");
    let plan = compile_module(&module).expect("the exec module compiles").remove(0);
    let bytes = encode(&plan);

    let mut g = c.benchmark_group(format!("plan_{n}_ops"));
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function("codegen_exec_to_plan", |b| b.iter(|| compile_module(&module).unwrap()));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| encode(&plan)));
    g.bench_function("verify", |b| b.iter(|| verify(&plan).unwrap()));
    g.bench_function("decode", |b| b.iter(|| decode(&bytes).unwrap()));
    g.bench_function("disassemble", |b| b.iter(|| plan.to_string()));
    g.finish();
}

criterion_group!(benches, plan);
criterion_main!(benches);
