//! Patterns on small `sem` snippets.

use super::*;
use crate::rules::RuleSet;

fn run(text: &str) -> (genie_ir::Module, FunctionGraph) {
    let m = genie_ir::parse_module(text, "t.mlir").expect("parses");
    genie_ir::verify(&m).expect("verifies");
    let f = m.functions()[0];
    let mut fg = FunctionGraph::build(&m, f);
    fg.run(&RuleSet::builtin().unwrap(), &Limits::default());
    (m, fg)
}

fn kinds(fg: &FunctionGraph) -> Vec<&str> {
    let mut k: Vec<&str> = fg.matches.iter().map(|m| m.kind.as_str()).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn decomposed_causal_attention() {
    let (_, fg) = run(include_str!("../../tests/data/self_attention.mlir"));
    assert_eq!(kinds(&fg), ["attention"], "{:?}", fg.matches);
}

#[test]
fn cross_attention_by_lineage() {
    // Queries from one input, keys and values from others.
    let (_, fg) = run(include_str!("../../tests/data/attention.mlir"));
    assert_eq!(kinds(&fg), ["cross_attention"], "{:?}", fg.matches);
}

#[test]
fn ill_typed_rewrite_is_rejected() {
    // `view-identity` matches every view, but only a view that keeps the
    // shape may join its operand's class.
    let (m, fg) = run(
        "func.func @f(%arg0: tensor<2x6xf32>) -> tensor<3x4xf32> {\n  %0 = sem.view %arg0 {size = [3, 4]} : tensor<3x4xf32>\n  return %0 : tensor<3x4xf32>\n}\n",
    );
    assert!(fg.rejected_rewrites > 0);
    let f = m.functions()[0];
    let arg = m.block_args(m.entry_block(f).unwrap())[0];
    let view = m.op(m.block_ops(m.entry_block(f).unwrap())[0]).results[0];
    assert_ne!(fg.class_of(arg), fg.class_of(view));
}

#[test]
fn extraction_prefers_regions_and_is_acyclic() {
    let (_, fg) = run(include_str!("../../tests/data/attention.mlir"));
    let (cost, expr) = extract(&fg.egraph, fg.root, &OpCount);
    assert!(cost < INFINITE);
    assert!(expr.as_ref().iter().any(|n| n.op_str() == "region:cross_attention"), "{expr}");
    for (i, n) in expr.as_ref().iter().enumerate() {
        assert!(n.children.iter().all(|&c| usize::from(c) < i), "children come first");
    }
}

#[test]
fn pairwise_interaction_dot() {
    let (_, fg) = run("func.func @f(%z: tensor<2x2x4xf32>) -> tensor<2x2x2xf32> {\n  %0 = sem.permute %z {dims = [0, 2, 1]} : tensor<2x4x2xf32>\n  %1 = sem.bmm %z, %0 : tensor<2x2x2xf32>\n  return %1 : tensor<2x2x2xf32>\n}\n");
    assert_eq!(kinds(&fg), ["pairwise_interaction"], "{:?}", fg.egraph.dump());
}


#[test]
fn repeated_variables_bind_one_class() {
    // z · permute(y) with y != z is no pairwise interaction.
    let (_, fg) = run("func.func @f(%z: tensor<2x2x4xf32>, %y: tensor<2x2x4xf32>) -> tensor<2x2x2xf32> {\n  %0 = sem.permute %y {dims = [0, 2, 1]} : tensor<2x4x2xf32>\n  %1 = sem.bmm %z, %0 : tensor<2x2x2xf32>\n  return %1 : tensor<2x2x2xf32>\n}\n");
    assert!(kinds(&fg).is_empty(), "{:?}", fg.matches);
}

#[test]
fn mlp_with_biases_is_one_instance() {
    let (_, fg) = run("func.func @mlp(%x: tensor<2x3x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x3x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {\n  %0 = sem.view %x {size = [6, 8]} : tensor<6x8xf32>\n  %1 = sem.addmm %b1, %0, %w1 : tensor<6x32xf32>\n  %2 = sem.view %1 {size = [2, 3, 32]} : tensor<2x3x32xf32>\n  %3 = sem.gelu %2 : tensor<2x3x32xf32>\n  %4 = sem.view %3 {size = [6, 32]} : tensor<6x32xf32>\n  %5 = sem.addmm %b2, %4, %w2 : tensor<6x8xf32>\n  %6 = sem.view %5 {size = [2, 3, 8]} : tensor<2x3x8xf32>\n  return %6 : tensor<2x3x8xf32>\n}\n");
    assert_eq!(fg.matches.len(), 1, "{:?}", fg.matches);
}


#[test]
fn gated_mlp_swiglu() {
    let (_, fg) = run("func.func @f(%x: tensor<2x8xf32>, %wg: tensor<8x16xf32>, %wu: tensor<8x16xf32>, %wd: tensor<16x8xf32>) -> tensor<2x8xf32> attributes {genie.weight_args = [1, 2, 3]} {
  %0 = sem.mm %x, %wg : tensor<2x16xf32>
  %1 = sem.silu %0 : tensor<2x16xf32>
  %2 = sem.mm %x, %wu : tensor<2x16xf32>
  %3 = sem.mul %1, %2 : tensor<2x16xf32>
  %4 = sem.mm %3, %wd : tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}
");
    assert_eq!(kinds(&fg), ["mlp"]);
    assert!(fg.matches[0].rule.ends_with("gated"), "{:?}", fg.matches);
}

#[test]
fn depthwise_separable_conv() {
    let (_, fg) = run("func.func @f(%x: tensor<1x4x8x8xf32>, %dw: tensor<4x1x3x3xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>, %pw: tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32> attributes {genie.weight_args = [1, 2, 3, 4, 5, 6]} {
  %none = sem.none : none
  %0 = sem.convolution %x, %dw, %none {dilation = [1, 1], groups = 4, padding = [1, 1], stride = [1, 1]} : tensor<1x4x8x8xf32>
  %1:3 = sem._native_batch_norm_legit_no_training %0, %g, %b, %m, %v {eps = 1.0e-5, momentum = 0.1} : tensor<1x4x8x8xf32>, tensor<0xf32>, tensor<0xf32>
  %2 = sem.relu %1#0 : tensor<1x4x8x8xf32>
  %3 = sem.convolution %2, %pw, %none {dilation = [1, 1], groups = 1, padding = [0, 0], stride = [1, 1]} : tensor<1x8x8x8xf32>
  return %3 : tensor<1x8x8x8xf32>
}
");
    assert_eq!(kinds(&fg), ["conv_bn_act", "depthwise_separable_conv"]);
}

#[test]
fn squeeze_excitation() {
    let (_, fg) = run("func.func @f(%x: tensor<1x4x8x8xf32>, %w1: tensor<2x4x1x1xf32>, %b1: tensor<2xf32>, %w2: tensor<4x2x1x1xf32>, %b2: tensor<4xf32>) -> tensor<1x4x8x8xf32> attributes {genie.weight_args = [1, 2, 3, 4]} {
  %0 = sem.mean %x {dim = [2, 3], keepdim = true} : tensor<1x4x1x1xf32>
  %1 = sem.convolution %0, %w1, %b1 {dilation = [1, 1], groups = 1, padding = [0, 0], stride = [1, 1]} : tensor<1x2x1x1xf32>
  %2 = sem.relu %1 : tensor<1x2x1x1xf32>
  %3 = sem.convolution %2, %w2, %b2 {dilation = [1, 1], groups = 1, padding = [0, 0], stride = [1, 1]} : tensor<1x4x1x1xf32>
  %4 = sem.sigmoid %3 : tensor<1x4x1x1xf32>
  %5 = sem.mul %x, %4 : tensor<1x4x8x8xf32>
  return %5 : tensor<1x4x8x8xf32>
}
");
    assert_eq!(kinds(&fg), ["squeeze_excitation"]);
}

#[test]
fn layernorm_and_embedding() {
    let (_, fg) = run("func.func @f(%ids: tensor<2x5xi64>, %table: tensor<50x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x5x8xf32> attributes {genie.weight_args = [1, 2, 3]} {
  %0 = sem.embedding %table, %ids : tensor<2x5x8xf32>
  %1:3 = sem.native_layer_norm %0, %w, %b {eps = 1.0e-5, normalized_shape = [8]} : tensor<2x5x8xf32>, tensor<2x5x1xf32>, tensor<2x5x1xf32>
  return %1#0 : tensor<2x5x8xf32>
}
");
    assert_eq!(kinds(&fg), ["embedding", "layernorm"]);
}

#[test]
fn a_weight_is_not_a_kv_cache() {
    // cat of a weight with new values, returned: not a cache append (the
    // past must be an input), and no other pattern either.
    let (_, fg) = run("func.func @f(%w: tensor<1x4x7x16xf32>, %new: tensor<1x4x1x16xf32>) -> tensor<1x4x8x16xf32> attributes {genie.weight_args = [0]} {
  %0 = sem.cat %w, %new {dim = -2} : tensor<1x4x8x16xf32>
  return %0 : tensor<1x4x8x16xf32>
}
");
    assert!(kinds(&fg).is_empty(), "{:?}", fg.matches);
}

#[test]
fn scaled_addmm_is_no_linear_layer() {
    // beta·b + alpha·(x @ W) with alpha = 2 is not x @ W + b: the rewrite
    // must not fire, so no MLP is seen.
    let text = |alpha: &str| format!("func.func @f(%x: tensor<2x8xf32>, %w1: tensor<8x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x8xf32>, %b2: tensor<8xf32>) -> tensor<2x8xf32> attributes {{genie.weight_args = [1, 2, 3, 4]}} {{\n  %1 = sem.addmm %b1, %x, %w1 {{alpha = {alpha}}} : tensor<2x32xf32>\n  %2 = sem.relu %1 : tensor<2x32xf32>\n  %3 = sem.addmm %b2, %2, %w2 : tensor<2x8xf32>\n  return %3 : tensor<2x8xf32>\n}}\n");
    assert_eq!(kinds(&run(&text("1")).1), ["mlp"]);
    assert!(kinds(&run(&text("2")).1).is_empty());
}

/// The lit snippets (`tests/lit/patterns/snippets.mlir`), one pattern each.
#[test]
fn lit_snippets_match_their_pattern() {
    let want: &[(&str, &[&str])] = &[
        ("self_attention", &["attention"]),
        ("cross_attention", &["cross_attention"]),
        ("decode", &["kv_cache_append"]),
        ("mlp", &["mlp"]),
        ("rmsnorm", &["rmsnorm"]),
        ("conv_block", &["conv_bn_act", "residual"]),
        ("patch_embedding", &["patch_embedding"]),
        ("token_pipeline", &["patch_embedding", "token_pipeline"]),
        ("dlrm", &["embedding_bag", "pairwise_interaction"]),
        ("unknown", &[]),
    ];
    let text = include_str!("../../../tests/lit/patterns/snippets.mlir");
    let chunks: Vec<&str> = text.split("// -----").collect();
    assert_eq!(chunks.len(), want.len());
    for (chunk, (name, kinds_want)) in chunks.iter().zip(want) {
        let (m, fg) = run(chunk);
        assert_eq!(m.symbol_name(m.functions()[0]), Some(*name));
        assert_eq!(kinds(&fg), *kinds_want, "@{name}: {:?}", fg.matches);
    }
}

#[test]
fn a_token_pipeline_needs_learned_tokens() {
    // The same shape of graph, but the prepended "class token" is an input,
    // not a weight: no token pipeline.
    let text = |weights: &str| format!("func.func @f(%x: tensor<2x3x32x32xf32>, %w: tensor<16x3x16x16xf32>, %b: tensor<16xf32>, %cls: tensor<2x1x16xf32>, %pos: tensor<1x5x16xf32>) -> tensor<2x5x16xf32> attributes {{genie.weight_args = [{weights}]}} {{\n  %0 = sem.convolution %x, %w, %b {{dilation = [1, 1], groups = 1, padding = [0, 0], stride = [16, 16]}} : tensor<2x16x2x2xf32>\n  %1 = sem.view %0 {{size = [2, 16, 4]}} : tensor<2x16x4xf32>\n  %2 = sem.permute %1 {{dims = [0, 2, 1]}} : tensor<2x4x16xf32>\n  %3 = sem.cat %cls, %2 {{dim = 1}} : tensor<2x5x16xf32>\n  %4 = sem.add %3, %pos : tensor<2x5x16xf32>\n  return %4 : tensor<2x5x16xf32>\n}}\n");
    assert!(kinds(&run(&text("1, 2, 3, 4")).1).contains(&"token_pipeline"));
    assert!(!kinds(&run(&text("1, 2, 4")).1).contains(&"token_pipeline"));
}
