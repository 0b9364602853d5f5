//! Buffer planning: each static-size temporary gets a buffer of its
//! device's arena, shared with temporaries whose lifetimes do not overlap.
//!
//! A value's buffer is free once the value and everything that may alias
//! it (the results of view ops over it, transitively) have had their last
//! use. Within a device, best fit among the free buffers, growing the
//! largest free one when none fits; buffers are laid out back to back, so
//! each device's arena is the sum of its buffers.

use genie_plan::{Buffer, Instr, Plan, Role};
use genie_ir::Type;

/// Buffers are aligned so kernels can use wide loads.
pub const ALIGN: u64 = 64;

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

/// Assigns buffers to the plan's static-size temporaries, device by device,
/// and records arena sizes and peak bytes.
pub fn plan_buffers(plan: &mut Plan) {
    let n = plan.values.len();
    // The value whose memory each value may share (itself, or a view's root).
    let mut root: Vec<u32> = (0..n as u32).collect();
    for stream in &plan.streams {
        for ins in stream {
            if let Instr::Call { op, operands, results, .. } = ins {
                if op.def().is_view() {
                    if let Some(&src) = operands.first() {
                        for &r in results {
                            root[r as usize] = root[src as usize];
                        }
                    }
                }
            }
        }
    }
    // Last instruction (per stream) reading each root's memory; outputs and
    // values whose aliases escape keep their root alive to the end.
    let mut last_use: Vec<Option<usize>> = vec![None; n];
    let mut escapes = vec![false; n];
    for o in &plan.outputs {
        escapes[root[o.value as usize] as usize] = true;
    }
    for stream in &plan.streams {
        for (pc, ins) in stream.iter().enumerate() {
            let sends_away = matches!(ins, Instr::Send { .. } | Instr::Store { .. });
            for &o in ins.reads() {
                let r = root[o as usize] as usize;
                last_use[r] = Some(pc);
                // A sent or stored value may be read after this stream moves on.
                escapes[r] |= sends_away;
            }
        }
    }
    let size_of = |plan: &Plan, v: u32| -> Option<u64> {
        let info = &plan.values[v as usize];
        if info.role != Role::Temporary || escapes[v as usize] || root[v as usize] != v {
            return None;
        }
        static_bytes(&plan.types[info.ty as usize]).map(align)
    };

    let mut buffers: Vec<Buffer> = Vec::new();
    let mut assignment: Vec<Option<u32>> = vec![None; n];
    let (mut peak_all, mut unshared) = (0u64, 0u64);
    for (device, stream) in plan.streams.iter().enumerate() {
        let first = buffers.len();
        let mut sizes: Vec<u64> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let (mut live, mut peak) = (0u64, 0u64);
        for (pc, ins) in stream.iter().enumerate() {
            for &r in ins.defines() {
                let Some(size) = size_of(plan, r) else { continue };
                unshared += size;
                live += size;
                let best = free.iter().enumerate().filter(|(_, &b)| sizes[b] >= size).min_by_key(|(_, &b)| sizes[b]).map(|(i, _)| i);
                let grow = || free.iter().enumerate().max_by_key(|(_, &b)| sizes[b]).map(|(i, _)| i);
                let b = match best.or_else(grow) {
                    Some(i) => {
                        let b = free.swap_remove(i);
                        sizes[b] = sizes[b].max(size);
                        b
                    }
                    None => {
                        sizes.push(size);
                        sizes.len() - 1
                    }
                };
                assignment[r as usize] = Some((first + b) as u32);
                // A result nobody reads is dead at once.
                if last_use[r as usize].is_none() {
                    free.push(b);
                    live -= size;
                }
            }
            peak = peak.max(live);
            let mut seen = Vec::new();
            for &o in ins.reads() {
                let r = root[o as usize];
                if last_use[r as usize] == Some(pc) && !seen.contains(&r) {
                    seen.push(r);
                    if let (Some(b), Some(size)) = (assignment[r as usize], size_of(plan, r)) {
                        free.push(b as usize - first);
                        live -= size;
                    }
                }
            }
        }
        let mut offset = 0;
        for size in sizes {
            buffers.push(Buffer { device: device as u32, offset, size });
            offset += size;
        }
        plan.devices[device].arena_size = offset;
        peak_all += peak;
    }
    for (v, b) in assignment.into_iter().enumerate() {
        plan.values[v].buffer = b;
    }
    plan.buffers = buffers;
    plan.peak_temp_bytes = peak_all;
    plan.unshared_temp_bytes = unshared;
}
