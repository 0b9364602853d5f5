// exec dialect: symbol references resolve to the right kind of op, transfers
// and awaits preserve types, launches match their kernel's signature, and
// resident state is read and written at its declared type.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch' op 'device' refers to undefined symbol '@gpu1'}}
  %0 = exec.launch %arg0 {kernel = @k, device = @gpu1} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.transfer' op 'to' refers to undefined symbol '@client'}}
  %0 = exec.transfer %arg0 {from = @gpu0, to = @client} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// expected-error@+1 {{'exec.resident' op 'device' refers to undefined symbol '@gpu0'}}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @gpu0}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch' op 'kernel' refers to '@gpu0', a 'exec.device', but must name a 'func.func'}}
  %0 = exec.launch %arg0 {kernel = @gpu0, device = @gpu0} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch' op 'device' refers to '@k', a 'func.func', but must name a 'exec.device'}}
  %0 = exec.launch %arg0 {kernel = @k, device = @k} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.transfer' op result type tensor<8xf32> must be tensor<4xf32>}}
  %0 = exec.transfer %arg0 {from = @gpu0, to = @gpu0} : tensor<8xf32>
  return %arg0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.transfer_async' op result type !exec.future<tensor<8xf32>> must be !exec.future<tensor<4xf32>>}}
  %0 = exec.transfer_async %arg0 {from = @gpu0, to = @gpu0} : !exec.future<tensor<8xf32>>
  return %arg0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<8xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch' op arguments do not match the kernel's inputs}}
  %0 = exec.launch %arg0 {kernel = @k, device = @gpu0} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.recompute' op arguments do not match the kernel's inputs}}
  %0 = exec.recompute %arg0, %arg0 {kernel = @k, device = @gpu0} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error@+1 {{'exec.launch' op results do not match the kernel's outputs}}
  %0 = exec.launch %arg0 {kernel = @k, device = @gpu0} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// launch_async yields futures of the kernel's results.
exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.launch_async' op results do not match the kernel's outputs}}
  %0 = exec.launch_async %arg0 {kernel = @k, device = @gpu0} : !exec.future<tensor<8xf32>>
  return %arg0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @k(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  return %arg0 : tensor<4xf32>
}
func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.launch_async %arg0 {kernel = @k, device = @gpu0} : !exec.future<tensor<4xf32>>
  // expected-error@+1 {{'exec.await' op awaits a future of tensor<4xf32> but yields tensor<8xf32>}}
  %1 = exec.await %0 : tensor<8xf32>
  return %arg0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @gpu0}
func.func @main() -> tensor<8xf32> {
  // expected-error@+1 {{'exec.resident_load' op value has type tensor<8xf32> but the resident state is tensor<4xf32>}}
  %0 = exec.resident_load {resident = @w} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "kv", kind = "kv_cache", type = tensor<1x12xs0x64xf32>, device = @gpu0}
func.func @main(%arg0: tensor<1x12xs0x32xf32>) {
  // expected-error@+1 {{'exec.resident_store' op value has type tensor<1x12xs0x32xf32> but the resident state is tensor<1x12xs0x64xf32>}}
  exec.resident_store %arg0 {resident = @kv}
  return
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @main() -> tensor<4xf32> {
  // expected-error@+1 {{'exec.resident_load' op 'resident' refers to '@gpu0', a 'exec.device', but must name a 'exec.resident'}}
  %0 = exec.resident_load {resident = @gpu0} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
// expected-error@+1 {{'exec.resident' op 'init' has type tensor<8xf32> but the resident is tensor<4xf32>}}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @gpu0, init = dense_resource<blob> : tensor<8xf32>}

// -----

exec.device {sym_name = "gpu0", kind = "cuda"}
// expected-error@+1 {{'exec.resident' op attribute 'kind' must be one of "weight", "kv_cache", "state", "buffer", got "cache"}}
exec.resident {sym_name = "w", kind = "cache", type = tensor<4xf32>, device = @gpu0}

// -----

// expected-error@+1 {{'exec.device' op attribute 'kind' must be one of "client", "cpu", "cuda", got "tpu"}}
exec.device {sym_name = "d", kind = "tpu"}

// -----

// expected-error@+1 {{'exec.device' op attribute 'index' must be an integer, got "0"}}
exec.device {sym_name = "d", kind = "cuda", index = "0"}

// -----

exec.device {sym_name = "d", kind = "cuda"}
// expected-error@+1 {{'exec.device' op redefines symbol '@d'}}
exec.device {sym_name = "d", kind = "cpu"}

// -----

func.func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'exec.await' op operand #0 ('future') must be a future, got tensor<4xf32>}}
  %0 = exec.await %arg0 : tensor<4xf32>
  return %0 : tensor<4xf32>
}
