//! Export rules, reflection and update groups, checked on the encoded UPDATEs.

use super::*;
use crate::rib::out::{MemberConfig, OutBatch, OutGroups, Target};
use bgp_proto::attr::type_code as tc;
use bgp_proto::{AfiSafi, AttrValue, Attribute, DecodeCtx, EncodeCtx, FamilySet, Update};

fn member(nh: &str) -> MemberConfig {
    MemberConfig {
        ctx: EncodeCtx::default(),
        families: [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST].into_iter().collect::<FamilySet>(),
        nh_self_v4: Some(ip(nh)),
        nh_self_v6: Some(("2001:db8::ff".parse().unwrap(), None)),
    }
}

/// The UPDATEs among `batches` that `peer` receives.
fn sent(out: &OutGroups, batches: &[OutBatch], peer: PeerId) -> Vec<Update> {
    batches
        .iter()
        .filter(|b| out.recipients(b).contains(&peer))
        .flat_map(|b| decode_all(&b.bytes, &DecodeCtx::default()))
        .collect()
}

fn step(rib: &mut Rib, out: &mut OutGroups) -> Vec<OutBatch> {
    let ch = rib.drain_changes();
    out.process(rib, &ch)
}

fn a(v: AttrValue) -> Attribute {
    Attribute::new(v)
}

fn path(asns: &[u32]) -> AttrValue {
    AttrValue::AsPath(AsPath::from_sequence(asns.iter().copied()))
}

/// A route with every attribute export may touch.
fn rich(asns: &[u32]) -> PathAttrs {
    PathAttrs {
        local_pref: Some(200),
        med: Some(7),
        originator_id: Some(ip("10.7.7.7")),
        cluster_list: vec![ip("10.8.8.8")],
        ..attrs(asns)
    }
}

#[test]
fn to_ebgp_prepend_nh_self_no_lp_med_rr_attrs() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    let dst = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    out.join(&rib, dst, member("192.0.2.254"));
    announce(&mut rib, src, P, rich(&[100]));
    let b = step(&mut rib, &mut out);
    let u = sent(&out, &b, dst);
    assert_eq!(u.len(), 1);
    assert_eq!(
        u[0].attributes[..],
        vec![a(AttrValue::Origin(Origin::Igp)), a(path(&[LOCAL_AS, 100])), a(AttrValue::NextHop(ip("192.0.2.254")))]
    );
    assert_eq!(u[0].nlri[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
}

#[test]
fn to_ebgp_send_med_and_next_hop_keep() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let mut cfg = PeerConfig::new(IpAddr::V4(ip("192.0.2.2")), 200, ip("10.1.0.2"), PeerKind::Ebgp);
    cfg.send_med = true;
    cfg.next_hop = NextHopMode::Keep;
    let dst = rib.add_peer(cfg);
    rib.peer_up(dst, None);
    out.join(&rib, dst, member("192.0.2.254"));
    announce(&mut rib, src, P, PathAttrs { med: Some(7), ..attrs(&[100]) });
    let b = step(&mut rib, &mut out);
    let u = sent(&out, &b, dst);
    assert_eq!(u[0].attribute(tc::MED), Some(&AttrValue::Med(7)));
    assert_eq!(u[0].attribute(tc::NEXT_HOP), Some(&AttrValue::NextHop(ip("198.51.100.1"))));
    assert_eq!(u[0].attribute(tc::AS_PATH), Some(&path(&[LOCAL_AS, 100])));
}

#[test]
fn local_route_to_ebgp_and_ibgp() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let e = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let i = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    out.join(&rib, e, member("192.0.2.254"));
    out.join(&rib, i, member("192.0.2.253"));
    rib.originate(pfx(P), PathAttrs { next_hop: None, med: Some(3), ..attrs(&[]) });
    let b = step(&mut rib, &mut out);
    let ue = sent(&out, &b, e);
    // Locally originated MED may be sent to eBGP (RFC 4271 §5.1.4).
    assert_eq!(
        ue[0].attributes[..],
        vec![
            a(AttrValue::Origin(Origin::Igp)),
            a(path(&[LOCAL_AS])),
            a(AttrValue::NextHop(ip("192.0.2.254"))),
            a(AttrValue::Med(3))
        ]
    );
    let ui = sent(&out, &b, i);
    assert_eq!(
        ui[0].attributes[..],
        vec![
            a(AttrValue::Origin(Origin::Igp)),
            a(path(&[])),
            a(AttrValue::NextHop(ip("192.0.2.253"))),
            a(AttrValue::Med(3)),
            a(AttrValue::LocalPref(100))
        ]
    );
}

