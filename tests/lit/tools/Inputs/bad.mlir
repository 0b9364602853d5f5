// Input with one error, for tests of diagnostics and exit status.
func.func @bad(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %nope : tensor<4xf32>
  return %0 : tensor<4xf32>
}
