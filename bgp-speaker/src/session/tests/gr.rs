//! Graceful Restart (RFC 4724, RFC 8538) as receiving and restarting speaker.

use super::harness::*;
use crate::session::*;
use bgp_proto::capability::{GracefulRestart, GracefulRestartFamily};
use bgp_proto::{AfiSafi, Capability, Message, Notification, Open, Update};

const V4: AfiSafi = AfiSafi::IPV4_UNICAST;
const V6: AfiSafi = AfiSafi::IPV6_UNICAST;

fn gr_cfg(n_bit: bool) -> SessionConfig {
    let mut c = cfg_a();
    c.graceful_restart = Some(GracefulRestartConfig { notification: n_bit, ..Default::default() });
    c
}

fn gr_peer(restarting: bool, n_bit: bool, f_bits: &[(AfiSafi, bool)]) -> Open {
    let mut caps: Vec<Capability> = peer_open().capabilities().cloned().collect();
    caps.push(Capability::GracefulRestart(GracefulRestart {
        restarting,
        notification: n_bit,
        reserved_flags: 0,
        restart_time: 60,
        families: f_bits
            .iter()
            .map(|&(family, f)| GracefulRestartFamily { family, forwarding_preserved: f, other_flags: 0 })
            .collect(),
    }));
    Open::new(65002, 90, B_ID, caps)
}

fn restarting(o: &[Output]) -> Option<(Vec<AfiSafi>, std::time::Duration)> {
    o.iter().find_map(|x| match x {
        Output::PeerRestarting { families_preserved, restart_time } => {
            Some((families_preserved.clone(), *restart_time))
        }
        _ => None,
    })
}

fn sweeps(o: &[Output]) -> Vec<Vec<AfiSafi>> {
    o.iter()
        .filter_map(|x| match x {
            Output::StaleSweep { families } => Some(families.clone()),
            _ => None,
        })
        .collect()
}

/// Re-establish after the IdleHold back-off with `peer`.
fn reestablish(h: &mut H, peer: Open) -> Vec<Output> {
    let w = h.s.timer(TimerKind::IdleHold).unwrap() - h.now;
    let mut o = h.advance(w);
    o.extend(h.connected());
    o.extend(h.msg(Message::Open(peer)));
    o.extend(h.msg(Message::Keepalive));
    assert_eq!(h.s.state(), State::Established);
    o
}

#[test]
fn tcp_failure_keeps_routes_stale_until_end_of_rib() {
    let mut h = H::new(gr_cfg(false));
    let peer = gr_peer(false, false, &[(V4, true), (V6, true)]);
    h.drive_established(peer.clone());
    let o = h.input(Input::TcpClosed);
    assert_eq!(restarting(&o), Some((vec![V4, V6], secs(60))));
    // PeerRestarting comes before Down, so the driver knows not to flush.
    let pr = o.iter().position(|x| matches!(x, Output::PeerRestarting { .. })).unwrap();
    let dn = o.iter().position(|x| matches!(x, Output::Down { .. })).unwrap();
    assert!(pr < dn);
    assert_eq!(timer_set(&o, TimerKind::GrRestart), Some(h.now + secs(60)));
    // The peer comes back (R bit set) in time.
    let o = reestablish(&mut h, gr_peer(true, false, &[(V4, true), (V6, true)]));
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::GrRestart))));
    let Some(Output::Established(n)) = o.iter().find(|x| matches!(x, Output::Established(_))) else { panic!() };
    assert_eq!(n.gr.as_ref().unwrap().awaiting_eor, [V4, V6]);
    assert!(sweeps(&o).is_empty());
    let o = h.msg(Message::Update(Update::end_of_rib(V6)));
    assert!(matches!(&o[..], [Output::EndOfRib(V6), Output::StaleSweep { families }] if *families == [V6]));
    let o = h.msg(Message::Update(Update::end_of_rib(V4)));
    assert_eq!(sweeps(&o), [vec![V4]]);
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::GrStale))));
}

#[test]
fn restart_timer_expiry_sweeps_stale_routes() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    h.input(Input::TcpClosed);
    // Reconnection keeps failing; the GR timer still runs.
    h.advance(secs(5));
    h.input(Input::TcpConnectFailed);
    let o = h.advance(secs(55));
    assert_eq!(sweeps(&o), [vec![V4]]);
}

