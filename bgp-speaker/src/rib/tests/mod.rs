//! RIB tests: best path, changes, counters (here); export, reflection and update
//! groups ([`export`]); policy and graceful restart ([`policy`]).

mod export;
mod policy;

use super::*;
use bgp_proto::{AsPath, Community, Message, NextHop, Origin};
use std::net::{IpAddr, Ipv4Addr};

pub(super) const LOCAL_AS: u32 = 65000;

pub(super) fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub(super) fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

pub(super) fn new_rib() -> Rib {
    Rib::new(RibConfig::new(LOCAL_AS, ip("10.0.0.1")))
}

/// Adds and brings up a peer with address 192.0.2.n and router ID 10.1.0.n.
pub(super) fn peer(rib: &mut Rib, n: u8, asn: u32, kind: PeerKind) -> PeerId {
    let id =
        rib.add_peer(PeerConfig::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), asn, Ipv4Addr::new(10, 1, 0, n), kind));
    rib.peer_up(id, None);
    id
}

/// Attributes with an AS path, next hop 198.51.100.1 and everything else default.
pub(super) fn attrs(path: &[u32]) -> PathAttrs {
    PathAttrs {
        as_path: AsPath::from_sequence(path.iter().copied()),
        next_hop: Some(NextHop::V4(ip("198.51.100.1"))),
        ..Default::default()
    }
}

pub(super) fn announce(rib: &mut Rib, p: PeerId, prefix: &str, a: PathAttrs) {
    rib.import(p, a, [(pfx(prefix), 0)]);
}

pub(super) fn best_peer(rib: &Rib, prefix: &str) -> Option<PeerId> {
    rib.best(pfx(prefix)).map(|r| r.peer)
}

/// Decodes back-to-back UPDATE messages.
pub(super) fn decode_all(b: &[u8], ctx: &bgp_proto::DecodeCtx) -> Vec<bgp_proto::Update> {
    let mut out = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let len = bgp_proto::frame(rest, 65535).unwrap().unwrap();
        match Message::decode(&rest[..len], ctx).unwrap() {
            Message::Update(u) => out.push(u),
            m => panic!("unexpected {m:?}"),
        }
        rest = &rest[len..];
    }
    out
}

const P: &str = "10.244.1.0/26";

// ---- RFC 4271 §9.1.2.2 steps, one test each ----

#[test]
fn step0_local_origin_wins() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    announce(&mut rib, a, P, PathAttrs { local_pref: Some(500), ..attrs(&[]) });
    rib.originate(pfx(P), PathAttrs { next_hop: None, ..attrs(&[]) });
    assert_eq!(best_peer(&rib, P), Some(PeerId::LOCAL));
}

#[test]
fn step1_highest_local_pref() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    let b = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp);
    announce(&mut rib, a, P, PathAttrs { local_pref: Some(100), ..attrs(&[1]) });
    announce(&mut rib, b, P, PathAttrs { local_pref: Some(200), ..attrs(&[1, 2, 3]) });
    assert_eq!(best_peer(&rib, P), Some(b));
    // Absent LOCAL_PREF counts as 100: beats 99.
    let c = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    announce(&mut rib, c, "10.0.0.0/8", attrs(&[1, 2, 3]));
    announce(&mut rib, a, "10.0.0.0/8", PathAttrs { local_pref: Some(99), ..attrs(&[1]) });
    assert_eq!(best_peer(&rib, "10.0.0.0/8"), Some(c));
}

#[test]
fn step2_shortest_as_path() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, attrs(&[100, 300, 400]));
    announce(&mut rib, b, P, attrs(&[200, 400]));
    assert_eq!(best_peer(&rib, P), Some(b));
    // An AS_SET counts one.
    let mut set = attrs(&[100]);
    set.as_path.segments.push(bgp_proto::AsSegment { kind: bgp_proto::SegmentKind::Set, asns: vec![1, 2, 3, 4] });
    announce(&mut rib, a, P, set);
    assert_eq!(best_peer(&rib, P), Some(a), "[100 {{1,2,3,4}}] has length 2 and a lower address");
}

#[test]
fn step3_lowest_origin() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, PathAttrs { origin: Origin::Incomplete, ..attrs(&[100]) });
    announce(&mut rib, b, P, PathAttrs { origin: Origin::Igp, ..attrs(&[200]) });
    assert_eq!(best_peer(&rib, P), Some(b));
}

