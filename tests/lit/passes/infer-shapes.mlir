// genie-sem-infer-shapes refines declared result types from the shape rules,
// in program order, so refinements flow forward: `?` dims become static or
// symbolic where the rules can tell, and function result types follow what
// the body returns. Declared information is never lost.
// RUN: genie-opt %s --genie-sem-infer-shapes | FileCheck %s
// RUN: genie-opt %s --genie-sem-infer-shapes | genie-opt --genie-sem-infer-shapes | FileCheck %s

// CHECK-LABEL: func.func @symbolic(%arg0: tensor<s0x768xf32>, %arg1: tensor<768x64xf32>) -> tensor<s0x8xf32> {
func.func @symbolic(%x: tensor<s0x768xf32>, %w: tensor<768x64xf32>) -> tensor<?x?xf32> {
  // CHECK-NEXT: %0 = sem.mm %arg0, %arg1 : tensor<s0x64xf32>
  %0 = sem.mm %x, %w : tensor<?x?xf32>
  // CHECK-NEXT: %1 = sem.relu %0 : tensor<s0x64xf32>
  %1 = sem.relu %0 : tensor<?x64xf32>
  // A -1 in a view is solved symbolically: s0 * 64 / 64 = s0.
  // CHECK-NEXT: %2 = sem.view %1 {size = [-1, 8, 8]} : tensor<s0x8x8xf32>
  %2 = sem.view %1 {size = [-1, 8, 8]} : tensor<?x?x?xf32>
  // CHECK-NEXT: %3 = sem.sum %2 {dim = [1]} : tensor<s0x8xf32>
  %3 = sem.sum %2 {dim = [1]} : tensor<?x?xf32>
  // CHECK-NEXT: return %3 : tensor<s0x8xf32>
  return %3 : tensor<?x?xf32>
}

// Broadcasting against a static size refines an unknown one.
// CHECK-LABEL: func.func @broadcast(%arg0: tensor<?x4xf32>, %arg1: tensor<4x4xf32>) -> tensor<4x4xf32> {
func.func @broadcast(%a: tensor<?x4xf32>, %b: tensor<4x4xf32>) -> tensor<?x4xf32> {
  // CHECK-NEXT: %0 = sem.mm %arg0, %arg1 : tensor<?x4xf32>
  %0 = sem.mm %a, %b : tensor<?x4xf32>
  // CHECK-NEXT: %1 = sem.add %0, %arg1 : tensor<4x4xf32>
  %1 = sem.add %0, %b : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// Declared information the rules cannot compute is kept.
// CHECK-LABEL: func.func @keep_declared(%arg0: tensor<?x8xf32>) -> tensor<s3x8xf32> {
func.func @keep_declared(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK-NEXT: %0 = sem.relu %arg0 : tensor<s3x8xf32>
  %0 = sem.relu %x : tensor<s3x8xf32>
  // CHECK-NEXT: %1 = sem.neg %0 : tensor<s3x8xf32>
  %1 = sem.neg %0 : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// Dtypes follow the rules too (promotion, comparisons, indices).
// CHECK-LABEL: func.func @dtypes(%arg0: tensor<4xi64>, %arg1: tensor<4xf16>)
func.func @dtypes(%i: tensor<4xi64>, %h: tensor<4xf16>) -> (tensor<?xf16>, tensor<?xi1>, tensor<?xi64>) {
  // CHECK-NEXT: %0 = sem.add %arg0, %arg1 : tensor<4xf16>
  %0 = sem.add %i, %h : tensor<?xf16>
  // CHECK-NEXT: %1 = sem.lt %0, %arg1 : tensor<4xi1>
  %1 = sem.lt %0, %h : tensor<?xi1>
  // CHECK-NEXT: %2 = sem.argmax %arg1 {dim = 0, keepdim = true} : tensor<1xi64>
  %2 = sem.argmax %h {dim = 0, keepdim = true} : tensor<?xi64>
  // CHECK-NEXT: return %0, %1, %2 : tensor<4xf16>, tensor<4xi1>, tensor<1xi64>
  return %0, %1, %2 : tensor<?xf16>, tensor<?xi1>, tensor<?xi64>
}

// Through several results and views of the GPT-2 attention block.
// CHECK-LABEL: func.func @attention(%arg0: tensor<1xs0x2304xf32>) -> tensor<1x12xs0x64xf32> {
func.func @attention(%qkv: tensor<1xs0x2304xf32>) -> tensor<1x12x?x64xf32> {
  // CHECK-NEXT: %0:3 = sem.split %arg0 {dim = 2, split_size = 768} : tensor<1xs0x768xf32>, tensor<1xs0x768xf32>, tensor<1xs0x768xf32>
  %0:3 = sem.split %qkv {dim = 2, split_size = 768} : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
  // CHECK-NEXT: %1 = sem.view %0#0 {size = [1, s0, 12, 64]} : tensor<1xs0x12x64xf32>
  %1 = sem.view %0#0 {size = [1, s0, 12, 64]} : tensor<1x?x12x64xf32>
  // CHECK-NEXT: %2 = sem.permute %1 {dims = [0, 2, 1, 3]} : tensor<1x12xs0x64xf32>
  %2 = sem.permute %1 {dims = [0, 2, 1, 3]} : tensor<1x12x?x64xf32>
  return %2 : tensor<1x12x?x64xf32>
}

// Functions without sem ops and exec ops are left alone.
// CHECK-LABEL: func.func @passthrough(%arg0: tensor<?xf32>) -> tensor<?xf32> {
// CHECK-NEXT:    return %arg0 : tensor<?xf32>
func.func @passthrough(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
