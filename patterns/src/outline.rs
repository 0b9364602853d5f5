//! Recognised patterns as `sem.region` ops: the e-graph's extraction picks
//! which matches cover the graph (a region costs less than the ops it
//! covers, so the outermost match wins over the ones nested in it), and each
//! chosen match's ops move into a private function the region op names.
//!
//! ```mlir
//! %5 = sem.region %arg0, %arg1, %arg2, %arg3, %arg4 {body = @forward_mlp_0, function_type = (…) -> tensor<2x3x8xf32>, kind = "mlp"} : tensor<2x3x8xf32>
//! func.func private @forward_mlp_0(%arg0: …) -> tensor<2x3x8xf32> { …the ops… }
//! ```
//! A match is left inline when outlining it would be unsafe: a value it
//! computes (other than its result) is used outside it, or its ops overlap a
//! region already outlined.

use crate::engine::{extract, FunctionGraph, Limits, OpCount};
use crate::rules::RuleSet;
use genie_ir::{AttrDict, Attribute, Builder, Location, Module, OpId, Type, ValueId};
use rustc_hash::{FxHashMap, FxHashSet};

/// Outlines the chosen pattern matches of every public function; returns how
/// many regions were made.
pub fn outline_module(m: &mut Module, rules: &RuleSet) -> usize {
    let mut made = 0;
    for f in m.functions() {
        let private = m.op(f).attr("sym_visibility").and_then(Attribute::as_str) == Some("private");
        if private || m.entry_block(f).is_none() {
            continue;
        }
        made += outline_function(m, f, rules);
    }
    made
}

fn outline_function(m: &mut Module, func: OpId, rules: &RuleSet) -> usize {
    let mut fg = FunctionGraph::build(m, func);
    fg.run(rules, &Limits::default());
    let (_, term) = extract(&fg.egraph, fg.root, &OpCount);
    // Region nodes carry their match's index as attrs.
    let chosen: Vec<usize> = term.as_ref().iter().filter(|n| n.is_region()).map(|n| n.attrs as usize).collect();
    let fname = m.symbol_name(func).unwrap_or("f").to_string();
    let entry = m.entry_block(func).expect("checked above");
    let order: FxHashMap<OpId, usize> = m.block_ops(entry).into_iter().enumerate().map(|(i, o)| (o, i)).collect();
    let mut claimed: FxHashSet<OpId> = FxHashSet::default();
    let mut made = 0;
    for index in chosen {
        let Some(x) = fg.matches.get(index) else { continue };
        let root = fg.egraph.find(x.root);
        let inputs: FxHashSet<egg::Id> = x.inputs.iter().map(|&c| fg.egraph.find(c)).collect();
        // The last op (in program order) computing the root value.
        let Some(root_op) = order
            .keys()
            .copied()
            .filter(|&o| !m.is_erased(o) && m.op(o).results.first().is_some_and(|&r| fg.class_of(r) == Some(root)))
            .max_by_key(|o| order[o])
        else {
            continue;
        };
        let Some(body) = body_ops(m, &fg, root_op, &inputs, &order) else { continue };
        if body.iter().any(|o| claimed.contains(o)) {
            continue;
        }
        let root_value = m.op(root_op).results[0];
        if escapes(m, &body, root_value) {
            continue;
        }
        let mut body: Vec<OpId> = body.into_iter().collect();
        body.sort_by_key(|o| order[o]);
        let name = format!("{fname}_{}_{made}", x.kind);
        outline(m, &body, root_op, &name, &x.kind);
        claimed.extend(body);
        made += 1;
    }
    made
}

