// genie-sem-annotate on small graphs, one pattern each: the pattern root
// carries `sem.pattern`, every function its phase, workload and argument roles.
// RUN: genie-opt %s --split-input-file --genie-sem-annotate | FileCheck %s

// Decomposed causal self-attention (bmm over flattened heads, scale, mask
// from comparing two ranges, softmax): phase prefill.
// CHECK-LABEL: func.func @self_attention
// CHECK-SAME: genie.arg_roles = ["input"]
// CHECK-SAME: sem.phase = "prefill"
// CHECK: sem.view %{{.*}} {sem.pattern = "attention", sem.role = "output", size = [1, 4, 8, 16]}
func.func @self_attention(%arg0: tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %k = sem.neg %arg0 : tensor<1x4x8x16xf32>
  %0 = sem.permute %k {dims = [0, 1, 3, 2]} : tensor<1x4x16x8xf32>
  %1 = sem.expand %arg0 {size = [1, 4, 8, 16]} : tensor<1x4x8x16xf32>
  %2 = sem.view %1 {size = [4, 8, 16]} : tensor<4x8x16xf32>
  %3 = sem.expand %0 {size = [1, 4, 16, 8]} : tensor<1x4x16x8xf32>
  %4 = sem.view %3 {size = [4, 16, 8]} : tensor<4x16x8xf32>
  %5 = sem.bmm %2, %4 : tensor<4x8x8xf32>
  %6 = sem.view %5 {size = [1, 4, 8, 8]} : tensor<1x4x8x8xf32>
  %7 = sem.constant {value = 0.25} : f64
  %8 = sem.mul %6, %7 : tensor<1x4x8x8xf32>
  %9 = sem.arange {dtype = i64, end = 8} : tensor<8xi64>
  %10 = sem.unsqueeze %9 {dim = 0} : tensor<1x8xi64>
  %11 = sem.unsqueeze %9 {dim = 1} : tensor<8x1xi64>
  %12 = sem.le %10, %11 : tensor<8x8xi1>
  %13 = sem.constant {value = -1.0e9} : f64
  %14 = sem.masked_fill %8, %12, %13 : tensor<1x4x8x8xf32>
  %15 = sem._softmax %14 {dim = -1} : tensor<1x4x8x8xf32>
  %16 = sem.view %15 {size = [4, 8, 8]} : tensor<4x8x8xf32>
  %17 = sem.view %arg0 {size = [4, 8, 16]} : tensor<4x8x16xf32>
  %18 = sem.bmm %16, %17 : tensor<4x8x16xf32>
  %19 = sem.view %18 {size = [1, 4, 8, 16]} : tensor<1x4x8x16xf32>
  return %19 : tensor<1x4x8x16xf32>
}

// -----

// Fused SDPA with queries from one input and keys/values from another:
// cross-attention.
// CHECK-LABEL: func.func @cross_attention
// CHECK: sem.scaled_dot_product_attention %arg0, %arg1, %arg1, %0 {sem.pattern = "cross_attention"
func.func @cross_attention(%q: tensor<1x4x8x16xf32>, %kv: tensor<1x4x5x16xf32>) -> tensor<1x4x8x16xf32> {
  %none = sem.none : none
  %0 = sem.scaled_dot_product_attention %q, %kv, %kv, %none : tensor<1x4x8x16xf32>
  return %0 : tensor<1x4x8x16xf32>
}

// -----

// A KV cache passed in, appended to along the sequence dim and returned:
// kv-state in and out, phase decode.
// MLIR-REJECTS: IRDL binds one type for all of sem.cat's variadic operands
// CHECK-LABEL: func.func @decode
// CHECK-SAME: genie.arg_roles = ["kv-state", "input"]
// CHECK-SAME: sem.phase = "decode"
// CHECK: sem.cat %arg0, %arg1 {dim = -2, sem.pattern = "kv_cache_append", sem.role = "kv-state"}
func.func @decode(%past: tensor<1x4x7x16xf32>, %new: tensor<1x4x1x16xf32>) -> tensor<1x4x8x16xf32> {
  %0 = sem.cat %past, %new {dim = -2} : tensor<1x4x8x16xf32>
  return %0 : tensor<1x4x8x16xf32>
}

// -----

// Linear → GELU → linear with weights: an MLP; the input and output roles.
// CHECK-LABEL: func.func @mlp
// CHECK-SAME: genie.arg_roles = ["input", "weight", "weight", "weight", "weight"]
// CHECK: sem.view %{{.*}} {sem.pattern = "mlp", sem.role = "output", size = [2, 3, 8]}
func.func @mlp(%x: tensor<2x3x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x3x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %0 = sem.view %x {size = [6, 8]} : tensor<6x8xf32>
  %1 = sem.addmm %b1, %0, %w1 : tensor<6x32xf32>
  %2 = sem.view %1 {size = [2, 3, 32]} : tensor<2x3x32xf32>
  %3 = sem.gelu %2 : tensor<2x3x32xf32>
  %4 = sem.view %3 {size = [6, 32]} : tensor<6x32xf32>
  %5 = sem.addmm %b2, %4, %w2 : tensor<6x8xf32>
  %6 = sem.view %5 {size = [2, 3, 8]} : tensor<2x3x8xf32>
  return %6 : tensor<2x3x8xf32>
}

// -----

