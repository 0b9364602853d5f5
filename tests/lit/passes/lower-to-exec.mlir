// genie-lower-to-exec: each sem function placed on one device. Weights
// (genie.weight_args) become resident state without init, loaded on the
// host and passed to the kernel; dense_resource constants become resident
// state with init, read inside the kernel where the graph read them; inputs
// and outputs cross between the client and the device through explicit
// transfers; the sem body, renamed, is the launched kernel.
// The output prints, reads back (both forms) and is a fixpoint of the pass.
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec | FileCheck %s
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec | genie-opt --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec --mlir-print-op-generic | genie-opt --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec > %t.exec.mlir
// RUN: genie-opt %t.exec.mlir --split-input-file --genie-lower-to-exec > %t.again.mlir
// RUN: diff %t.exec.mlir %t.again.mlir

// Weights, a constant, one input, one output. The constant keeps its
// semantic attributes and location on the load.
// CHECK-LABEL: module {
// CHECK-NEXT:    exec.device {kind = "client", sym_name = "client"}
// CHECK-NEXT:    exec.device {kind = "cpu", sym_name = "dev0"}
// CHECK-NEXT:    exec.resident {argument = 1, device = @dev0, kind = "weight", sym_name = "mlp_arg1", type = tensor<32x16xf32>}
// CHECK-NEXT:    exec.resident {argument = 2, device = @dev0, kind = "weight", sym_name = "mlp_arg2", type = tensor<16xf32>}
// CHECK-NEXT:    exec.resident {device = @dev0, init = dense_resource<mlp.scale> : tensor<16xf32>, kind = "weight", sym_name = "mlp.scale", type = tensor<16xf32>}
// CHECK-NEXT:    func.func private @mlp_kernel(%arg0: tensor<2x32xf32>, %arg1: tensor<32x16xf32>, %arg2: tensor<16xf32>) -> tensor<2x16xf32> {
// CHECK-NEXT:      %0 = exec.resident_load {resident = @mlp.scale, sem.module_path = "mlp"} : tensor<16xf32> loc("mlp"("model.py":3:0))
// CHECK-NEXT:      %1 = sem.addmm %arg2, %arg0, %arg1 : tensor<2x16xf32>
// CHECK-NEXT:      %2 = sem.mul %1, %0 : tensor<2x16xf32>
// CHECK-NEXT:      return %2 : tensor<2x16xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.func @mlp(%arg0: tensor<2x32xf32>) -> tensor<2x16xf32> {
// CHECK-NEXT:      %0 = exec.transfer %arg0 {from = @client, to = @dev0} : tensor<2x32xf32>
// CHECK-NEXT:      %1 = exec.resident_load {resident = @mlp_arg1} : tensor<32x16xf32>
// CHECK-NEXT:      %2 = exec.resident_load {resident = @mlp_arg2} : tensor<16xf32>
// CHECK-NEXT:      %3 = exec.launch %0, %1, %2 {device = @dev0, kernel = @mlp_kernel} : tensor<2x16xf32>
// CHECK-NEXT:      %4 = exec.transfer %3 {from = @dev0, to = @client} : tensor<2x16xf32>
// CHECK-NEXT:      return %4 : tensor<2x16xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }
func.func @mlp(%x: tensor<2x32xf32>, %w: tensor<32x16xf32>, %b: tensor<16xf32>) -> tensor<2x16xf32> attributes {genie.weight_args = [1, 2]} {
  %s = sem.constant {value = dense_resource<mlp.scale> : tensor<16xf32>, sem.module_path = "mlp"} : tensor<16xf32> loc("mlp"("model.py":3:0))
  %0 = sem.addmm %b, %x, %w : tensor<2x16xf32>
  %1 = sem.mul %0, %s : tensor<2x16xf32>
  return %1 : tensor<2x16xf32>
}

// -----

// Symbolic shapes pass through unchanged: kernel signature, transfers,
// launch; the module keeps its symbol ranges. Weights may sit anywhere
// among the arguments: the host takes the others, in order.
// CHECK-LABEL: // -----
// CHECK:       module @dyn attributes {genie.symbols = {s0 = [1, 1024], s1 = [1, 64]}} {
// CHECK:         exec.resident {argument = 0, device = @dev0, kind = "weight", sym_name = "attend_arg0", type = tensor<64x64xf32>}
// CHECK:         func.func private @attend_kernel(%arg0: tensor<64x64xf32>, %arg1: tensor<s1xs0x64xf32>) -> tensor<s1xs0x64xf32> {
// CHECK:         func.func @attend(%arg0: tensor<s1xs0x64xf32>) -> tensor<s1xs0x64xf32> {
// CHECK-NEXT:      %0 = exec.resident_load {resident = @attend_arg0} : tensor<64x64xf32>
// CHECK-NEXT:      %1 = exec.transfer %arg0 {from = @client, to = @dev0} : tensor<s1xs0x64xf32>
// CHECK-NEXT:      %2 = exec.launch %0, %1 {device = @dev0, kernel = @attend_kernel} : tensor<s1xs0x64xf32>
// CHECK-NEXT:      %3 = exec.transfer %2 {from = @dev0, to = @client} : tensor<s1xs0x64xf32>
// CHECK-NEXT:      return %3 : tensor<s1xs0x64xf32>
module @dyn attributes {genie.symbols = {s0 = [1, 1024], s1 = [1, 64]}} {
  func.func @attend(%w: tensor<64x64xf32>, %x: tensor<s1xs0x64xf32>) -> tensor<s1xs0x64xf32> attributes {genie.weight_args = [0]} {
    %0 = sem.matmul %x, %w : tensor<s1xs0x64xf32>
    %1 = sem._softmax %0 {dim = -1, half_to_float = false} : tensor<s1xs0x64xf32>
    return %1 : tensor<s1xs0x64xf32>
  }
}

