//! The backend conformance suite: what every [`Device`] must do, checked
//! through the same interface the interpreter uses. `runtime/tests/
//! conformance.rs` runs it for the CPU backend; another backend calls
//! [`run`] with its own device.
//!
//! - **opcodes**: every op either runs on the samples below, with results of
//!   exactly the shape and dtype the op table's shape rule gives (and the
//!   values listed, where a sample lists them), or is refused at load with a
//!   message naming it — never a wrong-typed result or a panic;
//! - **dtypes**: every element type through copies, casts and arithmetic;
//! - **strides**: non-contiguous, broadcast and offset inputs;
//! - **aliasing**: outputs never alias inputs or constants; a planned buffer
//!   that a live result still references is never overwritten;
//! - **streams**: values sent between devices, state stored and read back on
//!   the next call, the buffer table reused across calls;
//! - **errors**: bad inputs, unbound constants and failing kernels give
//!   errors naming what and where.

use crate::hal::Device;
use crate::tensor::{Tensor, Value};
use crate::Executable;
use genie_plan::dialects::InferCtx;
use genie_plan::{AttrDict, Attribute, Builder, DType, Dim, Op, Plan, ResidentKind, Role, Type};
use std::sync::Arc;

/// The outcome of the suite on one device.
#[derive(Debug, Default)]
pub struct Report {
    /// Checks that failed, each naming the case.
    pub failures: Vec<String>,
    /// Ops with a sample that the device ran.
    pub ran: Vec<Op>,
    /// Ops the device refused at load, with its reason.
    pub refused: Vec<(Op, String)>,
    /// Ops without a sample here (checked by the model tests instead).
    pub unsampled: Vec<Op>,
}

fn t(dims: &[usize], dtype: DType) -> Type {
    Type::tensor(dims.iter().map(|&d| Dim::Static(d as i64)).collect::<Vec<_>>(), dtype)
}

fn attrs(entries: &[(&'static str, Attribute)]) -> AttrDict {
    let mut d = AttrDict::new();
    for (k, v) in entries {
        d.set(*k, v.clone());
    }
    d
}

fn int(v: i64) -> Attribute {
    Attribute::int(v)
}
fn float(v: f64) -> Attribute {
    Attribute::Float(v, DType::F64)
}
fn boolean(v: bool) -> Attribute {
    Attribute::Bool(v)
}
fn ints(v: &[i64]) -> Attribute {
    Attribute::Array(v.iter().map(|&x| Attribute::int(x)).collect())
}
fn dtype(d: DType) -> Attribute {
    Attribute::ty(Type::Scalar(d))
}

/// A deterministic tensor: small values of both signs (integers for
/// integer dtypes, 0/1 for bool).
pub fn sample_tensor(dims: &[usize], dtype: DType, seed: usize) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let k = ((i * 7 + seed * 13) % 11) as f64 - 5.0;
            if dtype.is_float() {
                k * 0.37 + 0.05
            } else if dtype == DType::I1 {
                ((i + seed) % 3 == 0) as u8 as f64
            } else {
                k
            }
        })
        .collect();
    Tensor::from_f64(dims.to_vec(), dtype, v).expect("sizes match")
}

/// One call: inputs (typed; values from [`sample_tensor`] unless given),
/// attributes, and optionally the values of result 0.
struct Sample {
    op: Op,
    attrs: AttrDict,
    inputs: Vec<Input>,
    want: Option<Vec<f64>>,
}

enum Input {
    T(Vec<usize>, DType),
    Given(Tensor),
    Int(i64),
    Float(f64),
    None,
}

impl Input {
    fn ty(&self) -> Type {
        match self {
            Input::T(d, dt) => t(d, *dt),
            Input::Given(x) => t(&x.shape, x.dtype()),
            Input::Int(_) => Type::Scalar(DType::I64),
            Input::Float(_) => Type::Scalar(DType::F64),
            Input::None => Type::None,
        }
    }

    fn value(&self, seed: usize) -> Value {
        match self {
            Input::T(d, dt) => Value::Tensor(sample_tensor(d, *dt, seed)),
            Input::Given(x) => Value::Tensor(x.clone()),
            Input::Int(v) => Value::Int(*v),
            Input::Float(v) => Value::Float(*v),
            Input::None => Value::None,
        }
    }
}

fn f32s(d: &[usize]) -> Input {
    Input::T(d.to_vec(), DType::F32)
}
fn of(d: &[usize], dt: DType) -> Input {
    Input::T(d.to_vec(), dt)
}
fn given(d: &[usize], dt: DType, v: &[f64]) -> Input {
    Input::Given(Tensor::from_f64(d.to_vec(), dt, v.to_vec()).expect("sizes match"))
}

