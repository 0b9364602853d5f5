//! The upstream `func` dialect ops Genie uses to hold graphs.

use super::*;

pub static OPS: &[OpDef] = &[
    OpDef {
        name: "func.func",
        summary: "a captured graph: entry block arguments are its inputs",
        operands: &[],
        results: &[],
        attrs: &[
            req("sym_name", AttrKind::String),
            req("function_type", AttrKind::Type),
            opt("sym_visibility", AttrKind::Enum(&["public", "private", "nested"])),
        ],
        regions: 1,
        traits: Traits::SYMBOL.with(Traits::ISOLATED),
        infer: None,
        code: None,
    },
    OpDef {
        name: "func.return",
        summary: "returns the graph outputs",
        operands: &[variadic(any("operands"))],
        results: &[],
        attrs: &[],
        regions: 0,
        traits: Traits::TERMINATOR,
        infer: None,
        code: None,
    },
];
