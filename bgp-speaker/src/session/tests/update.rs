//! Established: RFC 7606 handling, families, End-of-RIB, max-prefix, ROUTE-REFRESH,
//! sending, counters.

use super::harness::*;
use crate::session::*;
use bgp_proto::{AfiSafi, AttrValue, Message, MpNlri, Nlri, RefreshSubtype, RouteRefresh, Update};

const ORIGIN: [u8; 4] = [0x40, 1, 1, 0];
const AS_PATH: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 10, 0, 0, 2];
const NLRI: [u8; 4] = [24, 10, 1, 1];

/// A raw UPDATE message.
fn raw_update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let len = 19 + 2 + withdrawn.len() + 2 + attrs.len() + nlri.len();
    let mut b = vec![0xff; 16];
    b.extend_from_slice(&(len as u16).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

fn mp_reach_v6(nh_len: u8) -> Vec<u8> {
    let mut v = vec![0, 2, 1, nh_len];
    v.extend(std::iter::repeat_n(0x20, nh_len as usize));
    v.push(0);
    v.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
    let mut a = vec![0x80, 14, v.len() as u8];
    a.extend(v);
    a
}

fn attrs(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn established() -> H {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    h
}

fn v4(s: &str) -> Nlri<ipnet::Ipv4Net> {
    Nlri::new(s.parse().unwrap())
}

#[test]
fn valid_update_is_passed_through() {
    let mut h = established();
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &NEXT_HOP]), &NLRI));
    let u = updates(&o);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].nlri[..], [v4("10.1.1.0/24")]);
    assert_eq!(h.s.stats().prefixes, [(AfiSafi::IPV4_UNICAST, 1)]);
}

#[test]
fn treat_as_withdraw_turns_announcements_into_withdrawals() {
    let mut h = established();
    // RFC 7606 §7.1: a bad ORIGIN value is treat-as-withdraw.
    let bad_origin = [0x40, 1, 1, 7];
    let o = h.raw(&raw_update(&[24, 10, 9, 9], &attrs(&[&bad_origin, &AS_PATH, &NEXT_HOP]), &NLRI));
    assert!(has(
        &o,
        |x| matches!(x, Output::Warning(Warning::UpdateError(e)) if e.action == bgp_proto::Action::TreatAsWithdraw)
    ));
    let u = updates(&o);
    assert_eq!(
        u,
        [Update {
            withdrawn: bgp_proto::smallvec::smallvec![v4("10.9.9.0/24"), v4("10.1.1.0/24")],
            ..Default::default()
        }]
    );
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn treat_as_withdraw_turns_mp_reach_into_mp_unreach() {
    let mut h = established();
    let bad_origin = [0x40, 1, 1, 7];
    let o = h.raw(&raw_update(&[], &attrs(&[&bad_origin, &AS_PATH, &mp_reach_v6(16)]), &[]));
    let u = updates(&o);
    assert_eq!(u.len(), 1);
    assert!(u[0].withdrawn.is_empty() && u[0].nlri.is_empty());
    let un = u[0].mp_unreach().unwrap();
    assert_eq!(un.family, AfiSafi::IPV6_UNICAST);
    assert_eq!(un.withdrawn, MpNlri::Ipv6(vec![Nlri::new("2001:db8:0:1::/64".parse().unwrap())]));
    assert_eq!(u[0].attributes.len(), 1);
}

#[test]
fn treat_as_withdraw_function_merges_and_splits_families() {
    use bgp_proto::{Attribute, MpReach, MpUnreach, NextHop};
    let p6 = |s: &str| Nlri::new(s.parse::<ipnet::Ipv6Net>().unwrap());
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            Attribute::new(AttrValue::MpReach(Box::new(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None },
                nlri: MpNlri::Ipv6(vec![p6("2001:db8:1::/48")]),
            }))),
            Attribute::new(AttrValue::MpUnreach(Box::new(MpUnreach {
                family: AfiSafi::IPV6_UNICAST,
                withdrawn: MpNlri::Ipv6(vec![p6("2001:db8:2::/48")]),
            }))),
        ],
        ..Default::default()
    };
    let out = treat_as_withdraw(u);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].mp_unreach().unwrap().withdrawn,
        MpNlri::Ipv6(vec![p6("2001:db8:2::/48"), p6("2001:db8:1::/48")])
    );
    // Nothing to withdraw: nothing produced (an empty UPDATE would be End-of-RIB).
    assert!(treat_as_withdraw(Update::default()).is_empty());
}

