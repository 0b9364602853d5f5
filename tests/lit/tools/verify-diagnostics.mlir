// --verify-diagnostics checks diagnostics against `expected-<severity>`
// comments: the message must contain the text in braces, on the line given
// by the comment's own line, `@+N`, `@-N`, `@above` or `@below`. Succeeds
// (status 0) when every diagnostic was expected and every expectation met;
// output of chunks without errors is still printed.
// RUN: genie-opt %s --split-input-file --verify-diagnostics | FileCheck %s

// CHECK: func.func @no_errors

func.func @same_line(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.relu %arg0 {x} : tensor<4xf32> // expected-error {{unknown attribute 'x'}}
  return %0 : tensor<4xf32>
}

// -----

func.func @relative(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+2 {{unknown attribute 'a'}}
  // A comment line in between.
  %0 = sem.relu %arg0 {a} : tensor<4xf32>
  %1 = sem.relu %0 {b} : tensor<4xf32>
  // expected-error@-1 {{unknown attribute 'b'}}
  // expected-error@below {{unknown attribute 'c'}}
  %2 = sem.relu %1 {c} : tensor<4xf32>
  %3 = sem.relu %2 {d} : tensor<4xf32>
  // expected-error@above {{unknown attribute 'd'}}
  return %3 : tensor<4xf32>
}

// -----

// Two diagnostics on one line need two expectations.
func.func @two_on_a_line(%arg0: none) -> tensor<4xf32> {
  // expected-error@+2 {{operand #0 ('self') must be a tensor or scalar}}
  // expected-error@+1 {{operand #1 ('other') must be a tensor or scalar}}
  %0 = sem.mul %arg0, %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @no_errors() {
  return
}

// Unexpected diagnostics and unmet expectations fail the run (status 1).
// RUN: %python %S/Inputs/expect-exit.py 1 genie-opt %S/Inputs/verify-diagnostics-wrong.mlir --split-input-file --verify-diagnostics 2>&1 | FileCheck %s --check-prefix=WRONG
// WRONG-DAG: verify-diagnostics-wrong.mlir:3: error: expected error on line 4 was not produced: this message is not produced
// WRONG-DAG: verify-diagnostics-wrong.mlir:11:8: error: unexpected error: 'sem.relu' op unknown attribute 'bogus' (known: none)
// WRONG-DAG: verify-diagnostics-wrong.mlir:18: error: expected error on line 18 was not produced: unknown attribute 'y'
// WRONG-DAG: verify-diagnostics-wrong.mlir:19:8: error: unexpected error: 'sem.relu' op unknown attribute 'y' (known: none)
