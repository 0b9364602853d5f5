// Constant folding follows PyTorch on corner cases: sem.remainder is Python's
// % (the result takes the divisor's sign: 7 % -3 == -2), and
// sem.maximum / sem.minimum propagate NaN.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s

// CHECK-LABEL: func.func @remainder() -> (i64, i64)
// CHECK-DAG:     %[[A:.+]] = sem.constant {value = -2} : i64
// CHECK-DAG:     %[[B:.+]] = sem.constant {value = 2} : i64
// CHECK:         return %[[A]], %[[B]] : i64, i64
func.func @remainder() -> (i64, i64) {
  %c7 = sem.constant {value = 7} : i64
  %cm3 = sem.constant {value = -3} : i64
  %cm7 = sem.constant {value = -7} : i64
  %c3 = sem.constant {value = 3} : i64
  // 7 % -3 == -2 in Python and PyTorch.
  %0 = sem.remainder %c7, %cm3 : i64
  // -7 % 3 == 2 (already right).
  %1 = sem.remainder %cm7, %c3 : i64
  return %0, %1 : i64, i64
}

// CHECK-LABEL: func.func @nan() -> (f64, f64)
// CHECK-DAG:     %[[A:.+]] = sem.constant {value = 0x7FF8000000000000{{( : f64)?}}} : f64
// CHECK-DAG:     %[[B:.+]] = sem.constant {value = 0x7FF8000000000000{{( : f64)?}}} : f64
// CHECK:         return %[[A]], %[[B]] : f64, f64
func.func @nan() -> (f64, f64) {
  %nan = sem.constant {value = 0x7FF8000000000000 : f64} : f64
  %one = sem.constant {value = 1.0} : f64
  %0 = sem.maximum %nan, %one : f64
  %1 = sem.minimum %one, %nan : f64
  return %0, %1 : f64, f64
}
