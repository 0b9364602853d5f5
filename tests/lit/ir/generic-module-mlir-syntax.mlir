// MLIR's generic module form puts inherent attributes in properties before
// the region (`"builtin.module"() <{sym_name = "m"}> ({…})`); genie-opt reads
// it, so a named module survives a trip through mlir-opt.
// RUN: genie-opt %s | FileCheck %s
// A named module, through mlir-opt and back.
// RUN: genie-opt %s --mlir-print-op-generic | mlir-opt --mlir-print-op-generic | genie-opt | FileCheck %s

// CHECK:      module @m {
// CHECK-NEXT:   func.func @f() {
"builtin.module"() <{sym_name = "m"}> ({
  "func.func"() <{function_type = () -> (), sym_name = "f"}> ({
    "func.return"() : () -> ()
  }) : () -> ()
}) : () -> ()

