// genie-cse: a pure op with the same name, operands, attributes and result
// types as an earlier one is replaced by it (then deleted). Ops that read
// state are never merged; functions are isolated scopes.
// RUN: genie-opt %s --genie-cse | FileCheck %s

// CHECK-LABEL: func.func @duplicates(%arg0: tensor<4x8xf32>)
func.func @duplicates(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK-NEXT: %0 = sem.exp %arg0 : tensor<4x8xf32>
  // CHECK-NEXT: %1 = sem.add %0, %0 : tensor<4x8xf32>
  // CHECK-NEXT: return %1, %1, %0 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
  %0 = sem.exp %x : tensor<4x8xf32>
  %1 = sem.exp %x : tensor<4x8xf32>
  // Once %1 is %0, these two are duplicates as well.
  %2 = sem.add %0, %1 : tensor<4x8xf32>
  %3 = sem.add %1, %0 : tensor<4x8xf32>
  return %2, %3, %1 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func.func @differences(%arg0: tensor<4x8xf32>, %arg1: tensor<4x8xf32>)
func.func @differences(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK-NEXT: %0 = sem.add %arg0, %arg1 {alpha = 2} : tensor<4x8xf32>
  // CHECK-NEXT: %1 = sem.add %arg0, %arg1 {alpha = 3} : tensor<4x8xf32>
  // CHECK-NEXT: %2 = sem.add %arg0, %arg1 : tensor<4x8xf32>
  // CHECK-NEXT: %3 = sem.add %arg1, %arg0 : tensor<4x8xf32>
  // CHECK-NEXT: %4 = sem.sub %arg0, %arg1 : tensor<4x8xf32>
  // CHECK-NEXT: %5 = sem.add %arg0, %arg1 {sem.layer = 1} : tensor<4x8xf32>
  // CHECK-NEXT: return %0, %1, %2, %3, %4, %5
  // Different attributes...
  %0 = sem.add %x, %y {alpha = 2} : tensor<4x8xf32>
  %1 = sem.add %x, %y {alpha = 3} : tensor<4x8xf32>
  %2 = sem.add %x, %y : tensor<4x8xf32>
  // ...operand order (no commutativity is assumed)...
  %3 = sem.add %y, %x : tensor<4x8xf32>
  // ...op names...
  %4 = sem.sub %x, %y : tensor<4x8xf32>
  // ...and semantic attributes all keep ops apart.
  %5 = sem.add %x, %y {sem.layer = 1} : tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// Result types are part of the key: a less precise declared type is a
// different op until shape inference makes them equal.
// CHECK-LABEL: func.func @types(%arg0: tensor<4x8xf32>)
func.func @types(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<?x8xf32>) {
  // CHECK-NEXT: %0 = sem.relu %arg0 : tensor<4x8xf32>
  // CHECK-NEXT: %1 = sem.relu %arg0 : tensor<?x8xf32>
  %0 = sem.relu %x : tensor<4x8xf32>
  %1 = sem.relu %x : tensor<?x8xf32>
  return %0, %1 : tensor<4x8xf32>, tensor<?x8xf32>
}

// Locations are not part of the key; the first op (and its location) stays.
// Several-result ops merge result by result; constants merge too.
// CHECK-LABEL: func.func @multi(%arg0: tensor<4x8xf32>)
func.func @multi(%x: tensor<4x8xf32>) -> (tensor<4x1xi64>, tensor<4x1xf32>, i64, i64) {
  // CHECK-NEXT: %0:2 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64> loc("first.py":1:0)
  // CHECK-NEXT: %1 = sem.constant {value = 768} : i64
  // CHECK-NEXT: return %0#1, %0#0, %1, %1
  %0:2 = sem.max_dim %x {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64> loc("first.py":1:0)
  %1:2 = sem.max_dim %x {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64> loc("second.py":2:0)
  %c = sem.constant {value = 768} : i64
  %d = sem.constant {value = 768} : i64
  return %0#1, %1#0, %c, %d : tensor<4x1xi64>, tensor<4x1xf32>, i64, i64
}

// Functions are separate scopes: identical ops in two functions both stay.
// CHECK-LABEL: func.func @scope_a(%arg0: tensor<4xf32>)
// CHECK-NEXT:    %0 = sem.tanh %arg0 : tensor<4xf32>
// CHECK-LABEL: func.func @scope_b(%arg0: tensor<4xf32>)
// CHECK-NEXT:    %0 = sem.tanh %arg0 : tensor<4xf32>
func.func @scope_a(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.tanh %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @scope_b(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.tanh %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Reads of state are not pure: two loads of the same resident (a store may
// come between them) and two launches stay separate.
exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "kv", kind = "kv_cache", type = tensor<4xf32>, device = @gpu0}
// CHECK-LABEL: func.func @state(%arg0: tensor<4xf32>)
func.func @state(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK-NEXT: %0 = exec.resident_load {resident = @kv} : tensor<4xf32>
  // CHECK-NEXT: exec.resident_store %arg0 {resident = @kv}
  // CHECK-NEXT: %1 = exec.resident_load {resident = @kv} : tensor<4xf32>
  // CHECK-NEXT: %2 = exec.launch %0 {device = @gpu0, kernel = @scope_a} : tensor<4xf32>
  // CHECK-NEXT: %3 = exec.launch %0 {device = @gpu0, kernel = @scope_a} : tensor<4xf32>
  // CHECK-NEXT: return %0, %1, %2, %3
  %0 = exec.resident_load {resident = @kv} : tensor<4xf32>
  exec.resident_store %x {resident = @kv}
  %1 = exec.resident_load {resident = @kv} : tensor<4xf32>
  %2 = exec.launch %0 {kernel = @scope_a, device = @gpu0} : tensor<4xf32>
  %3 = exec.launch %0 {kernel = @scope_a, device = @gpu0} : tensor<4xf32>
  return %0, %1, %2, %3 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// After merging, what became unused is deleted.
// CHECK-LABEL: func.func @cleanup(%arg0: tensor<4xf32>)
// CHECK-NEXT:    %0 = sem.exp %arg0 : tensor<4xf32>
// CHECK-NEXT:    %1 = sem.neg %0 : tensor<4xf32>
// CHECK-NEXT:    return %1
func.func @cleanup(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.exp %x : tensor<4xf32>
  %1 = sem.neg %0 : tensor<4xf32>
  %2 = sem.exp %x : tensor<4xf32>
  %3 = sem.neg %2 : tensor<4xf32>
  return %3 : tensor<4xf32>
}
