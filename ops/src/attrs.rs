//! Attributes: compile-time constants attached to ops, in MLIR syntax.

use crate::symexpr::SymExpr;
use crate::types::{write_type, DType, TensorType, Type};
use std::borrow::Cow;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq)]
pub enum Attribute {
    /// An integer with its type (`3` is `i64`, `3 : i32` otherwise).
    Int(i64, DType),
    /// A float with its type (`1.0` is `f64`, `1.0 : f32` otherwise).
    Float(f64, DType),
    Bool(bool),
    String(String),
    Array(Vec<Attribute>),
    Dict(AttrDict),
    /// A type used as a value, e.g. a dtype (`dtype = f16`). Boxed to keep
    /// attributes small.
    Type(Box<Type>),
    /// A symbolic integer (`s0 * 12`).
    Sym(SymExpr),
    /// A reference to a symbol (`@gpu0`).
    SymbolRef(String),
    /// A dense constant held by reference: `dense_resource<handle> : tensor<…>`.
    /// The data lives outside the IR (a weight is never copied into the text).
    DenseResource { handle: String, ty: Box<TensorType> },
    /// Presence-only attribute (`{keepdim}`).
    Unit,
}

impl Attribute {
    pub fn int(v: i64) -> Attribute {
        Attribute::Int(v, DType::I64)
    }

    pub fn ty(t: Type) -> Attribute {
        Attribute::Type(Box::new(t))
    }

