//! The e-graph language: one generic node per `sem` op.
//!
//! egg's `define_language!` wants a fixed enum, but `sem` has ~150 ops and
//! rules name them by their IR name, so a node is `(op, attrs, children)`:
//! `op` is the interned op name (`sem.mm`), `attrs` an interned key into the
//! [`AttrTable`] (TENSAT's "attributes as interned children", kept out of the
//! child list so patterns need not spell them), and `children` the operand
//! e-classes. Three node kinds are not `sem` ops:
//! - `arg` (attrs = argument index): a function argument;
//! - `get` (attrs = result index): one result of a multi-result op, whose own
//!   e-class holds the tuple of results;
//! - `return`: the single root joining every function output;
//! - `region:<kind>`: a recognised pattern (see `engine`).
//!
//! A pattern node has attrs [`ANY_ATTRS`] and matches a node of the same op
//! and arity whatever its attributes; conditions in rules look at attributes
//! where they matter.

use egg::{Id, Language, Symbol};
use genie_ir::{AttrDict, Attribute};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::fmt;

/// The attrs key of a node built from a rule: matches any attributes.
pub const ANY_ATTRS: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemNode {
    pub op: Symbol,
    pub attrs: u32,
    pub children: SmallVec<[Id; 4]>,
}

impl SemNode {
    pub fn new(op: &str, attrs: u32, children: impl IntoIterator<Item = Id>) -> SemNode {
        SemNode { op: Symbol::from(op), attrs, children: children.into_iter().collect() }
    }

    pub fn op_str(&self) -> &'static str {
        self.op.as_str()
    }

    pub fn is_region(&self) -> bool {
        self.op.as_str().starts_with("region:")
    }
}

impl Language for SemNode {
    type Discriminant = Symbol;

    fn discriminant(&self) -> Symbol {
        self.op
    }

    fn matches(&self, other: &Self) -> bool {
        self.op == other.op
            && self.children.len() == other.children.len()
            && (self.attrs == other.attrs || self.attrs == ANY_ATTRS || other.attrs == ANY_ATTRS)
    }

    fn children(&self) -> &[Id] {
        &self.children
    }

    fn children_mut(&mut self) -> &mut [Id] {
        &mut self.children
    }
}

impl fmt::Display for SemNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())
    }
}

impl egg::FromOp for SemNode {
    type Error = String;

    /// Rule text: any op name; `sem.*` names are checked by the rule loader.
    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, String> {
        Ok(SemNode::new(op, ANY_ATTRS, children))
    }
}

/// Attribute dictionaries interned by their printed form, so equal ops hash
/// equal (the e-graph then merges them: CSE for free).
#[derive(Default, Debug)]
pub struct AttrTable {
    dicts: Vec<AttrDict>,
    index: FxHashMap<String, u32>,
}

impl AttrTable {
    /// Interns the op's own attributes; the semantic `sem.*` ones (module
    /// path, source function, …) say where an op came from, not what it
    /// computes, and are left out.
    pub fn intern(&mut self, attrs: &AttrDict) -> u32 {
        let mut own = AttrDict::new();
        for (name, value) in attrs.iter() {
            if !name.starts_with("sem.") {
                own.set(name.to_string(), value.clone());
            }
        }
        let mut key = String::new();
        genie_ir::attrs::write_attr_dict(&mut key, &own, false);
        if let Some(&k) = self.index.get(&key) {
            return k;
        }
        let k = self.dicts.len() as u32;
        self.dicts.push(own);
        self.index.insert(key, k);
        k
    }

    /// The dictionary of a key; empty for [`ANY_ATTRS`] and index keys.
    pub fn get(&self, key: u32) -> Option<&AttrDict> {
        self.dicts.get(key as usize)
    }

    pub fn attr(&self, key: u32, name: &str) -> Option<&Attribute> {
        self.get(key).and_then(|d| d.get(name))
    }
}
