// XFAIL: *
// BUG: the printer forgets the names of module-level values once it has
// printed a function (isolated regions reset the name table and the result
// counter): a module-level op after a func.func prints its operands as
// `%<undefined 0>` and takes a number already used, and the output does not
// read back ("expected a value name after '%'").
// Expected: module-level names continue across functions, as MLIR's do.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s

// CHECK:      module {
// CHECK-NEXT:   %0 = sem.constant {value = 1} : i64
// CHECK-NEXT:   func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:     %0 = sem.relu %arg0 : tensor<4xf32>
// CHECK-NEXT:     %1 = sem.neg %0 : tensor<4xf32>
// CHECK-NEXT:     return %1 : tensor<4xf32>
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
