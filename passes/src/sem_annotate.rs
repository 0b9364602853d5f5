//! `genie-sem-annotate`: runs the pattern engine and the workload / phase /
//! role / modality analysis (crate `genie-patterns`) and records the results
//! as attributes. It adds attributes only, so what the graph computes is
//! unchanged and later passes may ignore them.

use crate::Pass;
use genie_ir::{Diagnostics, Module};

pub struct SemAnnotate;

impl Pass for SemAnnotate {
    fn name(&self) -> &'static str {
        "genie-sem-annotate"
    }

    fn description(&self) -> &'static str {
        "recognise patterns (attention, MLP, norms, conv blocks, …) and annotate workload, phase, roles and modality"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let rules = genie_patterns::default_rules().map_err(|e| e.to_diagnostics())?;
        let report = genie_patterns::analyze_module(m, rules);
        genie_patterns::annotate(m, &report);
        Ok(())
    }
}
