//! Classification of one function from its matches and its inputs:
//! input modalities, per-value role and modality (by lineage), phase, and
//! workload evidence. A whole model combines the evidence of its graphs.

use crate::engine::FunctionGraph;
use genie_ir::{Attribute, Module, OpId, Type, ValueId};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

pub const MODALITIES: &[&str] = &["vision", "text", "audio", "tabular"];

/// Evidence for each workload class: (class, weight, why).
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub items: Vec<(&'static str, f64, String)>,
    /// Modalities of the inputs ("vision", "text", "audio", "tabular").
    pub modalities: Vec<&'static str>,
    /// Modalities that a matching pattern confirms (e.g. convolutions on the image).
    pub confirmed: Vec<&'static str>,
}

impl Evidence {
    pub fn merge(&mut self, other: &Evidence) {
        self.items.extend(other.items.iter().cloned());
        for m in &other.modalities {
            if !self.modalities.contains(m) {
                self.modalities.push(m);
            }
        }
        for m in &other.confirmed {
            if !self.confirmed.contains(m) {
                self.confirmed.push(m);
            }
        }
    }

    /// (workload, confidence, reasons). Below 0.7 the workload is "unknown".
    pub fn decide(&self) -> (&'static str, f64, Vec<String>) {
        let sensory: Vec<&str> = self.modalities.iter().copied().filter(|m| *m != "tabular").collect();
        let mut why: Vec<String> = Vec::new();
        let (label, confidence) = if sensory.len() >= 2 {
            // Two or more of image / text / speech inputs: multimodal, the
            // more certain the more of them a pattern confirms.
            let confirmed = sensory.iter().filter(|m| self.confirmed.contains(m)).count();
            why.push(format!("inputs of {} modalities ({}), {confirmed} confirmed by patterns", sensory.len(), sensory.join(", ")));
            ("multimodal", (0.5 + 0.25 * confirmed as f64).min(1.0))
        } else {
            let mut scores: BTreeMap<&str, f64> = BTreeMap::new();
            for (class, w, _) in &self.items {
                *scores.entry(class).or_default() += w;
            }
            let total: f64 = scores.values().sum();
            let best = scores.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (*k, *v));
            match best {
                Some((label, score)) if total > 0.0 => {
                    // Share of the evidence, discounted when there is little
                    // of it (three units or more count as full).
                    let c = (score / total) * (score / 3.0).min(1.0);
                    for (class, w, reason) in &self.items {
                        if *class == label {
                            why.push(format!("{reason} (+{w})"));
                        }
                    }
                    (label, c)
                }
                _ => {
                    why.push("no evidence: no recognised input modality or pattern".to_string());
                    ("unknown", 0.0)
                }
            }
        };
        if confidence < 0.7 {
            why.insert(0, format!("confidence {confidence:.2} < 0.70 for {label}: classified unknown"));
            return ("unknown", confidence, why);
        }
        (label, confidence, why)
    }
}

/// What the analysis found in one function.
#[derive(Clone, Debug)]
pub struct FunctionFacts {
    pub phase: &'static str,
    pub evidence: Evidence,
    /// Role of each argument.
    pub arg_roles: Vec<&'static str>,
    pub arg_modality: Vec<Option<&'static str>>,
    /// Role and modality of each op result (first result).
    pub value_role: FxHashMap<ValueId, &'static str>,
    pub value_modality: FxHashMap<ValueId, &'static str>,
}

fn is_embedding(op: &str) -> bool {
    matches!(op, "sem.embedding" | "sem._embedding_bag")
}

/// Follows a value through ops that keep its meaning (views, casts, copies).
fn through_layout(m: &Module, v: ValueId, out: &mut Vec<(OpId, u32)>, depth: usize) {
    for u in m.uses(v) {
        let op = m.op(u.op);
        let layout = matches!(
            op.name(),
            "sem.view" | "sem.reshape" | "sem._unsafe_view" | "sem.unsqueeze" | "sem.squeeze" | "sem.expand" | "sem.clone" | "sem.alias" | "sem._to_copy" | "sem.convert_element_type" | "sem.permute" | "sem.transpose" | "sem.select" | "sem.slice" | "sem.add" | "sem.remainder" | "sem.contiguous"
        );
        out.push((u.op, u.operand));
        if layout && depth > 0 && op.results.len() == 1 {
            through_layout(m, op.results[0], out, depth - 1);
        }
    }
}

