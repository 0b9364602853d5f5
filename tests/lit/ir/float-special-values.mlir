// Non-finite and out-of-range floats print as typed hex bit patterns
// (`0x7FF0000000000000 : f64`, `0x7F800000 : f32`), as MLIR does, so they
// read back as floats; canonicalize can produce them (1.0 / 0.0).
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s --genie-sem-canonicalize | genie-opt | FileCheck %s --check-prefix=FOLD

// CHECK-LABEL: func.func @f64_inf() -> (f64, f64, f64)
// CHECK-NEXT:    %0 = sem.constant {value = 0x7FF0000000000000 : f64} : f64
// CHECK-NEXT:    %1 = sem.constant {value = 0xFFF0000000000000 : f64} : f64
// CHECK-NEXT:    %2 = sem.constant {value = 0x7FF8000000000000 : f64} : f64
func.func @f64_inf() -> (f64, f64, f64) {
  %0 = sem.constant {value = 0x7FF0000000000000 : f64} : f64
  %1 = sem.constant {value = 0xFFF0000000000000 : f64} : f64
  %2 = sem.constant {value = 0x7FF8000000000000 : f64} : f64
  return %0, %1, %2 : f64, f64, f64
}

// CHECK-LABEL: func.func @out_of_range() -> (f32, f32)
// CHECK-NEXT:    %0 = sem.constant {value = 0x7F800000 : f32} : f32
// CHECK-NEXT:    %1 = sem.constant {value = 0xFF800000 : f32} : f32
func.func @out_of_range() -> (f32, f32) {
  %0 = sem.constant {value = 1.0e39 : f32} : f32
  %1 = sem.constant {value = -1.0e39 : f32} : f32
  return %0, %1 : f32, f32
}

// FOLD-LABEL: func.func @fold_to_inf() -> f64
// FOLD-NEXT:    %0 = sem.constant {value = 0x7FF0000000000000 : f64} : f64
func.func @fold_to_inf() -> f64 {
  %one = sem.constant {value = 1.0} : f64
  %zero = sem.constant {value = 0.0} : f64
  %0 = sem.div %one, %zero : f64
  return %0 : f64
}