fn s(op: Op, a: &[(&'static str, Attribute)], inputs: Vec<Input>) -> Sample {
    Sample { op, attrs: attrs(a), inputs, want: None }
}

fn sv(op: Op, a: &[(&'static str, Attribute)], inputs: Vec<Input>, want: &[f64]) -> Sample {
    Sample { op, attrs: attrs(a), inputs, want: Some(want.to_vec()) }
}

fn samples() -> Vec<Sample> {
    use Op::*;
    let x = || f32s(&[2, 3]);
    let small = || given(&[4], DType::F32, &[-1.5, 0.0, 0.25, 2.0]);
    let mut v = vec![
        s(Constant, &[("value", float(2.5))], vec![]),
        s(None, &[], vec![]),
        s(SymSize, &[("dim", int(1))], vec![x()]),
        s(SymNumel, &[], vec![x()]),
        sv(Neg, &[], vec![small()], &[1.5, 0.0, -0.25, -2.0]),
        sv(Abs, &[], vec![small()], &[1.5, 0.0, 0.25, 2.0]),
        sv(Sign, &[], vec![small()], &[-1.0, 0.0, 1.0, 1.0]),
        sv(Floor, &[], vec![small()], &[-2.0, 0.0, 0.0, 2.0]),
        sv(Ceil, &[], vec![small()], &[-1.0, 0.0, 1.0, 2.0]),
        sv(Round, &[], vec![given(&[4], DType::F32, &[0.5, 1.5, -2.5, 2.4])], &[0.0, 2.0, -2.0, 2.0]),
        sv(Trunc, &[], vec![small()], &[-1.0, 0.0, 0.0, 2.0]),
        sv(Relu, &[], vec![small()], &[0.0, 0.0, 0.25, 2.0]),
        sv(Exp, &[], vec![given(&[2], DType::F32, &[0.0, 1.0])], &[1.0, std::f64::consts::E]),
        s(Expm1, &[], vec![x()]),
        sv(Log, &[], vec![given(&[2], DType::F32, &[1.0, std::f64::consts::E])], &[0.0, 1.0]),
        s(Log1p, &[], vec![x()]),
        sv(Sqrt, &[], vec![given(&[2], DType::F32, &[4.0, 9.0])], &[2.0, 3.0]),
        sv(Rsqrt, &[], vec![given(&[2], DType::F32, &[4.0, 0.25])], &[0.5, 2.0]),
        sv(Reciprocal, &[], vec![given(&[2], DType::F32, &[4.0, -0.5])], &[0.25, -2.0]),
        s(Sin, &[], vec![x()]),
        s(Cos, &[], vec![x()]),
        sv(Tanh, &[], vec![given(&[1], DType::F32, &[0.0])], &[0.0]),
        sv(Sigmoid, &[], vec![given(&[1], DType::F32, &[0.0])], &[0.5]),
        s(Erf, &[], vec![x()]),
        s(Silu, &[], vec![x()]),
        s(Hardswish, &[], vec![x()]),
        s(Hardsigmoid, &[], vec![x()]),
        sv(LogicalNot, &[], vec![given(&[2], DType::I1, &[0.0, 1.0])], &[1.0, 0.0]),
        sv(BitwiseNot, &[], vec![given(&[2], DType::I64, &[0.0, 5.0])], &[-1.0, -6.0]),
        sv(Isnan, &[], vec![given(&[2], DType::F32, &[f64::NAN, 1.0])], &[1.0, 0.0]),
        s(Clone, &[], vec![x()]),
        s(Alias, &[], vec![x()]),
        s(Detach, &[], vec![x()]),
        s(LiftFreshCopy, &[], vec![x()]),
        s(Gelu, &[("approximate", Attribute::String("tanh".into()))], vec![x()]),
        sv(LeakyRelu, &[("negative_slope", float(0.5))], vec![small()], &[-0.75, 0.0, 0.25, 2.0]),
        sv(Hardtanh, &[], vec![small()], &[-1.0, 0.0, 0.25, 1.0]),
        sv(Clamp, &[("min", float(0.0)), ("max", float(1.0))], vec![small()], &[0.0, 0.0, 0.25, 1.0]),
        sv(Fill, &[], vec![of(&[3], DType::F32), Input::Float(7.0)], &[7.0, 7.0, 7.0]),
        sv(Tril, &[], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[1., 0., 3., 4.]),
        sv(Triu, &[], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[1., 2., 0., 4.]),
        sv(ToCopy, &[("dtype", dtype(DType::I64))], vec![small()], &[-1.0, 0.0, 0.0, 2.0]),
        s(ConvertElementType, &[("dtype", dtype(DType::F16))], vec![x()]),
        sv(Add, &[("alpha", float(2.0))], vec![small(), small()], &[-4.5, 0.0, 0.75, 6.0]),
        sv(Sub, &[], vec![small(), given(&[1], DType::F32, &[1.0])], &[-2.5, -1.0, -0.75, 1.0]),
        sv(Mul, &[], vec![small(), Input::Float(2.0)], &[-3.0, 0.0, 0.5, 4.0]),
        sv(Div, &[], vec![small(), Input::Float(2.0)], &[-0.75, 0.0, 0.125, 1.0]),
        sv(FloorDivide, &[], vec![given(&[2], DType::I64, &[7.0, -7.0]), Input::Int(2)], &[3.0, -4.0]),
        sv(Remainder, &[], vec![given(&[2], DType::I64, &[7.0, -7.0]), Input::Int(3)], &[1.0, 2.0]),
        sv(Fmod, &[], vec![given(&[2], DType::I64, &[7.0, -7.0]), Input::Int(3)], &[1.0, -1.0]),
        sv(Pow, &[], vec![given(&[2], DType::F32, &[2.0, 3.0]), Input::Float(2.0)], &[4.0, 9.0]),
        s(Atan2, &[], vec![x(), x()]),
        s(Maximum, &[], vec![x(), f32s(&[3])]),
        s(Minimum, &[], vec![x(), f32s(&[1, 3])]),
    ];
    for op in [Eq, Ne, Lt, Le, Gt, Ge] {
        v.push(s(op, &[], vec![x(), f32s(&[3])]));
    }
    for op in [LogicalAnd, LogicalOr, LogicalXor] {
        v.push(s(op, &[], vec![of(&[4], DType::I1), of(&[4], DType::I1)]));
    }
    for op in [BitwiseAnd, BitwiseOr, BitwiseXor] {
        v.push(s(op, &[], vec![of(&[4], DType::I64), of(&[4], DType::I64)]));
    }
    v.extend([
        sv(Where, &[], vec![given(&[2], DType::I1, &[1.0, 0.0]), given(&[2], DType::F32, &[1.0, 2.0]), Input::Float(9.0)], &[1.0, 9.0]),
        sv(MaskedFill, &[], vec![given(&[2], DType::F32, &[1.0, 2.0]), given(&[2], DType::I1, &[0.0, 1.0]), Input::Float(-1.0)], &[1.0, -1.0]),
        sv(Sum, &[("dim", ints(&[1]))], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[3.0, 7.0]),
        sv(Mean, &[("dim", ints(&[0])), ("keepdim", boolean(true))], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[2.0, 3.0]),
        sv(Prod, &[], vec![given(&[3], DType::F32, &[2., 3., 4.])], &[24.0]),
        sv(Amax, &[("dim", ints(&[1]))], vec![given(&[2, 2], DType::F32, &[1., 2., 4., 3.])], &[2.0, 4.0]),
        sv(Amin, &[("dim", ints(&[1]))], vec![given(&[2, 2], DType::F32, &[1., 2., 4., 3.])], &[1.0, 3.0]),
        sv(Any, &[], vec![given(&[2], DType::I1, &[0.0, 1.0])], &[1.0]),
        sv(All, &[], vec![given(&[2], DType::I1, &[0.0, 1.0])], &[0.0]),
        sv(Var, &[("dim", ints(&[0])), ("correction", int(1))], vec![given(&[3], DType::F32, &[1., 2., 3.])], &[1.0]),
        s(Logsumexp, &[("dim", ints(&[1]))], vec![x()]),
        sv(Argmax, &[("dim", int(1))], vec![given(&[2, 2], DType::F32, &[1., 2., 4., 3.])], &[1.0, 0.0]),
        sv(Argmin, &[("dim", int(1))], vec![given(&[2, 2], DType::F32, &[1., 2., 4., 3.])], &[0.0, 1.0]),
        s(MaxDim, &[("dim", int(1))], vec![x()]),
        s(MinDim, &[("dim", int(0))], vec![x()]),
        sv(Cumsum, &[("dim", int(0))], vec![given(&[3], DType::F32, &[1., 2., 3.])], &[1.0, 3.0, 6.0]),
        sv(Softmax, &[("dim", int(0))], vec![given(&[2], DType::F32, &[0.0, 0.0])], &[0.5, 0.5]),
        s(LogSoftmax, &[("dim", int(-1))], vec![x()]),
        sv(Topk, &[("k", int(2))], vec![given(&[4], DType::F32, &[1., 5., 3., 4.])], &[5.0, 4.0]),
        sv(Sort, &[("dim", int(0))], vec![given(&[3], DType::F32, &[3., 1., 2.])], &[1.0, 2.0, 3.0]),
        sv(Mm, &[], vec![given(&[1, 2], DType::F32, &[1., 2.]), given(&[2, 1], DType::F32, &[3., 4.])], &[11.0]),
        s(Bmm, &[], vec![f32s(&[2, 3, 4]), f32s(&[2, 4, 5])]),
        s(Addmm, &[("beta", float(1.0)), ("alpha", float(1.0))], vec![f32s(&[5]), f32s(&[3, 4]), f32s(&[4, 5])]),
        s(Matmul, &[], vec![f32s(&[2, 3, 4]), f32s(&[4, 5])]),
        s(
            Convolution,
            &[("stride", ints(&[1, 1])), ("padding", ints(&[1, 1])), ("dilation", ints(&[1, 1])), ("groups", int(1))],
            vec![f32s(&[1, 2, 5, 5]), f32s(&[3, 2, 3, 3]), f32s(&[3])],
        ),
        s(ScaledDotProductAttention, &[("is_causal", boolean(true))], vec![f32s(&[1, 2, 3, 4]), f32s(&[1, 2, 3, 4]), f32s(&[1, 2, 3, 4]), Input::None]),
        s(NativeLayerNorm, &[("normalized_shape", ints(&[3])), ("eps", float(1e-5))], vec![x(), f32s(&[3]), f32s(&[3])]),
        s(NativeBatchNormLegitNoTraining, &[("momentum", float(0.1)), ("eps", float(1e-5))], vec![f32s(&[2, 3, 2, 2]), f32s(&[3]), f32s(&[3]), f32s(&[3]), given(&[3], DType::F32, &[1., 2., 3.])]),
        s(NativeGroupNorm, &[("group", int(1)), ("eps", float(1e-5))], vec![f32s(&[2, 4, 3]), f32s(&[4]), f32s(&[4])]),
        sv(View, &[("size", ints(&[3, 2]))], vec![given(&[2, 3], DType::F32, &[1., 2., 3., 4., 5., 6.])], &[1., 2., 3., 4., 5., 6.]),
        s(Reshape, &[("shape", ints(&[-1]))], vec![x()]),
        s(UnsafeView, &[("size", ints(&[6]))], vec![x()]),
        sv(Permute, &[("dims", ints(&[1, 0]))], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[1., 3., 2., 4.]),
        s(Transpose, &[("dim0", int(0)), ("dim1", int(1))], vec![x()]),
        sv(Expand, &[("size", ints(&[2, 2]))], vec![given(&[1, 2], DType::F32, &[1., 2.])], &[1., 2., 1., 2.]),
        sv(Repeat, &[("repeats", ints(&[2]))], vec![given(&[2], DType::F32, &[1., 2.])], &[1., 2., 1., 2.]),
        s(Squeeze, &[("dim", ints(&[0]))], vec![f32s(&[1, 3])]),
        s(Unsqueeze, &[("dim", int(1))], vec![x()]),
        sv(AsStrided, &[("size", ints(&[2])), ("stride", ints(&[2]))], vec![given(&[4], DType::F32, &[1., 2., 3., 4.])], &[1., 3.]),
        sv(Flip, &[("dims", ints(&[0]))], vec![given(&[3], DType::F32, &[1., 2., 3.])], &[3., 2., 1.]),
        sv(Slice, &[("dim", int(0)), ("start", int(1)), ("end", int(3))], vec![given(&[4], DType::F32, &[1., 2., 3., 4.])], &[2., 3.]),
        sv(Select, &[("dim", int(0)), ("index", int(-1))], vec![given(&[2, 2], DType::F32, &[1., 2., 3., 4.])], &[3., 4.]),
        sv(Cat, &[("dim", int(0))], vec![given(&[1], DType::F32, &[1.]), given(&[2], DType::F32, &[2., 3.])], &[1., 2., 3.]),
        sv(Append, &[("dim", int(0))], vec![given(&[2, 1], DType::F32, &[1., 2.]), given(&[1, 1], DType::F32, &[3.])], &[1., 2., 3.]),
        s(Split, &[("split_size", int(2)), ("dim", int(1))], vec![f32s(&[2, 4])]),
        s(SplitWithSizes, &[("split_sizes", ints(&[1, 4])), ("dim", int(1))], vec![f32s(&[2, 5])]),
        s(Unbind, &[("dim", int(0))], vec![x()]),
        sv(ConstantPadNd, &[("pad", ints(&[1, 0])), ("value", float(9.0))], vec![given(&[2], DType::F32, &[1., 2.])], &[9., 1., 2.]),
        sv(SliceScatter, &[("dim", int(0)), ("start", int(1)), ("end", int(2))], vec![given(&[3], DType::F32, &[1., 2., 3.]), given(&[1], DType::F32, &[9.])], &[1., 9., 3.]),
        sv(SelectScatter, &[("dim", int(0)), ("index", int(0))], vec![given(&[2], DType::F32, &[1., 2.]), given(&[], DType::F32, &[9.])], &[9., 2.]),
        sv(Copy, &[], vec![f32s(&[2]), given(&[2], DType::F32, &[5., 6.])], &[5., 6.]),
        sv(Embedding, &[], vec![given(&[3, 2], DType::F32, &[0., 1., 2., 3., 4., 5.]), given(&[2], DType::I64, &[2., 0.])], &[4., 5., 0., 1.]),
        s(EmbeddingBag, &[("mode", int(0))], vec![f32s(&[5, 3]), given(&[4], DType::I64, &[0., 2., 4., 1.]), given(&[2], DType::I64, &[0., 2.]), Input::None]),
        sv(Index, &[], vec![given(&[3], DType::F32, &[1., 2., 3.]), given(&[2], DType::I64, &[2., 2.])], &[3., 3.]),
        sv(IndexPut, &[("accumulate", boolean(true))], vec![given(&[3], DType::F32, &[1., 2., 3.]), given(&[2], DType::I64, &[0., 0.]), given(&[2], DType::F32, &[1., 1.])], &[3., 2., 3.]),
        sv(IndexSelect, &[("dim", int(0))], vec![given(&[3], DType::F32, &[1., 2., 3.]), given(&[2], DType::I64, &[1., 0.])], &[2., 1.]),
        sv(Gather, &[("dim", int(0))], vec![given(&[3], DType::F32, &[1., 2., 3.]), given(&[2], DType::I64, &[2., 1.])], &[3., 2.]),
        sv(Scatter, &[("dim", int(0))], vec![given(&[3], DType::F32, &[0., 0., 0.]), given(&[1], DType::I64, &[1.]), given(&[1], DType::F32, &[5.])], &[0., 5., 0.]),
        sv(ScatterAdd, &[("dim", int(0))], vec![given(&[3], DType::F32, &[1., 1., 1.]), given(&[2], DType::I64, &[1., 1.]), given(&[2], DType::F32, &[2., 3.])], &[1., 6., 1.]),
        sv(Full, &[("size", ints(&[2])), ("fill_value", float(3.0)), ("dtype", dtype(DType::F32))], vec![], &[3., 3.]),
        s(Empty, &[("size", ints(&[2, 2])), ("dtype", dtype(DType::I64))], vec![]),
        sv(FullLike, &[("fill_value", int(4))], vec![of(&[2], DType::I32)], &[4., 4.]),
        sv(ScalarTensor, &[("dtype", dtype(DType::F32))], vec![Input::Float(1.5)], &[1.5]),
        sv(Arange, &[("start", int(1)), ("end", int(7)), ("step", int(2)), ("dtype", dtype(DType::I64))], vec![], &[1., 3., 5.]),
        s(NativeDropout, &[("p", float(0.0)), ("train", boolean(true))], vec![x()]),
        s(MaxPool2dWithIndices, &[("kernel_size", ints(&[2, 2])), ("stride", ints(&[2, 2]))], vec![f32s(&[1, 2, 4, 4])]),
        s(AvgPool2d, &[("kernel_size", ints(&[2, 2])), ("stride", ints(&[1, 1]))], vec![f32s(&[1, 2, 3, 3])]),
        s(AdaptiveAvgPool2d, &[("output_size", ints(&[1, 1]))], vec![f32s(&[1, 2, 3, 3])]),
        s(ThresholdBackward, &[("threshold", float(0.0))], vec![x(), x()]),
        s(GeluBackward, &[], vec![x(), x()]),
        s(SiluBackward, &[], vec![x(), x()]),
        s(HardtanhBackward, &[], vec![x(), x()]),
        s(TanhBackward, &[], vec![x(), x()]),
        s(SigmoidBackward, &[], vec![x(), x()]),
        s(SoftmaxBackwardData, &[("dim", int(1))], vec![x(), x()]),
        s(LogSoftmaxBackwardData, &[("dim", int(1))], vec![x(), x()]),
        s(NativeDropoutBackward, &[("scale", float(2.0))], vec![x(), of(&[2, 3], DType::I1)]),
    ]);
    v
}

/// The plan of one call of `sample`, its results typed by the shape rule.
fn one_call(sample: &Sample) -> Result<(Plan, Vec<Type>), String> {
    let def = sample.op.def();
    let types: Vec<Type> = sample.inputs.iter().map(Input::ty).collect();
    let infer = def.infer.ok_or("no shape rule")?;
    let num_results = def.results.iter().filter(|s| !s.variadic).count().max(if def.results.iter().any(|s| s.variadic) { 2 } else { 0 });
    let results = infer(&InferCtx { op_name: def.name, operands: types.iter().collect(), attrs: &sample.attrs, num_results })?;
    let mut b = Builder::new(sample.op.name());
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let ins: Vec<u32> = types.iter().map(|ty| b.input(d, ty, Role::Input)).collect();
    let outs = b.call(d, sample.op, &ins, &sample.attrs, &results);
    for o in outs {
        b.output(o, false);
    }
    Ok((b.finish().map_err(|e| e.to_string())?, results))
}

/// Whether a runtime value has exactly the static type `ty`.
fn matches_type(v: &Value, ty: &Type) -> bool {
    match (v, ty) {
        (Value::Tensor(x), Type::Tensor(tt)) => x.dtype() == tt.dtype && x.shape.len() == tt.dims.len() && tt.dims.iter().zip(&x.shape).all(|(d, &n)| d.as_static().is_none_or(|s| s as usize == n)),
        (Value::Int(_) | Value::Float(_) | Value::Bool(_), Type::Scalar(_)) | (Value::None, Type::None) => true,
        _ => false,
    }
}

fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-5 + 1e-5 * w.abs())
}

fn loader(device: Arc<dyn Device>) -> impl Fn(&genie_plan::Device) -> Result<Arc<dyn Device>, String> {
    move |_| Ok(device.clone())
}

fn opcodes(device: &Arc<dyn Device>, report: &mut Report) {
    let samples = samples();
    for &op in Op::ALL {
        if !samples.iter().any(|s| s.op == op) {
            report.unsampled.push(op);
        }
    }
    for sample in &samples {
        let op = sample.op;
        let (plan, types) = match one_call(sample) {
            Ok(p) => p,
            Err(e) => {
                report.failures.push(format!("{op}: the sample does not type-check: {e}"));
                continue;
            }
        };
        let exe = match Executable::load_on(plan, &loader(device.clone())) {
            Ok(e) => e,
            Err(e) if e.contains(op.name()) => {
                report.refused.push((op, e));
                continue;
            }
            Err(e) => {
                report.failures.push(format!("{op}: refused without naming the op: {e}"));
                continue;
            }
        };
        let inputs: Vec<Value> = sample.inputs.iter().enumerate().map(|(i, x)| x.value(i)).collect();
        let outs = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exe.run(inputs))) {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                report.failures.push(format!("{op}: {e}"));
                continue;
            }
            Err(_) => {
                report.failures.push(format!("{op}: the kernel panicked"));
                continue;
            }
        };
        for (i, (v, ty)) in outs.iter().zip(&types).enumerate() {
            if !matches_type(v, ty) {
                report.failures.push(format!("{op}: result #{i} is {v:?}, the shape rule says {ty}"));
            }
        }
        if let (Some(want), Some(Value::Tensor(x))) = (&sample.want, outs.first()) {
            if !close(&x.to_f64(), want) {
                report.failures.push(format!("{op}: got {:?}, want {want:?}", x.to_f64()));
            }
        }
        report.ran.push(op);
    }
}

