//! The engine: a `sem` function → e-graph → rewrites → pattern matches →
//! region nodes → extraction.
//!
//! 1. [`FunctionGraph::build`] adds every op of a function (one node per op;
//!    a multi-result op's class holds the tuple and `#i` nodes its results),
//!    and a single `return` node joining the outputs.
//! 2. Rewrites (`rewrite` rules) run to saturation under limits. Each goes
//!    through [`TypedApplier`]: the right side is typed with the `sem` shape
//!    rules and added only when its type equals the matched class's, so a
//!    rule can never make a value mean something of another shape.
//! 3. Patterns (`pattern` rules) are searched once; a match passing its
//!    conditions adds a `region:<kind>` node, whose children are the
//!    pattern's variables, to the matched class.
//! 4. [`extract`] picks the cheapest term for the root under a [`CostModel`];
//!    with the default model a region costs less than the ops it covers, so
//!    the extracted term covers the graph with regions where it can.

use crate::analysis::{SemAnalysis, SemEGraph, NUM_RESULTS};
use crate::lang::SemNode;
use crate::rules::{Cond, CondArg, RuleSet};
use egg::{Applier, Id, Pattern, PatternAst, RecExpr, Rewrite, Runner, Searcher, Subst, Symbol, Var};
use genie_ir::{Attribute, Module, OpId, Type, ValueId};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One recognised pattern instance.
#[derive(Clone, Debug)]
pub struct Match {
    pub kind: String,
    /// `file:line` of the rule and its name.
    pub rule: String,
    pub root: Id,
    /// The classes bound to the rule's variables, in order.
    pub inputs: Vec<Id>,
}

pub struct FunctionGraph {
    pub egraph: SemEGraph,
    /// The e-class of every value of the function.
    pub value_class: FxHashMap<ValueId, Id>,
    pub root: Id,
    pub matches: Vec<Match>,
    /// Rewrites refused because the right side would change the type.
    pub rejected_rewrites: usize,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub iterations: usize,
    pub nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { iterations: 6, nodes: 200_000 }
    }
}

impl FunctionGraph {
    /// The e-graph of function `func` of `m`.
    pub fn build(m: &Module, func: OpId) -> FunctionGraph {
        let entry = m.entry_block(func).expect("a function has a body");
        let args = m.block_args(entry);
        let weights: Vec<i64> = m.op(func).attr("genie.weight_args").and_then(Attribute::as_int_array).unwrap_or_default();
        let input_mask = (0..args.len()).filter(|i| !weights.contains(&(*i as i64))).fold(0u64, |acc, i| acc | 1u64 << i.min(63));
        let analysis = SemAnalysis { arg_types: args.iter().map(|&a| m.value_type(a).clone()).collect(), input_mask, ..SemAnalysis::default() };
        let mut egraph = SemEGraph::new(analysis);
        let mut value_class = FxHashMap::default();
        for (i, &a) in args.iter().enumerate() {
            let id = egraph.add(SemNode::new("arg", i as u32, []));
            value_class.insert(a, id);
        }
        let mut root = None;
        for op in m.block_ops(entry) {
            let data = m.op(op);
            let operands: Vec<Id> = data.operands.iter().map(|v| value_class[v]).collect();
            if data.name() == "func.return" {
                root = Some(egraph.add(SemNode::new("return", 0, operands.iter().copied())));
                egraph.analysis.outputs = operands;
                continue;
            }
            let variadic_results = data.def.results.iter().any(|s| s.variadic);
            let key = if variadic_results {
                let mut attrs = data.attrs.clone();
                attrs.set(NUM_RESULTS, Attribute::int(data.results.len() as i64));
                egraph.analysis.attrs.intern(&attrs)
            } else {
                egraph.analysis.attrs.intern(&data.attrs)
            };
            let id = egraph.add(SemNode::new(data.name(), key, operands));
            let module = data.loc.module_path().map(Symbol::from);
            if egraph[id].data.ty.is_none() || egraph[id].data.module.is_none() {
                // An op the rules cannot type (it verified, so its declared
                // types are right) keeps its declared type.
                let declared: Vec<Type> = data.results.iter().map(|&r| m.value_type(r).clone()).collect();
                let d = &mut egraph[id].data;
                if d.ty.is_none() {
                    d.ty = Some(if declared.len() == 1 && !variadic_results { declared[0].clone() } else { Type::Tuple(declared) });
                }
                if d.module.is_none() {
                    d.module = module;
                }
            }
            if data.results.len() == 1 && !variadic_results {
                value_class.insert(data.results[0], id);
            } else {
                for (i, &r) in data.results.iter().enumerate() {
                    let p = egraph.add(SemNode::new(&format!("#{i}"), 0, [id]));
                    value_class.insert(r, p);
                }
            }
        }
        let root = root.unwrap_or_else(|| egraph.add(SemNode::new("return", 0, [])));
        egraph.rebuild();
        FunctionGraph { egraph, value_class, root, matches: Vec::new(), rejected_rewrites: 0 }
    }

