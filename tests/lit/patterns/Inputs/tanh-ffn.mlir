// A feed-forward block with tanh, which the built-in rules do not know (user-rules.test).
func.func @f(%x: tensor<2x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %1 = sem.addmm %b1, %x, %w1 : tensor<2x32xf32>
  %2 = sem.tanh %1 : tensor<2x32xf32>
  %3 = sem.addmm %b2, %2, %w2 : tensor<2x8xf32>
  return %3 : tensor<2x8xf32>
}
