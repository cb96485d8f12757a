//! Speaker and neighbour configuration for the driver.

use crate::net::TransportOpts;
use crate::rib::{BestPathConfig, NextHopMode, PathAttrs, Policy, Prefix};
use crate::session::{PeerAs, SessionConfig};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The speaker as a whole.
#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    /// Local AS.
    pub local_as: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Addresses to listen on (port included). Empty: no listener (active peers only).
    pub listen: Vec<SocketAddr>,
    /// Route reflector cluster ID (defaults to the router ID when reflecting).
    pub cluster_id: Option<Ipv4Addr>,
    /// Best-path options.
    pub best_path: BestPathConfig,
    /// Static neighbours.
    pub neighbors: Vec<NeighborConfig>,
    /// Dynamic neighbour ranges: a connection from inside a range is accepted with the
    /// range's template.
    pub dynamic: Vec<DynamicNeighbors>,
    /// Per-peer bound on bytes queued for sending; a peer that falls this far behind is
    /// reset with Cease/8 (Out of Resources) and resynchronised when it comes back, so a
    /// stuck peer can neither stall the others nor grow memory without bound.
    pub max_queued_bytes: usize,
    /// Routes to originate before any neighbour starts, so that no session can send
    /// End-of-RIB without them (later ones: [`crate::SpeakerHandle::originate`]).
    pub originate: Vec<(Prefix, PathAttrs)>,
}

impl SpeakerConfig {
    /// A speaker with no neighbours and no listener.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        SpeakerConfig {
            local_as,
            router_id,
            listen: Vec::new(),
            cluster_id: None,
            best_path: BestPathConfig::default(),
            neighbors: Vec::new(),
            dynamic: Vec::new(),
            max_queued_bytes: 64 << 20,
            originate: Vec::new(),
        }
    }
}

/// One neighbour: session, transport, and routing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborConfig {
    /// The neighbour's address.
    pub address: IpAddr,
    /// The neighbour's TCP port (179).
    pub port: u16,
    /// Session settings (AS, timers, capabilities, passive mode, max-prefix, GR).
    pub session: SessionConfig,
    /// Socket settings (source address, MD5, GTSM, TTL).
    pub transport: TransportOpts,
    /// The neighbour is a route-reflector client (RFC 4456).
    pub rr_client: bool,
    /// Import policy (shared: a node's mesh peers all hold the same one).
    pub import: Option<Arc<Policy>>,
    /// Export policy (shared, as `import`).
    pub export: Option<Arc<Policy>>,
    /// Next hop on export.
    pub next_hop: NextHopMode,
    /// Our IPv4 next hop towards this neighbour (next-hop self, local routes) when the
    /// session runs over IPv6; `None` = the session's local address if it is IPv4.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Our IPv6 next hop towards this neighbour (next-hop self, local routes), e.g. for
    /// IPv6 unicast over an IPv4 session (RFC 4760), where the session address cannot
    /// serve; `None` = the session's local address if it is IPv6. Like BIRD's `next hop
    /// address`. Without either, IPv6 routes that need next-hop self are not sent.
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Pass MED on to this (external) neighbour.
    pub send_med: bool,
    /// How many times our own AS may appear in a received AS_PATH.
    pub allow_own_as: u8,
    /// Free text shown in status.
    pub description: String,
}

impl NeighborConfig {
    /// A neighbour with defaults: port 179, active, IPv4 and IPv6 unicast.
    pub fn new(local_as: u32, router_id: Ipv4Addr, address: IpAddr, peer_as: PeerAs) -> Self {
        NeighborConfig {
            address,
            port: 179,
            session: SessionConfig::new(local_as, router_id, peer_as),
            transport: TransportOpts::default(),
            rr_client: false,
            import: None,
            export: None,
            next_hop: NextHopMode::Auto,
            next_hop_v4: None,
            next_hop_v6: None,
            send_med: false,
            allow_own_as: 0,
            description: String::new(),
        }
    }
}

/// Accept any peer from a prefix, applying a template.
#[derive(Debug, Clone)]
pub struct DynamicNeighbors {
    /// Source range.
    pub range: IpNet,
    /// Settings for peers from the range (its `address` is replaced by the source).
    pub template: NeighborConfig,
    /// At most this many peers from the range at once.
    pub limit: usize,
}
