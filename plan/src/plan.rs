//! The in-memory plan: what the bytecode encodes and the runtime executes.
//!
//! A plan is one captured graph placed on one or more devices. Every value
//! has a type, a role, the device it lives on and, for temporaries of static
//! size, a buffer of that device's arena (the buffer planner shares buffers
//! between temporaries whose lifetimes do not overlap). Each device runs its
//! own instruction stream: kernel calls named by [`Op`], loads and stores of
//! resident state, and transfers between devices (a [`Instr::Send`] in the
//! sender's stream starts one; an [`Instr::Await`] in the receiver's stream
//! waits for it before the first use). Values cross from and to the client
//! through the plan's `inputs` and `outputs` tables; each output says whether
//! it comes back or stays on its device as a handle — the compiler's
//! residency decision.

use genie_ops::{AttrDict, Op, Type};
use std::fmt;

/// What a value is to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Passed in on every call.
    Input,
    /// Passed in, but the same on every call (weights, embedding tables):
    /// resident on its device, bound once.
    Weight,
    /// Read from resident state (a constant, a KV cache) by [`Instr::Load`].
    Resident,
    /// Produced and consumed inside the plan.
    Temporary,
    /// Returned to the caller (or kept for it, see [`Output::keep`]).
    Output,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Input, Role::Weight, Role::Resident, Role::Temporary, Role::Output];

    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Weight => "weight",
            Role::Resident => "resident",
            Role::Temporary => "temp",
            Role::Output => "output",
        }
    }

    pub fn code(self) -> u8 {
        Role::ALL.iter().position(|r| *r == self).expect("listed") as u8
    }

    pub fn from_code(c: u8) -> Option<Role> {
        Role::ALL.get(c as usize).copied()
    }
}

/// What kind of machine runs a device's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 2] = [DeviceKind::Cpu, DeviceKind::Cuda];

    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }

    pub fn from_name(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// An entry of the device table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The target's name for it (`dev0`, `gpu1`): messages use it.
    pub name: String,
    pub kind: DeviceKind,
    /// Bytes of this device's temporary arena (the largest buffer end).
    pub arena_size: u64,
}

/// A region of a device's temporary arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub device: u32,
    pub offset: u64,
    pub size: u64,
}

/// What resident state holds, and so who fills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResidentKind {
    /// Data known by handle (a lifted constant): the client binds it once.
    Constant,
    /// State the plan itself writes ([`Instr::Store`]) and later calls read.
    State,
}

impl ResidentKind {
    pub const ALL: [ResidentKind; 2] = [ResidentKind::Constant, ResidentKind::State];

    pub fn name(self) -> &'static str {
        match self {
            ResidentKind::Constant => "constant",
            ResidentKind::State => "state",
        }
    }
}

/// State kept on a device across calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    /// The handle the client binds it by (a constant's resource name).
    pub name: String,
    /// Index into [`Plan::types`].
    pub ty: u32,
    pub device: u32,
    pub kind: ResidentKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    /// Index into [`Plan::types`].
    pub ty: u32,
    pub role: Role,
    /// The device whose stream defines and reads it.
    pub device: u32,
    /// Buffer holding the value, for temporaries of static size.
    pub buffer: Option<u32>,
}

/// A plan result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub value: u32,
    /// Stays on its device as a handle the client can pass to later calls
    /// or fetch; otherwise it comes back with the reply. Where the runtime
    /// is embedded both are the same.
    pub keep: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// Runs kernel `op` on the stream's device.
    Call {
        op: Op,
        operands: Vec<u32>,
        results: Vec<u32>,
        /// Index into [`Plan::attrs`].
        attrs: u32,
    },
    /// `result` = the current contents of resident `resident`.
    Load { resident: u32, result: u32 },
    /// Resident `resident` = `value` (read by later calls).
    Store { resident: u32, value: u32 },
    /// Starts copying `value` to the device `result` lives on; the copy is
    /// `result`, available there after its [`Instr::Await`].
    Send { value: u32, result: u32 },
    /// Waits until `value`, sent from another device, has arrived.
    Await { value: u32 },
}

