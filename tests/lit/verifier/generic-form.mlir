// The generic form states operand types; they must be the operands' types.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @f(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{operand #0 of 'sem.relu' has type tensor<4x8xf32> but the op's type says tensor<4x9xf32>}}
  %0 = "sem.relu"(%arg0) : (tensor<4x9xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @f(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.add' has 2 operand(s) but its type lists 1}}
  %0 = "sem.add"(%arg0, %arg0) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @f() -> i64 {
  // expected-error@+1 {{expected a function type '(operands) -> results'}}
  %0 = "sem.constant"() {value = 1} : i64
  return %0 : i64
}

// -----

func.func @f() -> i64 {
  // expected-error@+1 {{'sem.constant' declares 1 result name(s) but 2 result type(s)}}
  %0 = "sem.constant"() {value = 1} : () -> (i64, i64)
  return %0 : i64
}

// -----

// Properties (`<{…}>`) and attributes both land in the op's attributes; the
// verifier then sees them as usual.
func.func @f(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem._softmax' op unknown attribute 'bogus' (known: dim, half_to_float)}}
  %0 = "sem._softmax"(%arg0) <{dim = 1}> {bogus} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

"builtin.module"() ({
// expected-error@+1 {{builtin.module has type () -> ()}}
}) : (i64) -> ()

// -----

// Valid: properties, attributes and a location together.
func.func @ok(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = "sem._softmax"(%arg0) <{dim = 1}> {sem.layer = 2} : (tensor<4x8xf32>) -> tensor<4x8xf32> loc("m.py":1:1)
  "func.return"(%0) : (tensor<4x8xf32>) -> ()
}
