//! Op definitions as data: one table per dialect, shared by the parser, the
//! verifier, shape inference and the IRDL emitter (so the IRDL files under
//! `ir/dialects/` are generated from the same source the verifier checks).

pub mod check;
pub mod exec;
pub mod func;
pub mod infer;
pub mod sem;

use crate::attrs::AttrDict;
use crate::types::Type;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What kind of value an operand or result holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Tensor,
    /// A tensor, or `none` for an absent optional argument.
    OptTensor,
    Scalar,
    TensorOrScalar,
    Future,
    None,
    Any,
}

impl ValueKind {
    pub fn accepts(self, ty: &Type) -> bool {
        match self {
            ValueKind::Tensor => ty.is_tensor(),
            ValueKind::OptTensor => ty.is_tensor() || *ty == Type::None,
            ValueKind::Scalar => ty.is_scalar(),
            ValueKind::TensorOrScalar => ty.is_tensor() || ty.is_scalar(),
            ValueKind::Future => matches!(ty, Type::Future(_)),
            ValueKind::None => *ty == Type::None,
            ValueKind::Any => true,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Tensor => "a tensor",
            ValueKind::OptTensor => "a tensor or none",
            ValueKind::Scalar => "a scalar",
            ValueKind::TensorOrScalar => "a tensor or scalar",
            ValueKind::Future => "a future",
            ValueKind::None => "none",
            ValueKind::Any => "any value",
        }
    }
}

/// An operand or result slot. At most one slot per list is variadic.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub name: &'static str,
    pub kind: ValueKind,
    pub variadic: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    Int,
    Float,
    /// Integer or float.
    Number,
    Bool,
    String,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// Integer or symbolic expression.
    IntOrSym,
    /// An integer or an array of integers (ATen `int[1]` arguments).
    IntOrList,
    /// A Python scalar: integer, float or bool.
    Scalar,
    /// Array of integers (or symbolic expressions).
    IntArray,
    Array,
    Dict,
    DType,
    Type,
    SymbolRef,
    Resource,
    Any,
}

#[derive(Clone, Copy, Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub kind: AttrKind,
    pub required: bool,
}

/// Op properties that passes rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traits(u8);

impl Traits {
    /// No side effects and no reads of mutable state: CSE and DCE may act.
    pub const PURE: Traits = Traits(1);
    /// Reads state but writes none: removable when unused, never merged.
    pub const READ_ONLY: Traits = Traits(2);
    pub const TERMINATOR: Traits = Traits(4);
    /// Defines a module-level symbol through `sym_name`.
    pub const SYMBOL: Traits = Traits(8);
    /// Its regions cannot see values defined outside.
    pub const ISOLATED: Traits = Traits(16);
    /// Its result may share memory with its first operand (a view).
    pub const VIEW: Traits = Traits(32);
    pub const NONE: Traits = Traits(0);

    pub const fn with(self, other: Traits) -> Traits {
        Traits(self.0 | other.0)
    }

    pub fn has(self, t: Traits) -> bool {
        self.0 & t.0 == t.0 && t.0 != 0
    }
}

/// Operand and result types plus attributes, as seen by a shape rule.
pub struct InferCtx<'a> {
    pub op_name: &'static str,
    pub operands: Vec<&'a Type>,
    pub attrs: &'a AttrDict,
    /// How many results the op declares (for variadic results).
    pub num_results: usize,
}

/// Computes result types from operand types and attributes, or explains why
/// the operands are invalid.
pub type InferFn = fn(&InferCtx) -> Result<Vec<Type>, String>;

#[derive(Debug)]
pub struct OpDef {
    pub name: &'static str,
    pub summary: &'static str,
    pub operands: &'static [Slot],
    pub results: &'static [Slot],
    pub attrs: &'static [AttrDef],
    pub regions: usize,
    pub traits: Traits,
    pub infer: Option<InferFn>,
    /// The opcode plans carry, for `sem` ops (kernels); `None` for `func`
    /// and `exec` ops, which plans express as instructions of their own.
    pub code: Option<sem::Op>,
}

