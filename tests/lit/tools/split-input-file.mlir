// --split-input-file: each `// -----` chunk is its own module; the outputs are
// joined with `// -----` lines (so the output splits the same way again), and
// an error in one chunk does not stop the others but makes the run fail.
// RUN: genie-opt %s --split-input-file | FileCheck %s
// RUN: genie-opt %s --split-input-file | genie-opt --split-input-file | FileCheck %s
// Without the flag the marker is an ordinary comment: one module, in which a
// nested `module` is an unknown op.
// RUN: not genie-opt %s 2>&1 | FileCheck %s --check-prefix=WHOLE

// CHECK:      module {
// CHECK-NEXT:   func.func @first() {
// CHECK-NEXT:     return
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NEXT: // -----
// CHECK-NEXT: module {
// CHECK-NEXT:   func.func @second() {
// CHECK-NEXT:     return
// CHECK-NEXT:   }
// CHECK-NEXT:   func.func @first() {
// CHECK-NEXT:     return
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NEXT: // -----
// CHECK-NEXT: module @third {
// CHECK-NEXT:   func.func @first() {
// CHECK-NEXT:     return
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NOT:  {{.}}

// WHOLE: split-input-file.mlir:{{[0-9]+}}:1: error: unknown operation 'module': Genie reads the func, sem and exec dialects

func.func @first() {
  return
}

// -----

// Each chunk has its own symbols and value names.
func.func @second() {
  return
}
func.func @first() {
  return
}

// -----

module @third {
  func.func @first() {
    return
  }
}

// An error in the middle chunk: the others still print, the status is 1, and
// the diagnostic carries the line in the whole file.
// RUN: %python %S/Inputs/expect-exit.py 1 genie-opt %S/Inputs/split-with-error.mlir --split-input-file > %t.out 2> %t.err
// RUN: FileCheck %s --check-prefix=PARTIAL < %t.out
// RUN: FileCheck %s --check-prefix=PARTIAL-ERR < %t.err
// PARTIAL:      func.func @ok1
// PARTIAL-NEXT:   return
// PARTIAL:      // -----
// PARTIAL-NEXT: module {
// PARTIAL-NEXT:   func.func @ok2
// PARTIAL-NOT:  @broken
// PARTIAL-ERR:  split-with-error.mlir:9:17: error: use of undefined value '%missing'
