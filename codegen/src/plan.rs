//! The in-memory plan: what the bytecode encodes and the runtime executes.
//!
//! A plan is one graph in execution order: a table of values (each with a
//! type, a role and, for temporaries with a static size, a buffer), a table of
//! buffers the buffer planner shares between temporaries whose lifetimes do
//! not overlap, a string table (op names, attribute keys, resource handles), a
//! table of attribute dictionaries, and the instruction stream. Instructions
//! name their op through the string table, so the opcode table travels with
//! the plan and encoder and decoder share it as data.

use genie_ir::{Attribute, Type};
use std::fmt::{self, Write};

/// What a value is to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Passed in on every call.
    Input,
    /// Passed in, but the same on every call (weights): may stay resident.
    Weight,
    /// A constant held by reference (`dense_resource`).
    Constant,
    /// Produced and consumed inside the plan.
    Temporary,
    /// Returned to the caller.
    Output,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Input, Role::Weight, Role::Constant, Role::Temporary, Role::Output];

    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Weight => "weight",
            Role::Constant => "constant",
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

#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// Index into [`Plan::types`].
    pub ty: u32,
    pub role: Role,
    /// Buffer holding the value, for temporaries of static size.
    pub buffer: Option<u32>,
}

/// A region of the plan's temporary arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub offset: u64,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instr {
    /// Op name, as an index into [`Plan::strings`].
    pub op: u32,
    pub operands: Vec<u32>,
    pub results: Vec<u32>,
    /// Attribute dictionary, as an index into [`Plan::attrs`].
    pub attrs: u32,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Plan {
    pub name: String,
    pub strings: Vec<String>,
    pub types: Vec<Type>,
    pub values: Vec<ValueInfo>,
    pub buffers: Vec<Buffer>,
    /// Attribute dictionaries (each an `Attribute::Dict`).
    pub attrs: Vec<Attribute>,
    pub inputs: Vec<u32>,
    pub outputs: Vec<u32>,
    pub code: Vec<Instr>,
    /// Bytes the temporary arena needs (the largest buffer end).
    pub arena_size: u64,
    /// Most bytes of static-size temporaries alive at once.
    pub peak_temp_bytes: u64,
    /// Bytes temporaries would take without buffer reuse.
    pub unshared_temp_bytes: u64,
}

/// Exact bytes, with a rounded binary unit when large: `4352 B (4.2 KiB)`.
fn human_bytes(n: u64) -> String {
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

/// The disassembly: a stable text form for golden tests.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan @{} v{}.{}: {} inputs, {} outputs, {} instructions",
            self.name,
            crate::bytecode::VERSION_MAJOR,
            crate::bytecode::VERSION_MINOR,
            self.inputs.len(),
            self.outputs.len(),
            self.code.len()
        )?;
        writeln!(
            f,
            "memory: arena {}, peak temporaries {} (without reuse {}), {} buffers",
            human_bytes(self.arena_size),
            human_bytes(self.peak_temp_bytes),
            human_bytes(self.unshared_temp_bytes),
            self.buffers.len()
        )?;
        writeln!(f, "values:")?;
        for (i, v) in self.values.iter().enumerate() {
            let ty = self.types.get(v.ty as usize).map_or("<bad type>".to_string(), |t| t.to_string());
            let buf = match v.buffer.and_then(|b| self.buffers.get(b as usize).map(|x| (b, x))) {
                Some((b, x)) => format!("  buf{b}[{}+{}]", x.offset, x.size),
                None => String::new(),
            };
            writeln!(f, "  %{i:<4} {:<8} {ty}{buf}", v.role.name())?;
        }
        let list = |ids: &[u32]| ids.iter().map(|i| format!("%{i}")).collect::<Vec<_>>().join(", ");
        writeln!(f, "inputs: ({})", list(&self.inputs))?;
        writeln!(f, "code:")?;
        for (pc, ins) in self.code.iter().enumerate() {
            let mut line = format!("  {pc:>4}: ");
            if !ins.results.is_empty() {
                let _ = write!(line, "{} = ", list(&ins.results));
            }
            line.push_str(self.strings.get(ins.op as usize).map_or("<bad op>", String::as_str));
            if !ins.operands.is_empty() {
                let _ = write!(line, " {}", list(&ins.operands));
            }
            if let Some(Attribute::Dict(d)) = self.attrs.get(ins.attrs as usize) {
                if !d.is_empty() {
                    line.push(' ');
                    genie_ir::attrs::write_attr_dict(&mut line, d, false);
                }
            }
            writeln!(f, "{line}")?;
        }
        writeln!(f, "return ({})", list(&self.outputs))
    }
}
