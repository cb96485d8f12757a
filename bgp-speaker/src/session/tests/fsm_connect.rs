//! RFC 4271 §8.2.2: Idle, Connect and Active, DelayOpen, and the IdleHold back-off.

use super::harness::*;
use crate::session::*;
use bgp_proto::Message;

#[test]
fn idle_manual_start_active_mode_goes_connect() {
    let mut h = H::new(cfg_a());
    let o = h.input(Input::Start);
    assert_eq!(states(&o), [(State::Idle, State::Connect)]);
    assert!(matches!(o[1], Output::Connect));
    assert_eq!(timer_set(&o, TimerKind::ConnectRetry), Some(h.t0 + secs(120)));
}

#[test]
fn idle_manual_start_passive_goes_active_without_connecting() {
    let mut h = H::new(cfg_b());
    let o = h.input(Input::Start);
    assert_eq!(states(&o), [(State::Idle, State::Active)]);
    assert!(!has(&o, |x| matches!(x, Output::Connect | Output::SetTimer(..))));
    // The peer connects: OPEN goes out.
    let o = h.connected();
    assert!(matches!(sent(&o)[..], [Message::Open(_)]));
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn idle_refuses_connections_and_ignores_messages() {
    let mut h = H::new(cfg_a());
    let o = h.connected();
    assert!(matches!(o[..], [Output::RefuseConnection { .. }]));
    assert!(h.msg(Message::Keepalive).is_empty());
    assert!(h.input(Input::TimerFired(TimerKind::Hold)).is_empty());
    assert!(h.input(Input::TcpClosed).is_empty());
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn connect_retry_expiry_in_connect_retries() {
    let mut h = H::new(cfg_a());
    h.input(Input::Start);
    let o = h.advance(secs(120));
    assert!(matches!(o[..], [Output::CloseConnection, Output::Connect, Output::SetTimer(TimerKind::ConnectRetry, _)]));
    assert_eq!(h.s.timer(TimerKind::ConnectRetry), Some(h.t0 + secs(240)));
    assert_eq!(h.s.state(), State::Connect);
    assert_eq!(h.s.stats().connect_attempts, 2);
}

#[test]
fn connect_tcp_confirmed_sends_open_with_large_hold() {
    let mut h = H::new(cfg_a());
    let o = h.drive_open_sent();
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::ConnectRetry))));
    assert_eq!(sent(&o), [Message::Open(cfg_a().local_open(false))]);
    // RFC 4271 §8.2.2: a large hold time (4 minutes) while waiting for OPEN.
    assert_eq!(h.s.timer(TimerKind::Hold), Some(h.t0 + secs(240)));
    assert_eq!(h.s.direction(), Some(Direction::Outbound));
}

#[test]
fn connect_tcp_fails_goes_active_and_backs_off_doubling_to_cap() {
    let mut cfg = cfg_a();
    cfg.idle_hold = secs(5);
    cfg.idle_hold_max = secs(30);
    let mut h = H::new(cfg);
    h.input(Input::Start);
    let mut waits = Vec::new();
    for _ in 0..5 {
        // RFC 4271 §8.2.2 Connect, Event 18: ConnectRetryTimer restarted, Active,
        // listening; the session never came up, so nothing goes down.
        let o = h.input(Input::TcpConnectFailed);
        assert!(down(&o).is_none());
        assert_eq!(states(&o), [(State::Connect, State::Active)]);
        assert!(h.s.accepts_connection(), "the peer's own connection is welcome while we wait");
        let at = timer_set(&o, TimerKind::ConnectRetry).unwrap();
        waits.push((at - h.now).as_secs());
        // Active, ConnectRetryTimer expiry: dial again.
        let o = h.advance(at - h.now);
        assert!(has(&o, |x| matches!(x, Output::Connect)));
        assert_eq!(h.s.state(), State::Connect);
    }
    assert_eq!(waits, [5, 10, 20, 30, 30]);
}