// -----

// Several results: one launch with every kernel result, one transfer back
// per result (a value returned twice crosses twice), a scalar among them.
// CHECK-LABEL: // -----
// CHECK:       func.func private @stats_kernel(%arg0: tensor<8x4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64) {
// CHECK:       func.func @stats(%arg0: tensor<8x4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64) {
// CHECK-NEXT:    %0 = exec.transfer %arg0 {from = @client, to = @dev0} : tensor<8x4xf32>
// CHECK-NEXT:    %1:4 = exec.launch %0 {device = @dev0, kernel = @stats_kernel} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64
// CHECK-NEXT:    %2 = exec.transfer %1#0 {from = @dev0, to = @client} : tensor<4xf32>
// CHECK-NEXT:    %3 = exec.transfer %1#1 {from = @dev0, to = @client} : tensor<4xf32>
// CHECK-NEXT:    %4 = exec.transfer %1#2 {from = @dev0, to = @client} : tensor<4xf32>
// CHECK-NEXT:    %5 = exec.transfer %1#3 {from = @dev0, to = @client} : i64
// CHECK-NEXT:    return %2, %3, %4, %5 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64
func.func @stats(%x: tensor<8x4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64) {
  %0 = sem.sum %x {dim = [0]} : tensor<4xf32>
  %1 = sem.amax %x {dim = [0]} : tensor<4xf32>
  %2 = sem.sym_size %x {dim = 0} : i64
  return %0, %1, %0, %2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64
}

// -----

// Several functions: devices are declared once, a constant two functions
// read is one resident, and new symbols never clash with existing ones
// (a function already named dev0, another named f_kernel).
// CHECK-LABEL: // -----
// CHECK:       exec.device {kind = "client", sym_name = "client"}
// CHECK-NEXT:  exec.device {kind = "cpu", sym_name = "dev0_1"}
// CHECK-NEXT:  exec.resident {device = @dev0_1, init = dense_resource<table> : tensor<4xf32>, kind = "weight", sym_name = "table", type = tensor<4xf32>}
// CHECK-NOT:   exec.resident
// CHECK:       func.func private @f_kernel_1(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %0 = exec.resident_load {resident = @table} : tensor<4xf32>
// CHECK:       func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK:         exec.launch %0 {device = @dev0_1, kernel = @f_kernel_1} : tensor<4xf32>
// CHECK:       func.func private @dev0_kernel(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %0 = exec.resident_load {resident = @table} : tensor<4xf32>
// CHECK:       func.func @dev0(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK:         exec.launch %0 {device = @dev0_1, kernel = @dev0_kernel} : tensor<4xf32>
// CHECK:       func.func private @f_kernel_kernel(
// CHECK:       func.func @f_kernel(
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %t = sem.constant {value = dense_resource<table> : tensor<4xf32>} : tensor<4xf32>
  %0 = sem.add %x, %t : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @dev0(%x: tensor<4xf32>) -> tensor<4xf32> {
  %t = sem.constant {value = dense_resource<table> : tensor<4xf32>} : tensor<4xf32>
  %0 = sem.mul %x, %t : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @f_kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Devices the module already declares are reused; a function that already
// holds exec ops and the kernel it launches are left alone; a function with
// neither arguments nor results still gets its launch.
// CHECK-LABEL: // -----
// CHECK:       exec.device {kind = "client", sym_name = "host"}
// CHECK-NEXT:  exec.device {index = 0, kind = "cpu", sym_name = "cpu0"}
// CHECK-NEXT:  func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %0 = sem.neg %arg0 : tensor<4xf32>
// CHECK:       func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %0 = exec.launch %arg0 {device = @cpu0, kernel = @k} : tensor<4xf32>
// CHECK-NEXT:    return %0 : tensor<4xf32>
// CHECK:       func.func private @nothing_kernel() {
// CHECK-NEXT:    return
// CHECK:       func.func @nothing() {
// CHECK-NEXT:    exec.launch {device = @cpu0, kernel = @nothing_kernel}
// CHECK-NEXT:    return
exec.device {sym_name = "host", kind = "client"}
exec.device {sym_name = "cpu0", kind = "cpu", index = 0}
func.func @k(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.neg %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.launch %x {kernel = @k, device = @cpu0} : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @nothing() {
  return
}
