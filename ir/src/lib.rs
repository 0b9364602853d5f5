//! Genie's IR: an SSA IR for dataflow graphs whose text is MLIR.
//!
//! - [`Module`] owns ops, values, blocks and regions in arenas ([`module`]).
//! - [`types`], [`attrs`], [`symexpr`] (from `genie-ops`) and [`location`]
//!   define what ops carry.
//! - [`dialects`] holds the op tables of `func`, `sem` and `exec` as data
//!   (defined in `genie-ops`); the verifier, shape inference and the IRDL
//!   files all derive from them.
//! - [`parse_module`] reads the custom and the generic form, [`print_module`]
//!   writes either, and [`verify`] reports located diagnostics.

pub mod diagnostics;
pub mod dialects;
pub mod location;
pub mod module;
pub mod parser;
pub mod printer;
pub mod verifier;

// Types, attributes, symbolic sizes and the op tables live in `genie-ops`
// (shared with the plan format); the IR re-exports them under their old paths.
pub use genie_ops::{attrs, symexpr, types, Op, SYMBOLS_ATTR};

pub use attrs::{AttrDict, Attribute};
pub use diagnostics::{Diagnostic, Diagnostics, Severity, SrcPos};
pub use dialects::{lookup, OpDef};
pub use location::Location;
pub use module::{BlockId, Builder, Module, OpData, OpId, RegionId, Use, ValueDef, ValueId};
pub use parser::{parse_module, parse_module_at, parse_sym_expr};
pub use printer::print_module;
pub use symexpr::{BinOp, SymExpr};
pub use types::{DType, Dim, TensorType, Type};
pub use verifier::verify;