    /// Runs the rewrites, then searches the patterns and adds region nodes.
    pub fn run(&mut self, rules: &RuleSet, limits: &Limits) {
        let rejected = Arc::new(AtomicUsize::new(0));
        let rewrites: Vec<Rewrite<SemNode, SemAnalysis>> = rules
            .rewrites
            .iter()
            .filter_map(|r| {
                let applier = TypedApplier { rhs: r.rhs.clone(), same: r.same.clone(), conds: r.conds.clone(), rejected: rejected.clone() };
                Rewrite::new(r.name.clone(), r.lhs.clone(), applier).ok()
            })
            .collect();
        let egraph = std::mem::take(&mut self.egraph);
        let runner = Runner::default()
            .with_egraph(egraph)
            .with_iter_limit(limits.iterations)
            .with_node_limit(limits.nodes)
            .with_time_limit(std::time::Duration::from_secs(10))
            .run(&rewrites);
        self.egraph = runner.egraph;
        self.rejected_rewrites = rejected.load(Ordering::Relaxed);
        self.root = self.egraph.find(self.root);
        let outputs: Vec<Id> = self.egraph.analysis.outputs.iter().map(|&o| self.egraph.find(o)).collect();
        self.egraph.analysis.outputs = outputs;

        let mut found: Vec<Match> = Vec::new();
        let mut seen: rustc_hash::FxHashSet<(String, Id)> = Default::default();
        for rule in &rules.patterns {
            for crate::rules::Alternative { pattern: alt, vars, same } in &rule.alternatives {
                for m in alt.search(&self.egraph) {
                    for subst in &m.substs {
                        let root = self.egraph.find(m.eclass);
                        if !same.iter().all(|(a, b)| self.egraph.find(subst[*a]) == self.egraph.find(subst[*b])) {
                            continue;
                        }
                        if seen.contains(&(rule.kind.clone(), root)) || !rule.conds.iter().all(|c| check(&self.egraph, c, subst, root)) {
                            continue;
                        }
                        seen.insert((rule.kind.clone(), root));
                        let inputs = vars.iter().map(|v| self.egraph.find(subst[*v])).collect();
                        found.push(Match { kind: rule.kind.clone(), rule: format!("{} {}", rule.origin, rule.name), root, inputs });
                    }
                }
            }
        }
        // Self- and cross-attention exclude each other by their conditions;
        // a root matched as both keeps the more specific one.
        let cross: rustc_hash::FxHashSet<Id> = found.iter().filter(|m| m.kind == "cross_attention").map(|m| m.root).collect();
        found.retain(|m| m.kind != "attention" || !cross.contains(&m.root));
        // A match directly under another of the same kind, and not one of its
        // inputs, is part of it (an FFN's bias-free product inside the FFN
        // with its bias): keep the outer one.
        let inner: Vec<bool> = found
            .iter()
            .map(|m| {
                found.iter().any(|outer| {
                    outer.kind == m.kind
                        && outer.root != m.root
                        && !outer.inputs.contains(&m.root)
                        && self.egraph[outer.root].nodes.iter().any(|n| !n.is_region() && n.children.iter().any(|&c| self.egraph.find(c) == m.root))
                })
            })
            .collect();
        let mut keep = inner.iter().map(|i| !i);
        found.retain(|_| keep.next().unwrap_or(true));
        for (i, m) in found.iter().enumerate() {
            let node = SemNode::new(&format!("region:{}", m.kind), i as u32, m.inputs.iter().copied());
            let id = self.egraph.add(node);
            self.egraph.union(id, m.root);
        }
        self.egraph.rebuild();
        self.matches = found;
    }

