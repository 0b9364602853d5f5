//! The plan container: encoder, decoder and verifier.
//!
//! ```text
//! header   magic "GENIEPLN" | version u32 (major << 16 | minor) | flags u32
//!          | payload length u64 | payload CRC-32 u32
//! payload  name | strings | types | attribute dicts | values | buffers
//!          | inputs | outputs | code | memory figures
//! ```
//! Little-endian; every table is a u32 count then its entries. The decoder
//! checks every length and index before use and never trusts a count to size
//! an allocation, so truncated, corrupt or hostile bytes give a [`PlanError`]
//! naming the byte offset, never a panic. A plan of another major version, or
//! a newer minor one, is rejected with a message saying which.

use crate::plan::{Buffer, Instr, Plan, Role, ValueInfo};
use genie_ir::{AttrDict, Attribute, BinOp, DType, Dim, SymExpr, TensorType, Type};
use std::fmt;

pub const MAGIC: &[u8; 8] = b"GENIEPLN";
pub const VERSION_MAJOR: u16 = 1;
pub const VERSION_MINOR: u16 = 0;
const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 4;
/// Nesting limit for attributes and symbolic expressions.
const MAX_DEPTH: usize = 64;
const NO_BUFFER: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// Byte offset in the container, when the problem is at one.
    pub offset: Option<usize>,
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "invalid plan at byte {o}: {}", self.message),
            None => write!(f, "invalid plan: {}", self.message),
        }
    }
}

impl std::error::Error for PlanError {}

fn invalid<T>(message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError { offset: None, message: message.into() })
}

pub fn packed_version(major: u16, minor: u16) -> u32 {
    (u32::from(major) << 16) | u32::from(minor)
}

// Tags shared by the encoder and the decoder.
const BIN_OPS: [BinOp; 6] = [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::FloorDiv, BinOp::CeilDiv, BinOp::Mod];
mod tag {
    pub const TYPE_NONE: u8 = 0;
    pub const TYPE_SCALAR: u8 = 1;
    pub const TYPE_TENSOR: u8 = 2;
    pub const DIM_STATIC: u8 = 0;
    pub const DIM_SYM: u8 = 1;
    pub const DIM_DYNAMIC: u8 = 2;
    pub const ATTR_INT: u8 = 0;
    pub const ATTR_FLOAT: u8 = 1;
    pub const ATTR_BOOL: u8 = 2;
    pub const ATTR_STRING: u8 = 3;
    pub const ATTR_ARRAY: u8 = 4;
    pub const ATTR_DICT: u8 = 5;
    pub const ATTR_TYPE: u8 = 6;
    pub const ATTR_SYM: u8 = 7;
    pub const ATTR_SYMBOL_REF: u8 = 8;
    pub const ATTR_RESOURCE: u8 = 9;
    pub const ATTR_UNIT: u8 = 10;
    pub const EXPR_CONST: u8 = 0;
    pub const EXPR_SYM: u8 = 1;
    pub const EXPR_BIN: u8 = 2;
}

fn dtype_code(d: DType) -> u8 {
    DType::ALL.iter().position(|x| *x == d).expect("every dtype is listed") as u8
}

