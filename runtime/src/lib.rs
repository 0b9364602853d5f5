//! Genie's runtime: executes plans (`genie-plan`) through a small HAL.
//!
//! [`Executable::load`] checks a decoded plan against the devices that will
//! run it and resolves every kernel call to a kernel once, by opcode, so a
//! plan the devices cannot run is refused before anything runs (the caller
//! can then fall back to eager PyTorch). Constants are bound once, by
//! resource handle, with [`Executable::bind`] (by reference when they come
//! from torch). [`Executable::run`] binds the shape symbols from the inputs,
//! checks every input against the plan's types, then walks the devices'
//! instruction streams together — each runs until it waits for a value
//! another device sends — dropping each value after its last use. Results
//! that the plan gives a buffer live in that buffer of the run's arena
//! (one per concurrent run, reused across calls; a buffer still referenced
//! by a live tensor is never written — the run takes fresh memory instead).
//!
//! Devices come from the HAL ([`hal`]): the CPU backend by default.
//! Tensors are immutable and shared: views and same-type copies cost
//! nothing. An output that shares memory with an input or a constant is
//! copied on the way out, so callers never receive an alias they did not
//! ask for. Training runs too: aot_autograd's backward graphs use the
//! kernels in [`backward`].

pub mod append;
pub mod backward;
pub mod calibrate;
pub mod conformance;
pub mod elementwise;
pub mod encoder_layer;
pub mod hal;
pub mod kernels;
pub mod linalg;
pub mod memory;
pub mod tensor;
mod winograd;

pub use genie_plan as plan;
use genie_plan::{AttrDict, Dim, Instr, Op, Plan, ResidentKind, TensorType, Type};
pub use hal::{Allocator, Cpu, Device, Queue};
use kernels::{BufferSlot, Ctx, Kernel, SymEnv};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use tensor::{Elem, Storage, Tensor, Value};

/// Tensors of a few MiB are allocated and freed on every call (a decode
/// step's KV cache grows by a row: 24 fresh 3 MiB buffers per GPT-2 step).
/// glibc serves such sizes with mmap and returns them to the kernel on free,
/// so every call faults its pages in again — at 1,024 tokens of context that
/// cost more than the attention itself. Raising the mmap threshold to its
/// 32 MiB maximum and the trim threshold to 1 GiB keeps freed buffers in the
/// heap for the next call (what PyTorch's eager allocations get from glibc's
/// own dynamic threshold). Process-wide, once; glibc only;
/// `GENIE_MALLOC_TUNING=0` opts out.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            if std::env::var_os("GENIE_MALLOC_TUNING").is_some_and(|v| v == "0") {
                return;
            }
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

/// One instruction, resolved at load.
enum Step {
    Call {
        op: Op,
        kernel: Kernel,
        operands: Vec<u32>,
        results: Vec<u32>,
        /// Index into [`Executable::attrs`].
        attrs: usize,
        result_types: Vec<Type>,
        /// Per result: nothing reads it (a kernel may skip it).
        unused: Vec<bool>,
        /// Per result: its buffer in the plan's buffer table.
        buffers: Vec<Option<u32>>,
    },
    Load { resident: u32, result: u32 },
    Store { resident: u32, value: u32 },
    Send { value: u32, result: u32 },
    Await { value: u32 },
}

/// A plan loaded on its devices.
pub struct Executable {
    plan: Plan,
    /// Per plan device.
    devices: Vec<Arc<dyn Device>>,
    /// Per device: its stream, resolved; and per instruction the values
    /// whose last use it is.
    streams: Vec<Vec<(Step, Vec<u32>)>>,
    attrs: Vec<AttrDict>,
    /// Per resident: bound data (constants) or the current value (state).
    residents: Mutex<Vec<Option<Tensor>>>,
    /// Residents by name (a constant's resource handle).
    handles: HashMap<String, u32>,
    /// Arenas of finished runs, reused by the next ones.
    frames: Mutex<Vec<Vec<Option<Arc<Storage>>>>>,
    /// Per-op call counts and time, when profiling is on.
    profile: Option<Mutex<HashMap<Op, (u64, Duration)>>>,
    /// Every instruction, (stream, index), in the order the streams run
    /// (the interpreter's, and the memory account's).
    order: Vec<(usize, usize)>,
    /// The types a run's memory is counted by.
    accounting: memory::Accounting,
    /// Per value: made by a kernel that is not a view (so never an alias
    /// of an input or a constant).
    made_fresh: Vec<bool>,
}

