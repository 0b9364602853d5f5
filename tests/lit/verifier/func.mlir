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

// A compatible (less precise) return value is fine: ? and symbols.
func.func @return_compatible(%arg0: tensor<?x8xf32>, %arg1: tensor<s0x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
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

// Semantic attributes belong on sem/exec ops, not on functions.
// expected-error@+1 {{'func.func' op unknown semantic attribute 'sem.phase'}}
func.func @f() attributes {sem.phase = "decode"} {
  return
}

// -----

// Other attributes on functions must be dialect-prefixed.
// expected-error@+1 {{'func.func' op unknown attribute 'inline' (known: sym_name, function_type)}}
func.func @f() attributes {inline} {
  return
}
