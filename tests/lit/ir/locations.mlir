// Locations: a file position, a module path (optionally wrapping where it was
// written, nested any depth), and `unknown`, which prints nothing. Quotes in
// names are escaped. Functions and return ops keep their locations too.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @attn(%arg0: tensor<1x12x4x4xf32>) -> tensor<1x12x4x4xf32> {
func.func @attn(%x: tensor<1x12x4x4xf32>) -> tensor<1x12x4x4xf32> {
  // CHECK-NEXT: %0 = sem._softmax %arg0 {dim = -1} : tensor<1x12x4x4xf32> loc("transformer.h.0.attn"("modeling_gpt2.py":212:0))
  // GENERIC: "sem._softmax"(%arg0) {dim = -1} : (tensor<1x12x4x4xf32>) -> tensor<1x12x4x4xf32> loc("transformer.h.0.attn"("modeling_gpt2.py":212:0))
  %0 = sem._softmax %x {dim = -1} : tensor<1x12x4x4xf32> loc("transformer.h.0.attn"("modeling_gpt2.py":212:0))
  // CHECK-NEXT: %1 = sem.relu %0 : tensor<1x12x4x4xf32> loc("model.py":7:12)
  %1 = sem.relu %0 : tensor<1x12x4x4xf32> loc("model.py":7:12)
  // CHECK-NEXT: %2 = sem.neg %1 : tensor<1x12x4x4xf32> loc("encoder.layers.0")
  %2 = sem.neg %1 : tensor<1x12x4x4xf32> loc("encoder.layers.0")
  // CHECK-NEXT: %3 = sem.abs %2 : tensor<1x12x4x4xf32> loc("outer"("inner"("deep.py":1:2)))
  %3 = sem.abs %2 : tensor<1x12x4x4xf32> loc("outer"("inner"("deep.py":1:2)))
  // CHECK-NEXT: %4 = sem.exp %3 : tensor<1x12x4x4xf32>{{$}}
  %4 = sem.exp %3 : tensor<1x12x4x4xf32> loc(unknown)
  // CHECK-NEXT: %5 = sem.sign %4 : tensor<1x12x4x4xf32> loc("we\"ird\\path.py":3:4)
  %5 = sem.sign %4 : tensor<1x12x4x4xf32> loc("we\"ird\\path.py":3:4)
  // CHECK-NEXT: return %5 : tensor<1x12x4x4xf32> loc("model.py":9:4)
  return %5 : tensor<1x12x4x4xf32> loc("model.py":9:4)
// CHECK-NEXT: } loc("model.py":3:0)
} loc("model.py":3:0)

