//! What an op is, defined once and shared by the compiler (`genie-ir`) and
//! the plan format (`genie-plan`), so the runtime checks plans with the
//! compiler's own rules without linking the compiler.
//!
//! - [`types`], [`attrs`] and [`symexpr`]: what values and ops carry;
//! - [`dialects`]: the op tables of `func`, `sem` and `exec` as data
//!   (operands, results, attributes, traits, shape/dtype rules), and
//!   [`Op`], the opcode of every `sem` op.

pub mod attrs;
pub mod dialects;
pub mod symexpr;
pub mod types;

pub use attrs::{AttrDict, Attribute};
pub use dialects::{lookup, sem::Op, OpDef};
pub use symexpr::{BinOp, SymExpr};
pub use types::{DType, Dim, TensorType, Type};

/// Module attribute holding symbol ranges: `genie.symbols = {s0 = [1, 1024]}`.
pub const SYMBOLS_ATTR: &str = "genie.symbols";