impl Instr {
    pub fn name(&self) -> &'static str {
        match self {
            Instr::Call { op, .. } => op.name(),
            Instr::Load { .. } => "load",
            Instr::Store { .. } => "store",
            Instr::Send { .. } => "send",
            Instr::Await { .. } => "await",
        }
    }

    /// Values the instruction reads on its own device.
    pub fn reads(&self) -> &[u32] {
        match self {
            Instr::Call { operands, .. } => operands,
            Instr::Store { value, .. } | Instr::Send { value, .. } => std::slice::from_ref(value),
            Instr::Load { .. } | Instr::Await { .. } => &[],
        }
    }

    /// Values the instruction defines on its own device.
    pub fn defines(&self) -> &[u32] {
        match self {
            Instr::Call { results, .. } => results,
            Instr::Load { result, .. } => std::slice::from_ref(result),
            Instr::Await { value } => std::slice::from_ref(value),
            Instr::Store { .. } | Instr::Send { .. } => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Plan {
    pub name: String,
    /// Stream `i` runs on device `i`.
    pub devices: Vec<Device>,
    pub types: Vec<Type>,
    /// Attribute dictionaries, shared by the instructions naming them.
    pub attrs: Vec<AttrDict>,
    pub values: Vec<ValueInfo>,
    pub buffers: Vec<Buffer>,
    pub residents: Vec<Resident>,
    /// Values the client passes, in argument order (roles input or weight).
    pub inputs: Vec<u32>,
    pub outputs: Vec<Output>,
    /// One instruction stream per device.
    pub streams: Vec<Vec<Instr>>,
    /// Debug information: per stream, per instruction, where in the
    /// program it came from (an index into `locations`, or [`NO_LOCATION`]);
    /// empty when the plan carries none. Errors name it.
    pub instr_locations: Vec<Vec<u32>>,
    /// Source locations (`module 'transformer.h.0.attn' (modeling_gpt2.py:212:0)`).
    pub locations: Vec<String>,
    /// Most bytes of static-size temporaries alive at once (all devices).
    pub peak_temp_bytes: u64,
    /// Bytes temporaries would take without buffer reuse.
    pub unshared_temp_bytes: u64,
}

/// An instruction without a recorded location.
pub const NO_LOCATION: u32 = u32::MAX;

impl Plan {
    /// Where instruction `pc` of stream `stream` came from, if recorded.
    pub fn location(&self, stream: usize, pc: usize) -> Option<&str> {
        let l = *self.instr_locations.get(stream)?.get(pc)?;
        self.locations.get(l as usize).map(String::as_str)
    }

    pub fn value_type(&self, v: u32) -> &Type {
        &self.types[self.values[v as usize].ty as usize]
    }

    /// Instructions over all streams.
    pub fn num_instructions(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
    }

    /// Every kernel call, with its stream.
    pub fn calls(&self) -> impl Iterator<Item = (usize, &Instr)> {
        self.streams.iter().enumerate().flat_map(|(d, s)| s.iter().map(move |i| (d, i))).filter(|(_, i)| matches!(i, Instr::Call { .. }))
    }
}

/// Exact bytes, with a rounded binary unit when large: `4352 B (4.2 KiB)`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = None;
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = Some(u);
    }
    match unit {
        Some(u) => format!("{n} B ({v:.1} {u})"),
        None => format!("{n} B"),
    }
}

fn list(ids: &[u32]) -> String {
    ids.iter().map(|i| format!("%{i}")).collect::<Vec<_>>().join(", ")
}

/// The disassembly: a stable text form for golden tests.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
        writeln!(
            f,
            "plan @{} v{}.{}: {}, {}, {}, {}",
            self.name,
            crate::bytecode::VERSION_MAJOR,
            crate::bytecode::VERSION_MINOR,
            plural(self.devices.len(), "device"),
            plural(self.inputs.len(), "input"),
            plural(self.outputs.len(), "output"),
            plural(self.num_instructions(), "instruction")
        )?;
        writeln!(
            f,
            "memory: peak temporaries {} (without reuse {}), {}",
            human_bytes(self.peak_temp_bytes),
            human_bytes(self.unshared_temp_bytes),
            plural(self.buffers.len(), "buffer")
        )?;
        writeln!(f, "devices:")?;
        for (i, d) in self.devices.iter().enumerate() {
            writeln!(f, "  #{i} @{} {}, arena {}", d.name, d.kind.name(), human_bytes(d.arena_size))?;
        }
        let ty = |t: u32| self.types.get(t as usize).map_or("<bad type>".to_string(), |t| t.to_string());
        if !self.residents.is_empty() {
            writeln!(f, "residents:")?;
            for (i, r) in self.residents.iter().enumerate() {
                writeln!(f, "  @{i} {:<8} {} {} on #{}", r.kind.name(), r.name, ty(r.ty), r.device)?;
            }
        }
        writeln!(f, "values:")?;
        for (i, v) in self.values.iter().enumerate() {
            let buf = match v.buffer.and_then(|b| self.buffers.get(b as usize).map(|x| (b, x))) {
                Some((b, x)) => format!("  buf{b}[{}+{}]", x.offset, x.size),
                None => String::new(),
            };
            let dev = if self.devices.len() > 1 { format!(" #{}", v.device) } else { String::new() };
            writeln!(f, "  %{i:<4} {:<8} {}{dev}{buf}", v.role.name(), ty(v.ty))?;
        }
        writeln!(f, "inputs: ({})", list(&self.inputs))?;
        for (d, stream) in self.streams.iter().enumerate() {
            let name = self.devices.get(d).map_or("?", |d| d.name.as_str());
            writeln!(f, "stream #{d} @{name}:")?;
            for (pc, ins) in stream.iter().enumerate() {
                writeln!(f, "  {pc:>4}: {}", self.instr_text(ins))?;
            }
        }
        let outs: Vec<String> = self.outputs.iter().map(|o| format!("%{}{}", o.value, if o.keep { " kept" } else { "" })).collect();
        writeln!(f, "return ({})", outs.join(", "))
    }
}

impl Plan {
    /// One instruction as the disassembly prints it.
    pub fn instr_text(&self, ins: &Instr) -> String {
        let resident = |r: u32| self.residents.get(r as usize).map_or(format!("@{r}"), |x| format!("@{r} ({})", x.name));
        match ins {
            Instr::Call { op, operands, results, attrs } => {
                let mut line = String::new();
                if !results.is_empty() {
                    line.push_str(&format!("{} = ", list(results)));
                }
                line.push_str(op.name());
                if !operands.is_empty() {
                    line.push_str(&format!(" {}", list(operands)));
                }
                if let Some(d) = self.attrs.get(*attrs as usize) {
                    if !d.is_empty() {
                        line.push(' ');
                        genie_ops::attrs::write_attr_dict(&mut line, d, false);
                    }
                }
                line
            }
            Instr::Load { resident: r, result } => format!("%{result} = load {}", resident(*r)),
            Instr::Store { resident: r, value } => format!("store %{value} -> {}", resident(*r)),
            Instr::Send { value, result } => {
                let to = self.values.get(*result as usize).map_or(u32::MAX, |v| v.device);
                format!("send %{value} -> %{result} on #{to}")
            }
            Instr::Await { value } => format!("await %{value}"),
        }
    }
}
