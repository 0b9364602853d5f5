// genie-sem-fold-matmul-scale: a multiplication by a constant scalar on a
// matrix-product operand (through views, permutes and expands) moves onto
// the product, as one multiplication by the product of the scales.
// RUN: genie-opt %s --genie-sem-fold-matmul-scale | FileCheck %s

// Decomposed attention scores: Q and Kᵀ each scaled by √scale.
// CHECK-LABEL: func.func @attention_scores(%arg0: tensor<1x12x1x64xf32>, %arg1: tensor<1x12x9x64xf32>)
func.func @attention_scores(%q: tensor<1x12x1x64xf32>, %k: tensor<1x12x9x64xf32>) -> tensor<12x1x9xf32> {
  // CHECK-NOT: sem.mul %arg
  // CHECK: %[[KT:.*]] = sem.permute %arg1 {dims = [0, 1, 3, 2]}
  // CHECK: %[[P:.*]] = sem.bmm
  // CHECK-NEXT: %[[C:.*]] = sem.constant {value = 0.125{{0*[0-9]*}}} : f64
  // CHECK-NEXT: %[[S:.*]] = sem.mul %[[P]], %[[C]] : tensor<12x1x9xf32>
  // CHECK-NEXT: return %[[S]]
  %c = sem.constant {value = 0.3535533905932738} : f64
  %0 = sem.mul %q, %c : tensor<1x12x1x64xf32>
  %1 = sem.permute %k {dims = [0, 1, 3, 2]} : tensor<1x12x64x9xf32>
  %2 = sem.mul %1, %c : tensor<1x12x64x9xf32>
  %3 = sem.view %0 {size = [12, 1, 64]} : tensor<12x1x64xf32>
  %4 = sem.expand %2 {size = [1, 12, 64, 9]} : tensor<1x12x64x9xf32>
  %5 = sem.view %4 {size = [12, 64, 9]} : tensor<12x64x9xf32>
  %6 = sem.bmm %3, %5 : tensor<12x1x9xf32>
  return %6 : tensor<12x1x9xf32>
}

// Left alone: a scaled value with another use, and a tensor (not constant)
// scale. A scale before a broadcast (expand) still moves.
// CHECK-LABEL: func.func @kept
func.func @kept(%a: tensor<4x8xf32>, %b: tensor<8x3xf32>, %t: tensor<4x8xf32>, %r: tensor<8xf32>) -> (tensor<4x3xf32>, tensor<4x8xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  %c = sem.constant {value = 2.0} : f64
  // CHECK: %[[M:.*]] = sem.mul %arg0, %{{.*}} : tensor<4x8xf32>
  // CHECK-NEXT: %[[P:.*]] = sem.mm %[[M]], %arg1
  %0 = sem.mul %a, %c : tensor<4x8xf32>
  %1 = sem.mm %0, %b : tensor<4x3xf32>
  // CHECK: %[[T:.*]] = sem.mul %arg0, %arg2
  // CHECK-NEXT: sem.mm %[[T]], %arg1
  %2 = sem.mul %a, %t : tensor<4x8xf32>
  %3 = sem.mm %2, %b : tensor<4x3xf32>
  // CHECK: %[[E:.*]] = sem.expand %arg3
  // CHECK-NEXT: %[[P2:.*]] = sem.mm %[[E]], %arg1
  // CHECK-NEXT: %[[C2:.*]] = sem.constant {value = 2.0} : f64
  // CHECK-NEXT: sem.mul %[[P2]], %[[C2]] : tensor<4x3xf32>
  %4 = sem.mul %r, %c : tensor<8xf32>
  %5 = sem.expand %4 {size = [4, 8]} : tensor<4x8xf32>
  %6 = sem.mm %5, %b : tensor<4x3xf32>
  return %1, %0, %3, %6 : tensor<4x3xf32>, tensor<4x8xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}
