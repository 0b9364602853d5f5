//! An `exec` host function → a [`Plan`].
//!
//! The host function says where everything is: `exec.transfer`s of its
//! arguments from the client are the plan's inputs (on the device they go
//! to); `exec.resident_load`s of residents without `init` are weights (also
//! inputs, bound once, in the graph's argument order, which each weight
//! resident's `argument` attribute records); every `exec.launch` inlines its
//! kernel's body into the stream of its device (a kernel's
//! `exec.resident_load` of a resident with `init` becomes a [`Instr::Load`]
//! of constant resident state, bound by its resource handle); an
//! `exec.transfer` between two devices is a [`Instr::Send`] in the sender's
//! stream and an [`Instr::Await`] in the receiver's, just before the value's
//! first use there; a result transferred back to the client comes back with
//! the reply, and a result returned while still on its device is kept there
//! as a handle. Temporaries of static size share buffers of their device's
//! arena when their lifetimes do not overlap ([`crate::buffers`]).
//!
//! A module still in the `sem` form is placed first, on a copy, by
//! `genie-lower-to-exec` (one embedded CPU).

use genie_ir::{AttrDict, Attribute, Module, OpId, Severity, Type, ValueId};
use genie_passes::lower_to_exec::{functions_to_lower, LowerToExec};
use genie_passes::Pass;
use genie_plan::{Builder, DeviceKind, Plan, ResidentKind, Role};
use std::collections::{HashMap, HashSet};

/// Compiles every host function of a module (kernels are compiled through
/// the host that launches them). `sem` functions are placed first.
pub fn compile_module(m: &Module) -> Result<Vec<Plan>, String> {
    if functions_to_lower(m).is_empty() {
        return compile_exec_module(m);
    }
    let mut lowered = m.clone();
    LowerToExec.run(&mut lowered).map_err(|d| d.to_string())?;
    compile_exec_module(&lowered)
}

/// Compiles function `func` of `m`: an `exec` host function, or a `sem`
/// function through its placed form.
pub fn compile_function(m: &Module, func: OpId) -> Result<Plan, String> {
    if is_host(m, func) {
        return compile_host(m, func, &Declarations::of(m));
    }
    let name = m.symbol_name(func).unwrap_or("forward").to_string();
    let mut lowered = m.clone();
    LowerToExec.run(&mut lowered).map_err(|d| d.to_string())?;
    let host = lowered.function(&name).ok_or_else(|| format!("function @{name} was not placed"))?;
    compile_host(&lowered, host, &Declarations::of(&lowered))
}

fn compile_exec_module(m: &Module) -> Result<Vec<Plan>, String> {
    let decls = Declarations::of(m);
    let kernels = launched_kernels(m);
    m.functions()
        .into_iter()
        .filter(|&f| m.entry_block(f).is_some() && !m.symbol_name(f).is_some_and(|n| kernels.contains(n)))
        .map(|f| compile_host(m, f, &decls))
        .collect()
}

/// Module-level `exec.device` and `exec.resident` declarations by name.
struct Declarations<'m> {
    devices: HashMap<&'m str, OpId>,
    residents: HashMap<&'m str, OpId>,
}

impl<'m> Declarations<'m> {
    fn of(m: &'m Module) -> Self {
        let mut d = Declarations { devices: HashMap::new(), residents: HashMap::new() };
        for op in m.block_ops(m.body()) {
            let Some(name) = m.symbol_name(op) else { continue };
            match m.op(op).name() {
                "exec.device" => {
                    d.devices.insert(name, op);
                }
                "exec.resident" => {
                    d.residents.insert(name, op);
                }
                _ => {}
            }
        }
        d
    }
}

