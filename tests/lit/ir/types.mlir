// Types: ranked tensors with static, symbolic (sN) and unknown (?) dims,
// rank 0 and zero-sized tensors, every dtype, scalars, none, tuples,
// !sem.list and !exec.future; symbolic dims in the generic form print as `?`
// plus an encoding naming the symbol of each dynamic dim.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s

// CHECK-LABEL: func.func @tensors(
// CHECK-SAME: %arg0: tensor<s0x768xf32>, %arg1: tensor<?x4xf32>, %arg2: tensor<s0x?xs1xbf16>, %arg3: tensor<f32>, %arg4: tensor<0x3xi64>, %arg5: tensor<s12xi1>)
// GENERIC-LABEL: "func.func"
// GENERIC: ^bb0(%arg0: tensor<?x768xf32, "s0">, %arg1: tensor<?x4xf32>, %arg2: tensor<?x?x?xbf16, "s0,_,s1">, %arg3: tensor<f32>, %arg4: tensor<0x3xi64>, %arg5: tensor<?xi1, "s12">):
func.func @tensors(%a: tensor<s0x768xf32>, %b: tensor<?x4xf32>, %c: tensor<s0x?xs1xbf16>, %d: tensor<f32>, %e: tensor<0x3xi64>, %f: tensor<s12xi1>) {
  return
}

// Every element type.
// CHECK-LABEL: func.func @dtypes(
// CHECK-SAME: tensor<2xf64>, %arg1: tensor<2xf32>, %arg2: tensor<2xf16>, %arg3: tensor<2xbf16>, %arg4: tensor<2xi64>, %arg5: tensor<2xi32>, %arg6: tensor<2xi16>, %arg7: tensor<2xi8>, %arg8: tensor<2xui8>, %arg9: tensor<2xi1>)
func.func @dtypes(%0: tensor<2xf64>, %1: tensor<2xf32>, %2: tensor<2xf16>, %3: tensor<2xbf16>, %4: tensor<2xi64>, %5: tensor<2xi32>, %6: tensor<2xi16>, %7: tensor<2xi8>, %8: tensor<2xui8>, %9: tensor<2xi1>) {
  return
}

// Scalars, none, tuples (nested, empty), lists and futures.
// CHECK-LABEL: func.func @others(
// CHECK-SAME: %arg0: i64, %arg1: f64, %arg2: i1, %arg3: bf16, %arg4: none, %arg5: tuple<i64, tensor<s0xf32>>, %arg6: tuple<>, %arg7: tuple<tuple<i1>, none>, %arg8: !sem.list<tensor<4xf32>>, %arg9: !sem.list<i64>, %arg10: !exec.future<tensor<s0x4xf16>>, %arg11: !exec.future<!sem.list<i32>>)
// CHECK-SAME: -> (none, !exec.future<tensor<s0x4xf16>>)
// GENERIC-LABEL: "func.func"
// GENERIC: ^bb0(%arg0: i64, %arg1: f64, %arg2: i1, %arg3: bf16, %arg4: none, %arg5: tuple<i64, tensor<?xf32, "s0">>, %arg6: tuple<>, %arg7: tuple<tuple<i1>, none>, %arg8: !sem.list<tensor<4xf32>>, %arg9: !sem.list<i64>, %arg10: !exec.future<tensor<?x4xf16, "s0">>, %arg11: !exec.future<!sem.list<i32>>):
func.func @others(%a: i64, %b: f64, %c: i1, %d: bf16, %e: none, %f: tuple<i64, tensor<s0xf32>>, %g: tuple<>, %h: tuple<tuple<i1>, none>, %i: !sem.list<tensor<4xf32>>, %j: !sem.list<i64>, %k: !exec.future<tensor<s0x4xf16>>, %l: !exec.future<!sem.list<i32>>) -> (none, !exec.future<tensor<s0x4xf16>>) {
  // CHECK: return %arg4, %arg10 : none, !exec.future<tensor<s0x4xf16>>
  return %e, %k : none, !exec.future<tensor<s0x4xf16>>
}

// The generic encoding is accepted as input too: "s3" names the dynamic dim,
// "_" leaves one unknown.
// CHECK-LABEL: func.func @encoded(
// CHECK-SAME: %arg0: tensor<s3x8xf32>, %arg1: tensor<?xs0xi64>) -> tensor<s3x8xf32>
func.func @encoded(%a: tensor<?x8xf32, "s3">, %b: tensor<?x?xi64, "_,s0">) -> tensor<?x8xf32, "s3"> {
  // CHECK-NEXT: %0 = sem.relu %arg0 : tensor<s3x8xf32>
  %0 = sem.relu %a : tensor<s3x8xf32>
  return %0 : tensor<s3x8xf32>
}

// Single function-typed results print in parentheses.
// CHECK-LABEL: func.func @fn_types() attributes {genie.callback = (i64, f32) -> (), genie.ret = () -> ((i64) -> i64)}
func.func @fn_types() attributes {genie.callback = (i64, f32) -> (), genie.ret = () -> ((i64) -> i64)} {
  return
}
