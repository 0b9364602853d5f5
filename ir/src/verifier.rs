//! Structural and per-op verification with located diagnostics.
//!
//! Checks, for every op: operand/result counts and kinds against its
//! definition, required and known attributes (semantic attributes included),
//! region counts, SSA dominance, terminators, symbol references, and result
//! types against the op's shape rule.

use crate::attrs::Attribute;
use crate::diagnostics::{Diagnostics, Severity};
use crate::dialects::check::{arity_ok, arity_text, attr_matches, kind_text, slot_for, with_article};
use crate::dialects::{AttrDef, OpDef, Slot, Traits, SEMANTIC_ATTRS};
use crate::module::{BlockId, Module, OpId, ValueId};
use crate::types::Type;
use std::collections::HashMap;

/// Verifies the whole module; all problems are reported, not just the first.
pub fn verify(m: &Module) -> Result<(), Diagnostics> {
    let mut v = Verifier { m, diags: Diagnostics::new(), symbols: HashMap::new(), defined: vec![false; m.num_values()] };
    v.collect_symbols();
    v.symbol_ranges();
    v.block(m.body());
    if v.diags.has_errors() {
        Err(v.diags)
    } else {
        Ok(())
    }
}

struct Verifier<'a> {
    m: &'a Module,
    diags: Diagnostics,
    /// Module-level symbols: name → defining op.
    symbols: HashMap<&'a str, OpId>,
    /// Values visible at the current point.
    defined: Vec<bool>,
}

impl<'a> Verifier<'a> {
    fn error(&mut self, op: OpId, msg: impl AsRef<str>) {
        self.diags.0.push(self.m.op_diagnostic(op, Severity::Error, msg.as_ref()));
    }

    /// `genie.symbols = {s0 = [lo, hi], …}` with 0 <= lo <= hi.
    fn symbol_ranges(&mut self) {
        let m = self.m;
        let Some(attr) = m.attrs.get(crate::SYMBOLS_ATTR) else { return };
        let mut problems = Vec::new();
        match attr {
            Attribute::Dict(d) => {
                for (name, range) in d.iter() {
                    let valid_name = name.strip_prefix('s').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
                    if !valid_name {
                        problems.push(format!("symbol '{name}' must be named sN"));
                    }
                    match range.as_int_array().as_deref() {
                        Some(&[lo, hi]) if 0 <= lo && lo <= hi => {}
                        _ => problems.push(format!("range of '{name}' must be [lo, hi] with 0 <= lo <= hi")),
                    }
                }
            }
            _ => problems.push("must be a dictionary {sN = [lo, hi]}".to_string()),
        }
        for p in problems {
            self.diags.push(Severity::Error, &m.file, m.src, format!("module attribute '{}': {p}", crate::SYMBOLS_ATTR));
        }
    }

    fn collect_symbols(&mut self) {
        let m = self.m;
        for op in m.block_ops(m.body()) {
            if !m.op(op).def.traits.has(Traits::SYMBOL) {
                continue;
            }
            if let Some(name) = m.symbol_name(op) {
                if self.symbols.insert(name, op).is_some() {
                    self.error(op, format!("redefines symbol '@{name}'"));
                }
            }
        }
    }

    fn block(&mut self, b: BlockId) {
        let m = self.m;
        for &a in m.block_args(b) {
            self.mark(a.index());
        }
        let ops = m.block_ops(b);
        for (i, &op) in ops.iter().enumerate() {
            self.op(op, b, i + 1 == ops.len());
        }
    }

    fn mark(&mut self, i: usize) {
        if i >= self.defined.len() {
            self.defined.resize(i + 1, false);
        }
        self.defined[i] = true;
    }

    fn op(&mut self, op: OpId, block: BlockId, is_last: bool) {
        let m = self.m;
        let data = m.op(op);
        let def = data.def;
        for (i, &v) in data.operands.iter().enumerate() {
            if !self.defined.get(v.index()).copied().unwrap_or(false) {
                self.error(op, format!("operand #{i} is used before it is defined (or is defined in an isolated scope)"));
            }
        }
        if def.traits.has(Traits::TERMINATOR) && !is_last {
            self.error(op, "must be the last op of its block");
        }
        if def.traits.has(Traits::SYMBOL) && m.block_parent_op(block).is_some() {
            self.error(op, "declares a symbol and must be at module level");
        }
        let signature_ok = self.signature(op, def);
        let attrs_ok = self.attributes(op, def);
        if data.regions.len() != def.regions {
            self.error(op, format!("expects {} region(s), got {}", def.regions, data.regions.len()));
        }
        // Deeper checks would only restate a signature or attribute error.
        if signature_ok && attrs_ok {
            match def.dialect() {
                "func" => self.func_op(op),
                "exec" => self.exec_op(op),
                _ => {}
            }
            self.shape_rule(op, def);
        }
        // Regions: isolated ones start with nothing visible.
        for &r in &data.regions {
            for &b in m.region_blocks(r) {
                if def.traits.has(Traits::ISOLATED) {
                    let fresh = vec![false; self.defined.len()];
                    let saved = std::mem::replace(&mut self.defined, fresh);
                    self.block(b);
                    self.defined = saved;
                } else {
                    self.block(b);
                }
            }
        }
        for &r in &data.results {
            self.mark(r.index());
        }
    }

