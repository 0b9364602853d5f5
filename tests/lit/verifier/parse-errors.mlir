// Parse errors: one located diagnostic, parsing stops at the first problem.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @f() {
  // expected-error@+1 {{unterminated string}}
  %0 = sem.constant {value = "abc} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{invalid escape in string}}
  %0 = sem.constant {value = "a\qb"} : i64
  return
}

// -----

// expected-error@+1 {{unknown type 'foo'}}
func.func @f(%a: foo) {
  return
}

// -----

// expected-error@+1 {{unknown element type 'f33' (expected one of f64, f32, f16, bf16, i64, i32, i16, i8, ui8, i1)}}
func.func @f(%a: tensor<4x8xf33>) {
  return
}

// -----

// expected-error@+1 {{unknown dialect type; Genie knows !sem.list<T> and !exec.future<T>}}
func.func @f(%a: !torch.tensor) {
  return
}

// -----

// expected-error@+1 {{expected 'x' after a tensor dimension}}
func.func @f(%a: tensor<4,8xf32>) {
  return
}

// -----

// expected-error@+1 {{dimension 99999999999999999999 is too large}}
func.func @f(%a: tensor<99999999999999999999xf32>) {
  return
}

// -----

// expected-error@+1 {{encoding names 2 symbol(s) but the tensor has 1 dynamic dim(s)}}
func.func @f(%a: tensor<?xf32, "s0,s1">) {
  return
}

// -----

// expected-error@+1 {{invalid symbol 't0' in tensor encoding (expected sN or _)}}
func.func @f(%a: tensor<?xf32, "t0">) {
  return
}

// -----

func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{unknown operation 'sem.frobnicate' in dialect 'sem' (genie-opt --list-ops lists them)}}
  %0 = sem.frobnicate %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{unknown operation 'arith.addf': Genie reads the func, sem and exec dialects}}
  %0 = arith.addf %arg0, %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{unknown operation 'exec.teleport' in dialect 'exec'}}
  %0 = "exec.teleport"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @f() {
  // expected-error@+1 {{integer 99999999999999999999 does not fit in 64 bits}}
  %0 = sem.constant {value = 99999999999999999999} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{float literal with integer type i32}}
  %0 = sem.constant {value = 1.5 : i32} : i32
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{a number's type must be a scalar type, got tensor<4xf32>}}
  %0 = sem.constant {value = 1 : tensor<4xf32>} : i32
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{unknown attribute 'bogus'}}
  %0 = sem.constant {value = bogus} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{undefined attribute alias '#nope'}}
  %0 = sem.constant {value = #nope} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{dense_resource needs a tensor type, got i64}}
  %0 = sem.constant {value = dense_resource<x> : i64} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{unknown symbol 't' in size expression}}
  %0 = sem.constant {value = s0 + t} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{symbolic sizes use symbols only: affine_map<()[s0, …] -> (expr)>}}
  %0 = sem.constant {value = affine_map<(d0) -> (d0)>} : i64
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{unsupported location: expected unknown, "file":line:col or "name"(…)}}
  %0 = sem.constant {value = 1} : i64 loc(callsite("a" at "b"))
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{expected ',', found ':'}}
  %0 = sem.constant {value = 1 : i64 : i64
  return
}

// -----

func.func @f() {
  return
// expected-error@+1 {{expected '}' before end of input}}
// -----

// expected-error@+1 {{expected a symbol name after '@'}}
func.func @() {
  return
}

// -----

module {
  func.func @f() {
    return
  }
}
// expected-error@+1 {{expected end of input after the module, found 'func.func'}}
func.func @g() {
  return
}

// -----

module {
}
// expected-error@+1 {{unterminated '{-#' resource section}}
{-# dialect_resources: {
