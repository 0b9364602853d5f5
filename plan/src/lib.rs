//! The plan: the only contract between Genie's compiler and its runtime.
//!
//! A versioned bytecode ([`bytecode`]: encoder and decoder), its in-memory
//! form ([`plan`]: a device table, one instruction stream per device, a
//! buffer table, resident state, inputs and outputs with where each lives),
//! a verifier that applies the op table's own type rules ([`verify`]) and a
//! disassembler (`Display` on [`Plan`], what `genie-opt --dump-plan` prints).
//! It depends on `genie-ops` alone: the runtime and the server link no
//! compiler crate.

pub mod builder;
pub mod bytecode;
pub mod plan;
pub mod target;
pub mod verify;

pub use builder::Builder;
pub use bytecode::{decode, encode, PlanError, VERSION_MAJOR, VERSION_MINOR};
pub use genie_ops::{dialects, AttrDict, Attribute, DType, Dim, Op, TensorType, Type};
pub use plan::{Buffer, Device, DeviceKind, Instr, Output, Plan, Resident, ResidentKind, Role, ValueInfo};
pub use target::{Link, Target, TargetDevice};
pub use verify::verify;
