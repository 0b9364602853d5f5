// genie-sem-canonicalize removes ops that compute their input: copies
// (clone, alias, detach, lift_fresh_copy), views/reshapes/expands to the same
// type, identity permutes, transposes of a dim with itself, full slices, a
// cat of one tensor, an empty flip, and a _to_copy to the same dtype.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s

// CHECK-LABEL: func.func @chain(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
// CHECK-NEXT:    return %arg0 : tensor<4x8xf32>
// CHECK-NEXT:  }
func.func @chain(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = sem.view %x {size = [4, 8]} : tensor<4x8xf32>
  %1 = sem.reshape %0 {shape = [4, -1]} : tensor<4x8xf32>
  %2 = sem._unsafe_view %1 {size = [4, 8]} : tensor<4x8xf32>
  %3 = sem.permute %2 {dims = [0, 1]} : tensor<4x8xf32>
  %4 = sem.permute %3 {dims = [-2, -1]} : tensor<4x8xf32>
  %5 = sem.expand %4 {size = [4, -1]} : tensor<4x8xf32>
  %6 = sem.clone %5 : tensor<4x8xf32>
  %7 = sem.alias %6 : tensor<4x8xf32>
  %8 = sem.detach %7 : tensor<4x8xf32>
  %9 = sem.lift_fresh_copy %8 : tensor<4x8xf32>
  %10 = sem.transpose %9 {dim0 = 1, dim1 = -1} : tensor<4x8xf32>
  %11 = sem.slice %10 {dim = 0, start = 0, end = 9223372036854775807} : tensor<4x8xf32>
  %12 = sem.slice %11 {dim = 1, start = 0, end = 8, step = 1} : tensor<4x8xf32>
  %13 = sem.slice %12 {dim = -1} : tensor<4x8xf32>
  %14 = sem.cat %13 {dim = 0} : tensor<4x8xf32>
  %15 = sem.flip %14 {dims = []} : tensor<4x8xf32>
  %16 = sem._to_copy %15 {dtype = f32} : tensor<4x8xf32>
  %17 = sem.squeeze %16 {dim = [0]} : tensor<4x8xf32>
  %18 = sem.repeat %17 {repeats = [1, 1]} : tensor<4x8xf32>
  return %18 : tensor<4x8xf32>
}

// A slice up to a symbolic size that is the dim's own size is full too.
// CHECK-LABEL: func.func @symbolic(%arg0: tensor<s0x8xf32>) -> tensor<s0x8xf32> {
// CHECK-NEXT:    return %arg0 : tensor<s0x8xf32>
func.func @symbolic(%x: tensor<s0x8xf32>) -> tensor<s0x8xf32> {
  %0 = sem.slice %x {dim = 0, start = 0, end = s0} : tensor<s0x8xf32>
  %1 = sem.view %0 {size = [s0, 8]} : tensor<s0x8xf32>
  %2 = sem.clone %1 {sem.role = "activation"} : tensor<s0x8xf32>
  return %2 : tensor<s0x8xf32>
}

// Not identities: these stay.
// CHECK-LABEL: func.func @kept(
func.func @kept(%x: tensor<4x8xf32>, %d: tensor<?x8xf32>, %s: tensor<s0x8xf32>) -> (tensor<8x4xf32>, tensor<32xf32>, tensor<2x8xf32>, tensor<4x4xf32>, tensor<4x8xf32>, tensor<?x8xf32>, tensor<4x8xf16>, tensor<?x8xf32>, tensor<4x8xf32>) {
  // CHECK: sem.permute %arg0 {dims = [1, 0]}
  %0 = sem.permute %x {dims = [1, 0]} : tensor<8x4xf32>
  // CHECK: sem.view %arg0 {size = [32]}
  %1 = sem.view %x {size = [32]} : tensor<32xf32>
  // CHECK: sem.slice %arg0 {dim = 0, end = 2, start = 0}
  %2 = sem.slice %x {dim = 0, start = 0, end = 2} : tensor<2x8xf32>
  // A step is not an identity even when it covers the dim.
  // CHECK: sem.slice %arg0 {dim = 1, step = 2}
  %3 = sem.slice %x {dim = 1, step = 2} : tensor<4x4xf32>
  // CHECK: sem.flip %arg0 {dims = [0]}
  %4 = sem.flip %x {dims = [0]} : tensor<4x8xf32>
  // A view of a tensor with an unknown dim may change it: kept.
  // CHECK: sem.view %arg1 {size = [-1, 8]}
  %5 = sem.view %d {size = [-1, 8]} : tensor<?x8xf32>
  // CHECK: sem._to_copy %arg0 {dtype = f16}
  %6 = sem._to_copy %x {dtype = f16} : tensor<4x8xf16>
  // A slice to another symbol is not full.
  // CHECK: sem.slice %arg2 {dim = 0, end = s1, start = 0}
  %7 = sem.slice %s {dim = 0, start = 0, end = s1} : tensor<?x8xf32>
  // Transposing two different dims.
  // CHECK: sem.transpose %arg0 {dim0 = 0, dim1 = 1}
  %8 = sem.transpose %x {dim0 = 0, dim1 = 1} : tensor<8x4xf32>
  %9 = sem.transpose %8 {dim0 = 0, dim1 = 1} : tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %9 : tensor<8x4xf32>, tensor<32xf32>, tensor<2x8xf32>, tensor<4x4xf32>, tensor<4x8xf32>, tensor<?x8xf32>, tensor<4x8xf16>, tensor<?x8xf32>, tensor<4x8xf32>
}