/// Names of the functions some launch runs as its kernel.
fn launched_kernels(m: &Module) -> HashSet<&str> {
    m.walk()
        .into_iter()
        .filter(|&op| matches!(m.op(op).name(), "exec.launch" | "exec.launch_async" | "exec.recompute"))
        .filter_map(|op| match m.op(op).attr("kernel") {
            Some(Attribute::SymbolRef(k)) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// A function whose body holds `exec` ops.
fn is_host(m: &Module, f: OpId) -> bool {
    m.entry_block(f).is_some_and(|entry| m.block_ops(entry).into_iter().any(|op| m.op(op).def.dialect() == "exec"))
}

/// `file:line:col: error: 'op' op <msg> [at <module path>]`.
fn op_error(m: &Module, op: OpId, msg: &str) -> String {
    m.op_diagnostic(op, Severity::Error, msg).to_string()
}

fn symbol<'a>(m: &'a Module, op: OpId, attr: &str) -> Result<&'a str, String> {
    match m.op(op).attr(attr) {
        Some(Attribute::SymbolRef(s)) => Ok(s),
        _ => Err(op_error(m, op, &format!("needs a '{attr}' symbol reference"))),
    }
}

/// Where a host value is.
#[derive(Clone, Copy)]
enum Place {
    /// On the client: a host argument (by index), or a plan value
    /// transferred back.
    ClientArg(usize),
    Returned(u32),
    /// Plan value on its device.
    Device(u32),
}

struct HostCompiler<'m> {
    m: &'m Module,
    decls: &'m Declarations<'m>,
    b: Builder,
    /// Device symbol → plan device index (in order of first use).
    devices: HashMap<&'m str, u32>,
    places: HashMap<ValueId, Place>,
    /// Constant and state residents already in the plan, by symbol.
    residents: HashMap<&'m str, u32>,
    /// Per device: transferred values not yet awaited there.
    pending: HashMap<u32, HashSet<u32>>,
    /// Host argument index → its plan input; weight resident → its input.
    arg_inputs: Vec<Option<u32>>,
    weights: Vec<(Option<i64>, &'m str, u32)>,
}

fn compile_host(m: &Module, host: OpId, decls: &Declarations) -> Result<Plan, String> {
    let name = m.symbol_name(host).unwrap_or("forward").to_string();
    let entry = m.entry_block(host).ok_or_else(|| op_error(m, host, &format!("function @{name} has no body")))?;
    let args = m.block_args(entry);
    let mut c = HostCompiler {
        m,
        decls,
        b: Builder::new(name.clone()),
        devices: HashMap::new(),
        places: args.iter().enumerate().map(|(i, &a)| (a, Place::ClientArg(i))).collect(),
        residents: HashMap::new(),
        pending: HashMap::new(),
        arg_inputs: vec![None; args.len()],
        weights: Vec::new(),
    };
    let mut returned = None;
    let mut launched = false;
    for op in m.block_ops(entry) {
        match m.op(op).name() {
            "exec.transfer" | "exec.transfer_async" => c.transfer(op)?,
            "exec.resident_load" => c.host_load(op)?,
            "exec.resident_store" => c.host_store(op)?,
            "exec.launch" | "exec.launch_async" | "exec.recompute" => {
                c.launch(op)?;
                launched = true;
            }
            "exec.await" => {
                let (v, r) = (m.op(op).operands[0], m.op(op).results[0]);
                let p = *c.places.get(&v).ok_or_else(|| op_error(m, op, "awaits an undefined value"))?;
                c.places.insert(r, p);
            }
            "func.return" => returned = Some(op),
            other => {
                let msg = format!("cannot be compiled to a plan: host function @{name} holds '{other}'; host functions hold transfers, resident loads and stores, launches and awaits");
                return Err(op_error(m, op, &msg));
            }
        }
    }
    if !launched {
        return Err(op_error(m, host, &format!("function @{name} launches no kernel, so there is nothing to compile to a plan")));
    }
    let ret = returned.ok_or_else(|| op_error(m, host, &format!("function @{name} does not end with 'func.return'")))?;
    for (j, &v) in m.op(ret).operands.iter().enumerate() {
        match c.places.get(&v) {
            Some(Place::Returned(id)) => c.b.output(*id, false),
            Some(Place::Device(id)) => c.b.output(*id, true),
            _ => return Err(op_error(m, ret, &format!("result #{j} must be a value a kernel computed (transferred back to the client, or kept on its device)"))),
        }
    }
    c.order_inputs(host)?;
    let mut plan = c.b.finish().map_err(|e| format!("@{name}: {e}"))?;
    crate::buffers::plan_buffers(&mut plan);
    genie_plan::verify(&plan).map_err(|e| format!("@{name} after buffer planning: {e}"))?;
    Ok(plan)
}

impl<'m> HostCompiler<'m> {
    fn error(&self, op: OpId, msg: &str) -> String {
        op_error(self.m, op, msg)
    }

    /// The plan device for device symbol `name` (`None`: the client).
    fn device(&mut self, at: OpId, name: &'m str) -> Result<Option<u32>, String> {
        if let Some(&d) = self.devices.get(name) {
            return Ok(Some(d));
        }
        let decl = *self.decls.devices.get(name).ok_or_else(|| self.error(at, &format!("names @{name}, which is not an exec.device")))?;
        let kind = match self.m.op(decl).attr("kind").and_then(Attribute::as_str) {
            Some("client") => return Ok(None),
            Some(k) => DeviceKind::from_name(k).ok_or_else(|| self.error(decl, &format!("device kind '{k}' has no runtime backend")))?,
            None => return Err(self.error(decl, "needs a 'kind'")),
        };
        let d = self.b.device(name, kind);
        self.devices.insert(name, d);
        Ok(Some(d))
    }

    /// The plan value `v` is on `device`, awaiting it there first if it was
    /// sent from elsewhere.
    fn use_on(&mut self, at: OpId, v: ValueId, device: u32, what: &dyn Fn() -> String) -> Result<u32, String> {
        let id = match self.places.get(&v) {
            Some(Place::Device(id)) => *id,
            _ => return Err(self.error(at, &format!("{} must be on a device (transfer it there first)", what()))),
        };
        if self.b.plan_mut().values[id as usize].device != device {
            return Err(self.error(at, &format!("{} is on another device than this one", what())));
        }
        if self.pending.get_mut(&device).is_some_and(|p| p.remove(&id)) {
            self.b.await_value(device, id);
        }
        Ok(id)
    }

    fn transfer(&mut self, op: OpId) -> Result<(), String> {
        let m = self.m;
        let (from, to) = (symbol(m, op, "from")?, symbol(m, op, "to")?);
        let (from, to) = (self.device(op, from)?, self.device(op, to)?);
        let (v, r) = (m.op(op).operands[0], m.op(op).results[0]);
        let ty = match m.value_type(r) {
            Type::Future(t) => (**t).clone(),
            t => t.clone(),
        };
        let place = match (from, to, self.places.get(&v).copied()) {
            (None, Some(to), Some(Place::ClientArg(i))) => {
                if self.arg_inputs[i].is_some() {
                    return Err(self.error(op, &format!("moves argument #{i} from the client a second time; send it between devices instead")));
                }
                let id = self.b.value(to, &ty, Role::Input);
                self.arg_inputs[i] = Some(id);
                Place::Device(id)
            }
            (Some(from), None, Some(Place::Device(_))) => Place::Returned(self.use_on(op, v, from, &|| "the value it returns".into())?),
            (Some(from), Some(to), Some(Place::Device(_))) if from != to => {
                let id = self.use_on(op, v, from, &|| "the value it moves".into())?;
                let copy = self.b.send(from, id, to);
                self.pending.entry(to).or_default().insert(copy);
                Place::Device(copy)
            }
            _ => return Err(self.error(op, "moves a value from where it is not, or to where it already is")),
        };
        self.places.insert(r, place);
        Ok(())
    }

    fn resident(&self, op: OpId) -> Result<(&'m str, OpId), String> {
        let name = symbol(self.m, op, "resident")?;
        let decl = *self.decls.residents.get(name).ok_or_else(|| self.error(op, &format!("reads @{name}, which is not an exec.resident")))?;
        Ok((name, decl))
    }

    /// A plan resident for `exec.resident` `name`: constants are named by
    /// their resource handle (what the client binds), state by its symbol.
    fn plan_resident(&mut self, op: OpId, name: &'m str, decl: OpId, device: u32) -> Result<u32, String> {
        if let Some(&r) = self.residents.get(name) {
            return Ok(r);
        }
        let m = self.m;
        let d = m.op(decl);
        let ty = d.attr("type").and_then(Attribute::as_type).cloned().ok_or_else(|| self.error(decl, "needs a 'type'"))?;
        let (handle, kind) = match d.attr("init") {
            Some(Attribute::DenseResource { handle, .. }) => (handle.clone(), ResidentKind::Constant),
            Some(_) => return Err(self.error(decl, "'init' must be a dense_resource")),
            None => (name.to_string(), ResidentKind::State),
        };
        let home = self.device(decl, symbol(m, decl, "device")?)?;
        if home != Some(device) {
            return Err(self.error(op, &format!("reads @{name}, which lives on another device")));
        }
        let r = self.b.resident(handle, &ty, device, kind);
        self.residents.insert(name, r);
        Ok(r)
    }

    fn host_load(&mut self, op: OpId) -> Result<(), String> {
        let m = self.m;
        let (name, decl) = self.resident(op)?;
        let device = self.device(decl, symbol(m, decl, "device")?)?.ok_or_else(|| self.error(decl, "resident state lives on a device, not the client"))?;
        let r = m.op(op).results[0];
        let id = if m.op(decl).attr("init").is_none() && m.op(decl).attr("kind").and_then(Attribute::as_str) == Some("weight") {
            // A weight: the client binds it once, by argument position.
            let id = self.b.value(device, m.value_type(r), Role::Weight);
            let position = m.op(decl).attr("argument").and_then(Attribute::as_int);
            self.weights.push((position, name, id));
            id
        } else {
            let res = self.plan_resident(op, name, decl, device)?;
            self.b.load(device, res)
        };
        self.places.insert(r, Place::Device(id));
        Ok(())
    }

    fn host_store(&mut self, op: OpId) -> Result<(), String> {
        let m = self.m;
        let (name, decl) = self.resident(op)?;
        let device = self.device(decl, symbol(m, decl, "device")?)?.ok_or_else(|| self.error(decl, "resident state lives on a device"))?;
        let res = self.plan_resident(op, name, decl, device)?;
        let v = self.use_on(op, m.op(op).operands[0], device, &|| "the value it stores".into())?;
        self.b.store(device, res, v);
        Ok(())
    }

    /// Inlines the kernel's body into the stream of the launch's device.
    fn launch(&mut self, op: OpId) -> Result<(), String> {
        let m = self.m;
        let kernel_name = symbol(m, op, "kernel")?;
        let device = self.device(op, symbol(m, op, "device")?)?.ok_or_else(|| self.error(op, "runs a kernel on the client"))?;
        let kernel = m.function(kernel_name).ok_or_else(|| self.error(op, &format!("launches @{kernel_name}, which is not a function")))?;
        let kentry = m.entry_block(kernel).ok_or_else(|| op_error(m, kernel, &format!("kernel @{kernel_name} has no body")))?;
        let params = m.block_args(kentry);
        let args = &m.op(op).operands;
        if args.len() != params.len() {
            return Err(self.error(op, &format!("passes {} argument(s) to @{kernel_name}, which takes {}", args.len(), params.len())));
        }
        let mut local: HashMap<ValueId, u32> = HashMap::new();
        for (i, (&a, &p)) in args.iter().zip(params).enumerate() {
            let id = self.use_on(op, a, device, &|| format!("argument #{i} of the launch of @{kernel_name}"))?;
            local.insert(p, id);
        }
        let mut results = None;
        for kop in m.block_ops(kentry) {
            let data = m.op(kop);
            // Errors at load or run time name where in the program an
            // instruction came from.
            let loc = (!data.loc.is_unknown()).then(|| data.loc.to_string());
            self.b.set_location(loc.as_deref());
            let operands = data
                .operands
                .iter()
                .map(|v| local.get(v).copied().ok_or_else(|| op_error(m, kop, "uses a value from outside its kernel")))
                .collect::<Result<Vec<u32>, String>>()?;
            match data.name() {
                "func.return" => {
                    results = Some(operands);
                    continue;
                }
                "exec.resident_load" => {
                    let (name, decl) = self.resident(kop)?;
                    if m.op(decl).attr("init").is_none() && m.op(decl).attr("kind").and_then(Attribute::as_str) == Some("weight") {
                        let msg = "reads a weight inside a kernel; a plan takes weights as kernel arguments";
                        return Err(op_error(m, kop, msg));
                    }
                    let res = self.plan_resident(kop, name, decl, device)?;
                    local.insert(data.results[0], self.b.load(device, res));
                    continue;
                }
                _ => {}
            }
            if !data.regions.is_empty() {
                return Err(op_error(m, kop, "has regions; plans hold flat graphs"));
            }
            let Some(code) = data.def.code else {
                return Err(op_error(m, kop, &format!("cannot run inside a kernel: '{}' is not a kernel op", data.name())));
            };
            let ids = data
                .results
                .iter()
                .map(|&r| match m.value_type(r) {
                    t @ (Type::Tensor(_) | Type::Scalar(_) | Type::None) => Ok(self.b.value(device, t, Role::Temporary)),
                    t => Err(op_error(m, kop, &format!("produces a value of type {t}, which plans cannot hold"))),
                })
                .collect::<Result<Vec<u32>, String>>()?;
            for (&r, &id) in data.results.iter().zip(&ids) {
                local.insert(r, id);
            }
            self.b.call_into(device, code, operands, ids, &kernel_attrs(&data.attrs));
        }
        self.b.set_location(None);
        let results = results.ok_or_else(|| op_error(m, kernel, &format!("kernel @{kernel_name} does not end with 'func.return'")))?;
        let outs = &m.op(op).results;
        if outs.len() != results.len() {
            return Err(self.error(op, &format!("has {} result(s), but @{kernel_name} returns {}", outs.len(), results.len())));
        }
        for (&r, id) in outs.iter().zip(results) {
            self.places.insert(r, Place::Device(id));
        }
        Ok(())
    }

    /// Inputs in the graph's argument order: weights where their
    /// `argument` says, the host's arguments in the remaining positions.
    fn order_inputs(&mut self, host: OpId) -> Result<(), String> {
        let n = self.arg_inputs.len() + self.weights.len();
        let mut slots: Vec<Option<u32>> = vec![None; n];
        let mut unplaced = Vec::new();
        for &(pos, name, id) in &self.weights {
            match pos.and_then(|p| usize::try_from(p).ok()).filter(|&p| p < n) {
                Some(p) if slots[p].is_none() => slots[p] = Some(id),
                Some(p) => return Err(self.error(host, &format!("two weights (one is @{name}) claim argument {p}"))),
                None if pos.is_some() => return Err(self.error(host, &format!("weight @{name} claims argument {pos:?} of {n}"))),
                None => unplaced.push(id),
            }
        }
        let mut rest = self.arg_inputs.iter().enumerate();
        let mut unplaced = unplaced.into_iter();
        for slot in slots.iter_mut().filter(|s| s.is_none()) {
            match rest.next() {
                Some((_, Some(id))) => *slot = Some(*id),
                Some((i, None)) => return Err(self.error(host, &format!("argument #{i} never reaches a device"))),
                None => *slot = unplaced.next(),
            }
        }
        let inputs: Vec<u32> = slots.into_iter().flatten().collect();
        self.b.plan_mut().inputs = inputs;
        Ok(())
    }
}

/// What a kernel needs of an op's attributes: its own, not the semantic
/// annotations (module paths, roles) the compiler keeps for itself.
fn kernel_attrs(attrs: &AttrDict) -> AttrDict {
    if !attrs.iter().any(|(k, _)| k.starts_with("sem.")) {
        return attrs.clone();
    }
    let mut out = AttrDict::new();
    for (k, v) in attrs.iter().filter(|(k, _)| !k.starts_with("sem.")) {
        out.set(genie_ir::dialects::known_attr_name(k).map_or_else(|| std::borrow::Cow::Owned(k.to_string()), std::borrow::Cow::Borrowed), v.clone());
    }
    out
}
