// The sem phase on a plan with exec ops: kernels are ordinary functions, so
// their sem ops are canonicalized and their result types refined; the exec
// ops keep verifying against the refined kernels (a less precise launch
// result is compatible), and are never merged.
// The launches pass an activation and a weight, of different types, which the
// IRDL spec cannot express (see exec/roundtrip.mlir).
// MLIR-REJECTS: heterogeneous variadic operands of exec.launch (IRDL unifies variadic constraint variables)
// RUN: genie-opt %s --compile-to=sem | FileCheck %s
// RUN: genie-opt %s --compile-to=sem | genie-opt --verify-each --compile-to=sem | FileCheck %s

exec.device {sym_name = "client", kind = "client"}
exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<768x768xf32>, device = @gpu0, init = dense_resource<w> : tensor<768x768xf32>}

// CHECK-LABEL: func.func @kernel(%arg0: tensor<s0x768xf32>, %arg1: tensor<768x768xf32>) -> tensor<s0x768xf32> {
// CHECK-NEXT:    %0 = sem.mm %arg0, %arg1 : tensor<s0x768xf32>
// CHECK-NEXT:    %1 = sem.gelu %0 : tensor<s0x768xf32>
// CHECK-NEXT:    return %1 : tensor<s0x768xf32>
func.func @kernel(%x: tensor<s0x768xf32>, %w: tensor<768x768xf32>) -> tensor<?x768xf32> {
  %0 = sem.clone %x : tensor<s0x768xf32>
  %1 = sem.mm %0, %w : tensor<?x768xf32>
  %2 = sem.gelu %1 : tensor<?x768xf32>
  return %2 : tensor<?x768xf32>
}

// CHECK-LABEL: func.func @main(%arg0: tensor<s0x768xf32>) -> (tensor<?x768xf32>, tensor<?x768xf32>) {
// CHECK-NEXT:    %0 = exec.transfer %arg0 {from = @client, to = @gpu0} : tensor<s0x768xf32>
// CHECK-NEXT:    %1 = exec.resident_load {resident = @w} : tensor<768x768xf32>
// CHECK-NEXT:    %2 = exec.launch %0, %1 {device = @gpu0, kernel = @kernel} : tensor<?x768xf32>
// CHECK-NEXT:    %3 = exec.launch %0, %1 {device = @gpu0, kernel = @kernel} : tensor<?x768xf32>
// CHECK-NEXT:    return %2, %3 : tensor<?x768xf32>, tensor<?x768xf32>
func.func @main(%x: tensor<s0x768xf32>) -> (tensor<?x768xf32>, tensor<?x768xf32>) {
  %0 = exec.transfer %x {from = @client, to = @gpu0} : tensor<s0x768xf32>
  %w = exec.resident_load {resident = @w} : tensor<768x768xf32>
  %1 = exec.launch %0, %w {kernel = @kernel, device = @gpu0} : tensor<?x768xf32>
  %2 = exec.launch %0, %w {kernel = @kernel, device = @gpu0} : tensor<?x768xf32>
  // Unused: removed.
  %3 = exec.transfer %x {from = @client, to = @gpu0} : tensor<s0x768xf32>
  return %1, %2 : tensor<?x768xf32>, tensor<?x768xf32>
}
