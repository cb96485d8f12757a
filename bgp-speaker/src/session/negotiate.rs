//! What both OPENs agree on (RFC 5492 §3: a capability is in force when both sides
//! advertise it).

use super::config::SessionConfig;
use bgp_proto::capability::GracefulRestart;
use bgp_proto::{negotiate, AfiSafi, Capability, DecodeCtx, EncodeCtx, Open};
use std::net::Ipv4Addr;
use std::time::Duration;

/// ADD-PATH in force for one family (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPathNegotiated {
    /// The family.
    pub family: AfiSafi,
    /// We send path identifiers.
    pub send: bool,
    /// The peer sends path identifiers.
    pub receive: bool,
}

/// Graceful Restart as negotiated (RFC 4724, RFC 8538).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrNegotiated {
    /// The peer's GR capability.
    pub peer: GracefulRestart,
    /// Both sides set the N bit (RFC 8538 §2): GR also applies after NOTIFICATIONs other
    /// than Hard Reset, and Cease NOTIFICATIONs we send are wrapped in Hard Reset.
    pub notification: bool,
    /// The peer's Restart Time.
    pub peer_restart_time: Duration,
    /// Families the peer preserves (listed in its capability and active).
    pub peer_families: Vec<AfiSafi>,
    /// After a graceful restart of the peer: families whose stale routes stay until the
    /// peer's End-of-RIB (the session then emits [`Output::StaleSweep`](super::Output::StaleSweep)).
    pub awaiting_eor: Vec<AfiSafi>,
}

/// The parameters of an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's OPEN.
    pub peer_open: Open,
    /// Our OPEN.
    pub local_open: Open,
    /// Context for decoding what the peer sends.
    pub decode_ctx: DecodeCtx,
    /// Context for encoding what we send.
    pub encode_ctx: EncodeCtx,
    /// Negotiated hold time (min of both; 0 = no hold or keepalive timers).
    pub hold_time: u16,
    /// Keepalive interval, seconds (0 when hold is 0).
    pub keepalive: u16,
    /// The peer's ASN.
    pub peer_asn: u32,
    /// The peer's BGP Identifier.
    pub peer_id: Ipv4Addr,
    /// The peer is in another AS.
    pub external: bool,
    /// Active families: advertised by both (RFC 4760 §8; IPv4 unicast when the peer
    /// sent no Multiprotocol capability).
    pub families: Vec<AfiSafi>,
    /// ADD-PATH per family.
    pub add_path: Vec<AddPathNegotiated>,
    /// Graceful Restart, when both sides advertised it.
    pub gr: Option<GrNegotiated>,
    /// 4-octet AS numbers (RFC 6793).
    pub four_octet: bool,
    /// Route Refresh (RFC 2918).
    pub route_refresh: bool,
    /// Enhanced Route Refresh (RFC 7313).
    pub enhanced_rr: bool,
    /// Extended messages (RFC 8654).
    pub extended_message: bool,
    /// IPv4 unicast with IPv6 next hops, both directions advertised (RFC 8950).
    pub extended_next_hop: bool,
}

fn both(a: &Open, b: &Open, f: impl Fn(&Capability) -> bool) -> bool {
    a.has_capability(&f) && b.has_capability(&f)
}

/// The GR capability of an OPEN.
pub fn gr_capability(o: &Open) -> Option<&GracefulRestart> {
    o.capabilities().find_map(|c| match c {
        Capability::GracefulRestart(g) => Some(g),
        _ => None,
    })
}

fn empty_open() -> Open {
    Open { my_as: 0, hold_time: 0, bgp_id: std::net::Ipv4Addr::UNSPECIFIED, params: Vec::new() }
}

impl Negotiated {
    /// Computes the negotiated parameters. The OPEN must already have passed
    /// [`check_open`](super::open_check::check_open).
    pub fn compute(cfg: &SessionConfig, local: Open, peer: Open) -> Negotiated {
        let (l, p) = (&local, &peer);
        let mut n = Self::compute_ref(cfg, l, p);
        n.local_open = local;
        n.peer_open = peer;
        n
    }

    fn compute_ref(cfg: &SessionConfig, local: &Open, peer: &Open) -> Negotiated {
        let peer_asn = peer.asn();
        let external = !cfg.is_internal(peer_asn);
        let (decode_ctx, encode_ctx) = negotiate(local, peer, external);
        // RFC 4271 §4.2 / §10: the smaller hold time; keepalive one third of it.
        let hold_time = local.hold_time.min(peer.hold_time);
        let keepalive = if hold_time == 0 { 0 } else { cfg.keepalive.unwrap_or(hold_time / 3).min(hold_time / 3) };
        let lf = local.families();
        let pf = peer.families();
        let families: Vec<AfiSafi> =
            if pf.is_empty() && !peer.has_capability(|c| matches!(c, Capability::Multiprotocol { .. })) {
                // RFC 4760 §8: a speaker without the capability does IPv4 unicast only.
                lf.iter().copied().filter(|f| *f == AfiSafi::IPV4_UNICAST).collect()
            } else {
                lf.iter().copied().filter(|f| pf.contains(f)).collect()
            };
        let add_path = families
            .iter()
            .filter_map(|&f| {
                let (send, receive) = (encode_ctx.add_path(f), decode_ctx.add_path(f));
                (send || receive).then_some(AddPathNegotiated { family: f, send, receive })
            })
            .collect();
        let gr = match (gr_capability(local), gr_capability(peer)) {
            (Some(l), Some(p)) => Some(GrNegotiated {
                peer: p.clone(),
                notification: l.notification && p.notification,
                peer_restart_time: Duration::from_secs(p.restart_time as u64),
                peer_families: p.families.iter().map(|f| f.family).filter(|f| families.contains(f)).collect(),
                awaiting_eor: Vec::new(),
            }),
            _ => None,
        };
        Negotiated {
            route_refresh: both(local, peer, |c| matches!(c, Capability::RouteRefresh)),
            enhanced_rr: both(local, peer, |c| matches!(c, Capability::EnhancedRouteRefresh)),
            extended_next_hop: both(
                local,
                peer,
                |c| matches!(c, Capability::ExtendedNextHop(v) if v.iter().any(|e| e.nlri == AfiSafi::IPV4_UNICAST)),
            ),
            four_octet: decode_ctx.four_octet_as,
            extended_message: decode_ctx.extended_message,
            // Filled in by `compute`, which owns both OPENs (no copies).
            peer_open: empty_open(),
            local_open: empty_open(),
            decode_ctx,
            encode_ctx,
            hold_time,
            keepalive,
            peer_asn,
            peer_id: peer.bgp_id,
            external,
            families,
            add_path,
            gr,
        }
    }

    /// Whether `f` is active.
    pub fn has_family(&self, f: AfiSafi) -> bool {
        self.families.contains(&f)
    }
}