/// Runs a plan built by `build` on `device`: the executable, or a failure.
fn load(device: &Arc<dyn Device>, plan: Result<Plan, genie_plan::PlanError>) -> Result<Executable, String> {
    Executable::load_on(plan.map_err(|e| e.to_string())?, &loader(device.clone()))
}

fn tensor_of(v: &Value) -> Result<&Tensor, String> {
    match v {
        Value::Tensor(x) => Ok(x),
        other => Err(format!("expected a tensor, got {other:?}")),
    }
}

fn dtypes(device: &Arc<dyn Device>) -> Result<(), String> {
    for dt in DType::ALL {
        let mut b = Builder::new("dtypes");
        let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
        let x = b.input(d, &t(&[5], dt), Role::Input);
        let copy = b.call(d, Op::Clone, &[x], &AttrDict::new(), &[t(&[5], dt)])[0];
        let wide = b.call(d, Op::ToCopy, &[x], &attrs(&[("dtype", dtype(DType::F64))]), &[t(&[5], DType::F64)])[0];
        b.output(copy, false);
        b.output(wide, false);
        let exe = load(device, b.finish())?;
        let input = sample_tensor(&[5], dt, 3);
        let outs = exe.run(vec![Value::Tensor(input.clone())])?;
        let (c, w) = (tensor_of(&outs[0])?, tensor_of(&outs[1])?);
        if c.dtype() != dt || c.to_f64() != input.to_f64() {
            return Err(format!("{dt}: a copy changed the values: {:?} vs {:?}", c.to_f64(), input.to_f64()));
        }
        if w.dtype() != DType::F64 || !close(&w.to_f64(), &input.to_f64()) {
            return Err(format!("{dt}: a cast to f64 gave {:?}", w.to_f64()));
        }
    }
    Ok(())
}

