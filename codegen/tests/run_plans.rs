//! Graphs compiled by the compiler and run by the runtime: one-op and
//! small plans from MLIR text (parsed, verified, compiled, encoded and
//! decoded like a captured graph), checked against values PyTorch printed.
//! They live with the compiler's tests because the runtime links no
//! compiler crate.

use genie_runtime::tensor::DType;
use genie_runtime::{Executable, Tensor, Value};

fn load_source(src: &str) -> Result<Executable, String> {
    let m = genie_ir::parse_module(src, "t.mlir").map_err(|d| d.to_string())?;
    genie_ir::verify(&m).map_err(|d| d.to_string())?;
    let plan = genie_codegen::compile_module(&m)?.remove(0);
    Executable::load(genie_plan::decode(&genie_plan::encode(&plan)).map_err(|e| e.to_string())?)
}

fn tref(v: &Value) -> Result<&Tensor, String> {
    match v {
        Value::Tensor(t) => Ok(t),
        other => Err(format!("expected a tensor, got {other:?}")),
    }
}

mod interpreter {
    use super::*;


    fn run(src: &str, inputs: Vec<Value>) -> Result<Vec<Value>, String> {
        let mut exe = load_source(src)?;
        exe.bind("bias", Tensor::from_vec(vec![2], vec![0.5f32, -100.0])?)?;
        exe.run(inputs)
    }

    fn t(shape: &[usize], v: &[f32]) -> Value {
        Value::Tensor(Tensor::from_vec(shape.to_vec(), v.to_vec()).unwrap())
    }

    const LINEAR_RELU: &str = r#"
func.func @f(%x: tensor<s0x2xf32>, %w: tensor<2x2xf32>) -> tensor<s0x2xf32> {
  %b = sem.constant {value = dense_resource<bias> : tensor<2xf32>} : tensor<2xf32>
  %0 = sem.mm %x, %w : tensor<s0x2xf32>
  %1 = sem.add %0, %b : tensor<s0x2xf32>
  %2 = sem.relu %1 : tensor<s0x2xf32>
  return %2 : tensor<s0x2xf32>
}
"#;

    #[test]
    fn linear_relu_with_symbolic_batch() {
        let out = run(LINEAR_RELU, vec![t(&[3, 2], &[1., 2., 3., 4., -5., 6.]), t(&[2, 2], &[1., 0., 0., 1.])]).unwrap();
        assert_eq!(out, vec![t(&[3, 2], &[1.5, 0., 3.5, 0., 0., 0.])]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = run(LINEAR_RELU, vec![t(&[3, 2], &[0.; 6])]).unwrap_err();
        assert!(e.contains("takes 2 inputs, got 1"), "{e}");
        let e = run(LINEAR_RELU, vec![t(&[3, 3], &[0.; 9]), t(&[2, 2], &[0.; 4])]).unwrap_err();
        assert!(e.contains("input #0: expected tensor<s0x2xf32>, got shape [3, 3]"), "{e}");
    }

    #[test]
    fn unsupported_ops_are_refused_at_load() {
        let src = "func.func @f(%x: tensor<1x2x4x4xf32>, %w: tensor<2x3x3x3xf32>) -> tensor<1x3x6x6xf32> {\n  %n = sem.none : none\n  %0 = sem.convolution %x, %w, %n {stride = [1, 1], padding = [0, 0], dilation = [1, 1], transposed = true, output_padding = [0, 0], groups = 1} : tensor<1x3x6x6xf32>\n  return %0 : tensor<1x3x6x6xf32>\n}\n";
        let e = run(src, vec![]).err().unwrap();
        assert_eq!(e, "stream #0 instruction 1: op 'sem.convolution' with transposed = true is not supported by the CPU backend yet");
    }
}

mod backward {

    // Each case runs a one-op plan (parsed, verified and compiled like a
    // captured graph) and compares with values printed by PyTorch 2.14
    // (`torch.ops.aten.<op>` on the same inputs, in f64; attention through
    // `F.scaled_dot_product_attention(...).backward(g)` with the math backend).

    use super::*;

