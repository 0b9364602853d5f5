//! Rust-side golden output (insta snapshots under `tests/snapshots/`):
//! the example GPT-2 block through the `sem` and `exec` phases, and located
//! diagnostics.

use genie_ir::{parse_module, print_module, verify};
use genie_passes::PassManager;

fn example() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gpt2_block.mlir");
    std::fs::read_to_string(path).expect("examples/gpt2_block.mlir exists")
}

#[test]
fn gpt2_block_after_sem_phase() {
    let mut m = parse_module(&example(), "gpt2_block.mlir").unwrap();
    verify(&m).unwrap();
    let before = m.num_ops();
    let mut pm = PassManager::for_phase("sem").unwrap();
    pm.options.verify_each = true;
    pm.run(&mut m).unwrap();
    assert!(m.num_ops() < before, "canonicalization removed nothing");
    insta::assert_snapshot!("gpt2_block_sem", print_module(&m, false));
}

#[test]
fn gpt2_block_generic_form() {
    let m = parse_module(&example(), "gpt2_block.mlir").unwrap();
    insta::assert_snapshot!("gpt2_block_generic", print_module(&m, true));
}

#[test]
fn diagnostics_name_position_and_module() {
    let src = r#"func.func @f(%a: tensor<4x8xf32>, %b: tensor<7x16xf32>) -> tensor<4x16xf32> {
  %0 = sem.mm %a, %b : tensor<4x16xf32> loc("encoder.layer.3.attention"("modeling_bert.py":120:0))
  %1 = sem.sum %0 {dimz = [0]} : tensor<16xf32>
  return %0 : tensor<4x16xf32>
}
"#;
    let m = parse_module(src, "bad.mlir").unwrap();
    let diags = verify(&m).unwrap_err();
    insta::assert_snapshot!("verifier_diagnostics", diags.to_string());
}

#[test]
fn parse_errors_are_located() {
    let err = parse_module("func.func @f() {\n  %0 = sem.constant {value = \"open} : i64\n}\n", "t.mlir").unwrap_err();
    insta::assert_snapshot!("parse_error_unterminated_string", err.to_string());
    let err = parse_module("func.func @f(%a: tensor<4xq32>) {\n  return\n}\n", "t.mlir").unwrap_err();
    insta::assert_snapshot!("parse_error_unknown_element_type", err.to_string());
}

#[test]
fn gpt2_block_after_exec_phase() {
    let mut m = parse_module(&example(), "gpt2_block.mlir").unwrap();
    // Arguments 1-12 of the block are its parameters: make them weights, so
    // the snapshot shows resident weights beside the transferred activation.
    let forward = m.function("forward").unwrap();
    let weights = (1..=12).map(genie_ir::Attribute::int).collect();
    m.op_mut(forward).attrs.set("genie.weight_args", genie_ir::Attribute::Array(weights));
    verify(&m).unwrap();
    let mut pm = PassManager::for_phase("exec").unwrap();
    pm.options.verify_each = true;
    pm.run(&mut m).unwrap();
    insta::assert_snapshot!("gpt2_block_exec", print_module(&m, false));
}
