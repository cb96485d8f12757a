//! Connection collisions (RFC 4271 §6.8, RFC 6286 §2.3).

use super::harness::*;
use crate::session::*;
use bgp_proto::Message;
use std::net::Ipv4Addr;

#[test]
fn resolve_collision_keeps_connection_of_higher_identifier() {
    let lo = Ipv4Addr::new(1, 1, 1, 1);
    let hi = Ipv4Addr::new(9, 0, 0, 1);
    assert_eq!(resolve_collision(hi, 1, lo, 2), Direction::Outbound);
    assert_eq!(resolve_collision(lo, 1, hi, 2), Direction::Inbound);
    // Compared as unsigned 32-bit numbers, not bytewise strings.
    assert_eq!(
        resolve_collision(Ipv4Addr::new(10, 0, 0, 2), 1, Ipv4Addr::new(9, 255, 255, 255), 2),
        Direction::Outbound
    );
    // Equal identifiers (eBGP): the larger ASN wins.
    assert_eq!(resolve_collision(lo, 65002, lo, 65001), Direction::Outbound);
    assert_eq!(resolve_collision(lo, 65001, lo, 65002), Direction::Inbound);
}

fn session_with(direction: Direction, open_confirm: bool) -> H {
    let mut h = H::new(cfg_a());
    h.input(Input::Start);
    h.input(Input::TcpConnected { local: addr("10.0.0.1:1"), remote: addr("10.0.0.2:2"), direction });
    if open_confirm {
        h.msg(Message::Open(peer_open()));
    }
    h
}

#[test]
fn should_yield_to_follows_rfc_4271_6_8() {
    // We are 1.1.1.1, the peer 2.2.2.2: the peer's connection (inbound for us) wins.
    let out = session_with(Direction::Outbound, true);
    let inb = session_with(Direction::Inbound, true);
    assert!(out.s.should_yield_to(&inb.s));
    assert!(!inb.s.should_yield_to(&out.s));
    // Only one side knows the identifier yet: still decidable.
    let inb_sent = session_with(Direction::Inbound, false);
    assert!(out.s.should_yield_to(&inb_sent.s));
    // Neither knows it: no decision.
    let out_sent = session_with(Direction::Outbound, false);
    assert!(!out_sent.s.should_yield_to(&inb_sent.s) && !inb_sent.s.should_yield_to(&out_sent.s));
    // An Established connection always wins.
    let mut est = session_with(Direction::Outbound, true);
    est.msg(Message::Keepalive);
    assert!(!est.s.should_yield_to(&inb.s));
    assert!(inb.s.should_yield_to(&est.s));
}

#[test]
fn collision_lost_sends_cease_7_and_stays_idle() {
    let mut h = session_with(Direction::Outbound, true);
    let o = h.input(Input::CollisionLost);
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 7, &[])]);
    assert_eq!(down(&o).unwrap().0, DownReason::CollisionLost);
    assert!(timer_set(&o, TimerKind::IdleHold).is_none());
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn second_connection_is_refused() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.input(Input::TcpConnected {
        local: addr("10.0.0.1:179"),
        remote: addr("10.0.0.2:7"),
        direction: Direction::Inbound,
    });
    assert!(matches!(o[..], [Output::RefuseConnection { remote }] if remote == addr("10.0.0.2:7")));
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn collision_lost_before_open_sent_closes_silently() {
    let mut cfg = cfg_a();
    cfg.delay_open = Some(secs(5));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    h.connected();
    let o = h.input(Input::CollisionLost);
    assert!(sent_bytes(&o).is_empty());
    assert!(has(&o, |x| matches!(x, Output::CloseConnection)));
    assert_eq!(h.s.state(), State::Idle);
    // Without a connection there is nothing to lose.
    assert!(h.input(Input::CollisionLost).is_empty());
}
