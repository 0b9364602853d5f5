// genie-place, one rule at a time, on a remote CPU (Inputs/remote.toml: a
// round trip moves 62,500 bytes). The graphs carry the analysis's
// annotations themselves, so each case shows exactly what a rule reads.
// RUN: genie-opt %s --split-input-file --genie-place --target=%S/Inputs/remote.toml | FileCheck %s
// RUN: genie-opt %s --split-input-file --genie-place --target=%S/Inputs/remote.toml --explain | FileCheck %s --check-prefix=WHY

// Rules "weight", "embedding-table", "input", "kv-state" (in and out) and
// "logits": an LLM decode step keeps its caches and its 200 KB of logits on
// the device (the program reads a row of them through recorded ops), and
// the weights are resident; only the token ids travel.
// CHECK-LABEL: exec.device {address = "tcp://10.0.0.1:7400", kind = "cpu", sym_name = "srv"}
// CHECK:       exec.resident {argument = 1, device = @srv, kind = "weight", sym_name = "decode_arg1"
// CHECK:       exec.resident {argument = 3, device = @srv, kind = "weight", sym_name = "decode_arg3"
// CHECK:       func.func @decode(%arg0: tensor<1x1xi64>, %arg1: tensor<1x4x8xf32>) -> (tensor<1x5x8xf32>, tensor<1x1x50000xf32>)
// CHECK-SAME:  genie.arg_rules = ["input", "embedding-table", "kv-state", "weight"]
// CHECK-SAME:  genie.result_rules = ["kv-state", "logits"]
// CHECK:       %[[L:[0-9]+]]:2 = exec.launch
// CHECK-NEXT:  return %[[L]]#0, %[[L]]#1 :
// WHY-LABEL:   @decode: llm, phase decode
// WHY-NEXT:    argument #0: input — a per-call input: sent from the client on each call
// WHY-NEXT:    argument #1: embedding-table — an embedding table: resident on the device; only the rows looked up are read
// WHY-NEXT:    argument #2: kv-state — a KV cache: stays on the device; the next step passes it back as a handle
// WHY-NEXT:    argument #3: weight — a model parameter or buffer: resident on the device, bound once
// WHY-NEXT:    result #0 tensor<1x5x8xf32>: kv-state — a KV cache: stays on the device; the next step passes it back as a handle
// WHY-NEXT:    result #1 tensor<1x1x50000xf32>: logits — an LLM step's output: stays on the device; the program reads a slice of it (generate() takes the last row) through recorded ops
// MLIR-REJECTS: IRDL binds one type for all of sem.cat's variadic operands
func.func @decode(%ids: tensor<1x1xi64>, %emb: tensor<50000x8xf32>, %cache: tensor<1x4x8xf32>, %head: tensor<8x50000xf32>) -> (tensor<1x5x8xf32>, tensor<1x1x50000xf32>) attributes {genie.weight_args = [1, 3], genie.workload = "llm", sem.phase = "decode", genie.arg_roles = ["input", "embedding-table", "kv-state", "weight"]} {
  %x = sem.embedding %emb, %ids : tensor<1x1x8xf32>
  %c = sem.cat %cache, %x {dim = 1, sem.role = "kv-state"} : tensor<1x5x8xf32>
  %v = sem.view %x {size = [1, 8]} : tensor<1x8xf32>
  %l = sem.mm %v, %head : tensor<1x50000xf32>
  %o = sem.view %l {size = [1, 1, 50000], sem.role = "output"} : tensor<1x1x50000xf32>
  return %c, %o : tensor<1x5x8xf32>, tensor<1x1x50000xf32>
}

// -----