fn strides(device: &Arc<dyn Device>) -> Result<(), String> {
    let mut b = Builder::new("strides");
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let x = b.input(d, &t(&[3, 2], DType::F32), Role::Input);
    let y = b.input(d, &t(&[3, 2], DType::F32), Role::Input);
    let sum = b.call(d, Op::Add, &[x, y], &AttrDict::new(), &[t(&[3, 2], DType::F32)])[0];
    b.output(sum, false);
    let exe = load(device, b.finish())?;
    // x: the transpose of a [2, 3] tensor; y: a row of three broadcast
    // down by a zero stride, starting at offset 1.
    let base = Tensor::from_f64(vec![2, 3], DType::F32, vec![1., 2., 3., 4., 5., 6.])?;
    let xt = base.permuted(&[1, 0])?;
    let row = Tensor::from_f64(vec![3], DType::F32, vec![0., 10., 20.])?;
    let yb = Tensor::from_storage(row.storage().clone(), DType::F32, vec![3, 2], vec![0, 1], 1)?;
    let out = exe.run(vec![Value::Tensor(xt), Value::Tensor(yb)])?;
    let got = tensor_of(&out[0])?.to_f64();
    let want = [11., 24., 12., 25., 13., 26.];
    if got != want {
        return Err(format!("strided add: got {got:?}, want {want:?}"));
    }
    Ok(())
}