#[test]
fn attribute_discard_passes_the_rest() {
    let mut h = established();
    // RFC 7606 §7.6: ATOMIC_AGGREGATE with a non-zero length is discarded.
    let bad_atomic = [0x40, 6, 1, 0];
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &NEXT_HOP, &bad_atomic]), &NLRI));
    assert!(has(
        &o,
        |x| matches!(x, Output::Warning(Warning::UpdateError(e)) if e.action == bgp_proto::Action::AttributeDiscard)
    ));
    let u = updates(&o);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].nlri[..], [v4("10.1.1.0/24")]);
    assert!(u[0].attribute(6).is_none());
    assert!(u[0].attribute(3).is_some());
}

#[test]
fn mp_error_disables_the_family_for_the_session() {
    let mut h = established();
    // MP_REACH for IPv6 with a 5-octet next hop: AFI/SAFI disable (RFC 7606 §7.11).
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &mp_reach_v6(5)]), &[]));
    assert!(has(&o, |x| matches!(x, Output::FamilyDisabled { family, .. } if *family == AfiSafi::IPV6_UNICAST)));
    assert!(updates(&o).is_empty());
    assert_eq!(h.s.disabled_families(), [AfiSafi::IPV6_UNICAST]);
    assert_eq!(h.s.state(), State::Established);
    // A later, valid IPv6 UPDATE is ignored; IPv4 still flows.
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &mp_reach_v6(16)]), &[]));
    assert!(updates(&o).is_empty());
    assert!(has(&o, |x| matches!(x, Output::Warning(Warning::InactiveFamily(AfiSafi::IPV6_UNICAST)))));
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &NEXT_HOP]), &NLRI));
    assert_eq!(updates(&o).len(), 1);
    assert_eq!(
        h.s.send_end_of_rib(AfiSafi::IPV6_UNICAST, h.now),
        Err(SendError::FamilyInactive(AfiSafi::IPV6_UNICAST))
    );
}

#[test]
fn fatal_update_error_sends_the_exact_notification() {
    let mut h = established();
    // Withdrawn Routes Length overruns the message: 3/1, session reset (RFC 7606 §4).
    let mut b = raw_update(&[], &[], &[]);
    b[19] = 0;
    b[20] = 200;
    let o = h.raw(&b);
    assert_eq!(sent_bytes(&o), [notif_bytes(3, 1, &[])]);
    assert_eq!(down(&o).unwrap().0, DownReason::MessageError);
    // Unrecognized well-known attribute: 3/2 with the attribute as data.
    let mut h = established();
    let unknown_wk = [0x40, 99, 1, 7];
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &NEXT_HOP, &unknown_wk]), &NLRI));
    assert_eq!(sent_bytes(&o), [notif_bytes(3, 2, &unknown_wk)]);
}

#[test]
fn inactive_family_update_is_ignored_with_a_warning() {
    let mut h = H::new(cfg_a());
    let p = bgp_proto::Open::new(
        65002,
        90,
        B_ID,
        vec![bgp_proto::Capability::Multiprotocol { family: AfiSafi::IPV4_UNICAST, reserved: 0 }],
    );
    h.drive_established(p);
    let o = h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &mp_reach_v6(16)]), &[]));
    assert!(updates(&o).is_empty());
    assert!(has(&o, |x| matches!(x, Output::Warning(Warning::InactiveFamily(AfiSafi::IPV6_UNICAST)))));
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn end_of_rib_is_reported() {
    let mut h = established();
    let o = h.msg(Message::Update(Update::end_of_rib(AfiSafi::IPV6_UNICAST)));
    assert!(matches!(o[..], [Output::EndOfRib(AfiSafi::IPV6_UNICAST)]));
    let o = h.msg(Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)));
    assert!(matches!(o[..], [Output::EndOfRib(AfiSafi::IPV4_UNICAST)]));
}