// ----- encoder -------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("plan tables hold fewer than 2^32 entries"));
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn ids(&mut self, ids: &[u32]) {
        self.len(ids.len());
        ids.iter().for_each(|&i| self.u32(i));
    }

    fn ty(&mut self, t: &Type) {
        match t {
            Type::None => self.u8(tag::TYPE_NONE),
            Type::Scalar(d) => {
                self.u8(tag::TYPE_SCALAR);
                self.u8(dtype_code(*d));
            }
            Type::Tensor(t) => self.tensor(t),
            other => panic!("plans hold tensors, scalars and none, not {other}"),
        }
    }

    fn tensor(&mut self, t: &TensorType) {
        self.u8(tag::TYPE_TENSOR);
        self.u8(dtype_code(t.dtype));
        self.len(t.dims.len());
        for d in &t.dims {
            match d {
                Dim::Static(n) => {
                    self.u8(tag::DIM_STATIC);
                    self.i64(*n);
                }
                Dim::Sym(s) => {
                    self.u8(tag::DIM_SYM);
                    self.u32(*s);
                }
                Dim::Dynamic => self.u8(tag::DIM_DYNAMIC),
            }
        }
    }

    fn expr(&mut self, e: &SymExpr) {
        match e {
            SymExpr::Const(c) => {
                self.u8(tag::EXPR_CONST);
                self.i64(*c);
            }
            SymExpr::Sym(s) => {
                self.u8(tag::EXPR_SYM);
                self.u32(*s);
            }
            SymExpr::Bin(op, a, b) => {
                self.u8(tag::EXPR_BIN);
                self.u8(BIN_OPS.iter().position(|o| o == op).expect("listed") as u8);
                self.expr(a);
                self.expr(b);
            }
        }
    }

    fn attr(&mut self, a: &Attribute) {
        match a {
            Attribute::Int(v, d) => {
                self.u8(tag::ATTR_INT);
                self.i64(*v);
                self.u8(dtype_code(*d));
            }
            Attribute::Float(v, d) => {
                self.u8(tag::ATTR_FLOAT);
                self.u64(v.to_bits());
                self.u8(dtype_code(*d));
            }
            Attribute::Bool(b) => {
                self.u8(tag::ATTR_BOOL);
                self.u8(u8::from(*b));
            }
            Attribute::String(s) => {
                self.u8(tag::ATTR_STRING);
                self.str(s);
            }
            Attribute::Array(items) => {
                self.u8(tag::ATTR_ARRAY);
                self.len(items.len());
                items.iter().for_each(|i| self.attr(i));
            }
            Attribute::Dict(d) => {
                self.u8(tag::ATTR_DICT);
                self.dict(d);
            }
            Attribute::Type(t) => {
                self.u8(tag::ATTR_TYPE);
                self.ty(t);
            }
            Attribute::Sym(e) => {
                self.u8(tag::ATTR_SYM);
                self.expr(e);
            }
            Attribute::SymbolRef(s) => {
                self.u8(tag::ATTR_SYMBOL_REF);
                self.str(s);
            }
            Attribute::DenseResource { handle, ty } => {
                self.u8(tag::ATTR_RESOURCE);
                self.str(handle);
                self.tensor(ty);
            }
            Attribute::Unit => self.u8(tag::ATTR_UNIT),
        }
    }

    fn dict(&mut self, d: &AttrDict) {
        self.len(d.len());
        for (k, v) in d.iter() {
            self.str(k);
            self.attr(v);
        }
    }
}

/// Encodes a plan. The plan must verify (see [`verify`]).
pub fn encode(plan: &Plan) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.str(&plan.name);
    w.len(plan.strings.len());
    plan.strings.iter().for_each(|s| w.str(s));
    w.len(plan.types.len());
    plan.types.iter().for_each(|t| w.ty(t));
    w.len(plan.attrs.len());
    plan.attrs.iter().for_each(|a| w.attr(a));
    w.len(plan.values.len());
    for v in &plan.values {
        w.u32(v.ty);
        w.u8(v.role.code());
        w.u32(v.buffer.unwrap_or(NO_BUFFER));
    }
    w.len(plan.buffers.len());
    for b in &plan.buffers {
        w.u64(b.offset);
        w.u64(b.size);
    }
    w.ids(&plan.inputs);
    w.ids(&plan.outputs);
    w.len(plan.code.len());
    for ins in &plan.code {
        w.u32(ins.op);
        w.ids(&ins.operands);
        w.ids(&ins.results);
        w.u32(ins.attrs);
    }
    w.u64(plan.arena_size);
    w.u64(plan.peak_temp_bytes);
    w.u64(plan.unshared_temp_bytes);
    let payload = w.0;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&packed_version(VERSION_MAJOR, VERSION_MINOR).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

