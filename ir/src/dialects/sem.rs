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
    OpDef { name, summary, operands, results, attrs, regions: 0, traits: Traits::PURE, infer: Some(infer) }
}

const fn unary_op(name: &'static str, summary: &'static str, infer: InferFn) -> OpDef {
    op(name, summary, &[SELF_TS], &[RS], &[], infer)
}

const fn binary_op(name: &'static str, summary: &'static str, infer: InferFn) -> OpDef {
    op(name, summary, &[SELF_TS, OTHER_TS], &[RS], &[], infer)
}

const GRAD_AND_SELF: &[Slot] = &[tensor("grad_output"), tensor("self")];
const GRAD_INPUT: &[Slot] = &[tensor("grad_input")];

const fn backward_op(name: &'static str, summary: &'static str, attrs: &'static [AttrDef]) -> OpDef {
    op(name, summary, GRAD_AND_SELF, GRAD_INPUT, attrs, same_as_operand0)
}

pub static OPS: &[OpDef] = &[
    // ----- constants and shape values ------------------------------------
    op("sem.constant", "a constant scalar, symbolic size, or dense tensor held by reference", &[], &[any("result")], &[req("value", Any)], constant),
    op("sem.none", "the None value of an absent optional argument", &[], &[Slot { name: "result", kind: ValueKind::None, variadic: false }], &[], none),
    op("sem.sym_size", "size of one dimension as a scalar", &[SELF], &[scalar("result")], &[req("dim", Int)], sym_size),
    op("sem.sym_numel", "number of elements as a scalar", &[SELF], &[scalar("result")], &[], sym_numel),
    // ----- elementwise unary -------------------------------------------------
    unary_op("sem.neg", "-x", unary),
    unary_op("sem.abs", "|x|", unary),
    unary_op("sem.sign", "sign(x)", unary),
    unary_op("sem.floor", "floor(x)", round_to_int),
    unary_op("sem.ceil", "ceil(x)", round_to_int),
    unary_op("sem.round", "round half to even", unary),
    unary_op("sem.trunc", "truncate toward zero", unary),
    unary_op("sem.relu", "max(x, 0)", unary),
    unary_op("sem.exp", "e^x", unary_float),
    unary_op("sem.expm1", "e^x - 1", unary_float),
    unary_op("sem.log", "ln x", unary_float),
    unary_op("sem.log1p", "ln(1 + x)", unary_float),
    unary_op("sem.sqrt", "sqrt(x)", unary_float),
    unary_op("sem.rsqrt", "1 / sqrt(x)", unary_float),
    unary_op("sem.reciprocal", "1 / x", unary_float),
    unary_op("sem.sin", "sin(x)", unary_float),
    unary_op("sem.cos", "cos(x)", unary_float),
    unary_op("sem.tanh", "tanh(x)", unary_float),
    unary_op("sem.sigmoid", "1 / (1 + e^-x)", unary_float),
    unary_op("sem.erf", "error function", unary_float),
    unary_op("sem.silu", "x * sigmoid(x)", unary_float),
    unary_op("sem.hardswish", "x * relu6(x + 3) / 6", unary_float),
    unary_op("sem.hardsigmoid", "relu6(x + 3) / 6", unary_float),
    unary_op("sem.logical_not", "!x", unary_bool),
    unary_op("sem.bitwise_not", "~x", unary),
    unary_op("sem.isnan", "x != x", unary_bool),
    unary_op("sem.clone", "a copy (identity in functional IR)", unary),
    unary_op("sem.alias", "the same tensor under another name", unary),
    unary_op("sem.detach", "the same values without autograd history", unary),
    unary_op("sem.lift_fresh_copy", "a copy of a lifted constant", unary),
    op("sem.gelu", "Gaussian error linear unit", &[SELF], &[R], &[opt("approximate", Enum(&["none", "tanh"]))], unary_float),
    op("sem.leaky_relu", "x if x > 0 else slope * x", &[SELF], &[R], &[opt("negative_slope", Number)], unary),
    op("sem.hardtanh", "clamp(x, min_val, max_val)", &[SELF], &[R], &[opt("min_val", Number), opt("max_val", Number)], unary),
    op("sem.clamp", "clamp(x, min, max)", &[SELF], &[R], &[opt("min", Number), opt("max", Number)], clamp),
    op("sem.fill", "a tensor like self filled with value", &[SELF, scalar("value")], &[R], &[], same_as_operand0),
    op("sem.tril", "lower triangle", &[SELF], &[R], &[opt("diagonal", Int)], same_as_operand0),
    op("sem.triu", "upper triangle", &[SELF], &[R], &[opt("diagonal", Int)], same_as_operand0),
    op("sem._to_copy", "copy with a new dtype", &[SELF_TS], &[RS], &[opt("dtype", DType)], to_copy),
    op("sem.convert_element_type", "prims.convert_element_type: the values in another dtype", &[SELF_TS], &[RS], &[req("dtype", DType)], to_copy),
    // ----- elementwise binary / ternary ------------------------------------
    op("sem.add", "self + alpha * other", &[SELF_TS, OTHER_TS], &[RS], &[opt("alpha", Number)], binary),
    op("sem.sub", "self - alpha * other", &[SELF_TS, OTHER_TS], &[RS], &[opt("alpha", Number)], binary),
    binary_op("sem.mul", "self * other", binary),
    op("sem.div", "self / other", &[SELF_TS, OTHER_TS], &[RS], &[opt("rounding_mode", Enum(&["trunc", "floor"]))], true_div),
    binary_op("sem.floor_divide", "floor(self / other)", binary),
    binary_op("sem.remainder", "Python-style modulus", binary),
    binary_op("sem.fmod", "C-style modulus", binary),
    binary_op("sem.pow", "self ** other", binary_pow),
    binary_op("sem.atan2", "atan2(self, other)", true_div),
    binary_op("sem.maximum", "elementwise max", binary),
    binary_op("sem.minimum", "elementwise min", binary),
    binary_op("sem.eq", "self == other", compare),
    binary_op("sem.ne", "self != other", compare),
    binary_op("sem.lt", "self < other", compare),
    binary_op("sem.le", "self <= other", compare),
    binary_op("sem.gt", "self > other", compare),
    binary_op("sem.ge", "self >= other", compare),
    binary_op("sem.logical_and", "self && other", compare),
    binary_op("sem.logical_or", "self || other", compare),
    binary_op("sem.logical_xor", "self ^^ other", compare),
    binary_op("sem.bitwise_and", "self & other", binary),
    binary_op("sem.bitwise_or", "self | other", binary),
    binary_op("sem.bitwise_xor", "self ^ other", binary),
    op("sem.where", "condition ? self : other", &[tensor("condition"), SELF_TS, OTHER_TS], &[R], &[], where_),
    op("sem.masked_fill", "value where mask else self", &[SELF, tensor("mask"), tensor_or_scalar("value")], &[R], &[], masked_fill),
    // ----- reductions ------------------------------------------------------
    op("sem.sum", "sum over dims (all when absent)", &[SELF], &[R], REDUCE_ATTRS, reduce_sum),
    op("sem.mean", "mean over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_float),
    op("sem.prod", "product over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_sum),
    op("sem.amax", "max over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_same),
    op("sem.amin", "min over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_same),
    op("sem.any", "any over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_bool),
    op("sem.all", "all over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_bool),
    op("sem.var", "variance over dims", &[SELF], &[R], &[opt("dim", IntOrList), opt("keepdim", Bool), opt("correction", Number)], reduce_float),
    op("sem.logsumexp", "log(sum(exp(x))) over dims", &[SELF], &[R], REDUCE_ATTRS, reduce_to_float),
    op("sem.argmax", "index of the max (flattened when dim is absent)", &[SELF], &[R], &[opt("dim", Int), opt("keepdim", Bool)], arg_reduce),
    op("sem.argmin", "index of the min (flattened when dim is absent)", &[SELF], &[R], &[opt("dim", Int), opt("keepdim", Bool)], arg_reduce),
    op("sem.max_dim", "max along dim, with indices", &[SELF], &[tensor("values"), tensor("indices")], &[req("dim", Int), opt("keepdim", Bool)], values_and_indices),
    op("sem.min_dim", "min along dim, with indices", &[SELF], &[tensor("values"), tensor("indices")], &[req("dim", Int), opt("keepdim", Bool)], values_and_indices),
    op("sem.cumsum", "running sum along dim", &[SELF], &[R], &[req("dim", Int), opt("dtype", DType)], cumsum),
    op("sem._softmax", "softmax along dim", &[SELF], &[R], &[req("dim", Int), opt("half_to_float", Bool)], softmax),
    op("sem._log_softmax", "log-softmax along dim", &[SELF], &[R], &[req("dim", Int), opt("half_to_float", Bool)], softmax),
    op("sem.topk", "k largest (or smallest) along dim", &[SELF], &[tensor("values"), tensor("indices")], &[req("k", IntOrSym), opt("dim", Int), opt("largest", Bool), opt("sorted", Bool)], topk),
    op("sem.sort", "sorted values and their indices", &[SELF], &[tensor("values"), tensor("indices")], &[opt("dim", Int), opt("descending", Bool), opt("stable", Bool)], sort),
    // ----- linear algebra --------------------------------------------------
    op("sem.mm", "matrix product [m,k] x [k,n]", &[SELF, tensor("mat2")], &[R], &[], mm),
    op("sem.bmm", "batched matrix product [b,m,k] x [b,k,n]", &[SELF, tensor("mat2")], &[R], &[], bmm),
    op("sem.addmm", "beta * self + alpha * (mat1 x mat2)", &[SELF, tensor("mat1"), tensor("mat2")], &[R], &[opt("beta", Number), opt("alpha", Number)], addmm),
    op("sem.matmul", "torch.matmul with broadcasting", &[SELF, tensor("other")], &[R], &[], matmul),
    op(
        "sem.convolution",
        "N-d convolution (transposed when asked)",
        &[tensor("input"), tensor("weight"), opt_tensor("bias")],
        &[R],
        &[req("stride", IntArray), req("padding", IntArray), req("dilation", IntArray), opt("transposed", Bool), opt("output_padding", IntArray), req("groups", Int)],
        convolution,
    ),
    op(
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
    op(
        "sem.scaled_dot_product_attention",
        "softmax(q kᵀ · scale + mask) v",
        &[tensor("query"), tensor("key"), tensor("value"), opt_tensor("attn_mask")],
        &[R],
        &[opt("dropout_p", Float), opt("is_causal", Bool), opt("scale", Float), opt("enable_gqa", Bool)],
        sdpa,
    ),
    op(
        "sem._scaled_dot_product_flash_attention_for_cpu_backward",
        "gradients of CPU flash attention for query, key and value",
        &[tensor("grad_out"), tensor("query"), tensor("key"), tensor("value"), tensor("out"), tensor("logsumexp"), opt_tensor("attn_mask")],
        &[tensor("grad_query"), tensor("grad_key"), tensor("grad_value")],
        &[req("dropout_p", Float), req("is_causal", Bool), opt("scale", Float)],
        sdpa_backward,
    ),
    // ----- normalisation ---------------------------------------------------
    op(
        "sem.native_layer_norm",
        "layer norm over the trailing normalized_shape dims, with mean and rstd",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias")],
        &[tensor("result"), tensor("mean"), tensor("rstd")],
        &[req("normalized_shape", IntArray), req("eps", Float)],
        layer_norm,
    ),
    op(
        "sem.native_layer_norm_backward",
        "gradients of layer norm",
        &[tensor("grad_out"), tensor("input"), tensor("mean"), tensor("rstd"), opt_tensor("weight"), opt_tensor("bias")],
        &[any("grad_input"), any("grad_weight"), any("grad_bias")],
        &[req("normalized_shape", IntArray), req("output_mask", Array)],
        layer_norm_backward,
    ),
    op(
        "sem._native_batch_norm_legit_no_training",
        "batch norm with running statistics (inference)",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias"), tensor("running_mean"), tensor("running_var")],
        &[tensor("result"), tensor("save_mean"), tensor("save_rstd")],
        &[req("momentum", Float), req("eps", Float)],
        batch_norm_inference,
    ),
    op(
        "sem._native_batch_norm_legit_functional",
        "training batch norm returning updated running statistics",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias"), tensor("running_mean"), tensor("running_var")],
        &[tensor("result"), tensor("save_mean"), tensor("save_rstd"), tensor("new_running_mean"), tensor("new_running_var")],
        &[req("training", Bool), req("momentum", Float), req("eps", Float)],
        batch_norm_functional,
    ),
    op(
        "sem.native_batch_norm_backward",
        "gradients of batch norm",
        &[tensor("grad_out"), tensor("input"), opt_tensor("weight"), opt_tensor("running_mean"), opt_tensor("running_var"), opt_tensor("save_mean"), opt_tensor("save_invstd")],
        &[any("grad_input"), any("grad_weight"), any("grad_bias")],
        &[req("train", Bool), req("eps", Float), req("output_mask", Array)],
        batch_norm_backward,
    ),
    op(
        "sem.native_group_norm",
        "group norm with mean and rstd per (sample, group)",
        &[tensor("input"), opt_tensor("weight"), opt_tensor("bias")],
        &[tensor("result"), tensor("mean"), tensor("rstd")],
        &[opt("N", IntOrSym), opt("C", IntOrSym), opt("HxW", IntOrSym), req("group", Int), req("eps", Float)],
        group_norm,
    ),
    // ----- views and data movement -----------------------------------------
    op("sem.view", "same data, new shape (-1 infers one dim)", &[SELF], &[R], &[req("size", IntArray)], view),
    op("sem.reshape", "reshape, copying if needed", &[SELF], &[R], &[req("shape", IntArray)], view),
    op("sem._unsafe_view", "view without aliasing checks", &[SELF], &[R], &[req("size", IntArray)], view),
    op("sem.permute", "reorder dims", &[SELF], &[R], &[req("dims", IntArray)], permute),
    op("sem.transpose", "swap two dims", &[SELF], &[R], &[req("dim0", Int), req("dim1", Int)], transpose),
    op("sem.expand", "broadcast to size (-1 keeps a dim)", &[SELF], &[R], &[req("size", IntArray), opt("implicit", Bool)], expand),
    op("sem.repeat", "tile along each dim", &[SELF], &[R], &[req("repeats", IntArray)], repeat),
    op("sem.squeeze", "drop size-1 dims (the listed ones, or all)", &[SELF], &[R], &[opt("dim", IntOrList)], squeeze),
    op("sem.unsqueeze", "insert a size-1 dim", &[SELF], &[R], &[req("dim", Int)], unsqueeze),
    op("sem.as_strided", "a view with explicit size, strides and storage offset", &[SELF], &[R], &[req("size", IntArray), req("stride", IntArray), opt("storage_offset", IntOrSym)], as_strided),
    op("sem.flip", "reverse along dims", &[SELF], &[R], &[req("dims", IntArray)], same_as_operand0),
    op("sem.slice", "self[start:end:step] along dim", &[SELF], &[R], SLICE_ATTRS, slice),
    op("sem.select", "self[index] along dim (drops the dim)", &[SELF], &[R], &[req("dim", Int), req("index", IntOrSym)], select),
    op("sem.cat", "concatenate along dim", &[variadic(tensor("tensors"))], &[R], &[req("dim", Int)], cat),
    op("sem.split", "chunks of split_size along dim", &[SELF], &[variadic(tensor("results"))], &[req("split_size", Int), opt("dim", Int)], split),
    op("sem.split_with_sizes", "chunks of the given sizes along dim", &[SELF], &[variadic(tensor("results"))], &[req("split_sizes", IntArray), opt("dim", Int)], split_with_sizes),
    op("sem.unbind", "slices along dim, the dim removed", &[SELF], &[variadic(tensor("results"))], &[opt("dim", Int)], unbind),
    op("sem.constant_pad_nd", "pad trailing dims with a constant", &[SELF], &[R], &[req("pad", IntArray), opt("value", Number)], constant_pad_nd),
    op("sem.slice_scatter", "self with src written into a slice", &[SELF, tensor("src")], &[R], SLICE_ATTRS, same_as_operand0),
    op("sem.select_scatter", "self with src written at index along dim", &[SELF, tensor("src")], &[R], &[req("dim", Int), req("index", IntOrSym)], same_as_operand0),
    op("sem.copy", "src's values in self's layout", &[SELF, tensor("src")], &[R], &[opt("non_blocking", Bool)], same_as_operand0),
    // ----- indexing and embeddings -----------------------------------------
    op("sem.embedding", "rows of weight selected by indices", &[tensor("weight"), tensor("indices")], &[R], &[opt("padding_idx", Int), opt("scale_grad_by_freq", Bool), opt("sparse", Bool)], embedding),
    op("sem.embedding_dense_backward", "gradient of an embedding lookup", &[tensor("grad_output"), tensor("indices")], &[R], &[req("num_weights", Int), opt("padding_idx", Int), opt("scale_grad_by_freq", Bool)], embedding_backward),
    op(
        "sem._embedding_bag",
        "pooled embedding lookups per bag (sum, mean or max)",
        &[tensor("weight"), tensor("indices"), tensor("offsets"), opt_tensor("per_sample_weights")],
        &[tensor("result"), tensor("offset2bag"), tensor("bag_size"), tensor("max_indices")],
        &[opt("scale_grad_by_freq", Bool), req("mode", Int), opt("sparse", Bool), opt("include_last_offset", Bool), opt("padding_idx", Int)],
        embedding_bag,
    ),
    op("sem.index", "advanced indexing self[indices] (none skips a dim)", &[SELF, variadic(opt_tensor("indices"))], &[R], &[], index),
    op("sem.index_put", "self[indices] = values (or +=)", &[SELF, variadic(opt_tensor("indices")), tensor("values")], &[R], &[opt("accumulate", Bool)], same_as_operand0),
    op("sem.index_select", "entries of self at index along dim", &[SELF, tensor("index")], &[R], &[req("dim", Int)], index_select),
    op("sem.gather", "self[index] along dim, elementwise", &[SELF, tensor("index")], &[R], &[req("dim", Int), opt("sparse_grad", Bool)], gather),
    op("sem.scatter", "self with src (or value) written at index along dim", &[SELF, tensor("index"), tensor_or_scalar("src")], &[R], &[req("dim", Int), opt("reduce", String)], same_as_operand0),
    op("sem.scatter_add", "self with src added at index along dim", &[SELF, tensor("index"), tensor("src")], &[R], &[req("dim", Int)], same_as_operand0),
    // ----- factories and randomness ----------------------------------------
    op("sem.full", "a tensor of size filled with fill_value", &[], &[R], FACTORY_ATTRS, full),
    op("sem.empty", "an uninitialised tensor of size", &[], &[R], &[req("size", IntArray), req("dtype", DType)], full),
    op("sem.full_like", "a tensor like self filled with fill_value", &[SELF], &[R], &[req("fill_value", Scalar), opt("dtype", DType)], full_like),
    op("sem.scalar_tensor", "a 0-d tensor holding value", &[scalar("value")], &[R], &[opt("dtype", DType)], scalar_tensor),
    op("sem.arange", "start, start + step, … below end", &[], &[R], &[opt("start", IntOrSym), req("end", IntOrSym), opt("step", Int), req("dtype", DType)], arange),
    op("sem.native_dropout", "dropout returning the kept mask", &[tensor("input")], &[tensor("result"), tensor("mask")], &[req("p", Float), opt("train", Bool)], dropout),
    // ----- pooling ---------------------------------------------------------
    op("sem.max_pool2d_with_indices", "2-d max pooling with argmax indices", &[SELF], &[tensor("result"), tensor("indices")], POOL_ATTRS, max_pool2d),
    op("sem.avg_pool2d", "2-d average pooling", &[SELF], &[R], AVG_POOL_ATTRS, avg_pool2d),
    op("sem._adaptive_avg_pool2d", "2-d average pooling to output_size", &[SELF], &[R], &[req("output_size", IntArray)], adaptive_avg_pool2d),
    op(
        "sem.max_pool2d_with_indices_backward",
        "gradient of 2-d max pooling",
        &[tensor("grad_output"), SELF, tensor("indices")],
        &[tensor("grad_input")],
        POOL_ATTRS,
        same_as_operand1,
    ),
    op("sem.avg_pool2d_backward", "gradient of 2-d average pooling", &[tensor("grad_output"), SELF], &[tensor("grad_input")], AVG_POOL_ATTRS, same_as_operand1),
    op("sem._adaptive_avg_pool2d_backward", "gradient of adaptive average pooling", &[tensor("grad_output"), SELF], &[tensor("grad_input")], &[], same_as_operand1),
    // ----- activation gradients ----------------------------------------------
    backward_op("sem.threshold_backward", "grad where self > threshold else 0", &[req("threshold", Number)]),
    backward_op("sem.gelu_backward", "gradient of gelu", &[opt("approximate", Enum(&["none", "tanh"]))]),
    backward_op("sem.silu_backward", "gradient of silu", &[]),
    backward_op("sem.hardtanh_backward", "gradient of hardtanh", &[opt("min_val", Number), opt("max_val", Number)]),
    op("sem.tanh_backward", "grad * (1 - output²)", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[], same_as_operand0),
    op("sem.sigmoid_backward", "grad * output * (1 - output)", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[], same_as_operand0),
    op("sem._softmax_backward_data", "gradient of softmax", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[req("dim", Int), opt("input_dtype", DType)], softmax_backward),
    op("sem._log_softmax_backward_data", "gradient of log-softmax", &[tensor("grad_output"), tensor("output")], &[tensor("grad_input")], &[req("dim", Int), opt("input_dtype", DType)], softmax_backward),
    op("sem.native_dropout_backward", "grad * mask * scale", &[tensor("grad_output"), tensor("mask")], &[tensor("grad_input")], &[req("scale", Float)], same_as_operand0),
    // ----- recognised patterns ------------------------------------------------
    // A pattern the pattern engine recognised (`kind`: attention, mlp, …),
    // its ops outlined into the private function `body` (MLIR 19's IRDL cannot
    // declare the terminator a nested region needs, so bodies are functions,
    // as `exec` kernels are). Later passes may fuse it or inline it back.
    op(
        "sem.region",
        "a recognised pattern (attention, mlp, …) whose ops live in the function `body`",
        &[variadic(any("inputs"))],
        &[variadic(any("results"))],
        &[req("kind", String), req("body", SymbolRef), req("function_type", Type)],
        region,
    ),
    // ----- non-core ops from eager fast paths --------------------------------
    op(
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
];
