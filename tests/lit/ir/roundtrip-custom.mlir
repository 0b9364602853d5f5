// Custom-form round trip: printing is a fixpoint (print ∘ parse ∘ print ==
// print), SSA names are renumbered, multi-result ops print as `%N:k` with
// `%N#i` uses, and an implicit module (bare ops) is wrapped in `module {}`.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s > %t.1.mlir
// RUN: genie-opt %t.1.mlir > %t.2.mlir
// RUN: diff %t.1.mlir %t.2.mlir

// CHECK-LABEL: module {
// CHECK-NEXT:  func.func @layer_norm_then_linear(%arg0: tensor<2x16x768xf32>, %arg1: tensor<768xf32>, %arg2: tensor<768xf32>, %arg3: tensor<768x3072xf32>) -> (tensor<32x3072xf32>, tensor<2x16x1xf32>) {
func.func @layer_norm_then_linear(%x: tensor<2x16x768xf32>, %gamma: tensor<768xf32>, %beta: tensor<768xf32>, %w: tensor<768x3072xf32>) -> (tensor<32x3072xf32>, tensor<2x16x1xf32>) {
  // CHECK-NEXT: %0:3 = sem.native_layer_norm %arg0, %arg1, %arg2 {eps = 1.0e-5, normalized_shape = [768]} : tensor<2x16x768xf32>, tensor<2x16x1xf32>, tensor<2x16x1xf32>
  %ln:3 = sem.native_layer_norm %x, %gamma, %beta {normalized_shape = [768], eps = 1.0e-05} : tensor<2x16x768xf32>, tensor<2x16x1xf32>, tensor<2x16x1xf32>
  // CHECK-NEXT: %1 = sem.view %0#0 {size = [-1, 768]} : tensor<32x768xf32>
  %flat = sem.view %ln#0 {size = [-1, 768]} : tensor<32x768xf32>
  // CHECK-NEXT: %2 = sem.mm %1, %arg3 : tensor<32x3072xf32>
  %y = sem.mm %flat, %w : tensor<32x3072xf32>
  // CHECK-NEXT: return %2, %0#2 : tensor<32x3072xf32>, tensor<2x16x1xf32>
  return %y, %ln#2 : tensor<32x3072xf32>, tensor<2x16x1xf32>
// CHECK-NEXT: }
}

// Several result groups on one op (`%a, %b = …`) print as one `%N:2` group.
// CHECK-LABEL: func.func @result_groups(%arg0: tensor<4x8xf32>) -> tensor<4x1xi64>
func.func @result_groups(%t: tensor<4x8xf32>) -> tensor<4x1xi64> {
  // CHECK-NEXT: %0:2 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
  %values, %indices = sem.max_dim %t {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
  // CHECK-NEXT: %1:2 = sem.topk %arg0 {k = 2} : tensor<4x2xf32>, tensor<4x2xi64>
  %top:2 = sem.topk %t {k = 2} : tensor<4x2xf32>, tensor<4x2xi64>
  // CHECK-NEXT: return %0#1 : tensor<4x1xi64>
  return %indices : tensor<4x1xi64>
}

// A three-way split uses `%N#2`; names restart in every function.
// CHECK-LABEL: func.func @split3(%arg0: tensor<1x4x2304xf32>) -> tensor<1x4x768xf32>
func.func @split3(%qkv: tensor<1x4x2304xf32>) -> tensor<1x4x768xf32> {
  // CHECK-NEXT: %0:3 = sem.split %arg0 {dim = 2, split_size = 768} : tensor<1x4x768xf32>, tensor<1x4x768xf32>, tensor<1x4x768xf32>
  %0:3 = sem.split %qkv {dim = 2, split_size = 768} : tensor<1x4x768xf32>, tensor<1x4x768xf32>, tensor<1x4x768xf32>
  // CHECK-NEXT: %1 = sem.add %0#0, %0#2 : tensor<1x4x768xf32>
  %1 = sem.add %0#0, %0#2 : tensor<1x4x768xf32>
  return %1 : tensor<1x4x768xf32>
}

// `func.return` may be spelled out; functions without results and arguments.
// CHECK-LABEL: func.func @nothing() {
// CHECK-NEXT:    return
// CHECK-NEXT:  }
func.func @nothing() -> () {
  func.return
}

// Function attributes other than sym_name/function_type print after
// `attributes`, sorted.
// CHECK-LABEL: func.func @with_attrs(%arg0: i64) -> i64 attributes {genie.note = "kept", llvm.emit_c_interface} {
func.func @with_attrs(%n: i64) -> i64 attributes {llvm.emit_c_interface, genie.note = "kept"} {
  return %n : i64
}

// Quoted symbol names stay quoted.
// CHECK-LABEL: func.func @"needs quotes.0-1"() {
// CHECK-NEXT:    return
// CHECK-NEXT:  }
// CHECK-NEXT: }
// CHECK-NOT: {{.}}
func.func @"needs quotes.0-1"() {
  return
}
