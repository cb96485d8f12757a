//! OPEN checks with their exact NOTIFICATIONs, the local OPEN, and negotiation.

use super::harness::*;
use crate::session::*;
use bgp_proto::capability::{AddPathMode, GracefulRestart};
use bgp_proto::{AfiSafi, Capability, Message, Open, OptionalParameter};
use bytes::Bytes;

/// Feeds `peer` in OpenSent and returns the bytes sent in answer.
fn answer(cfg: SessionConfig, peer: Open) -> (Vec<Vec<u8>>, Option<DownReason>) {
    let mut h = H::new(cfg);
    h.drive_open_sent();
    let o = h.msg(Message::Open(peer));
    (sent_bytes(&o), down(&o).map(|d| d.0))
}

#[test]
fn bad_version_answers_2_1_with_max_version() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let mut b = enc(&Message::Open(peer_open())).to_vec();
    b[19] = 3;
    let o = h.raw(&b);
    assert_eq!(sent_bytes(&o), [notif_bytes(2, 1, &[0, 4])]);
    assert_eq!(down(&o).unwrap().0, DownReason::BadOpen);
}

#[test]
fn bad_peer_as_answers_2_2() {
    let p = peer_open();
    let caps = p.capabilities().filter(|c| !matches!(c, Capability::FourOctetAs(_))).cloned().collect();
    let p = Open::new(65099, p.hold_time, p.bgp_id, caps);
    assert_eq!(answer(cfg_a(), p), (vec![notif_bytes(2, 2, &[])], Some(DownReason::BadOpen)));
}

#[test]
fn peer_as_set_range_and_any() {
    let p = Open::new(4_200_000_001, 90, B_ID, vec![]);
    for pa in [PeerAs::Any, PeerAs::Set(vec![1, 4_200_000_001]), PeerAs::Range(4_200_000_000..=4_200_000_100)] {
        let mut c = cfg_a();
        c.peer_as = pa;
        let (b, d) = answer(c, p.clone());
        assert_eq!((b, d), (vec![enc(&Message::Keepalive).to_vec()], None));
    }
    let mut c = cfg_a();
    c.peer_as = PeerAs::Range(1..=64511);
    assert_eq!(answer(c, p).0, [notif_bytes(2, 2, &[])]);
}

#[test]
fn hold_time_one_or_two_answers_2_6() {
    for hold in [1, 2] {
        let mut p = peer_open();
        p.hold_time = hold;
        assert_eq!(answer(cfg_a(), p).0, [notif_bytes(2, 6, &[])]);
    }
    let mut p = peer_open();
    p.hold_time = 3;
    assert_eq!(answer(cfg_a(), p).1, None);
}

#[test]
fn bad_bgp_identifier_answers_2_3() {
    let mut p = peer_open();
    p.bgp_id = std::net::Ipv4Addr::UNSPECIFIED;
    assert_eq!(answer(cfg_a(), p).0, [notif_bytes(2, 3, &[])]);
    // iBGP: our own identifier is refused (RFC 6286 §2.2) …
    let mut c = cfg_a();
    c.peer_as = PeerAs::Exact(65001);
    let p = Open::new(65001, 90, A_ID, vec![]);
    assert_eq!(answer(c, p).0, [notif_bytes(2, 3, &[])]);
    // … but eBGP may share it.
    let p = Open::new(65002, 90, A_ID, vec![]);
    assert_eq!(answer(cfg_a(), p).1, None);
}

#[test]
fn unknown_optional_parameter_answers_2_4() {
    let mut p = peer_open();
    p.params.push(OptionalParameter::Unknown { param_type: 1, value: Bytes::from_static(&[1, 2]) });
    assert_eq!(answer(cfg_a(), p).0, [notif_bytes(2, 4, &[])]);
}

#[test]
fn missing_required_capability_answers_2_7_listing_it() {
    let mut c = cfg_a();
    c.required_capabilities = vec![65, 2];
    // A 2-octet-only speaker without route refresh.
    let p = Open { my_as: 65002, hold_time: 90, bgp_id: B_ID, params: vec![] };
    // Data: our 4-octet AS capability (65, 4, 65001) and route refresh (2, 0).
    assert_eq!(answer(c, p).0, [notif_bytes(2, 7, &[65, 4, 0, 0, 0xfd, 0xe9, 2, 0])]);
}

