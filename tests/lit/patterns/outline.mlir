// genie-sem-outline-patterns: each pattern the extraction keeps becomes a
// sem.region op whose ops move into a private function; the region's type is
// its body's. Bodies are functions, not nested regions, for the reason exec
// kernels are (MLIR 19's IRDL cannot declare a region terminator); a region
// over operands of different types meets IRDL's one-type-per-variadic-list
// limit (see the README's known limits), as exec.launch does.
// RUN: genie-opt %s --split-input-file --genie-sem-outline-patterns | FileCheck %s

// An MLP (linear → GELU → linear) is one region; the body keeps every op.
// CHECK-LABEL: func.func @mlp
// CHECK-NEXT: %0 = sem.region %arg0, %arg2, %arg1, %arg4, %arg3 {body = @mlp_mlp_0, function_type = (tensor<2x3x8xf32>, tensor<32xf32>, tensor<8x32xf32>, tensor<8xf32>, tensor<32x8xf32>) -> tensor<2x3x8xf32>, kind = "mlp"} : tensor<2x3x8xf32>
// CHECK-NEXT: return %0
// CHECK: func.func private @mlp_mlp_0(%arg0: tensor<2x3x8xf32>, %arg1: tensor<32xf32>, %arg2: tensor<8x32xf32>, %arg3: tensor<8xf32>, %arg4: tensor<32x8xf32>) -> tensor<2x3x8xf32>
// CHECK-NEXT: sem.view %arg0
// CHECK-NEXT: sem.addmm %arg1
// CHECK-NEXT: sem.view
// CHECK-NEXT: sem.gelu
// CHECK-NEXT: sem.view
// CHECK-NEXT: sem.addmm %arg3
// CHECK-NEXT: %6 = sem.view
// CHECK-NEXT: return %6
func.func @mlp(%x: tensor<2x3x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x3x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %0 = sem.view %x {size = [6, 8]} : tensor<6x8xf32>
  %1 = sem.addmm %b1, %0, %w1 : tensor<6x32xf32>
  %2 = sem.view %1 {size = [2, 3, 32]} : tensor<2x3x32xf32>
  %3 = sem.gelu %2 : tensor<2x3x32xf32>
  %4 = sem.view %3 {size = [6, 32]} : tensor<6x32xf32>
  %5 = sem.addmm %b2, %4, %w2 : tensor<6x8xf32>
  %6 = sem.view %5 {size = [2, 3, 8]} : tensor<2x3x8xf32>
  return %6 : tensor<2x3x8xf32>
}

// -----

// An MLP inside a residual block: the residual pattern binds its branch
// (x + f), so the extracted term is residual(x, mlp(x)): two regions, the
// residual one adding the MLP region's result to x.
// CHECK-LABEL: func.func @block
// CHECK-NEXT: %0 = sem.region {{.*}}kind = "mlp"
// CHECK-NEXT: %1 = sem.region %arg0, %0 {body = @block_residual_1, {{.*}}kind = "residual"}
// CHECK-NEXT: return %1
// CHECK: func.func private @block_mlp_0
// CHECK: sem.gelu
// CHECK: func.func private @block_residual_1(%arg0: tensor<2x3x8xf32>, %arg1: tensor<2x3x8xf32>)
// CHECK-NEXT: sem.add %arg0, %arg1
func.func @block(%x: tensor<2x3x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x3x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %0 = sem.view %x {size = [6, 8]} : tensor<6x8xf32>
  %1 = sem.addmm %b1, %0, %w1 : tensor<6x32xf32>
  %2 = sem.view %1 {size = [2, 3, 32]} : tensor<2x3x32xf32>
  %3 = sem.gelu %2 : tensor<2x3x32xf32>
  %4 = sem.view %3 {size = [6, 32]} : tensor<6x32xf32>
  %5 = sem.addmm %b2, %4, %w2 : tensor<6x8xf32>
  %6 = sem.view %5 {size = [2, 3, 8]} : tensor<2x3x8xf32>
  %7 = sem.add %x, %6 : tensor<2x3x8xf32>
  return %7 : tensor<2x3x8xf32>
}

// -----

// A value the pattern computes that is also used outside it keeps the
// pattern inline (the region would need a second result).
// CHECK-LABEL: func.func @escaping
// CHECK-NOT: sem.region
// CHECK: return
func.func @escaping(%x: tensor<2x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x32xf32>) attributes {genie.weight_args = [1, 2, 3, 4]} {
  %1 = sem.addmm %b1, %x, %w1 : tensor<2x32xf32>
  %3 = sem.relu %1 : tensor<2x32xf32>
  %5 = sem.addmm %b2, %3, %w2 : tensor<2x8xf32>
  return %5, %3 : tensor<2x8xf32>, tensor<2x32xf32>
}
