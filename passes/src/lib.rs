//! Pass infrastructure and passes.
//!
//! A [`Pass`] transforms a module in place. The [`PassManager`] runs a list of
//! them, verifying after each in debug builds (or when asked), with hooks to
//! dump the IR after passes, disable passes by name and bisect. Passes are
//! registered in one place, [`register_all_passes`]; named phases
//! ([`PHASES`]) are the pipelines `--compile-to=<phase>` runs, and phases only
//! move forward.

pub mod canonicalize;
pub mod cse;
pub mod fold_matmul_scale;
pub mod infer_shapes;
pub mod kv_in_place;
pub mod lower_to_exec;
pub mod outline_patterns;
pub mod place;
pub mod sem_annotate;

use genie_ir::{Attribute, Diagnostics, Module};
pub use genie_plan::Target;

/// A transformation over a whole module.
pub trait Pass {
    /// Flag name, `genie-<dialect>-<verb-noun>`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// Lets a pass opt out under some options (none do yet).
    fn is_enabled(&self, _options: &PassOptions) -> bool {
        true
    }
    fn run(&self, module: &mut Module) -> Result<(), Diagnostics>;
}

/// Every pass, in the order `--list-passes` shows them; passes that place
/// work read `target`.
pub fn register_all_passes(target: &Target) -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(infer_shapes::InferShapes),
        Box::new(canonicalize::Canonicalize),
        Box::new(cse::Cse),
        Box::new(fold_matmul_scale::FoldMatmulScale),
        Box::new(sem_annotate::SemAnnotate),
        Box::new(outline_patterns::OutlinePatterns),
        Box::new(kv_in_place::KvInPlace),
        Box::new(place::Place { target: target.clone() }),
        Box::new(lower_to_exec::LowerToExec),
    ]
}

/// `(name, description)` of every registered pass.
pub fn registered_passes() -> Vec<(&'static str, &'static str)> {
    register_all_passes(&Target::embedded_cpu()).iter().map(|p| (p.name(), p.description())).collect()
}

pub fn create_pass(name: &str, target: &Target) -> Option<Box<dyn Pass>> {
    register_all_passes(target).into_iter().find(|p| p.name() == name)
}

/// Named phases, in pipeline order, with the passes each adds. `input`
/// only parses and verifies; `sem` normalises the `sem` dialect; `annotate`
/// writes what the pattern engine recovers (roles, phase, workload,
/// patterns) into the IR; `exec` places each function on the target
/// (residency decided from the annotations; KV-cache appends in place), the
/// form codegen compiles; `plan` is codegen itself (no pass: `genie-opt
/// --compile-to=plan` prints the plan). A module records the last phase it
/// went through (`genie.phase`), and phases only move forward.
pub const PHASES: &[(&str, &[&str])] = &[
    ("input", &[]),
    ("sem", &["genie-sem-infer-shapes", "genie-sem-canonicalize", "genie-cse", "genie-sem-fold-matmul-scale", "genie-sem-infer-shapes"]),
    ("annotate", &["genie-sem-annotate"]),
    ("exec", &["genie-kv-in-place", "genie-place"]),
    ("plan", &[]),
];

/// Module attribute naming the last phase the module went through.
pub const PHASE_ATTR: &str = "genie.phase";

/// The phase a module is at (`input` when it records none).
pub fn module_phase(m: &Module) -> Result<usize, String> {
    match m.attrs.get(PHASE_ATTR) {
        None => Ok(0),
        Some(Attribute::String(p)) => PHASES.iter().position(|(n, _)| n == p).ok_or_else(|| format!("module attribute '{PHASE_ATTR}' names '{p}', which is not a phase")),
        Some(_) => Err(format!("module attribute '{PHASE_ATTR}' must be a phase name")),
    }
}

#[derive(Clone, Debug)]
pub struct PassOptions {
    /// Verify after every pass (default: in debug builds).
    pub verify_each: bool,
    /// Pass names not to run.
    pub disabled: Vec<String>,
    /// Run at most this many passes (to bisect a miscompile).
    pub bisect_limit: Option<usize>,
}

impl Default for PassOptions {
    fn default() -> Self {
        PassOptions { verify_each: cfg!(debug_assertions), disabled: Vec::new(), bisect_limit: None }
    }
}

#[derive(Default)]
pub struct PassManager {
    /// Each pass with the phase it belongs to (`None`: asked for by name).
    passes: Vec<(Option<usize>, Box<dyn Pass>)>,
    pub options: PassOptions,
    /// The phase the pipeline ends at, when built by [`PassManager::for_phase`].
    end_phase: Option<usize>,
    target: Target,
}

impl PassManager {
    pub fn new() -> Self {
        PassManager { target: Target::embedded_cpu(), ..PassManager::default() }
    }

    /// A pass manager whose placement passes place on `target`.
    pub fn on(target: &Target) -> Self {
        PassManager { target: target.clone(), ..PassManager::default() }
    }

    pub fn add(&mut self, pass: Box<dyn Pass>) {
        self.passes.push((None, pass));
    }

    /// Adds a pass by name.
    pub fn add_named(&mut self, name: &str) -> Result<(), String> {
        let pass = self.named(name)?;
        self.passes.push((None, pass));
        Ok(())
    }

    fn named(&self, name: &str) -> Result<Box<dyn Pass>, String> {
        create_pass(name, &self.target).ok_or_else(|| {
            let names: Vec<&str> = registered_passes().iter().map(|p| p.0).collect();
            format!("unknown pass '{name}' (registered: {})", names.join(", "))
        })
    }