impl Executable {
    /// Loads `plan` with every device on the host CPU.
    pub fn load(plan: Plan) -> Result<Executable, String> {
        Executable::load_on(plan, &|d: &genie_plan::Device| match d.kind {
            genie_plan::DeviceKind::Cpu => Ok(Cpu::shared() as Arc<dyn Device>),
            kind => Err(format!("device @{} is a {} device, and this runtime has no {} backend", d.name, kind.name(), kind.name())),
        })
    }

    /// Loads `plan` with the device `resolve` gives for each entry of its
    /// device table; resolves every kernel, failing on the first call a
    /// device cannot run (naming the op and where it is).
    pub fn load_on(plan: Plan, resolve: &dyn Fn(&genie_plan::Device) -> Result<Arc<dyn Device>, String>) -> Result<Executable, String> {
        keep_freed_buffers();
        genie_plan::verify(&plan).map_err(|e| e.to_string())?;
        let devices = plan.devices.iter().map(resolve).collect::<Result<Vec<_>, _>>()?;
        // Last read of every value, per stream: it is dropped after that.
        let mut last: Vec<Option<(usize, usize)>> = vec![None; plan.values.len()];
        for (d, stream) in plan.streams.iter().enumerate() {
            for (pc, ins) in stream.iter().enumerate() {
                for &o in ins.reads() {
                    last[o as usize] = Some((d, pc));
                }
            }
        }
        let is_output = {
            let mut v = vec![false; plan.values.len()];
            plan.outputs.iter().for_each(|o| v[o.value as usize] = true);
            v
        };
        let mut streams = Vec::with_capacity(plan.streams.len());
        for (d, stream) in plan.streams.iter().enumerate() {
            let mut steps = Vec::with_capacity(stream.len());
            for (pc, ins) in stream.iter().enumerate() {
                let step = match ins {
                    Instr::Call { op, operands, results, attrs } => {
                        let a = &plan.attrs[*attrs as usize];
                        let kernel = devices[d].kernel(*op, a).map_err(|e| match plan.location(d, pc) {
                            Some(at) => format!("{e} (at {at})"),
                            None => format!("stream #{d} instruction {pc}: {e}"),
                        })?;
                        Step::Call {
                            op: *op,
                            kernel,
                            operands: operands.clone(),
                            results: results.clone(),
                            attrs: *attrs as usize,
                            result_types: results.iter().map(|&r| plan.value_type(r).clone()).collect(),
                            unused: results.iter().map(|&r| last[r as usize].is_none() && !is_output[r as usize]).collect(),
                            buffers: results.iter().map(|&r| plan.values[r as usize].buffer).collect(),
                        }
                    }
                    Instr::Load { resident, result } => Step::Load { resident: *resident, result: *result },
                    Instr::Store { resident, value } => Step::Store { resident: *resident, value: *value },
                    Instr::Send { value, result } => Step::Send { value: *value, result: *result },
                    Instr::Await { value } => Step::Await { value: *value },
                };
                steps.push((step, Vec::new()));
            }
            streams.push(steps);
        }
        for (v, l) in last.into_iter().enumerate() {
            if let Some((d, pc)) = l {
                if !is_output[v] {
                    streams[d][pc].1.push(v as u32);
                }
            }
        }
        let handles = plan.residents.iter().enumerate().map(|(i, r)| (r.name.clone(), i as u32)).collect();
        let order = memory::walk_order(&plan);
        if order.len() != plan.num_instructions() {
            return Err("the plan's streams wait for each other (a plan the verifier should have refused)".into());
        }
        let accounting = memory::Accounting::of(&plan, &order);
        let mut made_fresh = vec![false; plan.values.len()];
        for ins in plan.streams.iter().flatten() {
            if let Instr::Call { op, results, .. } = ins {
                if !op.def().is_view() {
                    results.iter().for_each(|&r| made_fresh[r as usize] = true);
                }
            }
        }
        Ok(Executable {
            made_fresh,
            order,
            accounting,
            residents: Mutex::new(vec![None; plan.residents.len()]),
            attrs: plan.attrs.clone(),
            plan,
            devices,
            streams,
            handles,
            frames: Mutex::new(Vec::new()),
            profile: None,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Handles of the constants the plan reads, with their types.
    pub fn constant_handles(&self) -> impl Iterator<Item = (&str, &TensorType)> {
        self.plan
            .residents
            .iter()
            .filter(|r| r.kind == ResidentKind::Constant)
            .filter_map(|r| self.plan.types[r.ty as usize].as_tensor().map(|t| (r.name.as_str(), t)))
    }

    /// Whether the plan keeps state between calls (so runs of it are not
    /// independent and it must not be shared between clients).
    pub fn has_state(&self) -> bool {
        self.plan.residents.iter().any(|r| r.kind == ResidentKind::State)
    }

    /// Binds the data of constant `handle` (or the initial value of state
    /// `handle`); checks it against the plan's type.
    pub fn bind(&mut self, handle: &str, t: Tensor) -> Result<(), String> {
        let &r = self.handles.get(handle).ok_or_else(|| format!("the plan has no constant or state '{handle}'"))?;
        let res = &self.plan.residents[r as usize];
        let ty = &self.plan.types[res.ty as usize];
        let want: Option<Vec<usize>> = ty.as_tensor().map(|tt| tt.dims.iter().filter_map(|d| d.as_static()).map(|d| d as usize).collect());
        if want.as_deref() != Some(t.shape.as_slice()) || ty.as_tensor().map(|tt| tt.dtype) != Some(t.dtype()) {
            return Err(format!("resource '{handle}' is {:?} {}, the plan expects {ty}", t.shape, t.dtype()));
        }
        let t = self.devices[res.device as usize].import(t)?;
        self.residents.get_mut().map_err(|_| "poisoned")?[r as usize] = Some(t);
        Ok(())
    }

    /// Turns per-op timing on (or off, dropping what was recorded).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| Mutex::new(HashMap::new()));
    }

    /// Per op: (calls, total time), slowest first; empty unless profiling.
    pub fn profile(&self) -> Vec<(String, u64, Duration)> {
        let Some(p) = &self.profile else { return vec![] };
        let mut v: Vec<_> = p.lock().map(|m| m.iter().map(|(k, &(n, t))| (k.name().to_string(), n, t)).collect()).unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.2));
        v
    }

