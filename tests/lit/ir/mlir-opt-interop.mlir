// Interop with upstream MLIR: genie-opt's generic output goes through
// mlir-opt-19 (with the sem/exec IRDL specs loaded) and comes back to the
// same module, whether mlir-opt prints it generically or in its own custom
// form (pretty func.func, `#map` aliases for affine maps, `1.000000e-05 : f64`
// floats, `\22` string escapes). Locations are left out: mlir-opt drops them
// unless asked (--mlir-print-debuginfo), and then uses `#loc` aliases and
// block-argument locations, which Genie does not read.
// RUN: cat %irdl_dir/sem.irdl.mlir %irdl_dir/exec.irdl.mlir > %t.irdl.mlir
// RUN: genie-opt %s > %t.expected.mlir
// RUN: genie-opt %s --mlir-print-op-generic | mlir-opt --irdl-file=%t.irdl.mlir --mlir-print-op-generic | genie-opt > %t.via-generic.mlir
// RUN: diff %t.expected.mlir %t.via-generic.mlir
// RUN: genie-opt %s --mlir-print-op-generic | mlir-opt --irdl-file=%t.irdl.mlir | genie-opt > %t.via-custom.mlir
// RUN: diff %t.expected.mlir %t.via-custom.mlir
// mlir-opt's custom form does use the spellings listed above.
// RUN: genie-opt %s --mlir-print-op-generic | mlir-opt --irdl-file=%t.irdl.mlir | FileCheck %s
// CHECK: #map = affine_map<()[s0] -> (s0 * 12)>
// CHECK: func.func @interop(%arg0: tensor<?x768xf32, "s0">
// CHECK: {eps = 1.000000e-05 : f64, normalized_shape = [768]}
// CHECK: genie.note = "say \22hi\22\0A"}
// CHECK: {value = #map}

exec.device {sym_name = "gpu0", kind = "cuda"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<768xf32>, device = @gpu0, init = dense_resource<w0> : tensor<768xf32>}
func.func @interop(%x: tensor<s0x768xf32>, %g: tensor<768xf32>) -> (tensor<s0x768xf32>, i64, !exec.future<tensor<s0x768xf32>>) {
  %w = exec.resident_load {resident = @w} : tensor<768xf32>
  %0:3 = sem.native_layer_norm %x, %g, %w {normalized_shape = [768], eps = 1.0e-5} : tensor<s0x768xf32>, tensor<s0x1xf32>, tensor<s0x1xf32>
  %1 = sem.gelu %0#0 {approximate = "tanh", genie.note = "say \"hi\"\n"} : tensor<s0x768xf32>
  %2 = sem.constant {value = s0 * 12} : i64
  %3 = sem.view %1 {size = [s0, 12, 64]} : tensor<s0x12x64xf32>
  %4 = sem.sum %3 {dim = [-1], keepdim, dtype = f32} : tensor<s0x12x1xf32>
  %5 = exec.transfer_async %1 {from = @gpu0, to = @gpu0} : !exec.future<tensor<s0x768xf32>>
  return %1, %2, %5 : tensor<s0x768xf32>, i64, !exec.future<tensor<s0x768xf32>>
}
