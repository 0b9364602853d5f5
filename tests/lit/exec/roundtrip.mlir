// exec dialect round trip: devices and resident state at module level, and
// launch / launch_async / await / transfer / transfer_async / recompute /
// resident_load / resident_store referencing an outlined kernel function.
// RUN: genie-opt %s --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file | genie-opt --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --mlir-print-op-generic | genie-opt --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: module @plan {
// CHECK-NEXT:    exec.device {kind = "client", sym_name = "client"}
// CHECK-NEXT:    exec.device {address = "10.0.0.2:5555", index = 0, kind = "cuda", sym_name = "gpu0"}
// CHECK-NEXT:    exec.resident {device = @gpu0, init = dense_resource<h0_mlp_w> : tensor<768x768xf32>, kind = "weight", sym_name = "w", type = tensor<768x768xf32>}
// CHECK-NEXT:    exec.resident {device = @gpu0, kind = "kv_cache", sym_name = "kv", type = tensor<1x12xs0x64xf32>}
// GENERIC:       "exec.resident"() {device = @gpu0, kind = "kv_cache", sym_name = "kv", type = tensor<1x12x?x64xf32, "s0">} : () -> ()
module @plan {
  exec.device {sym_name = "client", kind = "client"}
  exec.device {sym_name = "gpu0", kind = "cuda", index = 0, address = "10.0.0.2:5555"}
  exec.resident {sym_name = "w", kind = "weight", type = tensor<768x768xf32>, device = @gpu0, init = dense_resource<h0_mlp_w> : tensor<768x768xf32>}
  exec.resident {sym_name = "kv", kind = "kv_cache", type = tensor<1x12xs0x64xf32>, device = @gpu0}

  // CHECK-LABEL: func.func @residual(%arg0: tensor<4x768xf32>, %arg1: tensor<4x768xf32>) -> tensor<4x768xf32> {
  // CHECK-NEXT:    %0 = sem.add %arg0, %arg1 : tensor<4x768xf32>
  // CHECK-NEXT:    return %0 : tensor<4x768xf32>
  func.func @residual(%x: tensor<4x768xf32>, %y: tensor<4x768xf32>) -> tensor<4x768xf32> {
    %0 = sem.add %x, %y : tensor<4x768xf32>
    return %0 : tensor<4x768xf32>
  }

  // CHECK-LABEL: func.func @main(%arg0: tensor<4x768xf32>) -> (tensor<4x768xf32>, tensor<1x12xs0x64xf32>) {
  func.func @main(%x: tensor<4x768xf32>) -> (tensor<4x768xf32>, tensor<1x12xs0x64xf32>) {
    // CHECK-NEXT: %0 = exec.transfer %arg0 {from = @client, to = @gpu0} : tensor<4x768xf32>
    // GENERIC:    %0 = "exec.transfer"(%arg0) {from = @client, to = @gpu0} : (tensor<4x768xf32>) -> tensor<4x768xf32>
    %0 = exec.transfer %x {from = @client, to = @gpu0} : tensor<4x768xf32>
    // CHECK-NEXT: %1 = exec.launch %0, %0 {device = @gpu0, kernel = @residual} : tensor<4x768xf32>
    // GENERIC:    %1 = "exec.launch"(%0, %0) {device = @gpu0, kernel = @residual} : (tensor<4x768xf32>, tensor<4x768xf32>) -> tensor<4x768xf32>
    %1 = exec.launch %0, %0 {kernel = @residual, device = @gpu0} : tensor<4x768xf32>
    // CHECK-NEXT: %2 = exec.launch_async %1, %0 {device = @gpu0, kernel = @residual} : !exec.future<tensor<4x768xf32>>
    // GENERIC:    %2 = "exec.launch_async"(%1, %0) {device = @gpu0, kernel = @residual} : (tensor<4x768xf32>, tensor<4x768xf32>) -> !exec.future<tensor<4x768xf32>>
    %2 = exec.launch_async %1, %0 {kernel = @residual, device = @gpu0} : !exec.future<tensor<4x768xf32>>
    // CHECK-NEXT: %3 = exec.await %2 : tensor<4x768xf32>
    // GENERIC:    %3 = "exec.await"(%2) : (!exec.future<tensor<4x768xf32>>) -> tensor<4x768xf32>
    %3 = exec.await %2 : tensor<4x768xf32>
    // CHECK-NEXT: %4 = exec.transfer_async %3 {from = @gpu0, to = @client} : !exec.future<tensor<4x768xf32>>
    %4 = exec.transfer_async %3 {from = @gpu0, to = @client} : !exec.future<tensor<4x768xf32>>
    // CHECK-NEXT: %5 = exec.await %4 : tensor<4x768xf32>
    %5 = exec.await %4 : tensor<4x768xf32>
    // CHECK-NEXT: %6 = exec.recompute %arg0, %arg0 {device = @client, kernel = @residual, reason = "cheaper than a 12 KiB transfer"} : tensor<4x768xf32>
    %6 = exec.recompute %x, %x {kernel = @residual, device = @client, reason = "cheaper than a 12 KiB transfer"} : tensor<4x768xf32>
    // CHECK-NEXT: %7 = exec.resident_load {resident = @kv} : tensor<1x12xs0x64xf32>
    // GENERIC:    %7 = "exec.resident_load"() {resident = @kv} : () -> tensor<1x12x?x64xf32, "s0">
    %7 = exec.resident_load {resident = @kv} : tensor<1x12xs0x64xf32>
    // CHECK-NEXT: %8 = sem.neg %7 : tensor<1x12xs0x64xf32>
    %8 = sem.neg %7 : tensor<1x12xs0x64xf32>
    // CHECK-NEXT: exec.resident_store %8 {resident = @kv}
    // GENERIC:    "exec.resident_store"(%8) {resident = @kv} : (tensor<1x12x?x64xf32, "s0">) -> ()
    exec.resident_store %8 {resident = @kv}
    // CHECK-NEXT: %9 = sem.add %5, %6 : tensor<4x768xf32>
    %9 = sem.add %5, %6 : tensor<4x768xf32>
    // CHECK-NEXT: return %9, %8 : tensor<4x768xf32>, tensor<1x12xs0x64xf32>
    return %9, %8 : tensor<4x768xf32>, tensor<1x12xs0x64xf32>
  }
}

