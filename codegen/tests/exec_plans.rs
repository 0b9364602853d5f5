//! The plan of a `sem` function is the plan of its `exec` form: compiling
//! the `sem` module (which places it first), the placed module, and the
//! placed module read back from its text give equal plans and identical
//! bytecode. Placed forms with several launches and devices compile to one
//! stream per device, and the `exec` forms codegen cannot compile are
//! rejected with the op and its position.

use genie_codegen::compile_module;
use genie_ir::{parse_module, print_module, verify, Module};
use genie_passes::{lower_to_exec::LowerToExec, Pass, PassManager};
use genie_plan::{encode, Instr, Role};

fn parse(src: &str) -> Module {
    let m = parse_module(src, "t.mlir").unwrap_or_else(|d| panic!("{d}"));
    verify(&m).unwrap_or_else(|d| panic!("{d}"));
    m
}

fn assert_same_plans_through_exec(sem: &Module) {
    let reference = compile_module(sem).unwrap_or_else(|e| panic!("{e}"));
    assert!(!reference.is_empty());
    let mut exec = sem.clone();
    LowerToExec.run(&mut exec).unwrap_or_else(|d| panic!("{d}"));
    verify(&exec).unwrap_or_else(|d| panic!("{d}"));
    let reread = parse(&print_module(&exec, false));
    let reread_generic = parse(&print_module(&exec, true));
    for (what, plans) in [
        ("compile_module(exec)", compile_module(&exec)),
        ("compile_module(exec printed and parsed)", compile_module(&reread)),
        ("compile_module(exec printed generic and parsed)", compile_module(&reread_generic)),
    ] {
        let plans = plans.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(plans, reference, "{what} differs from the sem module's plan");
        let bytes: Vec<Vec<u8>> = plans.iter().map(encode).collect();
        let want: Vec<Vec<u8>> = reference.iter().map(encode).collect();
        assert_eq!(bytes, want, "{what}: bytecode differs");
    }
}

#[test]
fn weights_constants_and_buffers() {
    let m = parse(
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
    );
    assert_same_plans_through_exec(&m);
    let p = &compile_module(&m).unwrap()[0];
    let roles: Vec<&str> = p.values.iter().map(|v| v.role.name()).collect();
    assert_eq!(roles, ["input", "weight", "input", "resident", "temp", "temp", "temp", "temp", "output", "resident", "output"]);
    // One resident for the constant, read twice; semantic annotations stay
    // in the compiler.
    assert_eq!(p.residents.len(), 1);
    assert_eq!(p.residents[0].name, "table");
    assert!(!p.to_string().contains("sem.module_path"));
    // %4 dies at the relu, %5 at the add, %6 at the neg: 128-byte
    // temporaries need two buffers, not three; the dynamic-size output none.
    assert_eq!(p.unshared_temp_bytes, 4 * 128);
    assert_eq!(p.buffers.len(), 2);
    assert_eq!(p.devices[0].arena_size, 256);
    assert_eq!(p.values[10].buffer, None);
}

