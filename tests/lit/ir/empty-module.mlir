// Empty modules: `module {}`, and (with --split-input-file, the first chunk)
// no ops at all. The generic form keeps the body's one block, as MLIR
// requires (`({})` would be a region with no block), and mlir-opt reads it.
// RUN: genie-opt %s | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: genie-opt %s --mlir-print-op-generic | genie-opt | FileCheck %s
// RUN: genie-opt %s --mlir-print-op-generic | mlir-opt | FileCheck %s
// RUN: genie-opt %s --split-input-file --mlir-print-op-generic | mlir-opt --split-input-file -o /dev/null

// CHECK:      module {
// CHECK-NEXT: }
// CHECK-NOT:  {{.}}

// GENERIC:      "builtin.module"() ({
// GENERIC-NEXT: ^bb0:
// GENERIC-NEXT: }) : () -> ()
// GENERIC-NOT:  {{.}}

// -----

module {
}
