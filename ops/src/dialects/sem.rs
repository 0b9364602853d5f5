//! The `sem` dialect: ATen-level ops as PyTorch's core ATen decompositions
//! leave them (GPT-2, BERT, LLaMA, ResNet, ViT, EfficientNet, DLRM, CLIP),
//! plus the few non-core ops eager fast paths emit.
//!
//! Naming: `sem.<aten name>` without the overload suffix. Overloads that differ
//! only in Tensor-vs-Scalar operands share one op (operands may be tensors or
//! scalars); overloads that differ in arguments become optional attributes.
//! Absent optional tensors are `none` values (`sem.none`). Every op may carry
//! the semantic attributes in [`super::SEMANTIC_ATTRS`].

use super::infer::*;
use super::AttrKind::*;
use super::*;

const SELF: Slot = tensor("self");
const R: Slot = tensor("result");
const RS: Slot = Slot { name: "result", kind: ValueKind::TensorOrScalar, variadic: false };
const SELF_TS: Slot = tensor_or_scalar("self");
const OTHER_TS: Slot = tensor_or_scalar("other");
// Attribute names are ATen's argument names, so the importer can match
// arguments to the schema by name.
const REDUCE_ATTRS: &[AttrDef] = &[opt("dim", IntOrList), opt("keepdim", Bool), opt("dtype", DType)];
const POOL_ATTRS: &[AttrDef] = &[
    req("kernel_size", IntArray),
    opt("stride", IntArray),
    opt("padding", IntArray),
    opt("dilation", IntArray),
    opt("ceil_mode", Bool),
];
const AVG_POOL_ATTRS: &[AttrDef] = &[
    req("kernel_size", IntArray),
    opt("stride", IntArray),
    opt("padding", IntArray),
    opt("ceil_mode", Bool),
    opt("count_include_pad", Bool),
    opt("divisor_override", Int),
];
const FACTORY_ATTRS: &[AttrDef] = &[req("size", IntArray), opt("fill_value", Scalar), req("dtype", DType)];
const SLICE_ATTRS: &[AttrDef] = &[req("dim", Int), opt("start", IntOrSym), opt("end", IntOrSym), opt("step", Int)];

/// A pure op with the given slots, attributes and shape rule.
const fn op(
    name: &'static str,
    summary: &'static str,
    operands: &'static [Slot],
    results: &'static [Slot],
    attrs: &'static [AttrDef],
    infer: InferFn,
) -> OpDef {
    OpDef { name, summary, operands, results, attrs, regions: 0, traits: Traits::PURE, infer: Some(infer), code: None }
}

const fn unary_op(name: &'static str, summary: &'static str, infer: InferFn) -> OpDef {
    op(name, summary, &[SELF_TS], &[RS], &[], infer)
}

const fn binary_op(name: &'static str, summary: &'static str, infer: InferFn) -> OpDef {
    op(name, summary, &[SELF_TS, OTHER_TS], &[RS], &[], infer)
}

/// Marks an op whose result may share its first operand's memory (ATen
/// views, and copies the runtime may satisfy by sharing): buffer planning
/// keeps the operand's buffer alive as long as the result.
const fn viewing(def: OpDef) -> OpDef {
    OpDef { traits: def.traits.with(Traits::VIEW), ..def }
}

const GRAD_AND_SELF: &[Slot] = &[tensor("grad_output"), tensor("self")];
const GRAD_INPUT: &[Slot] = &[tensor("grad_input")];

const fn backward_op(name: &'static str, summary: &'static str, attrs: &'static [AttrDef]) -> OpDef {
    op(name, summary, GRAD_AND_SELF, GRAD_INPUT, attrs, same_as_operand0)
}

/// Defines the `sem` op table and its opcodes in one place: each row is
/// `Variant = opcode => definition`. The opcode is what plans carry; it is
/// stable (a new op takes a new number; changing one is a new plan major
/// version), whatever the order of the rows.
macro_rules! sem_ops {
    ($($variant:ident = $code:literal => $def:expr),* $(,)?) => {
        /// A `sem` op as plans and kernels name it: resolved from the name
        /// once (parsing, decoding), compared as an integer afterwards.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            $($variant = $code),*
        }

        impl Op {
            /// Every op, in table order.
            pub const ALL: &'static [Op] = &[$(Op::$variant),*];
        }

        pub static OPS: &[OpDef] = &[$(OpDef { code: Some(Op::$variant), ..$def }),*];
    };
}