    /// Runs the plan on `inputs` (the plan's inputs, in order).
    pub fn run(&self, inputs: Vec<Value>) -> Result<Vec<Value>, String> {
        self.run_stoppable(inputs, &|| false)
    }

    /// [`Executable::run`], asking `stop` before every instruction whether
    /// to give up (a deadline passed, the caller cancelled): then the run
    /// ends with an error naming the instruction it stopped before, and
    /// nothing it made is kept (state included).
    pub fn run_stoppable(&self, inputs: Vec<Value>, stop: &dyn Fn() -> bool) -> Result<Vec<Value>, String> {
        let plan = &self.plan;
        let env = self.bind_inputs(&inputs)?;
        let mut slots: Vec<Option<Value>> = vec![None; plan.values.len()];
        // Memory the caller owns: outputs must not alias it. Held (not just
        // its address) until the run ends: an address freed mid-run could
        // come back as a new buffer's and be taken for the caller's.
        let mut borrowed: Vec<Arc<Storage>> = vec![];
        for (i, (v, &id)) in inputs.into_iter().zip(&plan.inputs).enumerate() {
            let v = match v {
                Value::Tensor(t) => {
                    // (An append buffer passed back, a KV cache, may be
                    // shared: no view of it ever changes.)
                    if !t.storage().is_append_buffer() {
                        borrowed.push(t.storage().clone());
                    }
                    let device = &self.devices[plan.values[id as usize].device as usize];
                    Value::Tensor(device.import(t).map_err(|e| format!("input #{i}: {e}"))?)
                }
                v => v,
            };
            slots[id as usize] = Some(v);
        }
        let residents = self.residents.lock().map_err(|_| "a previous run panicked")?.clone();
        borrowed.extend(residents.iter().flatten().map(|t| t.storage().clone()));
        let mut frame = self.frames.lock().ok().and_then(|mut f| f.pop()).unwrap_or_else(|| vec![None; plan.buffers.len()]);
        let mut state = residents;
        let result = self.walk(&mut slots, &mut frame, &mut state, &env, stop);
        if let Ok(mut f) = self.frames.lock() {
            f.push(frame);
        }
        result?;
        if self.has_state() {
            if let Ok(mut r) = self.residents.lock() {
                for (i, res) in plan.residents.iter().enumerate() {
                    if res.kind == ResidentKind::State {
                        r[i] = state[i].take();
                    }
                }
            }
        }
        plan.outputs
            .iter()
            .map(|o| {
                let device = &self.devices[plan.values[o.value as usize].device as usize];
                match slots[o.value as usize].clone() {
                    Some(Value::Tensor(t)) if borrowed.iter().any(|b| Arc::ptr_eq(b, t.storage())) => Ok(Value::Tensor(t.copied())),
                    Some(Value::Tensor(t)) => device.export(t).map(Value::Tensor),
                    Some(v) => Ok(v),
                    None => Err(format!("output %{} was not computed", o.value)),
                }
            })
            .collect()
    }

