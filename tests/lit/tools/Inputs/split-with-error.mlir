func.func @ok1() {
  return
}

// -----

// The broken chunk.
func.func @broken(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %missing : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @ok2() {
  return
}