    /// The class a value of the function ended up in.
    pub fn class_of(&self, v: ValueId) -> Option<Id> {
        self.value_class.get(&v).map(|&c| self.egraph.find(c))
    }
}

/// Checks one condition for a match of class `root` with bindings `subst`.
pub fn check(egraph: &SemEGraph, cond: &Cond, subst: &Subst, root: Id) -> bool {
    let class = |a: &CondArg| match a {
        CondArg::Var(v) => Some(egraph.find(subst[*v])),
        CondArg::Root => Some(egraph.find(root)),
        CondArg::Int(_) => None,
    };
    let int = |a: &CondArg| match a {
        CondArg::Int(n) => *n,
        _ => i64::MIN,
    };
    let ty = |a: &CondArg| class(a).and_then(|c| egraph[c].data.ty.as_ref());
    let tensor = |a: &CondArg| ty(a).and_then(Type::as_tensor);
    let args = &cond.args;
    match cond.pred.as_str() {
        "rank" => tensor(&args[0]).is_some_and(|t| t.rank() as i64 == int(&args[1])),
        "min-rank" => tensor(&args[0]).is_some_and(|t| t.rank() as i64 >= int(&args[1])),
        "float" => ty(&args[0]).and_then(Type::dtype).is_some_and(|d| d.is_float()),
        "integer" => ty(&args[0]).and_then(Type::dtype).is_some_and(|d| d.is_int()),
        "same-shape" => ty(&args[0]).is_some() && ty(&args[0]) == ty(&args[1]),
        "input" => class(&args[0]).is_some_and(|c| is_arg(egraph, c, true)),
        "weight" => class(&args[0]).is_some_and(|c| egraph[c].data.lineage == 0),
        "output" => class(&args[0]).is_some_and(|c| egraph.analysis.outputs.iter().any(|&o| egraph.find(o) == c)),
        "empty" => tensor(&args[0]).and_then(|t| t.num_elements()) == Some(0),
        "foreign-keys" | "own-keys" => {
            let (q, k) = (class(&args[0]).map_or(0, |c| egraph[c].data.lineage), class(&args[1]).map_or(0, |c| egraph[c].data.lineage));
            // Keys from another stream (an encoder's output, another
            // modality) lack some input the queries have. In a decoder the
            // queries also carry the encoder's lineage after the first
            // cross-attention, so "disjoint" would miss later layers.
            let foreign = k != 0 && q & !k != 0;
            (cond.pred == "foreign-keys") == foreign
        }
        "patchify" | "depthwise" | "pointwise" => class(&args[0]).is_some_and(|c| conv_kind(egraph, c, &cond.pred)),
        "scalar-like" => ty(&args[0]).is_some_and(|t| t.is_scalar() || t.as_tensor().and_then(|t| t.num_elements()) == Some(1)),
        "last-dim-one" => tensor(&args[0]).is_some_and(|t| t.dims.last().and_then(|d| d.as_static()) == Some(1)),
        "derives-from" => match (class(&args[0]), class(&args[1])) {
            (Some(y), Some(x)) => y != x && derives_from(egraph, y, x),
            _ => false,
        },
        "weighted-path" => match (class(&args[0]), class(&args[1])) {
            (Some(y), Some(x)) => y != x && weighted_path(egraph, y, x),
            _ => false,
        },
        "after-depthwise" => class(&args[0]).is_some_and(|c| after_depthwise(egraph, c, 6)),
        "unit-scale" => class(&args[0]).is_some_and(|c| {
            let one = |a: Option<&Attribute>| a.is_none_or(|a| a.as_float() == Some(1.0) || a.as_int() == Some(1));
            egraph[c].nodes.iter().filter(|n| n.op_str() == "sem.addmm").all(|n| {
                let attrs = &egraph.analysis.attrs;
                one(attrs.attr(n.attrs, "alpha")) && one(attrs.attr(n.attrs, "beta"))
            })
        }),
        "gate-shape" => match (tensor(&args[0]), tensor(&args[1])) {
            (Some(g), Some(x)) => {
                g.rank() == 4 && x.rank() == 4 && g.dims[1] == x.dims[1] && g.dims[2].as_static() == Some(1) && g.dims[3].as_static() == Some(1)
            }
            _ => false,
        },
        _ => false,
    }
}