fn announce(h: &mut H, n: u8) -> Vec<Output> {
    h.raw(&raw_update(&[], &attrs(&[&ORIGIN, &AS_PATH, &NEXT_HOP]), &[24, 10, 2, n]))
}

#[test]
fn without_count_prefixes_only_limited_families_are_counted() {
    let mut cfg = cfg_a();
    cfg.count_prefixes = false;
    let mut h = H::new(cfg.clone());
    h.drive_established(peer_open());
    assert_eq!(updates(&announce(&mut h, 1)).len(), 1);
    assert_eq!(h.s.stats().prefixes, []);
    // A limit on IPv4 unicast: counted and enforced as before.
    cfg.max_prefix =
        vec![MaxPrefix { family: AfiSafi::IPV4_UNICAST, limit: 1, warning_percent: 0, restart_after: None }];
    let mut h = H::new(cfg);
    h.drive_established(peer_open());
    assert_eq!(updates(&announce(&mut h, 1)).len(), 1);
    assert_eq!(h.s.stats().prefixes, [(AfiSafi::IPV4_UNICAST, 1)]);
    let o = announce(&mut h, 2);
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 1, &[0, 1, 1, 0, 0, 0, 1])]);
}

#[test]
fn max_prefix_warns_then_ceases_with_rfc4486_data() {
    let mut cfg = cfg_a();
    cfg.max_prefix =
        vec![MaxPrefix { family: AfiSafi::IPV4_UNICAST, limit: 4, warning_percent: 75, restart_after: None }];
    let mut h = H::new(cfg);
    h.drive_established(peer_open());
    for i in 0..2 {
        assert!(!has(&announce(&mut h, i), |x| matches!(x, Output::Warning(_))));
    }
    let o = announce(&mut h, 2);
    assert!(has(&o, |x| matches!(x, Output::Warning(Warning::MaxPrefixThreshold { count: 3, limit: 4, .. }))));
    // Re-announcing the same prefix does not count twice; no second warning.
    let o = announce(&mut h, 2);
    assert!(!has(&o, |x| matches!(x, Output::Warning(_))));
    assert_eq!(updates(&announce(&mut h, 3)).len(), 1);
    let o = announce(&mut h, 4);
    assert!(updates(&o).is_empty());
    // AFI 1, SAFI 1, limit 4.
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 1, &[0, 1, 1, 0, 0, 0, 4])]);
    assert_eq!(down(&o).unwrap().0, DownReason::MaxPrefix(AfiSafi::IPV4_UNICAST));
    // restart_after None: Idle until an admin start.
    assert!(timer_set(&o, TimerKind::IdleHold).is_none());
    assert!(h.advance(secs(3600)).is_empty());
    let o = h.input(Input::Start);
    assert_eq!(states(&o), [(State::Idle, State::Connect)]);
}

#[test]
fn max_prefix_restart_timer_and_outside_count() {
    let mut cfg = cfg_a();
    cfg.max_prefix = vec![MaxPrefix {
        family: AfiSafi::IPV6_UNICAST,
        limit: 100,
        warning_percent: 0,
        restart_after: Some(secs(300)),
    }];
    let mut h = H::new(cfg);
    h.drive_established(peer_open());
    assert!(h.input(Input::PrefixCount { family: AfiSafi::IPV6_UNICAST, count: 100 }).is_empty());
    let o = h.input(Input::PrefixCount { family: AfiSafi::IPV6_UNICAST, count: 101 });
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 1, &[0, 2, 1, 0, 0, 0, 100])]);
    assert_eq!(timer_set(&o, TimerKind::IdleHold), Some(h.now + secs(300)));
    let o = h.advance(secs(300));
    assert_eq!(states(&o), [(State::Idle, State::Connect)]);
}

#[test]
fn withdrawals_lower_the_prefix_count() {
    let mut h = established();
    announce(&mut h, 1);
    announce(&mut h, 2);
    h.raw(&raw_update(&[24, 10, 2, 1], &[], &[]));
    assert_eq!(h.s.stats().prefixes, [(AfiSafi::IPV4_UNICAST, 1)]);
}

