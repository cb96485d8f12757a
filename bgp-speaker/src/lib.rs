//! BGP speaker library: sans-IO session FSM ([`session`]), RIBs with best path,
//! route reflection and policy ([`rib`]), socket plumbing ([`net`]), and (later) the
//! tokio driver and embedding API.
//!
//! Example against BIRD 2 in network namespaces (root): `cargo run -p bgp-speaker --example bird_peer`.
#![warn(missing_docs)]

pub mod driver;
pub mod net;
pub mod node;
pub mod rib;
pub mod session;

pub use driver::{NeighborConfig, PeerStatus, Speaker, SpeakerConfig, SpeakerError, SpeakerHandle};
