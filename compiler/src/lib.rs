//! The one compile entry point: `compile(graph, target) → program`.
//!
//! Used by `torch.compile(backend="genie")`, `genie.capture`, the remote
//! client (through the Python extension) and `genie-opt --compile-to=plan`.
//! The phases only move forward — import (FX graph → `sem`), `sem`
//! (canonical form), `annotate` (the pattern engine's roles, phase and
//! workload written into the IR), `exec` (placed on the target's device,
//! residency decided from the annotations) and `plan` (codegen) — and each
//! leaves the module recording it (`genie.phase`). A [`Program`] is the
//! plans plus a [`Manifest`] per plan: what every input and output is, the
//! rule that placed it and where it lives.

use genie_ir::{Attribute, Module};
use genie_passes::lower_to_exec::{ARG_RULES_ATTR, RESULT_RULES_ATTR};
use genie_passes::PassManager;
use genie_plan::{Plan, Role, Target};
use std::time::{Duration, Instant};

/// One plan's inputs and outputs, as the client binds them.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub name: String,
    /// Per graph argument, in order.
    pub inputs: Vec<Slot>,
    /// Per graph result, in order.
    pub outputs: Vec<Slot>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// The placement rule (see `genie_passes::place::RULES`).
    pub rule: String,
    /// The device it lives on (a target device's name).
    pub device: String,
    /// Inputs: bound once and kept resident (a weight). Outputs: kept on
    /// the device as a handle instead of returned.
    pub resident: bool,
}

impl Manifest {
    pub fn to_json(&self) -> serde_json::Value {
        let slots = |v: &[Slot]| v.iter().map(|s| serde_json::json!({"rule": s.rule, "device": s.device, "resident": s.resident})).collect::<Vec<_>>();
        serde_json::json!({"name": self.name, "inputs": slots(&self.inputs), "outputs": slots(&self.outputs)})
    }
}

