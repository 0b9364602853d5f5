// Diagnostics print as `file:line:col: error: 'op' op message`, pointing at the
// op name, and name the PyTorch source location when the op has one. With
// --split-input-file, line numbers stay those of the whole file. genie-opt
// exits with status 1.
// RUN: not genie-opt %s --split-input-file 2>&1 | FileCheck %s -DFILE=%s
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @f(%arg0: tensor<4x8xf32>, %arg1: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: [[FILE]]:[[# @LINE + 2]]:8: error: 'sem.mm' op contraction dims differ: 8 vs 4 [at module 'transformer.h.0.mlp' (modeling_gpt2.py:212)]
  // expected-error@+1 {{contraction dims differ: 8 vs 4 [at module 'transformer.h.0.mlp' (modeling_gpt2.py:212)]}}
  %0 = sem.mm %arg0, %arg1 : tensor<4x8xf32> loc("transformer.h.0.mlp"("modeling_gpt2.py":212:0))
  return %0 : tensor<4x8xf32>
}

// -----

func.func @g(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: [[FILE]]:[[# @LINE + 2]]:8: error: 'sem.relu' op unknown attribute 'x' (known: none) [at model.py:7]
  // expected-error@+1 {{unknown attribute 'x' (known: none) [at model.py:7]}}
  %0 = sem.relu %arg0 {x} : tensor<4x8xf32> loc("model.py":7:3)
  // CHECK: [[FILE]]:[[# @LINE + 2]]:8: error: 'sem.neg' op unknown attribute 'y' (known: none) [at module 'encoder']
  // expected-error@+1 {{unknown attribute 'y' (known: none) [at module 'encoder']}}
  %1 = sem.neg %0 {y} : tensor<4x8xf32> loc("encoder")
  return %1 : tensor<4x8xf32>
}

// -----

// A parse error in one chunk does not stop the others; its column points at
// the offending token.
func.func @h(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: [[FILE]]:[[# @LINE + 2]]:17: error: use of undefined value '%nope'
  // expected-error@+1 {{use of undefined value '%nope'}}
  %0 = sem.relu %nope : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