fn aliasing(device: &Arc<dyn Device>) -> Result<(), String> {
    // Outputs that are the input, a view of it, or a constant come back as copies.
    let mut b = Builder::new("alias");
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let x = b.input(d, &t(&[2, 2], DType::F32), Role::Input);
    let v = b.call(d, Op::Permute, &[x], &attrs(&[("dims", ints(&[1, 0]))]), &[t(&[2, 2], DType::F32)])[0];
    let c = b.resident("c", &t(&[2], DType::F32), d, ResidentKind::Constant);
    let cv = b.load(d, c);
    b.output(x, false);
    b.output(v, false);
    b.output(cv, false);
    let mut exe = load(device, b.finish())?;
    let constant = Tensor::from_f64(vec![2], DType::F32, vec![7., 8.])?;
    exe.bind("c", constant.clone())?;
    let input = Tensor::from_f64(vec![2, 2], DType::F32, vec![1., 2., 3., 4.])?;
    let outs = exe.run(vec![Value::Tensor(input.clone())])?;
    for (i, o) in outs.iter().enumerate() {
        let o = tensor_of(o)?;
        for held in [&input, &constant] {
            if Arc::ptr_eq(o.storage(), held.storage()) {
                return Err(format!("output #{i} aliases memory the caller owns"));
            }
        }
    }
    // A planned buffer stays intact while a result that lives in it is
    // alive: two calls of a plan whose one temporary has a buffer.
    let mut b = Builder::new("buffers");
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let x = b.input(d, &t(&[4], DType::F32), Role::Input);
    let n = b.call(d, Op::Neg, &[x], &AttrDict::new(), &[t(&[4], DType::F32)])[0];
    let e = b.call(d, Op::Abs, &[n], &AttrDict::new(), &[t(&[4], DType::F32)])[0];
    b.buffer(n, 64);
    b.output(e, false);
    let exe = load(device, b.finish())?;
    let first = exe.run(vec![Value::Tensor(sample_tensor(&[4], DType::F32, 1))])?;
    let keep = tensor_of(&first[0])?.to_f64();
    for seed in 2..5 {
        let again = exe.run(vec![Value::Tensor(sample_tensor(&[4], DType::F32, seed))])?;
        let want: Vec<f64> = sample_tensor(&[4], DType::F32, seed).to_f64().iter().map(|v| v.abs()).collect();
        if !close(&tensor_of(&again[0])?.to_f64(), &want) {
            return Err(format!("a reused buffer gave wrong values on call {seed}"));
        }
    }
    if tensor_of(&first[0])?.to_f64() != keep {
        return Err("a result of an earlier call changed when the buffer was reused".into());
    }
    Ok(())
}

