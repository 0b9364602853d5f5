// Attributes: required ones present, no unknown ones, values of the right
// kind; the discardable semantic attributes (`sem.*`) are checked on every
// sem/exec op; other dialect-prefixed attributes pass through.
// RUN: genie-opt %s --split-input-file --verify-diagnostics

func.func @missing_required(%arg0: tensor<4xf32>, %arg1: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{'sem.threshold_backward' op requires attribute 'threshold' (a number)}}
  %0 = sem.threshold_backward %arg0, %arg1 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// expected-error@+1 {{'exec.device' op requires attribute 'kind' (one of "client", "cpu", "cuda")}}
exec.device {sym_name = "gpu0"}

// -----

func.func @unknown(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem._softmax' op unknown attribute 'bogus' (known: dim, half_to_float)}}
  %0 = sem._softmax %arg0 {dim = 1, bogus = 2} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @unknown_no_attrs(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.relu' op unknown attribute 'inplace' (known: none)}}
  %0 = sem.relu %arg0 {inplace} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @enum_value(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.gelu' op attribute 'approximate' must be one of "none", "tanh", got "exact"}}
  %0 = sem.gelu %arg0 {approximate = "exact"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @number_not_string(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.leaky_relu' op attribute 'negative_slope' must be a number, got "0.01"}}
  %0 = sem.leaky_relu %arg0 {negative_slope = "0.01"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @float_not_int(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.native_dropout' op attribute 'p' must be a float, got}}
  %0:2 = sem.native_dropout %arg0 {p = 1} : tensor<4x8xf32>, tensor<4x8xi1>
  return %0#0 : tensor<4x8xf32>
}

// -----

func.func @bool_not_int(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.sort' op attribute 'descending' must be a bool, got}}
  %0:2 = sem.sort %arg0 {dim = 1, descending = 1} : tensor<4x8xf32>, tensor<4x8xi64>
  return %0#0 : tensor<4x8xf32>
}

// -----

func.func @dtype_not_string(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.cumsum' op attribute 'dtype' must be a dtype (f32, i64, …), got "f32"}}
  %0 = sem.cumsum %arg0 {dim = 0, dtype = "f32"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Semantic attributes: enumerations are checked...
func.func @bad_role(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.relu' op attribute 'sem.role' must be one of "weight", "activation", "kv-state", "embedding-table", "input", "output", got "bogus"}}
  %0 = sem.relu %arg0 {sem.role = "bogus"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @bad_phase(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{attribute 'sem.phase' must be one of "prefill", "decode", "encode", "train-forward", "train-backward", got "training"}}
  %0 = sem.relu %arg0 {sem.phase = "training"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @bad_layer(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{attribute 'sem.layer' must be an integer, got "3"}}
  %0 = sem.relu %arg0 {sem.layer = "3"} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// ...the set of semantic attributes is closed...
func.func @unknown_semantic(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{'sem.relu' op unknown semantic attribute 'sem.nope' (known: sem.module_path, sem.module_class, sem.source_fn, sem.layer, sem.role, sem.phase, sem.modality, sem.pattern)}}
  %0 = sem.relu %arg0 {sem.nope = 1} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// ...and exec ops carry them as well.
exec.device {sym_name = "gpu0", kind = "cuda"}
// expected-error@+1 {{'exec.resident' op attribute 'sem.role' must be one of}}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @gpu0, sem.role = "weights"}

// -----

// Attribute names are unique within a dictionary.
func.func @duplicate(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error@+1 {{duplicate attribute 'dim'}}
  %0 = sem._softmax %arg0 {dim = 1, dim = 0} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Valid: every semantic attribute, and other dialects' discardable
// attributes, which Genie does not interpret.
func.func @all_semantic(%arg0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = sem.relu %arg0 {sem.module_path = "encoder.layers.0.mlp", sem.module_class = "MLP", sem.source_fn = "torch.nn.functional.relu", sem.layer = 0, sem.role = "activation", sem.phase = "prefill", sem.modality = "text", torch.meta = {stack = "x"}} : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
