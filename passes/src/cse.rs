//! `genie-cse`: common-subexpression elimination of pure ops.
//!
//! Two pure ops with the same name, operands, attributes and result types
//! compute the same values; later ones are replaced by the first. Scoped by
//! dominance: a nested region sees its parents' ops, never its siblings'.

use crate::canonicalize::dead_code_elimination;
use crate::Pass;
use genie_ir::{AttrDict, Attribute, BlockId, Diagnostics, Module, Type, ValueId};
use std::collections::HashMap;
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

/// What makes two ops interchangeable.
struct OpKey {
    name: &'static str,
    operands: Vec<ValueId>,
    attrs: AttrDict,
    types: Vec<Type>,
}

impl PartialEq for OpKey {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.operands == o.operands && self.types == o.types && self.attrs == o.attrs
    }
}

impl Eq for OpKey {}

impl Hash for OpKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
        self.operands.hash(h);
        self.types.hash(h);
        for (k, v) in self.attrs.iter() {
            k.hash(h);
            hash_attr(v, h);
        }
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

type Scope = HashMap<OpKey, Vec<ValueId>>;

fn lookup<'s>(scopes: &'s [Scope], key: &OpKey) -> Option<&'s Vec<ValueId>> {
    scopes.iter().rev().find_map(|s| s.get(key))
}

fn cse_block(m: &mut Module, b: BlockId, scopes: &mut Vec<Scope>) {
    scopes.push(Scope::new());
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
        let key = OpKey {
            name: data.name(),
            operands: data.operands.clone(),
            attrs: data.attrs.clone(),
            types: data.results.iter().map(|&r| m.value_type(r).clone()).collect(),
        };
        if let Some(existing) = lookup(scopes, &key) {
            let (existing, results) = (existing.clone(), data.results.clone());
            for (old, new) in results.into_iter().zip(existing) {
                m.replace_all_uses(old, new);
            }
        } else {
            let results = data.results.clone();
            scopes.last_mut().expect("scope pushed above").insert(key, results);
        }
    }
    scopes.pop();
}
