//! What runs allocate, measured with a counting allocator, against what
//! `Executable::memory_needed` promised before they ran: the promise must
//! hold (a server refuses runs by it), for every kind of kernel that makes
//! temporaries — products, convolutions on each of their paths, narrow
//! types, sorts, norms, appends.

use genie_runtime::conformance::sample_tensor;
use genie_runtime::plan::dialects::InferCtx;
use genie_runtime::plan::{AttrDict, Attribute, Builder, DType, DeviceKind, Dim, Op, Role, Type};
use genie_runtime::{Executable, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            PEAK.fetch_max(CURRENT.fetch_add(l.size(), Relaxed) + l.size(), Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            PEAK.fetch_max(CURRENT.fetch_add(l.size(), Relaxed) + l.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, size) };
        if !q.is_null() {
            CURRENT.fetch_sub(l.size(), Relaxed);
            PEAK.fetch_max(CURRENT.fetch_add(size, Relaxed) + size, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bookkeeping a run makes besides tensors (slots, shapes, the result
/// vector): bounded, and small next to the cases' megabytes.
const SLACK: usize = 64 << 10;

fn t(dims: &[usize], dtype: DType) -> Type {
    Type::tensor(
        dims.iter()
            .map(|&d| Dim::Static(d as i64))
            .collect::<Vec<_>>(),
        dtype,
    )
}

fn attrs(entries: &[(&'static str, Attribute)]) -> AttrDict {
    let mut d = AttrDict::new();
    for (k, v) in entries {
        d.set(*k, v.clone());
    }
    d
}

fn ints(v: &[i64]) -> Attribute {
    Attribute::Array(v.iter().map(|&x| Attribute::int(x)).collect())
}

struct Case {
    name: &'static str,
    /// Calls, each on earlier values (inputs first, then results in order).
    calls: Vec<(Op, AttrDict, Vec<usize>)>,
    inputs: Vec<Value>,
}

fn tensor(dims: &[usize], dtype: DType) -> Value {
    Value::Tensor(sample_tensor(dims, dtype, 1))
}

fn case(name: &'static str, inputs: Vec<Value>, calls: Vec<(Op, AttrDict, Vec<usize>)>) -> Case {
    Case {
        name,
        calls,
        inputs,
    }
}

fn call(op: Op, a: &[(&'static str, Attribute)], operands: &[usize]) -> (Op, AttrDict, Vec<usize>) {
    (op, attrs(a), operands.to_vec())
}

fn build(c: &Case) -> Executable {
    let mut b = Builder::new(c.name);
    let dev = b.device("dev0", DeviceKind::Cpu);
    let mut values: Vec<(u32, Type)> = c
        .inputs
        .iter()
        .map(|v| {
            let ty = match v {
                Value::Tensor(x) => t(&x.shape, x.dtype()),
                Value::Int(_) => Type::Scalar(DType::I64),
                _ => Type::None,
            };
            (b.input(dev, &ty, Role::Input), ty)
        })
        .collect();
    let mut last = vec![];
    for (op, a, operands) in &c.calls {
        let def = op.def();
        let types: Vec<&Type> = operands.iter().map(|&o| &values[o].1).collect();
        let n = def.results.len();
        let results = (def.infer.unwrap())(&InferCtx {
            op_name: def.name,
            operands: types,
            attrs: a,
            num_results: n,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let ids: Vec<u32> = operands.iter().map(|&o| values[o].0).collect();
        last = b.call(dev, *op, &ids, a, &results);
        values.extend(last.iter().copied().zip(results));
    }
    for o in last {
        b.output(o, false);
    }
    Executable::load(b.finish().unwrap()).unwrap()
}

fn cases() -> Vec<Case> {
    use Op::*;
    let conv = |stride: i64, pad: i64| {
        [
            ("stride", ints(&[stride, stride])),
            ("padding", ints(&[pad, pad])),
            ("dilation", ints(&[1, 1])),
            ("groups", Attribute::int(1)),
        ]
    };
    vec![
        case(
            "broadcast add",
            vec![
                tensor(&[512, 1024], DType::F32),
                tensor(&[1024], DType::F32),
            ],
            vec![call(Add, &[], &[0, 1])],
        ),
        case(
            "f16 broadcast add",
            vec![
                tensor(&[512, 1024], DType::F16),
                tensor(&[1024], DType::F16),
            ],
            vec![call(Add, &[], &[0, 1])],
        ),
        case(
            "bf16 gelu",
            vec![tensor(&[512, 1024], DType::BF16)],
            vec![call(Gelu, &[], &[0])],
        ),
        case(
            "mm",
            vec![
                tensor(&[256, 1024], DType::F32),
                tensor(&[1024, 1024], DType::F32),
            ],
            vec![call(Mm, &[], &[0, 1])],
        ),
        case(
            "mm of a transposed weight",
            vec![
                tensor(&[256, 1024], DType::F32),
                tensor(&[1024, 1024], DType::F32),
            ],
            vec![
                call(
                    Transpose,
                    &[("dim0", Attribute::int(0)), ("dim1", Attribute::int(1))],
                    &[1],
                ),
                call(Mm, &[], &[0, 2]),
            ],
        ),
        case(
            "f16 mm",
            vec![
                tensor(&[256, 1024], DType::F16),
                tensor(&[1024, 512], DType::F16),
            ],
            vec![call(Mm, &[], &[0, 1])],
        ),
        case(
            "bmm",
            vec![
                tensor(&[12, 128, 64], DType::F32),
                tensor(&[12, 64, 512], DType::F32),
            ],
            vec![call(Bmm, &[], &[0, 1])],
        ),
        case(
            "addmm",
            vec![
                tensor(&[3072], DType::F32),
                tensor(&[128, 768], DType::F32),
                tensor(&[768, 3072], DType::F32),
            ],
            vec![call(Addmm, &[], &[0, 1, 2])],
        ),
        case(
            "3x3 convolution",
            vec![
                tensor(&[1, 64, 56, 56], DType::F32),
                tensor(&[64, 64, 3, 3], DType::F32),
                Value::None,
            ],
            vec![call(Convolution, &conv(1, 1), &[0, 1, 2])],
        ),
        case(
            "7x7 strided convolution",
            vec![
                tensor(&[2, 3, 224, 224], DType::F32),
                tensor(&[64, 3, 7, 7], DType::F32),
                Value::None,
            ],
            vec![call(Convolution, &conv(2, 3), &[0, 1, 2])],
        ),
        case(
            "pointwise convolution",
            vec![
                tensor(&[4, 256, 14, 14], DType::F32),
                tensor(&[64, 256, 1, 1], DType::F32),
                Value::None,
            ],
            vec![call(Convolution, &conv(1, 0), &[0, 1, 2])],
        ),
        case(
            "deep convolution, batch 8",
            vec![
                tensor(&[8, 256, 7, 7], DType::F32),
                tensor(&[512, 256, 3, 3], DType::F32),
                Value::None,
            ],
            vec![call(Convolution, &conv(2, 1), &[0, 1, 2])],
        ),
        case(
            "f16 convolution",
            vec![
                tensor(&[1, 32, 32, 32], DType::F16),
                tensor(&[32, 32, 3, 3], DType::F16),
                Value::None,
            ],
            vec![call(Convolution, &conv(1, 1), &[0, 1, 2])],
        ),
        case(
            "softmax",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Softmax, &[("dim", Attribute::int(-1))], &[0])],
        ),
        case(
            "layer norm",
            vec![
                tensor(&[512, 768], DType::F32),
                tensor(&[768], DType::F32),
                tensor(&[768], DType::F32),
            ],
            vec![call(
                NativeLayerNorm,
                &[
                    ("normalized_shape", ints(&[768])),
                    ("eps", Attribute::Float(1e-5, DType::F64)),
                ],
                &[0, 1, 2],
            )],
        ),
        case(
            "sort",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Sort, &[("dim", Attribute::int(-1))], &[0])],
        ),
        case(
            "topk",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Topk, &[("k", Attribute::int(50))], &[0])],
        ),
        case(
            "argmax",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Argmax, &[("dim", Attribute::int(-1))], &[0])],
        ),
        case(
            "cumsum",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Cumsum, &[("dim", Attribute::int(1))], &[0])],
        ),
        case(
            "sum over a dim",
            vec![tensor(&[64, 4096], DType::F32)],
            vec![call(Sum, &[("dim", ints(&[0]))], &[0])],
        ),
        case(
            "cat",
            vec![
                tensor(&[512, 768], DType::F32),
                tensor(&[512, 768], DType::F32),
            ],
            vec![call(Cat, &[("dim", Attribute::int(0))], &[0, 1])],
        ),
        case(
            "append",
            vec![
                tensor(&[1, 12, 1000, 64], DType::F32),
                tensor(&[1, 12, 1, 64], DType::F32),
            ],
            vec![call(Append, &[("dim", Attribute::int(2))], &[0, 1])],
        ),
        case(
            "contiguous copy of a permutation",
            vec![tensor(&[64, 128, 96], DType::F32)],
            vec![
                call(Permute, &[("dims", ints(&[2, 0, 1]))], &[0]),
                call(Clone, &[], &[1]),
            ],
        ),
        case(
            "max pool",
            vec![tensor(&[2, 64, 112, 112], DType::F32)],
            vec![call(
                MaxPool2dWithIndices,
                &[
                    ("kernel_size", ints(&[3, 3])),
                    ("stride", ints(&[2, 2])),
                    ("padding", ints(&[1, 1])),
                ],
                &[0],
            )],
        ),
        case(
            "embedding",
            vec![
                tensor(&[5000, 768], DType::F32),
                Value::Tensor(
                    genie_runtime::Tensor::from_f64(
                        vec![512],
                        DType::I64,
                        (0..512).map(|i| (i * 7 % 5000) as f64).collect(),
                    )
                    .unwrap(),
                ),
            ],
            vec![call(Embedding, &[], &[0, 1])],
        ),
    ]
}

#[test]
fn runs_allocate_no_more_than_memory_needed_promises() {
    let mut report = vec![];
    let mut failures = vec![];
    for c in cases() {
        let exe = build(&c);
        let need = exe.memory_needed(&c.inputs).unwrap();
        // Once to warm up (BLAS buffers, the arena), then measured.
        drop(exe.run(c.inputs.clone()).unwrap());
        let start = CURRENT.load(Relaxed);
        PEAK.store(start, Relaxed);
        let out = exe
            .run(c.inputs.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let used = PEAK.load(Relaxed) - start;
        drop(out);
        report.push(format!(
            "{:<34} measured {:>10} B, promised {:>10} B ({:.2}x)",
            c.name,
            used,
            need.peak,
            need.peak as f64 / used.max(1) as f64
        ));
        if used > need.peak as usize + SLACK {
            failures.push(format!(
                "{}: allocated {used} bytes, memory_needed promised {}",
                c.name, need.peak
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
