//! `genie-sem-outline-patterns`: each pattern the engine recognises and its
//! extraction keeps (attention, mlp, …) becomes a `sem.region` op whose ops
//! move into a private function, so later passes can fuse or expand a
//! pattern as a unit. The computation is unchanged: the region computes
//! exactly what its body did.

use crate::Pass;
use genie_ir::{Diagnostics, Module};

pub struct OutlinePatterns;

impl Pass for OutlinePatterns {
    fn name(&self) -> &'static str {
        "genie-sem-outline-patterns"
    }

    fn description(&self) -> &'static str {
        "turn recognised patterns into sem.region ops whose bodies are private functions"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let rules = genie_patterns::default_rules().map_err(|e| e.to_diagnostics())?;
        genie_patterns::outline::outline_module(m, rules);
        Ok(())
    }
}
