// Rule "embedded": on the default target (one CPU in the client's process)
// nothing crosses a network, so every result comes back, KV caches too.
// RUN: genie-opt %s --genie-place --explain | FileCheck %s
// CHECK:      @decode: llm, phase decode
// CHECK:      result #0 tensor<1x5x8xf32>: embedded — the device shares the client's memory: nothing crosses a network
// MLIR-REJECTS: IRDL binds one type for all of sem.cat's variadic operands
func.func @decode(%ids: tensor<1x1xi64>, %emb: tensor<64x8xf32>, %cache: tensor<1x4x8xf32>) -> tensor<1x5x8xf32> attributes {genie.weight_args = [1], genie.workload = "llm", sem.phase = "decode", genie.arg_roles = ["input", "embedding-table", "kv-state"]} {
  %x = sem.embedding %emb, %ids : tensor<1x1x8xf32>
  %c = sem.cat %cache, %x {dim = 1, sem.role = "kv-state"} : tensor<1x5x8xf32>
  return %c : tensor<1x5x8xf32>
}
