//! `exec` dialect → plan bytecode (container, verifier, disassembler).
//!
//! Not implemented yet: this crate only reserves its place in the pipeline
//! (see `../shared/ARCHITECTURE.md`). It exposes nothing until the end-to-end
//! issue lands.
