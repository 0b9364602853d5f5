//! Building plans: what the code generator and hand-written test plans use.
//!
//! Types and attribute dictionaries are interned (stored once, named by
//! index); values get ids in definition order; [`Builder::finish`] marks the
//! returned temporaries as outputs and verifies the result.

use crate::plan::{Buffer, Device, DeviceKind, Instr, Output, Plan, Resident, ResidentKind, Role, ValueInfo};
use crate::PlanError;
use genie_ops::{AttrDict, Op, Type};
use std::collections::HashMap;

#[derive(Default)]
pub struct Builder {
    plan: Plan,
    /// Location of the next instructions (an index into `plan.locations`).
    location: Option<u32>,
    location_ids: HashMap<String, u32>,
    types: HashMap<Type, u32>,
    /// Printed dictionary → entry, so identical dictionaries are stored once.
    attrs: HashMap<String, u32>,
}

impl Builder {
    pub fn new(name: impl Into<String>) -> Builder {
        Builder { plan: Plan { name: name.into(), ..Plan::default() }, ..Builder::default() }
    }

    /// Adds a device and its (empty) stream; returns its index.
    pub fn device(&mut self, name: impl Into<String>, kind: DeviceKind) -> u32 {
        self.plan.devices.push(Device { name: name.into(), kind, arena_size: 0 });
        self.plan.streams.push(Vec::new());
        self.plan.devices.len() as u32 - 1
    }

    pub fn intern_type(&mut self, ty: &Type) -> u32 {
        if let Some(&t) = self.types.get(ty) {
            return t;
        }
        let t = self.plan.types.len() as u32;
        self.plan.types.push(ty.clone());
        self.types.insert(ty.clone(), t);
        t
    }

    pub fn intern_attrs(&mut self, d: &AttrDict) -> u32 {
        let mut key = String::new();
        genie_ops::attrs::write_attr_dict(&mut key, d, true);
        let next = self.plan.attrs.len() as u32;
        let id = *self.attrs.entry(key).or_insert(next);
        if id == next {
            self.plan.attrs.push(d.clone());
        }
        id
    }

    /// A new value of type `ty` on `device`.
    pub fn value(&mut self, device: u32, ty: &Type, role: Role) -> u32 {
        let ty = self.intern_type(ty);
        self.plan.values.push(ValueInfo { ty, role, device, buffer: None });
        self.plan.values.len() as u32 - 1
    }

    /// The next client argument, arriving on `device` (role input or weight).
    pub fn input(&mut self, device: u32, ty: &Type, role: Role) -> u32 {
        let v = self.value(device, ty, role);
        self.plan.inputs.push(v);
        v
    }

    pub fn resident(&mut self, name: impl Into<String>, ty: &Type, device: u32, kind: ResidentKind) -> u32 {
        let ty = self.intern_type(ty);
        self.plan.residents.push(Resident { name: name.into(), ty, device, kind });
        self.plan.residents.len() as u32 - 1
    }

    fn push(&mut self, device: u32, ins: Instr) {
        self.plan.streams[device as usize].push(ins);
        if let Some(l) = self.location {
            let d = device as usize;
            if self.plan.instr_locations.len() < self.plan.streams.len() {
                self.plan.instr_locations.resize(self.plan.streams.len(), Vec::new());
            }
            let locs = &mut self.plan.instr_locations[d];
            locs.resize(self.plan.streams[d].len() - 1, crate::plan::NO_LOCATION);
            locs.push(l);
        }
    }

    /// Records `location` as where the instructions added next come from
    /// (`None`: nowhere recorded).
    pub fn set_location(&mut self, location: Option<&str>) {
        self.location = location.map(|l| {
            let next = self.plan.locations.len() as u32;
            let id = *self.location_ids.entry(l.to_string()).or_insert(next);
            if id == next {
                self.plan.locations.push(l.to_string());
            }
            id
        });
    }

    /// `results = op(operands) {attrs}` on `device`, results typed `results`.
    pub fn call(&mut self, device: u32, op: Op, operands: &[u32], attrs: &AttrDict, results: &[Type]) -> Vec<u32> {
        let ids: Vec<u32> = results.iter().map(|t| self.value(device, t, Role::Temporary)).collect();
        let attrs = self.intern_attrs(attrs);
        self.push(device, Instr::Call { op, operands: operands.to_vec(), results: ids.clone(), attrs });
        ids
    }

    /// A call whose result values already exist (the code generator names
    /// values before it emits their definitions).
    pub fn call_into(&mut self, device: u32, op: Op, operands: Vec<u32>, results: Vec<u32>, attrs: &AttrDict) {
        let attrs = self.intern_attrs(attrs);
        self.push(device, Instr::Call { op, operands, results, attrs });
    }

    pub fn load(&mut self, device: u32, resident: u32) -> u32 {
        let ty = self.plan.types[self.plan.residents[resident as usize].ty as usize].clone();
        let v = self.value(device, &ty, Role::Resident);
        self.push(device, Instr::Load { resident, result: v });
        v
    }

    pub fn store(&mut self, device: u32, resident: u32, value: u32) {
        self.push(device, Instr::Store { resident, value });
    }

    /// Starts moving `value` (on `from`) to `to`; returns the copy there,
    /// usable after [`Builder::await_value`].
    pub fn send(&mut self, from: u32, value: u32, to: u32) -> u32 {
        let ty = self.plan.types[self.plan.values[value as usize].ty as usize].clone();
        let copy = self.value(to, &ty, Role::Temporary);
        self.push(from, Instr::Send { value, result: copy });
        copy
    }

    pub fn await_value(&mut self, device: u32, value: u32) {
        self.push(device, Instr::Await { value });
    }

    pub fn output(&mut self, value: u32, keep: bool) {
        self.plan.outputs.push(Output { value, keep });
    }

    /// Places value `v` in a new buffer of `size` bytes at the end of its
    /// device's arena.
    pub fn buffer(&mut self, v: u32, size: u64) -> u32 {
        let device = self.plan.values[v as usize].device;
        let dev = &mut self.plan.devices[device as usize];
        self.plan.buffers.push(Buffer { device, offset: dev.arena_size, size });
        dev.arena_size += size;
        let b = self.plan.buffers.len() as u32 - 1;
        self.plan.values[v as usize].buffer = Some(b);
        b
    }

    /// The plan so far, for passes that finish it (buffer planning).
    pub fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }

    /// Returned temporaries become outputs; the plan is verified.
    pub fn finish(mut self) -> Result<Plan, PlanError> {
        if !self.plan.instr_locations.is_empty() {
            self.plan.instr_locations.resize(self.plan.streams.len(), Vec::new());
            for (locs, s) in self.plan.instr_locations.iter_mut().zip(&self.plan.streams) {
                locs.resize(s.len(), crate::plan::NO_LOCATION);
            }
        }
        for o in &self.plan.outputs {
            let info = &mut self.plan.values[o.value as usize];
            if info.role == Role::Temporary {
                info.role = Role::Output;
            }
        }
        crate::verify(&self.plan)?;
        Ok(self.plan)
    }
}
