//! E-graph pattern engine over the `sem` dialect (attention, MLP, norms, …).
//!
//! Not implemented yet: this crate only reserves its place in the pipeline
//! (see `../shared/ARCHITECTURE.md`). It exposes nothing until the semantic
//! analysis issue lands.
