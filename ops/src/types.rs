//! Types: ranked tensors with static, symbolic or unknown dims, scalars,
//! tuples, lists, futures and function types.
//!
//! Text forms follow MLIR's builtin types. Symbolic dims print as their symbol
//! in the custom form (`tensor<s0x768xf32>`) and, in the generic form, as `?`
//! plus a string encoding naming the symbols of the dynamic dims
//! (`tensor<?x768xf32, "s0">`), so upstream `mlir-opt` reads it unchanged.

use std::fmt;

/// Element types of tensors and scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    /// Booleans (`i1`).
    I1,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::F64,
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I64,
        DType::I32,
        DType::I16,
        DType::I8,
        DType::U8,
        DType::I1,
    ];

    /// MLIR spelling (`u8` is `ui8` in MLIR).
    pub fn mlir_name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::I16 => "i16",
            DType::I8 => "i8",
            DType::U8 => "ui8",
            DType::I1 => "i1",
        }
    }

    pub fn from_mlir_name(s: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.mlir_name() == s)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32 | DType::F16 | DType::BF16)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8)
    }

    pub fn is_bool(self) -> bool {
        self == DType::I1
    }

    /// Size of one element in bytes (bool is stored as one byte).
    pub fn byte_size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::I1 => 1,
        }
    }

    /// Category for PyTorch-style promotion: bool < integer < float.
    fn category(self) -> u8 {
        if self.is_bool() {
            0
        } else if self.is_int() {
            1
        } else {
            2
        }
    }

    /// PyTorch type promotion between two tensor dtypes.
    pub fn promote(a: DType, b: DType) -> DType {
        if a == b {
            return a;
        }
        let (ca, cb) = (a.category(), b.category());
        if ca != cb {
            return if ca > cb { a } else { b };
        }
        match (a, b) {
            // f16 and bf16 promote to f32, like PyTorch.
            (DType::F16, DType::BF16) | (DType::BF16, DType::F16) => DType::F32,
            // u8 with a signed int: the next signed type that holds both.
            (DType::U8, DType::I8) | (DType::I8, DType::U8) => DType::I16,
            _ => {
                if a.byte_size() >= b.byte_size() {
                    a
                } else {
                    b
                }
            }
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mlir_name())
    }
}

/// One tensor dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Static(i64),
    /// A named symbolic size `sN`; its range lives in the module's symbol table.
    Sym(u32),
    /// Unknown size (`?`).
    Dynamic,
}

impl Dim {
    pub fn as_static(self) -> Option<i64> {
        match self {
            Dim::Static(n) => Some(n),
            _ => None,
        }
    }

    /// How much is known: static > symbolic > dynamic.
    fn precision(self) -> u8 {
        match self {
            Dim::Static(_) => 2,
            Dim::Sym(_) => 1,
            Dim::Dynamic => 0,
        }
    }

    /// Two dims can describe the same runtime size. Only two different static
    /// sizes are certainly incompatible (a symbol may be specialised).
    pub fn compatible(self, other: Dim) -> bool {
        match (self, other) {
            (Dim::Static(a), Dim::Static(b)) => a == b,
            _ => true,
        }
    }

    /// The more precise of two compatible dims.
    pub fn refine(self, other: Dim) -> Dim {
        if other.precision() > self.precision() {
            other
        } else {
            self
        }
    }
}

/// Dims stored inline: tensors of rank ≤ 6 need no heap allocation.
pub type Dims = smallvec::SmallVec<[Dim; 6]>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dims: Dims,
    pub dtype: DType,
}

impl TensorType {
    pub fn new(dims: impl Into<Dims>, dtype: DType) -> Self {
        TensorType { dims: dims.into(), dtype }
    }

