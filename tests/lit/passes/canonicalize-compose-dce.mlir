// genie-sem-canonicalize composes chains in place (a view of a view reads the
// original tensor; a permute of a permute becomes one permute) and deletes
// ops whose results are unused, unless they have side effects.
// RUN: genie-opt %s --split-input-file --genie-sem-canonicalize | FileCheck %s

// The outermost op (here _unsafe_view) keeps its kind and reads the source.
// CHECK-LABEL: func.func @view_of_view(%arg0: tensor<2x3x4xf32>) -> tensor<24xf32> {
// CHECK-NEXT:    %0 = sem._unsafe_view %arg0 {size = [24]} : tensor<24xf32>
// CHECK-NEXT:    return %0 : tensor<24xf32>
func.func @view_of_view(%x: tensor<2x3x4xf32>) -> tensor<24xf32> {
  %0 = sem.view %x {size = [6, 4]} : tensor<6x4xf32>
  %1 = sem.reshape %0 {shape = [3, 8]} : tensor<3x8xf32>
  %2 = sem._unsafe_view %1 {size = [24]} : tensor<24xf32>
  return %2 : tensor<24xf32>
}

// -----

// A view chain that comes back to the input's shape disappears altogether.
// CHECK-LABEL: func.func @view_round_trip(%arg0: tensor<1xs0x768xf32>) -> tensor<1xs0x768xf32> {
// CHECK-NEXT:    return %arg0 : tensor<1xs0x768xf32>
func.func @view_round_trip(%x: tensor<1xs0x768xf32>) -> tensor<1xs0x768xf32> {
  %0 = sem.view %x {size = [-1, 768]} : tensor<s0x768xf32>
  %1 = sem.view %0 {size = [1, s0, 768]} : tensor<1xs0x768xf32>
  return %1 : tensor<1xs0x768xf32>
}

// -----

// permute(permute(x, p1), p2) = permute(x, p1[p2[i]]).
// CHECK-LABEL: func.func @permute_of_permute(%arg0: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
// CHECK-NEXT:    %0 = sem.permute %arg0 {dims = [2, 0, 1]} : tensor<4x2x3xf32>
// CHECK-NEXT:    return %0
func.func @permute_of_permute(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = sem.permute %x {dims = [1, 0, 2]} : tensor<3x2x4xf32>
  %1 = sem.permute %0 {dims = [2, 1, 0]} : tensor<4x2x3xf32>
  return %1 : tensor<4x2x3xf32>
}

// -----

// Inverse permutes (attention's transpose-back, with negative dims) cancel.
// CHECK-LABEL: func.func @permute_inverse(%arg0: tensor<1xs0x12x64xf32>) -> tensor<1xs0x12x64xf32> {
// CHECK-NEXT:    return %arg0
func.func @permute_inverse(%x: tensor<1xs0x12x64xf32>) -> tensor<1xs0x12x64xf32> {
  %0 = sem.permute %x {dims = [0, 2, 1, 3]} : tensor<1x12xs0x64xf32>
  %1 = sem.permute %0 {dims = [0, -2, 1, -1]} : tensor<1xs0x12x64xf32>
  return %1 : tensor<1xs0x12x64xf32>
}

// -----

// The intermediate stays when something else uses it.
// CHECK-LABEL: func.func @shared(%arg0: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<24xf32>) {
// CHECK-NEXT:    %0 = sem.view %arg0 {size = [6, 4]} : tensor<6x4xf32>
// CHECK-NEXT:    %1 = sem.view %arg0 {size = [24]} : tensor<24xf32>
// CHECK-NEXT:    return %0, %1
func.func @shared(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<24xf32>) {
  %0 = sem.view %x {size = [6, 4]} : tensor<6x4xf32>
  %1 = sem.view %0 {size = [24]} : tensor<24xf32>
  return %0, %1 : tensor<6x4xf32>, tensor<24xf32>
}

// -----

// DCE: unused pure ops go, chains of them in one run, several-result ops when
// no result is used.
// CHECK-LABEL: func.func @dce(%arg0: tensor<4x8xf32>) -> tensor<4x1xi64> {
// CHECK-NEXT:    %0:2 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
// CHECK-NEXT:    return %0#1
func.func @dce(%x: tensor<4x8xf32>) -> tensor<4x1xi64> {
  %0 = sem.exp %x : tensor<4x8xf32>
  %1 = sem.neg %0 : tensor<4x8xf32>
  %2 = sem.add %1, %0 : tensor<4x8xf32>
  %3:2 = sem.sort %2 {dim = 1} : tensor<4x8xf32>, tensor<4x8xi64>
  %4:2 = sem.max_dim %x {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
  %c = sem.constant {value = 3} : i64
  return %4#1 : tensor<4x1xi64>
}

// -----

// Read-only exec ops (loads, transfers, launches) are removable when unused;
// a resident_store has an effect and stays, with what it stores.
// CHECK-LABEL: func.func @effects(%arg0: tensor<4xf32>) {
// CHECK-NEXT:    %0 = sem.neg %arg0 : tensor<4xf32>
// CHECK-NEXT:    exec.resident_store %0 {resident = @state}
// CHECK-NEXT:    return
exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "state", kind = "state", type = tensor<4xf32>, device = @gpu0}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @effects(%x: tensor<4xf32>) {
  %0 = exec.resident_load {resident = @state} : tensor<4xf32>
  %1 = exec.transfer %x {from = @gpu0, to = @gpu0} : tensor<4xf32>
  %2 = exec.launch %x {kernel = @k, device = @gpu0} : tensor<4xf32>
  %3 = sem.neg %x : tensor<4xf32>
  exec.resident_store %3 {resident = @state}
  return
}
