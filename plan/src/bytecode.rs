//! The plan container: encoder and decoder.
//!
//! ```text
//! header   magic "GENIEPLN" | version u32 (major << 16 | minor) | flags u32
//!          | payload length u64 | payload CRC-32 u32
//! payload  name | devices | types | attribute dicts | values | buffers
//!          | residents | inputs | outputs | streams | debug locations
//!          | memory figures
//! ```
//! Little-endian; every table is a u32 count then its entries. Kernel calls
//! carry their opcode ([`Op::code`], a u16) and attributes by index;
//! types, attributes and symbolic sizes have compact tagged encodings of
//! their own. The decoder checks every length and index before use and
//! never trusts a count to size an allocation, so truncated, corrupt or
//! hostile bytes give a [`PlanError`] naming the byte offset, never a panic;
//! a decoded plan is then verified ([`crate::verify`]). A plan of another
//! major version, or a newer minor one, is rejected with a message saying
//! which.

use crate::plan::{Buffer, Device, DeviceKind, Instr, Output, Plan, Resident, ResidentKind, Role, ValueInfo};
use genie_ops::{AttrDict, Attribute, BinOp, DType, Dim, Op, SymExpr, TensorType, Type};
use std::fmt;

pub const MAGIC: &[u8; 8] = b"GENIEPLN";
/// 2: device table, per-device streams, opcodes, residents, output dispositions.
pub const VERSION_MAJOR: u16 = 2;
pub const VERSION_MINOR: u16 = 0;
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 4;
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
    pub const INSTR_CALL: u8 = 0;
    pub const INSTR_LOAD: u8 = 1;
    pub const INSTR_STORE: u8 = 2;
    pub const INSTR_SEND: u8 = 3;
    pub const INSTR_AWAIT: u8 = 4;
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
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
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

    fn instr(&mut self, ins: &Instr) {
        match ins {
            Instr::Call { op, operands, results, attrs } => {
                self.u8(tag::INSTR_CALL);
                self.u16(op.code());
                self.ids(operands);
                self.ids(results);
                self.u32(*attrs);
            }
            Instr::Load { resident, result } => {
                self.u8(tag::INSTR_LOAD);
                self.u32(*resident);
                self.u32(*result);
            }
            Instr::Store { resident, value } => {
                self.u8(tag::INSTR_STORE);
                self.u32(*resident);
                self.u32(*value);
            }
            Instr::Send { value, result } => {
                self.u8(tag::INSTR_SEND);
                self.u32(*value);
                self.u32(*result);
            }
            Instr::Await { value } => {
                self.u8(tag::INSTR_AWAIT);
                self.u32(*value);
            }
        }
    }
}

/// Encodes a plan. The plan must verify (see [`crate::verify`]).
pub fn encode(plan: &Plan) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.str(&plan.name);
    w.len(plan.devices.len());
    for d in &plan.devices {
        w.str(&d.name);
        w.u8(DeviceKind::ALL.iter().position(|k| *k == d.kind).expect("listed") as u8);
        w.u64(d.arena_size);
    }
    w.len(plan.types.len());
    plan.types.iter().for_each(|t| w.ty(t));
    w.len(plan.attrs.len());
    plan.attrs.iter().for_each(|a| w.dict(a));
    w.len(plan.values.len());
    for v in &plan.values {
        w.u32(v.ty);
        w.u8(v.role.code());
        w.u32(v.device);
        w.u32(v.buffer.unwrap_or(NO_BUFFER));
    }
    w.len(plan.buffers.len());
    for b in &plan.buffers {
        w.u32(b.device);
        w.u64(b.offset);
        w.u64(b.size);
    }
    w.len(plan.residents.len());
    for r in &plan.residents {
        w.str(&r.name);
        w.u32(r.ty);
        w.u32(r.device);
        w.u8(ResidentKind::ALL.iter().position(|k| *k == r.kind).expect("listed") as u8);
    }
    w.ids(&plan.inputs);
    w.len(plan.outputs.len());
    for o in &plan.outputs {
        w.u32(o.value);
        w.u8(u8::from(o.keep));
    }
    w.len(plan.streams.len());
    for s in &plan.streams {
        w.len(s.len());
        s.iter().for_each(|i| w.instr(i));
    }
    w.len(plan.locations.len());
    plan.locations.iter().for_each(|l| w.str(l));
    w.len(plan.instr_locations.len());
    plan.instr_locations.iter().for_each(|l| w.ids(l));
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

    /// Fails at the byte just read (for a bad tag or code).
    fn fail_back<T>(&mut self, n: usize, message: impl Into<String>) -> Result<T, PlanError> {
        self.pos -= n;
        self.fail(message)
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
    fn u16(&mut self, what: &str) -> Result<u16, PlanError> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
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

    fn code<T: Copy>(&mut self, table: &[T], what: &str) -> Result<T, PlanError> {
        let c = self.u8(what)?;
        match table.get(c as usize) {
            Some(x) => Ok(*x),
            None => self.fail_back(1, format!("unknown {what} code {c}")),
        }
    }

    fn dtype(&mut self) -> Result<DType, PlanError> {
        self.code(&DType::ALL, "dtype")
    }

    fn ty(&mut self) -> Result<Type, PlanError> {
        match self.u8("type tag")? {
            tag::TYPE_NONE => Ok(Type::None),
            tag::TYPE_SCALAR => Ok(Type::Scalar(self.dtype()?)),
            tag::TYPE_TENSOR => Ok(Type::Tensor(self.tensor_body()?)),
            t => self.fail_back(1, format!("unknown type tag {t}")),
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
                t => return self.fail_back(1, format!("unknown dim tag {t}")),
            });
        }
        Ok(TensorType::new(dims, dtype))
    }

    fn tensor(&mut self) -> Result<TensorType, PlanError> {
        match self.u8("type tag")? {
            tag::TYPE_TENSOR => self.tensor_body(),
            t => self.fail_back(1, format!("expected a tensor type, found tag {t}")),
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
                let op = self.code(&BIN_OPS, "operator")?;
                let a = self.expr(depth + 1)?;
                let b = self.expr(depth + 1)?;
                Ok(SymExpr::bin(op, a, b))
            }
            t => self.fail_back(1, format!("unknown expression tag {t}")),
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
                b => return self.fail_back(1, format!("bool byte {b}")),
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
            t => return self.fail_back(1, format!("unknown attribute tag {t}")),
        })
    }

    fn dict(&mut self, depth: usize) -> Result<AttrDict, PlanError> {
        let n = self.count("dictionary", 5)?;
        let mut d = AttrDict::new();
        for _ in 0..n {
            let key = self.str("attribute name")?;
            let value = self.attr(depth)?;
            // Names the op tables know are interned, as the parser does.
            let name = match genie_ops::dialects::known_attr_name(&key) {
                Some(k) => std::borrow::Cow::Borrowed(k),
                None => std::borrow::Cow::Owned(key.clone()),
            };
            if d.set(name, value).is_some() {
                return self.fail(format!("duplicate attribute '{key}'"));
            }
        }
        Ok(d)
    }

    fn instr(&mut self) -> Result<Instr, PlanError> {
        Ok(match self.u8("instruction tag")? {
            tag::INSTR_CALL => {
                let code = self.u16("opcode")?;
                let Some(op) = Op::from_code(code) else {
                    return self.fail_back(2, format!("unknown opcode {code}: this runtime does not know the op (a newer compiler made the plan?)"));
                };
                let operands = self.ids("operands")?;
                let results = self.ids("results")?;
                let attrs = self.u32("attributes")?;
                Instr::Call { op, operands, results, attrs }
            }
            tag::INSTR_LOAD => Instr::Load { resident: self.u32("resident")?, result: self.u32("result")? },
            tag::INSTR_STORE => Instr::Store { resident: self.u32("resident")?, value: self.u32("value")? },
            tag::INSTR_SEND => Instr::Send { value: self.u32("value")?, result: self.u32("result")? },
            tag::INSTR_AWAIT => Instr::Await { value: self.u32("value")? },
            t => return self.fail_back(1, format!("unknown instruction tag {t}")),
        })
    }
}