#[test]
fn views_keep_their_source_buffer_alive() {
    let m = parse(
        r#"
func.func @f(%x: tensor<4x8xf32>) -> tensor<8x4xf32> {
  %0 = sem.neg %x : tensor<4x8xf32>
  %1 = sem.permute %0 {dims = [1, 0]} : tensor<8x4xf32>
  %2 = sem.exp %x : tensor<4x8xf32>
  %3 = sem.permute %2 {dims = [1, 0]} : tensor<8x4xf32>
  %4 = sem.add %1, %3 : tensor<8x4xf32>
  return %4 : tensor<8x4xf32>
}
"#,
    );
    let p = &compile_module(&m).unwrap()[0];
    // %1 is a view of %0: %0's buffer must survive until the add, so %2
    // cannot reuse it.
    let (b0, b2) = (p.values[1].buffer.unwrap(), p.values[3].buffer.unwrap());
    assert_ne!(b0, b2);
    assert_eq!(p.values[2].buffer, None, "a view has no buffer of its own");
    // A view returned as an output keeps its source out of the arena.
    let m = parse("func.func @g(%x: tensor<4x8xf32>) -> tensor<8x4xf32> {\n  %0 = sem.neg %x : tensor<4x8xf32>\n  %1 = sem.permute %0 {dims = [1, 0]} : tensor<8x4xf32>\n  return %1 : tensor<8x4xf32>\n}\n");
    let p = &compile_module(&m).unwrap()[0];
    assert!(p.buffers.is_empty(), "{p}");
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

const DECLS: &str = r#"
exec.device {sym_name = "client", kind = "client"}
exec.device {sym_name = "dev0", kind = "cpu"}
exec.device {sym_name = "dev1", kind = "cpu"}
exec.resident {sym_name = "w", kind = "weight", type = tensor<4xf32>, device = @dev0, argument = 1}
exec.resident {sym_name = "c", kind = "weight", type = tensor<4xf32>, device = @dev0, init = dense_resource<c> : tensor<4xf32>}
func.func private @k(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.add %x, %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func private @neg(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sem.neg %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
"#;

#[test]
fn launches_devices_transfers_and_kept_results() {
    let m = parse(&format!(
        "{DECLS}{}",
        r#"func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %w = exec.resident_load {resident = @w} : tensor<4xf32>
  %1 = exec.launch %0, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  %2 = exec.launch %1, %w {kernel = @k, device = @dev0} : tensor<4xf32>
  %3 = exec.transfer_async %2 {from = @dev0, to = @dev1} : !exec.future<tensor<4xf32>>
  %c = exec.resident_load {resident = @c} : tensor<4xf32>
  %4 = exec.launch %2, %c {kernel = @k, device = @dev0} : tensor<4xf32>
  %5 = exec.await %3 : tensor<4xf32>
  %6 = exec.launch %5 {kernel = @neg, device = @dev1} : tensor<4xf32>
  %7 = exec.transfer %6 {from = @dev1, to = @client} : tensor<4xf32>
  return %7, %4 : tensor<4xf32>, tensor<4xf32>
}
"#
    ));
    let p = &compile_module(&m).unwrap()[0];
    let text = p.to_string();
    assert_eq!(p.devices.len(), 2, "{text}");
    // Inputs in argument order: x, then the weight at argument 1.
    let roles: Vec<Role> = p.inputs.iter().map(|&i| p.values[i as usize].role).collect();
    assert_eq!(roles, [Role::Input, Role::Weight], "{text}");
    let ops: Vec<&str> = p.streams[0].iter().map(|i| i.name()).collect();
    assert_eq!(ops, ["sem.add", "sem.add", "send", "load", "sem.add"], "{text}");
    // The receiver awaits right before the first use.
    assert!(matches!(p.streams[1][..], [Instr::Await { .. }, Instr::Call { .. }]), "{text}");
    assert!(text.contains("return (%7, %6 kept)"), "{text}");
}

/// The error `compile_module` gives for an `exec` module.
fn plan_error(src: &str) -> String {
    compile_module(&parse(src)).expect_err("codegen must reject this")
}

#[test]
fn rejects_exec_forms_a_plan_cannot_hold() {
    let cases = [
        (
            "compute on the host",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %1 = exec.launch %0 {kernel = @neg, device = @dev0} : tensor<4xf32>
  %2 = sem.neg %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:18:8: error: 'sem.neg' op cannot be compiled to a plan: host function @main holds 'sem.neg'; host functions hold transfers, resident loads and stores, launches and awaits",
        ),
        (
            "an argument neither transferred nor resident",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %1 = exec.launch %x {kernel = @neg, device = @dev0} : tensor<4xf32>
  %2 = exec.transfer %1 {from = @dev0, to = @client} : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:16:8: error: 'exec.launch' op argument #0 of the launch of @neg must be on a device (transfer it there first)",
        ),
        (
            "a value used on another device",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %1 = exec.launch %0 {kernel = @neg, device = @dev1} : tensor<4xf32>
  %2 = exec.transfer %1 {from = @dev1, to = @client} : tensor<4xf32>
  return %2 : tensor<4xf32>
}"#,
            "t.mlir:17:8: error: 'exec.launch' op argument #0 of the launch of @neg is on another device than this one",
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
            "t.mlir:16:8: error: 'exec.resident_load' op reads a weight inside a kernel; a plan takes weights as kernel arguments",
        ),
        (
            "an argument returned untouched",
            r#"func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = exec.transfer %x {from = @client, to = @dev0} : tensor<4xf32>
  %1 = exec.launch %0 {kernel = @neg, device = @dev0} : tensor<4xf32>
  return %x : tensor<4xf32>
}"#,
            "t.mlir:18:3: error: 'func.return' op result #0 must be a value a kernel computed (transferred back to the client, or kept on its device)",
        ),
    ];
    for (what, host, want) in cases {
        let err = plan_error(&format!("{DECLS}{host}\n"));
        assert_eq!(err, want, "{what}");
    }
}
