// genie-sem-infer-shapes reports a declared type that contradicts what the
// refined operands give (the verifier accepted it while the operand types
// were still unknown), at the op, and genie-opt fails.
// RUN: genie-opt %s --split-input-file --genie-sem-infer-shapes --verify-diagnostics
// RUN: not genie-opt %s --split-input-file --genie-sem-infer-shapes 2>&1 >/dev/null | FileCheck %s

// The input verifies: `?x8` could be 3x8.
// CHECK: infer-shapes-errors.mlir:[[# @LINE + 4]]:8: error: 'sem.add' op result #0 has type tensor<3x8xf32>, but its operands give tensor<2x8xf32>
func.func @conflict(%arg0: tensor<4x4xf32>) -> tensor<3x8xf32> {
  %0 = sem.view %arg0 {size = [2, 8]} : tensor<?x8xf32>
  // expected-error@+1 {{'sem.add' op result #0 has type tensor<3x8xf32>, but its operands give tensor<2x8xf32>}}
  %1 = sem.add %0, %0 : tensor<3x8xf32>
  return %1 : tensor<3x8xf32>
}

// -----

// Refined operands can also break an op's own rule.
// CHECK: infer-shapes-errors.mlir:[[# @LINE + 5]]:8: error: 'sem.mm' op contraction dims differ: 8 vs 4
func.func @rule(%arg0: tensor<4x4xf32>, %arg1: tensor<4x4xf32>) -> tensor<?x?xf32> {
  %0 = sem.view %arg0 {size = [2, 8]} : tensor<?x?xf32>
  // Before inference, ?x? by 4x4 is fine.
  // expected-error@+1 {{'sem.mm' op contraction dims differ: 8 vs 4}}
  %1 = sem.mm %0, %arg1 : tensor<?x?xf32>
  return %1 : tensor<?x?xf32>
}

// -----

// All errors are reported, then the pass fails.
func.func @two(%arg0: tensor<4x4xf32>) -> (tensor<3x8xf32>, tensor<8x3xf32>) {
  %0 = sem.view %arg0 {size = [2, 8]} : tensor<?x?xf32>
  // expected-error@+1 {{result #0 has type tensor<3x8xf32>, but its operands give tensor<2x8xf32>}}
  %1 = sem.relu %0 : tensor<3x8xf32>
  // expected-error@+1 {{result #0 has type tensor<8x3xf32>, but its operands give tensor<8x2xf32>}}
  %2 = sem.permute %0 {dims = [1, 0]} : tensor<8x3xf32>
  return %1, %2 : tensor<3x8xf32>, tensor<8x3xf32>
}
