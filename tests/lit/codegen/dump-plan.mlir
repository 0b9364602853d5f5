// Plan bytecode: each function compiled, encoded, decoded (verified) and
// disassembled. Roles come from the graph: arguments are inputs, or weights
// when listed in genie.weight_args; dense_resource constants are constants;
// returned values are outputs. Static-size temporaries share buffers once
// their last use has run: %4 dies at the relu, so the 4 KiB transpose %6
// reuses (and grows) its buffer, and the arena is exactly the peak.
// The exec form of the function (the weight resident, the constant read
// from resident state inside the kernel) compiles to the same plan, also
// when read back from its text.
// RUN: genie-opt %s --dump-plan | FileCheck %s
// RUN: genie-opt %s --genie-lower-to-exec --dump-plan | FileCheck %s
// RUN: genie-opt %s --genie-lower-to-exec | genie-opt --dump-plan | FileCheck %s

// CHECK:      // {{[0-9]+}} bytes
// CHECK-NEXT: plan @mlp v1.0: 2 inputs, 1 outputs, 6 instructions
// CHECK-NEXT: memory: arena 4352 B (4.2 KiB), peak temporaries 4352 B (4.2 KiB) (without reuse 4864 B (4.8 KiB)), 2 buffers
// CHECK-NEXT: values:
// CHECK-NEXT:   %0    input    tensor<2x32xf32>
// CHECK-NEXT:   %1    weight   tensor<32x32xf32>
// CHECK-NEXT:   %2    constant tensor<32xf32>
// CHECK-NEXT:   %3    temp     tensor<2x32xf32>  buf0[0+256]
// CHECK-NEXT:   %4    temp     tensor<2x32xf32>  buf1[256+4096]
// CHECK-NEXT:   %5    temp     tensor<2x32xf32>  buf0[0+256]
// CHECK-NEXT:   %6    temp     tensor<32x32xf32>  buf1[256+4096]
// CHECK-NEXT:   %7    output   tensor<2x32xf32>
// CHECK-NEXT: inputs: (%0, %1)
// CHECK-NEXT: code:
// CHECK-NEXT:      0: %2 = sem.constant {value = dense_resource<mlp.bias> : tensor<32xf32>}
// CHECK-NEXT:      1: %3 = sem.mm %0, %1
// CHECK-NEXT:      2: %4 = sem.add %3, %2 {alpha = 1}
// CHECK-NEXT:      3: %5 = sem.relu %4
// CHECK-NEXT:      4: %6 = sem.permute %1 {dims = [1, 0]}
// CHECK-NEXT:      5: %7 = sem.mm %5, %6
// CHECK-NEXT: return (%7)
func.func @mlp(%x: tensor<2x32xf32>, %w: tensor<32x32xf32>) -> tensor<2x32xf32> attributes {genie.weight_args = [1]} {
  %b = sem.constant {value = dense_resource<mlp.bias> : tensor<32xf32>} : tensor<32xf32>
  %0 = sem.mm %x, %w : tensor<2x32xf32>
  %1 = sem.add %0, %b {alpha = 1} : tensor<2x32xf32>
  %2 = sem.relu %1 : tensor<2x32xf32>
  %3 = sem.permute %w {dims = [1, 0]} : tensor<32x32xf32>
  %4 = sem.mm %2, %3 : tensor<2x32xf32>
  return %4 : tensor<2x32xf32>
}