/// The ops between the match's inputs and `root_op`: a walk back over
/// operands that stops at values in an input class and at function
/// arguments, plus the ops that an input itself computes from those (SDPA's
/// NaN guard reads the scores the softmax reads: it belongs to the
/// attention). `None` when the walk grows past a sane size.
fn body_ops(m: &Module, fg: &FunctionGraph, root_op: OpId, inputs: &FxHashSet<egg::Id>, order: &FxHashMap<OpId, usize>) -> Option<FxHashSet<OpId>> {
    let back = |stop: &dyn Fn(ValueId) -> bool| -> Option<FxHashSet<OpId>> {
        let mut seen = FxHashSet::default();
        let mut stack = vec![root_op];
        while let Some(op) = stack.pop() {
            if !seen.insert(op) {
                continue;
            }
            if seen.len() > 20_000 {
                return None;
            }
            for &v in &m.op(op).operands {
                if stop(v) {
                    continue;
                }
                // Ops made by an earlier outlining (region ops) stay outside.
                if let Some(d) = m.defining_op(v).filter(|d| order.contains_key(d)) {
                    stack.push(d);
                }
            }
        }
        Some(seen)
    };
    let mut body = back(&|v| fg.class_of(v).is_some_and(|c| inputs.contains(&c)))?;
    if body.len() > 2_000 {
        return None;
    }
    // Everything root depends on; of that, what is computed from the body.
    let cone = back(&|_| false)?;
    let mut stack: Vec<OpId> = body.iter().copied().collect();
    while let Some(op) = stack.pop() {
        for &r in &m.op(op).results {
            for u in m.uses(r) {
                if cone.contains(&u.op) && body.insert(u.op) {
                    stack.push(u.op);
                }
            }
        }
    }
    Some(body)
}

/// Whether a value computed inside `body`, other than `root`, is used outside.
fn escapes(m: &Module, body: &FxHashSet<OpId>, root: ValueId) -> bool {
    body.iter().any(|&o| m.op(o).results.iter().any(|&r| r != root && m.uses(r).iter().any(|u| !body.contains(&u.op))))
}

/// Moves `body` (in program order, ending with `root_op`) into a private
/// function `name` and calls it through a `sem.region` op.
fn outline(m: &mut Module, body: &[OpId], root_op: OpId, name: &str, kind: &str) {
    let set: FxHashSet<OpId> = body.iter().copied().collect();
    // Operands defined outside, in order of first use.
    let mut inputs: Vec<ValueId> = Vec::new();
    for &o in body {
        for &v in &m.op(o).operands {
            let inside = m.defining_op(v).is_some_and(|d| set.contains(&d));
            if !inside && !inputs.contains(&v) {
                inputs.push(v);
            }
        }
    }
    let root_value = m.op(root_op).results[0];
    let in_types: Vec<Type> = inputs.iter().map(|&v| m.value_type(v).clone()).collect();
    let out_type = m.value_type(root_value).clone();
    let (f, entry) = Builder::function(m, name, in_types.clone(), vec![out_type.clone()]);
    m.op_mut(f).attrs.set("sym_visibility", Attribute::String("private".into()));
    let mut map: FxHashMap<ValueId, ValueId> = inputs.iter().copied().zip(m.block_args(entry).to_vec()).collect();
    for &o in body {
        let data = m.op(o).clone();
        let operands: Vec<ValueId> = data.operands.iter().map(|v| map[v]).collect();
        let types: Vec<Type> = data.results.iter().map(|&r| m.value_type(r).clone()).collect();
        let copy = m.create_op(data.def, operands, types, data.attrs.clone(), data.loc.clone());
        m.append_op(entry, copy);
        for (old, new) in data.results.iter().zip(m.op(copy).results.clone()) {
            map.insert(*old, new);
        }
    }
    let mut b = Builder::at_end(m, entry);
    b.op("func.return", &[map[&root_value]], vec![], AttrDict::new());

    let mut attrs = AttrDict::new();
    attrs.set("kind", Attribute::String(kind.to_string()));
    attrs.set("body", Attribute::SymbolRef(name.to_string()));
    attrs.set("function_type", Attribute::ty(Type::Function(in_types, vec![out_type.clone()])));
    if let Some(path) = m.op(root_op).loc.module_path() {
        attrs.set("sem.module_path", Attribute::String(path.to_string()));
    }
    let loc: Location = m.op(root_op).loc.clone();
    let mut b = Builder::before(m, root_op);
    b.loc = loc;
    let region = b.value("sem.region", &inputs, out_type, attrs);
    m.replace_all_uses(root_value, region);
    for &o in body.iter().rev() {
        m.erase_op(o);
    }
}