#[test]
fn ebgp_learned_to_ibgp_keeps_next_hop_sets_local_pref() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let dst = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp);
    out.join(&rib, dst, member("192.0.2.254"));
    announce(&mut rib, src, P, PathAttrs { med: Some(7), ..attrs(&[100]) });
    let b = step(&mut rib, &mut out);
    let u = sent(&out, &b, dst);
    assert_eq!(
        u[0].attributes[..],
        vec![
            a(AttrValue::Origin(Origin::Igp)),
            a(path(&[100])),
            a(AttrValue::NextHop(ip("198.51.100.1"))),
            a(AttrValue::Med(7)),
            a(AttrValue::LocalPref(100))
        ]
    );
    // next-hop self towards iBGP when configured.
    let mut cfg = PeerConfig::new(IpAddr::V4(ip("192.0.2.3")), LOCAL_AS, ip("10.1.0.3"), PeerKind::Ibgp);
    cfg.next_hop = NextHopMode::SelfAddr;
    let s = rib.add_peer(cfg);
    rib.peer_up(s, None);
    let (_, dump) = out.join(&rib, s, member("192.0.2.250"));
    let u = sent(&out, &dump, s);
    assert_eq!(u[0].attribute(tc::NEXT_HOP), Some(&AttrValue::NextHop(ip("192.0.2.250"))));
}

#[test]
fn ibgp_learned_not_to_ibgp_without_reflection() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, LOCAL_AS, PeerKind::Ibgp);
    let dst = peer(&mut rib, 2, LOCAL_AS, PeerKind::Ibgp);
    out.join(&rib, dst, member("192.0.2.254"));
    announce(&mut rib, src, P, attrs(&[100]));
    let b = step(&mut rib, &mut out);
    assert!(sent(&out, &b, dst).is_empty());
}

#[test]
fn well_known_communities() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let e = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let i = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    out.join(&rib, e, member("192.0.2.254"));
    out.join(&rib, i, member("192.0.2.254"));
    let with = |c: Community| PathAttrs { communities: vec![c], ..attrs(&[100]) };
    announce(&mut rib, src, "10.1.0.0/16", with(Community::NO_EXPORT));
    announce(&mut rib, src, "10.2.0.0/16", with(Community::NO_EXPORT_SUBCONFED));
    announce(&mut rib, src, "10.3.0.0/16", with(Community::NO_ADVERTISE));
    let b = step(&mut rib, &mut out);
    assert!(sent(&out, &b, e).is_empty(), "NO_EXPORT / NO_EXPORT_SUBCONFED / NO_ADVERTISE: not to eBGP");
    let mut to_i: Vec<String> =
        sent(&out, &b, i).iter().flat_map(|u| u.nlri.iter().map(|n| n.prefix.to_string())).collect();
    to_i.sort();
    assert_eq!(to_i, vec!["10.1.0.0/16", "10.2.0.0/16"], "NO_ADVERTISE: to nobody");
}

#[test]
fn as_loop_rejected_on_import() {
    let mut rib = new_rib();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    announce(&mut rib, src, P, attrs(&[100, LOCAL_AS, 7]));
    assert_eq!(best_peer(&rib, P), None);
    assert_eq!(rib.peer_counts(src), PeerCounts { received: 1, accepted: 0, best: 0 });
    assert!(rib.routes(pfx(P))[0].rejected);
    let mut cfg = PeerConfig::new(IpAddr::V4(ip("192.0.2.2")), 200, ip("10.1.0.2"), PeerKind::Ebgp);
    cfg.allow_own_as = 1;
    let p2 = rib.add_peer(cfg);
    rib.peer_up(p2, None);
    announce(&mut rib, p2, P, attrs(&[200, LOCAL_AS]));
    assert_eq!(best_peer(&rib, P), Some(p2));
    announce(&mut rib, p2, P, attrs(&[200, LOCAL_AS, LOCAL_AS]));
    assert_eq!(best_peer(&rib, P), None, "twice exceeds allow-own-as 1");
}

