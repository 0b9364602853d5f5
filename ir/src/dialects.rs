//! The op tables (`func`, `sem`, `exec`) are defined once, in `genie-ops`,
//! which the plan format shares; this module re-exports them and adds what
//! only the compiler needs (the IRDL emitter).

pub use genie_ops::dialects::*;

pub mod irdl;
