//! `genie-place`: places each `sem` function on the target's device and
//! decides, from what the analysis recovered, what lives where.
//!
//! Arguments: the model's parameters and buffers (the frontend lists them
//! in `genie.weight_args`) become resident state on the device, bound once
//! — embedding tables among them are named as such; KV caches (role
//! `kv-state`) arrive as handles to what an earlier step kept there; every
//! other argument is sent from the client on each call. Results: see
//! [`RULES`]; in short, KV caches and an LLM step's logits stay on the device
//! (the program reads a slice of the logits through recorded ops), a
//! training step's loss and gradients come back while saved activations
//! stay for the backward graph, an inference result of a recognised model
//! comes back, and so does anything smaller than what the link moves in one
//! round trip; what nothing says the program reads stays until it is read.
//! On an embedded device nothing crosses a network, so every result comes
//! back.
//!
//! The decisions are written as `genie.arg_rules` and `genie.result_rules`
//! on the host function (one rule name per original argument and per
//! result); [`explain`] prints them with their reasons. The lowering itself
//! is `genie-lower-to-exec`'s. Ops the target's device does not list are
//! refused here, before anything runs, naming the op and where it is.

use crate::lower_to_exec::{lower, Decisions, DeviceDecl, ARG_RULES_ATTR, RESULT_RULES_ATTR};
use crate::Pass;
use genie_ir::{Attribute, Diagnostic, Diagnostics, Module, OpId, Severity, Type};
use genie_plan::{Target, TargetDevice};
use std::fmt::Write;

pub struct Place {
    pub target: Target,
}

impl Default for Place {
    fn default() -> Self {
        Place { target: Target::embedded_cpu() }
    }
}

/// Every rule: its name (what the IR records) and what it means.
pub const RULES: &[(&str, &str)] = &[
    ("weight", "a model parameter or buffer: resident on the device, bound once"),
    ("embedding-table", "an embedding table: resident on the device; only the rows looked up are read"),
    ("input", "a per-call input: sent from the client on each call"),
    ("kv-state", "a KV cache: stays on the device; the next step passes it back as a handle"),
    ("logits", "an LLM step's output: stays on the device; the program reads a slice of it (generate() takes the last row) through recorded ops"),
    ("loss", "a training step's scalar loss: comes back"),
    ("saved-for-backward", "saved for the backward graph: stays on the device"),
    ("gradient", "a gradient: comes back to the optimizer"),
    ("output", "an inference result: comes back to the program"),
    ("small", "smaller than what the link moves in one round trip: cheaper to return now than to fetch later"),
    ("unknown", "nothing the analysis found says the program reads it: stays on the device until the program does"),
    ("embedded", "the device shares the client's memory: nothing crosses a network"),
];

impl Pass for Place {
    fn name(&self) -> &'static str {
        "genie-place"
    }

    fn description(&self) -> &'static str {
        "place each function on the target's device; decide from the analysis what stays resident there and what comes back (genie.arg_rules, genie.result_rules)"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let device = match self.target.devices.as_slice() {
            [one] => one,
            many => {
                let names: Vec<&str> = many.iter().map(|d| d.name.as_str()).collect();
                let msg = format!("genie-place places a program on one device; the target names {} ({}): placement across devices is not built yet", many.len(), names.join(", "));
                return Err(Diagnostics::error(&m.file, m.src, msg));
            }
        };
        if m.functions().into_iter().any(|f| m.op(f).attr("sem.phase").is_none() && m.entry_block(f).is_some()) {
            // The rules read the analysis; run it where it has not run.
            crate::sem_annotate::SemAnnotate.run(m)?;
        }
        let decl = DeviceDecl { name: device.name.clone(), kind: device.kind.name().to_string(), address: device.at.clone() };
        let link = self.target.client_link(&device.name);
        // Bytes the link moves in one round trip.
        let round_trip_bytes = if device.at.is_some() { link.bandwidth * link.latency * 2.0 } else { f64::INFINITY };
        lower(m, &decl, &mut |m, f, weights| {
            check_ops(m, f, device)?;
            Ok(Some(decide(m, f, weights, device.at.is_none(), round_trip_bytes)))
        })
    }
}