// Rule "small": the same step with a 64-word vocabulary returns its logits
// at once (256 bytes cost less than the round trip fetching them later would).
// CHECK-LABEL: func.func @small_vocab
// CHECK-SAME:  genie.result_rules = ["kv-state", "small"]
// CHECK:       %[[L:[0-9]+]]:2 = exec.launch
// CHECK-NEXT:  %[[T:[0-9]+]] = exec.transfer %[[L]]#1 {from = @srv, to = @client}
// CHECK-NEXT:  return %[[L]]#0, %[[T]] :
// WHY: result #1 tensor<1x1x64xf32>: small — smaller than what the link moves in one round trip: cheaper to return now than to fetch later
// MLIR-REJECTS: IRDL binds one type for all of sem.cat's variadic operands
func.func @small_vocab(%ids: tensor<1x1xi64>, %emb: tensor<64x8xf32>, %cache: tensor<1x4x8xf32>, %head: tensor<8x64xf32>) -> (tensor<1x5x8xf32>, tensor<1x1x64xf32>) attributes {genie.weight_args = [1, 3], genie.workload = "llm", sem.phase = "decode", genie.arg_roles = ["input", "embedding-table", "kv-state", "weight"]} {
  %x = sem.embedding %emb, %ids : tensor<1x1x8xf32>
  %c = sem.cat %cache, %x {dim = 1, sem.role = "kv-state"} : tensor<1x5x8xf32>
  %v = sem.view %x {size = [1, 8]} : tensor<1x8xf32>
  %l = sem.mm %v, %head : tensor<1x64xf32>
  %o = sem.view %l {size = [1, 1, 64], sem.role = "output"} : tensor<1x1x64xf32>
  return %c, %o : tensor<1x5x8xf32>, tensor<1x1x64xf32>
}

// -----

// Rule "output": an encoder's (or a classifier's) result comes back, large
// or not: the program called the model to get it.
// CHECK-LABEL: func.func @encode
// CHECK-SAME:  genie.result_rules = ["output"]
// WHY: result #0 tensor<128x768xf32>: output — an inference result: comes back to the program
func.func @encode(%x: tensor<128x768xf32>, %w: tensor<768x768xf32>) -> tensor<128x768xf32> attributes {genie.weight_args = [1], genie.workload = "llm", sem.phase = "encode", genie.arg_roles = ["input", "weight"]} {
  %0 = sem.mm %x, %w : tensor<128x768xf32>
  return %0 : tensor<128x768xf32>
}

// -----

// Rules "loss" and "saved-for-backward": a training forward graph returns
// its scalar loss and keeps the activations the backward graph reads.
// CHECK-LABEL: func.func @train
// CHECK-SAME:  genie.result_rules = ["loss", "saved-for-backward"]
// WHY: result #0 tensor<f32>: loss — a training step's scalar loss: comes back
// WHY: result #1 tensor<128x768xf32>: saved-for-backward — saved for the backward graph: stays on the device
func.func @train(%x: tensor<128x768xf32>, %w: tensor<768x768xf32>) -> (tensor<f32>, tensor<128x768xf32>) attributes {genie.weight_args = [1], genie.workload = "unknown", sem.phase = "train-forward", genie.arg_roles = ["input", "weight"]} {
  %0 = sem.mm %x, %w : tensor<128x768xf32>
  %1 = sem.sum %0 : tensor<f32>
  return %1, %0 : tensor<f32>, tensor<128x768xf32>
}

// -----

// Rule "gradient": a backward graph's results go to the optimizer.
// CHECK-LABEL: func.func @backward
// CHECK-SAME:  genie.result_rules = ["gradient"]
// WHY: result #0 tensor<768x768xf32>: gradient — a gradient: comes back to the optimizer
func.func @backward(%x: tensor<128x768xf32>, %g: tensor<128x768xf32>) -> tensor<768x768xf32> attributes {genie.workload = "unknown", sem.phase = "train-backward", genie.arg_roles = ["input", "input"]} {
  %0 = sem.permute %x {dims = [1, 0]} : tensor<768x128xf32>
  %1 = sem.mm %0, %g : tensor<768x768xf32>
  return %1 : tensor<768x768xf32>
}

// -----

// Rule "unknown": a graph the analysis recognises nothing in keeps a result
// larger than a round trip's worth on the device until the program reads it
// (a remote tensor).
// CHECK-LABEL: func.func @unrecognised
// CHECK-SAME:  genie.result_rules = ["unknown"]
// CHECK:       %[[L:[0-9]+]] = exec.launch
// CHECK-NEXT:  return %[[L]] :
// WHY: result #0 tensor<128x256xf32>: unknown — nothing the analysis found says the program reads it: stays on the device until the program does
func.func @unrecognised(%x: tensor<128x256xf32>) -> tensor<128x256xf32> attributes {genie.workload = "unknown", sem.phase = "encode", genie.arg_roles = ["input"]} {
  %0 = sem.relu %x : tensor<128x256xf32>
  return %0 : tensor<128x256xf32>
}
