// genie-sem-canonicalize simplifies symbolic expressions in attributes:
// constants fold, identities (x + 0, x * 1, x floordiv 1) go, constant
// factors and offsets combine and move right, and an expression that became
// a constant is stored as a plain integer. Values never change.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s

// CHECK-LABEL: func.func @constants
func.func @constants() -> (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) {
  // CHECK-NEXT: %0 = sem.constant {value = s0} : i64
  %0 = sem.constant {value = s0 * 1 + 0} : i64
  // CHECK-NEXT: %1 = sem.constant {value = 8} : i64
  %1 = sem.constant {value = 4 * 2} : i64
  // CHECK-NEXT: %2 = sem.constant {value = s0 * 2} : i64
  %2 = sem.constant {value = 2 * s0} : i64
  // CHECK-NEXT: %3 = sem.constant {value = s0 * 24} : i64
  %3 = sem.constant {value = s0 * 2 * 12} : i64
  // CHECK-NEXT: %4 = sem.constant {value = s1 + 3} : i64
  %4 = sem.constant {value = s1 + 1 + 2} : i64
  // CHECK-NEXT: %5 = sem.constant {value = s0} : i64
  %5 = sem.constant {value = s0 * 64 floordiv 64} : i64
  // CHECK-NEXT: %6 = sem.constant {value = s0 * 2} : i64
  %6 = sem.constant {value = s0 * 64 ceildiv 32} : i64
  // CHECK-NEXT: %7 = sem.constant {value = 0} : i64
  %7 = sem.constant {value = s0 * 0 + s1 mod 1} : i64
  // Floor division, ceiling division and modulus of constants round like
  // Python (towards -inf) and MLIR's affine maps.
  // CHECK-NEXT: %8 = sem.constant {value = -4} : i64
  %8 = sem.constant {value = -7 floordiv 2} : i64
  // CHECK-NEXT: %9 = sem.constant {value = 2} : i64
  %9 = sem.constant {value = -7 mod 3} : i64
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : i64, i64, i64, i64, i64, i64, i64, i64, i64, i64
}

// Expressions inside shape arrays simplify element by element.
// CHECK-LABEL: func.func @shapes(%arg0: tensor<s0x768xf32>) -> tensor<s0x12x64xf32>
func.func @shapes(%x: tensor<s0x768xf32>) -> tensor<s0x12x64xf32> {
  // CHECK-NEXT: %0 = sem.view %arg0 {size = [s0, 12, 64]} : tensor<s0x12x64xf32>
  %0 = sem.view %x {size = [s0 * 1, 3 * 4, 128 floordiv 2]} : tensor<s0x12x64xf32>
  return %0 : tensor<s0x12x64xf32>
}

// Division by zero stays as written.
// CHECK-LABEL: func.func @div_by_zero
func.func @div_by_zero() -> i64 {
  // CHECK-NEXT: %0 = sem.constant {value = s0 floordiv 0} : i64
  %0 = sem.constant {value = s0 floordiv 0} : i64
  return %0 : i64
}
