//! A dedicated BGP route reflector (RFC 4456) for Calico-style Kubernetes clusters,
//! over [`bgp_speaker`]: a TOML configuration of neighbour groups (static peers and
//! dynamic ranges, clients and non-clients), checked with file:line errors; reload
//! without resetting unchanged sessions; a control socket for `status`, `routes`,
//! `reload` and `dump --mrt`; optional Prometheus metrics. No kernel routes.
//!
//! See `route-reflector/README.md` and `examples/reflector.toml`.
#![warn(missing_docs)]

pub mod check;
pub mod config;
pub mod control;
pub mod daemon;
pub mod metrics;
pub mod mrt;
pub mod status;

pub use config::{Config, ConfigError};
