// Ops with variadic operands or results round trip in both forms. The IRDL
// spec accepts a variadic list only when all its values have one type (IRDL
// binds a single constraint variable for the whole list), so heterogeneous
// lists, normal in real graphs, are marked MLIR-REJECTS for the conformance
// check.
// RUN: genie-opt %s --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --mlir-print-op-generic | genie-opt --split-input-file | FileCheck %s

// Same-typed lists verify under the spec.
// CHECK-LABEL: func.func @cat_same(%arg0: tensor<2x8xf32>, %arg1: tensor<2x8xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:    %0 = sem.cat %arg0, %arg1, %arg0, %arg1 {dim = 1} : tensor<2x32xf32>
// CHECK-NEXT:    %1:2 = sem.split %0 {dim = 1, split_size = 16} : tensor<2x16xf32>, tensor<2x16xf32>
func.func @cat_same(%a: tensor<2x8xf32>, %b: tensor<2x8xf32>) -> tensor<2x16xf32> {
  %0 = sem.cat %a, %b, %a, %b {dim = 1} : tensor<2x32xf32>
  %1:2 = sem.split %0 {dim = 1, split_size = 16} : tensor<2x16xf32>, tensor<2x16xf32>
  return %1#1 : tensor<2x16xf32>
}

// -----

// MLIR-REJECTS: heterogeneous variadic operands of sem.cat (IRDL unifies variadic constraint variables)
// CHECK-LABEL: func.func @kv_cache_append(%arg0: tensor<1x12xs0x64xf32>, %arg1: tensor<1x12x1x64xf32>) -> tensor<1x12x?x64xf32>
// CHECK-NEXT:    %0 = sem.cat %arg0, %arg1 {dim = 2} : tensor<1x12x?x64xf32>
func.func @kv_cache_append(%past: tensor<1x12xs0x64xf32>, %new: tensor<1x12x1x64xf32>) -> tensor<1x12x?x64xf32> {
  %0 = sem.cat %past, %new {dim = 2} : tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

// MLIR-REJECTS: heterogeneous variadic results of sem.split_with_sizes
// CHECK-LABEL: func.func @uneven_split(%arg0: tensor<5x8xf32>) -> tensor<3x8xf32>
// CHECK-NEXT:    %0:2 = sem.split_with_sizes %arg0 {split_sizes = [2, 3]} : tensor<2x8xf32>, tensor<3x8xf32>
// CHECK-NEXT:    return %0#1
func.func @uneven_split(%x: tensor<5x8xf32>) -> tensor<3x8xf32> {
  %0:2 = sem.split_with_sizes %x {split_sizes = [2, 3]} : tensor<2x8xf32>, tensor<3x8xf32>
  return %0#1 : tensor<3x8xf32>
}

// -----

// `none` skips a dim in advanced indexing: a tensor and a none in one list.
// MLIR-REJECTS: variadic operands of sem.index mixing a tensor and none
// CHECK-LABEL: func.func @index(%arg0: tensor<5x8xf32>, %arg1: tensor<3xi64>) -> tensor<5x3xf32>
// CHECK-NEXT:    %0 = sem.none : none
// CHECK-NEXT:    %1 = sem.index %arg0, %0, %arg1 : tensor<5x3xf32>
func.func @index(%x: tensor<5x8xf32>, %i: tensor<3xi64>) -> tensor<5x3xf32> {
  %none = sem.none : none
  %0 = sem.index %x, %none, %i : tensor<5x3xf32>
  return %0 : tensor<5x3xf32>
}