    /// Operand and result counts and kinds; false if shape rules cannot run.
    fn signature(&mut self, op: OpId, def: &OpDef) -> bool {
        let data = self.m.op(op);
        let operands_ok = self.slots(op, "operand", def.operands, &data.operands);
        let results_ok = self.slots(op, "result", def.results, &data.results);
        operands_ok && results_ok
    }

    fn slots(&mut self, op: OpId, what: &str, slots: &[Slot], values: &[ValueId]) -> bool {
        if !arity_ok(slots, values.len()) {
            self.error(op, format!("expects {} {what}(s), got {}", arity_text(slots), values.len()));
            return false;
        }
        let mut ok = true;
        for (i, &v) in values.iter().enumerate() {
            let slot = slot_for(slots, values.len(), i).expect("arity checked");
            let ty = self.m.value_type(v);
            if !slot.kind.accepts(ty) {
                self.error(op, format!("{what} #{i} ('{}') must be {}, got {ty}", slot.name, slot.kind.describe()));
                ok = false;
            }
        }
        ok
    }

    fn attributes(&mut self, op: OpId, def: &OpDef) -> bool {
        let errors_before = self.diags.0.len();
        let data = self.m.op(op);
        for a in def.attrs.iter().filter(|a| a.required) {
            if !data.attrs.contains(a.name) {
                self.error(op, format!("requires attribute '{}' ({})", a.name, kind_text(a.kind)));
            }
        }
        for (name, value) in data.attrs.iter() {
            let known: Option<&AttrDef> = def.attr_def(name).or_else(|| SEMANTIC_ATTRS.iter().find(|a| a.name == name));
            match known {
                Some(a) => {
                    if !attr_matches(a.kind, value) {
                        let shown = match value {
                            Attribute::String(s) => format!("\"{s}\""),
                            other => with_article(other.kind_name()),
                        };
                        self.error(op, format!("attribute '{name}' must be {}, got {shown}", kind_text(a.kind)));
                    }
                }
                None if name.starts_with("sem.") => {
                    let names: Vec<&str> = SEMANTIC_ATTRS.iter().map(|a| a.name).collect();
                    self.error(op, format!("unknown semantic attribute '{name}' (known: {})", names.join(", ")));
                }
                // Other dialect-prefixed attributes are discardable annotations.
                None if name.contains('.') => {}
                None => {
                    let names: Vec<&str> = def.attrs.iter().map(|a| a.name).collect();
                    let known = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                    self.error(op, format!("unknown attribute '{name}' (known: {known})"));
                }
            }
        }
        self.diags.0.len() == errors_before
    }

    fn shape_rule(&mut self, op: OpId, def: &OpDef) {
        let m = self.m;
        let data = m.op(op);
        let operands = data.operands.iter().map(|&v| m.value_type(v)).collect();
        let results: Vec<&Type> = data.results.iter().map(|&r| m.value_type(r)).collect();
        if let Err(msg) = crate::dialects::check::check_results(def, operands, &data.attrs, &results) {
            self.error(op, msg);
        }
    }

    fn func_op(&mut self, op: OpId) {
        let m = self.m;
        let data = m.op(op);
        match data.name() {
            "func.func" => {
                let Some((ins, outs)) = data.attr("function_type").and_then(Attribute::as_function_type) else {
                    self.error(op, "attribute 'function_type' must be a function type");
                    return;
                };
                let Some(entry) = m.entry_block(op) else { return };
                let args: Vec<&Type> = m.block_args(entry).iter().map(|&a| m.value_type(a)).collect();
                if args.len() != ins.len() || args.iter().zip(ins).any(|(a, b)| *a != b) {
                    self.error(op, "entry block arguments do not match the function type's inputs");
                }
                match m.last_op(entry) {
                    Some(last) if m.op(last).name() == "func.return" => {
                        let got: Vec<&Type> = m.op(last).operands.iter().map(|&v| m.value_type(v)).collect();
                        if got.len() != outs.len() {
                            self.error(last, format!("returns {} value(s) but the function type has {} result(s)", got.len(), outs.len()));
                        } else {
                            // Exact, as upstream func.return requires.
                            for (i, (g, w)) in got.iter().zip(outs).enumerate() {
                                if *g != w {
                                    self.error(last, format!("result #{i} has type {g} but the function returns {w}"));
                                }
                            }
                        }
                    }
                    _ => self.error(op, "body must end with 'func.return'"),
                }
            }
            "func.return" => {
                let parent = data.parent_block().and_then(|b| m.block_parent_op(b));
                if parent.map(|p| m.op(p).name()) != Some("func.func") {
                    self.error(op, "must be inside a 'func.func'");
                }
            }
            _ => {}
        }
    }

