// The lowered form is real MLIR: upstream mlir-opt-19 verifies it against
// the checked-in IRDL specs (devices, residents with and without init,
// resident loads inside a kernel and on the host, transfers both ways, a
// launch with several results, a private kernel function).
// IRDL binds one type per variadic operand list (see the known limits in the
// README), so these kernels take and return values of a single type; a
// launch mixing an activation and a weight of other shapes is rejected by
// mlir-opt though Genie's verifier accepts it.
// RUN: cat %irdl_dir/sem.irdl.mlir %irdl_dir/exec.irdl.mlir > %t.irdl.mlir
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec --mlir-print-op-generic > %t.generic.mlir
// RUN: mlir-opt %t.generic.mlir --split-input-file --irdl-file=%t.irdl.mlir -o /dev/null
// RUN: FileCheck %s < %t.generic.mlir

// CHECK:      "exec.device"() {kind = "client", sym_name = "client"} : () -> ()
// CHECK:      "exec.resident"() {argument = 1, device = @dev0, kind = "weight", sym_name = "square_arg1", type = tensor<8x8xf32>} : () -> ()
// CHECK:      "exec.resident"() {device = @dev0, init = dense_resource<eye> : tensor<8x8xf32>, kind = "weight", sym_name = "eye", type = tensor<8x8xf32>} : () -> ()
// CHECK:      "exec.resident_load"() {resident = @eye} : () -> tensor<8x8xf32>
// CHECK:      }) {function_type = (tensor<8x8xf32>, tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>), sym_name = "square_kernel", sym_visibility = "private"} : () -> ()
// CHECK:      %2:2 = "exec.launch"(%0, %1) {device = @dev0, kernel = @square_kernel} : (tensor<8x8xf32>, tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>)
func.func @square(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>) attributes {genie.weight_args = [1]} {
  %eye = sem.constant {value = dense_resource<eye> : tensor<8x8xf32>} : tensor<8x8xf32>
  %0 = sem.mm %x, %w : tensor<8x8xf32>
  %1 = sem.add %0, %eye : tensor<8x8xf32>
  return %1, %0 : tensor<8x8xf32>, tensor<8x8xf32>
}

// -----

// Symbolic shapes in the generic form.
// CHECK-LABEL: // -----
// CHECK:       "exec.transfer"(%arg0) {from = @client, to = @dev0} : (tensor<?x16xf32, "s0">) -> tensor<?x16xf32, "s0">
module attributes {genie.symbols = {s0 = [1, 512]}} {
  func.func @act(%x: tensor<s0x16xf32>) -> tensor<s0x16xf32> {
    %0 = sem.relu %x : tensor<s0x16xf32>
    return %0 : tensor<s0x16xf32>
  }
}
