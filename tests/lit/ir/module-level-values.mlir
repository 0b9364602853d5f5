// Module-level values keep their names across functions. A function's values
// continue the enclosing numbering (MLIR rejects shadowing an outer name), and
// the module's numbering resumes after the function.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s

// CHECK:      module {
// CHECK-NEXT:   %0 = sem.constant {value = 1} : i64
// CHECK-NEXT:   func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:     %1 = sem.relu %arg0 : tensor<4xf32>
// CHECK-NEXT:     %2 = sem.neg %1 : tensor<4xf32>
// CHECK-NEXT:     return %2 : tensor<4xf32>
// CHECK-NEXT:   }
// CHECK-NEXT:   %1 = sem.add %0, %0 : i64
// CHECK-NEXT: }
%c = sem.constant {value = 1} : i64
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %x : tensor<4xf32>
  %1 = sem.neg %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}
%d = sem.add %c, %c : i64
