//! Advertisement rules (RFC 4271 §9.1.3, §5.1; RFC 1997; RFC 4456 §8): whether a
//! Loc-RIB route goes to a peer, and with what attributes.
//!
//! In order:
//! 1. NO_ADVERTISE: to nobody. NO_EXPORT and NO_EXPORT_SUBCONFED (no confederations
//!    here): not to eBGP peers (RFC 1997).
//! 2. iBGP-learned routes go to iBGP peers only when reflecting ([`reflect::ibgp_rule`]).
//! 3. Attribute changes:
//!    - to eBGP: prepend our AS (§5.1.2), NEXT_HOP self unless `keep` (§5.1.3), no
//!      LOCAL_PREF (§5.1.5), no MED unless locally originated or `send_med` (§5.1.4),
//!      no ORIGINATOR_ID / CLUSTER_LIST (RFC 4456 §8);
//!    - to iBGP: LOCAL_PREF set (100 when absent, §5.1.5); NEXT_HOP kept unless `self`
//!      (not for reflected routes); when reflecting, ORIGINATOR_ID and CLUSTER_LIST;
//!    - a route without a next hop (local) gets our address.
//! 4. The export policy (it sees the transformed attributes; its `next-hop-self` /
//!    `next-hop-keep` override step 3's choice).
//!
//! Split horizon (not back to the peer it came from) is applied per member by
//! [`crate::rib::out`].

use crate::rib::attrs::PathAttrs;
use crate::rib::peer::{NextHopMode, PeerKind};
use crate::rib::policy::{NextHopAction, Policy, PolicyCtx};
use crate::rib::reflect;
use crate::rib::Prefix;
use bgp_proto::{Community, NextHop};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The receiving side of an export decision.
#[derive(Debug, Clone, Copy)]
pub struct ExportTarget<'a> {
    /// The receiver's kind.
    pub kind: PeerKind,
    /// NEXT_HOP handling.
    pub next_hop: NextHopMode,
    /// Pass MED on to eBGP.
    pub send_med: bool,
    /// Our address on the session, for next-hop self on IPv4 prefixes.
    pub nh_self_v4: Option<Ipv4Addr>,
    /// Our address on the session, for next-hop self on IPv6 prefixes (with an optional
    /// link-local address, RFC 2545 §3).
    pub nh_self_v6: Option<(Ipv6Addr, Option<Ipv6Addr>)>,
    /// The export policy.
    pub policy: Option<&'a Policy>,
    /// Our AS.
    pub local_as: u32,
    /// Our CLUSTER_ID.
    pub cluster_id: Ipv4Addr,
}

/// The sending side: where the route came from.
#[derive(Debug, Clone, Copy)]
pub struct ExportSource {
    /// The kind of the peer the route was learned from.
    pub kind: PeerKind,
    /// That peer's BGP identifier (ORIGINATOR_ID when reflecting).
    pub router_id: Ipv4Addr,
}

impl ExportTarget<'_> {
    fn self_nh(&self, prefix: Prefix) -> Option<NextHop> {
        match prefix {
            Prefix::V4(_) => self.nh_self_v4.map(NextHop::V4),
            Prefix::V6(_) => self.nh_self_v6.map(|(global, link_local)| NextHop::V6 { global, link_local }),
        }
    }
}

/// The attributes to send for `prefix` to `to`, or `None` when it must not be sent.
pub fn export(prefix: Prefix, attrs: &PathAttrs, from: ExportSource, to: &ExportTarget) -> Option<PathAttrs> {
    // 1. Well-known communities (RFC 1997).
    if attrs.has_community(Community::NO_ADVERTISE) {
        return None;
    }
    let ebgp = to.kind == PeerKind::Ebgp;
    if ebgp && (attrs.has_community(Community::NO_EXPORT) || attrs.has_community(Community::NO_EXPORT_SUBCONFED)) {
        return None;
    }
    // 2. iBGP split horizon and reflection.
    let reflecting = reflect::ibgp_rule(from.kind, to.kind)?;
    // 3. Attribute changes.
    let mut a = attrs.clone();
    let mut want_self = false;
    if ebgp {
        a.as_path.prepend(to.local_as, 1);
        a.local_pref = None;
        if !(to.send_med || from.kind == PeerKind::Local) {
            a.med = None;
        }
        a.originator_id = None;
        a.cluster_list.clear();
        want_self = to.next_hop != NextHopMode::Keep;
    } else {
        a.local_pref = Some(a.local_pref.unwrap_or(100));
        if reflecting {
            reflect::reflect(&mut a, from.router_id, to.cluster_id);
        } else {
            want_self = to.next_hop == NextHopMode::SelfAddr;
        }
    }
    // 4. Policy.
    if let Some(p) = to.policy {
        let v = p.evaluate(
            &PolicyCtx { prefix, peer_kind: to.kind, local_as: to.local_as, from_local: from.kind == PeerKind::Local },
            &a,
        );
        if !v.accept {
            return None;
        }
        if let Some(m) = v.modified {
            a = m;
        }
        match v.next_hop {
            Some(NextHopAction::SelfAddr) => want_self = true,
            Some(NextHopAction::Keep) => want_self = false,
            None => {}
        }
    }
    if want_self || a.next_hop.is_none() {
        a.next_hop = Some(to.self_nh(prefix)?);
    }
    Some(a)
}
