//! `genie-kv-in-place`: a KV-cache append becomes an append in place.
//!
//! The pattern engine marks `sem.cat %cache, %new {dim}` where `%cache` is
//! a graph argument holding a KV cache (`kv_cache_append`). Functionally
//! such a cat copies the whole cache on every decode step, as eager
//! PyTorch does. This pass rewrites it to `sem.append %cache, %new {dim}`:
//! the same value, which the runtime may produce by writing `%new` after
//! the cache's elements in the cache's own buffer when that buffer has room
//! (buffers it makes for appends grow geometrically), leaving every view
//! of the shorter cache valid; when two continuations append to the same
//! prefix (beam search), the second copies. Only the analysis's KV caches
//! are rewritten: the decision is the compiler's, the mechanism the runtime's.
//!
//! A prefill step's caches (returned `kv-state` values no append made) are
//! returned through `sem.append %empty, %cache` along their sequence dim
//! (the dim sized like the token ids'), with `%empty` a zero-length slice
//! of the cache: one copy into an append buffer, so the next step appends in
//! place and every step hands the program caches of one layout (a caller
//! that specialises on strides, as TorchDynamo does, compiles the decode
//! step once).

use crate::Pass;
use genie_ir::{AttrDict, Attribute, Builder, Diagnostics, Dim, Module, OpId, Type, ValueDef, ValueId};

pub struct KvInPlace;

impl Pass for KvInPlace {
    fn name(&self) -> &'static str {
        "genie-kv-in-place"
    }

    fn description(&self) -> &'static str {
        "rewrite the KV-cache appends the analysis found (cat of a cache argument) to sem.append, which the runtime does in place"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let append = genie_ir::lookup("sem.append").expect("sem.append is registered");
        for f in m.functions() {
            let Some(entry) = m.entry_block(f) else { continue };
            let roles: Vec<String> = match m.op(f).attr("genie.arg_roles").and_then(Attribute::as_array) {
                Some(r) => r.iter().map(|a| a.as_str().unwrap_or("").to_string()).collect(),
                None => continue,
            };
            for op in m.block_ops(entry) {
                let data = m.op(op);
                let is_append = data.name() == "sem.cat"
                    && data.operands.len() == 2
                    && data.attr("sem.pattern").and_then(Attribute::as_str).is_some_and(|p| p.split(',').any(|k| k == "kv_cache_append"));
                if !is_append {
                    continue;
                }
                let cache_is_argument = match m.value_def(data.operands[0]) {
                    ValueDef::BlockArg { block, index } => block == entry && roles.get(index as usize).is_some_and(|r| r == "kv-state"),
                    _ => false,
                };
                let same_rank = match (m.value_type(data.operands[0]), m.value_type(data.operands[1])) {
                    (Type::Tensor(a), Type::Tensor(b)) => a.dims.len() == b.dims.len(),
                    _ => false,
                };
                if cache_is_argument && same_rank {
                    m.op_mut(op).def = append;
                }
            }
            buffer_new_caches(m, f, &roles);
        }
        Ok(())
    }
}

/// Returns each `kv-state` result that no append produced through an append
/// to an empty slice of itself along its sequence dim.
fn buffer_new_caches(m: &mut Module, f: OpId, roles: &[String]) {
    let entry = m.entry_block(f).expect("functions with roles have bodies");
    let Some(ret) = m.last_op(entry).filter(|&r| m.op(r).name() == "func.return") else { return };
    let Some(seq) = token_length(m, entry, roles) else { return };
    for (i, v) in m.op(ret).operands.to_vec().into_iter().enumerate() {
        let Some(def) = m.defining_op(v) else { continue };
        let data = m.op(def);
        if data.name() == "sem.append" || data.attr("sem.role").and_then(Attribute::as_str) != Some("kv-state") {
            continue;
        }
        let Type::Tensor(t) = m.value_type(v).clone() else { continue };
        // The one dim sized like the token ids is the sequence dim.
        let dims: Vec<usize> = t.dims.iter().enumerate().filter(|(_, d)| **d == seq).map(|(i, _)| i).collect();
        let [dim] = dims[..] else { continue };
        let mut empty_ty = t.clone();
        empty_ty.dims[dim] = Dim::Static(0);
        let mut role = AttrDict::new();
        role.set("sem.role", Attribute::String("kv-state".into()));
        let mut b = Builder::before(m, ret);
        let mut slice = role.clone();
        slice.set("dim", Attribute::int(dim as i64));
        slice.set("start", Attribute::int(0));
        slice.set("end", Attribute::int(0));
        let empty = b.value("sem.slice", &[v], Type::Tensor(empty_ty), slice);
        let mut attrs = role;
        attrs.set("dim", Attribute::int(dim as i64));
        let buffered: ValueId = b.value("sem.append", &[empty, v], Type::Tensor(t), attrs);
        let loc = m.op(def).loc.clone();
        if let Some(op) = m.defining_op(buffered) {
            m.op_mut(op).loc = loc.clone();
        }
        if let Some(op) = m.defining_op(empty) {
            m.op_mut(op).loc = loc;
        }
        m.set_operand(ret, i, buffered);
    }
}

/// The length of the token sequence: the last dim of the (integer, rank 2)
/// token-id input, when there is exactly one.
fn token_length(m: &Module, entry: genie_ir::BlockId, roles: &[String]) -> Option<Dim> {
    let ids: Vec<Dim> = m
        .block_args(entry)
        .iter()
        .zip(roles)
        .filter(|(_, r)| r.as_str() == "input")
        .filter_map(|(&a, _)| match m.value_type(a) {
            Type::Tensor(t) if t.dims.len() == 2 && !t.dtype.is_float() => t.dims.last().copied(),
            _ => None,
        })
        .collect();
    match ids[..] {
        [d] if d != Dim::Static(1) && d != Dim::Dynamic => Some(d),
        _ => None,
    }
}
