// Symbolic sizes: bare affine expressions over s0, s1, … in the custom form,
// `affine_map<()[s0, …] -> (expr)>` in the generic form (named symbols are
// renamed to sN by position). Printing keeps grouping with the fewest
// parentheses; no simplification happens without a pass.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s

#half = affine_map<()[s0] -> (s0 floordiv 2)>

// CHECK-LABEL: func.func @exprs
func.func @exprs() {
  // CHECK-NEXT:   sem.constant {value = s0 * 12} : i64
  // GENERIC:      {value = affine_map<()[s0] -> (s0 * 12)>}
  %0 = sem.constant {value = s0 * 12} : i64
  // CHECK-NEXT:   sem.constant {value = s0 - 1} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0] -> (s0 - 1)>}
  %1 = sem.constant {value = s0 - 1} : i64
  // A negative constant factor is parenthesised.
  // CHECK-NEXT:   sem.constant {value = s0 * (-1)} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0] -> (s0 * (-1))>}
  %2 = sem.constant {value = s0 * -1} : i64
  // CHECK-NEXT:   sem.constant {value = (s0 + 1) * 12} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0] -> ((s0 + 1) * 12)>}
  %3 = sem.constant {value = (s0 + 1) * 12} : i64
  // Left-associative: only a right operand of equal precedence needs parens.
  // CHECK-NEXT:   sem.constant {value = s0 - (s1 - 2)} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0, s1] -> (s0 - (s1 - 2))>}
  %4 = sem.constant {value = s0 - (s1 - 2)} : i64
  // CHECK-NEXT:   sem.constant {value = s0 - s1 - 2} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0, s1] -> (s0 - s1 - 2)>}
  %5 = sem.constant {value = (s0 - s1) - 2} : i64
  // The symbol list always runs from s0 to the largest symbol used.
  // CHECK-NEXT:   sem.constant {value = s2 ceildiv 64 mod 3} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0, s1, s2] -> (s2 ceildiv 64 mod 3)>}
  %6 = sem.constant {value = s2 ceildiv 64 mod 3} : i64
  // An expression may start with a number or a parenthesis.
  // CHECK-NEXT:   sem.constant {value = 2 * s0 + 3} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0] -> (2 * s0 + 3)>}
  %7 = sem.constant {value = 2 * s0 + 3} : i64
  // CHECK-NEXT:   sem.constant {value = 12 - s0} : i64
  %8 = sem.constant {value = 12 - s0} : i64
  // Unsimplified: `s0 * 1 + 0` stays as written (genie-sem-canonicalize folds it).
  // CHECK-NEXT:   sem.constant {value = s0 * 1 + 0} : i64
  %9 = sem.constant {value = s0 * 1 + 0} : i64
  // The generic spelling is accepted in the custom form, symbols renamed by
  // position.
  // CHECK-NEXT:   sem.constant {value = s1 * 12 + s0} : i64
  // GENERIC:      {value = affine_map<()[s0, s1] -> (s1 * 12 + s0)>}
  %10 = sem.constant {value = affine_map<()[batch, seq] -> (seq * 12 + batch)>} : i64
  // Attribute aliases defined before the module expand in place.
  // CHECK-NEXT:   sem.constant {value = s0 floordiv 2} : i64
  // GENERIC-NEXT: {value = affine_map<()[s0] -> (s0 floordiv 2)>}
  %11 = sem.constant {value = #half} : i64
  return
}

// Symbolic sizes in integer-array attributes (shapes, slice bounds).
// CHECK-LABEL: func.func @shapes(%arg0: tensor<1xs0x768xf32>) -> tensor<1xs0x12x64xf32>
func.func @shapes(%x: tensor<1xs0x768xf32>) -> tensor<1xs0x12x64xf32> {
  // CHECK-NEXT:   sem.view %arg0 {size = [1, s0, 12, 64]} : tensor<1xs0x12x64xf32>
  // GENERIC:      {size = [1, affine_map<()[s0] -> (s0)>, 12, 64]}
  %0 = sem.view %x {size = [1, s0, 12, 64]} : tensor<1xs0x12x64xf32>
  // CHECK-NEXT:   sem.slice %arg0 {dim = 1, end = s0 - 1, start = 1} : tensor<1x?x768xf32>
  // GENERIC-NEXT: {dim = 1, end = affine_map<()[s0] -> (s0 - 1)>, start = 1}
  %1 = sem.slice %x {dim = 1, start = 1, end = s0 - 1} : tensor<1x?x768xf32>
  // CHECK-NEXT:   sem.arange {dtype = i64, end = s0 * 2, start = 0, step = 2} : tensor<s0xi64>
  %2 = sem.arange {start = 0, end = s0 * 2, step = 2, dtype = i64} : tensor<s0xi64>
  return %0 : tensor<1xs0x12x64xf32>
}