#[test]
fn connect_failed_then_the_peer_dials_in_comes_up() {
    // Two speakers that both dial: ours failed (the peer was not listening yet); the
    // peer's connection arrives while we wait to retry, and is taken.
    let mut h = H::new(cfg_a());
    h.input(Input::Start);
    h.input(Input::TcpConnectFailed);
    assert_eq!(h.s.state(), State::Active);
    let (local, remote) = ("10.0.0.1:179".parse().unwrap(), "10.0.0.2:40000".parse().unwrap());
    let o = h.input(Input::TcpConnected { local, remote, direction: Direction::Inbound });
    assert_eq!(states(&o), [(State::Active, State::OpenSent)]);
    assert_eq!(sent(&o), [Message::Open(cfg_a().local_open(false))]);
    h.msg(Message::Open(peer_open()));
    h.msg(Message::Keepalive);
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn backoff_resets_after_stable_period() {
    let mut h = H::new(cfg_a());
    h.input(Input::Start);
    for _ in 0..3 {
        h.input(Input::TcpConnectFailed);
        h.advance(h.s.timer(TimerKind::ConnectRetry).unwrap() - h.now);
    }
    assert_eq!(h.s.current_backoff(), secs(40));
    h.connected();
    h.msg(Message::Open(peer_open()));
    h.msg(Message::Keepalive);
    assert_eq!(h.s.state(), State::Established);
    // Keep it alive past the stable period.
    for _ in 0..3 {
        h.advance(secs(29));
        h.msg(Message::Keepalive);
    }
    let o = h.input(Input::TcpClosed);
    assert_eq!(timer_set(&o, TimerKind::IdleHold), Some(h.now + secs(5)));
    assert_eq!(h.s.stats().flaps, 1);
}

#[test]
fn short_lived_session_keeps_backing_off() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    let o = h.input(Input::TcpClosed);
    assert_eq!(timer_set(&o, TimerKind::IdleHold), Some(h.now + secs(5)));
    h.advance(secs(5));
    h.connected();
    h.msg(Message::Open(peer_open()));
    h.msg(Message::Keepalive);
    let o = h.input(Input::TcpClosed);
    assert_eq!(timer_set(&o, TimerKind::IdleHold), Some(h.now + secs(10)));
}

#[test]
fn active_connect_retry_expiry_goes_connect() {
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    // OpenSent + TcpConnectionFails: Active with ConnectRetry (RFC 4271 §8.2.2).
    let o = h.input(Input::TcpClosed);
    assert_eq!(states(&o), [(State::OpenSent, State::Active)]);
    assert_eq!(timer_set(&o, TimerKind::ConnectRetry), Some(h.now + secs(120)));
    let o = h.advance(secs(120));
    assert_eq!(states(&o), [(State::Active, State::Connect)]);
    assert!(has(&o, |x| matches!(x, Output::Connect)));
}

#[test]
fn active_tcp_connect_fails_goes_idle() {
    let mut h = H::new(cfg_b());
    h.input(Input::Start);
    let o = h.input(Input::TcpConnectFailed);
    assert_eq!(states(&o), [(State::Active, State::Idle)]);
}

#[test]
fn manual_stop_in_connect_and_active_sends_nothing() {
    for cfg in [cfg_a(), cfg_b()] {
        let mut h = H::new(cfg);
        h.input(Input::Start);
        let o = h.input(Input::Stop { notification: None });
        assert!(sent(&o).is_empty());
        assert_eq!(down(&o).unwrap().0, DownReason::AdminStop);
        assert!(timer_set(&o, TimerKind::IdleHold).is_none());
        assert_eq!(h.s.state(), State::Idle);
        assert_eq!(h.s.next_deadline(), None);
    }
}

#[test]
fn delay_open_timer_expiry_sends_open() {
    let mut cfg = cfg_a();
    cfg.delay_open = Some(secs(5));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    let o = h.connected();
    assert!(sent(&o).is_empty());
    assert_eq!(timer_set(&o, TimerKind::DelayOpen), Some(h.now + secs(5)));
    assert_eq!(h.s.state(), State::Connect);
    let o = h.advance(secs(5));
    assert!(matches!(sent(&o)[..], [Message::Open(_)]));
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn delay_open_open_received_goes_open_confirm() {
    let mut cfg = cfg_b();
    cfg.delay_open = Some(secs(5));
    let mut h = H::new(cfg.clone());
    h.input(Input::Start);
    h.connected();
    let mut p = peer_open();
    p.my_as = 65001;
    p.bgp_id = A_ID;
    p.params = cfg_a().local_open(false).params;
    let o = h.msg(Message::Open(p));
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::DelayOpen))));
    assert!(matches!(sent(&o)[..], [Message::Open(_), Message::Keepalive]));
    assert_eq!(states(&o), [(State::Active, State::OpenConfirm)]);
}

#[test]
fn delay_open_tcp_closed_goes_active() {
    let mut cfg = cfg_a();
    cfg.delay_open = Some(secs(5));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    h.connected();
    let o = h.input(Input::TcpClosed);
    assert!(has(&o, |x| matches!(x, Output::CancelTimer(TimerKind::DelayOpen))));
    assert_eq!(states(&o), [(State::Connect, State::Active)]);
}

#[test]
fn message_before_open_sent_closes_without_notification() {
    let mut cfg = cfg_a();
    cfg.delay_open = Some(secs(5));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    h.connected();
    let o = h.msg(Message::Keepalive);
    assert!(sent(&o).is_empty());
    assert_eq!(down(&o).unwrap().0, DownReason::FsmError);
}

