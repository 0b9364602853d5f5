// Reading the input from stdin: `-`, or no input argument at all.
// Diagnostics then name `<stdin>`.
// RUN: genie-opt - < %s | FileCheck %s
// RUN: genie-opt < %s | FileCheck %s
// RUN: cat %s | genie-opt - --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s | genie-opt - | genie-opt | FileCheck %s

// CHECK:      module {
// CHECK-NEXT:   func.func @from_stdin(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:     %0 = sem.relu %arg0 : tensor<4xf32>
func.func @from_stdin(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// RUN: not genie-opt - < %S/Inputs/bad.mlir 2>&1 | FileCheck %s --check-prefix=DIAG
// DIAG: <stdin>:3:17: error: use of undefined value '%nope'
