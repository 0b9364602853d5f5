//! Genie's IR: an SSA IR for dataflow graphs whose text is MLIR.
//!
//! - [`Module`] owns ops, values, blocks and regions in arenas ([`module`]).
//! - [`types`], [`attrs`], [`symexpr`] and [`location`] define what ops carry.
//! - [`dialects`] holds the op tables of `func`, `sem` and `exec` as data;
//!   the verifier, shape inference and the IRDL files all derive from them.
//! - [`parse_module`] reads the custom and the generic form, [`print_module`]
//!   writes either, and [`verify`] reports located diagnostics.

pub mod attrs;
pub mod diagnostics;
pub mod dialects;
pub mod location;
pub mod module;
pub mod parser;
pub mod printer;
pub mod symexpr;
pub mod types;
pub mod verifier;

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

/// Module attribute holding symbol ranges: `genie.symbols = {s0 = [1, 1024]}`.
pub const SYMBOLS_ATTR: &str = "genie.symbols";