#[test]
fn stale_timer_sweeps_when_end_of_rib_never_comes() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true), (V6, true)]));
    h.input(Input::TcpClosed);
    reestablish(&mut h, gr_peer(true, false, &[(V4, true), (V6, true)]));
    h.msg(Message::Update(Update::end_of_rib(V4)));
    let mut swept = Vec::new();
    for _ in 0..13 {
        let o = h.advance(secs(29));
        h.msg(Message::Keepalive);
        swept.extend(sweeps(&o));
    }
    assert_eq!(swept, [vec![V6]]);
}

#[test]
fn families_without_f_bit_after_restart_are_swept_at_once() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true), (V6, true)]));
    h.input(Input::TcpClosed);
    let o = reestablish(&mut h, gr_peer(true, false, &[(V4, true), (V6, false)]));
    assert_eq!(sweeps(&o), [vec![V6]]);
    // The peer no longer advertises GR at all: everything is swept.
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    h.input(Input::TcpClosed);
    let o = reestablish(&mut h, peer_open());
    assert_eq!(sweeps(&o), [vec![V4]]);
}

#[test]
fn notification_without_n_bit_is_not_graceful() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    let o = h.msg(Message::Notification(Notification::new(6, 4, bytes::Bytes::new())));
    assert!(restarting(&o).is_none());
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    let o = h.advance(secs(90));
    assert_eq!(down(&o).unwrap().0, DownReason::HoldTimerExpired);
    assert!(restarting(&o).is_none());
}

#[test]
fn peer_without_gr_or_local_gr_disabled_is_not_graceful() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(peer_open());
    assert!(restarting(&h.input(Input::TcpClosed)).is_none());
    let mut h = H::new(cfg_a());
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    assert!(restarting(&h.input(Input::TcpClosed)).is_none());
}

#[test]
fn n_bit_makes_notifications_graceful_except_hard_reset() {
    let mut h = H::new(gr_cfg(true));
    h.drive_established(gr_peer(false, true, &[(V4, true)]));
    assert!(h.s.negotiated().unwrap().gr.as_ref().unwrap().notification);
    let o = h.advance(secs(90));
    assert_eq!(sent_bytes(&o).last().unwrap(), &notif_bytes(4, 0, &[]));
    assert!(restarting(&o).is_some());
    // Hard Reset received: routes go.
    let mut h = H::new(gr_cfg(true));
    h.drive_established(gr_peer(false, true, &[(V4, true)]));
    let o = h.msg(Message::Notification(Notification::new(6, 9, vec![2])));
    assert!(restarting(&o).is_none());
}

#[test]
fn n_bit_wraps_admin_cease_in_hard_reset() {
    let mut h = H::new(gr_cfg(true));
    h.drive_established(gr_peer(false, true, &[(V4, true)]));
    let o = h.input(Input::Stop { notification: Some(Notification::cease_with_message(2, "x")) });
    // RFC 8538 §5: Hard Reset, data = original subcode + original data.
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 9, &[2, 1, b'x'])]);
    assert!(restarting(&o).is_none());
}

#[test]
fn admin_stop_while_peer_restarting_sweeps() {
    let mut h = H::new(gr_cfg(false));
    h.drive_established(gr_peer(false, false, &[(V4, true)]));
    h.input(Input::TcpClosed);
    let o = h.input(Input::Stop { notification: None });
    assert_eq!(sweeps(&o), [vec![V4]]);
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::GrRestart))));
}

#[test]
fn restarting_speaker_sets_r_bit_once() {
    let mut cfg = gr_cfg(false);
    cfg.graceful_restart.as_mut().unwrap().restarting = true;
    let mut h = H::new(cfg);
    let o = h.drive_established(gr_peer(false, false, &[(V4, true)]));
    let Message::Open(first) = &sent(&o)[0] else { panic!() };
    let gr = |o: &Open| super::super::negotiate::gr_capability(o).unwrap().restarting;
    assert!(gr(first));
    // The driver sends its table, then End-of-RIB per family.
    h.s.send_end_of_ribs(h.now).unwrap();
    assert_eq!(sent(&h.drain()).len(), 2);
    h.input(Input::TcpClosed);
    let o = reestablish(&mut h, gr_peer(false, false, &[(V4, true)]));
    let Some(Message::Open(second)) = sent(&o).into_iter().next() else { panic!() };
    assert!(!gr(&second));
}