#[test]
fn stale_timer_firings_are_ignored() {
    let mut h = H::new(cfg_a());
    h.input(Input::Start);
    // Not yet due.
    assert!(h.input(Input::TimerFired(TimerKind::ConnectRetry)).is_empty());
    // Never armed.
    assert!(h.input(Input::TimerFired(TimerKind::Keepalive)).is_empty());
    assert_eq!(h.s.state(), State::Connect);
}

#[test]
fn admin_stop_in_idle_cancels_automatic_restart() {
    let mut h = H::new(cfg_a());
    h.drive_established(peer_open());
    h.input(Input::TcpClosed);
    assert!(h.s.timer(TimerKind::IdleHold).is_some());
    let o = h.input(Input::Stop { notification: None });
    assert!(matches!(o[..], [Output::CancelTimer(TimerKind::IdleHold)]));
    assert!(h.advance(secs(600)).is_empty());
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn connect_retry_fast_retries_refused_connects_linearly_to_connect_retry() {
    let mut cfg = cfg_a();
    cfg.connect_retry = secs(3);
    cfg.connect_retry_fast = Some(std::time::Duration::from_millis(100));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    let mut waits = Vec::new();
    for _ in 0..32 {
        let o = h.input(Input::TcpConnectFailed);
        assert_eq!(states(&o), [(State::Connect, State::Active)]);
        let at = timer_set(&o, TimerKind::ConnectRetry).unwrap();
        waits.push((at - h.now).as_millis());
        let o = h.advance(at - h.now);
        assert!(has(&o, |x| matches!(x, Output::Connect)));
    }
    assert_eq!(waits[..5], [100, 200, 300, 400, 500]);
    assert_eq!(waits[28..], [2900, 3000, 3000, 3000]);
    // The IdleHold back-off of flapping sessions is untouched.
    assert_eq!(h.s.current_backoff(), cfg_a().idle_hold);
}

#[test]
fn connect_retry_fast_after_close_before_open_and_reset_by_open() {
    let mut cfg = cfg_a();
    cfg.connect_retry = secs(3);
    cfg.connect_retry_fast = Some(std::time::Duration::from_millis(100));
    let mut h = H::new(cfg);
    h.input(Input::Start);
    // Connected, OPEN sent, the peer closes before its OPEN (it does not know us yet).
    h.connected();
    let o = h.input(Input::TcpClosed);
    assert_eq!(states(&o), [(State::OpenSent, State::Active)]);
    assert_eq!(timer_set(&o, TimerKind::ConnectRetry), Some(h.now + std::time::Duration::from_millis(100)));
    let o = h.advance(std::time::Duration::from_millis(100));
    assert!(has(&o, |x| matches!(x, Output::Connect)));
    let o = h.input(Input::TcpConnectFailed);
    assert_eq!(timer_set(&o, TimerKind::ConnectRetry), Some(h.now + std::time::Duration::from_millis(200)));
    h.advance(std::time::Duration::from_millis(200));
    // This time the OPEN arrives: the next early failure starts from 100 ms again.
    h.connected();
    h.msg(Message::Open(peer_open()));
    assert_eq!(h.s.state(), State::OpenConfirm);
    h.input(Input::TcpClosed);
    h.advance(h.s.timer(TimerKind::IdleHold).unwrap() - h.now);
    let o = h.input(Input::TcpConnectFailed);
    assert_eq!(timer_set(&o, TimerKind::ConnectRetry), Some(h.now + std::time::Duration::from_millis(100)));
}

#[test]
fn collision_cease_in_open_sent_waits_in_active_for_the_peers_connection() {
    // The peer refused our connection with Cease/7 (it keeps its own, RFC 4271 §6.8):
    // we wait in Active, accepting it, instead of refusing it from Idle.
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.msg(Message::Notification(Notification::new(6, 7, bytes::Bytes::new())));
    assert_eq!(states(&o), [(State::OpenSent, State::Idle), (State::Idle, State::Active)]);
    assert!(timer_set(&o, TimerKind::ConnectRetry).is_some());
    assert!(timer_set(&o, TimerKind::IdleHold).is_none());
    assert!(h.s.accepts_connection());
    // Any other NOTIFICATION in OpenSent still means Idle with the back-off.
    let mut h = H::new(cfg_a());
    h.drive_open_sent();
    let o = h.msg(Message::Notification(Notification::new(6, 5, bytes::Bytes::new())));
    assert_eq!(states(&o), [(State::OpenSent, State::Idle)]);
    assert!(timer_set(&o, TimerKind::IdleHold).is_some());
    assert!(!h.s.accepts_connection());
}