    pub fn run(src: &str, inputs: Vec<Value>) -> Result<Vec<Value>, String> {
        load_source(src)?.run(inputs)
    }

    fn t(shape: &[usize], dtype: DType, v: &[f64]) -> Value {
        Value::Tensor(Tensor::from_f64(shape.to_vec(), dtype, v.to_vec()).unwrap())
    }

    fn f64s(shape: &[usize], v: &[f64]) -> Value {
        t(shape, DType::F64, v)
    }

    /// Values and shape of a result tensor.
    fn vals(v: &Value) -> (Vec<f64>, Vec<usize>) {
        let t = tref(v).unwrap();
        (t.to_f64(), t.shape.to_vec())
    }

    fn assert_close(got: &Value, shape: &[usize], want: &[f64]) {
        let (g, s) = vals(got);
        assert_eq!(s, shape);
        assert_eq!(g.len(), want.len());
        for (i, (a, b)) in g.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-12 + 1e-12 * b.abs(), "element {i}: got {a}, want {b}\n got {g:?}\nwant {want:?}");
        }
    }

    #[test]
    fn constant_pad_nd_pads_and_crops() {
        let src = "func.func @f(%x: tensor<2x3xi64>) -> tensor<3x3xi64> {
  %0 = sem.constant_pad_nd %x {pad = [1, -1, 0, 1], value = 9.0} : tensor<3x3xi64>
  return %0 : tensor<3x3xi64>
}";
        let out = run(src, vec![t(&[2, 3], DType::I64, &[1., 2., 3., 4., 5., 6.])]).unwrap();
        assert_eq!(tref(&out[0]).unwrap().dtype(), DType::I64);
        assert_close(&out[0], &[3, 3], &[9., 1., 2., 9., 4., 5., 9., 9., 9.]);
    }

    #[test]
    fn scatter_value_src_add_and_multiply() {
        let src = "func.func @f(%x: tensor<2x3xf64>, %i: tensor<2x1xi64>) -> tensor<2x3xf64> {
  %v = sem.constant {value = 1.5} : f64
  %0 = sem.scatter %x, %i, %v {dim = 1} : tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}";
        let out = run(src, vec![f64s(&[2, 3], &[0.; 6]), t(&[2, 1], DType::I64, &[2., 0.])]).unwrap();
        assert_close(&out[0], &[2, 3], &[0., 0., 1.5, 1.5, 0., 0.]);

        let src = "func.func @f(%x: tensor<3xf64>, %i: tensor<3xi64>, %s: tensor<3xf64>) -> tensor<3xf64> {
  %0 = sem.scatter_add %x, %i, %s {dim = 0} : tensor<3xf64>
  return %0 : tensor<3xf64>
}";
        let out = run(src, vec![f64s(&[3], &[1.; 3]), t(&[3], DType::I64, &[0., 2., 0.]), f64s(&[3], &[1., 2., 3.])]).unwrap();
        assert_close(&out[0], &[3], &[5., 1., 3.]);

        // src larger than index: only src[:1] is read.
        let src = "func.func @f(%x: tensor<2x2xf64>, %i: tensor<1x2xi64>, %s: tensor<2x2xf64>) -> tensor<2x2xf64> {
  %0 = sem.scatter %x, %i, %s {dim = 0, reduce = \"multiply\"} : tensor<2x2xf64>
  return %0 : tensor<2x2xf64>
}";
        let out = run(src, vec![f64s(&[2, 2], &[2.; 4]), t(&[1, 2], DType::I64, &[1., 0.]), f64s(&[2, 2], &[3., 4., 5., 6.])]).unwrap();
        assert_close(&out[0], &[2, 2], &[2., 8., 6., 2.]);
    }

    #[test]
    fn scatter_checks_indices() {
        let src = "func.func @f(%x: tensor<3xf64>, %i: tensor<1xi64>, %s: tensor<1xf64>) -> tensor<3xf64> {
  %0 = sem.scatter_add %x, %i, %s {dim = 0} : tensor<3xf64>
  return %0 : tensor<3xf64>
}";
        let e = run(src, vec![f64s(&[3], &[0.; 3]), t(&[1], DType::I64, &[3.]), f64s(&[1], &[1.])]).unwrap_err();
        assert!(e.contains("scatter index 3 out of range for size 3"), "{e}");
    }

    #[test]
    fn index_put_accumulates_duplicates_and_skips_none_dims() {
        // The embedding backward of the GPT-2 graph: rows of a zero table += grads.
        let src = "func.func @f(%x: tensor<4x2xf64>, %i: tensor<1x3xi64>, %v: tensor<1x3x2xf64>) -> tensor<4x2xf64> {
  %0 = sem.index_put %x, %i, %v {accumulate = true} : tensor<4x2xf64>
  return %0 : tensor<4x2xf64>
}";
        let out = run(src, vec![f64s(&[4, 2], &[0.; 8]), t(&[1, 3], DType::I64, &[1., 3., 1.]), f64s(&[1, 3, 2], &[1., 2., 3., 4., 5., 6.])]).unwrap();
        assert_close(&out[0], &[4, 2], &[0., 0., 6., 8., 0., 0., 3., 4.]);

        // x[:, [2, 0]] = [7, 8], the values broadcast over rows.
        let src = "func.func @f(%x: tensor<2x3xf64>, %i: tensor<2xi64>, %v: tensor<2xf64>) -> tensor<2x3xf64> {
  %n = sem.none : none
  %0 = sem.index_put %x, %n, %i, %v : tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}";
        let out = run(src, vec![f64s(&[2, 3], &[0.; 6]), t(&[2], DType::I64, &[2., 0.]), f64s(&[2], &[7., 8.])]).unwrap();
        assert_close(&out[0], &[2, 3], &[8., 0., 7., 8., 0., 7.]);
    }

    const BATCH_NORM: &str = "func.func @f(%x: tensor<2x2x1x2xf64>, %w: tensor<2xf64>, %b: tensor<2xf64>, %rm: tensor<2xf64>, %rv: tensor<2xf64>) -> (tensor<2x2x1x2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) {
  %0:5 = sem._native_batch_norm_legit_functional %x, %w, %b, %rm, %rv {training = true, momentum = 0.1, eps = 1.0e-5} : tensor<2x2x1x2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>
  return %0#0, %0#1, %0#2, %0#3, %0#4 : tensor<2x2x1x2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>
}";

    fn batch_norm_inputs(x: &[f64]) -> Vec<Value> {
        vec![f64s(&[2, 2, 1, 2], x), f64s(&[2], &[2., 0.5]), f64s(&[2], &[0., 1.]), f64s(&[2], &[0.5, -0.5]), f64s(&[2], &[1., 2.])]
    }

    #[test]
    fn batch_norm_training_returns_batch_stats_and_running_stats() {
        let out = run(BATCH_NORM, batch_norm_inputs(&[1., 2., 3., 5., -1., 0., 2., 4.])).unwrap();
        #[rustfmt::skip]
        assert_close(&out[0], &[2, 2, 1, 2], &[0.894423613312618, 2.6832708399378538, 0.7763940966718456, 1.6708177099844637,
            -2.6832708399378538, -0.894423613312618, 0.32918229001553656, 1.2236059033281546]);
        assert_close(&out[1], &[2], &[0.5, 3.5]);
        assert_close(&out[2], &[2], &[0.894423613312618, 0.894423613312618]);
        assert_close(&out[3], &[2], &[0.5, -0.09999999999999998]);
        assert_close(&out[4], &[2], &[1.0666666666666667, 1.9666666666666668]);
    }

    #[test]
    fn batch_norm_training_needs_two_values_per_channel() {
        let src = BATCH_NORM.replace("2x2x1x2", "1x2x1x1");
        let e = run(&src, vec![f64s(&[1, 2, 1, 1], &[1., 2.]), f64s(&[2], &[1.; 2]), f64s(&[2], &[0.; 2]), f64s(&[2], &[0.; 2]), f64s(&[2], &[1.; 2])]).unwrap_err();
        assert!(e.contains("more than one value per channel"), "{e}");
    }

    #[test]
    fn convolution_backward_with_padding() {
        let src = "func.func @f(%g: tensor<1x2x4x4xf64>, %x: tensor<1x2x3x3xf64>, %w: tensor<2x2x2x2xf64>) -> (tensor<1x2x3x3xf64>, tensor<2x2x2x2xf64>, tensor<2xf64>) {
  %0:3 = sem.convolution_backward %g, %x, %w {bias_sizes = [2], stride = [1, 1], padding = [1, 1], dilation = [1, 1], transposed = false, output_padding = [0, 0], groups = 1, output_mask = [true, true, true]} : tensor<1x2x3x3xf64>, tensor<2x2x2x2xf64>, tensor<2xf64>
  return %0#0, %0#1, %0#2 : tensor<1x2x3x3xf64>, tensor<2x2x2x2xf64>, tensor<2xf64>
}";
        // x = arange(18) - 8, g = arange(32) % 5 - 2.
        let x: Vec<f64> = (0..18).map(|i| i as f64 - 8.).collect();
        let g: Vec<f64> = (0..32).map(|i| (i % 5) as f64 - 2.).collect();
        let w = [1., -1., 2., 0., 1., 1., -2., 3., 0., 2., 1., -1., 1., 0., 0., 1.];
        let out = run(src, vec![f64s(&[1, 2, 4, 4], &g), f64s(&[1, 2, 3, 3], &x), f64s(&[2, 2, 2, 2], &w)]).unwrap();
        #[rustfmt::skip]
        assert_close(&out[0], &[1, 2, 3, 3], &[-9., 0., 4., 2., -9., 0., 3., 2., -9., -6., -6., -1., 9., -6., -6., 4., 9., -6.]);
        #[rustfmt::skip]
        assert_close(&out[1], &[2, 2, 2, 2], &[20., -4., 14., 20., -7., 23., -22., -7., 14., 20., -12., 14., -22., -7., -12., -22.]);
        assert_close(&out[2], &[2], &[-2., -1.]);
    }

    #[test]
    fn convolution_backward_with_groups_stride_dilation_and_a_masked_bias() {
        let src = "func.func @f(%g: tensor<1x2x2x2xf64>, %x: tensor<1x2x5x5xf64>, %w: tensor<2x1x2x2xf64>) -> (tensor<1x2x5x5xf64>, tensor<2x1x2x2xf64>) {
  %0:3 = sem.convolution_backward %g, %x, %w {stride = [2, 2], padding = [0, 0], dilation = [2, 2], transposed = false, output_padding = [0, 0], groups = 2, output_mask = [true, true, false]} : tensor<1x2x5x5xf64>, tensor<2x1x2x2xf64>, none
  return %0#0, %0#1 : tensor<1x2x5x5xf64>, tensor<2x1x2x2xf64>
}";
        // x = arange(50) % 7 - 3.
        let x: Vec<f64> = (0..50).map(|i| (i % 7) as f64 - 3.).collect();
        let w = [1., 2., -1., 1., 0., 1., 3., -2.];
        let g = [1., -1., 2., 0., 3., 1., -2., 1.];
        let out = run(src, vec![f64s(&[1, 2, 2, 2], &g), f64s(&[1, 2, 5, 5], &x), f64s(&[2, 1, 2, 2], &w)]).unwrap();
        #[rustfmt::skip]
        assert_close(&out[0], &[1, 2, 5, 5], &[1., 0., 1., 0., -2., 0., 0., 0., 0., 0., 1., 0., 6., 0., -1., 0., 0., 0., 0., 0., -2., 0., 2., 0., 0.,
            0., 0., 3., 0., 1., 0., 0., 0., 0., 0., 9., 0., -5., 0., -1., 0., 0., 0., 0., 0., -6., 0., 7., 0., -2.]);
        assert_close(&out[1], &[2, 1, 2, 2], &[-2., 2., 4., 1., 11., 10., -8., -9.]);
    }

    #[test]
    fn convolution_backward_checks_grad_output_shape() {
        let src = "func.func @f(%g: tensor<1x1x3x3xf64>, %x: tensor<1x1x3x3xf64>, %w: tensor<1x1x2x2xf64>) -> tensor<1x1x3x3xf64> {
  %0:3 = sem.convolution_backward %g, %x, %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], groups = 1, output_mask = [true, false, false]} : tensor<1x1x3x3xf64>, none, none
  return %0#0 : tensor<1x1x3x3xf64>
}";
        let e = run(src, vec![f64s(&[1, 1, 3, 3], &[0.; 9]), f64s(&[1, 1, 3, 3], &[0.; 9]), f64s(&[1, 1, 2, 2], &[0.; 4])]).unwrap_err();
        assert!(e.contains("grad_output has shape [1, 1, 3, 3], the convolution's output is [1, 1, 2, 2]"), "{e}");
    }

    #[test]
    fn max_pool_backward_sums_overlapping_windows() {
        let src = "func.func @f(%g: tensor<1x1x2x2xf32>, %x: tensor<1x1x3x3xf32>, %i: tensor<1x1x2x2xi64>) -> tensor<1x1x3x3xf32> {
  %0 = sem.max_pool2d_with_indices_backward %g, %x, %i {kernel_size = [2, 2], stride = [1, 1], padding = [0, 0], dilation = [1, 1], ceil_mode = false} : tensor<1x1x3x3xf32>
  return %0 : tensor<1x1x3x3xf32>
}";
        // x = [[1, 5, 2], [4, 3, 6], [0, 8, 7]]: the max positions are 1, 5, 7, 7.
        let x = [1., 5., 2., 4., 3., 6., 0., 8., 7.];
        let out = run(src, vec![t(&[1, 1, 2, 2], DType::F32, &[1., 2., 3., 4.]), t(&[1, 1, 3, 3], DType::F32, &x), t(&[1, 1, 2, 2], DType::I64, &[1., 5., 7., 7.])]).unwrap();
        assert_close(&out[0], &[1, 1, 3, 3], &[0., 1., 0., 0., 0., 2., 0., 7., 0.]);
    }

    /// q, k, v and grad_out of the attention cases: small values cycling
    /// through a few levels (as printed by the PyTorch script).
    fn attention_inputs(hq: usize, hk: usize) -> Vec<Value> {
        let q: Vec<f64> = (0..hq * 6).map(|i| ((i % 5) as f64 - 2.) / 4.).collect();
        let k: Vec<f64> = (0..hk * 8).map(|i| ((i % 3) as f64 - 1.) / 2.).collect();
        let v: Vec<f64> = (0..hk * 8).map(|i| (i % 4) as f64 / 3.).collect();
        let g: Vec<f64> = (0..hq * 6).map(|i| (i % 3) as f64 - 1.).collect();
        vec![f64s(&[1, hq, 3, 2], &g), f64s(&[1, hq, 3, 2], &q), f64s(&[1, hk, 4, 2], &k), f64s(&[1, hk, 4, 2], &v)]
    }

    #[test]
    fn causal_attention_backward() {
        let src = "func.func @f(%g: tensor<1x1x3x2xf64>, %q: tensor<1x1x3x2xf64>, %k: tensor<1x1x4x2xf64>, %v: tensor<1x1x4x2xf64>) -> (tensor<1x1x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>) {
  %n = sem.none : none
  %0:3 = sem._scaled_dot_product_flash_attention_for_cpu_backward %g, %q, %k, %v, %g, %g, %n {dropout_p = 0.0, is_causal = true} : tensor<1x1x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>
  return %0#0, %0#1, %0#2 : tensor<1x1x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>
}";
        let out = run(src, attention_inputs(1, 1)).unwrap();
        assert_close(&out[0], &[1, 1, 3, 2], &[0.0, 0.0, -1.0246476611859298e-17, 0.0, 0.0878051454229657, -0.0878051454229657]);
        #[rustfmt::skip]
        assert_close(&out[1], &[1, 1, 4, 2], &[-0.029268381807655237, 0.029268381807655244, 0.058536763615310475, -0.058536763615310475,
            -0.029268381807655237, 0.029268381807655237, 0.0, 0.0]);
        #[rustfmt::skip]
        assert_close(&out[2], &[1, 1, 4, 2], &[-0.47791728798193056, -0.25177541657160496, 0.4779172879819306, -0.018531878874859575,
            0.0, 0.2703072954464645, 0.0, 0.0]);
    }

    #[test]
    fn grouped_query_attention_backward_with_a_bool_mask() {
        let src = "func.func @f(%g: tensor<1x2x3x2xf64>, %q: tensor<1x2x3x2xf64>, %k: tensor<1x1x4x2xf64>, %v: tensor<1x1x4x2xf64>, %m: tensor<3x4xi1>) -> (tensor<1x2x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>) {
  %0:3 = sem._scaled_dot_product_flash_attention_for_cpu_backward %g, %q, %k, %v, %g, %g, %m {dropout_p = 0.0, is_causal = false, scale = 0.7} : tensor<1x2x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>
  return %0#0, %0#1, %0#2 : tensor<1x2x3x2xf64>, tensor<1x1x4x2xf64>, tensor<1x1x4x2xf64>
}";
        // Row 1 of the mask keeps nothing: its gradients are zero.
        let mut inputs = attention_inputs(2, 1);
        inputs.push(t(&[3, 4], DType::I1, &[1., 0., 1., 1., 0., 0., 0., 0., 1., 1., 1., 0.]));
        let out = run(src, inputs).unwrap();
        #[rustfmt::skip]
        assert_close(&out[0], &[1, 2, 3, 2], &[0.02340393777804927, 0.023403937778049274, 0.0, 0.0, 0.08688442055868136, -0.08688442055868136,
            0.025138293122930835, 0.025138293122930838, 0.0, 0.0, 0.07713429861069404, -0.07070328983432424]);
        #[rustfmt::skip]
        assert_close(&out[1], &[1, 1, 4, 2], &[-0.04525411800386625, 0.027674400169988164, 0.008643750890781468, -0.0825625451132906,
            -0.043510464173090346, 0.02797155147352825, 0.08012083128617507, 0.02691659346977425]);
        #[rustfmt::skip]
        assert_close(&out[2], &[1, 1, 4, 2], &[-0.7040345158483852, 0.6649408166793096, 0.0, 0.761076068771498,
            -0.5919309683032294, 0.5739831145491926, -0.7040345158483852, 0.0]);
    }

    const DROPOUT: &str = "func.func @f(%x: tensor<100x100xf32>) -> (tensor<100x100xf32>, tensor<100x100xi1>) {
  %0:2 = sem.native_dropout %x {p = P, train = TRAIN} : tensor<100x100xf32>, tensor<100x100xi1>
  return %0#0, %0#1 : tensor<100x100xf32>, tensor<100x100xi1>
}";

    fn dropout(p: &str, train: bool) -> (Vec<f64>, Vec<f64>) {
        let src = DROPOUT.replace("P", p).replace("TRAIN", if train { "true" } else { "false" });
        let out = run(&src, vec![t(&[100, 100], DType::F32, &[3.0; 10000])]).unwrap();
        assert_eq!(tref(&out[1]).unwrap().dtype(), DType::I1);
        (vals(&out[0]).0, vals(&out[1]).0)
    }

    #[test]
    fn dropout_keeps_about_1_minus_p_and_scales_the_kept() {
        let (out, mask) = dropout("0.25", true);
        let kept = mask.iter().filter(|&&m| m != 0.0).count();
        assert!((7250..7750).contains(&kept), "kept {kept} of 10000 at p = 0.25");
        for (o, m) in out.iter().zip(&mask) {
            assert_eq!(*o, if *m != 0.0 { 4.0 } else { 0.0 });
        }
        // Each call draws a new mask.
        assert_ne!(dropout("0.25", true).1, mask);
        assert_eq!(dropout("0.0", true), (vec![3.0; 10000], vec![1.0; 10000]));
        assert_eq!(dropout("1.0", true), (vec![0.0; 10000], vec![0.0; 10000]));
        assert_eq!(dropout("0.5", false), (vec![3.0; 10000], vec![1.0; 10000]));
    }
}