fn is_arg(egraph: &SemEGraph, c: Id, input: bool) -> bool {
    egraph[c].nodes.iter().any(|n| {
        n.op_str() == "arg" && ((egraph.analysis.input_mask >> (n.attrs.min(63))) & 1 == 1) == input
    })
}

/// Whether `x` is reachable from `y` through children (bounded search).
fn derives_from(egraph: &SemEGraph, y: Id, x: Id) -> bool {
    let (x, y) = (egraph.find(x), egraph.find(y));
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack = vec![y];
    while let Some(c) = stack.pop() {
        if c == x {
            return true;
        }
        if !seen.insert(c) || seen.len() > 20_000 {
            continue;
        }
        for n in &egraph[c].nodes {
            if !n.is_region() {
                stack.extend(n.children.iter().map(|&k| egraph.find(k)));
            }
        }
    }
    false
}

/// Whether some op on the way from `y` back to `x` reads a weight argument
/// (and `x` is reached at all).
fn weighted_path(egraph: &SemEGraph, y: Id, x: Id) -> bool {
    let (x, y) = (egraph.find(x), egraph.find(y));
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack = vec![y];
    let (mut reached, mut weighted) = (false, false);
    while let Some(c) = stack.pop() {
        if c == x {
            reached = true;
            continue;
        }
        if !seen.insert(c) || seen.len() > 20_000 {
            continue;
        }
        for n in egraph[c].nodes.iter().filter(|n| !n.is_region()) {
            for &k in &n.children {
                let k = egraph.find(k);
                if is_arg(egraph, k, false) {
                    weighted = true;
                }
                stack.push(k);
            }
        }
        if reached && weighted {
            return true;
        }
    }
    reached && weighted
}

/// `c` is a depthwise convolution, or one under up to `depth` single-input
/// ops (normalisation, activation, result projection).
fn after_depthwise(egraph: &SemEGraph, c: Id, depth: usize) -> bool {
    if conv_kind(egraph, c, "depthwise") {
        return true;
    }
    depth > 0
        && egraph[c].nodes.iter().any(|n| {
            let through = n.op_str().starts_with('#')
                || n.op_str().starts_with("sem._native_batch_norm")
                || matches!(n.op_str(), "sem.relu" | "sem.hardtanh" | "sem.hardswish" | "sem.silu" | "sem.gelu" | "sem.clamp" | "sem.div");
            // A product: a squeeze-excitation gate (x * gate) or a decomposed
            // activation (x * sigmoid(x)) between the two convolutions.
            let product = n.op_str() == "sem.mul";
            (through && after_depthwise(egraph, n.children[0], depth - 1))
                || (product && n.children.iter().any(|&k| after_depthwise(egraph, k, depth - 1)))
        })
}

/// Convolution shape tests on the `sem.convolution` node of class `c`.
fn conv_kind(egraph: &SemEGraph, c: Id, which: &str) -> bool {
    egraph[c].nodes.iter().filter(|n| n.op_str() == "sem.convolution").any(|n| {
        let attrs = &egraph.analysis.attrs;
        let Some(w) = egraph[n.children[1]].data.ty.as_ref().and_then(Type::as_tensor) else { return false };
        let Some(x) = egraph[n.children[0]].data.ty.as_ref().and_then(Type::as_tensor) else { return false };
        let kernel: Vec<Option<i64>> = w.dims.iter().skip(2).map(|d| d.as_static()).collect();
        let groups = attrs.attr(n.attrs, "groups").and_then(Attribute::as_int).unwrap_or(1);
        let stride = attrs.attr(n.attrs, "stride").and_then(Attribute::as_int_array).unwrap_or_default();
        match which {
            "patchify" => {
                groups == 1 && !kernel.is_empty() && kernel.iter().all(|k| k.is_some_and(|k| k > 1)) && kernel.iter().zip(&stride).all(|(k, s)| *k == Some(*s))
            }
            "depthwise" => groups > 1 && x.dims.get(1).and_then(|d| d.as_static()) == Some(groups),
            "pointwise" => groups == 1 && !kernel.is_empty() && kernel.iter().all(|k| *k == Some(1)),
            _ => false,
        }
    })
}

