// The top level: an implicit module (bare ops), an anonymous `module {}`, a
// named module with attributes, the generic "builtin.module" form, and
// attribute aliases and resource sections around the module.
// RUN: genie-opt %s --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file | genie-opt --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file --mlir-print-op-generic | genie-opt --split-input-file | FileCheck %s

// Bare ops at the top level form an implicit, anonymous module; module-level
// symbol ops and functions mix.
// CHECK:      module {
// CHECK-NEXT:   exec.device {kind = "cuda", sym_name = "gpu0"}
// CHECK-NEXT:   func.func @implicit(%arg0: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:     return %arg0 : tensor<4xf32>
// CHECK-NEXT:   }
// CHECK-NEXT: }
exec.device {sym_name = "gpu0", kind = "cuda"}
func.func @implicit(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// CHECK-LABEL: // -----
// CHECK-NEXT: module {
// CHECK-NEXT:   func.func @anonymous()
module {
  func.func @anonymous() {
    return
  }
}

// -----

// CHECK-LABEL: // -----
// CHECK-NEXT: module @gpt2_block attributes {genie.source = "hf:gpt2", genie.symbols = {s0 = [1, 1024], s1 = [0, 2048]}} {
// CHECK-NEXT:   func.func @named()
module @gpt2_block attributes {genie.symbols = {s0 = [1, 1024], s1 = [0, 2048]}, genie.source = "hf:gpt2"} {
  func.func @named() {
    return
  }
}

// -----

// A module name needing quotes.
// CHECK-LABEL: // -----
// CHECK-NEXT: module @"my model.v2" {
module @"my model.v2" {
  func.func @quoted() {
    return
  }
}

// -----

// The generic module, with its name as an attribute.
// CHECK-LABEL: // -----
// CHECK-NEXT: module @from_generic attributes {genie.flag} {
// CHECK-NEXT:   func.func @g()
"builtin.module"() ({
  "func.func"() ({
    "func.return"() : () -> ()
  }) {function_type = () -> (), sym_name = "g"} : () -> ()
}) {genie.flag, sym_name = "from_generic"} : () -> ()

// -----

// Aliases (`#name = attr`) come before the module; a resource section (the
// dense data of dense_resource handles) after it is skipped: Genie keeps
// weights outside the IR.
// CHECK-LABEL: // -----
// CHECK-NEXT: module {
// CHECK-NEXT:   func.func @aliases() -> tensor<2xf32> attributes {genie.dims = [2, 3], genie.seq = s0 * 2} {
// CHECK-NEXT:     %0 = sem.constant {value = dense_resource<blob1> : tensor<2xf32>} : tensor<2xf32>
// CHECK-NEXT:     return %0 : tensor<2xf32>
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NOT: dialect_resources
#map = affine_map<()[s0] -> (s0 * 2)>
#dims = [2, 3]
module {
  func.func @aliases() -> tensor<2xf32> attributes {genie.seq = #map, genie.dims = #dims} {
    %0 = sem.constant {value = dense_resource<blob1> : tensor<2xf32>} : tensor<2xf32>
    return %0 : tensor<2xf32>
  }
}
{-#
  dialect_resources: {
    builtin: {
      blob1: "0x040000000000803F00000040"
    }
  }
#-}
