//! FX graph → `sem` dialect importer.
//!
//! Not implemented yet: this crate only reserves its place in the pipeline
//! (see `../shared/ARCHITECTURE.md`). The importer arrives with the
//! `torch.compile(backend="genie")` issue; until then it exposes nothing.