pub fn classify(m: &Module, func: OpId, fg: &FunctionGraph) -> FunctionFacts {
    let entry = m.entry_block(func).expect("a function has a body");
    let args = m.block_args(entry).to_vec();
    let weights: Vec<i64> = m.op(func).attr("genie.weight_args").and_then(Attribute::as_int_array).unwrap_or_default();
    let name = m.symbol_name(func).unwrap_or("");
    let kinds = |k: &str| fg.matches.iter().filter(|x| x.kind == k).count();
    let attention = kinds("attention") + kinds("cross_attention");
    let vision_patterns = kinds("conv_bn_act") + kinds("depthwise_separable_conv") + kinds("squeeze_excitation") + kinds("patch_embedding") + kinds("token_pipeline");
    let kv_inputs: Vec<egg::Id> = fg.matches.iter().filter(|x| x.kind == "kv_cache_append" && x.rule.ends_with("append")).map(|x| x.inputs[0]).collect();

    // ----- input modality ------------------------------------------------------
    let mut ev = Evidence::default();
    let mut arg_roles = Vec::new();
    let mut arg_modality = Vec::new();
    for (i, &a) in args.iter().enumerate() {
        let is_weight = weights.contains(&(i as i64));
        let mut uses = Vec::new();
        through_layout(m, a, &mut uses, 6);
        let feeds = |pred: &dyn Fn(&str, u32) -> bool| uses.iter().any(|(op, operand)| pred(m.op(*op).name(), *operand));
        let class = fg.class_of(a);
        if is_weight {
            let table = feeds(&|op, operand| is_embedding(op) && operand == 0);
            arg_roles.push(if table { "embedding-table" } else { "weight" });
            arg_modality.push(None);
            continue;
        }
        if class.is_some_and(|c| kv_inputs.contains(&c)) {
            // The cache holds what earlier steps computed; its modality is
            // that of the values appended to it.
            arg_roles.push("kv-state");
            arg_modality.push(None);
            continue;
        }
        arg_roles.push("input");
        let ty = m.value_type(a).as_tensor();
        let float = ty.is_some_and(|t| t.dtype.is_float());
        let rank = ty.map_or(0, |t| t.rank());
        let modality = if feeds(&|op, operand| op == "sem._embedding_bag" && operand == 1) {
            Some("tabular")
        } else if feeds(&|op, operand| op == "sem.embedding" && operand == 1) {
            // Token ids read by attention layers are text; ids of
            // categorical features in a model without attention are tabular.
            Some(if attention > 0 { "text" } else { "tabular" })
        } else if float && feeds(&|op, operand| op == "sem.convolution" && operand == 0) {
            Some(if rank >= 4 { "vision" } else { "audio" })
        } else if float && rank == 2 && feeds(&|op, operand| matches!((op, operand), ("sem.mm" | "sem.matmul", 0) | ("sem.addmm", 1) | ("sem.cat", _))) {
            // Dense features: rows multiplied by a weight (x @ W), not a
            // weight matrix itself (a graph whose weights are not marked).
            Some("tabular")
        } else {
            None
        };
        arg_modality.push(modality);
        let Some(md) = modality else { continue };
        if !ev.modalities.contains(&md) {
            ev.modalities.push(md);
        }
        let what = format!("input #{i} {} is {md}", m.value_type(a));
        match md {
            "vision" => ev.items.push(("vision", 2.0, what)),
            "text" => ev.items.push(("llm", 2.0, what)),
            "tabular" => ev.items.push(("recsys", if float { 1.0 } else { 2.0 }, what)),
            _ => ev.items.push(("multimodal", 1.0, what)),
        }
    }

    // ----- pattern evidence ----------------------------------------------------
    if attention > 0 && ev.modalities.contains(&"text") {
        ev.items.push(("llm", 1.0, format!("{attention} attention block(s) over token embeddings")));
        ev.confirmed.push("text");
    }
    if kinds("kv_cache_append") > 0 {
        ev.items.push(("llm", 1.0, format!("{} KV-cache append(s)", kinds("kv_cache_append"))));
    }
    let convs = m.walk().into_iter().filter(|&o| m.op(o).name() == "sem.convolution").count();
    if vision_patterns > 0 || (convs > 0 && ev.modalities.contains(&"vision")) {
        ev.items.push(("vision", 1.0, format!("{vision_patterns} convolution/patch pattern(s), {convs} convolution(s)")));
        if ev.modalities.contains(&"vision") {
            ev.confirmed.push("vision");
        }
    }
    if ev.modalities.contains(&"audio") && (convs > 0 || attention > 0) {
        ev.confirmed.push("audio");
    }
    let bags = kinds("embedding_bag") + kinds("pairwise_interaction");
    if bags > 0 {
        ev.items.push(("recsys", 2.0, format!("{} embedding bag(s), {} pairwise interaction(s)", kinds("embedding_bag"), kinds("pairwise_interaction"))));
    }
    if ev.modalities.contains(&"tabular") && kinds("embedding") > 0 && attention == 0 {
        ev.items.push(("recsys", 1.0, format!("{} categorical embedding lookup(s) without attention", kinds("embedding"))));
    }

    // ----- phase ------------------------------------------------------------------
    let causal = causal_attention(m, fg);
    let phase = if name == "backward" {
        "train-backward"
    } else if name == "forward" {
        "train-forward"
    } else if !kv_inputs.is_empty() {
        "decode"
    } else if kinds("kv_cache_append") > 0 || (causal && !ev.modalities.contains(&"vision")) {
        // A causal decoder filling its cache (or run without one); a causal
        // text tower beside an image encoder (CLIP) only encodes.
        "prefill"
    } else {
        "encode"
    };

    // ----- roles and modality by lineage --------------------------------------------
    let mut lineage: FxHashMap<ValueId, u64> = FxHashMap::default();
    let mut from_weight: FxHashMap<ValueId, bool> = FxHashMap::default();
    for (i, &a) in args.iter().enumerate() {
        let w = arg_roles[i] == "weight" || arg_roles[i] == "embedding-table";
        from_weight.insert(a, w);
        lineage.insert(a, if w { 0 } else { 1u64 << i.min(63) });
    }
    let modality_of = |bits: u64| -> Option<&'static str> {
        let mut found: Vec<&'static str> = Vec::new();
        for (i, md) in arg_modality.iter().enumerate() {
            if let Some(md) = md {
                if bits & (1u64 << i.min(63)) != 0 && !found.contains(md) {
                    found.push(md);
                }
            }
        }
        match found.len() {
            0 => None,
            1 => Some(found[0]),
            _ => Some("fusion"),
        }
    };
    let outputs: Vec<ValueId> = m.last_op(entry).map(|r| m.op(r).operands.to_vec()).unwrap_or_default();
    let kv_roots: Vec<egg::Id> = fg.matches.iter().filter(|x| x.kind == "kv_cache_append").map(|x| x.root).collect();
    let mut value_role = FxHashMap::default();
    let mut value_modality = FxHashMap::default();
    for op in m.block_ops(entry) {
        let data = m.op(op);
        let bits = data.operands.iter().fold(0, |acc, v| acc | lineage.get(v).copied().unwrap_or(0));
        let w = data.operands.iter().any(|v| from_weight.get(v).copied().unwrap_or(false));
        for &r in &data.results {
            lineage.insert(r, bits);
            from_weight.insert(r, w);
        }
        let Some(&r) = data.results.first() else { continue };
        if !matches!(m.value_type(r), Type::Tensor(_)) {
            continue;
        }
        let role = if fg.class_of(r).is_some_and(|c| kv_roots.contains(&c)) {
            "kv-state"
        } else if outputs.contains(&r) {
            "output"
        } else if bits == 0 && w {
            "weight"
        } else if bits == 0 {
            continue;
        } else {
            "activation"
        };
        value_role.insert(r, role);
        if let Some(md) = modality_of(bits) {
            value_modality.insert(r, md);
        }
    }
    FunctionFacts { phase, evidence: ev, arg_roles, arg_modality, value_role, value_modality }
}

