// SSA values: defined before use, defined once, result indices in range, and
// functions are isolated from the values around them.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @undefined(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{use of undefined value '%arg9'}}
  %0 = sem.relu %arg9 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Graphs are DAGs: a value cannot be used before the op defining it.
func.func @use_before_def(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{use of undefined value '%1'}}
  %0 = sem.relu %1 : tensor<4xf32>
  %1 = sem.relu %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @redefinition(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %arg0 : tensor<4xf32>
  // expected-error@+1 {{redefinition of SSA value '%0'}}
  %0 = sem.neg %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// expected-error@+1 {{redefinition of SSA value '%x'}}
func.func @argument_redefinition(%x: tensor<4xf32>, %x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

func.func @result_out_of_range(%arg0: tensor<4x8xf32>) -> tensor<4x1xf32> {
  %0:2 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
  // expected-error@+1 {{'%0' has 2 result(s); #2 is out of range}}
  return %0#2 : tensor<4x1xf32>
}

// -----

func.func @result_names(%arg0: tensor<4x8xf32>) -> tensor<4x1xf32> {
  // expected-error@+1 {{'sem.max_dim' declares 1 result name(s) but 2 result type(s)}}
  %0 = sem.max_dim %arg0 {dim = 1, keepdim} : tensor<4x1xf32>, tensor<4x1xi64>
  return %0 : tensor<4x1xf32>
}

// -----

func.func @result_group_count(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{invalid result count 0}}
  %0:0 = sem.relu %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Functions are isolated: a module-level value is not visible inside.
%c = sem.constant {value = 1} : i64
func.func @isolated() -> i64 {
  // expected-error@+1 {{use of undefined value '%c'}}
  return %c : i64
}

// -----

// Nor is another function's argument.
func.func @first(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @second() -> tensor<4xf32> {
  // expected-error@+1 {{use of undefined value '%arg0'}}
  %0 = sem.relu %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Names may be reused in another function.
func.func @a(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = sem.relu %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func @b(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = sem.neg %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
