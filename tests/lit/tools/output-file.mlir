// -o writes the output to a file (nothing on stdout); `-o -` is stdout.
// RUN: genie-opt %s -o %t.out.mlir | FileCheck %s --check-prefix=EMPTY --allow-empty
// RUN: FileCheck %s < %t.out.mlir
// RUN: genie-opt %s -o - | FileCheck %s
// RUN: genie-opt %s --genie-sem-canonicalize -o %t.canon.mlir
// RUN: FileCheck %s --check-prefix=CANON < %t.canon.mlir
// With --split-input-file, all chunks go to the one file.
// RUN: genie-opt %s --split-input-file -o %t.split.mlir
// RUN: FileCheck %s --check-prefix=SPLIT < %t.split.mlir

// EMPTY-NOT: {{.}}

// CHECK: func.func @to_file(%arg0: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %0 = sem.clone %arg0
// CANON: func.func @to_file(%arg0: tensor<4xf32>) -> tensor<4xf32>
// CANON-NEXT: return %arg0
// SPLIT: func.func @to_file
// SPLIT-NEXT: sem.clone
// SPLIT: // -----
// SPLIT: func.func @second
func.func @to_file(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.clone %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @second() {
  return
}

// An output file that cannot be written is an error (status 1).
// RUN: not genie-opt %s -o %t.missing-dir/out.mlir 2>&1 | FileCheck %s --check-prefix=UNWRITABLE
// UNWRITABLE: genie-opt: error: cannot write '{{.*}}missing-dir/out.mlir': No such file or directory
