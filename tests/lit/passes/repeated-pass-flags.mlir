// A pass flag may repeat, like mlir-opt's `--cse --canonicalize --cse`: each
// occurrence runs the pass once more, in command-line order.
// RUN: genie-opt %s --genie-cse --genie-sem-canonicalize --genie-cse --print-ir-after-all 2>&1 >/dev/null | FileCheck %s
// CHECK:      IR Dump After genie-cse
// CHECK:      IR Dump After genie-sem-canonicalize
// CHECK:      IR Dump After genie-cse
// CHECK-NOT:  IR Dump
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.clone %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