fn streams_and_state(device: &Arc<dyn Device>) -> Result<(), String> {
    // Device a negates and sends; device b awaits, adds the result to its
    // state and stores the sum, which the next call reads.
    let mut b = Builder::new("streams");
    let (d0, d1) = (b.device("a", genie_plan::DeviceKind::Cpu), b.device("b", genie_plan::DeviceKind::Cpu));
    let x = b.input(d0, &t(&[2], DType::F32), Role::Input);
    let n = b.call(d0, Op::Neg, &[x], &AttrDict::new(), &[t(&[2], DType::F32)])[0];
    let there = b.send(d0, n, d1);
    let acc = b.resident("acc", &t(&[2], DType::F32), d1, ResidentKind::State);
    b.await_value(d1, there);
    let prev = b.load(d1, acc);
    let sum = b.call(d1, Op::Add, &[prev, there], &AttrDict::new(), &[t(&[2], DType::F32)])[0];
    b.store(d1, acc, sum);
    b.output(sum, false);
    let mut exe = load(device, b.finish())?;
    let x = || Value::Tensor(Tensor::from_f64(vec![2], DType::F32, vec![1., 2.]).expect("sizes"));
    match exe.run(vec![x()]) {
        Err(e) if e.contains("resident state 'acc' is read before any call stored it") => {}
        other => return Err(format!("reading unset state: {other:?}")),
    }
    exe.bind("acc", Tensor::from_f64(vec![2], DType::F32, vec![0., 0.])?)?;
    for k in 1..=3 {
        let out = exe.run(vec![x()])?;
        let want = [-(k as f64), -2.0 * k as f64];
        if tensor_of(&out[0])?.to_f64() != want {
            return Err(format!("call {k}: got {:?}, want {want:?}", tensor_of(&out[0])?.to_f64()));
        }
    }
    Ok(())
}

