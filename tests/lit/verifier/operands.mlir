// Operand and result counts and kinds against each op's definition.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @too_few(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.add' op expects 2 operand(s), got 1}}
  %0 = sem.add %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @too_many(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.relu' op expects 1 operand(s), got 2}}
  %0 = sem.relu %arg0, %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Variadic operands: at least the fixed ones.
func.func @variadic_minimum(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.index_put' op expects at least 2 operand(s), got 1}}
  %0 = sem.index_put %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @none_is_not_a_tensor(%arg0: tensor<4x8xf32>, %arg1: none) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.add' op operand #1 ('other') must be a tensor or scalar, got none}}
  %0 = sem.add %arg0, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @scalar_not_tensor(%arg0: tensor<4x8xf32>, %arg1: f32) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.mm' op operand #1 ('mat2') must be a tensor, got f32}}
  %0 = sem.mm %arg0, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @tensor_not_scalar(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.fill' op operand #1 ('value') must be a scalar, got tensor<4x8xf32>}}
  %0 = sem.fill %arg0, %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Optional tensors take `none`, but nothing else.
func.func @opt_tensor(%arg0: tensor<2x4xf32>, %arg1: i64, %arg2: none) -> tensor<2x4xf32> {
  // expected-error@+1 {{'sem.native_layer_norm' op operand #1 ('weight') must be a tensor or none, got i64}}
  %0:3 = sem.native_layer_norm %arg0, %arg1, %arg2 {eps = 1.0e-5, normalized_shape = [4]} : tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>
  return %0#0 : tensor<2x4xf32>
}

// -----

func.func @list_not_tensor(%arg0: !sem.list<tensor<4xf32>>) -> tensor<4xf32> {
  // expected-error@+1 {{'sem.neg' op operand #0 ('self') must be a tensor or scalar, got !sem.list<tensor<4xf32>>}}
  %0 = sem.neg %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @too_few_results(%arg0: tensor<4x8xf32>) -> tensor<4x1xf32> {
  // expected-error@+1 {{'sem.max_dim' op expects 2 result(s), got 1}}
  %0 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

func.func @result_kind(%arg0: tensor<4x8xf32>) -> i64 {
  // expected-error@+1 {{'sem.mm' op result #0 ('result') must be a tensor, got i64}}
  %0 = sem.mm %arg0, %arg0 : i64
  return %0 : i64
}

// -----

func.func @none_result() -> tensor<4xf32> {
  // expected-error@+1 {{'sem.none' op result #0 ('result') must be none, got tensor<4xf32>}}
  %0 = sem.none : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// The split produces as many results as pieces.
func.func @split_pieces(%arg0: tensor<6x4xf32>) -> tensor<2x4xf32> {
  // expected-error@+1 {{'sem.split' op splits into 3 pieces but the op has 2 results}}
  %0:2 = sem.split %arg0 {split_size = 2} : tensor<2x4xf32>, tensor<2x4xf32>
  return %0#0 : tensor<2x4xf32>
}

// -----

// All problems with one op are reported, not just the first.
func.func @several(%arg0: tensor<4x8xf32>, %arg1: none) -> tensor<4x8xf32> {
  // expected-error@+2 {{operand #0 ('self') must be a tensor or scalar, got none}}
  // expected-error@+1 {{operand #1 ('other') must be a tensor or scalar, got none}}
  %0 = sem.sub %arg1, %arg1 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
