// XFAIL: *
// BUG (miscompile): constant folding disagrees with PyTorch on corner cases.
//  (1) sem.remainder is Python's %, whose result takes the divisor's sign:
//      7 % -3 == -2, but it folds through the affine `mod` (always >= 0) to 1.
//  (2) sem.maximum / sem.minimum propagate NaN (torch.maximum(nan, 1) is nan),
//      but fold with f64::max/min, which drop it: maximum(NaN, 1.0) folds to 1.0.
// Expected: the folds give PyTorch's values (or the ops stay unfolded).
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
// CHECK-NOT:     value = 1.0
// CHECK:         return
func.func @nan() -> (f64, f64) {
  %nan = sem.constant {value = 0x7FF8000000000000 : f64} : f64
  %one = sem.constant {value = 1.0} : f64
  %0 = sem.maximum %nan, %one : f64
  %1 = sem.minimum %one, %nan : f64
  return %0, %1 : f64, f64
}