// RMSNorm as LLaMA writes it.
// CHECK-LABEL: func.func @rmsnorm
// CHECK: sem.mul %arg1, %{{.*}} {sem.pattern = "rmsnorm"
func.func @rmsnorm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> attributes {genie.weight_args = [1]} {
  %two = sem.constant {value = 2} : i64
  %0 = sem.pow %x, %two : tensor<2x8xf32>
  %1 = sem.mean %0 {dim = [-1], keepdim = true} : tensor<2x1xf32>
  %eps = sem.constant {value = 1.0e-6} : f64
  %2 = sem.add %1, %eps : tensor<2x1xf32>
  %3 = sem.rsqrt %2 : tensor<2x1xf32>
  %4 = sem.mul %x, %3 : tensor<2x8xf32>
  %5 = sem.mul %w, %4 : tensor<2x8xf32>
  return %5 : tensor<2x8xf32>
}

// -----

// Conv → batch norm → ReLU on an image, with a residual add: vision.
// CHECK-LABEL: func.func @conv_block
// CHECK-SAME: genie.arg_modalities = ["vision", "", "", "", "", ""]
// CHECK-SAME: genie.workload = "vision"
// CHECK-SAME: sem.phase = "encode"
// CHECK: sem.relu %{{.*}} {sem.modality = "vision", sem.pattern = "conv_bn_act"
// CHECK: sem.add %{{.*}} {sem.modality = "vision", sem.pattern = "residual"
func.func @conv_block(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<1x4x8x8xf32> attributes {genie.weight_args = [1, 2, 3, 4, 5]} {
  %none = sem.none : none
  %0 = sem.convolution %x, %w, %none {dilation = [1, 1], groups = 1, padding = [1, 1], stride = [1, 1]} : tensor<1x4x8x8xf32>
  %1:3 = sem._native_batch_norm_legit_no_training %0, %g, %b, %m, %v {eps = 1.0e-5, momentum = 0.1} : tensor<1x4x8x8xf32>, tensor<0xf32>, tensor<0xf32>
  %2 = sem.relu %1#0 : tensor<1x4x8x8xf32>
  %3 = sem.add %2, %x : tensor<1x4x8x8xf32>
  return %3 : tensor<1x4x8x8xf32>
}

// -----

// A strided convolution that cuts the image into patches.
// CHECK-LABEL: func.func @patch_embedding
// CHECK: sem.convolution {{.*}}sem.pattern = "patch_embedding"
func.func @patch_embedding(%x: tensor<1x3x32x32xf32>, %w: tensor<16x3x8x8xf32>, %b: tensor<16xf32>) -> tensor<1x16x4x4xf32> attributes {genie.weight_args = [1, 2]} {
  %0 = sem.convolution %x, %w, %b {dilation = [1, 1], groups = 1, padding = [0, 0], stride = [8, 8]} : tensor<1x16x4x4xf32>
  return %0 : tensor<1x16x4x4xf32>
}

// -----

// A ViT token pipeline: patches flattened to tokens, a class token
// prepended, position embeddings added (the patch convolution inside is a
// patch embedding of its own).
// MLIR-REJECTS: IRDL binds one type for all of sem.cat's variadic operands (class token + patches)
// CHECK-LABEL: func.func @token_pipeline
// CHECK: sem.convolution {{.*}}sem.pattern = "patch_embedding"
// CHECK: sem.add {{.*}}sem.pattern = "token_pipeline"
func.func @token_pipeline(%x: tensor<2x3x32x32xf32>, %w: tensor<16x3x16x16xf32>, %b: tensor<16xf32>, %cls: tensor<1x1x16xf32>, %pos: tensor<1x5x16xf32>) -> tensor<2x5x16xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %0 = sem.convolution %x, %w, %b {dilation = [1, 1], groups = 1, padding = [0, 0], stride = [16, 16]} : tensor<2x16x2x2xf32>
  %1 = sem.view %0 {size = [2, 16, 4]} : tensor<2x16x4xf32>
  %2 = sem.permute %1 {dims = [0, 2, 1]} : tensor<2x4x16xf32>
  %3 = sem.expand %cls {size = [2, -1, -1]} : tensor<2x1x16xf32>
  %4 = sem.cat %3, %2 {dim = 1} : tensor<2x5x16xf32>
  %5 = sem.add %4, %pos : tensor<2x5x16xf32>
  return %5 : tensor<2x5x16xf32>
}

// -----

// Embedding bags of categorical ids, dense features and a dot interaction:
// recsys, with the table's role.
// CHECK-LABEL: func.func @dlrm
// CHECK-SAME: genie.arg_modalities = ["tabular", "", "", "tabular"]
// CHECK-SAME: genie.arg_roles = ["input", "input", "embedding-table", "input"]
// CHECK-SAME: genie.workload = "recsys"
// CHECK: sem._embedding_bag {{.*}}sem.pattern = "embedding_bag"
// CHECK: sem.bmm {{.*}}sem.pattern = "pairwise_interaction"
func.func @dlrm(%ids: tensor<8xi64>, %offsets: tensor<2xi64>, %table: tensor<100x4xf32>, %dense: tensor<2x4xf32>) -> tensor<2x2x2xf32> attributes {genie.weight_args = [2]} {
  %none = sem.none : none
  %0:4 = sem._embedding_bag %table, %ids, %offsets, %none {mode = 0} : tensor<2x4xf32>, tensor<8xi64>, tensor<2xi64>, tensor<2xi64>
  %1 = sem.cat %dense, %0#0 {dim = 1} : tensor<2x8xf32>
  %2 = sem.view %1 {size = [2, 2, 4]} : tensor<2x2x4xf32>
  %3 = sem.permute %2 {dims = [0, 2, 1]} : tensor<2x4x2xf32>
  %4 = sem.bmm %2, %3 : tensor<2x2x2xf32>
  return %4 : tensor<2x2x2xf32>
}

// -----

// A model the rules do not know: unknown (low confidence), still annotated.
// CHECK-LABEL: func.func @unknown
// CHECK-SAME: genie.confidence = 0.0
// CHECK-SAME: genie.workload = "unknown"
func.func @unknown(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.sin %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
