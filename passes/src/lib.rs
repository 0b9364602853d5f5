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
pub mod lower_to_exec;
pub mod outline_patterns;
pub mod sem_annotate;

use genie_ir::{Diagnostics, Module};

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

/// Every pass, in the order `--list-passes` shows them.
pub fn register_all_passes() -> Vec<Box<dyn Pass>> {
    vec![Box::new(infer_shapes::InferShapes), Box::new(canonicalize::Canonicalize), Box::new(cse::Cse), Box::new(fold_matmul_scale::FoldMatmulScale), Box::new(sem_annotate::SemAnnotate), Box::new(outline_patterns::OutlinePatterns), Box::new(lower_to_exec::LowerToExec)]
}

/// `(name, description)` of every registered pass.
pub fn registered_passes() -> Vec<(&'static str, &'static str)> {
    register_all_passes().iter().map(|p| (p.name(), p.description())).collect()
}

pub fn create_pass(name: &str) -> Option<Box<dyn Pass>> {
    register_all_passes().into_iter().find(|p| p.name() == name)
}

/// Named phases, in pipeline order, with the passes each adds.
/// `input` only parses and verifies; `sem` normalises the `sem` dialect;
/// `exec` places each function on one device (resident weights and
/// constants, transfers, a launched kernel), the form codegen compiles.
/// Later phases (patterns, placement, plan) arrive with the issues that build them.
pub const PHASES: &[(&str, &[&str])] = &[
    ("input", &[]),
    ("sem", &["genie-sem-infer-shapes", "genie-sem-canonicalize", "genie-cse", "genie-sem-fold-matmul-scale", "genie-sem-infer-shapes"]),
    ("exec", &["genie-lower-to-exec"]),
];

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
    passes: Vec<Box<dyn Pass>>,
    pub options: PassOptions,
}

impl PassManager {
    pub fn new() -> Self {
        PassManager::default()
    }

    pub fn add(&mut self, pass: Box<dyn Pass>) {
        self.passes.push(pass);
    }

    /// Adds a pass by name.
    pub fn add_named(&mut self, name: &str) -> Result<(), String> {
        let pass = create_pass(name).ok_or_else(|| {
            let names: Vec<&str> = registered_passes().iter().map(|p| p.0).collect();
            format!("unknown pass '{name}' (registered: {})", names.join(", "))
        })?;
        self.passes.push(pass);
        Ok(())
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

    /// The passes of every phase up to and including `phase`.
    pub fn for_phase(phase: &str) -> Result<PassManager, String> {
        let end = PHASES.iter().position(|p| p.0 == phase).ok_or_else(|| {
            let names: Vec<&str> = PHASES.iter().map(|p| p.0).collect();
            format!("unknown phase '{phase}' (phases: {})", names.join(", "))
        })?;
        let mut pm = PassManager::new();
        for (_, passes) in &PHASES[..=end] {
            for name in *passes {
                pm.add_named(name)?;
            }
        }
        Ok(pm)
    }

    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    pub fn run(&mut self, module: &mut Module) -> Result<(), Diagnostics> {
        self.run_with(module, &mut |_, _| {})
    }

    /// Runs the pipeline, calling `after(pass_name, module)` after each pass.
    pub fn run_with(&mut self, module: &mut Module, after: &mut dyn FnMut(&str, &Module)) -> Result<(), Diagnostics> {
        let mut ran = 0;
        for pass in &self.passes {
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
        assert_eq!(exec.last(), Some(&"genie-lower-to-exec"));
        assert!(exec.contains(&"genie-cse"), "phases only move forward: exec runs the sem phase first");
        assert!(PassManager::for_phase("plan").is_err());
    }
}