#[test]
fn step4_med_same_neighbour_as_only() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 100, PeerKind::Ebgp);
    announce(&mut rib, a, P, PathAttrs { med: Some(50), ..attrs(&[100]) });
    announce(&mut rib, b, P, PathAttrs { med: Some(10), ..attrs(&[100]) });
    assert_eq!(best_peer(&rib, P), Some(b), "same neighbour AS: lower MED wins over lower address");
    // Different neighbour AS: MED not compared, the lower address decides.
    let q = "10.1.0.0/16";
    let c = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    announce(&mut rib, c, q, PathAttrs { med: Some(0), ..attrs(&[300]) });
    announce(&mut rib, a, q, PathAttrs { med: Some(50), ..attrs(&[100]) });
    assert_eq!(best_peer(&rib, q), Some(a));
}

#[test]
fn step4_med_options() {
    let mut cfg = RibConfig::new(LOCAL_AS, ip("10.0.0.1"));
    cfg.best.always_compare_med = true;
    let mut rib = Rib::new(cfg.clone());
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let c = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    announce(&mut rib, a, P, PathAttrs { med: Some(50), ..attrs(&[100]) });
    announce(&mut rib, c, P, PathAttrs { med: Some(0), ..attrs(&[300]) });
    assert_eq!(best_peer(&rib, P), Some(c), "always-compare-med");
    // Missing MED: 0 by default (beats 5), worst with the option.
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 100, PeerKind::Ebgp);
    announce(&mut rib, a, P, PathAttrs { med: Some(5), ..attrs(&[100]) });
    announce(&mut rib, b, P, attrs(&[100]));
    assert_eq!(best_peer(&rib, P), Some(b));
    cfg.best.always_compare_med = false;
    cfg.best.med_missing_as_worst = true;
    let mut rib = Rib::new(cfg);
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 100, PeerKind::Ebgp);
    announce(&mut rib, b, P, attrs(&[100]));
    announce(&mut rib, a, P, PathAttrs { med: Some(5), ..attrs(&[100]) });
    assert_eq!(best_peer(&rib, P), Some(a));
}

#[test]
fn step5_ebgp_over_ibgp() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, attrs(&[200]));
    announce(&mut rib, b, P, attrs(&[200]));
    assert_eq!(best_peer(&rib, P), Some(b));
}

#[test]
fn step6_shortest_cluster_list() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    let b = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp);
    announce(&mut rib, a, P, PathAttrs { cluster_list: vec![ip("1.1.1.1"), ip("2.2.2.2")], ..attrs(&[200]) });
    announce(&mut rib, b, P, PathAttrs { cluster_list: vec![ip("3.3.3.3")], ..attrs(&[200]) });
    assert_eq!(best_peer(&rib, P), Some(b));
}

#[test]
fn step7_lowest_originator_id_or_router_id() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp); // router ID 10.1.0.1
    let b = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp); // router ID 10.1.0.2
    announce(&mut rib, a, P, PathAttrs { originator_id: Some(ip("10.9.9.9")), ..attrs(&[200]) });
    announce(&mut rib, b, P, attrs(&[200]));
    assert_eq!(best_peer(&rib, P), Some(b), "10.1.0.2 (router ID) < 10.9.9.9 (ORIGINATOR_ID)");
    announce(&mut rib, a, P, PathAttrs { originator_id: Some(ip("10.0.0.9")), ..attrs(&[200]) });
    assert_eq!(best_peer(&rib, P), Some(a));
}

#[test]
fn step8_lowest_peer_address() {
    let mut rib = new_rib();
    let b = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp);
    let a = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    // Same originator: only the address differs.
    let o = PathAttrs { originator_id: Some(ip("10.5.5.5")), ..attrs(&[200]) };
    announce(&mut rib, b, P, o.clone());
    announce(&mut rib, a, P, o);
    assert_eq!(best_peer(&rib, P), Some(a));
}

#[test]
fn deterministic_med_is_order_independent() {
    // A (AS 100, MED 50, .1), B (AS 200, .2), C (AS 100, MED 10, .3). Pairwise in
    // arrival order the winner depends on the order; grouped, C wins AS 100 and B
    // beats C on the address.
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for order in orders {
        let mut rib = new_rib();
        let ids = [
            peer(&mut rib, 1, 100, PeerKind::Ebgp),
            peer(&mut rib, 2, 200, PeerKind::Ebgp),
            peer(&mut rib, 3, 100, PeerKind::Ebgp),
        ];
        let routes = [
            PathAttrs { med: Some(50), ..attrs(&[100]) },
            PathAttrs { med: Some(0), ..attrs(&[200]) },
            PathAttrs { med: Some(10), ..attrs(&[100]) },
        ];
        for i in order {
            announce(&mut rib, ids[i], P, routes[i].clone());
        }
        assert_eq!(best_peer(&rib, P), Some(ids[1]), "order {order:?}");
        // Removing the AS 200 path leaves the AS 100 group: C by MED.
        rib.withdraw(ids[1], pfx(P), 0);
        assert_eq!(best_peer(&rib, P), Some(ids[2]));
    }
}