    /// The op a symbol attribute names, checked to be of the expected kind.
    fn symbol_ref(&mut self, op: OpId, attr: &str, want: &str) -> Option<OpId> {
        let m = self.m;
        let Some(Attribute::SymbolRef(name)) = m.op(op).attr(attr) else { return None };
        match self.symbols.get(name.as_str()) {
            Some(&target) if m.op(target).name() == want => Some(target),
            Some(&target) => {
                let have = m.op(target).name();
                self.error(op, format!("'{attr}' refers to '@{name}', a '{have}', but must name a '{want}'"));
                None
            }
            None => {
                self.error(op, format!("'{attr}' refers to undefined symbol '@{name}'"));
                None
            }
        }
    }

    fn exec_op(&mut self, op: OpId) {
        let m = self.m;
        let data = m.op(op);
        let operand_ty = |i: usize| data.operands.get(i).map(|&v| m.value_type(v).clone());
        let result_ty = |i: usize| data.results.get(i).map(|&v| m.value_type(v).clone());
        match data.name() {
            "exec.resident" => {
                self.symbol_ref(op, "device", "exec.device");
                if let (Some(Attribute::Type(ty)), Some(Attribute::DenseResource { ty: init, .. })) = (data.attr("type"), data.attr("init")) {
                    if **ty != Type::Tensor((**init).clone()) {
                        self.error(op, format!("'init' has type {} but the resident is {ty}", Type::Tensor((**init).clone())));
                    }
                }
            }
            "exec.resident_load" | "exec.resident_store" => {
                if let Some(target) = self.symbol_ref(op, "resident", "exec.resident") {
                    if let Some(Attribute::Type(want)) = m.op(target).attr("type") {
                        let have = if data.name() == "exec.resident_load" { result_ty(0) } else { operand_ty(0) };
                        if let Some(have) = have {
                            if !have.compatible(want) {
                                self.error(op, format!("value has type {have} but the resident state is {want}"));
                            }
                        }
                    }
                }
            }
            "exec.launch" | "exec.launch_async" | "exec.recompute" => {
                self.symbol_ref(op, "device", "exec.device");
                let Some(kernel) = self.symbol_ref(op, "kernel", "func.func") else { return };
                let Some((ins, outs)) = m.op(kernel).attr("function_type").and_then(Attribute::as_function_type) else { return };
                let args: Vec<Type> = data.operands.iter().map(|&v| m.value_type(v).clone()).collect();
                if args.len() != ins.len() || args.iter().zip(ins).any(|(a, w)| !a.compatible(w)) {
                    self.error(op, "arguments do not match the kernel's inputs");
                }
                let want: Vec<Type> = if data.name() == "exec.launch_async" {
                    outs.iter().map(|t| Type::Future(Box::new(t.clone()))).collect()
                } else {
                    outs.to_vec()
                };
                let have: Vec<Type> = data.results.iter().map(|&v| m.value_type(v).clone()).collect();
                if have.len() != want.len() || have.iter().zip(&want).any(|(h, w)| !h.compatible(w)) {
                    self.error(op, "results do not match the kernel's outputs");
                }
            }
            "exec.transfer" | "exec.transfer_async" => {
                self.symbol_ref(op, "from", "exec.device");
                self.symbol_ref(op, "to", "exec.device");
                if let (Some(src), Some(dst)) = (operand_ty(0), result_ty(0)) {
                    let want = if data.name() == "exec.transfer" { src } else { Type::Future(Box::new(src)) };
                    if dst != want {
                        self.error(op, format!("result type {dst} must be {want}"));
                    }
                }
            }
            "exec.await" => {
                if let (Some(Type::Future(inner)), Some(dst)) = (operand_ty(0), result_ty(0)) {
                    if *inner != dst {
                        self.error(op, format!("awaits a future of {inner} but yields {dst}"));
                    }
                }
            }
            _ => {}
        }
    }
}