#[test]
fn role_mismatch_answers_2_11() {
    let mut c = cfg_a();
    c.role = Some(Role::Customer);
    let mut p = peer_open();
    p = Open::new(65002, 90, B_ID, p.capabilities().cloned().chain([Capability::Role(3)]).collect());
    assert_eq!(answer(c.clone(), p).0, [notif_bytes(2, 11, &[])]);
    let ok = Open::new(65002, 90, B_ID, vec![Capability::Role(0)]);
    assert_eq!(answer(c.clone(), ok).1, None);
    // No role from the peer: fine unless strict.
    assert_eq!(answer(c.clone(), peer_open()).1, None);
    c.strict_role = true;
    assert_eq!(answer(c, peer_open()).0, [notif_bytes(2, 11, &[])]);
}

#[test]
fn local_open_carries_configured_capabilities() {
    let mut c = cfg_a();
    c.local_asn = 4_200_000_000;
    c.families[1].add_path = Some(AddPathMode::Both);
    c.extended_message = true;
    c.extended_next_hop = true;
    c.role = Some(Role::Peer);
    c.fqdn = Some(("node1".into(), "cluster.local".into()));
    c.graceful_restart =
        Some(GracefulRestartConfig { restart_time: 90, llgr_stale_time: Some(3600), ..Default::default() });
    let o = c.local_open(true);
    assert_eq!(o.my_as, bgp_proto::AS_TRANS);
    assert_eq!(o.four_octet_asn(), Some(4_200_000_000));
    assert_eq!(o.families(), [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
    assert_eq!(o.add_path_modes(), [(AfiSafi::IPV6_UNICAST, AddPathMode::Both)]);
    let gr = o
        .capabilities()
        .find_map(|c| match c {
            Capability::GracefulRestart(g) => Some(g.clone()),
            _ => None,
        })
        .unwrap();
    assert!(gr.restarting && gr.families.iter().all(|f| f.forwarding_preserved));
    assert_eq!(gr.restart_time, 90);
    for code in [2, 5, 6, 9, 64, 65, 69, 70, 71, 73] {
        assert!(o.has_capability(|c| c.code() == code), "capability {code}");
    }
    // It survives the wire.
    let b = enc(&Message::Open(o.clone()));
    assert_eq!(Message::decode(&b, &Default::default()).unwrap(), Message::Open(o));
}

#[test]
fn negotiation_intersects_families_and_capabilities() {
    let mut c = cfg_a();
    c.families = vec![
        FamilyConfig { family: AfiSafi::IPV4_UNICAST, add_path: Some(AddPathMode::Both) },
        FamilyConfig::new(AfiSafi::IPV6_UNICAST),
    ];
    c.extended_message = true;
    c.graceful_restart = Some(GracefulRestartConfig::default());
    let peer = Open::new(
        65002,
        60,
        B_ID,
        vec![
            Capability::Multiprotocol { family: AfiSafi::IPV4_UNICAST, reserved: 0 },
            Capability::Multiprotocol { family: AfiSafi::IPV4_MULTICAST, reserved: 0 },
            Capability::ExtendedMessage,
            Capability::AddPath(vec![bgp_proto::capability::AddPathFamily {
                family: AfiSafi::IPV4_UNICAST,
                mode: AddPathMode::Send,
            }]),
            Capability::GracefulRestart(GracefulRestart {
                restarting: false,
                notification: false,
                reserved_flags: 0,
                restart_time: 120,
                families: vec![],
            }),
        ],
    );
    let n = Negotiated::compute(&c, c.local_open(false), peer.clone());
    assert_eq!(n.families, [AfiSafi::IPV4_UNICAST]);
    assert_eq!(n.hold_time, 60);
    assert_eq!(n.keepalive, 20);
    assert!(n.extended_message && !n.route_refresh);
    assert_eq!(n.add_path, [AddPathNegotiated { family: AfiSafi::IPV4_UNICAST, send: false, receive: true }]);
    assert!(n.decode_ctx.add_path(AfiSafi::IPV4_UNICAST));
    assert_eq!(n.gr.as_ref().unwrap().peer_restart_time, secs(120));
    // RFC 4760 §8: no Multiprotocol capability at all means IPv4 unicast.
    let bare = Open { my_as: 65002, hold_time: 90, bgp_id: B_ID, params: vec![] };
    let n = Negotiated::compute(&c, c.local_open(false), bare.clone());
    assert_eq!(n.families, [AfiSafi::IPV4_UNICAST]);
    assert!(!n.four_octet);
}

#[test]
fn no_common_family_warns() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let p =
        Open::new(65002, 90, B_ID, vec![Capability::Multiprotocol { family: AfiSafi::IPV4_MULTICAST, reserved: 0 }]);
    let o = h.msg(Message::Open(p));
    assert!(has(&o, |x| matches!(x, Output::Warning(Warning::NoCommonFamily))));
}
