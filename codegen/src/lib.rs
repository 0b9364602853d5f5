//! Code generation: an `exec` host function (or a `sem` function, placed on
//! one device first) compiled to a [`genie_plan::Plan`] ([`compile`]), with
//! buffer planning ([`buffers`]). The plan format itself — encoder,
//! decoder, verifier, disassembler — is `genie-plan`, which the runtime
//! shares without linking the compiler.

pub mod buffers;
pub mod compile;

pub use buffers::{plan_buffers, static_bytes};
pub use compile::{compile_function, compile_module};
