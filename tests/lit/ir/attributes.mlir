// Attribute syntax: integers (plain, negative, typed, hex, i64 extremes),
// floats (exponents, typed, hex bit patterns, -0.0, non-finite), bools,
// strings with escapes, arrays, dictionaries, dtype/type attributes, symbol
// references, dense_resource handles and unit attributes. Dictionaries print
// sorted by key. Both forms must read back to the same module.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK: module @attrs attributes {
// Arrays nest and mix kinds; a dtype is a type attribute.
// CHECK-SAME: genie.arr = [1, [2, [3]], "x", 1.5, true, f16]
// CHECK-SAME: genie.bf16 = 2.0 : bf16
// CHECK-SAME: genie.big = 9223372036854775807
// Dictionaries sort their keys too; unit entries print bare.
// CHECK-SAME: genie.dict = {a = {nested = [i64]}, "with space", z = 1}
// CHECK-SAME: genie.dt = bf16
// CHECK-SAME: genie.empty_arr = []
// CHECK-SAME: genie.empty_dict = {}
// Floats print in the shortest form that reads back exactly, always with a '.'.
// CHECK-SAME: genie.eps = 1.0e-5
// CHECK-SAME: genie.eps_upper = 1.0e-5
// Escapes: \" \\ \n \t print symbolically, other control bytes as \XX, and
// UTF-8 given as hex escapes (\C3\BC) prints as the character.
// CHECK-SAME: genie.esc = "quote\" backslash\\ nl\n tab\t hex\01 ü"
// CHECK-SAME: genie.f = 1.5
// CHECK-SAME: genie.f16 = 0.5 : f16
// CHECK-SAME: genie.f32 = 0.1 : f32
// CHECK-SAME: genie.fls = false
// Finite hex floats become decimal; non-finite ones keep their bit pattern.
// CHECK-SAME: genie.hex32 = 1.0 : f32
// CHECK-SAME: genie.hexbf = 1.0 : bf16
// CHECK-SAME: genie.hexf16 = 1.0 : f16
// CHECK-SAME: genie.hexf64 = 1.0,
// CHECK-SAME: genie.hexi32 = 255 : i32
// CHECK-SAME: genie.hexinf = 0xFF800000 : f32
// CHECK-SAME: genie.hexint = 16,
// CHECK-SAME: genie.hexnan = 0x7FC00000 : f32
// An untyped integer is i64 and prints bare; other types are spelled out.
// CHECK-SAME: genie.i = 42,
// `1 : i1` is the bool true.
// CHECK-SAME: genie.i1 = true
// CHECK-SAME: genie.i32 = 3 : i32
// CHECK-SAME: genie.large = -3.4028234663852886e38
// CHECK-SAME: genie.list = !sem.list<i64>
// CHECK-SAME: genie.min = -9223372036854775808
// CHECK-SAME: genie.neg = -7,
// CHECK-SAME: genie.none = none
// CHECK-SAME: genie.nz = -0.0,
// CHECK-SAME: genie.qsym = @"a b"
// Quoted keys stay quoted.
// CHECK-SAME: "genie.quoted key" = 1
// CHECK-SAME: genie.res = dense_resource<blob_0.w> : tensor<2x3xf32>
// CHECK-SAME: genie.s = "plain"
// CHECK-SAME: genie.sym = @gpu0
// CHECK-SAME: genie.t = true
// CHECK-SAME: genie.tiny = 5.0e-324
// CHECK-SAME: genie.tup = tuple<i1, f32>
// CHECK-SAME: genie.ty = tensor<s0x4xf32>
// CHECK-SAME: genie.ui8 = 255 : ui8
// `x = unit` and a bare `x` are the same unit attribute.
// CHECK-SAME: genie.unit, genie.unit2} {

// The generic form spells symbolic dims MLIR's way inside type attributes.
// GENERIC: genie.ty = tensor<?x4xf32, "s0">
// GENERIC-SAME: sym_name = "attrs"

module @attrs attributes {
  genie.i = 42, genie.neg = -7, genie.i32 = 3 : i32, genie.ui8 = 255 : ui8, genie.i1 = 1 : i1,
  genie.big = 9223372036854775807, genie.min = -9223372036854775808,
  genie.f = 1.5, genie.eps = 1.0e-05, genie.eps_upper = 1.0E-5, genie.f32 = 0.1 : f32, genie.f16 = 0.5 : f16,
  genie.bf16 = 2.0 : bf16, genie.large = -3.4028234663852886e38, genie.tiny = 4.9e-324, genie.nz = -0.0,
  genie.hex32 = 0x3F800000 : f32, genie.hexinf = 0xFF800000 : f32, genie.hexnan = 0x7FC00000 : f32,
  genie.hexbf = 0x3F80 : bf16, genie.hexf16 = 0x3C00 : f16, genie.hexint = 0x10, genie.hexi32 = 0xFF : i32,
  genie.hexf64 = 0x3FF0000000000000 : f64,
  genie.t = true, genie.fls = false,
  genie.s = "plain", genie.esc = "quote\" backslash\\ nl\n tab\t hex\01 \C3\BC",
  genie.arr = [1, [2, [3]], "x", 1.5, true, f16], genie.empty_arr = [],
  genie.dict = {z = 1, a = {nested = [i64]}, "with space" = unit}, genie.empty_dict = {},
  genie.dt = bf16, genie.ty = tensor<s0x4xf32>, genie.list = !sem.list<i64>, genie.none = none,
  genie.tup = tuple<i1, f32>,
  genie.sym = @gpu0, genie.qsym = @"a b",
  genie.res = dense_resource<blob_0.w> : tensor<2x3xf32>,
  genie.unit, genie.unit2 = unit, "genie.quoted key" = 1
} {
  // Op attributes: typed values where the op expects them.
  // CHECK-LABEL: func.func @op_attrs
  func.func @op_attrs(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    // CHECK-NEXT: %0 = sem.leaky_relu %arg0 {negative_slope = 0.01} : tensor<4x8xf32>
    %0 = sem.leaky_relu %x {negative_slope = 1.0e-2} : tensor<4x8xf32>
    // CHECK-NEXT: %1 = sem.full {dtype = f16, fill_value = -1.5, size = [2, 3]} : tensor<2x3xf16>
    %1 = sem.full {size = [2, 3], fill_value = -1.5, dtype = f16} : tensor<2x3xf16>
    // CHECK-NEXT: %2 = sem.sum %arg0 {dim = [-1], dtype = f64, keepdim = false} : tensor<4xf64>
    %2 = sem.sum %x {dim = [-1], keepdim = false, dtype = f64} : tensor<4xf64>
    // CHECK-NEXT: %3 = sem.constant {value = dense_resource<__elided__> : tensor<4x8xf32>} : tensor<4x8xf32>
    %3 = sem.constant {value = dense_resource<__elided__> : tensor<4x8xf32>} : tensor<4x8xf32>
    // CHECK-NEXT: %4 = sem.add %arg0, %3 {alpha = 2, sem.layer = 3, sem.module_path = "encoder.layers.3", sem.phase = "prefill", sem.role = "activation"} : tensor<4x8xf32>
    %4 = sem.add %x, %3 {alpha = 2, sem.role = "activation", sem.phase = "prefill", sem.layer = 3, sem.module_path = "encoder.layers.3"} : tensor<4x8xf32>
    return %4 : tensor<4x8xf32>
  }
}