#[test]
fn ecmp_set_composition() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 100, PeerKind::Ebgp);
    let c = peer(&mut rib, 3, 100, PeerKind::Ebgp);
    let d = peer(&mut rib, 4, 200, PeerKind::Ebgp); // other neighbour AS
    let e = peer(&mut rib, 5, 100, PeerKind::Ebgp); // longer path
    let f = peer(&mut rib, 6, 100, PeerKind::Ebgp); // higher MED
    announce(&mut rib, c, P, attrs(&[100, 7]));
    announce(&mut rib, a, P, attrs(&[100, 8]));
    announce(&mut rib, b, P, attrs(&[100, 9]));
    announce(&mut rib, d, P, attrs(&[200, 7]));
    announce(&mut rib, e, P, attrs(&[100, 7, 7]));
    announce(&mut rib, f, P, PathAttrs { med: Some(1), ..attrs(&[100, 7]) });
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 1);
    let set: Vec<PeerId> = ch[0].ecmp.iter().map(|r| r.peer).collect();
    assert_eq!(set, vec![a, b, c], "best first, then by address; other AS, longer path, higher MED excluded");
    let routes = rib.routes(pfx(P));
    assert_eq!(routes.iter().filter(|r| r.ecmp).count(), 3);
    assert_eq!(routes.iter().filter(|r| r.best).count(), 1);

    // multipath-relax admits the other neighbour AS; max-paths caps the set.
    let mut cfg = RibConfig::new(LOCAL_AS, ip("10.0.0.1"));
    cfg.best.multipath_relax = true;
    cfg.best.max_paths = 3;
    let mut rib = Rib::new(cfg);
    let ids: Vec<PeerId> = (1..=4).map(|n| peer(&mut rib, n, 100 * n as u32, PeerKind::Ebgp)).collect();
    for (i, &p) in ids.iter().enumerate() {
        announce(&mut rib, p, P, attrs(&[100 * (i as u32 + 1), 7]));
    }
    let ch = rib.drain_changes();
    assert_eq!(ch[0].ecmp.iter().map(|r| r.peer).collect::<Vec<_>>(), ids[..3].to_vec());
}

#[test]
fn changes_are_coalesced() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, attrs(&[100, 1, 2]));
    announce(&mut rib, b, P, attrs(&[200, 1]));
    announce(&mut rib, a, P, attrs(&[100]));
    announce(&mut rib, a, "10.9.0.0/16", attrs(&[100]));
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0].prefix, pfx(P));
    assert_eq!(ch[0].best().unwrap().peer, a);
    assert_eq!(ch[0].best().unwrap().attrs.as_path, AsPath::from_sequence([100]));
    assert!(rib.drain_changes().is_empty());
    // A non-best path changes nothing.
    announce(&mut rib, b, "10.9.0.0/16", attrs(&[200, 1, 2]));
    assert!(!rib.has_changes());
    // Announce + withdraw before a drain: one withdrawal.
    announce(&mut rib, a, "10.10.0.0/16", attrs(&[100]));
    rib.withdraw(a, pfx("10.10.0.0/16"), 0);
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 1);
    assert!(ch[0].is_withdraw());
    assert!(rib.routes(pfx("10.10.0.0/16")).is_empty());
    // Identical re-announcement (implicit withdraw of the same route): no change.
    announce(&mut rib, a, P, attrs(&[100]));
    assert!(!rib.has_changes());
}

#[test]
fn withdraw_of_best_selects_next_best() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, attrs(&[100]));
    announce(&mut rib, b, P, attrs(&[200, 1]));
    rib.drain_changes();
    rib.withdraw(a, pfx(P), 0);
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].best().unwrap().peer, b);
    rib.withdraw(b, pfx(P), 0);
    let ch = rib.drain_changes();
    assert!(ch[0].is_withdraw());
    assert_eq!(rib.prefix_count(), 0);
}

