//! Route reflection (RFC 4456) and the import loop checks.
//!
//! Reflection rules (RFC 4456 §8), applied by [`crate::rib::export`]:
//! - a route from a client goes to all clients (except the originator: split horizon)
//!   and to all non-clients;
//! - a route from a non-client iBGP peer goes to clients only;
//! - a route from an eBGP peer (or local) goes to everyone.
//!
//! When reflecting, ORIGINATOR_ID is set to the originating peer's BGP identifier if
//! absent and the CLUSTER_ID is prepended to CLUSTER_LIST. The next hop is not changed
//! (a reflector that rewrites next hops breaks forwarding: BIRD's known pitfall).

use crate::rib::attrs::PathAttrs;
use crate::rib::peer::PeerKind;
use std::net::Ipv4Addr;

/// Why a received route was rejected by a loop check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopReason {
    /// Our AS appears in AS_PATH more than the allowed number of times
    /// (RFC 4271 §9.1.2).
    AsPath,
    /// ORIGINATOR_ID is our router ID (RFC 4456 §8).
    OriginatorId,
    /// CLUSTER_LIST holds our cluster ID (RFC 4456 §8).
    ClusterList,
}

/// The import loop checks for a route received from a peer of kind `from`.
pub fn import_loop(
    a: &PathAttrs,
    from: PeerKind,
    local_as: u32,
    allow_own_as: u8,
    router_id: Ipv4Addr,
    cluster_id: Ipv4Addr,
) -> Option<LoopReason> {
    if from == PeerKind::Local {
        return None;
    }
    if a.as_path.count(local_as) > allow_own_as as usize {
        return Some(LoopReason::AsPath);
    }
    if a.originator_id == Some(router_id) {
        return Some(LoopReason::OriginatorId);
    }
    if a.cluster_list.contains(&cluster_id) {
        return Some(LoopReason::ClusterList);
    }
    None
}

/// Whether a route learned from `from` may be sent to a peer of kind `to`, as far as
/// the iBGP rules go (RFC 4271 §9.1.3 and RFC 4456 §8), and whether that is a
/// reflection.
pub fn ibgp_rule(from: PeerKind, to: PeerKind) -> Option<bool> {
    match (from, to) {
        (PeerKind::RrClient, PeerKind::RrClient | PeerKind::Ibgp) => Some(true),
        (PeerKind::Ibgp, PeerKind::RrClient) => Some(true),
        // RFC 4271 §9.1.3: iBGP-learned routes are not sent to other iBGP peers.
        (PeerKind::Ibgp, PeerKind::Ibgp) => None,
        _ => Some(false),
    }
}

/// Applies the reflection attribute changes (RFC 4456 §8).
pub fn reflect(a: &mut PathAttrs, originator: Ipv4Addr, cluster_id: Ipv4Addr) {
    if a.originator_id.is_none() {
        a.originator_id = Some(originator);
    }
    a.cluster_list.insert(0, cluster_id);
}