// ----- decoder -------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the whole container, for messages.
    base: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, PlanError> {
        Err(PlanError { offset: Some(self.base + self.pos), message: message.into() })
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PlanError> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => self.fail(format!("truncated: {what} needs {n} bytes, {} left", self.buf.len() - self.pos)),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, PlanError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, PlanError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &str) -> Result<u64, PlanError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn i64(&mut self, what: &str) -> Result<i64, PlanError> {
        Ok(i64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }

    /// A table length; each entry needs at least `min_entry` bytes, so a
    /// hostile count cannot make the decoder reserve memory it won't fill.
    fn count(&mut self, what: &str, min_entry: usize) -> Result<usize, PlanError> {
        let n = self.u32(what)? as usize;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_entry) > left {
            return self.fail(format!("{what}: {n} entries cannot fit in the {left} bytes left"));
        }
        Ok(n)
    }

    fn str(&mut self, what: &str) -> Result<String, PlanError> {
        let n = self.count(what, 1)?;
        let at = self.pos;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).or_else(|_| {
            self.pos = at;
            self.fail(format!("{what} is not UTF-8"))
        })
    }

    fn ids(&mut self, what: &str) -> Result<Vec<u32>, PlanError> {
        let n = self.count(what, 4)?;
        (0..n).map(|_| self.u32(what)).collect()
    }

    fn dtype(&mut self) -> Result<DType, PlanError> {
        let c = self.u8("dtype")?;
        match DType::ALL.get(c as usize) {
            Some(d) => Ok(*d),
            None => {
                self.pos -= 1;
                self.fail(format!("unknown dtype code {c}"))
            }
        }
    }

    fn ty(&mut self) -> Result<Type, PlanError> {
        match self.u8("type tag")? {
            tag::TYPE_NONE => Ok(Type::None),
            tag::TYPE_SCALAR => Ok(Type::Scalar(self.dtype()?)),
            tag::TYPE_TENSOR => Ok(Type::Tensor(self.tensor_body()?)),
            t => {
                self.pos -= 1;
                self.fail(format!("unknown type tag {t}"))
            }
        }
    }

    fn tensor_body(&mut self) -> Result<TensorType, PlanError> {
        let dtype = self.dtype()?;
        let rank = self.count("tensor rank", 1)?;
        let mut dims = Vec::new();
        for _ in 0..rank {
            dims.push(match self.u8("dim tag")? {
                tag::DIM_STATIC => Dim::Static(self.i64("dim")?),
                tag::DIM_SYM => Dim::Sym(self.u32("dim symbol")?),
                tag::DIM_DYNAMIC => Dim::Dynamic,
                t => {
                    self.pos -= 1;
                    return self.fail(format!("unknown dim tag {t}"));
                }
            });
        }
        Ok(TensorType::new(dims, dtype))
    }

    fn tensor(&mut self) -> Result<TensorType, PlanError> {
        match self.u8("type tag")? {
            tag::TYPE_TENSOR => self.tensor_body(),
            t => {
                self.pos -= 1;
                self.fail(format!("expected a tensor type, found tag {t}"))
            }
        }
    }

    fn expr(&mut self, depth: usize) -> Result<SymExpr, PlanError> {
        if depth > MAX_DEPTH {
            return self.fail(format!("size expression nested deeper than {MAX_DEPTH}"));
        }
        match self.u8("expression tag")? {
            tag::EXPR_CONST => Ok(SymExpr::Const(self.i64("constant")?)),
            tag::EXPR_SYM => Ok(SymExpr::Sym(self.u32("symbol")?)),
            tag::EXPR_BIN => {
                let c = self.u8("operator")?;
                let Some(&op) = BIN_OPS.get(c as usize) else {
                    self.pos -= 1;
                    return self.fail(format!("unknown operator code {c}"));
                };
                let a = self.expr(depth + 1)?;
                let b = self.expr(depth + 1)?;
                Ok(SymExpr::bin(op, a, b))
            }
            t => {
                self.pos -= 1;
                self.fail(format!("unknown expression tag {t}"))
            }
        }
    }

    fn attr(&mut self, depth: usize) -> Result<Attribute, PlanError> {
        if depth > MAX_DEPTH {
            return self.fail(format!("attribute nested deeper than {MAX_DEPTH}"));
        }
        Ok(match self.u8("attribute tag")? {
            tag::ATTR_INT => {
                let v = self.i64("integer")?;
                Attribute::Int(v, self.dtype()?)
            }
            tag::ATTR_FLOAT => {
                let v = f64::from_bits(self.u64("float")?);
                Attribute::Float(v, self.dtype()?)
            }
            tag::ATTR_BOOL => match self.u8("bool")? {
                0 => Attribute::Bool(false),
                1 => Attribute::Bool(true),
                b => {
                    self.pos -= 1;
                    return self.fail(format!("bool byte {b}"));
                }
            },
            tag::ATTR_STRING => Attribute::String(self.str("string")?),
            tag::ATTR_ARRAY => {
                let n = self.count("array", 1)?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.attr(depth + 1)?);
                }
                Attribute::Array(items)
            }
            tag::ATTR_DICT => Attribute::Dict(self.dict(depth + 1)?),
            tag::ATTR_TYPE => Attribute::ty(self.ty()?),
            tag::ATTR_SYM => Attribute::Sym(self.expr(depth + 1)?),
            tag::ATTR_SYMBOL_REF => Attribute::SymbolRef(self.str("symbol")?),
            tag::ATTR_RESOURCE => {
                let handle = self.str("resource handle")?;
                Attribute::DenseResource { handle, ty: Box::new(self.tensor()?) }
            }
            tag::ATTR_UNIT => Attribute::Unit,
            t => {
                self.pos -= 1;
                return self.fail(format!("unknown attribute tag {t}"));
            }
        })
    }

    fn dict(&mut self, depth: usize) -> Result<AttrDict, PlanError> {
        let n = self.count("dictionary", 5)?;
        let mut d = AttrDict::new();
        for _ in 0..n {
            let key = self.str("attribute name")?;
            let value = self.attr(depth)?;
            if d.set(key.clone(), value).is_some() {
                return self.fail(format!("duplicate attribute '{key}'"));
            }
        }
        Ok(d)
    }
}

