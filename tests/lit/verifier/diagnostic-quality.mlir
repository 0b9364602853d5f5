// One diagnostic per problem: shape rules and exec checks do not run after an
// op's signature or attribute checks failed, and messages use the right
// article ("an integer", "an array").
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @missing_attr(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem._softmax' op requires attribute 'dim' (an integer)}}
  %0 = sem._softmax %arg0 : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @wrong_kind(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.view' op attribute 'size' must be an array of integers, got "x"}}
  %0 = sem.view %arg0 {size = "x"} : tensor<4x8xf32>
  return %arg0 : tensor<4x8xf32>
}

// -----

// expected-error@+1 {{'func.func' op requires attribute 'function_type' (a type)}}
"func.func"() ({
^bb0(%a: tensor<4xf32>):
  "func.return"(%a) : (tensor<4xf32>) -> ()
}) {sym_name = "f"} : () -> ()

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch_async' op result #0 ('future') must be a future, got tensor<4xf32>}}
  %0 = exec.launch_async %arg0 {kernel = @k, device = @gpu0} : tensor<4xf32>
  return %arg0 : tensor<4xf32>
}

// -----

func.func @article(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.native_dropout' op attribute 'p' must be a float, got an integer}}
  %0:2 = sem.native_dropout %arg0 {p = 1} : tensor<4x8xf32>, tensor<4x8xi1>
  return %0#0 : tensor<4x8xf32>
}
