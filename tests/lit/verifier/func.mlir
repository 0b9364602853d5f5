// func.func / func.return structure, function types, and module-level symbols.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @return_type(%arg0: tensor<4x8xf32>) -> tensor<4x9xf32> {
  // expected-error@+1 {{'func.return' op result #0 has type tensor<4x8xf32> but the function returns tensor<4x9xf32>}}
  return %arg0 : tensor<4x8xf32>
}

// -----

func.func @return_count(%arg0: tensor<4x8xf32>) -> (tensor<4x8xf32>, i64) {
  // expected-error@+1 {{'func.return' op returns 1 value(s) but the function type has 2 result(s)}}
  return %arg0 : tensor<4x8xf32>
}

// -----

// The types written after `return` must be the operands' types.
func.func @return_annotation(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{return operand #0 has type tensor<4x8xf32>, not tensor<4x9xf32>}}
  return %arg0 : tensor<4x9xf32>
}

// -----

func.func @return_annotation_count(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{return has 1 operand(s) but 2 type(s)}}
  return %arg0 : tensor<4x8xf32>, i64
}

// -----

// Returned values must have exactly the function's result types, as upstream
// func.return requires: a compatible but less precise type is an error.
func.func @return_compatible(%arg0: tensor<?x8xf32>, %arg1: tensor<s0x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  // expected-error@+2 {{'func.return' op result #0 has type tensor<?x8xf32> but the function returns tensor<4x8xf32>}}
  // expected-error@+1 {{'func.return' op result #1 has type tensor<s0x8xf32> but the function returns tensor<4x8xf32>}}
  return %arg0, %arg1 : tensor<?x8xf32>, tensor<s0x8xf32>
}

// -----

// expected-error@+1 {{'func.func' op body must end with 'func.return'}}
func.func @no_return(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = sem.relu %arg0 : tensor<4x8xf32>
}

// -----

// expected-error@+1 {{'func.func' op body must end with 'func.return'}}
func.func @return_not_last(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'func.return' op must be the last op of its block}}
  return %arg0 : tensor<4x8xf32>
  %0 = sem.relu %arg0 : tensor<4x8xf32>
}

// -----

// expected-error@+1 {{'func.return' op must be inside a 'func.func'}}
"func.return"() : () -> ()

// -----

func.func @f() -> () {
  // expected-error@+1 {{'func.return' has no results}}
  %0 = return
}

// -----

// Generic functions: the entry block must match the function type...
// expected-error@+1 {{'func.func' op entry block arguments do not match the function type's inputs}}
"func.func"() ({
^bb0(%a: tensor<4xf32>):
  "func.return"(%a) : (tensor<4xf32>) -> ()
}) {function_type = (tensor<8xf32>) -> tensor<4xf32>, sym_name = "f"} : () -> ()

// -----

// ...which must be a function type.
// expected-error@+1 {{'func.func' op attribute 'function_type' must be a function type}}
"func.func"() ({
^bb0(%a: tensor<4xf32>):
  "func.return"(%a) : (tensor<4xf32>) -> ()
}) {function_type = i64, sym_name = "f"} : () -> ()

// -----

"func.func"() ({
^bb0(%a: tensor<4xf32>):
  "func.return"(%a) : (tensor<4xf32>) -> ()
// Genie regions hold one block.
// expected-error@+1 {{expected an identifier, found '^bb1:'}}
^bb1:
  "func.return"(%a) : (tensor<4xf32>) -> ()
}) {function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "f"} : () -> ()

// -----

func.func @f() {
  return
}
// expected-error@+1 {{'func.func' op redefines symbol '@f'}}
func.func @f() {
  return
}

// -----

exec.device {sym_name = "d", kind = "cuda"}
// Symbols share one table, whatever op defines them.
// expected-error@+1 {{'func.func' op redefines symbol '@d'}}
func.func @d() {
  return
}

// -----

func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.device' op declares a symbol and must be at module level}}
  exec.device {sym_name = "d", kind = "cuda"}
  return %arg0 : tensor<4xf32>
}

// -----

// A function (a captured graph) may carry semantic attributes such as its
// phase; their values are checked like on any op.
// expected-error@+1 {{'func.func' op attribute 'sem.phase' must be one of "prefill", "decode", "encode", "train-forward", "train-backward", got "decoding"}}
func.func @f() attributes {sem.phase = "decoding"} {
  return
}

// -----

// Other attributes on functions must be dialect-prefixed.
// expected-error@+1 {{'func.func' op unknown attribute 'inline' (known: sym_name, function_type, sym_visibility)}}
func.func @f() attributes {inline} {
  return
}
