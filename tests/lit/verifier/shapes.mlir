// Shape rules: operands must fit together, and each declared result type must
// agree with what the op's rule computes. Only two different static sizes
// disagree: a `?` dim agrees with anything, and a symbol may be specialised to
// any size.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @mm_contraction(%arg0: tensor<4x8xf32>, %arg1: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.mm' op contraction dims differ: 8 vs 4}}
  %0 = sem.mm %arg0, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @mm_symbolic_contraction(%arg0: tensor<4xs0xf32>, %arg1: tensor<s1x8xf32>) -> tensor<4x8xf32> {
  // Two different symbols may be specialised to the same size: accepted.
  %0 = sem.mm %arg0, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @mm_rank(%arg0: tensor<2x4x8xf32>, %arg1: tensor<8x3xf32>) -> tensor<4x3xf32> {
  // expected-error@+1 {{'sem.mm' expects}}
  %0 = sem.mm %arg0, %arg1 : tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @mm_dtypes(%arg0: tensor<4x8xf32>, %arg1: tensor<8x3xf16>) -> tensor<4x3xf32> {
  // expected-error@+1 {{'sem.mm' op 'sem.mm' operands have different dtypes: f32 and f16}}
  %0 = sem.mm %arg0, %arg1 : tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @bmm_batch(%arg0: tensor<12x4x8xf32>, %arg1: tensor<6x8x4xf32>) -> tensor<12x4x4xf32> {
  // expected-error@+1 {{'sem.bmm' op batch dims differ: 12 vs 6}}
  %0 = sem.bmm %arg0, %arg1 : tensor<12x4x4xf32>
  return %0 : tensor<12x4x4xf32>
}

// -----

func.func @broadcast(%arg0: tensor<4x8xf32>, %arg1: tensor<3x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.add' op shapes cannot broadcast: size 4 vs 3 at dim 0}}
  %0 = sem.add %arg0, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// The declared result type must match the rule: a wrong static size...
func.func @result_shape(%arg0: tensor<4x8xf32>) -> tensor<4x9xf32> {
  // expected-error@+1 {{'sem.relu' op result #0 has type tensor<4x9xf32>, but its operands give tensor<4x8xf32>}}
  %0 = sem.relu %arg0 : tensor<4x9xf32>
  return %0 : tensor<4x9xf32>
}

// -----

// ...a wrong dtype...
func.func @result_dtype(%arg0: tensor<4x8xf32>) -> tensor<4x8xf64> {
  // expected-error@+1 {{'sem.view' op result #0 has type tensor<4x8xf64>, but its operands give tensor<4x8xf32>}}
  %0 = sem.view %arg0 {size = [4, 8]} : tensor<4x8xf64>
  return %0 : tensor<4x8xf64>
}

// -----

// ...a wrong rank.
func.func @result_rank(%arg0: tensor<4x8xf32>, %arg1: tensor<8x4xf32>) -> tensor<32xf32> {
  // expected-error@+1 {{'sem.mm' op result #0 has type tensor<32xf32>, but its operands give tensor<4x4xf32>}}
  %0 = sem.mm %arg0, %arg1 {sem.layer = 0} : tensor<32xf32>
  return %0 : tensor<32xf32>
}

// -----

// Symbolic dims: s0 may be specialised to 768, but 768 is not 1024.
func.func @result_symbolic(%arg0: tensor<s0x768xf32>) -> tensor<768x1024xf32> {
  // expected-error@+1 {{'sem.relu' op result #0 has type tensor<768x1024xf32>, but its operands give tensor<s0x768xf32>}}
  %0 = sem.relu %arg0 : tensor<768x1024xf32>
  %1 = sem.relu %arg0 : tensor<768x768xf32>
  return %0 : tensor<768x1024xf32>
}

// -----

// `?` in the declared type is always compatible (shape inference refines it).
func.func @result_unknown(%arg0: tensor<s0x768xf32>) -> tensor<?x?xf32> {
  %0 = sem.relu %arg0 : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// The results of several-result ops are checked one by one.
func.func @second_result(%arg0: tensor<4x8xf32>) -> tensor<4x1xf32> {
  // expected-error@+1 {{'sem.max_dim' op result #1 has type tensor<4x1xi32>, but its operands give tensor<4x1xi64>}}
  %0:2 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi32>
  return %0#0 : tensor<4x1xf32>
}

// -----

func.func @view_elements(%arg0: tensor<4x8xf32>) -> tensor<5x8xf32> {
  // expected-error@+1 {{'sem.view' op cannot view 32 elements as shape [5, 8] (40 elements)}}
  %0 = sem.view %arg0 {size = [5, 8]} : tensor<5x8xf32>
  return %0 : tensor<5x8xf32>
}

// -----

func.func @view_two_inferred(%arg0: tensor<4x8xf32>) -> tensor<?x?xf32> {
  // expected-error@+1 {{'sem.view' op shape may contain at most one -1}}
  %0 = sem.view %arg0 {size = [-1, -1]} : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @not_a_permutation(%arg0: tensor<4x8xf32>) -> tensor<4x4xf32> {
  // expected-error@+1 {{'sem.permute' op [0, 0] is not a permutation}}
  %0 = sem.permute %arg0 {dims = [0, 0]} : tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @dim_out_of_range(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem._softmax' op dim 2 is out of range for rank 2}}
  %0 = sem._softmax %arg0 {dim = 2} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @cat_mismatch(%arg0: tensor<2x8xf32>, %arg1: tensor<3x4xf32>) -> tensor<5x8xf32> {
  // expected-error@+1 {{'sem.cat' op cat operands differ at dim 1: 8 vs 4}}
  %0 = sem.cat %arg0, %arg1 {dim = 0} : tensor<5x8xf32>
  return %0 : tensor<5x8xf32>
}

// -----

func.func @expand(%arg0: tensor<3x1xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.expand' op cannot expand size 3 to 4}}
  %0 = sem.expand %arg0 {size = [4, 8]} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_shape(%arg0: tensor<2x4xf32>, %arg1: none) -> tensor<2x4xf32> {
  // expected-error@+1 {{'sem.native_layer_norm' op normalized_shape [8] does not match the trailing input dims}}
  %0:3 = sem.native_layer_norm %arg0, %arg1, %arg1 {eps = 1.0e-5, normalized_shape = [8]} : tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>
  return %0#0 : tensor<2x4xf32>
}

// -----

func.func @where_condition(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'sem.where' op condition must be an i1 tensor, got f32}}
  %0 = sem.where %arg0, %arg0, %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Float-only ops promote integer inputs to the default float type.
func.func @float_only(%arg0: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error@+1 {{'sem.gelu' op result #0 has type tensor<4xi64>, but its operands give tensor<4xf32>}}
  %0 = sem.gelu %arg0 : tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

// Scalar constants: the result type follows the value.
func.func @constant_type() -> f32 {
  // expected-error@+1 {{'sem.constant' op result #0 has type f32, but its operands give f64}}
  %0 = sem.constant {value = 1.0} : f32
  return %0 : f32
}