// -----

// Kernels with several results and no arguments; symbolic shapes in kernel
// signatures.
// CHECK-LABEL: // -----
// CHECK:       func.func @main() -> (tensor<s0x4xf32>, tensor<s0x4xf32>) {
// CHECK-NEXT:    %0:2 = exec.launch {device = @cpu, kernel = @init} : tensor<s0x4xf32>, tensor<s0x4xf32>
// CHECK-NEXT:    %1:2 = exec.launch_async {device = @cpu, kernel = @init} : !exec.future<tensor<s0x4xf32>>, !exec.future<tensor<s0x4xf32>>
// CHECK-NEXT:    %2 = exec.await %1#1 : tensor<s0x4xf32>
// CHECK-NEXT:    return %0#0, %2 : tensor<s0x4xf32>, tensor<s0x4xf32>
exec.device {sym_name = "cpu", kind = "cpu"}
func.func @init() -> (tensor<s0x4xf32>, tensor<s0x4xf32>) {
  %0 = sem.full {size = [s0, 4], fill_value = 0.0, dtype = f32} : tensor<s0x4xf32>
  return %0, %0 : tensor<s0x4xf32>, tensor<s0x4xf32>
}
func.func @main() -> (tensor<s0x4xf32>, tensor<s0x4xf32>) {
  %0:2 = exec.launch {kernel = @init, device = @cpu} : tensor<s0x4xf32>, tensor<s0x4xf32>
  %1:2 = exec.launch_async {kernel = @init, device = @cpu} : !exec.future<tensor<s0x4xf32>>, !exec.future<tensor<s0x4xf32>>
  %2 = exec.await %1#1 : tensor<s0x4xf32>
  return %0#0, %2 : tensor<s0x4xf32>, tensor<s0x4xf32>
}

// -----

// A kernel taking an activation and a weight (operands of different types).
// Genie accepts it; the IRDL spec cannot: IRDL binds one constraint variable
// per variadic operand list, so mlir-opt demands all `args` share one type.
// MLIR-REJECTS: heterogeneous variadic operands of exec.launch (IRDL unifies variadic constraint variables)
// CHECK-LABEL: // -----
// CHECK:       %1 = exec.launch %arg0, %0 {device = @gpu0, kernel = @linear} : tensor<4x64xf32>
exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<768x64xf32>, device = @gpu0}
func.func @linear(%x: tensor<4x768xf32>, %w: tensor<768x64xf32>) -> tensor<4x64xf32> {
  %0 = sem.mm %x, %w : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}
func.func @main(%x: tensor<4x768xf32>) -> tensor<4x64xf32> {
  %w = exec.resident_load {resident = @w} : tensor<768x64xf32>
  %y = exec.launch %x, %w {kernel = @linear, device = @gpu0} : tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
