//! Semantic analysis of `sem` graphs: an e-graph pattern engine (egg) that
//! recognises attention, feed-forward blocks, norms, convolution blocks,
//! embeddings, KV-cache appends, … structurally, and the classification of
//! each graph (workload, phase, per-value role and modality) built on it.
//!
//! - [`lang`]: the e-graph language (one generic node per `sem` op);
//! - [`analysis`]: the e-class analysis (type, module path, lineage);
//! - [`rules`]: rule files and the registry (built-in + user directories);
//! - [`engine`]: build, rewrite with typed conditional appliers, match,
//!   extract under a [`engine::CostModel`];
//! - [`classify`]: workload evidence, phase, roles, modality;
//! - [`analyze_module`] and [`annotate`]: the results as a [`Report`] and as
//!   `sem` attributes (what `genie-opt --genie-sem-annotate` prints);
//! - [`outline`]: chosen matches as `sem.region` ops with outlined bodies
//!   (`genie-opt --genie-sem-outline-patterns`).
//!
//! The analysis only reads the graph and adds discardable attributes: it
//! never changes what a graph computes.

pub mod analysis;
pub mod classify;
pub mod engine;
pub mod lang;
pub mod outline;
pub mod rules;

use engine::{FunctionGraph, Limits};
use genie_ir::{Attribute, Module, OpId};
use rules::RuleSet;
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub use rules::{RuleError, RuleSet as Rules};

/// One recognised pattern instance, located.
#[derive(Clone, Debug)]
pub struct Instance {
    pub kind: String,
    pub rule: String,
    /// Module path of the op at the pattern's root.
    pub module: Option<String>,
    /// The ops whose result is the pattern's root.
    pub root_ops: Vec<OpId>,
}

/// The analysis of one function (one captured graph).
#[derive(Clone, Debug)]
pub struct FunctionReport {
    pub name: String,
    pub phase: &'static str,
    pub workload: &'static str,
    pub confidence: f64,
    pub why: Vec<String>,
    pub patterns: BTreeMap<String, usize>,
    pub instances: Vec<Instance>,
    pub facts: classify::FunctionFacts,
    /// Rewrites refused by the type check.
    pub rejected_rewrites: usize,
    pub seconds: f64,
}

/// The analysis of a module, or of several graphs of one model.
#[derive(Clone, Debug)]
pub struct Report {
    pub functions: Vec<FunctionReport>,
    pub workload: &'static str,
    pub confidence: f64,
    pub why: Vec<String>,
    pub rules_version: String,
}

/// The rules from the built-in files and `GENIE_RULES_DIR`, loaded once.
pub fn default_rules() -> Result<&'static RuleSet, RuleError> {
    static RULES: OnceLock<Result<RuleSet, RuleError>> = OnceLock::new();
    RULES.get_or_init(RuleSet::from_env).as_ref().map_err(Clone::clone)
}

