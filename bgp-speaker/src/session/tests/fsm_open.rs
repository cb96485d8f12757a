//! RFC 4271 §8.2.2: OpenSent, OpenConfirm, Established.

use super::harness::*;
use crate::session::*;
use bgp_proto::{Message, Notification, RouteRefresh, Update};

#[test]
fn open_sent_hold_expiry_sends_4_0() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.advance(secs(240));
    assert_eq!(sent_bytes(&o), [notif_bytes(4, 0, &[])]);
    assert_eq!(down(&o).unwrap().0, DownReason::HoldTimerExpired);
    assert!(has(&o, |x| matches!(x, Output::CloseConnection)));
}

#[test]
fn open_sent_keepalive_update_refresh_are_fsm_errors_5_1() {
    let msgs = [
        Message::Keepalive,
        Message::Update(Update::default()),
        Message::RouteRefresh(RouteRefresh::request(bgp_proto::AfiSafi::IPV4_UNICAST)),
    ];
    for m in msgs {
        let mut h = H::new(cfg_a());
        h.drive_open_sent();
        let o = h.msg(m);
        assert_eq!(sent_bytes(&o), [notif_bytes(5, 1, &[])]);
        assert_eq!(down(&o).unwrap().0, DownReason::FsmError);
        assert_eq!(h.s.state(), State::Idle);
    }
}

#[test]
fn open_sent_notification_goes_idle() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let n = Notification::new(6, 5, bytes::Bytes::new());
    let o = h.msg(Message::Notification(n.clone()));
    assert!(sent(&o).is_empty());
    assert_eq!(down(&o), Some((DownReason::NotificationReceived, None, Some(n))));
    assert!(!h.s.stats().last_error.unwrap().sent);
}

#[test]
fn notification_version_error_does_not_double_backoff() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.msg(Message::Notification(Notification::new(2, 1, vec![0, 4])));
    assert_eq!(timer_set(&o, TimerKind::IdleHold), Some(h.now + secs(5)));
    assert_eq!(h.s.current_backoff(), secs(5));
}

#[test]
fn open_sent_header_error_sends_1_x() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let mut bad = enc(&Message::Keepalive).to_vec();
    bad[3] = 0;
    let o = h.raw(&bad);
    assert_eq!(sent_bytes(&o), [notif_bytes(1, 1, &[])]);
    // Bad type: 1/3 with the type as data.
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let mut bad = enc(&Message::Keepalive).to_vec();
    bad[18] = 9;
    let o = h.raw(&bad);
    assert_eq!(sent_bytes(&o), [notif_bytes(1, 3, &[9])]);
    // A framing error from the driver: 1/2 with the length.
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let mut buf = enc(&Message::Keepalive).to_vec();
    buf[17] = 5;
    let e = bgp_proto::frame(&buf, h.s.max_frame_len()).unwrap_err();
    let o = h.input(Input::FrameError(e));
    assert_eq!(sent_bytes(&o), [notif_bytes(1, 2, &[0, 5])]);
}

#[test]
fn open_sent_manual_stop_sends_cease_2() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.input(Input::Stop { notification: None });
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 2, &[])]);
    assert!(timer_set(&o, TimerKind::IdleHold).is_none());
}

#[test]
fn open_sent_open_goes_open_confirm_with_negotiated_timers() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let mut p = peer_open();
    p.hold_time = 30;
    let o = h.msg(Message::Open(p));
    assert_eq!(sent(&o), [Message::Keepalive]);
    assert_eq!(states(&o), [(State::OpenSent, State::OpenConfirm)]);
    assert_eq!(timer_set(&o, TimerKind::Hold), Some(h.now + secs(30)));
    assert_eq!(timer_set(&o, TimerKind::Keepalive), Some(h.now + secs(10)));
    assert_eq!(h.s.peer_bgp_id(), Some(B_ID));
}

#[test]
fn open_confirm_keepalive_goes_established() {
    let mut h = H::new(cfg_a());
    h.drive_open_confirm(peer_open());
    let o = h.msg(Message::Keepalive);
    assert_eq!(states(&o), [(State::OpenConfirm, State::Established)]);
    let Some(Output::Established(n)) = o.iter().find(|x| matches!(x, Output::Established(_))) else { panic!() };
    assert_eq!((n.hold_time, n.keepalive, n.peer_asn, n.peer_id), (90, 30, 65002, B_ID));
    assert!(n.external && n.four_octet && n.route_refresh && n.enhanced_rr);
    assert!(!n.extended_message && !n.extended_next_hop && n.gr.is_none());
    assert_eq!(n.families, [bgp_proto::AfiSafi::IPV4_UNICAST, bgp_proto::AfiSafi::IPV6_UNICAST]);
    assert_eq!(h.s.stats().established_at, Some(h.now));
}

#[test]
fn open_confirm_hold_expiry_and_keepalive_timer() {
    let mut h = H::new(cfg_a());
    h.drive_open_confirm(peer_open());
    let o = h.advance(secs(30));
    assert_eq!(sent(&o), [Message::Keepalive]);
    assert_eq!(h.s.timer(TimerKind::Keepalive), Some(h.now + secs(30)));
    let o = h.advance(secs(60));
    assert_eq!(sent_bytes(&o).last().unwrap(), &notif_bytes(4, 0, &[]));
    assert_eq!(down(&o).unwrap().0, DownReason::HoldTimerExpired);
}