impl OpDef {
    pub fn dialect(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(d, _)| d)
    }

    /// Name without the dialect prefix.
    pub fn short_name(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(_, n)| n)
    }

    pub fn attr_def(&self, name: &str) -> Option<&'static AttrDef> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn is_pure(&self) -> bool {
        self.traits.has(Traits::PURE)
    }

    /// Its results may share memory with its first operand.
    pub fn is_view(&self) -> bool {
        self.traits.has(Traits::VIEW)
    }

    /// Removable when its results are unused.
    pub fn is_removable(&self) -> bool {
        self.traits.has(Traits::PURE) || self.traits.has(Traits::READ_ONLY)
    }
}

// Short constructors keep the op tables readable.
pub const fn tensor(name: &'static str) -> Slot {
    Slot { name, kind: ValueKind::Tensor, variadic: false }
}
pub const fn opt_tensor(name: &'static str) -> Slot {
    Slot { name, kind: ValueKind::OptTensor, variadic: false }
}
pub const fn scalar(name: &'static str) -> Slot {
    Slot { name, kind: ValueKind::Scalar, variadic: false }
}
pub const fn tensor_or_scalar(name: &'static str) -> Slot {
    Slot { name, kind: ValueKind::TensorOrScalar, variadic: false }
}
pub const fn any(name: &'static str) -> Slot {
    Slot { name, kind: ValueKind::Any, variadic: false }
}
pub const fn variadic(slot: Slot) -> Slot {
    Slot { variadic: true, ..slot }
}
pub const fn req(name: &'static str, kind: AttrKind) -> AttrDef {
    AttrDef { name, kind, required: true }
}
pub const fn opt(name: &'static str, kind: AttrKind) -> AttrDef {
    AttrDef { name, kind, required: false }
}

/// Semantic attributes any `sem` or `exec` op may carry: what Genie recovers
/// about the program. Discardable, so they use the `sem.` prefix.
pub const SEMANTIC_ATTRS: &[AttrDef] = &[
    opt("sem.module_path", AttrKind::String),
    opt("sem.module_class", AttrKind::String),
    opt("sem.source_fn", AttrKind::String),
    opt("sem.layer", AttrKind::Int),
    opt("sem.role", AttrKind::Enum(&["weight", "activation", "kv-state", "embedding-table", "input", "output"])),
    opt("sem.phase", AttrKind::Enum(&["prefill", "decode", "encode", "train-forward", "train-backward"])),
    opt("sem.modality", AttrKind::Enum(&["vision", "text", "audio", "tabular", "fusion"])),
    // Kinds of the patterns rooted at this op (comma-separated), set by
    // `genie-sem-annotate`.
    opt("sem.pattern", AttrKind::String),
];

/// Every registered op of every dialect.
pub fn all_ops() -> impl Iterator<Item = &'static OpDef> {
    func::OPS.iter().chain(sem::OPS.iter()).chain(exec::OPS.iter())
}

/// Finds an op definition by its full name (`sem.add`).
pub fn lookup(name: &str) -> Option<&'static OpDef> {
    static TABLE: OnceLock<HashMap<&'static str, &'static OpDef>> = OnceLock::new();
    TABLE.get_or_init(|| all_ops().map(|d| (d.name, d)).collect()).get(name).copied()
}

/// The `'static` spelling of an attribute name some op or the semantic set
/// declares, so dictionaries can hold it without allocating.
pub fn known_attr_name(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let mut set: std::collections::HashSet<&'static str> =
                all_ops().flat_map(|d| d.attrs.iter()).chain(SEMANTIC_ATTRS).map(|a| a.name).collect();
            set.insert(crate::SYMBOLS_ATTR);
            set
        })
        .get(name)
        .copied()
}

/// Names of the registered dialects.
pub const DIALECTS: &[&str] = &["func", "sem", "exec"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for d in all_ops() {
            assert!(seen.insert(d.name), "duplicate op {}", d.name);
            assert!(DIALECTS.contains(&d.dialect()), "{} has an unknown dialect", d.name);
            assert!(d.operands.iter().filter(|s| s.variadic).count() <= 1, "{}", d.name);
            assert!(d.results.iter().filter(|s| s.variadic).count() <= 1, "{}", d.name);
        }
    }

    #[test]
    fn every_sem_op_has_a_shape_rule() {
        for d in sem::OPS {
            assert!(d.infer.is_some(), "{} has no shape rule", d.name);
        }
    }
}
