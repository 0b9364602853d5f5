//! Plan interpreter, tensor store, kernel backends and transports.
//!
//! Not implemented yet: this crate only reserves its place in the pipeline
//! (see `../shared/ARCHITECTURE.md`). It exposes nothing until the end-to-end
//! and remote-runtime issues land.
