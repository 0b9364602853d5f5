// The IRDL spec has teeth: mlir-opt-19, loaded with the checked-in sem and
// exec specs, rejects generic ops that break it. Each chunk is an invalid op
// that Genie's own verifier rejects too.
// RUN: cat %irdl_dir/sem.irdl.mlir %irdl_dir/exec.irdl.mlir > %t.irdl.mlir
// RUN: not mlir-opt --irdl-file=%t.irdl.mlir --split-input-file %s 2>&1 | FileCheck %s
// RUN: not genie-opt --split-input-file %s 2>&1 | FileCheck %s --check-prefix=GENIE

// A missing required attribute.
// CHECK: error: 'sem._softmax' op attribute "dim" is expected but not provided
// GENIE: error: 'sem._softmax' op requires attribute 'dim' (an integer)
func.func @missing_attr(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "sem._softmax"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// -----

// An attribute of the wrong kind.
// CHECK: error: expected base attribute 'builtin.integer' but got 'builtin.string'
// GENIE: error: 'sem._softmax' op attribute 'dim' must be an integer, got "x"
func.func @wrong_attr_kind(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "sem._softmax"(%arg0) {dim = "x"} : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// -----

// Too many operands.
// CHECK: error: op expects exactly 1 operands, but got 2
// GENIE: error: 'sem.relu' op expects 1 operand(s), got 2
func.func @operand_count(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "sem.relu"(%arg0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// -----

// A scalar where a tensor is required.
// CHECK: error: expected base type 'builtin.tensor' but got 'builtin.integer'
// GENIE: error: 'sem.sym_size' op operand #0 ('self') must be a tensor, got i64
func.func @operand_kind(%arg0: i64) -> i64 {
  %0 = "sem.sym_size"(%arg0) {dim = 0} : (i64) -> i64
  "func.return"(%0) : (i64) -> ()
}

// -----

// An op the dialect does not define.
// CHECK: error: unregistered operation 'sem.frobnicate' found in dialect ('sem') that does not allow unknown operations
// GENIE: error: unknown operation 'sem.frobnicate' in dialect 'sem'
func.func @unknown_op(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "sem.frobnicate"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// -----

// exec: a future is required.
// CHECK: error: expected base type 'exec.future' but got 'builtin.tensor'
// GENIE: error: 'exec.await' op operand #0 ('future') must be a future, got tensor<4xf32>
func.func @await_tensor(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "exec.await"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// -----

// exec: symbol attributes must be symbol references.
// CHECK: error: expected base attribute 'builtin.symbol_ref' but got 'builtin.string'
// GENIE: error: 'exec.resident_load' op attribute 'resident' must be a symbol reference (@name), got "w"
func.func @string_not_symbol() -> tensor<4xf32> {
  %0 = "exec.resident_load"() {resident = "w"} : () -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}