pub struct Program {
    pub plans: Vec<Plan>,
    pub manifests: Vec<Manifest>,
    /// The module after the last IR phase (`exec`).
    pub module: Module,
    /// The module as each phase left it, printed, when asked for.
    pub phases: Vec<(&'static str, String)>,
    /// Wall time per step.
    pub timings: Vec<(&'static str, Duration)>,
}

/// Why a graph cannot be compiled: located diagnostics (`file:line:col:
/// error: …`, naming the PyTorch module and source line), one per line.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError(pub String);

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

fn error(e: impl std::fmt::Display) -> CompileError {
    CompileError(e.to_string())
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub target: Target,
    /// Keep the printed module after each phase ([`Program::phases`]).
    pub keep_phases: bool,
}

/// Compiles an FX graph in Genie's exchange format (`genie/fx_export.py`).
pub fn compile_graph(graph_json: &str, options: &Options) -> Result<Program, CompileError> {
    let start = Instant::now();
    let m = genie_frontend_fx::import_graph(graph_json).map_err(error)?;
    let mut program = compile_module(m, options)?;
    program.timings.insert(0, ("import", start.elapsed() - program.timings.iter().map(|t| t.1).sum::<Duration>()));
    Ok(program)
}

/// Compiles a module from whatever phase it is at.
pub fn compile_module(mut m: Module, options: &Options) -> Result<Program, CompileError> {
    let mut timings = Vec::new();
    let mut phases = Vec::new();
    if options.keep_phases {
        phases.push(("input", genie_ir::print_module(&m, false)));
    }
    for (phase, _) in &genie_passes::PHASES[1..genie_passes::PHASES.len() - 1] {
        let start = Instant::now();
        let mut pm = PassManager::for_phase_on(phase, &options.target).map_err(error)?;
        pm.run(&mut m).map_err(error)?;
        timings.push((*phase, start.elapsed()));
        if options.keep_phases {
            phases.push((*phase, genie_ir::print_module(&m, false)));
        }
    }
    let start = Instant::now();
    let plans = genie_codegen::compile_module(&m).map_err(|e| CompileError(format!("cannot build a plan: {e}")))?;
    let manifests = plans.iter().map(|p| manifest(&m, p)).collect();
    timings.push(("plan", start.elapsed()));
    Ok(Program { plans, manifests, module: m, phases, timings })
}

/// What the placed module and the plan say about each input and output.
fn manifest(m: &Module, plan: &Plan) -> Manifest {
    let host = m.function(&plan.name);
    let rules = |attr: &str| -> Vec<String> {
        host.and_then(|f| m.op(f).attr(attr)).and_then(Attribute::as_array).map(|v| v.iter().map(|a| a.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
    };
    let (arg_rules, result_rules) = (rules(ARG_RULES_ATTR), rules(RESULT_RULES_ATTR));
    let device_of = |v: u32| plan.devices[plan.values[v as usize].device as usize].name.clone();
    let inputs = plan
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let weight = plan.values[v as usize].role == Role::Weight;
            let rule = arg_rules.get(i).cloned().unwrap_or_else(|| if weight { "weight".into() } else { "input".into() });
            Slot { rule, device: device_of(v), resident: weight }
        })
        .collect();
    let outputs = plan
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| Slot { rule: result_rules.get(i).cloned().unwrap_or_else(|| "output".into()), device: device_of(o.value), resident: o.keep })
        .collect();
    Manifest { name: plan.name.clone(), inputs, outputs }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"
func.func @f(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<f32>) attributes {genie.weight_args = [1]} {
  %0 = sem.mm %x, %w : tensor<4x8xf32>
  %1 = sem.sum %0 : tensor<f32>
  return %0, %1 : tensor<4x8xf32>, tensor<f32>
}
"#;

    fn module() -> Module {
        genie_ir::parse_module(GRAPH, "t.mlir").unwrap()
    }

    #[test]
    fn phases_in_order_and_a_manifest() {
        let p = compile_module(module(), &Options { keep_phases: true, ..Options::default() }).unwrap();
        let names: Vec<&str> = p.phases.iter().map(|x| x.0).collect();
        assert_eq!(names, ["input", "sem", "annotate", "exec"]);
        assert!(p.phases[3].1.contains("genie.phase = \"exec\""), "{}", p.phases[3].1);
        assert_eq!(p.plans.len(), 1);
        let m = &p.manifests[0];
        assert_eq!(m.inputs.iter().map(|s| (s.rule.as_str(), s.resident)).collect::<Vec<_>>(), [("input", false), ("weight", true)]);
        // Embedded: everything comes back.
        assert!(m.outputs.iter().all(|s| s.rule == "embedded" && !s.resident), "{m:?}");
        assert_eq!(m.inputs[0].device, "dev0");
    }

    #[test]
    fn a_remote_target_keeps_what_nothing_says_the_program_reads() {
        // The analysis recognises no model here: over a link moving 64 bytes
        // a round trip, the 128-byte product stays on the server until read;
        // the scalar comes back.
        let target = Target::remote_cpu("tcp://127.0.0.1:7400", 3.2e6, 1e-5);
        let p = compile_module(module(), &Options { target, ..Options::default() }).unwrap();
        let m = &p.manifests[0];
        let outs: Vec<(&str, bool)> = m.outputs.iter().map(|s| (s.rule.as_str(), s.resident)).collect();
        assert_eq!(outs, [("unknown", true), ("small", false)]);
        assert_eq!(m.inputs[0].device, "dev0");
    }

    #[test]
    fn the_target_refuses_ops_it_cannot_run_before_anything_runs() {
        let mut target = Target::embedded_cpu();
        target.devices[0].ops = Some(["sem.mm".to_string()].into_iter().collect());
        let e = compile_module(module(), &Options { target, ..Options::default() }).err().unwrap().to_string();
        assert!(e.contains("'sem.sum' op cannot run on @dev0 (cpu embedded): the target lists no kernel for 'sem.sum'"), "{e}");
    }
}
