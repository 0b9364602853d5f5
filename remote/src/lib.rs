//! Genie's remote runtime: the wire protocol, a blocking client, and (with
//! the default `server` feature) the `genie-runtime serve` daemon.

pub mod calibrate;
pub mod client;
pub mod protocol;
pub mod rdma;
#[cfg(target_os = "linux")]
pub mod shm;
#[cfg(feature = "server")]
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod store;
pub mod tls;
