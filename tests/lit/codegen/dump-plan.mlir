// Plan bytecode: each function compiled, encoded, decoded (verified) and
// disassembled. Roles come from the graph: arguments are inputs, or weights
// when listed in genie.weight_args; a dense_resource constant is resident
// state the stream loads (bound by its handle); returned values are
// outputs. Static-size temporaries share buffers of the device's arena once
// their last use has run: %3 dies at the add, so the relu %5 reuses its
// buffer. The transpose %6 is a view of the weight: it needs no buffer.
// The exec form of the function (the weight resident, the constant read
// from resident state inside the kernel) compiles to the same plan, also
// when read back from its text.
// RUN: genie-opt %s --dump-plan | FileCheck %s
// RUN: genie-opt %s --genie-lower-to-exec --dump-plan | FileCheck %s
// RUN: genie-opt %s --genie-lower-to-exec | genie-opt --dump-plan | FileCheck %s

// CHECK:      // {{[0-9]+}} bytes
// CHECK-NEXT: plan @mlp v2.0: 1 device, 2 inputs, 1 output, 6 instructions
// CHECK-NEXT: memory: peak temporaries 512 B (without reuse 768 B), 2 buffers
// CHECK-NEXT: devices:
// CHECK-NEXT:   #0 @dev0 cpu, arena 512 B
// CHECK-NEXT: residents:
// CHECK-NEXT:   @0 constant mlp.bias tensor<32xf32> on #0
// CHECK-NEXT: values:
// CHECK-NEXT:   %0    input    tensor<2x32xf32>
// CHECK-NEXT:   %1    weight   tensor<32x32xf32>
// CHECK-NEXT:   %2    resident tensor<32xf32>
// CHECK-NEXT:   %3    temp     tensor<2x32xf32>  buf0[0+256]
// CHECK-NEXT:   %4    temp     tensor<2x32xf32>  buf1[256+256]
// CHECK-NEXT:   %5    temp     tensor<2x32xf32>  buf0[0+256]
// CHECK-NEXT:   %6    temp     tensor<32x32xf32>
// CHECK-NEXT:   %7    output   tensor<2x32xf32>
// CHECK-NEXT: inputs: (%0, %1)
// CHECK-NEXT: stream #0 @dev0:
// CHECK-NEXT:      0: %2 = load @0 (mlp.bias)
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
