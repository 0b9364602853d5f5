//! Emits a dialect's op table as an IRDL specification that upstream
//! `mlir-opt --irdl-file=…` loads. The files under `ir/dialects/` are this
//! output, checked in; a test keeps them equal to the tables.
//!
//! MLIR 19's IRDL cannot express optional attributes, traits or shape rules,
//! so the spec checks op names, operand/result counts and kinds, and required
//! attributes; the Rust verifier checks the rest.

use genie_ops::dialects::{all_ops, AttrKind, OpDef, Slot, ValueKind};
use std::fmt::Write;

const SCALARS: &[&str] = &["i64", "i32", "i16", "i8", "ui8", "i1", "f64", "f32", "f16", "bf16"];

/// Writes constraint ops for one slot, returning the SSA name of the result.
/// Each slot gets fresh constraint values: IRDL unifies reused values, which
/// would force all operands sharing one to have the same type.
struct Emitter {
    out: String,
    next: usize,
}

impl Emitter {
    fn fresh(&mut self, rhs: &str) -> String {
        let name = format!("%{}", self.next);
        self.next += 1;
        let _ = writeln!(self.out, "    {name} = {rhs}");
        name
    }

    fn any_of(&mut self, parts: Vec<String>) -> String {
        let joined = parts.join(", ");
        self.fresh(&format!("irdl.any_of({joined})"))
    }

    fn tensor(&mut self) -> String {
        self.fresh("irdl.base \"!builtin.tensor\"")
    }

    fn scalar_parts(&mut self) -> Vec<String> {
        SCALARS.iter().map(|s| self.fresh(&format!("irdl.is {s}"))).collect()
    }

    fn value(&mut self, kind: ValueKind) -> String {
        match kind {
            ValueKind::Tensor => self.tensor(),
            ValueKind::OptTensor => {
                let parts = vec![self.tensor(), self.fresh("irdl.is none")];
                self.any_of(parts)
            }
            ValueKind::Scalar => {
                let parts = self.scalar_parts();
                self.any_of(parts)
            }
            ValueKind::TensorOrScalar => {
                let mut parts = vec![self.tensor()];
                parts.extend(self.scalar_parts());
                self.any_of(parts)
            }
            ValueKind::Future => self.fresh("irdl.base @exec::@future"),
            ValueKind::None => self.fresh("irdl.is none"),
            ValueKind::Any => self.fresh("irdl.any"),
        }
    }

    fn attr(&mut self, kind: AttrKind) -> String {
        let base = |e: &mut Emitter, name: &str| e.fresh(&format!("irdl.base \"#builtin.{name}\""));
        match kind {
            AttrKind::Int | AttrKind::Bool => base(self, "integer"),
            AttrKind::Float => base(self, "float"),
            AttrKind::Number => {
                let parts = vec![base(self, "integer"), base(self, "float")];
                self.any_of(parts)
            }
            AttrKind::String | AttrKind::Enum(_) => base(self, "string"),
            AttrKind::IntOrSym => {
                let parts = vec![base(self, "integer"), base(self, "affine_map")];
                self.any_of(parts)
            }
            AttrKind::IntOrList => {
                let parts = vec![base(self, "integer"), base(self, "array")];
                self.any_of(parts)
            }
            AttrKind::Scalar => {
                let parts = vec![base(self, "integer"), base(self, "float")];
                self.any_of(parts)
            }
            AttrKind::IntArray | AttrKind::Array => base(self, "array"),
            AttrKind::Dict => base(self, "dictionary"),
            AttrKind::DType | AttrKind::Type => base(self, "type"),
            AttrKind::SymbolRef => base(self, "symbol_ref"),
            AttrKind::Resource => base(self, "dense_resource_elements"),
            AttrKind::Any => self.fresh("irdl.any"),
        }
    }

    fn slots(&mut self, slots: &[Slot]) -> String {
        let names: Vec<String> = slots
            .iter()
            .map(|s| {
                let c = self.value(s.kind);
                if s.variadic {
                    format!("variadic {c}")
                } else {
                    c
                }
            })
            .collect();
        names.join(", ")
    }

    fn op(&mut self, def: &OpDef) {
        self.next = 0;
        let _ = writeln!(self.out, "  // {}", def.summary);
        let _ = writeln!(self.out, "  irdl.operation @{} {{", def.short_name());
        let operands = self.slots(def.operands);
        let results = self.slots(def.results);
        let attrs: Vec<String> = def
            .attrs
            .iter()
            .filter(|a| a.required)
            .map(|a| {
                let c = self.attr(a.kind);
                format!("\"{}\" = {c}", a.name)
            })
            .collect();
        let regions: Vec<String> = (0..def.regions).map(|_| self.fresh("irdl.region")).collect();
        if !operands.is_empty() {
            let _ = writeln!(self.out, "    irdl.operands({operands})");
        }
        if !results.is_empty() {
            let _ = writeln!(self.out, "    irdl.results({results})");
        }
        if !attrs.is_empty() {
            let _ = writeln!(self.out, "    irdl.attributes {{{}}}", attrs.join(", "));
        }
        if !regions.is_empty() {
            let _ = writeln!(self.out, "    irdl.regions({})", regions.join(", "));
        }
        let _ = writeln!(self.out, "  }}");
    }
}

/// IRDL text for `sem` or `exec`; `None` for other dialects.
pub fn emit_irdl(dialect: &str) -> Option<String> {
    let types: &[&str] = match dialect {
        "sem" => &["list"],
        "exec" => &["future"],
        _ => return None,
    };
    let mut e = Emitter { out: String::new(), next: 0 };
    let _ = writeln!(e.out, "// Generated by `genie-opt --emit-irdl={dialect}` from ir/src/dialects/{dialect}.rs; do not edit.");
    let _ = writeln!(e.out, "irdl.dialect @{dialect} {{");
    for t in types {
        let _ = writeln!(e.out, "  irdl.type @{t} {{\n    %0 = irdl.any\n    irdl.parameters(%0)\n  }}");
    }
    for def in all_ops().filter(|d| d.dialect() == dialect) {
        e.op(def);
    }
    let _ = writeln!(e.out, "}}");
    Some(e.out)
}