/// Whether some attention is causal: a fused op with `is_causal`, or a mask
/// built by comparing two position ranges (or a triangle of a matrix).
fn causal_attention(m: &Module, fg: &FunctionGraph) -> bool {
    let attention_roots: Vec<egg::Id> = fg.matches.iter().filter(|x| x.kind == "attention").map(|x| x.root).collect();
    if attention_roots.is_empty() {
        return false;
    }
    for op in m.walk() {
        let data = m.op(op);
        match data.name() {
            "sem.scaled_dot_product_attention" if data.attr("is_causal").and_then(Attribute::as_bool) == Some(true) => return true,
            "sem.tril" | "sem.triu" => return true,
            "sem.le" | "sem.ge" | "sem.lt" | "sem.gt" => {
                let from_arange = |v: ValueId| {
                    // A short walk back to a `sem.arange`.
                    let mut cur = v;
                    for _ in 0..6 {
                        let Some(d) = m.defining_op(cur) else { return false };
                        if m.op(d).name() == "sem.arange" {
                            return true;
                        }
                        let Some(&next) = m.op(d).operands.first() else { return false };
                        cur = next;
                    }
                    false
                };
                if data.operands.len() == 2 && from_arange(data.operands[0]) && from_arange(data.operands[1]) {
                    return true;
                }
                if data.operands.len() == 2 && from_arange(data.operands[0]) {
                    // `(j - i) <= 0` style masks compare a difference of ranges.
                    if let Some(d) = m.defining_op(data.operands[0]) {
                        if m.op(d).name() == "sem.sub" && m.op(d).operands.iter().all(|&v| from_arange(v)) {
                            return true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}
