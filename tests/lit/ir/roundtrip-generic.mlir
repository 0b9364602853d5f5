// MLIR's generic op form: printed with --mlir-print-op-generic, read back
// (alone or mixed with the custom form) to the same module.
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: genie-opt %s > %t.custom.mlir
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt > %t.via-generic.mlir
// RUN: diff %t.custom.mlir %t.via-generic.mlir

// GENERIC:      "builtin.module"() ({
// GENERIC-NEXT:   "func.func"() ({
// GENERIC-NEXT:   ^bb0(%arg0: tensor<?x768xf32, "s0">, %arg1: tensor<768x64xf32>, %arg2: tensor<64xf32>):
// GENERIC-NEXT:     %0 = "sem.addmm"(%arg2, %arg0, %arg1) {sem.module_class = "Conv1D"} : (tensor<64xf32>, tensor<?x768xf32, "s0">, tensor<768x64xf32>) -> tensor<?x64xf32, "s0"> loc("transformer.h.0.mlp"("pytorch_utils.py":105:0))
// GENERIC-NEXT:     %1:2 = "sem.max_dim"(%0) {dim = -1, keepdim} : (tensor<?x64xf32, "s0">) -> (tensor<?x1xf32, "s0">, tensor<?x1xi64, "s0">)
// GENERIC-NEXT:     %2 = "sem.sub"(%0, %1#0) : (tensor<?x64xf32, "s0">, tensor<?x1xf32, "s0">) -> tensor<?x64xf32, "s0">
// GENERIC-NEXT:     %3 = "sem.constant"() {value = affine_map<()[s0] -> (s0 * 64)>} : () -> i64
// GENERIC-NEXT:     "func.return"(%2, %3) : (tensor<?x64xf32, "s0">, i64) -> ()
// GENERIC-NEXT:   }) {function_type = (tensor<?x768xf32, "s0">, tensor<768x64xf32>, tensor<64xf32>) -> (tensor<?x64xf32, "s0">, i64), sym_name = "mlp"} : () -> ()
// GENERIC-NEXT:   "func.func"() ({
// GENERIC-NEXT:   ^bb0:
// GENERIC-NEXT:     "func.return"() : () -> ()
// GENERIC-NEXT:   }) {function_type = () -> (), sym_name = "empty"} : () -> ()
// GENERIC-NEXT: }) {genie.symbols = {s0 = [1, 1024]}, sym_name = "generic"} : () -> ()

// CHECK:      module @generic attributes {genie.symbols = {s0 = [1, 1024]}} {
// CHECK-NEXT:   func.func @mlp(%arg0: tensor<s0x768xf32>, %arg1: tensor<768x64xf32>, %arg2: tensor<64xf32>) -> (tensor<s0x64xf32>, i64) {
// CHECK-NEXT:     %0 = sem.addmm %arg2, %arg0, %arg1 {sem.module_class = "Conv1D"} : tensor<s0x64xf32> loc("transformer.h.0.mlp"("pytorch_utils.py":105:0))
// CHECK-NEXT:     %1:2 = sem.max_dim %0 {dim = -1, keepdim} : tensor<s0x1xf32>, tensor<s0x1xi64>
// CHECK-NEXT:     %2 = sem.sub %0, %1#0 : tensor<s0x64xf32>
// CHECK-NEXT:     %3 = sem.constant {value = s0 * 64} : i64
// CHECK-NEXT:     return %2, %3 : tensor<s0x64xf32>, i64
// CHECK-NEXT:   }
// CHECK-NEXT:   func.func @empty() {
// CHECK-NEXT:     return
// CHECK-NEXT:   }
// CHECK-NEXT: }

module @generic attributes {genie.symbols = {s0 = [1, 1024]}} {
  func.func @mlp(%arg0: tensor<s0x768xf32>, %arg1: tensor<768x64xf32>, %arg2: tensor<64xf32>) -> (tensor<s0x64xf32>, i64) {
    %0 = sem.addmm %arg2, %arg0, %arg1 {sem.module_class = "Conv1D"} : tensor<s0x64xf32> loc("transformer.h.0.mlp"("pytorch_utils.py":105:0))
    // Generic ops mix freely with custom ones.
    %1:2 = "sem.max_dim"(%0) {dim = -1, keepdim} : (tensor<s0x64xf32>) -> (tensor<s0x1xf32>, tensor<s0x1xi64>)
    %2 = sem.sub %0, %1#0 : tensor<s0x64xf32>
    %3 = sem.constant {value = s0 * 64} : i64
    return %2, %3 : tensor<s0x64xf32>, i64
  }
  "func.func"() ({
    "func.return"() : () -> ()
  }) {function_type = () -> (), sym_name = "empty"} : () -> ()
}
