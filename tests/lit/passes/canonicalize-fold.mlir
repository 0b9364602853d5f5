// genie-sem-canonicalize folds shape queries and scalar arithmetic on
// constants (symbolic sizes included) into sem.constant ops, then deletes
// what became dead.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s
// The result is a fixpoint.
// RUN: genie-opt %s --genie-sem-canonicalize | genie-opt --genie-sem-canonicalize | FileCheck %s

// CHECK-LABEL: func.func @sym_size(%arg0: tensor<s0x12x?xf32>) -> (i64, i64, i64, i64)
func.func @sym_size(%x: tensor<s0x12x?xf32>) -> (i64, i64, i64, i64) {
  // A symbolic dim folds to its symbol, a static one to its size, negative
  // dims count from the back; a `?` dim stays a runtime query.
  // CHECK-DAG: %[[S0:.+]] = sem.constant {value = s0} : i64
  // CHECK-DAG: %[[C12:.+]] = sem.constant {value = 12} : i64
  // CHECK-DAG: %[[DYN:.+]] = sem.sym_size %arg0 {dim = 2} : i64
  // CHECK-DAG: %[[NEG:.+]] = sem.sym_size %arg0 {dim = -1} : i64
  // CHECK:     return %[[S0]], %[[C12]], %[[DYN]], %[[NEG]] : i64, i64, i64, i64
  %0 = sem.sym_size %x {dim = 0} : i64
  %1 = sem.sym_size %x {dim = -2} : i64
  %2 = sem.sym_size %x {dim = 2} : i64
  %3 = sem.sym_size %x {dim = -1} : i64
  return %0, %1, %2, %3 : i64, i64, i64, i64
}

// CHECK-LABEL: func.func @sym_numel
func.func @sym_numel(%x: tensor<1xs0x768xf32>, %y: tensor<2x3xf32>, %z: tensor<?x3xf32>) -> (i64, i64, i64) {
  // CHECK-DAG: %[[A:.+]] = sem.constant {value = s0 * 768} : i64
  // CHECK-DAG: %[[B:.+]] = sem.constant {value = 6} : i64
  // CHECK-DAG: %[[C:.+]] = sem.sym_numel %arg2 : i64
  // CHECK:     return %[[A]], %[[B]], %[[C]]
  %0 = sem.sym_numel %x : i64
  %1 = sem.sym_numel %y : i64
  %2 = sem.sym_numel %z : i64
  return %0, %1, %2 : i64, i64, i64
}

// Shape arithmetic on symbolic sizes, as FX graphs do for views.
// CHECK-LABEL: func.func @shape_math
func.func @shape_math(%x: tensor<s0x768xf32>) -> (i64, i64, i64, i64) {
  // CHECK-DAG: %[[HEADS:.+]] = sem.constant {value = s0 * 12} : i64
  // CHECK-DAG: %[[HALF:.+]] = sem.constant {value = s0 floordiv 2} : i64
  // CHECK-DAG: %[[PLUS:.+]] = sem.constant {value = s0 + 1} : i64
  // CHECK-DAG: %[[BACK:.+]] = sem.constant {value = s0} : i64
  // CHECK:     return %[[HEADS]], %[[HALF]], %[[PLUS]], %[[BACK]]
  // CHECK-NOT: sem.mul
  %n = sem.sym_size %x {dim = 0} : i64
  %c12 = sem.constant {value = 12} : i64
  %c2 = sem.constant {value = 2} : i64
  %c1 = sem.constant {value = 1} : i64
  %0 = sem.mul %n, %c12 : i64
  %1 = sem.floor_divide %n, %c2 : i64
  %2 = sem.add %n, %c1 : i64
  // (s0 * 12) floordiv 12 simplifies back to s0.
  %3 = sem.floor_divide %0, %c12 : i64
  return %0, %1, %2, %3 : i64, i64, i64, i64
}

