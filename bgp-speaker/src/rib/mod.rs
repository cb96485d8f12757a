//! Routing information bases: Adj-RIB-In, Loc-RIB, Adj-RIB-Out, best path, reflection, policy.
//!
//! Everything here is sans-IO: plain data structures, methods in, changes out.
//!
//! # Layout
//!
//! - [`Rib`] holds the Adj-RIBs-In of every peer and the Loc-RIB in one prefix table
//!   (like BIRD's and FRR's `bgp_dest`): per prefix a small vector of paths
//!   `(peer, path id, interned attributes, flags)` ordered so that the best path comes
//!   first, then the rest of the ECMP set, then the others. A peer's Adj-RIB-In is the
//!   set of its paths (post-import-policy; paths rejected by policy or loop checks are
//!   kept with a `rejected` flag so they are counted as received, as BIRD's
//!   `import keep filtered`).
//! - Attribute sets ([`PathAttrs`]) are interned in an [`AttrStore`]: a slab of
//!   `Arc<PathAttrs>` with reference counts, deduplicated through a hash map; paths hold
//!   a `u32` index. The slab also caches the fields best-path selection reads.
//! - Best path ([`best`]): RFC 4271 §9.1.2.2 with the RFC 4456 §9 tie-breaks and
//!   deterministic MED; the ECMP set is exposed.
//! - Loc-RIB changes are queued (coalesced per prefix) and drained with
//!   [`Rib::drain_changes`]; the kernel sync and [`OutGroups`] consume them.
//! - [`OutGroups`] keeps the Adj-RIB-Out per update group (FRR's update groups): peers
//!   with identical outbound settings share one encoding ([`bytes::Bytes`]).
//! - Export rules ([`export`], RFC 4271 §9.1.3, RFC 1997, RFC 4456 §8) and policy
//!   ([`policy`], serde-configurable).
//!
//! # Driver usage
//!
//! ```text
//! let mut rib = Rib::new(RibConfig { local_as, router_id, cluster_id, .. });
//! let p = rib.add_peer(PeerConfig { .. });        // once per configured neighbour
//! // session events:
//! PeerUp(info)      => { rib.peer_up(p); let (_, batches) = out.join(&rib, p, member); send(batches) }
//! Update(u)         => rib.apply_update(p, &u),
//! PeerDown          => { rib.peer_down(p); out.leave(p) }
//! PeerRestarting    => rib.mark_stale(p, &families),
//! EndOfRib(f) / StaleSweep => rib.sweep_stale(p, f),
//! // after each batch of input (e.g. each socket read burst):
//! let changes = rib.drain_changes();
//! fib.apply(&changes);
//! for b in out.process(&rib, &changes) { for m in out.recipients(&b) { write(m, b.bytes.clone()) } }
//! ```

mod adj_in;
mod adj_out;
pub mod attrs;
pub mod best;
pub mod export;
mod loc;
pub mod out;
pub mod peer;
pub mod policy;
pub mod reflect;
mod shard;

#[cfg(test)]
mod tests;

pub use attrs::{AttrId, AttrStore, PathAttrs};
pub use best::BestPathConfig;
pub use loc::{BestChange, PeerCounts, Rib, RibConfig, Route, RouteInfo};
pub use out::{GroupId, MemberConfig, OutBatch, OutGroups, Target};
pub use peer::{NextHopMode, PeerConfig, PeerId, PeerKind};
pub use policy::{Policy, PolicyId};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A unicast prefix of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "IpNet", from = "IpNet")]
pub enum Prefix {
    /// IPv4 unicast.
    V4(Ipv4Net),
    /// IPv6 unicast.
    V6(Ipv6Net),
}

impl Prefix {
    /// Whether this is an IPv4 prefix.
    pub fn is_v4(&self) -> bool {
        matches!(self, Prefix::V4(_))
    }

    /// The family (IPv4 or IPv6 unicast).
    pub fn family(&self) -> bgp_proto::AfiSafi {
        match self {
            Prefix::V4(_) => bgp_proto::AfiSafi::IPV4_UNICAST,
            Prefix::V6(_) => bgp_proto::AfiSafi::IPV6_UNICAST,
        }
    }

    /// The prefix length.
    pub fn len(&self) -> u8 {
        match self {
            Prefix::V4(p) => p.prefix_len(),
            Prefix::V6(p) => p.prefix_len(),
        }
    }

    /// Whether the prefix length is zero (a default route).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<IpNet> for Prefix {
    fn from(n: IpNet) -> Self {
        match n.trunc() {
            IpNet::V4(p) => Prefix::V4(p),
            IpNet::V6(p) => Prefix::V6(p),
        }
    }
}

impl From<Prefix> for IpNet {
    fn from(p: Prefix) -> Self {
        match p {
            Prefix::V4(p) => IpNet::V4(p),
            Prefix::V6(p) => IpNet::V6(p),
        }
    }
}

impl From<Ipv4Net> for Prefix {
    fn from(p: Ipv4Net) -> Self {
        Prefix::V4(p.trunc())
    }
}

impl From<Ipv6Net> for Prefix {
    fn from(p: Ipv6Net) -> Self {
        Prefix::V6(p.trunc())
    }
}

impl std::str::FromStr for Prefix {
    type Err = ipnet::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.parse::<IpNet>()?.into())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(p) => p.fmt(f),
            Prefix::V6(p) => p.fmt(f),
        }
    }
}