#[test]
fn split_horizon() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let x = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let y = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let (gx, _) = out.join(&rib, x, member("192.0.2.254"));
    let (gy, _) = out.join(&rib, y, member("192.0.2.254"));
    assert_eq!(gx, gy);
    announce(&mut rib, x, P, attrs(&[100]));
    let b = step(&mut rib, &mut out);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].target, Target::AllExcept(x));
    assert_eq!(out.recipients(&b[0]), vec![y]);
    assert_eq!(out.peer_path_count(x), 0);
    assert_eq!(out.peer_path_count(y), 1);
    // A better path from y: y gets a withdrawal, x the new route.
    announce(&mut rib, y, P, PathAttrs { local_pref: Some(300), ..attrs(&[200]) });
    let b = step(&mut rib, &mut out);
    assert_eq!(sent(&out, &b, y)[0].withdrawn[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
    assert_eq!(sent(&out, &b, x)[0].attribute(tc::AS_PATH), Some(&path(&[LOCAL_AS, 200])));
}

/// A removed peer's id is reused, but only once its withdrawals have been drained and
/// exported: the new holder neither inherits its counters nor is taken for the source
/// of its routes (split horizon).
#[test]
fn removed_peer_ids_are_reused_after_the_withdrawals_go_out() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let x = peer(&mut rib, 1, LOCAL_AS, PeerKind::RrClient);
    let y = peer(&mut rib, 2, LOCAL_AS, PeerKind::RrClient);
    out.join(&rib, x, member("192.0.2.254"));
    out.join(&rib, y, member("192.0.2.254"));
    announce(&mut rib, x, P, attrs(&[]));
    step(&mut rib, &mut out);
    assert_eq!(rib.peer_counts(x).best, 1);
    assert_eq!(rib.peer_count(), 3);

    out.leave(x);
    assert_eq!(rib.remove_peer(x), 1);
    assert_eq!(rib.peer_count(), 2);
    // The withdrawal of P is still queued: a new peer gets a new id.
    let z = peer(&mut rib, 3, LOCAL_AS, PeerKind::RrClient);
    assert_ne!(z, x);
    let b = step(&mut rib, &mut out);
    assert_eq!(sent(&out, &b, y)[0].withdrawn[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
    assert_eq!(rib.peer_count(), 3);

    // Nothing queued any more: the next peer takes x's id, with fresh counters.
    let w = peer(&mut rib, 4, LOCAL_AS, PeerKind::RrClient);
    assert_eq!(w, x);
    assert_eq!(rib.peer(w).address, IpAddr::V4(ip("192.0.2.4")));
    assert_eq!(rib.peer_counts(w), PeerCounts::default());
    assert_eq!(rib.peer_count(), 4);
    out.join(&rib, w, member("192.0.2.254"));
    announce(&mut rib, w, P, attrs(&[]));
    let b = step(&mut rib, &mut out);
    assert!(sent(&out, &b, w).is_empty(), "split horizon for the new holder of the id");
    assert_eq!(sent(&out, &b, y)[0].nlri[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
    assert_eq!(rib.best(pfx(P)).map(|r| r.peer), Some(w));
}

// ---- Route reflection (RFC 4456 §8) ----

struct Rr {
    rib: Rib,
    out: OutGroups,
    c1: PeerId,
    c2: PeerId,
    n1: PeerId,
    n2: PeerId,
}

fn reflector() -> Rr {
    let mut cfg = RibConfig::new(LOCAL_AS, ip("10.0.0.1"));
    cfg.cluster_id = Some(ip("10.255.0.1"));
    let mut rib = Rib::new(cfg);
    let mut out = OutGroups::new();
    let c1 = peer(&mut rib, 1, LOCAL_AS, PeerKind::RrClient);
    let c2 = peer(&mut rib, 2, LOCAL_AS, PeerKind::RrClient);
    let n1 = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    let n2 = peer(&mut rib, 4, LOCAL_AS, PeerKind::Ibgp);
    for p in [c1, c2, n1, n2] {
        out.join(&rib, p, member("192.0.2.254"));
    }
    assert_eq!(out.group_count(), 2, "clients and non-clients");
    Rr { rib, out, c1, c2, n1, n2 }
}

#[test]
fn reflect_client_route_to_clients_and_non_clients() {
    let mut r = reflector();
    announce(&mut r.rib, r.c1, P, attrs(&[]));
    let b = step(&mut r.rib, &mut r.out);
    assert!(sent(&r.out, &b, r.c1).is_empty(), "not back to the originating client");
    for p in [r.c2, r.n1, r.n2] {
        let u = sent(&r.out, &b, p);
        assert_eq!(
            u[0].attributes[..],
            vec![
                a(AttrValue::Origin(Origin::Igp)),
                a(path(&[])),
                a(AttrValue::NextHop(ip("198.51.100.1"))),
                a(AttrValue::LocalPref(100)),
                a(AttrValue::OriginatorId(ip("10.1.0.1"))),
                a(AttrValue::ClusterList(vec![ip("10.255.0.1")])),
            ],
            "next hop unchanged, ORIGINATOR_ID = client's router ID, CLUSTER_LIST = [cluster ID]"
        );
    }
}

#[test]
fn reflect_non_client_route_to_clients_only() {
    let mut r = reflector();
    announce(
        &mut r.rib,
        r.n1,
        P,
        PathAttrs { originator_id: Some(ip("10.9.9.9")), cluster_list: vec![ip("10.254.0.1")], ..attrs(&[]) },
    );
    let b = step(&mut r.rib, &mut r.out);
    assert!(sent(&r.out, &b, r.n2).is_empty());
    assert!(sent(&r.out, &b, r.n1).is_empty());
    for p in [r.c1, r.c2] {
        let u = sent(&r.out, &b, p);
        assert_eq!(u[0].attribute(tc::ORIGINATOR_ID), Some(&AttrValue::OriginatorId(ip("10.9.9.9"))), "kept");
        assert_eq!(
            u[0].attribute(tc::CLUSTER_LIST),
            Some(&AttrValue::ClusterList(vec![ip("10.255.0.1"), ip("10.254.0.1")]))
        );
        assert_eq!(u[0].attribute(tc::NEXT_HOP), Some(&AttrValue::NextHop(ip("198.51.100.1"))));
    }
}

#[test]
fn reflection_loops_discarded() {
    let mut r = reflector();
    announce(&mut r.rib, r.c1, P, PathAttrs { originator_id: Some(ip("10.0.0.1")), ..attrs(&[]) });
    announce(
        &mut r.rib,
        r.c1,
        "10.1.0.0/16",
        PathAttrs { cluster_list: vec![ip("10.3.3.3"), ip("10.255.0.1")], ..attrs(&[]) },
    );
    assert_eq!(best_peer(&r.rib, P), None);
    assert_eq!(best_peer(&r.rib, "10.1.0.0/16"), None);
    assert_eq!(r.rib.peer_counts(r.c1), PeerCounts { received: 2, accepted: 0, best: 0 });
    assert!(step(&mut r.rib, &mut r.out).is_empty());
}

#[test]
fn ebgp_route_reflected_to_everyone() {
    let mut r = reflector();
    let e = peer(&mut r.rib, 9, 100, PeerKind::Ebgp);
    announce(&mut r.rib, e, P, attrs(&[100]));
    let b = step(&mut r.rib, &mut r.out);
    for p in [r.c1, r.c2, r.n1, r.n2] {
        let u = sent(&r.out, &b, p);
        assert_eq!(u[0].attribute(tc::ORIGINATOR_ID), None, "not a reflection");
        assert_eq!(u[0].attribute(tc::LOCAL_PREF), Some(&AttrValue::LocalPref(100)));
    }
}

// ---- Update groups ----

#[test]
fn identical_members_share_one_encoding() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let m1 = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let m2 = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    let old = peer(&mut rib, 4, 400, PeerKind::Ebgp);
    let (g1, _) = out.join(&rib, m1, member("192.0.2.254"));
    let (g2, _) = out.join(&rib, m2, member("192.0.2.254"));
    let two_octet =
        MemberConfig { ctx: EncodeCtx { four_octet_as: false, ..EncodeCtx::default() }, ..member("192.0.2.254") };
    let (g3, _) = out.join(&rib, old, two_octet);
    assert_eq!(g1, g2);
    assert_ne!(g1, g3);
    assert_eq!(out.members(g1), &[m1, m2]);
    let before = out.encode_calls();
    announce(&mut rib, src, P, attrs(&[100]));
    let b = step(&mut rib, &mut out);
    assert_eq!(out.encode_calls() - before, 2, "one per group");
    let shared: Vec<&OutBatch> = b.iter().filter(|x| x.group == g1).collect();
    assert_eq!(shared.len(), 1);
    assert_eq!(out.recipients(shared[0]), vec![m1, m2]);
    // Both members write clones of the same buffer.
    let (c1, c2) = (shared[0].bytes.clone(), shared[0].bytes.clone());
    assert_eq!(c1.as_ptr(), c2.as_ptr());
    // No change, nothing sent; the same route again, nothing sent.
    assert!(out.process(&rib, &[]).is_empty());
    announce(&mut rib, src, P, attrs(&[100]));
    assert!(step(&mut rib, &mut out).is_empty());
    // Withdrawal.
    rib.withdraw(src, pfx(P), 0);
    let b = step(&mut rib, &mut out);
    assert_eq!(sent(&out, &b, m1)[0].withdrawn[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
    assert_eq!(out.group_path_count(g1), 0);
}

#[test]
fn late_member_gets_dump_and_refresh() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let m1 = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let m2 = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    out.join(&rib, m1, member("192.0.2.254"));
    announce(&mut rib, src, P, attrs(&[100]));
    announce(
        &mut rib,
        src,
        "2001:db8:5::/48",
        PathAttrs {
            next_hop: Some(NextHop::V6 { global: "2001:db8::9".parse().unwrap(), link_local: None }),
            ..attrs(&[100])
        },
    );
    step(&mut rib, &mut out);
    let (_, dump) = out.join(&rib, m2, member("192.0.2.254"));
    assert!(dump.iter().all(|b| b.target == Target::Only(m2)));
    let u = sent(&out, &dump, m2);
    assert_eq!(u.len(), 2);
    let v6 = u.iter().find_map(|u| u.mp_reach()).unwrap();
    assert_eq!(v6.next_hop, NextHop::V6 { global: "2001:db8::ff".parse().unwrap(), link_local: None }, "eBGP: self");
    let r = out.refresh(m1, Some(AfiSafi::IPV4_UNICAST));
    assert_eq!(sent(&out, &r, m1).len(), 1);
    assert_eq!(out.peer_path_count(m2), 2);
    out.leave(m1);
    out.leave(m2);
    assert_eq!(out.group_count(), 0);
}

#[test]
fn add_path_send_advertises_ecmp_set() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let a1 = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let a2 = peer(&mut rib, 2, 100, PeerKind::Ebgp);
    let dst = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    let mut m = member("192.0.2.254");
    m.ctx.add_path.insert(AfiSafi::IPV4_UNICAST);
    out.join(&rib, dst, m);
    announce(&mut rib, a1, P, attrs(&[100]));
    announce(&mut rib, a2, P, PathAttrs { next_hop: Some(NextHop::V4(ip("198.51.100.2"))), ..attrs(&[100]) });
    let b = step(&mut rib, &mut out);
    let mut ctx = DecodeCtx::default();
    ctx.add_path.insert(AfiSafi::IPV4_UNICAST);
    let u: Vec<Update> = b.iter().flat_map(|b| decode_all(&b.bytes, &ctx)).collect();
    let mut ids: Vec<u32> = u.iter().flat_map(|u| u.nlri.iter().map(|n| n.path_id.unwrap())).collect();
    ids.sort();
    assert_eq!(ids, vec![a1.0 << 16, a2.0 << 16]);
    rib.withdraw(a2, pfx(P), 0);
    let b = step(&mut rib, &mut out);
    let u: Vec<Update> = b.iter().flat_map(|b| decode_all(&b.bytes, &ctx)).collect();
    assert_eq!(u[0].withdrawn[..], vec![bgp_proto::Nlri::with_path_id(P.parse().unwrap(), a2.0 << 16)]);
}

/// Two paths of one prefix from one peer whose ids agree in the low 16 bits still go
/// out under distinct ADD-PATH ids, and the receiver is left with the right set when
/// one of them goes.
#[test]
fn add_path_ids_stay_unique_when_received_ids_share_low_bits() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let dst = peer(&mut rib, 3, LOCAL_AS, PeerKind::Ibgp);
    let mut m = member("192.0.2.254");
    m.ctx.add_path.insert(AfiSafi::IPV4_UNICAST);
    out.join(&rib, dst, m);
    let nh2 = PathAttrs { next_hop: Some(NextHop::V4(ip("198.51.100.2"))), ..attrs(&[100]) };
    rib.import(src, attrs(&[100]), [(pfx(P), 1)]);
    rib.import(src, nh2.clone(), [(pfx(P), 0x1_0001)]);
    let b = step(&mut rib, &mut out);
    let mut ctx = DecodeCtx::default();
    ctx.add_path.insert(AfiSafi::IPV4_UNICAST);
    let u: Vec<Update> = b.iter().flat_map(|b| decode_all(&b.bytes, &ctx)).collect();
    let mut got: Vec<(u32, Option<&AttrValue>)> =
        u.iter().flat_map(|u| u.nlri.iter().map(|n| (n.path_id.unwrap(), u.attribute(tc::NEXT_HOP)))).collect();
    got.sort_by_key(|g| g.0);
    let (nh_a, nh_b) = (AttrValue::NextHop(ip("198.51.100.1")), AttrValue::NextHop(ip("198.51.100.2")));
    let base = src.0 << 16;
    assert_eq!(got, vec![(base | 1, Some(&nh_a)), (base | 2, Some(&nh_b))]);
    // The first path goes: the second takes the id it had on its own, replacing the
    // first at the receiver, and its old id is withdrawn.
    rib.withdraw(src, pfx(P), 1);
    let b = step(&mut rib, &mut out);
    let u: Vec<Update> = b.iter().flat_map(|b| decode_all(&b.bytes, &ctx)).collect();
    let announced: Vec<(u32, Option<&AttrValue>)> =
        u.iter().flat_map(|u| u.nlri.iter().map(|n| (n.path_id.unwrap(), u.attribute(tc::NEXT_HOP)))).collect();
    let withdrawn: Vec<u32> = u.iter().flat_map(|u| u.withdrawn.iter().map(|n| n.path_id.unwrap())).collect();
    assert_eq!(announced, vec![(base | 1, Some(&nh_b))]);
    assert_eq!(withdrawn, vec![base | 2]);
}

#[test]
fn joining_members_share_the_cached_dump_until_the_table_changes() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let src = peer(&mut rib, 1, 100, PeerKind::Ebgp);
    let m1 = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let m2 = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    let m3 = peer(&mut rib, 4, 400, PeerKind::Ebgp);
    out.join(&rib, m1, member("192.0.2.254"));
    announce(&mut rib, src, P, attrs(&[100]));
    step(&mut rib, &mut out);
    let (_, d2) = out.join(&rib, m2, member("192.0.2.254"));
    let (_, d3) = out.join(&rib, m3, member("192.0.2.254"));
    assert_eq!((d2.len(), d3.len()), (1, 1));
    assert_eq!((d2[0].target, d3[0].target), (Target::Only(m2), Target::Only(m3)));
    // The second dump is the first one's buffer, not a new encoding.
    assert_eq!(d2[0].bytes.as_ptr(), d3[0].bytes.as_ptr());
    let u = sent(&out, &d3, m3);
    assert_eq!(u[0].nlri[..], vec![bgp_proto::Nlri::new(P.parse().unwrap())]);
    // A change to the table: the next member gets the new table.
    announce(&mut rib, src, "10.9.0.0/16", attrs(&[100]));
    step(&mut rib, &mut out);
    out.leave(m3);
    let (_, d3) = out.join(&rib, m3, member("192.0.2.254"));
    let got: Vec<String> =
        sent(&out, &d3, m3).iter().flat_map(|u| u.nlri.iter().map(|n| n.prefix.to_string())).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&"10.9.0.0/16".to_string()) && got.contains(&P.to_string()), "{got:?}");
}

#[test]
fn the_cached_dump_is_not_given_to_the_source_of_a_route() {
    let mut rib = new_rib();
    let mut out = OutGroups::new();
    let m1 = peer(&mut rib, 2, 200, PeerKind::Ebgp);
    let m2 = peer(&mut rib, 3, 300, PeerKind::Ebgp);
    out.join(&rib, m1, member("192.0.2.254"));
    out.join(&rib, m2, member("192.0.2.254"));
    // m1's route is in the group's table: m2 gets it, m1 (split horizon) does not.
    announce(&mut rib, m1, P, attrs(&[200]));
    step(&mut rib, &mut out);
    out.leave(m2);
    let (_, d2) = out.join(&rib, m2, member("192.0.2.254"));
    assert_eq!(sent(&out, &d2, m2).len(), 1);
    out.leave(m1);
    // m1 rejoins with its own route still held by the group (its session is gone, but
    // the route stays until the RIB withdraws it): it must not receive it back.
    let (_, d1) = out.join(&rib, m1, member("192.0.2.254"));
    assert!(sent(&out, &d1, m1).is_empty(), "split horizon");
}
