//! Peers as the RIB sees them: small integer ids and their configuration.

use crate::rib::policy::PolicyId;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// A peer's index in the [`crate::rib::Rib`]. [`PeerId::LOCAL`] is the local
/// pseudo-peer that originates the node's own prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PeerId(pub u32);

impl PeerId {
    /// The local pseudo-peer (originated routes).
    pub const LOCAL: PeerId = PeerId(0);
}

/// The relationship with a peer: what RFC 4271 and RFC 4456 rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerKind {
    /// External peer (different AS).
    Ebgp,
    /// Internal peer that is not a route-reflector client (or any internal peer when we
    /// are not a reflector).
    Ibgp,
    /// Internal peer that is our route-reflector client (RFC 4456 §8).
    RrClient,
    /// The local pseudo-peer.
    Local,
}

impl PeerKind {
    /// Whether the peer is internal (iBGP, client or not).
    pub fn is_internal(self) -> bool {
        matches!(self, PeerKind::Ibgp | PeerKind::RrClient)
    }
}

/// What NEXT_HOP to send to a peer (BIRD's `next hop self` / `next hop keep`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextHopMode {
    /// Self for eBGP, keep for iBGP (BIRD's default).
    #[default]
    Auto,
    /// Always our session address, except for reflected routes (RFC 4456 §8: a
    /// reflector does not change the next hop; FRR's `next-hop-self` without `force`).
    SelfAddr,
    /// Never change the next hop (also towards eBGP peers: a route server / third-party
    /// next hop, RFC 4271 §5.1.3).
    Keep,
}

/// A peer's static configuration, given to [`crate::rib::Rib::add_peer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    /// The peer's address (the last best-path tie-break, RFC 4271 §9.1.2.2 g).
    pub address: IpAddr,
    /// The peer's AS.
    pub asn: u32,
    /// The peer's BGP identifier from its OPEN (default ORIGINATOR_ID, RFC 4456 §9).
    /// Updated by [`crate::rib::Rib::peer_up`].
    pub router_id: Ipv4Addr,
    /// The relationship.
    pub kind: PeerKind,
    /// Import policy.
    #[serde(default)]
    pub import_policy: Option<PolicyId>,
    /// Export policy.
    #[serde(default)]
    pub export_policy: Option<PolicyId>,
    /// How many times our own AS may appear in a received AS_PATH (0: any occurrence is
    /// a loop, RFC 4271 §9.1.2; Cisco's `allowas-in`).
    #[serde(default)]
    pub allow_own_as: u8,
    /// NEXT_HOP handling when sending to this peer.
    #[serde(default)]
    pub next_hop: NextHopMode,
    /// Pass MED on to this eBGP peer (RFC 4271 §5.1.4 says a MED received from a
    /// neighbouring AS must not go to other ASes; off by default).
    #[serde(default)]
    pub send_med: bool,
    /// The AS we present to this peer when it differs from the RIB's (a per-peer local
    /// AS, as BIRD's `local as`): prepended on export and checked for loops on import.
    #[serde(default)]
    pub local_as: Option<u32>,
}

impl PeerConfig {
    /// A configuration with defaults for everything but the identity.
    pub fn new(address: IpAddr, asn: u32, router_id: Ipv4Addr, kind: PeerKind) -> Self {
        PeerConfig {
            address,
            asn,
            router_id,
            kind,
            import_policy: None,
            export_policy: None,
            allow_own_as: 0,
            next_hop: NextHopMode::Auto,
            send_med: false,
            local_as: None,
        }
    }
}
