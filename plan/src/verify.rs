//! The plan verifier: what a runtime checks before it runs anything.
//!
//! Every index is in range; every value is defined once, on the device
//! whose stream defines it, before that stream reads it; every kernel call
//! passes the op table's checks — operand and result kinds, attributes and
//! the compiler's own shape/dtype rule over the plan's types
//! ([`genie_ops::dialects::check`]); loads, stores and transfers move values
//! of the right type between the right devices; buffers fit their device's
//! arena; and the streams, run together, cannot deadlock (each
//! [`Instr::Await`] is reached only after its [`Instr::Send`] can have run).

use crate::bytecode::PlanError;
use crate::plan::{Instr, Plan, ResidentKind, Role};
use genie_ops::dialects::check::check_call;
use genie_ops::Type;

fn invalid<T>(message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError { offset: None, message: message.into() })
}

/// Checks `plan`; the error names the first problem and where it is.
pub fn verify(plan: &Plan) -> Result<(), PlanError> {
    let n_devices = plan.devices.len();
    if n_devices == 0 {
        return invalid("the plan names no device");
    }
    if plan.streams.len() != n_devices {
        return invalid(format!("{} instruction streams for {n_devices} device(s)", plan.streams.len()));
    }
    for (i, t) in plan.types.iter().enumerate() {
        if !matches!(t, Type::Tensor(_) | Type::Scalar(_) | Type::None) {
            return invalid(format!("type #{i} is {t}, which plans cannot hold"));
        }
    }
    for (i, v) in plan.values.iter().enumerate() {
        if v.ty as usize >= plan.types.len() {
            return invalid(format!("value %{i} names type #{} of {}", v.ty, plan.types.len()));
        }
        if v.device as usize >= n_devices {
            return invalid(format!("value %{i} is on device #{} of {n_devices}", v.device));
        }
        if let Some(b) = v.buffer {
            let Some(buf) = plan.buffers.get(b as usize) else {
                return invalid(format!("value %{i} names buffer #{b} of {}", plan.buffers.len()));
            };
            if v.role != Role::Temporary {
                return invalid(format!("value %{i} is a {} but has a buffer", v.role.name()));
            }
            if buf.device != v.device {
                return invalid(format!("value %{i} is on device #{} but its buffer #{b} on #{}", v.device, buf.device));
            }
        }
    }
    for (b, buf) in plan.buffers.iter().enumerate() {
        let Some(dev) = plan.devices.get(buf.device as usize) else {
            return invalid(format!("buffer #{b} is on device #{} of {n_devices}", buf.device));
        };
        if buf.offset.checked_add(buf.size).is_none_or(|end| end > dev.arena_size) {
            return invalid(format!("buffer #{b} ends past the {}-byte arena of device @{}", dev.arena_size, dev.name));
        }
    }
    for (i, r) in plan.residents.iter().enumerate() {
        if r.ty as usize >= plan.types.len() {
            return invalid(format!("resident @{i} ({}) names type #{} of {}", r.name, r.ty, plan.types.len()));
        }
        if r.device as usize >= n_devices {
            return invalid(format!("resident @{i} ({}) is on device #{} of {n_devices}", r.name, r.device));
        }
        if plan.residents[..i].iter().any(|o| o.name == r.name) {
            return invalid(format!("resident name '{}' is used twice", r.name));
        }
    }

    let mut defined = vec![false; plan.values.len()];
    for &i in &plan.inputs {
        define(&mut defined, i, &|| "the input list".into())?;
        let role = plan.values[i as usize].role;
        if !matches!(role, Role::Input | Role::Weight) {
            return invalid(format!("input %{i} has role {}", role.name()));
        }
    }
    // Sends that have run, by the value they make: an await may pass.
    let mut sent = vec![false; plan.values.len()];
    let mut pcs = vec![0usize; n_devices];
    loop {
        let mut progressed = false;
        for d in 0..n_devices {
            while let Some(ins) = plan.streams[d].get(pcs[d]) {
                if let Instr::Await { value } = ins {
                    if !sent.get(*value as usize).copied().unwrap_or(true) {
                        break;
                    }
                }
                check_instr(plan, d, pcs[d], ins, &mut defined, &mut sent)?;
                pcs[d] += 1;
                progressed = true;
            }
        }
        if pcs.iter().zip(&plan.streams).all(|(&pc, s)| pc == s.len()) {
            break;
        }
        if !progressed {
            let (d, pc) = pcs.iter().enumerate().find(|(d, &pc)| pc < plan.streams[*d].len()).map(|(d, &pc)| (d, pc)).expect("a stream is unfinished");
            let what = plan.instr_text(&plan.streams[d][pc]);
            return invalid(format!("stream #{d} instruction {pc} ('{what}') waits for a value no stream can send first: the streams deadlock"));
        }
    }
    if !plan.instr_locations.is_empty() {
        if plan.instr_locations.len() != plan.streams.len() || plan.instr_locations.iter().zip(&plan.streams).any(|(l, s)| l.len() != s.len()) {
            return invalid("debug locations do not match the instruction streams");
        }
        if let Some(bad) = plan.instr_locations.iter().flatten().find(|&&l| l != crate::plan::NO_LOCATION && l as usize >= plan.locations.len()) {
            return invalid(format!("an instruction names location #{bad} of {}", plan.locations.len()));
        }
    }
    for o in &plan.outputs {
        if !defined.get(o.value as usize).copied().unwrap_or(false) {
            return invalid(format!("output %{} is never defined", o.value));
        }
    }
    Ok(())
}