    /// Checks the inputs against the plan's types; the sizes they bind.
    fn bind_inputs(&self, inputs: &[Value]) -> Result<SymEnv, String> {
        let plan = &self.plan;
        if inputs.len() != plan.inputs.len() {
            return Err(format!("plan @{} takes {} inputs, got {}", plan.name, plan.inputs.len(), inputs.len()));
        }
        let mut env = SymEnv::new();
        for (i, (v, &id)) in inputs.iter().zip(&plan.inputs).enumerate() {
            bind(plan.value_type(id), v, &mut env).map_err(|e| format!("input #{i}: {e}"))?;
        }
        Ok(env)
    }

    /// The most memory a run on `inputs` holds at once in the values its
    /// kernels make and their scratch (views and inputs not counted; every
    /// stream's peak added, as streams overlap), before anything runs, so
    /// that a caller with a memory limit can refuse it rather than run out.
    /// Sizes come from the shape rules, not from the plan's word
    /// ([`memory`]).
    pub fn memory_needed(&self, inputs: &[Value]) -> Result<MemoryNeed, String> {
        let env = self.bind_inputs(inputs)?;
        let concrete;
        let types: &[Type] = if self.accounting.closed {
            &self.accounting.types
        } else {
            let input_types = inputs.iter().zip(&self.plan.inputs).map(|(v, &id)| match v {
                Value::Tensor(t) => Type::tensor(t.shape.iter().map(|&n| Dim::Static(n as i64)).collect::<Vec<_>>(), t.dtype()),
                _ => self.plan.value_type(id).clone(),
            });
            let loads: Vec<Option<Type>> = self
                .residents
                .lock()
                .map_err(|_| "a previous run panicked")?
                .iter()
                .map(|r| r.as_ref().map(|t| Type::tensor(t.shape.iter().map(|&n| Dim::Static(n as i64)).collect::<Vec<_>>(), t.dtype())))
                .collect();
            concrete = memory::Accounting::concrete(&self.plan, &self.order, input_types.collect(), &loads, &env).map_err(|(d, pc, e)| format!("{}: {e}", self.describe(d, pc)))?;
            &concrete
        };
        let too_big = |d: usize, pc: usize, ty: &Type| format!("{}: a result of type {ty} has more bytes than a 64-bit size holds", self.describe(d, pc));
        let mut need = MemoryNeed::default();
        let mut held = vec![0u64; self.plan.values.len()];
        for (d, stream) in self.streams.iter().enumerate() {
            let mut live = 0u64;
            let mut peak = 0u64;
            for (pc, (step, frees)) in stream.iter().enumerate() {
                if let Step::Call { op, operands, results, attrs, .. } = step {
                    if !op.def().is_view() {
                        for &r in results {
                            let ty = &types[r as usize];
                            let bytes = memory::type_bytes(ty, &env).ok_or_else(|| too_big(d, pc, ty))?;
                            held[r as usize] = bytes;
                            live = live.saturating_add(bytes);
                            if bytes > need.largest {
                                need.largest = bytes;
                                need.largest_at = (d, pc);
                            }
                        }
                        let of = |vs: &[u32]| vs.iter().map(|&v| &types[v as usize]).collect::<Vec<_>>();
                        let scratch = self.devices[d].scratch(*op, &self.attrs[*attrs], &of(operands), &of(results), &env);
                        peak = peak.max(live.saturating_add(scratch));
                    }
                }
                peak = peak.max(live);
                for &f in frees {
                    live = live.saturating_sub(std::mem::take(&mut held[f as usize]));
                }
            }
            need.peak = need.peak.saturating_add(peak);
        }
        // An output that may share memory with an input or a constant (a
        // view's, an input's, a load's) is copied on the way out.
        let copied = self.plan.outputs.iter().filter(|o| !self.made_fresh[o.value as usize]).map(|o| memory::type_bytes(&types[o.value as usize], &env).unwrap_or(u64::MAX));
        need.peak = copied.fold(need.peak, u64::saturating_add);
        Ok(need)
    }