/// Checks the header; returns the payload.
fn payload(bytes: &[u8]) -> Result<&[u8], PlanError> {
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
            message: format!(
                "plan format {major}.{minor} is not readable by this runtime (format {VERSION_MAJOR}.{VERSION_MINOR}): major versions differ; compile the plan again with a matching Genie"
            ),
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
    Ok(payload)
}

/// Decodes and verifies a plan.
pub fn decode(bytes: &[u8]) -> Result<Plan, PlanError> {
    let payload = payload(bytes)?;
    let mut r = Reader { buf: payload, pos: 0, base: HEADER_LEN };
    let mut plan = Plan { name: r.str("plan name")?, ..Plan::default() };
    for _ in 0..r.count("device table", 13)? {
        let name = r.str("device name")?;
        let kind = r.code(&DeviceKind::ALL, "device kind")?;
        plan.devices.push(Device { name, kind, arena_size: r.u64("arena size")? });
    }
    for _ in 0..r.count("type table", 1)? {
        plan.types.push(r.ty()?);
    }
    for _ in 0..r.count("attribute table", 4)? {
        plan.attrs.push(r.dict(0)?);
    }
    for _ in 0..r.count("value table", 13)? {
        let ty = r.u32("value type")?;
        let role = r.code(&Role::ALL, "value role")?;
        let device = r.u32("value device")?;
        let b = r.u32("value buffer")?;
        plan.values.push(ValueInfo { ty, role, device, buffer: (b != NO_BUFFER).then_some(b) });
    }
    for _ in 0..r.count("buffer table", 20)? {
        plan.buffers.push(Buffer { device: r.u32("buffer device")?, offset: r.u64("buffer offset")?, size: r.u64("buffer size")? });
    }
    for _ in 0..r.count("resident table", 13)? {
        let name = r.str("resident name")?;
        let ty = r.u32("resident type")?;
        let device = r.u32("resident device")?;
        let kind = r.code(&ResidentKind::ALL, "resident kind")?;
        plan.residents.push(Resident { name, ty, device, kind });
    }
    plan.inputs = r.ids("inputs")?;
    for _ in 0..r.count("outputs", 5)? {
        let value = r.u32("output")?;
        let keep = match r.u8("output disposition")? {
            0 => false,
            1 => true,
            b => return r.fail_back(1, format!("output disposition byte {b}")),
        };
        plan.outputs.push(Output { value, keep });
    }
    for _ in 0..r.count("streams", 4)? {
        let n = r.count("stream", 5)?;
        let mut s = Vec::new();
        for _ in 0..n {
            s.push(r.instr()?);
        }
        plan.streams.push(s);
    }
    for _ in 0..r.count("location table", 4)? {
        plan.locations.push(r.str("location")?);
    }
    for _ in 0..r.count("instruction locations", 4)? {
        plan.instr_locations.push(r.ids("instruction locations")?);
    }
    plan.peak_temp_bytes = r.u64("peak bytes")?;
    plan.unshared_temp_bytes = r.u64("unshared bytes")?;
    if r.pos != payload.len() {
        return r.fail(format!("{} bytes of trailing data", payload.len() - r.pos));
    }
    crate::verify(&plan)?;
    Ok(plan)
}