/// Decodes and verifies a plan.
pub fn decode(bytes: &[u8]) -> Result<Plan, PlanError> {
    if bytes.len() < HEADER_LEN {
        return Err(PlanError { offset: Some(bytes.len()), message: format!("truncated: {} bytes, the header alone is {HEADER_LEN}", bytes.len()) });
    }
    if &bytes[..8] != MAGIC {
        return Err(PlanError { offset: Some(0), message: "not a Genie plan (bad magic)".into() });
    }
    let mut h = Reader { buf: &bytes[..HEADER_LEN], pos: 8, base: 0 };
    let version = h.u32("version")?;
    let (major, minor) = ((version >> 16) as u16, (version & 0xffff) as u16);
    if major != VERSION_MAJOR {
        return Err(PlanError {
            offset: Some(8),
            message: format!("plan format {major}.{minor} is not readable by this runtime (format {VERSION_MAJOR}.{VERSION_MINOR}): major versions differ"),
        });
    }
    if minor > VERSION_MINOR {
        return Err(PlanError {
            offset: Some(8),
            message: format!("plan format {major}.{minor} is newer than this runtime's {VERSION_MAJOR}.{VERSION_MINOR}; upgrade the runtime"),
        });
    }
    let flags = h.u32("flags")?;
    if flags != 0 {
        return Err(PlanError { offset: Some(12), message: format!("unknown flags {flags:#x}") });
    }
    let len = h.u64("payload length")?;
    let crc = h.u32("checksum")?;
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(PlanError {
            offset: Some(bytes.len()),
            message: format!("payload is {} bytes, the header says {len} (truncated or padded)", payload.len()),
        });
    }
    if crc32fast::hash(payload) != crc {
        return Err(PlanError { offset: Some(HEADER_LEN), message: "checksum mismatch: the plan is corrupt".into() });
    }
    let mut r = Reader { buf: payload, pos: 0, base: HEADER_LEN };
    let mut plan = Plan { name: r.str("plan name")?, ..Plan::default() };
    for _ in 0..r.count("string table", 4)? {
        plan.strings.push(r.str("string")?);
    }
    for _ in 0..r.count("type table", 1)? {
        plan.types.push(r.ty()?);
    }
    for _ in 0..r.count("attribute table", 1)? {
        plan.attrs.push(r.attr(0)?);
    }
    for _ in 0..r.count("value table", 9)? {
        let ty = r.u32("value type")?;
        let code = r.u8("value role")?;
        let Some(role) = Role::from_code(code) else {
            r.pos -= 1;
            return r.fail(format!("unknown value role {code}"));
        };
        let b = r.u32("value buffer")?;
        plan.values.push(ValueInfo { ty, role, buffer: (b != NO_BUFFER).then_some(b) });
    }
    for _ in 0..r.count("buffer table", 16)? {
        plan.buffers.push(Buffer { offset: r.u64("buffer offset")?, size: r.u64("buffer size")? });
    }
    plan.inputs = r.ids("inputs")?;
    plan.outputs = r.ids("outputs")?;
    for _ in 0..r.count("code", 16)? {
        let op = r.u32("opcode")?;
        let operands = r.ids("operands")?;
        let results = r.ids("results")?;
        let attrs = r.u32("attributes")?;
        plan.code.push(Instr { op, operands, results, attrs });
    }
    plan.arena_size = r.u64("arena size")?;
    plan.peak_temp_bytes = r.u64("peak bytes")?;
    plan.unshared_temp_bytes = r.u64("unshared bytes")?;
    if r.pos != payload.len() {
        return r.fail(format!("{} bytes of trailing data", payload.len() - r.pos));
    }
    verify(&plan)?;
    Ok(plan)
}