impl Op {
    /// The op's number in plans.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The op with plan number `code`.
    pub fn from_code(code: u16) -> Option<Op> {
        static BY_CODE: std::sync::OnceLock<Vec<Option<Op>>> = std::sync::OnceLock::new();
        let table = BY_CODE.get_or_init(|| {
            let mut t = vec![None; Op::ALL.iter().map(|o| o.code() as usize + 1).max().unwrap_or(0)];
            for &o in Op::ALL {
                t[o.code() as usize] = Some(o);
            }
            t
        });
        table.get(code as usize).copied().flatten()
    }

    /// The op's definition (name, slots, attributes, shape rule).
    pub fn def(self) -> &'static OpDef {
        static BY_OP: std::sync::OnceLock<Vec<&'static OpDef>> = std::sync::OnceLock::new();
        let table = BY_OP.get_or_init(|| {
            let mut defs: Vec<&'static OpDef> = OPS.iter().collect();
            defs.sort_by_key(|d| d.code.map(Op::code));
            defs
        });
        let i = table.binary_search_by_key(&Some(self.code()), |d| d.code.map(Op::code)).expect("every op has a definition");
        table[i]
    }

    /// `sem.add`.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The op named `name` (`sem.add`), if it is a `sem` op.
    pub fn from_name(name: &str) -> Option<Op> {
        super::lookup(name).and_then(|d| d.code)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

sem_ops! {
    // ----- constants and shape values ------------------------------------
    Constant = 0 => op("sem.constant", "a constant scalar, symbolic size, or dense tensor held by reference", &[], &[any("result")], &[req("value", Any)], constant),
    None = 1 => op("sem.none", "the None value of an absent optional argument", &[], &[Slot { name: "result", kind: ValueKind::None, variadic: false }], &[], none),
    SymSize = 2 => op("sem.sym_size", "size of one dimension as a scalar", &[SELF], &[scalar("result")], &[req("dim", Int)], sym_size),
    SymNumel = 3 => op("sem.sym_numel", "number of elements as a scalar", &[SELF], &[scalar("result")], &[], sym_numel),
    // ----- elementwise unary -------------------------------------------------
    Neg = 4 => unary_op("sem.neg", "-x", unary),
    Abs = 5 => unary_op("sem.abs", "|x|", unary),
    Sign = 6 => unary_op("sem.sign", "sign(x)", unary),
    Floor = 7 => unary_op("sem.floor", "floor(x)", round_to_int),
    Ceil = 8 => unary_op("sem.ceil", "ceil(x)", round_to_int),
    Round = 9 => unary_op("sem.round", "round half to even", unary),
    Trunc = 10 => unary_op("sem.trunc", "truncate toward zero", unary),
    Relu = 11 => unary_op("sem.relu", "max(x, 0)", unary),
    Exp = 12 => unary_op("sem.exp", "e^x", unary_float),
    Expm1 = 13 => unary_op("sem.expm1", "e^x - 1", unary_float),
    Log = 14 => unary_op("sem.log", "ln x", unary_float),
    Log1p = 15 => unary_op("sem.log1p", "ln(1 + x)", unary_float),
    Sqrt = 16 => unary_op("sem.sqrt", "sqrt(x)", unary_float),
    Rsqrt = 17 => unary_op("sem.rsqrt", "1 / sqrt(x)", unary_float),
    Reciprocal = 18 => unary_op("sem.reciprocal", "1 / x", unary_float),
    Sin = 19 => unary_op("sem.sin", "sin(x)", unary_float),
    Cos = 20 => unary_op("sem.cos", "cos(x)", unary_float),
    Tanh = 21 => unary_op("sem.tanh", "tanh(x)", unary_float),
    Sigmoid = 22 => unary_op("sem.sigmoid", "1 / (1 + e^-x)", unary_float),
    Erf = 23 => unary_op("sem.erf", "error function", unary_float),
    Silu = 24 => unary_op("sem.silu", "x * sigmoid(x)", unary_float),
    Hardswish = 25 => unary_op("sem.hardswish", "x * relu6(x + 3) / 6", unary_float),
    Hardsigmoid = 26 => unary_op("sem.hardsigmoid", "relu6(x + 3) / 6", unary_float),
    LogicalNot = 27 => unary_op("sem.logical_not", "!x", unary_bool),
    BitwiseNot = 28 => unary_op("sem.bitwise_not", "~x", unary),
    Isnan = 29 => unary_op("sem.isnan", "x != x", unary_bool),
    Clone = 30 => viewing(unary_op("sem.clone", "a copy (identity in functional IR)", unary)),
    Alias = 31 => viewing(unary_op("sem.alias", "the same tensor under another name", unary)),
    Detach = 32 => viewing(unary_op("sem.detach", "the same values without autograd history", unary)),
    LiftFreshCopy = 33 => viewing(unary_op("sem.lift_fresh_copy", "a copy of a lifted constant", unary)),
    Gelu = 34 => op("sem.gelu", "Gaussian error linear unit", &[SELF], &[R], &[opt("approximate", Enum(&["none", "tanh"]))], unary_float),
    LeakyRelu = 35 => op("sem.leaky_relu", "x if x > 0 else slope * x", &[SELF], &[R], &[opt("negative_slope", Number)], unary),
    Hardtanh = 36 => op("sem.hardtanh", "clamp(x, min_val, max_val)", &[SELF], &[R], &[opt("min_val", Number), opt("max_val", Number)], unary),
    Clamp = 37 => op("sem.clamp", "clamp(x, min, max)", &[SELF], &[R], &[opt("min", Number), opt("max", Number)], clamp),
    Fill = 38 => op("sem.fill", "a tensor like self filled with value", &[SELF, scalar("value")], &[R], &[], same_as_operand0),
    Tril = 39 => op("sem.tril", "lower triangle", &[SELF], &[R], &[opt("diagonal", Int)], same_as_operand0),
    Triu = 40 => op("sem.triu", "upper triangle", &[SELF], &[R], &[opt("diagonal", Int)], same_as_operand0),
    ToCopy = 41 => viewing(op("sem._to_copy", "copy with a new dtype", &[SELF_TS], &[RS], &[opt("dtype", DType)], to_copy)),
    ConvertElementType = 42 => viewing(op("sem.convert_element_type", "prims.convert_element_type: the values in another dtype", &[SELF_TS], &[RS], &[req("dtype", DType)], to_copy)),
    // ----- elementwise binary / ternary ------------------------------------
    Add = 43 => op("sem.add", "self + alpha * other", &[SELF_TS, OTHER_TS], &[RS], &[opt("alpha", Number)], binary),
    Sub = 44 => op("sem.sub", "self - alpha * other", &[SELF_TS, OTHER_TS], &[RS], &[opt("alpha", Number)], binary),
    Mul = 45 => binary_op("sem.mul", "self * other", binary),
    Div = 46 => op("sem.div", "self / other", &[SELF_TS, OTHER_TS], &[RS], &[opt("rounding_mode", Enum(&["trunc", "floor"]))], true_div),
    FloorDivide = 47 => binary_op("sem.floor_divide", "floor(self / other)", binary),
    Remainder = 48 => binary_op("sem.remainder", "Python-style modulus", binary),
    Fmod = 49 => binary_op("sem.fmod", "C-style modulus", binary),
    Pow = 50 => binary_op("sem.pow", "self ** other", binary_pow),
    Atan2 = 51 => binary_op("sem.atan2", "atan2(self, other)", true_div),
    Maximum = 52 => binary_op("sem.maximum", "elementwise max", binary),
    Minimum = 53 => binary_op("sem.minimum", "elementwise min", binary),
    Eq = 54 => binary_op("sem.eq", "self == other", compare),
    Ne = 55 => binary_op("sem.ne", "self != other", compare),
    Lt = 56 => binary_op("sem.lt", "self < other", compare),
    Le = 57 => binary_op("sem.le", "self <= other", compare),
    Gt = 58 => binary_op("sem.gt", "self > other", compare),
    Ge = 59 => binary_op("sem.ge", "self >= other", compare),
    LogicalAnd = 60 => binary_op("sem.logical_and", "self && other", compare),
    LogicalOr = 61 => binary_op("sem.logical_or", "self || other", compare),
    LogicalXor = 62 => binary_op("sem.logical_xor", "self ^^ other", compare),
    BitwiseAnd = 63 => binary_op("sem.bitwise_and", "self & other", binary),
    BitwiseOr = 64 => binary_op("sem.bitwise_or", "self | other", binary),
    BitwiseXor = 65 => binary_op("sem.bitwise_xor", "self ^ other", binary),
    Where = 66 => op("sem.where", "condition ? self : other", &[tensor("condition"), SELF_TS, OTHER_TS], &[R], &[], where_),
    MaskedFill = 67 => op("sem.masked_fill", "value where mask else self", &[SELF, tensor("mask"), tensor_or_scalar("value")], &[R], &[], masked_fill),
    // ----- reductions ------------------------------------------------------
    Sum = 68 => op("sem.sum", "sum over dims (all when absent)", &[SELF], &[R], REDUCE_ATTRS, reduce_sum),
    Mean = 69 => op("sem.mean", "mean over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_float),
    Prod = 70 => op("sem.prod", "product over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_sum),
    Amax = 71 => op("sem.amax", "max over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_same),
    Amin = 72 => op("sem.amin", "min over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_same),
    Any = 73 => op("sem.any", "any over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_bool),
    All = 74 => op("sem.all", "all over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_bool),
    Var = 75 => op("sem.var", "variance over dims", &[SELF], &[R], &[opt("dim", IntOrList), opt("keepdim", Bool), opt("correction", Number)], reduce_float),
    Logsumexp = 76 => op("sem.logsumexp", "log(sum(exp(x))) over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_to_float),
    Argmax = 77 => op("sem.argmax", "index of the max (flattened when dim is absent)", &[SELF], &[R], &[opt("dim", Int), opt("keepdim", Bool)], arg_reduce),
    Argmin = 78 => op("sem.argmin", "index of the min (flattened when dim is absent)", &[SELF], &[R], &[opt("dim", Int), opt("keepdim", Bool)], arg_reduce),
    MaxDim = 79 => op("sem.max_dim", "max along dim, with indices", &[SELF], &[tensor("values"), tensor("indices")], &[req("dim", Int), opt("keepdim", Bool)], values_and_indices),
    MinDim = 80 => op("sem.min_dim", "min along dim, with indices", &[SELF], &[tensor("values"), tensor("indices")], &[req("dim", Int), opt("keepdim", Bool)], values_and_indices),
    Cumsum = 81 => op("sem.cumsum", "running sum along dim", &[SELF], &[R], &[req("dim", Int), opt("dtype", DType)], cumsum),
    Softmax = 82 => op("sem._softmax", "softmax along dim", &[SELF], &[R], &[req("dim", Int), opt("half_to_float", Bool)], softmax),
    LogSoftmax = 83 => op("sem._log_softmax", "log-softmax along dim", &[SELF], &[R], &[req("dim", Int), opt("half_to_float", Bool)], softmax),
    Topk = 84 => op("sem.topk", "k largest (or smallest) along dim", &[SELF], &[tensor("values"), tensor("indices")], &[req("k", IntOrSym), opt("dim", Int), opt("largest", Bool), opt("sorted", Bool)], topk),
    Sort = 85 => op("sem.sort", "sorted values and their indices", &[SELF], &[tensor("values"), tensor("indices")], &[opt("dim", Int), opt("descending", Bool), opt("stable", Bool)], sort),
    // ----- linear algebra --------------------------------------------------
    Mm = 86 => op("sem.mm", "matrix product [m,k] x [k,n]", &[SELF, tensor("mat2")], &[R], &[], mm),
    Bmm = 87 => op("sem.bmm", "batched matrix product [b,m,k] x [b,k,n]", &[SELF, tensor("mat2")], &[R], &[], bmm),
    Addmm = 88 => op("sem.addmm", "beta * self + alpha * (mat1 x mat2)", &[SELF, tensor("mat1"), tensor("mat2")], &[R], &[opt("beta", Number), opt("alpha", Number)], addmm),
    Matmul = 89 => op("sem.matmul", "torch.matmul with broadcasting", &[SELF, tensor("other")], &[R], &[], matmul),
    Convolution = 90 => op(
        "sem.convolution",
        "N-d convolution (transposed when asked)",
        &[tensor("input"), tensor("weight"), opt_tensor("bias")],
        &[R],
        &[req("stride", IntArray), req("padding", IntArray), req("dilation", IntArray), opt("transposed", Bool), opt("output_padding", IntArray), req("groups", Int)],
        convolution,
    ),
    ConvolutionBackward = 91 => op(
        "sem.convolution_backward",
        "gradients of a convolution for input, weight and bias",
        &[tensor("grad_output"), tensor("input"), tensor("weight")],
        &[any("grad_input"), any("grad_weight"), any("grad_bias")],
        &[
            opt("bias_sizes", IntArray),
            req("stride", IntArray),
            req("padding", IntArray),
            req("dilation", IntArray),
            opt("transposed", Bool),
            opt("output_padding", IntArray),
            req("groups", Int),
            req("output_mask", Array),
        ],
        convolution_backward,
    ),
    ScaledDotProductAttention = 92 => op(
        "sem.scaled_dot_product_attention",
        "softmax(q kᵀ · scale + mask) v",
        &[tensor("query"), tensor("key"), tensor("value"), opt_tensor("attn_mask")],
        &[R],
        &[opt("dropout_p", Float), opt("is_causal", Bool), opt("scale", Float), opt("enable_gqa", Bool)],
        sdpa,
    ),
    ScaledDotProductFlashAttentionForCpuBackward = 93 => op(
        "sem._scaled_dot_product_flash_attention_for_cpu_backward",
        "gradients of CPU flash attention for query, key and value",
        &[tensor("grad_out"), tensor("query"), tensor("key"), tensor("value"), tensor("out"), tensor("logsumexp"), opt_tensor("attn_mask")],
        &[tensor("grad_query"), tensor("grad_key"), tensor("grad_value")],
        &[req("dropout_p", Float), req("is_causal", Bool), opt("scale", Float)],
        sdpa_backward,
    ),
    // ----- normalisation ---------------------------------------------------
    NativeLayerNorm = 94 => op(
        "sem.native_layer_norm",
        "layer norm over the trailing normalized_shape dims, with mean and rstd",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias")],
        &[tensor("result"), tensor("mean"), tensor("rstd")],
        &[req("normalized_shape", IntArray), req("eps", Float)],
        layer_norm,
    ),
    NativeLayerNormBackward = 95 => op(
        "sem.native_layer_norm_backward",
        "gradients of layer norm",
        &[tensor("grad_out"), tensor("input"), tensor("mean"), tensor("rstd"), opt_tensor("weight"), opt_tensor("bias")],
        &[any("grad_input"), any("grad_weight"), any("grad_bias")],
        &[req("normalized_shape", IntArray), req("output_mask", Array)],
        layer_norm_backward,
    ),
    NativeBatchNormLegitNoTraining = 96 => op(
        "sem._native_batch_norm_legit_no_training",
        "batch norm with running statistics (inference)",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias"), tensor("running_mean"), tensor("running_var")],
        &[tensor("result"), tensor("save_mean"), tensor("save_rstd")],
        &[req("momentum", Float), req("eps", Float)],
        batch_norm_inference,
    ),
    NativeBatchNormLegitFunctional = 97 => op(
        "sem._native_batch_norm_legit_functional",
        "training batch norm returning updated running statistics",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias"), tensor("running_mean"), tensor("running_var")],
        &[tensor("result"), tensor("save_mean"), tensor("save_rstd"), tensor("new_running_mean"), tensor("new_running_var")],
        &[req("training", Bool), req("momentum", Float), req("eps", Float)],
        batch_norm_functional,
    ),
    NativeBatchNormBackward = 98 => op(
        "sem.native_batch_norm_backward",
        "gradients of batch norm",
        &[tensor("grad_out"), tensor("input"), opt_tensor("weight"), opt_tensor("running_mean"), opt_tensor("running_var"), opt_tensor("save_mean"), opt_tensor("save_invstd")],
        &[any("grad_input"), any("grad_weight"), any("grad_bias")],
        &[req("train", Bool), req("eps", Float), req("output_mask", Array)],
        batch_norm_backward,
    ),
    NativeGroupNorm = 99 => op(
        "sem.native_group_norm",
        "group norm with mean and rstd per (sample, group)",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias")],
        &[tensor("result"), tensor("mean"), tensor("rstd")],
        &[opt("N", IntOrSym), opt("C", IntOrSym), opt("HxW", IntOrSym), req("group", Int), req("eps", Float)],
        group_norm,
    ),
    // ----- views and data movement -----------------------------------------
    View = 100 => viewing(op("sem.view", "same data, new shape (-1 infers one dim)", &[SELF], &[R], &[req("size", IntArray)], view)),
    Reshape = 101 => viewing(op("sem.reshape", "reshape, copying if needed", &[SELF], &[R], &[req("shape", IntArray)], view)),
    UnsafeView = 102 => viewing(op("sem._unsafe_view", "view without aliasing checks", &[SELF], &[R], &[req("size", IntArray)], view)),
    Permute = 103 => viewing(op("sem.permute", "reorder dims", &[SELF], &[R], &[req("dims", IntArray)], permute)),
    Transpose = 104 => viewing(op("sem.transpose", "swap two dims", &[SELF], &[R], &[req("dim0", Int), req("dim1", Int)], transpose)),
    Expand = 105 => viewing(op("sem.expand", "broadcast to size (-1 keeps a dim)", &[SELF], &[R], &[req("size", IntArray), opt("implicit", Bool)], expand)),
    Repeat = 106 => op("sem.repeat", "tile along each dim", &[SELF], &[R], &[req("repeats", IntArray)], repeat),
    Squeeze = 107 => viewing(op("sem.squeeze", "drop size-1 dims (the listed ones, or all)", &[SELF], &[R], &[opt("dim", IntOrList)], squeeze)),
    Unsqueeze = 108 => viewing(op("sem.unsqueeze", "insert a size-1 dim", &[SELF], &[R], &[req("dim", Int)], unsqueeze)),
    AsStrided = 109 => viewing(op("sem.as_strided", "a view with explicit size, strides and storage offset", &[SELF], &[R], &[req("size", IntArray), req("stride", IntArray), opt("storage_offset", IntOrSym)], as_strided)),
    Flip = 110 => op("sem.flip", "reverse along dims", &[SELF], &[R], &[req("dims", IntArray)], same_as_operand0),
    Slice = 111 => viewing(op("sem.slice", "self[start:end:step] along dim", &[SELF], &[R], SLICE_ATTRS, slice)),
    Select = 112 => viewing(op("sem.select", "self[index] along dim (drops the dim)", &[SELF], &[R], &[req("dim", Int), req("index", IntOrSym)], select)),
    Cat = 113 => op("sem.cat", "concatenate along dim", &[variadic(tensor("tensors"))], &[R], &[req("dim", Int)], cat),
    // Not an ATen op: the compiler's form of a KV-cache append (see
    // `genie-kv-in-place`). The same value as `cat(self, update)`; the
    // runtime may write `update` after `self`'s elements in place, in a
    // buffer with room to spare, so a decode step does not copy the cache.
    Append = 153 => op("sem.append", "cat(self, update) along dim, written in place after self when its buffer has room", &[SELF, tensor("update")], &[R], &[req("dim", Int)], cat),
    Split = 114 => viewing(op("sem.split", "chunks of split_size along dim", &[SELF], &[variadic(tensor("results"))], &[req("split_size", Int), opt("dim", Int)], split)),
    SplitWithSizes = 115 => viewing(op("sem.split_with_sizes", "chunks of the given sizes along dim", &[SELF], &[variadic(tensor("results"))], &[req("split_sizes", IntArray), opt("dim", Int)], split_with_sizes)),
    Unbind = 116 => viewing(op("sem.unbind", "slices along dim, the dim removed", &[SELF], &[variadic(tensor("results"))], &[opt("dim", Int)], unbind)),
    ConstantPadNd = 117 => op("sem.constant_pad_nd", "pad trailing dims with a constant", &[SELF], &[R], &[req("pad", IntArray), opt("value", Number)], constant_pad_nd),
    SliceScatter = 118 => op("sem.slice_scatter", "self with src written into a slice", &[SELF, tensor("src")], &[R], SLICE_ATTRS, same_as_operand0),
    SelectScatter = 119 => op("sem.select_scatter", "self with src written at index along dim", &[SELF, tensor("src")], &[R], &[req("dim", Int), req("index", IntOrSym)], same_as_operand0),
    Copy = 120 => op("sem.copy", "src's values in self's layout", &[SELF, tensor("src")], &[R], &[opt("non_blocking", Bool)], same_as_operand0),
    // ----- indexing and embeddings -----------------------------------------
    Embedding = 121 => op("sem.embedding", "rows of weight selected by indices", &[tensor("weight"), tensor("indices")], &[R], &[opt("padding_idx", Int), opt("scale_grad_by_freq", Bool), opt("sparse", Bool)], embedding),
    EmbeddingDenseBackward = 122 => op("sem.embedding_dense_backward", "gradient of an embedding lookup", &[tensor("grad_output"), tensor("indices")], &[R], &[req("num_weights", Int), opt("padding_idx", Int), opt("scale_grad_by_freq", Bool)], embedding_backward),
    EmbeddingBag = 123 => op(
        "sem._embedding_bag",
        "pooled embedding lookups per bag (sum, mean or max)",
        &[tensor("weight"), tensor("indices"), tensor("offsets"), opt_tensor("per_sample_weights")],
        &[tensor("result"), tensor("offset2bag"), tensor("bag_size"), tensor("max_indices")],
        &[opt("scale_grad_by_freq", Bool), req("mode", Int), opt("sparse", Bool), opt("include_last_offset", Bool), opt("padding_idx", Int)],
        embedding_bag,
    ),
    Index = 124 => op("sem.index", "advanced indexing self[indices] (none skips a dim)", &[SELF, variadic(opt_tensor("indices"))], &[R], &[], index),
    IndexPut = 125 => op("sem.index_put", "self[indices] = values (or +=)", &[SELF, variadic(opt_tensor("indices")), tensor("values")], &[R], &[opt("accumulate", Bool)], same_as_operand0),
    IndexSelect = 126 => op("sem.index_select", "entries of self at index along dim", &[SELF, tensor("index")], &[R], &[req("dim", Int)], index_select),
    Gather = 127 => op("sem.gather", "self[index] along dim, elementwise", &[SELF, tensor("index")], &[R], &[req("dim", Int), opt("sparse_grad", Bool)], gather),
    Scatter = 128 => op("sem.scatter", "self with src (or value) written at index along dim", &[SELF, tensor("index"), tensor_or_scalar("src")], &[R], &[req("dim", Int), opt("reduce", String)], same_as_operand0),
    ScatterAdd = 129 => op("sem.scatter_add", "self with src added at index along dim", &[SELF, tensor("index"), tensor("src")], &[R], &[req("dim", Int)], same_as_operand0),
    // ----- factories and randomness ----------------------------------------
    Full = 130 => op("sem.full", "a tensor of size filled with fill_value", &[], &[R], FACTORY_ATTRS, full),
    Empty = 131 => op("sem.empty", "an uninitialised tensor of size", &[], &[R], &[req("size", IntArray), req("dtype", DType)], full),
    FullLike = 132 => op("sem.full_like", "a tensor like self filled with fill_value", &[SELF], &[R], &[req("fill_value", Scalar), opt("dtype", DType)], full_like),
    ScalarTensor = 133 => op("sem.scalar_tensor", "a 0-d tensor holding value", &[scalar("value")], &[R], &[opt("dtype", DType)], scalar_tensor),
    Arange = 134 => op("sem.arange", "start, start + step, … below end", &[], &[R], &[opt("start", IntOrSym), req("end", IntOrSym), opt("step", Int), req("dtype", DType)], arange),
    NativeDropout = 135 => op("sem.native_dropout", "dropout returning the kept mask", &[tensor("input")], &[tensor("result"), tensor("mask")], &[req("p", Float), opt("train", Bool)], dropout),
    // ----- pooling ---------------------------------------------------------
    MaxPool2dWithIndices = 136 => op("sem.max_pool2d_with_indices", "2-d max pooling with argmax indices", &[SELF], &[tensor("result"), tensor("indices")], POOL_ATTRS, max_pool2d),
    AvgPool2d = 137 => op("sem.avg_pool2d", "2-d average pooling", &[SELF], &[R], AVG_POOL_ATTRS, avg_pool2d),
    AdaptiveAvgPool2d = 138 => op("sem._adaptive_avg_pool2d", "2-d average pooling to output_size", &[SELF], &[R], &[req("output_size", IntArray)], adaptive_avg_pool2d),
    MaxPool2dWithIndicesBackward = 139 => op(
        "sem.max_pool2d_with_indices_backward",
        "gradient of 2-d max pooling",
        &[tensor("grad_output"), SELF, tensor("indices")],
        &[tensor("grad_input")],
        POOL_ATTRS,
        same_as_operand1,
    ),
    AvgPool2dBackward = 140 => op("sem.avg_pool2d_backward", "gradient of 2-d average pooling", &[tensor("grad_output"), SELF], &[tensor("grad_input")], AVG_POOL_ATTRS, same_as_operand1),
    AdaptiveAvgPool2dBackward = 141 => op("sem._adaptive_avg_pool2d_backward", "gradient of adaptive average pooling", &[tensor("grad_output"), SELF], &[tensor("grad_input")], &[], same_as_operand1),
    // ----- activation gradients ----------------------------------------------
    ThresholdBackward = 142 => backward_op("sem.threshold_backward", "grad where self > threshold else 0", &[req("threshold", Number)]),
    GeluBackward = 143 => backward_op("sem.gelu_backward", "gradient of gelu", &[opt("approximate", Enum(&["none", "tanh"]))]),
    SiluBackward = 144 => backward_op("sem.silu_backward", "gradient of silu", &[]),
    HardtanhBackward = 145 => backward_op("sem.hardtanh_backward", "gradient of hardtanh", &[opt("min_val", Number), opt("max_val", Number)]),
    TanhBackward = 146 => op("sem.tanh_backward", "grad * (1 - output²)", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[], same_as_operand0),
    SigmoidBackward = 147 => op("sem.sigmoid_backward", "grad * output * (1 - output)", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[], same_as_operand0),
    SoftmaxBackwardData = 148 => op("sem._softmax_backward_data", "gradient of softmax", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[req("dim", Int), opt("input_dtype", DType)], softmax_backward),
    LogSoftmaxBackwardData = 149 => op("sem._log_softmax_backward_data", "gradient of log-softmax", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[req("dim", Int), opt("input_dtype", DType)], softmax_backward),
    NativeDropoutBackward = 150 => op("sem.native_dropout_backward", "grad * mask * scale", &[tensor("grad_output"), tensor("mask")], &[tensor("grad_input")], &[req("scale", Float)], same_as_operand0),
    // ----- recognised patterns ------------------------------------------------
    // A pattern the pattern engine recognised (`kind`: attention, mlp, …),
    // its ops outlined into the private function `body` (MLIR 19's IRDL cannot
    // declare the terminator a nested region needs, so bodies are functions,
    // as `exec` kernels are). Later passes may fuse it or inline it back.
    Region = 151 => op(
        "sem.region",
        "a recognised pattern (attention, mlp, …) whose ops live in the function `body`",
        &[variadic(any("inputs"))],
        &[variadic(any("results"))],
        &[req("kind", String), req("body", SymbolRef), req("function_type", Type)],
        region,
    ),
    // ----- non-core ops from eager fast paths --------------------------------
    TransformerEncoderLayerFwd = 152 => op(
        "sem._transformer_encoder_layer_fwd",
        "nn.TransformerEncoderLayer fast path (eval, no grad)",
        &[
            tensor("src"),
            tensor("qkv_weight"),
            tensor("qkv_bias"),
            tensor("proj_weight"),
            tensor("proj_bias"),
            tensor("norm_weight_1"),
            tensor("norm_bias_1"),
            tensor("norm_weight_2"),
            tensor("norm_bias_2"),
            tensor("ffn_weight_1"),
            tensor("ffn_bias_1"),
            tensor("ffn_weight_2"),
            tensor("ffn_bias_2"),
            opt_tensor("mask"),
        ],
        &[R],
        &[req("embed_dim", Int), req("num_heads", Int), req("use_gelu", Bool), req("norm_first", Bool), req("eps", Float), opt("mask_type", Int)],
        same_as_operand0,
    ),
}
