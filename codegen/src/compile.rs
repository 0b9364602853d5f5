//! A `sem` function → a [`Plan`], with buffer planning.
//!
//! Roles: function arguments are inputs, or weights when the function lists
//! them in `genie.weight_args`; `dense_resource` constants are constants;
//! returned values are outputs; everything else is a temporary. Temporaries of
//! static size share buffers when their lifetimes do not overlap.

use crate::plan::{Buffer, Instr, Plan, Role, ValueInfo};
use genie_ir::{attrs::write_attr_dict, Attribute, Module, OpId, Type, ValueId};
use std::collections::HashMap;

/// Buffers are aligned so kernels can use wide loads.
pub const ALIGN: u64 = 64;

/// Compiles function `func` of `m` (a flat graph ending in `func.return`).
pub fn compile_function(m: &Module, func: OpId) -> Result<Plan, String> {
    let name = m.symbol_name(func).unwrap_or("forward").to_string();
    let entry = m.entry_block(func).ok_or_else(|| format!("function @{name} has no body"))?;
    let weights: Vec<i64> = m.op(func).attr("genie.weight_args").and_then(Attribute::as_int_array).unwrap_or_default();
    let mut c = Compiler { m, plan: Plan { name: name.clone(), ..Plan::default() }, ids: HashMap::new(), strings: HashMap::new(), types: HashMap::new(), attrs: HashMap::new() };
    for (i, &a) in m.block_args(entry).iter().enumerate() {
        let role = if weights.contains(&(i as i64)) { Role::Weight } else { Role::Input };
        let id = c.value(a, role)?;
        c.plan.inputs.push(id);
    }
    for op in m.block_ops(entry) {
        let data = m.op(op);
        if data.name() == "func.return" {
            for &v in &data.operands {
                let id = c.ids.get(&v).copied().ok_or("return of an undefined value")?;
                let info = &mut c.plan.values[id as usize];
                if info.role == Role::Temporary {
                    info.role = Role::Output;
                }
                c.plan.outputs.push(id);
            }
            continue;
        }
        if !data.regions.is_empty() {
            return Err(format!("'{}' has regions; plans hold flat graphs", data.name()));
        }
        let operands = data.operands.iter().map(|v| c.ids.get(v).copied().ok_or("use of an undefined value")).collect::<Result<Vec<_>, _>>()?;
        let role = if data.name() == "sem.constant" && matches!(data.attr("value"), Some(Attribute::DenseResource { .. })) { Role::Constant } else { Role::Temporary };
        let results = data.results.iter().map(|&r| c.value(r, role)).collect::<Result<Vec<_>, _>>()?;
        let op = c.string(data.name());
        let attrs = c.attr_dict(&data.attrs);
        c.plan.code.push(Instr { op, operands, results, attrs });
    }
    let mut plan = c.plan;
    plan_buffers(&mut plan);
    Ok(plan)
}

/// Compiles every function of a module.
pub fn compile_module(m: &Module) -> Result<Vec<Plan>, String> {
    m.functions().into_iter().map(|f| compile_function(m, f)).collect()
}

struct Compiler<'m> {
    m: &'m Module,
    plan: Plan,
    ids: HashMap<ValueId, u32>,
    strings: HashMap<String, u32>,
    types: HashMap<Type, u32>,
    /// Printed dictionary → entry, so identical dictionaries are stored once.
    attrs: HashMap<String, u32>,
}

