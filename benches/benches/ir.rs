//! IR goals (issue: foundation): on a 20,000-op `sem` module,
//! parse + verify + print ≤ 65 ms (upstream MLIR 19 parses and verifies
//! such a module in 130 ms on this class of machine), and canonicalize + CSE +
//! shape inference ≤ 50 ms. Results are recorded in docs/benchmarks.md.
//! `lower_to_exec` times `genie-lower-to-exec` alone on the same module (its
//! 3,876 `dense_resource` constants each become resident state); the phases
//! after it (codegen, plan bytecode) are in the `plan` bench.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use genie_benches::{gpt2_like_module, BENCH_OPS};
use genie_ir::{parse_module, print_module, verify};
use genie_passes::lower_to_exec::LowerToExec;
use genie_passes::{Pass, PassManager};
use std::time::Duration;

fn ir(c: &mut Criterion) {
    let text = gpt2_like_module(BENCH_OPS);
    let module = parse_module(&text, "bench.mlir").expect("generated module parses");
    let n = module.num_ops();
    let mut g = c.benchmark_group(format!("ir_{n}_ops"));
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("parse", |b| b.iter(|| parse_module(&text, "bench.mlir").unwrap()));
    g.bench_function("verify", |b| b.iter(|| verify(&module).unwrap()));
    g.bench_function("print_custom", |b| b.iter(|| print_module(&module, false)));
    g.bench_function("print_generic", |b| b.iter(|| print_module(&module, true)));
    g.bench_function("parse_verify_print", |b| {
        b.iter(|| {
            let m = parse_module(&text, "bench.mlir").unwrap();
            verify(&m).unwrap();
            print_module(&m, false)
        })
    });
    let generic = print_module(&module, true);
    g.bench_function("parse_verify_print_generic", |b| {
        b.iter(|| {
            let m = parse_module(&generic, "bench.mlir").unwrap();
            verify(&m).unwrap();
            print_module(&m, true)
        })
    });
    g.bench_function("canonicalize_cse_infer_shapes", |b| {
        b.iter_batched(
            || module.clone(),
            |mut m| {
                let mut pm = PassManager::parse_pipeline("genie-sem-infer-shapes,genie-sem-canonicalize,genie-cse").unwrap();
                pm.options.verify_each = false;
                pm.run(&mut m).unwrap();
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("lower_to_exec", |b| {
        b.iter_batched(
            || module.clone(),
            |mut m| {
                LowerToExec.run(&mut m).unwrap();
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ir);
criterion_main!(benches);
