//! Property tests: random valid modules survive print → parse → print in both
//! text forms, and no input whatsoever makes the parser panic.

use genie_ir::dialects::{lookup, InferCtx};
use genie_ir::{
    parse_module, print_module, verify, AttrDict, Attribute, BinOp, Builder, DType, Dim, Location, Module, SymExpr, TensorType, Type,
    ValueId,
};
use proptest::prelude::*;

/// A recipe for one op, interpreted against the values built so far.
#[derive(Clone, Debug)]
enum Step {
    Unary(usize, u8),
    Binary(usize, usize, u8),
    Permute(usize, u64),
    Sum(usize, u64, bool),
    Flatten(usize),
    Constant(ConstKind),
    Annotate(usize, String, i64),
}

#[derive(Clone, Debug)]
enum ConstKind {
    Int(i64),
    Float(f64),
    Sym(u32, i64),
    Resource(String),
}

const UNARY: &[&str] = &["sem.neg", "sem.exp", "sem.relu", "sem.tanh", "sem.clone", "sem.sigmoid"];
const BINARY: &[&str] = &["sem.add", "sem.mul", "sem.sub", "sem.maximum"];

fn dim() -> impl Strategy<Value = Dim> {
    prop_oneof![4 => (1i64..9).prop_map(Dim::Static), 1 => (0u32..3).prop_map(Dim::Sym), 1 => Just(Dim::Dynamic)]
}

fn tensor_type() -> impl Strategy<Value = Type> {
    (prop::collection::vec(dim(), 0..4), prop::sample::select(vec![DType::F32, DType::F16, DType::BF16, DType::F64]))
        .prop_map(|(dims, dtype)| Type::Tensor(TensorType::new(dims, dtype)))
}

fn step() -> impl Strategy<Value = Step> {
    let idx = 0usize..64;
    prop_oneof![
        (idx.clone(), 0u8..6).prop_map(|(a, k)| Step::Unary(a, k)),
        (idx.clone(), idx.clone(), 0u8..4).prop_map(|(a, b, k)| Step::Binary(a, b, k)),
        (idx.clone(), any::<u64>()).prop_map(|(a, s)| Step::Permute(a, s)),
        (idx.clone(), any::<u64>(), any::<bool>()).prop_map(|(a, s, k)| Step::Sum(a, s, k)),
        idx.clone().prop_map(Step::Flatten),
        prop_oneof![
            any::<i64>().prop_map(ConstKind::Int),
            any::<f64>().prop_map(ConstKind::Float),
            (0u32..4, -50i64..50).prop_map(|(s, c)| ConstKind::Sym(s, c)),
            "[a-z_][a-z0-9_.]{0,12}".prop_map(ConstKind::Resource),
        ]
        .prop_map(Step::Constant),
        (idx, "\\PC{0,12}", any::<i64>()).prop_map(|(a, s, l)| Step::Annotate(a, s, l)),
    ]
}

fn infer(name: &'static str, operands: &[&Type], attrs: &AttrDict) -> Option<Type> {
    let def = lookup(name)?;
    let ctx = InferCtx { op_name: name, operands: operands.to_vec(), attrs, num_results: 1 };
    def.infer?(&ctx).ok()?.into_iter().next()
}

