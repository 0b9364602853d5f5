//! The plan of a `sem` function is the plan of its `exec` form: compiling
//! the `sem` function directly (roles from `genie.weight_args`), compiling
//! the lowered module, compiling the lowered module read back from its text,
//! and compiling the `sem` module through `compile_module` (which lowers it
//! first) give equal plans and identical bytecode. And the `exec` forms
//! codegen cannot compile are rejected with the op and its position.

use genie_codegen::{compile_function, compile_module, encode, Plan};
use genie_ir::{parse_module, print_module, verify, Module};
use genie_passes::{lower_to_exec::LowerToExec, Pass, PassManager};

fn parse(src: &str) -> Module {
    let m = parse_module(src, "t.mlir").unwrap_or_else(|d| panic!("{d}"));
    verify(&m).unwrap_or_else(|d| panic!("{d}"));
    m
}

/// Plans of every function, compiled the old way: each `sem` function directly.
fn direct_plans(m: &Module) -> Vec<Plan> {
    m.functions().into_iter().map(|f| compile_function(m, f).unwrap_or_else(|e| panic!("{e}"))).collect()
}

fn assert_same_plans_through_exec(sem: &Module) {
    let reference = direct_plans(sem);
    assert!(!reference.is_empty());

    let mut exec = sem.clone();
    LowerToExec.run(&mut exec).unwrap_or_else(|d| panic!("{d}"));
    verify(&exec).unwrap_or_else(|d| panic!("{d}"));
    let reread = parse(&print_module(&exec, false));
    let reread_generic = parse(&print_module(&exec, true));

    for (what, plans) in [
        ("compile_module(sem)", compile_module(sem)),
        ("compile_module(exec)", compile_module(&exec)),
        ("compile_module(exec printed and parsed)", compile_module(&reread)),
        ("compile_module(exec printed generic and parsed)", compile_module(&reread_generic)),
    ] {
        let plans = plans.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(plans, reference, "{what} differs from the direct sem plan");
        let bytes: Vec<Vec<u8>> = plans.iter().map(encode).collect();
        let want: Vec<Vec<u8>> = reference.iter().map(encode).collect();
        assert_eq!(bytes, want, "{what}: bytecode differs");
    }
}

#[test]
fn weights_constants_and_buffers() {
    assert_same_plans_through_exec(&parse(
        r#"
func.func @f(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %n: tensor<s0x8xf32>) -> (tensor<4x8xf32>, tensor<s0x8xf32>) attributes {genie.weight_args = [1]} {
  %c = sem.constant {value = dense_resource<table> : tensor<8xf32>, sem.module_path = "m"} : tensor<8xf32>
  %0 = sem.mm %x, %w : tensor<4x8xf32>
  %1 = sem.relu %0 : tensor<4x8xf32>
  %2 = sem.add %1, %c : tensor<4x8xf32>
  %3 = sem.neg %2 : tensor<4x8xf32>
  %4 = sem.exp %n : tensor<s0x8xf32>
  %d = sem.constant {value = dense_resource<table> : tensor<8xf32>} : tensor<8xf32>
  %5 = sem.mul %3, %d : tensor<4x8xf32>
  return %5, %4 : tensor<4x8xf32>, tensor<s0x8xf32>
}
"#,
    ));
}

#[test]
fn outputs_that_are_arguments_repeated_or_scalars() {
    assert_same_plans_through_exec(&parse(
        r#"
func.func @g(%w: tensor<4xf32>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64) attributes {genie.weight_args = [0]} {
  %0 = sem.add %x, %w : tensor<4xf32>
  %1 = sem.sym_size %x {dim = 0} : i64
  return %0, %w, %0, %x, %1 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, i64
}
func.func @nothing() {
  return
}
"#,
    ));
}

