// Input for tests that only need some valid IR.
func.func @small(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}