/// The type the rules give the pattern `ast` under `subst`, or `None`.
fn type_of(egraph: &SemEGraph, ast: &PatternAst<SemNode>, subst: &Subst) -> Option<Type> {
    let mut types: Vec<Option<Type>> = Vec::with_capacity(ast.as_ref().len());
    for node in ast.as_ref() {
        let t = match node {
            egg::ENodeOrVar::Var(v) => egraph[egraph.find(subst[*v])].data.ty.clone(),
            egg::ENodeOrVar::ENode(n) => {
                let children: Vec<Option<&Type>> = n.children.iter().map(|&c| types[usize::from(c)].as_ref()).collect();
                egraph.analysis.infer_from(n.op_str(), n.attrs, &children)
            }
        };
        types.push(t);
    }
    types.pop().flatten()
}

/// The conditional applier of `rewrite` rules: side conditions, then a type
/// check of the right side against the matched class.
pub struct TypedApplier {
    pub rhs: Pattern<SemNode>,
    /// Repeated left-side variables that must bind one class.
    pub same: Vec<(Var, Var)>,
    pub conds: Vec<Cond>,
    pub rejected: Arc<AtomicUsize>,
}

impl Applier<SemNode, SemAnalysis> for TypedApplier {
    fn apply_one(&self, egraph: &mut SemEGraph, eclass: Id, subst: &Subst, ast: Option<&PatternAst<SemNode>>, rule: Symbol) -> Vec<Id> {
        if !self.same.iter().all(|(a, b)| egraph.find(subst[*a]) == egraph.find(subst[*b])) {
            return vec![];
        }
        if !self.conds.iter().all(|c| check(egraph, c, subst, eclass)) {
            return vec![];
        }
        let want = egraph[eclass].data.ty.clone();
        let got = type_of(egraph, &self.rhs.ast, subst);
        if want.is_none() || want != got {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return vec![];
        }
        self.rhs.apply_one(egraph, eclass, subst, ast, rule)
    }

    fn vars(&self) -> Vec<Var> {
        self.rhs.vars()
    }
}

/// Saturating integer cost; [`INFINITE`] for what must not be chosen.
pub type Cost = u64;
pub const INFINITE: Cost = u64::MAX;

/// What extraction minimises: the cost of one node (its children are added).
pub trait CostModel {
    fn node_cost(&self, egraph: &SemEGraph, node: &SemNode) -> Cost;
}

/// Counts ops; a region costs one, so it wins over the two or more ops it
/// covers, and a larger region over the smaller ones inside it.
pub struct OpCount;

impl CostModel for OpCount {
    fn node_cost(&self, _egraph: &SemEGraph, node: &SemNode) -> Cost {
        match node.op_str() {
            "arg" | "return" => 0,
            op if op.starts_with('#') => 0,
            _ => 1,
        }
    }
}

struct Adapter<'a, C: CostModel> {
    egraph: &'a SemEGraph,
    model: &'a C,
}

impl<C: CostModel> egg::CostFunction<SemNode> for Adapter<'_, C> {
    type Cost = Cost;
    fn cost<F: FnMut(Id) -> Cost>(&mut self, enode: &SemNode, mut costs: F) -> Cost {
        let own = self.model.node_cost(self.egraph, enode);
        // Every node costs at least one unit more than its children together,
        // so a term never contains a cycle (self-loops from `x == view(x)`).
        enode.children.iter().fold(own.max(1), |acc, &c| acc.saturating_add(costs(c)))
    }
}

/// The cheapest term for `root` under `model` (acyclic by construction:
/// costs strictly grow from children to parents).
pub fn extract<C: CostModel>(egraph: &SemEGraph, root: Id, model: &C) -> (Cost, RecExpr<SemNode>) {
    let extractor = egg::Extractor::new(egraph, Adapter { egraph, model });
    extractor.find_best(root)
}

#[cfg(test)]
mod tests;
