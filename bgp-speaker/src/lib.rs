//! BGP speaker library: sans-IO session FSM ([`session`]), RIBs with best path,
//! route reflection and policy ([`rib`]), socket plumbing ([`net`]), and (later) the
//! tokio driver and embedding API.
#![warn(missing_docs)]

pub mod driver;
pub mod net;
pub mod node;
pub mod rib;
pub mod session;

pub use driver::{NeighborConfig, PeerStatus, Speaker, SpeakerConfig, SpeakerError, SpeakerHandle};