fn build(inputs: Vec<Type>, steps: Vec<Step>) -> Module {
    let mut m = Module::new(Some("random"));
    let (_, entry) = Builder::function(&mut m, "f", inputs, vec![]);
    let mut values: Vec<ValueId> = m.block_args(entry).to_vec();
    let mut tensors: Vec<ValueId> = values.clone();
    for (i, s) in steps.into_iter().enumerate() {
        let pick = |v: &[ValueId], k: usize| if v.is_empty() { None } else { Some(v[k % v.len()]) };
        let mut attrs = AttrDict::new();
        let (name, operands): (&'static str, Vec<ValueId>) = match s {
            Step::Unary(a, k) => match pick(&tensors, a) {
                Some(x) => (UNARY[k as usize % UNARY.len()], vec![x]),
                None => continue,
            },
            Step::Binary(a, b, k) => match (pick(&tensors, a), pick(&tensors, b)) {
                (Some(x), Some(y)) => (BINARY[k as usize % BINARY.len()], vec![x, y]),
                _ => continue,
            },
            Step::Permute(a, seed) => {
                let Some(x) = pick(&tensors, a) else { continue };
                let rank = m.value_type(x).as_tensor().map_or(0, TensorType::rank);
                let mut perm: Vec<i64> = (0..rank as i64).collect();
                if rank > 1 {
                    perm.rotate_left((seed % rank as u64) as usize);
                }
                attrs.set("dims", Attribute::Array(perm.into_iter().map(Attribute::int).collect()));
                ("sem.permute", vec![x])
            }
            Step::Sum(a, seed, keep) => {
                let Some(x) = pick(&tensors, a) else { continue };
                let rank = m.value_type(x).as_tensor().map_or(0, TensorType::rank);
                if rank > 0 {
                    attrs.set("dim", Attribute::Array(vec![Attribute::int((seed % rank as u64) as i64)]));
                }
                if keep {
                    attrs.set("keepdim", Attribute::Bool(true));
                }
                ("sem.sum", vec![x])
            }
            Step::Flatten(a) => {
                let Some(x) = pick(&tensors, a) else { continue };
                attrs.set("size", Attribute::Array(vec![Attribute::int(-1)]));
                ("sem.view", vec![x])
            }
            Step::Constant(kind) => {
                let value = match kind {
                    ConstKind::Int(v) => Attribute::Int(v, DType::I64),
                    ConstKind::Float(v) => Attribute::Float(v, DType::F64),
                    ConstKind::Sym(s, c) => Attribute::Sym(SymExpr::bin(BinOp::Add, SymExpr::bin(BinOp::Mul, SymExpr::Sym(s), SymExpr::Const(c)), SymExpr::Const(1))),
                    ConstKind::Resource(h) => Attribute::DenseResource { handle: h, ty: Box::new(TensorType::of_static(&[2, 3], DType::F32)) },
                };
                attrs.set("value", value);
                ("sem.constant", vec![])
            }
            Step::Annotate(a, s, layer) => {
                let Some(x) = pick(&tensors, a) else { continue };
                attrs.set("sem.module_class", Attribute::String(s.clone()));
                attrs.set("sem.layer", Attribute::int(layer));
                ("sem.relu", vec![x])
            }
        };
        let tys: Vec<Type> = operands.iter().map(|&v| m.value_type(v).clone()).collect();
        let refs: Vec<&Type> = tys.iter().collect();
        let Some(ty) = infer(name, &refs, &attrs) else { continue };
        let mut b = Builder::at_end(&mut m, entry);
        b.loc = Location::module(&format!("layers.{i}"), Some(Location::file("model.py", i as u32 + 1, 0)));
        let v = b.value(name, &operands, ty, attrs);
        values.push(v);
        if m.value_type(v).is_tensor() {
            tensors.push(v);
        }
    }
    // Return every value, so nothing is dead and the signature is exercised.
    let results: Vec<Type> = values.iter().map(|&v| m.value_type(v).clone()).collect();
    let f = m.functions()[0];
    let ins = m.op(f).attr("function_type").and_then(Attribute::as_function_type).expect("function").0.to_vec();
    m.op_mut(f).attrs.set("function_type", Attribute::ty(Type::Function(ins, results)));
    Builder::at_end(&mut m, entry).op("func.return", &values, vec![], AttrDict::new());
    m
}

fn random_module() -> impl Strategy<Value = Module> {
    (prop::collection::vec(tensor_type(), 1..4), prop::collection::vec(step(), 0..24)).prop_map(|(i, s)| build(i, s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_modules_round_trip(m in random_module()) {
        prop_assert!(verify(&m).is_ok(), "built module does not verify: {}", verify(&m).unwrap_err());
        for generic in [false, true] {
            let text = print_module(&m, generic);
            let parsed = parse_module(&text, "random.mlir").map_err(|d| TestCaseError::fail(format!("{d}\n{text}")))?;
            prop_assert!(verify(&parsed).is_ok(), "{}", verify(&parsed).unwrap_err());
            prop_assert_eq!(print_module(&parsed, generic), text.clone());
            // The other form reads back to the same module too.
            let other = print_module(&parsed, !generic);
            let again = parse_module(&other, "random.mlir").map_err(|d| TestCaseError::fail(format!("{d}\n{other}")))?;
            prop_assert_eq!(print_module(&again, generic), text);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(m) = parse_module(&text, "fuzz.mlir") {
            let _ = verify(&m);
            let _ = print_module(&m, true);
        }
    }

    #[test]
    fn damaged_modules_never_panic(m in random_module(), cut in any::<prop::sample::Index>(), junk in "[%@#\"(){}<>:=,x?0-9a-z\\-. ]{0,8}") {
        let text = print_module(&m, false);
        let at = cut.index(text.len() + 1);
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let resume = ((at + junk.len()).min(text.len())..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        let damaged = format!("{}{}{}", &text[..at], junk, &text[resume..]);
        if let Ok(m) = parse_module(&damaged, "damaged.mlir") {
            let _ = verify(&m);
            let _ = print_module(&m, false);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = format!("func.func @f() {{\n  %0 = sem.constant {{value = {}1{}}} : i64\n  return\n}}\n", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse_module(&text, "deep.mlir").unwrap_err();
    assert!(err.to_string().contains("nesting deeper than"), "{err}");
}
