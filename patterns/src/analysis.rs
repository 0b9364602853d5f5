//! The e-class analysis: each e-class knows its type (shape and dtype, from
//! the `sem` shape rules), the PyTorch module its first op came from, and
//! which graph inputs it derives from (its lineage).
//!
//! Types come from the same rules the verifier and `genie-sem-infer-shapes`
//! use, so a node a rule builds gets a type the same way an imported op
//! does; a node whose rule rejects its operands has no type, and the
//! conditional appliers in `engine` refuse to add such a node to a class.

use crate::lang::{AttrTable, SemNode};
use egg::{DidMerge, EGraph, Id};
use genie_ir::dialects::InferCtx;
use genie_ir::Type;

/// Interned with the attributes of an op with variadic results.
pub const NUM_RESULTS: &str = "genie.num_results";

pub type SemEGraph = EGraph<SemNode, SemAnalysis>;

#[derive(Default, Debug)]
pub struct SemAnalysis {
    pub attrs: AttrTable,
    /// Types of the function arguments, indexed like `arg` nodes.
    pub arg_types: Vec<Type>,
    /// Bit `i` set: argument `i` is an input (not a weight); lineage tracks
    /// only those (bits past 63 share bit 63).
    pub input_mask: u64,
    /// Classes the function returns (canonical after each rebuild).
    pub outputs: Vec<Id>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassData {
    /// `None`: the rules cannot type this class (ill-typed or unknown op).
    pub ty: Option<Type>,
    /// PyTorch module path of the first op added to the class.
    pub module: Option<egg::Symbol>,
    /// Graph inputs (not weights) this value derives from, as a bitset.
    pub lineage: u64,
}

fn arg_bit(i: u32) -> u64 {
    1u64 << i.min(63)
}

impl SemAnalysis {
    /// The type the rules give `node`, from its children's types.
    pub fn infer(&self, egraph: &SemEGraph, node: &SemNode) -> Option<Type> {
        let children: Vec<Option<&Type>> = node.children.iter().map(|&c| egraph[c].data.ty.as_ref()).collect();
        self.infer_from(node.op_str(), node.attrs, &children)
    }

    /// The type of an `op` node with attributes `attrs` over operands of the
    /// given types (`None`: untyped).
    pub fn infer_from(&self, op: &str, attrs: u32, children: &[Option<&Type>]) -> Option<Type> {
        if op == "arg" {
            return self.arg_types.get(attrs as usize).cloned();
        }
        if let Some(index) = op.strip_prefix('#') {
            let i: usize = index.parse().ok()?;
            return match children.first().copied().flatten()? {
                Type::Tuple(items) => items.get(i).cloned(),
                _ => None,
            };
        }
        let def = genie_ir::lookup(op)?;
        let infer = def.infer?;
        let operands: Option<Vec<&Type>> = children.iter().copied().collect();
        let empty = genie_ir::AttrDict::new();
        let attrs = self.attrs.get(attrs).unwrap_or(&empty);
        // Ops with variadic results record their count at import.
        let num_results = attrs.get(NUM_RESULTS).and_then(|a| a.as_int()).map_or(def.results.len().max(1), |n| n as usize);
        let ctx = InferCtx { op_name: def.name, operands: operands?, attrs, num_results };
        let mut types = infer(&ctx).ok()?;
        // A multi-result op's class holds the tuple; its results are `#i`.
        if types.len() == 1 && !def.results.iter().any(|s| s.variadic) {
            types.pop()
        } else {
            Some(Type::Tuple(types))
        }
    }
}

impl egg::Analysis<SemNode> for SemAnalysis {
    type Data = ClassData;

    fn make(egraph: &mut SemEGraph, node: &SemNode) -> ClassData {
        let ty = egraph.analysis.infer(egraph, node);
        let lineage = if node.op_str() == "arg" {
            if egraph.analysis.input_mask & arg_bit(node.attrs) != 0 {
                arg_bit(node.attrs)
            } else {
                0
            }
        } else {
            node.children.iter().fold(0, |acc, &c| acc | egraph[c].data.lineage)
        };
        ClassData { ty, module: None, lineage }
    }

    fn merge(&mut self, a: &mut ClassData, b: ClassData) -> DidMerge {
        let mut changed = false;
        if a.ty.is_none() && b.ty.is_some() {
            a.ty = b.ty;
            changed = true;
        }
        if a.module.is_none() && b.module.is_some() {
            a.module = b.module;
            changed = true;
        }
        let lineage = a.lineage | b.lineage;
        let grew = lineage != a.lineage;
        a.lineage = lineage;
        DidMerge(changed || grew, true)
    }
}