#[test]
fn gpt2_block_as_imported_after_the_sem_phase_and_with_weights() {
    let src = include_str!("../../examples/gpt2_block.mlir");
    let imported = parse(src);
    assert_same_plans_through_exec(&imported);

    let mut sem = imported.clone();
    PassManager::for_phase("sem").unwrap().run(&mut sem).unwrap();
    assert_same_plans_through_exec(&sem);

    let forward = sem.function("forward").unwrap();
    let weights = (1..=12).map(genie_ir::Attribute::int).collect();
    sem.op_mut(forward).attrs.set("genie.weight_args", genie_ir::Attribute::Array(weights));
    assert_same_plans_through_exec(&sem);
    let plan = &compile_module(&sem).unwrap()[0];
    let roles: Vec<&str> = plan.inputs.iter().map(|&i| plan.values[i as usize].role.name()).collect();
    assert_eq!(roles[..3], ["input", "weight", "weight"]);
}

/// The error `compile_module` gives for an `exec` module.
fn plan_error(src: &str) -> String {
    compile_module(&parse(src)).expect_err("codegen must reject this")
}

const DECLS: &str = r#"
exec.device {sym_name = "client", kind = "client"}
exec.device {sym_name = "dev0", kind = "cpu"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @dev0}
exec.resident {sym_name = "c", kind = "weight", type = tensor<4xf32>, device = @dev0, init = dense_resource<c> : tensor<4xf32>}
func.func private @k(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.add %x, %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}
"#;

#[test]
fn rejects_exec_forms_a_plan_cannot_hold() {
    let cases = [
        (
            "two launches",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %w = exec.resident_load {resident = @w} : tensor<4xf32>
  %1 = exec.launch %0, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  %2 = exec.launch %1, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  %3 = exec.transfer %2 {from = @dev0, to = @client} : tensor<4xf32>
  return %3 : tensor<4xf32>
}"#,
            "t.mlir:14:8: error: 'exec.launch' op is the second launch in @main; a plan holds one kernel (multi-kernel plans are not supported yet)",
        ),
        (
            "compute on the host",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = sem.neg %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func @other(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %1 = exec.launch %0, %0 {kernel = @k, device = @dev0} : tensor<4xf32>
  %2 = sem.neg %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:17:8: error: 'sem.neg' op cannot be compiled to a plan: host function @other may hold only exec.transfer, exec.resident_load, one exec.launch and func.return",
        ),
        (
            "an argument neither transferred nor resident",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = exec.resident_load {resident = @w} : tensor<4xf32>
  %1 = exec.launch %x, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  %2 = exec.transfer %1 {from = @dev0, to = @client} : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:12:8: error: 'exec.launch' op argument #0 must be an exec.transfer of a host argument or an exec.resident_load",
        ),
        (
            "a constant passed as an argument",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %c = exec.resident_load {resident = @c} : tensor<4xf32>
  %1 = exec.launch %0, %c {kernel = @k, device = @dev0} : tensor<4xf32>
  %2 = exec.transfer %1 {from = @dev0, to = @client} : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:12:8: error: 'exec.resident_load' op passes constant resident state to @k as argument #1; a plan reads constants inside the kernel",
        ),
        (
            "a result returned without a transfer",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %w = exec.resident_load {resident = @w} : tensor<4xf32>
  %1 = exec.launch %0, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  return %1 : tensor<4xf32>
}"#,
            "t.mlir:14:3: error: 'func.return' op result #0 must be an exec.transfer of a result of the launch of @k",
        ),
        (
            "a weight read inside a kernel",
            r#"func.func private @reads_weight(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = exec.resident_load {resident = @w} : tensor<4xf32>
  %0 = sem.add %x, %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %1 = exec.launch %0 {kernel = @reads_weight, device = @dev0} : tensor<4xf32>
  %2 = exec.transfer %1 {from = @dev0, to = @client} : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:11:8: error: 'exec.resident_load' op reads resident state without 'init' inside a kernel; a plan takes weights as kernel arguments",
        ),
    ];
    for (what, host, want) in cases {
        let err = plan_error(&format!("{DECLS}{host}\n"));
        assert_eq!(err, want, "{what}");
    }
}
