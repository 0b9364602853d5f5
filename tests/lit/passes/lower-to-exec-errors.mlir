// genie-lower-to-exec rejects what it cannot place, at the function, naming
// it and the reason, and leaves the module as it was; genie-opt fails.
// RUN: genie-opt %s --split-input-file --genie-lower-to-exec --verify-diagnostics
// RUN: not genie-opt %s --split-input-file --genie-lower-to-exec 2>&1 >/dev/null | FileCheck %s

// A weight index past the arguments.
// CHECK: lower-to-exec-errors.mlir:[[# @LINE + 2]]:1: error: 'func.func' op @f: 'genie.weight_args' lists argument 2, but the function has 2 argument(s)
// expected-error@+1 {{'func.func' op @f: 'genie.weight_args' lists argument 2, but the function has 2 argument(s)}}
func.func @f(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> attributes {genie.weight_args = [2]} {
  %0 = sem.add %x, %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Weight indices are integers.
// CHECK: error: 'func.func' op @f: 'genie.weight_args' must be an array of argument indices, got "w"
// expected-error@+1 {{@f: 'genie.weight_args' must be an array of argument indices, got "w"}}
func.func @f(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> attributes {genie.weight_args = "w"} {
  %0 = sem.add %x, %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// A future is a pending value on some device: it cannot be a graph input.
// Every function is checked, and all problems are reported.
// CHECK: error: 'func.func' op @pending: argument #1 has type !exec.future<tensor<4xf32>>: a graph input must be a value, not a pending one
// CHECK: error: 'func.func' op @negative: 'genie.weight_args' lists argument -1, but the function has 1 argument(s)
// expected-error@+1 {{@pending: argument #1 has type !exec.future<tensor<4xf32>>: a graph input must be a value, not a pending one}}
func.func @pending(%x: tensor<4xf32>, %y: !exec.future<tensor<4xf32>>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
// expected-error@+1 {{@negative: 'genie.weight_args' lists argument -1, but the function has 1 argument(s)}}
func.func @negative(%x: tensor<4xf32>) -> tensor<4xf32> attributes {genie.weight_args = [-1]} {
  return %x : tensor<4xf32>
}