    /// `genie-sem-canonicalize,genie-cse`, optionally wrapped as
    /// `builtin.module(…)` like MLIR pipelines.
    pub fn parse_pipeline(pipeline: &str) -> Result<PassManager, String> {
        let mut pm = PassManager::new();
        let mut text = pipeline.trim();
        if let Some(inner) = text.strip_prefix("builtin.module(") {
            text = inner.strip_suffix(')').ok_or_else(|| format!("unbalanced parentheses in pipeline '{pipeline}'"))?;
        }
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            pm.add_named(name)?;
        }
        Ok(pm)
    }

    /// The passes of every phase up to and including `phase`, placing on
    /// one embedded CPU.
    pub fn for_phase(phase: &str) -> Result<PassManager, String> {
        PassManager::for_phase_on(phase, &Target::embedded_cpu())
    }

    /// The passes of every phase up to and including `phase`, placing on
    /// `target`. Running them skips the phases a module has been through.
    pub fn for_phase_on(phase: &str, target: &Target) -> Result<PassManager, String> {
        let end = PHASES.iter().position(|p| p.0 == phase).ok_or_else(|| {
            let names: Vec<&str> = PHASES.iter().map(|p| p.0).collect();
            format!("unknown phase '{phase}' (phases: {})", names.join(", "))
        })?;
        let mut pm = PassManager::on(target);
        pm.end_phase = Some(end);
        for (i, (_, passes)) in PHASES[..=end].iter().enumerate() {
            for name in *passes {
                let pass = pm.named(name)?;
                pm.passes.push((Some(i), pass));
            }
        }
        Ok(pm)
    }

    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.1.name()).collect()
    }

    pub fn run(&mut self, module: &mut Module) -> Result<(), Diagnostics> {
        self.run_with(module, &mut |_, _| {})
    }

    /// Runs the pipeline, calling `after(pass_name, module)` after each pass.
    pub fn run_with(&mut self, module: &mut Module, after: &mut dyn FnMut(&str, &Module)) -> Result<(), Diagnostics> {
        let at = module_phase(module).map_err(|e| Diagnostics::error(&module.file, module.src, e))?;
        if let Some(end) = self.end_phase.filter(|&end| end < at) {
            let msg = format!("the module is at phase '{}' already; phases only move forward, so it cannot be compiled to '{}'", PHASES[at].0, PHASES[end].0);
            return Err(Diagnostics::error(&module.file, module.src, msg));
        }
        let mut ran = 0;
        for (phase, pass) in &self.passes {
            // A phase the module has been through is not run again.
            if phase.is_some_and(|p| p <= at) {
                continue;
            }
            if !pass.is_enabled(&self.options) || self.options.disabled.iter().any(|d| d == pass.name()) {
                continue;
            }
            if self.options.bisect_limit.is_some_and(|limit| ran >= limit) {
                break;
            }
            ran += 1;
            pass.run(module)?;
            if self.options.verify_each {
                genie_ir::verify(module).map_err(|mut d| {
                    let note = format!("IR is invalid after pass '{}'", pass.name());
                    d.push(genie_ir::Severity::Note, &module.file, None, note);
                    d
                })?;
            }
            after(pass.name(), module);
        }
        if let Some(end) = self.end_phase.filter(|&end| end > at) {
            module.attrs.set(PHASE_ATTR, Attribute::String(PHASES[end].0.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_parsing() {
        let pm = PassManager::parse_pipeline("builtin.module(genie-sem-canonicalize, genie-cse)").unwrap();
        assert_eq!(pm.pass_names(), ["genie-sem-canonicalize", "genie-cse"]);
        let err = PassManager::parse_pipeline("genie-nope").err().unwrap();
        assert!(err.contains("unknown pass 'genie-nope'"), "{err}");
    }

    #[test]
    fn phases_accumulate() {
        assert!(PassManager::for_phase("input").unwrap().pass_names().is_empty());
        assert!(PassManager::for_phase("sem").unwrap().pass_names().contains(&"genie-cse"));
        let exec = PassManager::for_phase("exec").unwrap().pass_names();
        assert_eq!(exec.last(), Some(&"genie-place"));
        assert!(exec.contains(&"genie-cse") && exec.contains(&"genie-sem-annotate"), "exec runs the sem and annotate phases first");
        assert_eq!(PassManager::for_phase("plan").unwrap().pass_names(), exec);
        assert!(PassManager::for_phase("nope").is_err());
    }

    #[test]
    fn modules_record_their_phase_and_only_move_forward() {
        let src = "func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = sem.neg %x : tensor<2xf32>\n  return %0 : tensor<2xf32>\n}\n";
        let mut m = genie_ir::parse_module(src, "t.mlir").unwrap();
        PassManager::for_phase("sem").unwrap().run(&mut m).unwrap();
        assert_eq!(module_phase(&m), Ok(1));
        // Later phases skip what the module went through.
        let mut pm = PassManager::for_phase("exec").unwrap();
        let mut ran = Vec::new();
        pm.run_with(&mut m, &mut |p, _| ran.push(p.to_string())).unwrap();
        assert_eq!(ran, ["genie-sem-annotate", "genie-kv-in-place", "genie-place"]);
        assert_eq!(m.attrs.get(PHASE_ATTR).and_then(Attribute::as_str), Some("exec"));
        let e = PassManager::for_phase("sem").unwrap().run(&mut m).unwrap_err().to_string();
        assert!(e.contains("the module is at phase 'exec' already; phases only move forward"), "{e}");
    }
}