/// Refuses an op the device does not list.
fn check_ops(m: &Module, f: OpId, device: &TargetDevice) -> Result<(), Diagnostic> {
    let Some(ops) = &device.ops else { return Ok(()) };
    let entry = m.entry_block(f).expect("lowered functions have bodies");
    for op in m.block_ops(entry) {
        let data = m.op(op);
        if data.def.dialect() == "sem" && !ops.contains(data.name()) {
            let at = device.at.as_deref().unwrap_or("embedded");
            let msg = format!("cannot run on @{} ({} {at}): the target lists no kernel for '{}'", device.name, device.kind.name(), data.name());
            return Err(m.op_diagnostic(op, Severity::Error, &msg));
        }
    }
    Ok(())
}

fn strings(a: Option<&Attribute>) -> Vec<String> {
    a.and_then(Attribute::as_array).map(|v| v.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
}

fn decide(m: &Module, f: OpId, weights: &[bool], embedded: bool, round_trip_bytes: f64) -> Decisions {
    let attrs = &m.op(f).attrs;
    let arg_roles = strings(attrs.get("genie.arg_roles"));
    let phase = attrs.get("sem.phase").and_then(Attribute::as_str).unwrap_or("");
    let workload = attrs.get("genie.workload").and_then(Attribute::as_str).unwrap_or("unknown");
    let arg_rules = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let role = arg_roles.get(i).map(String::as_str);
            match (w, role) {
                (true, Some("embedding-table")) => "embedding-table",
                (true, _) => "weight",
                (false, Some("kv-state")) => "kv-state",
                (false, _) => "input",
            }
            .to_string()
        })
        .collect();
    let entry = m.entry_block(f).expect("lowered functions have bodies");
    let ret = m.last_op(entry).expect("a function ends with its return");
    let generative = workload == "llm" && matches!(phase, "prefill" | "decode");
    let (mut keep, mut result_rules) = (Vec::new(), Vec::new());
    for &v in &m.op(ret).operands {
        let role = m.defining_op(v).and_then(|d| m.op(d).attr("sem.role")).and_then(Attribute::as_str);
        let bytes = static_bytes(m.value_type(v));
        let scalar = matches!(m.value_type(v), Type::Tensor(t) if t.dims.is_empty()) || m.value_type(v).is_scalar();
        let (k, rule) = if embedded {
            (false, "embedded")
        } else if role == Some("kv-state") {
            (true, "kv-state")
        } else if phase == "train-forward" {
            if scalar {
                (false, "loss")
            } else {
                (true, "saved-for-backward")
            }
        } else if phase == "train-backward" {
            (false, "gradient")
        } else if bytes.is_some_and(|b| (b as f64) <= round_trip_bytes) {
            (false, "small")
        } else if workload == "unknown" {
            (true, "unknown")
        } else if generative {
            (true, "logits")
        } else {
            (false, "output")
        };
        keep.push(k);
        result_rules.push(rule.to_string());
    }
    Decisions { arg_rules, keep, result_rules }
}

fn static_bytes(t: &Type) -> Option<u64> {
    match t {
        Type::Tensor(tt) => u64::try_from(tt.num_elements()?).ok()?.checked_mul(tt.dtype.byte_size() as u64),
        Type::Scalar(_) => Some(8),
        _ => None,
    }
}

fn meaning(rule: &str) -> &'static str {
    RULES.iter().find(|(n, _)| *n == rule).map_or("(unknown rule)", |(_, m)| m)
}

/// Every placement decision of every placed function, with its rule and
/// what the rule means: what `genie-opt --genie-place --explain` prints.
pub fn explain(m: &Module) -> String {
    let mut out = String::new();
    for f in m.functions() {
        let attrs = &m.op(f).attrs;
        let (args, results) = (strings(attrs.get(ARG_RULES_ATTR)), strings(attrs.get(RESULT_RULES_ATTR)));
        if args.is_empty() && results.is_empty() {
            continue;
        }
        let name = m.symbol_name(f).unwrap_or("?");
        let phase = attrs.get("sem.phase").and_then(Attribute::as_str).unwrap_or("unknown");
        let workload = attrs.get("genie.workload").and_then(Attribute::as_str).unwrap_or("unknown");
        let _ = writeln!(out, "@{name}: {workload}, phase {phase}");
        for (i, r) in args.iter().enumerate() {
            let _ = writeln!(out, "  argument #{i}: {r} — {}", meaning(r));
        }
        let ret_types = attrs.get("function_type").and_then(Attribute::as_function_type).map(|(_, o)| o.to_vec()).unwrap_or_default();
        for (i, r) in results.iter().enumerate() {
            let ty = ret_types.get(i).map(|t| format!(" {t}")).unwrap_or_default();
            let _ = writeln!(out, "  result #{i}{ty}: {r} — {}", meaning(r));
        }
    }
    out
}
