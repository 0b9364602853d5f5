// Choosing and observing passes: --pass-pipeline (optionally wrapped in
// builtin.module(…)), pass flags run in command-line order (interleaved with a
// pipeline by position), --compile-to=<phase>, --disable-pass,
// --print-ir-after-all / --print-ir-after (IR on stderr, in the output form
// chosen), --genie-bisect-limit.

// RUN: genie-opt %s --pass-pipeline='builtin.module(genie-sem-canonicalize,genie-cse)' | FileCheck %s --check-prefix=FULL
// RUN: genie-opt %s --pass-pipeline=genie-sem-canonicalize,genie-cse | FileCheck %s --check-prefix=FULL
// RUN: genie-opt %s --genie-sem-canonicalize --genie-cse | FileCheck %s --check-prefix=FULL
// RUN: genie-opt %s --compile-to=sem | FileCheck %s --check-prefix=FULL
// FULL-LABEL: func.func @f(%arg0: tensor<s0x8xf32>) -> (tensor<s0x8xf32>, tensor<s0x8xf32>, i64) {
// FULL-NEXT:    %0 = sem.exp %arg0 : tensor<s0x8xf32>
// FULL-NEXT:    %1 = sem.constant {value = s0 * 8} : i64
// FULL-NEXT:    return %0, %0, %1 : tensor<s0x8xf32>, tensor<s0x8xf32>, i64

// Only canonicalize: the duplicate exps stay.
// RUN: genie-opt %s --genie-sem-canonicalize | FileCheck %s --check-prefix=CANON
// RUN: genie-opt %s --compile-to=sem --disable-pass=genie-cse | FileCheck %s --check-prefix=CANON
// CANON-LABEL: func.func @f
// CANON-NEXT:    %0 = sem.exp %arg0 : tensor<s0x8xf32>
// CANON-NEXT:    %1 = sem.exp %arg0 : tensor<s0x8xf32>
// CANON-NEXT:    %2 = sem.constant {value = s0 * 8} : i64
// CANON-NEXT:    return %0, %1, %2

// --compile-to=input only parses and verifies: no pass runs.
// RUN: genie-opt %s --compile-to=input | FileCheck %s --check-prefix=NONE
// RUN: genie-opt %s --compile-to=sem --genie-bisect-limit=0 | FileCheck %s --check-prefix=NONE
// RUN: genie-opt %s --pass-pipeline='builtin.module()' | FileCheck %s --check-prefix=NONE
// NONE-LABEL: func.func @f
// NONE-NEXT:    %0 = sem.clone %arg0 : tensor<s0x8xf32>
// NONE-NEXT:    %1 = sem.exp %0 : tensor<s0x8xf32>

// --print-ir-after-all prints after every pass, in order, on stderr.
// RUN: genie-opt %s --compile-to=sem --print-ir-after-all -o %t.out 2>&1 | FileCheck %s --check-prefix=ALL
// ALL:      // -----// IR Dump After genie-sem-infer-shapes //----- //
// ALL-NEXT: module {
// ALL:      sem.clone
// ALL:      // -----// IR Dump After genie-sem-canonicalize //----- //
// ALL-NOT:  sem.clone
// ALL:      sem.exp
// ALL-NEXT: sem.exp
// ALL:      // -----// IR Dump After genie-cse //----- //
// ALL:      sem.exp
// ALL-NOT:  sem.exp
// ALL:      // -----// IR Dump After genie-sem-fold-matmul-scale //----- //
// ALL:      // -----// IR Dump After genie-sem-infer-shapes //----- //
// ALL-NOT:  IR Dump
// Stdout (here the -o file) has only the final module.
// RUN: FileCheck %s --check-prefix=FULL < %t.out

// Pass flags run in command-line order; so do a pipeline and flags around it.
// RUN: genie-opt %s --genie-cse --genie-sem-canonicalize --print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=ORDER1
// ORDER1:      IR Dump After genie-cse
// ORDER1-NEXT: module
// ORDER1:      IR Dump After genie-sem-canonicalize
// ORDER1-NOT:  IR Dump
// RUN: genie-opt %s --genie-sem-infer-shapes --pass-pipeline=genie-cse,genie-sem-canonicalize --genie-sem-canonicalize --print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=ORDER2
// ORDER2:      IR Dump After genie-sem-infer-shapes
// ORDER2:      IR Dump After genie-cse
// ORDER2:      IR Dump After genie-sem-canonicalize
// ORDER2:      IR Dump After genie-sem-canonicalize
// ORDER2-NOT:  IR Dump

// --print-ir-after=<pass> (repeatable) prints after the named passes only,
// and --mlir-print-op-generic applies to the dumps.
// RUN: genie-opt %s --compile-to=sem --print-ir-after=genie-cse --mlir-print-op-generic 2>&1 >/dev/null | FileCheck %s --check-prefix=AFTER
// AFTER-NOT:  IR Dump After genie-sem
// AFTER:      // -----// IR Dump After genie-cse //----- //
// AFTER-NEXT: "builtin.module"() ({
// AFTER-NOT:  IR Dump
// RUN: genie-opt %s --compile-to=sem --print-ir-after=genie-cse --print-ir-after=genie-sem-infer-shapes 2>&1 >/dev/null | FileCheck %s --check-prefix=AFTER2
// AFTER2-COUNT-1: IR Dump After genie-sem-infer-shapes
// AFTER2-NEXT:    module {
// AFTER2:         IR Dump After genie-cse
// AFTER2:         IR Dump After genie-sem-infer-shapes
// AFTER2-NOT:     IR Dump

// --disable-pass skips a pass wherever it appears (both infer-shapes runs).
// RUN: genie-opt %s --compile-to=sem --disable-pass=genie-sem-infer-shapes --print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=DISABLED
// DISABLED-NOT: IR Dump After genie-sem-infer-shapes
// DISABLED:     IR Dump After genie-sem-canonicalize
// DISABLED:     IR Dump After genie-cse
// DISABLED:     IR Dump After genie-sem-fold-matmul-scale
// DISABLED-NOT: IR Dump

// --genie-bisect-limit=N runs only the first N passes.
// RUN: genie-opt %s --compile-to=sem --genie-bisect-limit=2 --print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=BISECT
// BISECT:     IR Dump After genie-sem-infer-shapes
// BISECT:     IR Dump After genie-sem-canonicalize
// BISECT-NOT: IR Dump

func.func @f(%x: tensor<s0x8xf32>) -> (tensor<s0x8xf32>, tensor<s0x8xf32>, i64) {
  %0 = sem.clone %x : tensor<s0x8xf32>
  %1 = sem.exp %0 : tensor<s0x8xf32>
  %2 = sem.exp %x : tensor<s0x8xf32>
  %3 = sem.sym_numel %x : i64
  return %1, %2, %3 : tensor<s0x8xf32>, tensor<s0x8xf32>, i64
}
