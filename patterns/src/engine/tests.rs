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

