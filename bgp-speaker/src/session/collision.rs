//! Connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3).
//!
//! A session sees one connection. When the peer and we connect to each other at the
//! same time the driver holds two sessions for the same peer; once either has the
//! peer's BGP Identifier ([`Session::peer_bgp_id`]) it asks [`Session::should_yield_to`]
//! (or [`resolve_collision`]) which one to close, and feeds the loser
//! [`Input::CollisionLost`](super::Input::CollisionLost), which sends Cease/7.

use super::io::Direction;
use super::state::State;
use super::Session;
use std::net::Ipv4Addr;

/// Which connection survives a collision: the one opened by the speaker with the
/// higher BGP Identifier (RFC 4271 §6.8); on equal identifiers (possible for eBGP,
/// RFC 6286 §2.3) the one opened by the speaker with the larger ASN.
pub fn resolve_collision(local_id: Ipv4Addr, local_asn: u32, remote_id: Ipv4Addr, remote_asn: u32) -> Direction {
    let local_wins = match u32::from(local_id).cmp(&u32::from(remote_id)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => local_asn > remote_asn,
    };
    if local_wins {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

impl Session {
    /// Whether this session's connection must be closed in favour of `other`, a second
    /// connection to the same peer. `false` when there is no collision to resolve yet
    /// (no BGP Identifier known, or neither has a connection past Connect/Active).
    ///
    /// RFC 4271 §6.8: an Established connection always wins over a new one; otherwise
    /// [`resolve_collision`] decides once the peer's identifier is known.
    pub fn should_yield_to(&self, other: &Session) -> bool {
        let (Some(mine), Some(theirs)) = (self.direction(), other.direction()) else { return false };
        if mine == theirs || !self.state().has_open_sent() || !other.state().has_open_sent() {
            return false;
        }
        match (self.state(), other.state()) {
            (State::Established, _) => return false,
            (_, State::Established) => return true,
            _ => {}
        }
        let Some(peer_id) = self.peer_bgp_id().or(other.peer_bgp_id()) else { return false };
        let peer_asn = self.peer_asn().or(other.peer_asn()).unwrap_or(0);
        let cfg = self.config();
        resolve_collision(cfg.router_id, cfg.local_asn, peer_id, peer_asn) != mine
    }
}