fn errors(device: &Arc<dyn Device>) -> Result<(), String> {
    let mut b = Builder::new("f");
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let x = b.input(d, &Type::tensor(vec![Dim::Sym(0), Dim::Static(2)], DType::F32), Role::Input);
    let c = b.resident("bias", &t(&[2], DType::F32), d, ResidentKind::Constant);
    let cv = b.load(d, c);
    let y = b.call(d, Op::Add, &[x, cv], &AttrDict::new(), &[Type::tensor(vec![Dim::Sym(0), Dim::Static(2)], DType::F32)])[0];
    b.output(y, false);
    let mut exe = load(device, b.finish())?;
    let good = || Value::Tensor(sample_tensor(&[3, 2], DType::F32, 0));
    let expect = |r: Result<Vec<Value>, String>, want: &str| match r {
        Err(e) if e.contains(want) => Ok(()),
        other => Err(format!("wanted an error containing '{want}', got {other:?}")),
    };
    expect(exe.run(vec![good()]), "no data bound for resource 'bias'")?;
    match exe.bind("bias", sample_tensor(&[3], DType::F32, 0)) {
        Err(e) if e.contains("the plan expects tensor<2xf32>") => {}
        other => return Err(format!("binding a wrong shape: {other:?}")),
    }
    exe.bind("bias", sample_tensor(&[2], DType::F32, 0))?;
    expect(exe.run(vec![]), "takes 1 inputs, got 0")?;
    expect(exe.run(vec![Value::Tensor(sample_tensor(&[3, 3], DType::F32, 0))]), "input #0: expected tensor<s0x2xf32>, got shape [3, 3]")?;
    expect(exe.run(vec![Value::Tensor(sample_tensor(&[3, 2], DType::I64, 0))]), "input #0: expected tensor<s0x2xf32>, got a i64 tensor")?;
    exe.run(vec![good()])?;
    // A kernel failing at run time names the instruction.
    let mut b = Builder::new("g");
    let d = b.device("dev0", genie_plan::DeviceKind::Cpu);
    let w = b.input(d, &t(&[3, 2], DType::F32), Role::Input);
    let i = b.input(d, &t(&[1], DType::I64), Role::Input);
    let e = b.call(d, Op::Embedding, &[w, i], &AttrDict::new(), &[t(&[1, 2], DType::F32)])[0];
    b.output(e, false);
    let exe = load(device, b.finish())?;
    let bad_index = Value::Tensor(Tensor::from_f64(vec![1], DType::I64, vec![7.])?);
    expect(exe.run(vec![Value::Tensor(sample_tensor(&[3, 2], DType::F32, 0)), bad_index]), "stream #0 instruction 0 ('sem.embedding')")?;
    Ok(())
}

/// Runs the whole suite on `device`.
pub fn run(device: Arc<dyn Device>) -> Report {
    let mut report = Report::default();
    opcodes(&device, &mut report);
    for (name, check) in [
        ("dtypes", dtypes as fn(&Arc<dyn Device>) -> Result<(), String>),
        ("strides", strides),
        ("aliasing", aliasing),
        ("streams and state", streams_and_state),
        ("errors", errors),
    ] {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&device))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => report.failures.push(format!("{name}: {e}")),
            Err(_) => report.failures.push(format!("{name}: panicked")),
        }
    }
    report
}
