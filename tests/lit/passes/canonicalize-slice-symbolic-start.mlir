// A sem.slice with a symbolic `start` is not an identity (x[s1:] is not x);
// it is one only when start folds to 0.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s
// RUN: genie-opt %s --compile-to=sem | FileCheck %s

// CHECK-LABEL: func.func @tail(%arg0: tensor<s0x4xf32>) -> tensor<?x4xf32> {
// CHECK-NEXT:    %0 = sem.slice %arg0 {dim = 0, start = s1} : tensor<?x4xf32>
// CHECK-NEXT:    return %0 : tensor<?x4xf32>
func.func @tail(%x: tensor<s0x4xf32>) -> tensor<?x4xf32> {
  %0 = sem.slice %x {dim = 0, start = s1} : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @window(%arg0: tensor<s0x4xf32>) -> tensor<?x4xf32> {
// CHECK-NEXT:    %0 = sem.slice %arg0 {dim = 0, end = s0, start = s0 - 8} : tensor<?x4xf32>
func.func @window(%x: tensor<s0x4xf32>) -> tensor<?x4xf32> {
  %0 = sem.slice %x {dim = 0, start = s0 - 8, end = s0} : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// A start that simplifies to 0 is still an identity.
// CHECK-LABEL: func.func @zero(%arg0: tensor<s0x4xf32>) -> tensor<s0x4xf32> {
// CHECK-NEXT:    return %arg0 : tensor<s0x4xf32>
func.func @zero(%x: tensor<s0x4xf32>) -> tensor<s0x4xf32> {
  %0 = sem.slice %x {dim = 0, start = s1 * 0} : tensor<s0x4xf32>
  return %0 : tensor<s0x4xf32>
}