#[test]
fn route_refresh_received_and_ignored() {
    let mut h = established();
    let rr = RouteRefresh::request(AfiSafi::IPV4_UNICAST);
    assert!(matches!(&h.msg(Message::RouteRefresh(rr.clone()))[..], [Output::RouteRefresh(r)] if *r == rr));
    let borr = RouteRefresh { subtype: RefreshSubtype::BeginOfRefresh, ..rr.clone() };
    assert!(matches!(&h.msg(Message::RouteRefresh(borr))[..], [Output::RouteRefresh(_)]));
    // Unknown subtype (RFC 7313 §5) and inactive family: ignored.
    let other = RouteRefresh { subtype: RefreshSubtype::Other(9), ..rr };
    assert!(matches!(&h.msg(Message::RouteRefresh(other))[..], [Output::Warning(Warning::RouteRefreshIgnored(_))]));
    let mc = RouteRefresh::request(AfiSafi::IPV4_MULTICAST);
    assert!(matches!(&h.msg(Message::RouteRefresh(mc))[..], [Output::Warning(Warning::RouteRefreshIgnored(_))]));
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn sending_api() {
    let mut h = H::new(cfg_a());
    let u = Update::end_of_rib(AfiSafi::IPV4_UNICAST);
    assert_eq!(h.s.send_update(&u, h.now), Err(SendError::NotEstablished(State::Idle)));
    h.drive_established(peer_open());
    h.s.send_route_refresh(AfiSafi::IPV6_UNICAST, h.now).unwrap();
    h.s.send_refresh_marker(AfiSafi::IPV6_UNICAST, true, h.now).unwrap();
    h.s.send_end_of_ribs(h.now).unwrap();
    h.s.send_raw(enc(&Message::Update(u.clone())), h.now).unwrap();
    let o = h.drain();
    assert_eq!(
        sent(&o),
        [
            Message::RouteRefresh(RouteRefresh::request(AfiSafi::IPV6_UNICAST)),
            Message::RouteRefresh(RouteRefresh {
                family: AfiSafi::IPV6_UNICAST,
                subtype: RefreshSubtype::BeginOfRefresh,
                orf: Default::default()
            }),
            Message::Update(u.clone()),
            Message::Update(Update::end_of_rib(AfiSafi::IPV6_UNICAST)),
            Message::Update(u),
        ]
    );
    assert_eq!(
        h.s.send_route_refresh(AfiSafi::IPV4_MULTICAST, h.now),
        Err(SendError::FamilyInactive(AfiSafi::IPV4_MULTICAST))
    );
    let s = h.s.stats();
    assert_eq!((s.updates_out, s.route_refresh_out, s.keepalives_out), (3, 2, 1));
    assert_eq!((s.messages_in, s.keepalives_in, s.messages_out), (2, 1, 7));
}

#[test]
fn route_refresh_not_negotiated_refuses_to_send() {
    let mut h = H::new(cfg_a());
    h.drive_established(bgp_proto::Open::new(65002, 90, B_ID, vec![]));
    assert_eq!(h.s.send_route_refresh(AfiSafi::IPV4_UNICAST, h.now), Err(SendError::NotNegotiated("route refresh")));
    let o = h.msg(Message::RouteRefresh(RouteRefresh::request(AfiSafi::IPV4_UNICAST)));
    assert!(matches!(o[..], [Output::Warning(Warning::RouteRefreshIgnored(_))]));
}

#[test]
fn prefix_count_outside_established_is_ignored() {
    let mut cfg = cfg_a();
    cfg.max_prefix =
        vec![MaxPrefix { family: AfiSafi::IPV4_UNICAST, limit: 1, warning_percent: 50, restart_after: None }];
    let mut h = H::new(cfg);
    h.drive_open_sent();
    assert!(h.input(Input::PrefixCount { family: AfiSafi::IPV4_UNICAST, count: 10 }).is_empty());
    assert_eq!(h.s.state(), State::OpenSent);
}
