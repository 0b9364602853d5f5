// Wrong expectations, for verify-diagnostics.mlir.
func.func @unmet(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{this message is not produced}}
  return %arg0 : tensor<4xf32>
}

// -----

func.func @unexpected(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // No expectation for this error.
  %0 = sem.relu %arg0 {bogus} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @wrong_line(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error {{unknown attribute 'y'}}
  %0 = sem.relu %arg0 {y} : tensor<4xf32>
  return %0 : tensor<4xf32>
}