/// Checks that every index is in range, every op is known with the right
/// arity, values are defined once before use, and buffers fit the arena.
pub fn verify(plan: &Plan) -> Result<(), PlanError> {
    let n_values = plan.values.len();
    for (i, v) in plan.values.iter().enumerate() {
        match plan.types.get(v.ty as usize) {
            Some(Type::Tensor(_) | Type::Scalar(_) | Type::None) => {}
            Some(t) => return invalid(format!("value %{i} has type {t}, which plans cannot hold")),
            None => return invalid(format!("value %{i} names type #{} of {}", v.ty, plan.types.len())),
        }
        if let Some(b) = v.buffer {
            let Some(buf) = plan.buffers.get(b as usize) else {
                return invalid(format!("value %{i} names buffer #{b} of {}", plan.buffers.len()));
            };
            if v.role != Role::Temporary {
                return invalid(format!("value %{i} is a {} but has a buffer", v.role.name()));
            }
            if buf.offset.checked_add(buf.size).is_none_or(|end| end > plan.arena_size) {
                return invalid(format!("buffer #{b} ends past the {}-byte arena", plan.arena_size));
            }
        }
    }
    for (i, a) in plan.attrs.iter().enumerate() {
        if !matches!(a, Attribute::Dict(_)) {
            return invalid(format!("attribute entry #{i} is not a dictionary"));
        }
    }
    let mut defined = vec![false; n_values];
    // `what` names the definer for an error only: no formatting when the check passes.
    fn define(defined: &mut [bool], id: u32, what: impl Fn() -> String) -> Result<(), PlanError> {
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
    for &i in &plan.inputs {
        define(&mut defined, i, || "the input list".into())?;
        if !matches!(plan.values[i as usize].role, Role::Input | Role::Weight) {
            return invalid(format!("input %{i} has role {}", plan.values[i as usize].role.name()));
        }
    }
    for (pc, ins) in plan.code.iter().enumerate() {
        let Some(name) = plan.strings.get(ins.op as usize) else {
            return invalid(format!("instruction {pc} names opcode string #{} of {}", ins.op, plan.strings.len()));
        };
        let Some(def) = genie_ir::lookup(name).filter(|d| d.dialect() != "func") else {
            return invalid(format!("instruction {pc} uses op '{name}', which this runtime does not know"));
        };
        let arity = |slots: &[genie_ir::dialects::Slot], n: usize| {
            let fixed = slots.iter().filter(|s| !s.variadic).count();
            if slots.iter().any(|s| s.variadic) {
                n >= fixed
            } else {
                n == fixed
            }
        };
        if !arity(def.operands, ins.operands.len()) || !arity(def.results, ins.results.len()) {
            return invalid(format!(
                "instruction {pc} ('{name}') has {} operand(s) and {} result(s), which '{name}' does not take",
                ins.operands.len(),
                ins.results.len()
            ));
        }
        if ins.attrs as usize >= plan.attrs.len() {
            return invalid(format!("instruction {pc} names attribute entry #{} of {}", ins.attrs, plan.attrs.len()));
        }
        for &o in &ins.operands {
            if !defined.get(o as usize).copied().unwrap_or(false) {
                return invalid(format!("instruction {pc} ('{name}') uses value %{o} before it is defined"));
            }
        }
        for &r in &ins.results {
            define(&mut defined, r, || format!("instruction {pc} ('{name}')"))?;
        }
    }
    for &o in &plan.outputs {
        if !defined.get(o as usize).copied().unwrap_or(false) {
            return invalid(format!("output %{o} is never defined"));
        }
    }
    Ok(())
}
