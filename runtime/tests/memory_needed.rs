//! `Executable::memory_needed`: what a run holds at once, known before it
//! runs, so a server can refuse what it cannot hold.

use genie_runtime::plan::{AttrDict, Attribute, Builder, DType, Dim, DeviceKind, Op, Role, Type};
use genie_runtime::{Executable, Tensor, Value};

/// x [s0, 4] -> a = x + x -> b = a + a -> c = b broadcast (a view) -> d = c + b.
fn chain(rows_of_view: i64) -> Executable {
    let mut b = Builder::new("f");
    let dev = b.device("dev0", DeviceKind::Cpu);
    let ty = Type::tensor(vec![Dim::Sym(0), Dim::Static(4)], DType::F32);
    let x = b.input(dev, &ty, Role::Input);
    let a = b.call(dev, Op::Add, &[x, x], &AttrDict::new(), std::slice::from_ref(&ty))[0];
    let bb = b.call(dev, Op::Add, &[a, a], &AttrDict::new(), std::slice::from_ref(&ty))[0];
    let wide = Type::tensor(vec![Dim::Static(rows_of_view), Dim::Sym(0), Dim::Static(4)], DType::F32);
    let mut size = AttrDict::new();
    size.set("size", Attribute::Array(vec![Attribute::Int(rows_of_view, DType::I64), Attribute::Int(-1, DType::I64), Attribute::Int(-1, DType::I64)]));
    let c = b.call(dev, Op::Expand, &[bb], &size, std::slice::from_ref(&wide))[0];
    let d = b.call(dev, Op::Add, &[c, bb], &AttrDict::new(), &[wide])[0];
    b.output(d, false);
    Executable::load(b.finish().unwrap()).unwrap()
}

#[test]
fn peak_counts_live_results_not_views_and_follows_the_bound_sizes() {
    let exe = chain(3);
    let x = |rows: usize| vec![Value::Tensor(Tensor::from_vec(vec![rows, 4], vec![1f32; rows * 4]).unwrap())];
    // 10 rows: a and b 160 bytes each; the broadcast is a view; d is 3 × 160.
    // a is freed once b exists, so the peak is b + d.
    let need = exe.memory_needed(&x(10)).unwrap();
    assert_eq!((need.peak, need.largest), (160 + 480, 480), "{need:?}");
    let (d, pc) = need.largest_at;
    assert!(exe.describe(d, pc).contains("instruction 3 ('sem.add'"), "{}", exe.describe(d, pc));
    assert_eq!(exe.memory_needed(&x(100)).unwrap().peak, 1600 + 4800);
    // It agrees with what running makes.
    let out = exe.run(x(10)).unwrap();
    let Value::Tensor(t) = &out[0] else { panic!() };
    assert_eq!(t.shape, vec![3, 10, 4]);
    // Inputs that do not match the plan are refused like run refuses them.
    let e = exe.memory_needed(&[]).unwrap_err();
    assert!(e.contains("takes 1 inputs"), "{e}");
}

#[test]
fn a_size_beyond_64_bits_is_an_error_naming_the_instruction() {
    let exe = chain(1 << 62);
    let e = exe.memory_needed(&[Value::Tensor(Tensor::from_vec(vec![8, 4], vec![0f32; 32]).unwrap())]).unwrap_err();
    assert!(e.contains("instruction 3") && e.contains("sem.add") && e.contains("64-bit"), "{e}");
}