impl Compiler<'_> {
    fn value(&mut self, v: ValueId, role: Role) -> Result<u32, String> {
        let ty = self.m.value_type(v).clone();
        if !matches!(ty, Type::Tensor(_) | Type::Scalar(_) | Type::None) {
            return Err(format!("a value of type {ty} cannot be part of a plan"));
        }
        let next = self.plan.types.len() as u32;
        let t = *self.types.entry(ty.clone()).or_insert(next);
        if t == next {
            self.plan.types.push(ty);
        }
        let id = self.plan.values.len() as u32;
        self.plan.values.push(ValueInfo { ty: t, role, buffer: None });
        self.ids.insert(v, id);
        Ok(id)
    }

    fn string(&mut self, s: &str) -> u32 {
        let next = self.plan.strings.len() as u32;
        let id = *self.strings.entry(s.to_string()).or_insert(next);
        if id == next {
            self.plan.strings.push(s.to_string());
        }
        id
    }

    fn attr_dict(&mut self, d: &genie_ir::AttrDict) -> u32 {
        let mut key = String::new();
        write_attr_dict(&mut key, d, true);
        let next = self.plan.attrs.len() as u32;
        let id = *self.attrs.entry(key).or_insert(next);
        if id == next {
            self.plan.attrs.push(Attribute::Dict(d.clone()));
        }
        id
    }
}

/// Bytes a value needs, when its size is known at compile time.
pub fn static_bytes(t: &Type) -> Option<u64> {
    match t {
        Type::Tensor(tt) => {
            let n = tt.num_elements()?;
            u64::try_from(n).ok()?.checked_mul(tt.dtype.byte_size() as u64)
        }
        _ => None,
    }
}

fn align(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Assigns buffers to static-size temporaries, reusing the buffer of a value
/// once its last use has run (best fit among free buffers, growing the
/// largest free one when none fits), and records arena size and peak bytes.
pub fn plan_buffers(plan: &mut Plan) {
    let n = plan.values.len();
    let mut last_use = vec![None::<usize>; n];
    for (pc, ins) in plan.code.iter().enumerate() {
        for &o in &ins.operands {
            last_use[o as usize] = Some(pc);
        }
    }
    let size_of = |plan: &Plan, v: u32| -> Option<u64> {
        let info = &plan.values[v as usize];
        if info.role != Role::Temporary {
            return None;
        }
        static_bytes(&plan.types[info.ty as usize]).map(align)
    };
    let mut buffer_sizes: Vec<u64> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let (mut live, mut peak, mut unshared) = (0u64, 0u64, 0u64);
    let mut assignment: Vec<Option<usize>> = vec![None; n];
    for pc in 0..plan.code.len() {
        for r in plan.code[pc].results.clone() {
            let Some(size) = size_of(plan, r) else { continue };
            unshared += size;
            live += size;
            let best = free.iter().enumerate().filter(|(_, &b)| buffer_sizes[b] >= size).min_by_key(|(_, &b)| buffer_sizes[b]).map(|(i, _)| i);
            let grow = || free.iter().enumerate().max_by_key(|(_, &b)| buffer_sizes[b]).map(|(i, _)| i);
            let b = match best.or_else(grow) {
                Some(i) => {
                    let b = free.swap_remove(i);
                    buffer_sizes[b] = buffer_sizes[b].max(size);
                    b
                }
                None => {
                    buffer_sizes.push(size);
                    buffer_sizes.len() - 1
                }
            };
            assignment[r as usize] = Some(b);
            // A result nobody reads is dead at once.
            if last_use[r as usize].is_none() {
                free.push(b);
                live -= size;
            }
        }
        peak = peak.max(live);
        let mut seen = Vec::new();
        for &o in &plan.code[pc].operands {
            if last_use[o as usize] == Some(pc) && !seen.contains(&o) {
                seen.push(o);
                if let (Some(b), Some(size)) = (assignment[o as usize], size_of(plan, o)) {
                    free.push(b);
                    live -= size;
                }
            }
        }
    }
    let mut offset = 0;
    plan.buffers = buffer_sizes
        .iter()
        .map(|&size| {
            let b = Buffer { offset, size };
            offset += size;
            b
        })
        .collect();
    for (v, b) in assignment.into_iter().enumerate() {
        plan.values[v].buffer = b.map(|b| b as u32);
    }
    plan.arena_size = offset;
    plan.peak_temp_bytes = peak;
    plan.unshared_temp_bytes = unshared;
}
