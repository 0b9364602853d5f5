//! `genie-cse`: common-subexpression elimination of pure ops.
//!
//! Two pure ops with the same name, operands, attributes and result types
//! compute the same values; later ones are replaced by the first. Scoped by
//! dominance: a nested region sees its parents' ops, never its siblings'.

use crate::canonicalize::dead_code_elimination;
use crate::Pass;
use genie_ir::{Attribute, BlockId, Diagnostics, Module, OpId, ValueId};
use rustc_hash::FxHashMap as HashMap;
use std::hash::{Hash, Hasher};

pub struct Cse;

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "genie-cse"
    }

    fn description(&self) -> &'static str {
        "eliminate common subexpressions among pure ops"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let body = m.body();
        let mut scopes = Vec::new();
        cse_block(m, body, &mut scopes);
        dead_code_elimination(m);
        Ok(())
    }
}

/// Attributes hold floats, so they hash by bit pattern (equal values that
/// compare unequal, like NaN, are simply never merged).
fn hash_attr<H: Hasher>(a: &Attribute, h: &mut H) {
    std::mem::discriminant(a).hash(h);
    match a {
        Attribute::Int(v, d) => (v, d).hash(h),
        Attribute::Float(v, d) => (v.to_bits(), d).hash(h),
        Attribute::Bool(b) => b.hash(h),
        Attribute::String(s) | Attribute::SymbolRef(s) => s.hash(h),
        Attribute::Array(items) => items.iter().for_each(|i| hash_attr(i, h)),
        Attribute::Dict(d) => d.iter().for_each(|(k, v)| {
            k.hash(h);
            hash_attr(v, h)
        }),
        Attribute::Type(t) => t.hash(h),
        Attribute::Sym(e) => e.hash(h),
        Attribute::DenseResource { handle, ty } => (handle, ty).hash(h),
        Attribute::Unit => {}
    }
}

/// Pure ops seen so far, by hash of what makes them interchangeable.
type Scope = HashMap<u64, Vec<OpId>>;

/// Hash of name, operands, attributes and result types.
fn op_hash(m: &Module, op: OpId) -> u64 {
    let data = m.op(op);
    let mut h = rustc_hash::FxHasher::default();
    data.name().hash(&mut h);
    data.operands.hash(&mut h);
    for &r in &data.results {
        m.value_type(r).hash(&mut h);
    }
    for (k, v) in data.attrs.iter() {
        k.hash(&mut h);
        hash_attr(v, &mut h);
    }
    h.finish()
}

/// Whether two ops compute the same values.
fn same_op(m: &Module, a: OpId, b: OpId) -> bool {
    let (x, y) = (m.op(a), m.op(b));
    x.name() == y.name()
        && x.operands == y.operands
        && x.attrs == y.attrs
        && x.results.len() == y.results.len()
        && x.results.iter().zip(&y.results).all(|(&p, &q)| m.value_type(p) == m.value_type(q))
}

fn cse_block(m: &mut Module, b: BlockId, scopes: &mut Vec<Scope>) {
    scopes.push(Scope::default());
    for op in m.block_ops(b) {
        let data = m.op(op);
        for r in data.regions.clone() {
            for nb in m.region_blocks(r).to_vec() {
                if m.op(op).def.traits.has(genie_ir::dialects::Traits::ISOLATED) {
                    cse_block(m, nb, &mut Vec::new());
                } else {
                    cse_block(m, nb, scopes);
                }
            }
        }
        let data = m.op(op);
        if !data.def.is_pure() || !data.regions.is_empty() || data.results.is_empty() {
            continue;
        }
        let h = op_hash(m, op);
        let existing = scopes.iter().rev().filter_map(|s| s.get(&h)).flatten().copied().find(|&o| same_op(m, o, op));
        match existing {
            Some(first) => {
                let pairs: Vec<(ValueId, ValueId)> = m.op(op).results.iter().copied().zip(m.op(first).results.iter().copied()).collect();
                for (old, new) in pairs {
                    m.replace_all_uses(old, new);
                }
            }
            None => scopes.last_mut().expect("scope pushed above").entry(h).or_default().push(op),
        }
    }
    scopes.pop();
}