/// Marks `id` defined; `what` names the definer for an error only (no
/// formatting when the check passes).
fn define(defined: &mut [bool], id: u32, what: &dyn Fn() -> String) -> Result<(), PlanError> {
    let n = defined.len();
    match defined.get_mut(id as usize) {
        None => invalid(format!("{} names value %{id} of {n}", what())),
        Some(true) => invalid(format!("{} redefines value %{id}", what())),
        Some(d) => {
            *d = true;
            Ok(())
        }
    }
}

fn check_instr(plan: &Plan, d: usize, pc: usize, ins: &Instr, defined: &mut [bool], sent: &mut [bool]) -> Result<(), PlanError> {
    let here = || format!("stream #{d} instruction {pc} ('{}')", ins.name());
    let on_device = |v: u32| -> Result<(), PlanError> {
        match plan.values.get(v as usize) {
            None => invalid(format!("{} names value %{v} of {}", here(), plan.values.len())),
            Some(info) if info.device as usize != d => invalid(format!("{} uses value %{v}, which lives on device #{}", here(), info.device)),
            Some(_) => Ok(()),
        }
    };
    for &o in ins.reads() {
        on_device(o)?;
        if !defined[o as usize] {
            return invalid(format!("{} uses value %{o} before it is defined", here()));
        }
    }
    match ins {
        Instr::Call { op, operands, results, attrs } => {
            for &r in results {
                on_device(r)?;
            }
            let Some(a) = plan.attrs.get(*attrs as usize) else {
                return invalid(format!("{} names attribute entry #{attrs} of {}", here(), plan.attrs.len()));
            };
            let types = |ids: &[u32]| ids.iter().map(|&v| plan.value_type(v)).collect::<Vec<_>>();
            check_call(op.def(), types(operands), &types(results), a).or_else(|e| invalid(format!("{}: {e}", here())))?;
        }
        Instr::Load { resident, result } => {
            on_device(*result)?;
            let r = resident_on(plan, *resident, d, &here)?;
            if plan.values[*result as usize].role != Role::Resident && plan.values[*result as usize].role != Role::Output {
                return invalid(format!("{} loads into %{result}, a {}", here(), plan.values[*result as usize].role.name()));
            }
            same_type(plan, &plan.types[r.ty as usize], *result, &here)?;
        }
        Instr::Store { resident, value } => {
            let r = resident_on(plan, *resident, d, &here)?;
            if r.kind != ResidentKind::State {
                return invalid(format!("{} writes resident {}, a {}", here(), r.name, r.kind.name()));
            }
            same_type(plan, &plan.types[r.ty as usize], *value, &here)?;
        }
        Instr::Send { value, result } => {
            let Some(to) = plan.values.get(*result as usize) else {
                return invalid(format!("{} names value %{result} of {}", here(), plan.values.len()));
            };
            if to.device as usize == d {
                return invalid(format!("{} sends %{value} to its own device", here()));
            }
            same_type(plan, plan.value_type(*value), *result, &here)?;
            if std::mem::replace(&mut sent[*result as usize], true) {
                return invalid(format!("{} sends %{result} a second time", here()));
            }
        }
        Instr::Await { value } => {
            on_device(*value)?;
        }
    }
    for &r in ins.defines() {
        define(defined, r, &here)?;
    }
    Ok(())
}

fn resident_on<'p>(plan: &'p Plan, r: u32, d: usize, here: &dyn Fn() -> String) -> Result<&'p crate::plan::Resident, PlanError> {
    match plan.residents.get(r as usize) {
        None => invalid(format!("{} names resident @{r} of {}", here(), plan.residents.len())),
        Some(x) if x.device as usize != d => invalid(format!("{} reaches resident {}, which lives on device #{}", here(), x.name, x.device)),
        Some(x) => Ok(x),
    }
}

fn same_type(plan: &Plan, want: &Type, v: u32, here: &dyn Fn() -> String) -> Result<(), PlanError> {
    let have = plan.value_type(v);
    if !want.compatible(have) {
        return invalid(format!("{} moves a {want} into %{v}, a {have}", here()));
    }
    Ok(())
}