    pub fn of_static(shape: &[i64], dtype: DType) -> Self {
        TensorType { dims: shape.iter().map(|&n| Dim::Static(n)).collect(), dtype }
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    pub fn static_shape(&self) -> Option<Vec<i64>> {
        self.dims.iter().map(|d| d.as_static()).collect()
    }

    /// The element count of a static shape; `None` when a dim is not
    /// static, or the count does not fit an i64 (a hostile plan's type).
    pub fn num_elements(&self) -> Option<i64> {
        self.static_shape()?.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Tensor(TensorType),
    /// A scalar (Python int/float/bool, SymInt): `i64`, `f64`, `i1`, …
    Scalar(DType),
    /// `none`: an absent optional argument.
    None,
    Tuple(Vec<Type>),
    /// `!sem.list<T>`: an FX list value of homogeneous elements.
    List(Box<Type>),
    /// `!exec.future<T>`: the pending result of an async transfer or kernel.
    Future(Box<Type>),
    Function(Vec<Type>, Vec<Type>),
}

impl Type {
    pub fn tensor(dims: impl Into<Dims>, dtype: DType) -> Type {
        Type::Tensor(TensorType::new(dims, dtype))
    }

    pub fn as_tensor(&self) -> Option<&TensorType> {
        match self {
            Type::Tensor(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_tensor(&self) -> bool {
        matches!(self, Type::Tensor(_))
    }

    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Scalar(_))
    }

    /// Element type of a tensor or scalar.
    pub fn dtype(&self) -> Option<DType> {
        match self {
            Type::Tensor(t) => Some(t.dtype),
            Type::Scalar(d) => Some(*d),
            _ => None,
        }
    }

    /// Whether a value of type `self` may stand where `other` is declared.
    pub fn compatible(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Tensor(a), Type::Tensor(b)) => {
                a.dtype == b.dtype
                    && a.dims.len() == b.dims.len()
                    && a.dims.iter().zip(&b.dims).all(|(x, y)| x.compatible(*y))
            }
            (Type::Tuple(a), Type::Tuple(b)) | (Type::Function(a, _), Type::Function(b, _))
                if a.len() != b.len() =>
            {
                false
            }
            (Type::Tuple(a), Type::Tuple(b)) => a.iter().zip(b).all(|(x, y)| x.compatible(y)),
            (Type::List(a), Type::List(b)) | (Type::Future(a), Type::Future(b)) => a.compatible(b),
            _ => self == other,
        }
    }

    /// Merge two compatible types, keeping the most precise dims of each.
    pub fn refine(&self, other: &Type) -> Type {
        match (self, other) {
            (Type::Tensor(a), Type::Tensor(b)) if a.dims.len() == b.dims.len() => Type::tensor(
                a.dims.iter().zip(&b.dims).map(|(x, y)| x.refine(*y)).collect::<Dims>(),
                a.dtype,
            ),
            _ => self.clone(),
        }
    }
}

/// Writes a type. `generic` selects MLIR-compatible spelling of symbolic dims.
pub fn write_type(out: &mut String, ty: &Type, generic: bool) {
    use std::fmt::Write;
    match ty {
        Type::Tensor(t) => {
            out.push_str("tensor<");
            let mut syms = Vec::new();
            for d in &t.dims {
                match d {
                    Dim::Static(n) => {
                        let _ = write!(out, "{n}");
                    }
                    Dim::Dynamic => {
                        out.push('?');
                        syms.push(None);
                    }
                    Dim::Sym(s) => {
                        if generic {
                            out.push('?');
                        } else {
                            let _ = write!(out, "s{s}");
                        }
                        syms.push(Some(*s));
                    }
                }
                out.push('x');
            }
            out.push_str(t.dtype.mlir_name());
            if generic && syms.iter().any(|s| s.is_some()) {
                out.push_str(", \"");
                for (i, s) in syms.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    match s {
                        Some(s) => {
                            let _ = write!(out, "s{s}");
                        }
                        None => out.push('_'),
                    }
                }
                out.push('"');
            }
            out.push('>');
        }
        Type::Scalar(d) => out.push_str(d.mlir_name()),
        Type::None => out.push_str("none"),
        Type::Tuple(elems) => {
            out.push_str("tuple<");
            write_type_list(out, elems, generic);
            out.push('>');
        }
        Type::List(e) => {
            out.push_str("!sem.list<");
            write_type(out, e, generic);
            out.push('>');
        }
        Type::Future(e) => {
            out.push_str("!exec.future<");
            write_type(out, e, generic);
            out.push('>');
        }
        Type::Function(ins, outs) => {
            out.push('(');
            write_type_list(out, ins, generic);
            out.push_str(") -> ");
            write_result_types(out, outs, generic);
        }
    }
}

/// `a, b, c`
pub fn write_type_list(out: &mut String, tys: &[Type], generic: bool) {
    for (i, t) in tys.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_type(out, t, generic);
    }
}

/// Result list of a function type: a single non-function type bare, else `(…)`.
pub fn write_result_types(out: &mut String, tys: &[Type], generic: bool) {
    if tys.len() == 1 && !matches!(tys[0], Type::Function(..)) {
        write_type(out, &tys[0], generic);
    } else {
        out.push('(');
        write_type_list(out, tys, generic);
        out.push(')');
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_type(&mut s, self, false);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_pytorch() {
        assert_eq!(DType::promote(DType::I64, DType::F16), DType::F16);
        assert_eq!(DType::promote(DType::F16, DType::BF16), DType::F32);
        assert_eq!(DType::promote(DType::I1, DType::I32), DType::I32);
        assert_eq!(DType::promote(DType::U8, DType::I8), DType::I16);
        assert_eq!(DType::promote(DType::F32, DType::F64), DType::F64);
    }

    #[test]
    fn symbolic_dims_print_in_both_forms() {
        let t = Type::tensor(vec![Dim::Sym(0), Dim::Dynamic, Dim::Static(768)], DType::F32);
        let mut custom = String::new();
        write_type(&mut custom, &t, false);
        assert_eq!(custom, "tensor<s0x?x768xf32>");
        let mut generic = String::new();
        write_type(&mut generic, &t, true);
        assert_eq!(generic, "tensor<?x?x768xf32, \"s0,_\">");
    }
}