    /// Inputs and results of a function-type attribute.
    pub fn as_function_type(&self) -> Option<(&[Type], &[Type])> {
        match self {
            Attribute::Type(t) => match &**t {
                Type::Function(ins, outs) => Some((ins, outs)),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Attribute::Int(v, _) => Some(*v),
            Attribute::Sym(e) => e.as_const(),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Attribute::Float(v, _) => Some(*v),
            Attribute::Int(v, _) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attribute::Bool(b) => Some(*b),
            Attribute::Unit => Some(true),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attribute::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Attribute]> {
        match self {
            Attribute::Array(a) => Some(a),
            _ => None,
        }
    }

    /// An integer array such as `dims = [0, 2, 1]`.
    pub fn as_int_array(&self) -> Option<Vec<i64>> {
        self.as_array()?.iter().map(Attribute::as_int).collect()
    }

    /// An integer or symbolic expression.
    pub fn as_sym_expr(&self) -> Option<SymExpr> {
        match self {
            Attribute::Int(v, _) => Some(SymExpr::Const(*v)),
            Attribute::Sym(e) => Some(e.clone()),
            _ => None,
        }
    }

    pub fn as_type(&self) -> Option<&Type> {
        match self {
            Attribute::Type(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_dtype(&self) -> Option<DType> {
        match self {
            Attribute::Type(t) => match **t {
                Type::Scalar(d) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }

    /// Short description of the kind, for diagnostics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Attribute::Int(..) => "integer",
            Attribute::Float(..) => "float",
            Attribute::Bool(_) => "bool",
            Attribute::String(_) => "string",
            Attribute::Array(_) => "array",
            Attribute::Dict(_) => "dictionary",
            Attribute::Type(_) => "type",
            Attribute::Sym(_) => "symbolic expression",
            Attribute::SymbolRef(_) => "symbol reference",
            Attribute::DenseResource { .. } => "dense resource",
            Attribute::Unit => "unit",
        }
    }
}

/// A dictionary of attributes, kept sorted by name like MLIR's. Names known
/// to the dialects are `&'static str`, so most dictionaries allocate no keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttrDict(Vec<(Cow<'static, str>, Attribute)>);

impl AttrDict {
    pub fn new() -> Self {
        AttrDict(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name)).ok().map(|i| &self.0[i].1)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn set(&mut self, name: impl Into<Cow<'static, str>>, value: Attribute) -> Option<Attribute> {
        let name = name.into();
        match self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name.as_ref())) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Attribute> {
        let i = self.0.binary_search_by(|(k, _)| k.as_ref().cmp(name)).ok()?;
        Some(self.0.remove(i).1)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Attribute)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Adds every entry of `other`, replacing entries with the same name.
    pub fn merge(&mut self, other: AttrDict) {
        for (k, v) in other.0 {
            self.set(k, v);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Floats print so MLIR reads them back exactly: shortest round-trip digits,
/// always with a `.`, and non-finite values as the hex bit pattern.
pub fn write_float(out: &mut String, v: f64, dtype: DType) {
    // Judge finiteness in the attribute's own precision (1e39 is inf in f32).
    let finite = if dtype == DType::F64 { v.is_finite() } else { (v as f32).is_finite() };
    if !finite {
        let f32_bits = (v as f32).to_bits();
        let _ = match dtype {
            DType::F32 => write!(out, "0x{f32_bits:08X}"),
            DType::BF16 => write!(out, "0x{:04X}", f32_bits >> 16),
            DType::F16 => {
                let sign = if v.is_sign_negative() { 0x8000 } else { 0 };
                let bits: u16 = if v.is_nan() { 0x7E00 } else { sign | 0x7C00 };
                write!(out, "0x{bits:04X}")
            }
            _ => write!(out, "0x{:016X}", v.to_bits()),
        };
        return;
    }
    let s = if dtype == DType::F32 { format!("{:?}", v as f32) } else { format!("{v:?}") };
    if s.contains('.') {
        out.push_str(&s);
    } else if let Some(e) = s.find('e') {
        out.push_str(&s[..e]);
        out.push_str(".0");
        out.push_str(&s[e..]);
    } else {
        out.push_str(&s);
        out.push_str(".0");
    }
}

/// Bare identifiers print unquoted in dictionaries, everything else quoted.
pub fn is_bare_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.')
}

pub fn write_string_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn write_attr(out: &mut String, attr: &Attribute, generic: bool) {
    match attr {
        Attribute::Int(v, ty) => {
            let _ = write!(out, "{v}");
            if *ty != DType::I64 {
                let _ = write!(out, " : {ty}");
            }
        }
        Attribute::Float(v, ty) => {
            write_float(out, *v, *ty);
            // Hex bit patterns read back as integers unless typed.
            let hex = if *ty == DType::F64 { !v.is_finite() } else { !(*v as f32).is_finite() };
            if *ty != DType::F64 || hex {
                let _ = write!(out, " : {ty}");
            }
        }
        Attribute::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Attribute::String(s) => write_string_literal(out, s),
        Attribute::Array(items) => {
            out.push('[');
            for (i, a) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_attr(out, a, generic);
            }
            out.push(']');
        }
        Attribute::Dict(d) => write_attr_dict(out, d, generic),
        Attribute::Type(t) => write_type(out, t, generic),
        Attribute::Sym(e) => {
            if generic {
                e.write_affine_map(out)
            } else {
                e.write(out)
            }
        }
        Attribute::SymbolRef(s) => write_symbol_name(out, s),
        Attribute::DenseResource { handle, ty } => {
            let _ = write!(out, "dense_resource<{handle}> : ");
            write_type(out, &Type::Tensor((**ty).clone()), generic);
        }
        Attribute::Unit => out.push_str("unit"),
    }
}

pub fn write_symbol_name(out: &mut String, s: &str) {
    out.push('@');
    if is_bare_identifier(s) {
        out.push_str(s);
    } else {
        write_string_literal(out, s);
    }
}

/// `{a = 1, b}`; empty dictionaries print as `{}`.
pub fn write_attr_dict(out: &mut String, d: &AttrDict, generic: bool) {
    out.push('{');
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_bare_identifier(k) {
            out.push_str(k);
        } else {
            write_string_literal(out, k);
        }
        if *v != Attribute::Unit {
            out.push_str(" = ");
            write_attr(out, v, generic);
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_always_have_a_decimal_point() {
        let mut s = String::new();
        write_float(&mut s, 1e-5, DType::F64);
        assert_eq!(s, "1.0e-5");
        s.clear();
        write_float(&mut s, 2.0, DType::F64);
        assert_eq!(s, "2.0");
        s.clear();
        write_float(&mut s, f64::NEG_INFINITY, DType::F64);
        assert_eq!(s, "0xFFF0000000000000");
    }

    /// Attribute arrays (shapes, permutations) are everywhere; keep the
    /// element small so they stay cheap to allocate and copy.
    #[test]
    fn attributes_stay_small() {
        assert!(std::mem::size_of::<Attribute>() <= 32, "Attribute grew to {} bytes", std::mem::size_of::<Attribute>());
    }

    #[test]
    fn dict_stays_sorted() {
        let mut d = AttrDict::new();
        d.set("z", Attribute::int(1));
        d.set("a", Attribute::Unit);
        d.set("m", Attribute::Bool(true));
        let mut s = String::new();
        write_attr_dict(&mut s, &d, false);
        assert_eq!(s, "{a, m = true, z = 1}");
    }
}