/// Analyses one function.
pub fn analyze_function(m: &Module, func: OpId, rules: &RuleSet) -> FunctionReport {
    let start = std::time::Instant::now();
    let mut fg = FunctionGraph::build(m, func);
    fg.run(rules, &Limits::default());
    let facts = classify::classify(m, func, &fg);
    let (workload, confidence, why) = facts.evidence.decide();
    let mut patterns = BTreeMap::new();
    let mut instances = Vec::new();
    // Ops whose result lies in each matched root class, in program order.
    let entry = m.entry_block(func).expect("a function has a body");
    let mut ops_of_class: rustc_hash::FxHashMap<egg::Id, Vec<OpId>> = Default::default();
    for op in m.block_ops(entry) {
        for &r in &m.op(op).results {
            if let Some(c) = fg.class_of(r) {
                ops_of_class.entry(c).or_default().push(op);
            }
        }
    }
    for x in &fg.matches {
        *patterns.entry(x.kind.clone()).or_insert(0) += 1;
        let root_ops = ops_of_class.get(&fg.egraph.find(x.root)).cloned().unwrap_or_default();
        let module = root_ops.iter().rev().find_map(|&o| m.op(o).loc.module_path().map(str::to_string));
        instances.push(Instance { kind: x.kind.clone(), rule: x.rule.clone(), module, root_ops });
    }
    FunctionReport {
        name: m.symbol_name(func).unwrap_or("").to_string(),
        phase: facts.phase,
        workload,
        confidence,
        why,
        patterns,
        instances,
        facts,
        rejected_rewrites: fg.rejected_rewrites,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Analyses every function of `m`; the module's workload combines them.
pub fn analyze_module(m: &Module, rules: &RuleSet) -> Report {
    let functions: Vec<FunctionReport> = m.functions().into_iter().filter(|&f| m.entry_block(f).is_some()).map(|f| analyze_function(m, f, rules)).collect();
    combine(functions, rules)
}

/// A model's report from the reports of its graphs: the evidence of all of
/// them decides the workload.
pub fn combine(functions: Vec<FunctionReport>, rules: &RuleSet) -> Report {
    let mut evidence = classify::Evidence::default();
    for f in &functions {
        evidence.merge(&f.facts.evidence);
    }
    let (workload, confidence, why) = evidence.decide();
    Report { functions, workload, confidence, why, rules_version: rules.version() }
}

/// Writes the analysis into the module as attributes: on each function
/// `sem.phase`, `genie.workload`, `genie.confidence`, `genie.arg_roles`,
/// `genie.arg_modalities`; on ops `sem.role`, `sem.modality` and, at each
/// pattern root, `sem.pattern = "<kind>"` (several: comma-separated).
pub fn annotate(m: &mut Module, report: &Report) {
    let functions = m.functions();
    for fr in &report.functions {
        let Some(&f) = functions.iter().find(|&&f| m.symbol_name(f) == Some(fr.name.as_str())) else { continue };
        let attrs = &mut m.op_mut(f).attrs;
        attrs.set("sem.phase", Attribute::String(fr.phase.to_string()));
        attrs.set("genie.workload", Attribute::String(report.workload.to_string()));
        attrs.set("genie.confidence", Attribute::Float((report.confidence * 100.0).round() / 100.0, genie_ir::DType::F64));
        let roles = fr.facts.arg_roles.iter().map(|r| Attribute::String(r.to_string())).collect();
        attrs.set("genie.arg_roles", Attribute::Array(roles));
        let mods = fr.facts.arg_modality.iter().map(|r| Attribute::String(r.unwrap_or("").to_string())).collect();
        attrs.set("genie.arg_modalities", Attribute::Array(mods));
        let entry = m.entry_block(f).expect("analysed functions have bodies");
        for op in m.block_ops(entry) {
            let Some(&r) = m.op(op).results.first() else { continue };
            let role = fr.facts.value_role.get(&r).copied();
            let modality = fr.facts.value_modality.get(&r).copied();
            let attrs = &mut m.op_mut(op).attrs;
            if let Some(role) = role {
                attrs.set("sem.role", Attribute::String(role.to_string()));
            }
            if let Some(md) = modality {
                attrs.set("sem.modality", Attribute::String(md.to_string()));
            }
        }
        let mut kinds: BTreeMap<OpId, Vec<&str>> = BTreeMap::new();
        for inst in &fr.instances {
            // The first op computing the root value carries the name (later
            // ones in its class are identity views and copies of it).
            if let Some(&op) = inst.root_ops.first() {
                let v = kinds.entry(op).or_default();
                if !v.contains(&inst.kind.as_str()) {
                    v.push(&inst.kind);
                }
            }
        }
        for (op, k) in kinds {
            m.op_mut(op).attrs.set("sem.pattern", Attribute::String(k.join(",")));
        }
    }
}

impl Report {
    /// The report as JSON (what `genie.analyze` reads).
    pub fn to_json(&self, m: Option<&Module>) -> serde_json::Value {
        use serde_json::json;
        let functions: Vec<serde_json::Value> = self
            .functions
            .iter()
            .map(|f| {
                // Per module path: roles, modalities, pattern kinds.
                type Seen<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);
                let mut modules: BTreeMap<String, Seen> = BTreeMap::new();
                if let Some(m) = m {
                    if let Some(func) = m.function(&f.name) {
                        let entry = m.entry_block(func).expect("analysed functions have bodies");
                        for op in m.block_ops(entry) {
                            let Some(path) = m.op(op).loc.module_path() else { continue };
                            let Some(&r) = m.op(op).results.first() else { continue };
                            let e = modules.entry(path.to_string()).or_default();
                            if let Some(role) = f.facts.value_role.get(&r) {
                                if !e.0.contains(role) {
                                    e.0.push(role);
                                }
                            }
                            if let Some(md) = f.facts.value_modality.get(&r) {
                                if !e.1.contains(md) {
                                    e.1.push(md);
                                }
                            }
                        }
                    }
                }
                for inst in &f.instances {
                    if let Some(path) = &inst.module {
                        let e = modules.entry(path.clone()).or_default();
                        if !e.2.contains(&inst.kind.as_str()) {
                            e.2.push(&inst.kind);
                        }
                    }
                }
                let modules: serde_json::Map<String, serde_json::Value> =
                    modules.into_iter().map(|(k, (roles, mods, pats))| (k, json!({"roles": roles, "modality": mods, "patterns": pats}))).collect();
                json!({
                    "name": f.name,
                    "phase": f.phase,
                    "workload": f.workload,
                    "confidence": f.confidence,
                    "why": f.why,
                    "patterns": f.patterns,
                    "instances": f.instances.iter().map(|i| json!({"kind": i.kind, "rule": i.rule, "module": i.module})).collect::<Vec<_>>(),
                    "arg_roles": f.facts.arg_roles,
                    "arg_modalities": f.facts.arg_modality,
                    "modules": modules,
                    "rejected_rewrites": f.rejected_rewrites,
                    "seconds": f.seconds,
                })
            })
            .collect();
        json!({
            "workload": self.workload,
            "confidence": self.confidence,
            "why": self.why,
            "rules_version": self.rules_version,
            "functions": functions,
        })
    }
}