#[test]
fn peer_down_removes_its_paths() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    for i in 0..10 {
        let p = format!("10.{i}.0.0/16");
        announce(&mut rib, a, &p, attrs(&[100]));
        announce(&mut rib, b, &p, attrs(&[200, 1]));
    }
    announce(&mut rib, a, "10.100.0.0/16", attrs(&[100]));
    rib.drain_changes();
    assert_eq!(rib.peer_counts(a), PeerCounts { received: 11, accepted: 11, best: 11 });
    assert_eq!(rib.peer_counts(b), PeerCounts { received: 10, accepted: 10, best: 0 });
    assert_eq!(rib.peer_down(a), 11);
    let ch = rib.drain_changes();
    assert_eq!(ch.len(), 11);
    assert_eq!(ch.iter().filter(|c| c.is_withdraw()).count(), 1);
    assert!(ch.iter().filter(|c| !c.is_withdraw()).all(|c| c.best().unwrap().peer == b));
    assert_eq!(rib.peer_counts(a), PeerCounts::default());
    assert_eq!(rib.peer_counts(b), PeerCounts { received: 10, accepted: 10, best: 10 });
    assert_eq!(rib.prefix_count(), 10);
    // Updates from a down peer are ignored.
    let u = bgp_proto::Update {
        nlri: bgp_proto::smallvec::smallvec![bgp_proto::Nlri::new("10.200.0.0/16".parse().unwrap())],
        ..Default::default()
    };
    rib.apply_update(a, &u);
    assert_eq!(rib.prefix_count(), 10);
}

#[test]
fn attribute_sets_are_shared_and_freed() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    for i in 0..100u32 {
        announce(&mut rib, a, &format!("10.{i}.0.0/16"), attrs(&[100, i % 3]));
    }
    assert_eq!(rib.attr_set_count(), 3);
    rib.peer_down(a);
    rib.drain_changes();
    assert_eq!(rib.attr_set_count(), 0);
}

#[test]
fn apply_update_v4_and_v6() {
    use bgp_proto::{AttrValue, Attribute, MpNlri, MpReach, MpUnreach, Nlri, Update};
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let u = Update {
        withdrawn: Default::default(),
        attributes: bgp_proto::smallvec::smallvec![
            Attribute::new(AttrValue::MpReach(Box::new(MpReach {
                family: bgp_proto::AfiSafi::IPV6_UNICAST,
                next_hop: NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None },
                nlri: MpNlri::Ipv6(vec![Nlri::new("2001:db8:1::/48".parse().unwrap())]),
            }))),
            Attribute::new(AttrValue::Origin(Origin::Igp)),
            Attribute::new(AttrValue::AsPath(AsPath::from_sequence([100]))),
            Attribute::new(AttrValue::NextHop(ip("192.0.2.1"))),
            Attribute::new(AttrValue::Communities(vec![Community::new(100, 1)])),
        ],
        nlri: bgp_proto::smallvec::smallvec![
            Nlri::new("10.1.0.0/16".parse().unwrap()),
            Nlri::new("10.2.0.0/16".parse().unwrap())
        ],
    };
    rib.apply_update(a, &u);
    assert_eq!(rib.prefix_count(), 3);
    let v4 = rib.best(pfx("10.1.0.0/16")).unwrap();
    assert_eq!(v4.attrs.next_hop, Some(NextHop::V4(ip("192.0.2.1"))));
    let v6 = rib.best(pfx("2001:db8:1::/48")).unwrap();
    assert_eq!(v6.attrs.next_hop, Some(NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None }));
    assert_eq!(v6.attrs.communities, vec![Community::new(100, 1)]);
    let w = Update {
        withdrawn: bgp_proto::smallvec::smallvec![Nlri::new("10.1.0.0/16".parse().unwrap())],
        attributes: bgp_proto::smallvec::smallvec![Attribute::new(AttrValue::MpUnreach(Box::new(MpUnreach {
            family: bgp_proto::AfiSafi::IPV6_UNICAST,
            withdrawn: MpNlri::Ipv6(vec![Nlri::new("2001:db8:1::/48".parse().unwrap())]),
        })))],
        nlri: Default::default(),
    };
    rib.apply_update(a, &w);
    rib.drain_changes();
    assert_eq!(rib.prefix_count(), 1);
}

#[test]
fn next_hop_resolver_excludes_unreachable() {
    let mut rib = new_rib();
    let a = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let b = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    announce(&mut rib, a, P, PathAttrs { next_hop: Some(NextHop::V4(ip("198.51.100.9"))), ..attrs(&[100]) });
    announce(&mut rib, b, P, attrs(&[200, 1]));
    assert_eq!(best_peer(&rib, P), Some(a));
    rib.drain_changes();
    rib.set_next_hop_resolver(Box::new(|nh| *nh != NextHop::V4(Ipv4Addr::new(198, 51, 100, 9))));
    assert_eq!(best_peer(&rib, P), Some(b));
    assert_eq!(rib.drain_changes().len(), 1);
}