#[test]
fn open_confirm_open_or_update_is_fsm_error_5_2() {
    for m in [Message::Open(peer_open()), Message::Update(Update::default())] {
        let mut h = H::new(cfg_a());
        h.drive_open_confirm(peer_open());
        let o = h.msg(m);
        assert_eq!(sent_bytes(&o), [notif_bytes(5, 2, &[])]);
    }
}

#[test]
fn open_confirm_notification_and_tcp_closed_go_idle() {
    let mut h = H::new(cfg_a());
    h.drive_open_confirm(peer_open());
    let o = h.msg(Message::Notification(Notification::new(6, 4, bytes::Bytes::new())));
    assert_eq!(states(&o), [(State::OpenConfirm, State::Idle)]);
    let mut h = H::new(cfg_a());
    h.drive_open_confirm(peer_open());
    let o = h.input(Input::TcpClosed);
    assert_eq!(down(&o).unwrap().0, DownReason::TcpClosed);
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::Keepalive))));
}

#[test]
fn established_keepalive_and_update_restart_hold_timer() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    h.advance(secs(60));
    h.msg(Message::Keepalive);
    // The original deadline fires but the timer re-arms from the last message.
    let o = h.advance(secs(30));
    assert!(sent_bytes(&o).iter().all(|b| b[18] == 4), "only keepalives: {o:?}");
    assert_eq!(h.s.timer(TimerKind::Hold), Some(h.t0 + secs(150)));
    h.advance(secs(50));
    h.msg(Message::Update(Update::end_of_rib(bgp_proto::AfiSafi::IPV4_UNICAST)));
    h.advance(secs(20));
    assert_eq!(h.s.timer(TimerKind::Hold), Some(h.t0 + secs(230)));
    assert_eq!(h.s.state(), State::Established);
    let o = h.advance(secs(90));
    assert_eq!(sent_bytes(&o).last().unwrap(), &notif_bytes(4, 0, &[]));
}

#[test]
fn established_keepalive_timer_sends_and_updates_restart_it() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let o = h.advance(secs(30));
    assert_eq!(sent(&o), [Message::Keepalive]);
    h.advance(secs(20));
    h.s.send_update(&Update::end_of_rib(bgp_proto::AfiSafi::IPV4_UNICAST), h.now).unwrap();
    h.drain();
    // 60 s deadline: an UPDATE was sent at 50 s, so no KEEPALIVE; re-armed for 80 s.
    let o = h.advance(secs(10));
    assert!(sent(&o).is_empty());
    assert_eq!(h.s.timer(TimerKind::Keepalive), Some(h.t0 + secs(80)));
    let o = h.advance(secs(20));
    assert_eq!(sent(&o), [Message::Keepalive]);
}

#[test]
fn established_open_is_fsm_error_5_3() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let o = h.msg(Message::Open(peer_open()));
    assert_eq!(sent_bytes(&o), [notif_bytes(5, 3, &[])]);
    assert_eq!(states(&o), [(State::Established, State::Idle)]);
    assert_eq!(h.s.stats().flaps, 1);
}

#[test]
fn established_notification_goes_down() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let n = Notification::cease_with_message(2, "maintenance");
    let o = h.msg(Message::Notification(n.clone()));
    let (r, s, rcv) = down(&o).unwrap();
    assert_eq!((r, s), (DownReason::NotificationReceived, None));
    assert_eq!(rcv.unwrap().shutdown_communication().unwrap().as_deref(), Some("maintenance"));
}

#[test]
fn established_tcp_closed_goes_idle_with_restart() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let o = h.input(Input::TcpClosed);
    assert_eq!(down(&o), Some((DownReason::TcpClosed, None, None)));
    assert!(!has(&o, |x| matches!(x, Output::Send(_))));
    let o = h.advance(secs(5));
    assert_eq!(states(&o), [(State::Idle, State::Connect)]);
}

#[test]
fn established_manual_stop_with_shutdown_message() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let n = Notification::cease_with_message(2, "bye");
    let o = h.input(Input::Stop { notification: Some(n) });
    assert_eq!(sent_bytes(&o), [notif_bytes(6, 2, b"\x03bye")]);
    assert_eq!(down(&o).unwrap().0, DownReason::AdminStop);
    assert!(h.advance(secs(3600)).is_empty());
}

#[test]
fn hold_time_zero_runs_no_timers() {
    let mut cfg = cfg_a();
    cfg.hold_time = 0;
    let mut h = H::new(cfg);
    h.drive_established(peer_open());
    assert_eq!(h.s.timer(TimerKind::Hold), None);
    assert_eq!(h.s.timer(TimerKind::Keepalive), None);
    assert_eq!(h.s.negotiated().unwrap().keepalive, 0);
    assert!(h.advance(secs(10_000)).is_empty());
}

#[test]
fn configured_keepalive_is_capped_at_a_third_of_hold() {
    let mut cfg = cfg_a();
    cfg.keepalive = Some(60);
    let mut h = H::new(cfg.clone());
    let mut p = peer_open();
    p.hold_time = 9;
    h.drive_established(p);
    assert_eq!((h.s.negotiated().unwrap().hold_time, h.s.negotiated().unwrap().keepalive), (9, 3));
    cfg.keepalive = Some(10);
    let mut h = H::new(cfg);
    h.drive_established(peer_open());
    assert_eq!(h.s.negotiated().unwrap().keepalive, 10);
}
