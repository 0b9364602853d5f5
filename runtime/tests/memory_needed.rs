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
    // a is freed once b exists, so the values peak at b + d, and the
    // kernels' scratch comes on top.
    let need = exe.memory_needed(&x(10)).unwrap();
    assert_eq!(need.largest, 480, "{need:?}");
    assert!(need.peak >= 160 + 480, "{need:?}");
    let (d, pc) = need.largest_at;
    assert!(exe.describe(d, pc).contains("instruction 3 ('sem.add'"), "{}", exe.describe(d, pc));
    // Every term follows the bound sizes.
    assert_eq!(exe.memory_needed(&x(100)).unwrap().peak, 10 * need.peak);
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

/// x [1, 4] broadcast to `rows` rows and added to itself, the result
/// declared as `declared` (what a hostile plan may write instead of the
/// size its operands give).
fn expanding(rows: i64, declared: Dim) -> Executable {
    let mut b = Builder::new("f");
    let dev = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(dev, &Type::tensor(vec![Dim::Static(1), Dim::Static(4)], DType::F32), Role::Input);
    let big = Type::tensor(vec![Dim::Static(rows), Dim::Static(4)], DType::F32);
    let mut size = AttrDict::new();
    size.set("size", Attribute::Array(vec![Attribute::Int(rows, DType::I64), Attribute::Int(4, DType::I64)]));
    let e = b.call(dev, Op::Expand, &[x], &size, &[big])[0];
    let y = b.call(dev, Op::Add, &[e, e], &AttrDict::new(), &[Type::tensor(vec![declared, Dim::Static(4)], DType::F32)])[0];
    b.output(y, false);
    Executable::load(b.finish().unwrap()).unwrap()
}

fn one_row() -> Vec<Value> {
    vec![Value::Tensor(Tensor::from_vec(vec![1, 4], vec![1f32; 4]).unwrap())]
}

#[test]
fn a_result_declared_unknown_is_counted_at_the_size_its_operands_give() {
    // The verifier accepts `?` where the shape rule knows the size; the
    // account must not take the plan's word for it.
    for declared in [Dim::Dynamic, Dim::Sym(9)] {
        let need = expanding(1 << 40, declared).memory_needed(&one_row()).unwrap();
        assert!(need.peak >= 16 << 40, "{declared:?}: {need:?}");
        assert_eq!(need.largest, 16 << 40, "{declared:?}");
    }
}

#[test]
fn a_static_size_the_operands_contradict_does_not_hide_the_product() {
    // [s0, 1] @ [1, s1] declared [1, 1]: compatible to the verifier, but
    // the kernel makes s0 × s1 elements.
    let mut b = Builder::new("f");
    let dev = b.device("dev0", DeviceKind::Cpu);
    let a = b.input(dev, &Type::tensor(vec![Dim::Sym(0), Dim::Static(1)], DType::F32), Role::Input);
    let c = b.input(dev, &Type::tensor(vec![Dim::Static(1), Dim::Sym(1)], DType::F32), Role::Input);
    let y = b.call(dev, Op::Mm, &[a, c], &AttrDict::new(), &[Type::tensor(vec![Dim::Static(1), Dim::Static(1)], DType::F32)])[0];
    b.output(y, false);
    let exe = Executable::load(b.finish().unwrap()).unwrap();
    let n = 1 << 16;
    let col = Value::Tensor(Tensor::from_vec(vec![n, 1], vec![1f32; n]).unwrap());
    let row = Value::Tensor(Tensor::from_vec(vec![1, n], vec![1f32; n]).unwrap());
    let need = exe.memory_needed(&[col, row]).unwrap();
    assert!(need.largest >= 4 << 32, "{need:?}");
}

#[test]
fn a_data_dependent_size_is_bounded_by_its_operands() {
    // x[mask]: as many rows as the mask has true elements, at most all.
    let mut b = Builder::new("f");
    let dev = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(dev, &Type::tensor(vec![Dim::Static(1000), Dim::Static(8)], DType::F32), Role::Input);
    let m = b.input(dev, &Type::tensor(vec![Dim::Static(1000)], DType::I1), Role::Input);
    let y = b.call(dev, Op::Index, &[x, m], &AttrDict::new(), &[Type::tensor(vec![Dim::Dynamic, Dim::Static(8)], DType::F32)])[0];
    b.output(y, false);
    let exe = Executable::load(b.finish().unwrap()).unwrap();
    let x = Value::Tensor(Tensor::from_vec(vec![1000, 8], vec![1f32; 8000]).unwrap());
    let m = Value::Tensor(Tensor::from_f64(vec![1000], DType::I1, vec![1.0; 1000]).unwrap());
    let need = exe.memory_needed(&[x, m]).unwrap();
    assert!(need.largest >= 32_000, "{need:?}");
}