// Constant scalars: integer and float arithmetic, alpha, comparisons.
// CHECK-LABEL: func.func @scalars() -> (i64, f64, f64, i1, i1, i64, i32, f64)
func.func @scalars() -> (i64, f64, f64, i1, i1, i64, i32, f64) {
  // CHECK-DAG: %[[I:.+]] = sem.constant {value = 64} : i64
  // CHECK-DAG: %[[F:.+]] = sem.constant {value = 9.0} : f64
  // CHECK-DAG: %[[D:.+]] = sem.constant {value = 0.125} : f64
  // CHECK-DAG: %[[T:.+]] = sem.constant {value = true} : i1
  // CHECK-DAG: %[[FALSE:.+]] = sem.constant {value = false} : i1
  // CHECK-DAG: %[[SUB:.+]] = sem.constant {value = -16} : i64
  // CHECK-DAG: %[[I32:.+]] = sem.constant {value = 7 : i32} : i32
  // CHECK-DAG: %[[MIX:.+]] = sem.constant {value = 10.5} : f64
  // CHECK:     return %[[I]], %[[F]], %[[D]], %[[T]], %[[FALSE]], %[[SUB]], %[[I32]], %[[MIX]]
  %c8 = sem.constant {value = 8} : i64
  %c8b = sem.constant {value = 8} : i64
  %0 = sem.mul %c8, %c8b : i64
  %f8 = sem.constant {value = 8.0} : f64
  %half = sem.constant {value = 0.5} : f64
  // 8.0 + 2 * 0.5
  %1 = sem.add %f8, %half {alpha = 2} : f64
  %one = sem.constant {value = 1.0} : f64
  %2 = sem.div %one, %f8 : f64
  %3 = sem.lt %c8, %0 : i1
  %4 = sem.eq %c8, %0 : i1
  // 8 - 3 * 8
  %5 = sem.sub %c8, %c8b {alpha = 3} : i64
  %a = sem.constant {value = 3 : i32} : i32
  %b = sem.constant {value = 4 : i32} : i32
  %6 = sem.add %a, %b : i32
  // An integer and a float constant: 8 + 2.5.
  %f25 = sem.constant {value = 2.5} : f64
  %7 = sem.add %c8, %f25 : f64
  return %0, %1, %2, %3, %4, %5, %6, %7 : i64, f64, f64, i1, i1, i64, i32, f64
}

// Negation, max/min of constants.
// CHECK-LABEL: func.func @unary_and_minmax
func.func @unary_and_minmax(%x: tensor<s0xf32>) -> (i64, i64, f64, i64) {
  // CHECK-DAG: %[[NEG:.+]] = sem.constant {value = s0 * (-1)} : i64
  // CHECK-DAG: %[[MAX:.+]] = sem.constant {value = 8} : i64
  // CHECK-DAG: %[[NEGF:.+]] = sem.constant {value = -0.5} : f64
  // CHECK-DAG: %[[MIN:.+]] = sem.constant {value = 3} : i64
  // CHECK:     return %[[NEG]], %[[MAX]], %[[NEGF]], %[[MIN]]
  %n = sem.sym_size %x {dim = 0} : i64
  %0 = sem.neg %n : i64
  %c3 = sem.constant {value = 3} : i64
  %c8 = sem.constant {value = 8} : i64
  %1 = sem.maximum %c3, %c8 : i64
  %h = sem.constant {value = 0.5} : f64
  %2 = sem.neg %h : f64
  %3 = sem.minimum %c8, %c3 : i64
  return %0, %1, %2, %3 : i64, i64, f64, i64
}

// What is not folded: division by zero (the runtime reports it), and ops on
// values that are not constants.
// CHECK-LABEL: func.func @not_folded
func.func @not_folded(%n: i64) -> (i64, i64, i64) {
  // CHECK-DAG: %[[Z:.+]] = sem.constant {value = 0} : i64
  // CHECK-DAG: %[[S:.+]] = sem.constant {value = 7} : i64
  // CHECK-DAG: %[[DIV:.+]] = sem.floor_divide %[[S]], %[[Z]] : i64
  // CHECK-DAG: %[[MOD:.+]] = sem.remainder %[[S]], %[[Z]] : i64
  // CHECK-DAG: %[[ADD:.+]] = sem.add %arg0, %[[S]] : i64
  // CHECK:     return %[[DIV]], %[[MOD]], %[[ADD]]
  %c7 = sem.constant {value = 7} : i64
  %c0 = sem.constant {value = 0} : i64
  %0 = sem.floor_divide %c7, %c0 : i64
  %1 = sem.remainder %c7, %c0 : i64
  %2 = sem.add %n, %c7 : i64
  return %0, %1, %2 : i64, i64, i64
}