    /// Whether every size a run allocates follows from the symbols its
    /// inputs bind, so [`Executable::memory_needed`] needs no shape
    /// inference per run.
    pub fn sizes_follow_inputs(&self) -> bool {
        self.accounting.closed
    }

    /// Instruction `pc` of stream `d` for a message: "stream #0 instruction
    /// 3 ('sem.add' at model.py:12)".
    pub fn describe(&self, d: usize, pc: usize) -> String {
        let op = match self.streams.get(d).and_then(|s| s.get(pc)) {
            Some((Step::Call { op, .. }, _)) => op.name(),
            Some((Step::Load { .. }, _)) => "load",
            Some((Step::Store { .. }, _)) => "store",
            Some((Step::Send { .. }, _)) => "send",
            Some((Step::Await { .. }, _)) => "await",
            None => "?",
        };
        let at = self.plan.location(d, pc).map(|l| format!(" at {l}")).unwrap_or_default();
        format!("stream #{d} instruction {pc} ('{op}'{at})")
    }

    /// Runs every stream until each has finished: a stream runs until it
    /// awaits a value not yet sent, then the next one takes over.
    fn walk(&self, slots: &mut [Option<Value>], frame: &mut [Option<Arc<Storage>>], state: &mut [Option<Tensor>], env: &SymEnv, stop: &dyn Fn() -> bool) -> Result<(), String> {
        // In the order found at load: each stream runs until it awaits a
        // value not yet sent, then the next one takes over.
        for &(d, pc) in &self.order {
            if stop() {
                return Err(format!("{STOPPED} before {} ({} instructions in all)", self.describe(d, pc), self.plan.num_instructions()));
            }
            let (step, frees) = &self.streams[d][pc];
            self.step(d, pc, step, slots, frame, state, env)?;
            for &f in frees {
                slots[f as usize] = None;
            }
        }
        for device in &self.devices {
            device.queue().finish()?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        d: usize,
        pc: usize,
        step: &Step,
        slots: &mut [Option<Value>],
        frame: &mut [Option<Arc<Storage>>],
        state: &mut [Option<Tensor>],
        env: &SymEnv,
    ) -> Result<(), String> {
        let take = |slots: &[Option<Value>], v: u32, what: &str| slots[v as usize].clone().ok_or_else(|| format!("stream #{d} instruction {pc} ({what}): value %{v} is not available"));
        match step {
            Step::Call { op, kernel, operands, results, attrs, result_types, unused, buffers } => {
                let args: Vec<Value> = operands.iter().map(|&o| take(slots, o, op.name())).collect::<Result<_, _>>()?;
                let prepared = self.prepare_buffers(d, buffers, frame)?;
                let ctx = Ctx { op: *op, attrs: &self.attrs[*attrs], results: result_types, unused, env, buffers: &prepared };
                let start = self.profile.as_ref().map(|_| Instant::now());
                let outs = self.devices[d].queue().dispatch(*kernel, &ctx, &args).map_err(|e| format!("{}: {e}", self.describe(d, pc)))?;
                if let (Some(p), Some(t)) = (&self.profile, start) {
                    if let Ok(mut m) = p.lock() {
                        let e = m.entry(*op).or_default();
                        e.0 += 1;
                        e.1 += t.elapsed();
                    }
                }
                if outs.len() != results.len() {
                    return Err(format!("stream #{d} instruction {pc} ('{op}') produced {} values for {} results", outs.len(), results.len()));
                }
                // The arena keeps each planned buffer: the one the kernel
                // wrote (shared with its result), or the one it left.
                for ((slot, b), out) in prepared.into_iter().zip(buffers).zip(&outs) {
                    let (Some(b), Ok(left)) = (b, slot.into_inner()) else { continue };
                    frame[*b as usize] = match (left, out) {
                        (Some(unused), _) => Some(unused),
                        (None, Value::Tensor(t)) => Some(t.storage().clone()),
                        (None, _) => None,
                    };
                }
                for (&r, v) in results.iter().zip(outs) {
                    slots[r as usize] = Some(v);
                }
            }
            Step::Load { resident, result } => {
                let t = state[*resident as usize].clone().ok_or_else(|| {
                    let r = &self.plan.residents[*resident as usize];
                    match r.kind {
                        ResidentKind::Constant => format!("no data bound for resource '{}'", r.name),
                        ResidentKind::State => format!("resident state '{}' is read before any call stored it", r.name),
                    }
                })?;
                slots[*result as usize] = Some(Value::Tensor(t));
            }
            Step::Store { resident, value } => match take(slots, *value, "store")? {
                Value::Tensor(t) => state[*resident as usize] = Some(t),
                other => return Err(format!("stream #{d} instruction {pc} (store): {other:?} is not a tensor")),
            },
            Step::Send { value, result } => {
                let to = &self.devices[self.plan.values[*result as usize].device as usize];
                let v = match take(slots, *value, "send")? {
                    Value::Tensor(t) => Value::Tensor(to.import(self.devices[d].export(t)?)?),
                    v => v,
                };
                slots[*result as usize] = Some(v);
            }
            Step::Await { .. } => {}
        }
        Ok(())
    }

    /// The planned buffers of a call's results: each the run's arena buffer
    /// when no live tensor still references it, else fresh memory in its
    /// place (the old memory belongs to whoever holds it).
    fn prepare_buffers(&self, d: usize, buffers: &[Option<u32>], frame: &mut [Option<Arc<Storage>>]) -> Result<Vec<BufferSlot>, String> {
        if buffers.iter().all(Option::is_none) {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(buffers.len());
        for b in buffers {
            let slot = match b {
                None => None,
                Some(b) => {
                    let free = match frame[*b as usize].take() {
                        Some(s) if Arc::strong_count(&s) == 1 => s,
                        _ => Arc::new(self.devices[d].allocator().allocate(self.plan.buffers[*b as usize].size as usize)?),
                    };
                    Some(free)
                }
            };
            out.push(Mutex::new(slot));
        }
        Ok(out)
    }
}

/// How the error of a run that `stop` ended begins.
pub const STOPPED: &str = "stopped";

/// What [`Executable::memory_needed`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryNeed {
    /// Bytes held at once, at most.
    pub peak: u64,
    /// The largest single result, and the instruction that makes it
    /// (stream, index; [`Executable::describe`] names it).
    pub largest: u64,
    pub largest_at: (usize, usize),
}

/// Checks an input against its plan type and binds its symbolic dims.
fn bind(ty: &Type, v: &Value, env: &mut SymEnv) -> Result<(), String> {
    match (ty, v) {
        (Type::Tensor(tt), Value::Tensor(t)) => {
            if tt.dtype != t.dtype() {
                return Err(format!("expected {ty}, got a {} tensor", t.dtype()));
            }
            if tt.dims.len() != t.shape.len() {
                return Err(format!("expected {ty}, got shape {:?}", t.shape));
            }
            for (d, &n) in tt.dims.iter().zip(&t.shape) {
                match *d {
                    Dim::Static(s) if s as usize != n => return Err(format!("expected {ty}, got shape {:?}", t.shape)),
                    Dim::Sym(s) => {
                        if let Some(&prev) = env.get(&s) {
                            if prev as usize != n {
                                return Err(format!("symbol s{s} is {prev} elsewhere but {n} here"));
                            }
                        }
                        env.insert(s, n as i64);
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        (Type::Scalar(_), Value::Int(_) | Value::Float(_) | Value::Bool(_)) | (Type::None, Value::None) => Ok(()),
        (ty, v) => Err(format!("expected {ty}, got {v:?}")),
    }
}
