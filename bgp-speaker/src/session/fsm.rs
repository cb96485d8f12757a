//! The connection part of the state machine: RFC 4271 §8.2.2 Idle through OpenConfirm,
//! timers, and going down.

use super::io::{DownReason, Input, Output};
use super::negotiate::Negotiated;
use super::open_check::check_open;
use super::state::State;
use super::timers::TimerKind;
use super::{Conn, GrState, LastError, Session};
use bgp_proto::error::code;
use bgp_proto::notification::{cease, fsm};
use bgp_proto::{Action, DecodeCtx, EncodeCtx, Message, Notification, Open};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// How the session comes back after going Idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restart {
    /// Automatic restart after the IdleHold back-off, which then doubles.
    Backoff,
    /// Automatic restart after the current back-off, without doubling (RFC 4271
    /// §8.2.2 NotifMsgVerErr does not count against the peer).
    NoPenalty,
    /// Automatic restart after this long (max-prefix).
    After(Duration),
    /// Only an admin start brings it back.
    Never,
}

impl Session {
    /// Processes one input at time `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Start => {
                if self.state == State::Idle {
                    self.admin_up = true;
                    self.backoff.reset();
                    self.cancel_timer(TimerKind::IdleHold);
                    self.start(now);
                }
            }
            Input::Stop { notification } => {
                self.admin_up = false;
                self.admin_stop(notification, now);
            }
            Input::TcpConnected { local, remote, direction } => {
                if self.accepts_connection() {
                    self.tcp_up(Conn { local, remote, direction }, now);
                } else {
                    // RFC 4271 §8.2.2: Idle refuses connections; one connection per session.
                    self.push(Output::RefuseConnection { remote });
                }
            }
            Input::TcpConnectFailed => {
                if self.state == State::Connect && self.conn.is_none() {
                    // RFC 4271 §8.2.2 Connect, Event 18: restart the ConnectRetryTimer,
                    // "continue to listen for a connection that may be initiated by the
                    // remote BGP peer", and go to Active. The retry interval follows the
                    // back-off (or connect_retry_fast), so a dead peer is not hammered;
                    // the peer's own connection is accepted all the while, so two
                    // speakers that both dial and back off alike cannot lock each other
                    // out (which they did while a failed connect meant Idle).
                    self.connecting = false;
                    let wait = match self.early_fail_wait() {
                        Some(w) => w,
                        None => self.backoff.next_wait(),
                    };
                    self.set_timer(TimerKind::ConnectRetry, now + wait);
                    self.transition(State::Active);
                } else if self.state == State::Active && self.conn.is_none() {
                    // Active, Event 18 (RFC 4271 §8.2.2): Idle, with the back-off.
                    self.connecting = false;
                    let restart = self.early_fail_wait().map(Restart::After).unwrap_or(Restart::Backoff);
                    self.go_idle(now, DownReason::ConnectFailed, None, None, restart);
                }
            }
            Input::TcpClosed => self.tcp_closed(now),
            Input::Frame(b) => self.on_frame(b, now),
            Input::FrameError(e) => {
                // BGPHeaderErr (Event 21).
                if self.conn.is_some() {
                    self.fail(now, Notification::from_error(&e), DownReason::MessageError);
                }
            }
            Input::TimerFired(k) => {
                if self.timers.get(k).is_some_and(|t| t <= now) {
                    self.timers.clear(k);
                    self.on_timer(k, now);
                }
            }
            Input::CollisionLost => {
                if self.conn.is_some() {
                    // RFC 4271 §6.8: Cease / Connection Collision Resolution.
                    let n = Notification::new(code::CEASE, cease::CONNECTION_COLLISION, Bytes::new());
                    let sent = self.state.has_open_sent().then_some(n);
                    self.go_idle(now, DownReason::CollisionLost, sent, None, Restart::Never);
                }
            }
            Input::PrefixCount { family, count } => self.external_count(family, count, now),
        }
    }

    /// Administrative stop (ManualStop, Event 2) with an optional NOTIFICATION; see
    /// [`Input::Stop`].
    pub fn stop(&mut self, notification: Option<Notification>, now: Instant) {
        self.handle(Input::Stop { notification }, now);
    }

    pub(super) fn push(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(super) fn set_timer(&mut self, k: TimerKind, at: Instant) {
        self.timers.set(k, at);
        self.push(Output::SetTimer(k, at));
    }

    pub(super) fn cancel_timer(&mut self, k: TimerKind) {
        if self.timers.clear(k) {
            self.push(Output::CancelTimer(k));
        }
    }

    /// With `connect_retry_fast`: the wait after this connection failure before the
    /// peer's OPEN (growing by that much per failure in a row, capped at ConnectRetry).
    fn early_fail_wait(&mut self) -> Option<Duration> {
        let first = self.cfg.connect_retry_fast?;
        let w = first.saturating_mul(self.early_fails.saturating_add(1)).min(self.cfg.connect_retry.max(first));
        self.early_fails += 1;
        Some(w)
    }

    pub(super) fn transition(&mut self, to: State) {
        if to == State::OpenConfirm {
            // The peer's OPEN arrived: its speaker is up and knows us.
            self.early_fails = 0;
        }
        if self.state != to {
            let from = std::mem::replace(&mut self.state, to);
            tracing::debug!(%from, %to, "bgp session state");
            self.push(Output::StateChanged { from, to });
        }
    }

    /// Encodes and queues a message; KEEPALIVE and UPDATE restart the KeepaliveTimer
    /// (RFC 4271 §8.2.2, done lazily through `last_tx`).
    pub(super) fn send_message(&mut self, m: &Message, now: Instant) -> Result<(), bgp_proto::EncodeError> {
        let b = super::encoded::encode(m, &self.encode_ctx)?;
        self.stats.messages_out += 1;
        match m {
            Message::Keepalive => self.stats.keepalives_out += 1,
            Message::Update(_) => self.stats.updates_out += 1,
            Message::Notification(_) => self.stats.notifications_out += 1,
            Message::RouteRefresh(_) => self.stats.route_refresh_out += 1,
            Message::Open(_) => {}
        }
        if matches!(m, Message::Keepalive | Message::Update(_)) {
            self.last_tx = now;
        }
        self.push(Output::Send(b));
        Ok(())
    }

    fn send_keepalive(&mut self, now: Instant) {
        let _ = self.send_message(&Message::Keepalive, now);
    }

    /// ManualStart / AutomaticStart: Connect (active) or Active (passive).
    fn start(&mut self, now: Instant) {
        if self.cfg.passive {
            // RFC 4271 §8.2.2 Idle, Event 4/5: wait for the peer in Active. A purely
            // passive session never connects, so no ConnectRetryTimer.
            self.transition(State::Active);
        } else {
            self.transition(State::Connect);
            self.connect(now);
        }
    }

    fn connect(&mut self, now: Instant) {
        self.connecting = true;
        self.stats.connect_attempts += 1;
        self.push(Output::Connect);
        self.set_timer(TimerKind::ConnectRetry, now + self.cfg.connect_retry);
    }

    fn tcp_up(&mut self, c: Conn, now: Instant) {
        self.conn = Some(c);
        self.connecting = false;
        self.last_rx = now;
        self.cancel_timer(TimerKind::ConnectRetry);
        match self.cfg.delay_open {
            // RFC 4271 §8.2.2 Connect/Active, Events 16/17 with DelayOpen: wait.
            Some(d) => self.set_timer(TimerKind::DelayOpen, now + d),
            None => {
                self.send_open(now);
                self.transition(State::OpenSent);
            }
        }
    }

    /// Sends our OPEN and arms the large OpenSent hold timer (RFC 4271 §8.2.2).
    fn send_open(&mut self, now: Instant) {
        let msg = Message::Open(self.cfg.local_open(self.restarting));
        let _ = self.send_message(&msg, now);
        if let Message::Open(open) = msg {
            self.local_open = Some(open);
        }
        self.hold = Some(self.cfg.open_hold_time);
        self.set_timer(TimerKind::Hold, now + self.cfg.open_hold_time);
    }

    fn tcp_closed(&mut self, now: Instant) {
        match self.state {
            State::Idle => {}
            State::Connect | State::Active | State::OpenSent => {
                if self.conn.is_none() {
                    return;
                }
                // RFC 4271 §8.2.2 (Connect/Active with DelayOpen running, OpenSent,
                // Event 18): close, restart ConnectRetry, go to Active.
                self.conn = None;
                self.local_open = None;
                self.push(Output::CloseConnection);
                for k in [TimerKind::DelayOpen, TimerKind::Hold] {
                    self.cancel_timer(k);
                }
                self.hold = None;
                if !self.cfg.passive {
                    let wait = self.early_fail_wait().unwrap_or(self.cfg.connect_retry);
                    self.set_timer(TimerKind::ConnectRetry, now + wait);
                }
                self.transition(State::Active);
            }
            State::OpenConfirm | State::Established => {
                self.go_idle(now, DownReason::TcpClosed, None, None, Restart::Backoff);
            }
        }
    }

    fn on_timer(&mut self, k: TimerKind, now: Instant) {
        match k {
            TimerKind::ConnectRetry => match self.state {
                // RFC 4271 §8.2.2 Connect, Event 9: drop the attempt and try again.
                State::Connect => {
                    if self.connecting {
                        self.push(Output::CloseConnection);
                    }
                    self.connect(now);
                }
                // Active, Event 9: initiate a connection, go to Connect.
                State::Active if !self.cfg.passive && self.conn.is_none() => {
                    self.transition(State::Connect);
                    self.connect(now);
                }
                _ => {}
            },
            TimerKind::Hold => {
                let hold = self.hold.unwrap_or(self.cfg.open_hold_time);
                if self.state.has_open_sent() && self.state != State::OpenSent && self.last_rx + hold > now {
                    // Restarted by a KEEPALIVE or UPDATE since it was armed.
                    self.set_timer(TimerKind::Hold, self.last_rx + hold);
                } else if self.state.has_open_sent() {
                    // RFC 4271 §6.5: Hold Timer Expired.
                    let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0, Bytes::new());
                    self.fail(now, n, DownReason::HoldTimerExpired);
                }
            }
            TimerKind::Keepalive => {
                if let (Some(ka), true) =
                    (self.keepalive, matches!(self.state, State::OpenConfirm | State::Established))
                {
                    if self.last_tx + ka > now {
                        self.set_timer(TimerKind::Keepalive, self.last_tx + ka);
                    } else {
                        self.send_keepalive(now);
                        self.set_timer(TimerKind::Keepalive, now + ka);
                    }
                }
            }
            TimerKind::DelayOpen => {
                // RFC 4271 §8.2.2 Connect/Active, Event 12: send OPEN, go to OpenSent.
                if self.conn.is_some() && matches!(self.state, State::Connect | State::Active) {
                    self.send_open(now);
                    self.transition(State::OpenSent);
                }
            }
            TimerKind::IdleHold => {
                // AutomaticStart (Event 3/5) after the IdleHoldTimer.
                if self.state == State::Idle && self.admin_up {
                    self.start(now);
                }
            }
            TimerKind::GrRestart => {
                if let GrState::PeerRestarting(f) = std::mem::take(&mut self.gr) {
                    self.push(Output::StaleSweep { families: f });
                }
            }
            TimerKind::GrStale => {
                if let GrState::AwaitingEor(f) = std::mem::take(&mut self.gr) {
                    self.push(Output::StaleSweep { families: f });
                }
            }
        }
    }

    fn on_frame(&mut self, b: Bytes, now: Instant) {
        if self.conn.is_none() {
            return;
        }
        self.stats.messages_in += 1;
        self.last_rx = now;
        let msg = match Message::decode(&b, &self.decode_ctx) {
            Ok(m) => m,
            Err(e) if e.action < Action::SessionReset && self.state == State::Established => {
                self.stats.updates_in += 1;
                return self.on_update_error(e, now);
            }
            Err(e) => {
                // BGPHeaderErr / BGPOpenMsgErr / UpdateMsgErr (Events 21, 22, 28).
                let reason = if e.code == code::OPEN_MESSAGE { DownReason::BadOpen } else { DownReason::MessageError };
                return self.fail(now, Notification::from_error(&e), reason);
            }
        };
        match msg {
            Message::Notification(n) => {
                self.stats.notifications_in += 1;
                // NotifMsgVerErr (Event 24) does not count against the peer.
                let collision = n.code == code::CEASE
                    && n.subcode == cease::CONNECTION_COLLISION
                    && matches!(self.state, State::OpenSent | State::OpenConfirm);
                let restart = if collision {
                    Restart::Never
                } else if n.code == code::OPEN_MESSAGE && n.subcode == 1 {
                    Restart::NoPenalty
                } else {
                    Restart::Backoff
                };
                self.go_idle(now, DownReason::NotificationReceived, None, Some(n), restart);
                if collision && self.admin_up && self.cfg.auto_restart {
                    // The peer kept (or is making) another connection (RFC 4271 §6.8, RFC
                    // 4486 Cease/7): wait for it in Active rather than in Idle, which would
                    // refuse it. Two speakers that dial each other on the same back-off
                    // would otherwise refuse each other for ever.
                    let wait = self.backoff.next_wait();
                    self.set_timer(TimerKind::ConnectRetry, now + wait);
                    self.transition(State::Active);
                }
            }
            Message::Open(o) => match self.state {
                State::Connect | State::Active => {
                    // RFC 4271 §8.2.2 Connect/Active, Event 20 (OPEN while DelayOpen runs).
                    self.cancel_timer(TimerKind::DelayOpen);
                    let open = self.cfg.local_open(self.restarting);
                    let _ = self.send_message(&Message::Open(open.clone()), now);
                    self.local_open = Some(open);
                    self.accept_open(o, now);
                }
                State::OpenSent => self.accept_open(o, now),
                _ => self.fsm_error(now),
            },
            Message::Keepalive => {
                self.stats.keepalives_in += 1;
                match self.state {
                    State::OpenConfirm => self.established(now),
                    State::Established => {}
                    _ => self.fsm_error(now),
                }
            }
            Message::Update(u) => {
                if self.state == State::Established {
                    self.stats.updates_in += 1;
                    self.on_update(u, now);
                } else {
                    self.fsm_error(now);
                }
            }
            Message::RouteRefresh(r) => {
                if self.state == State::Established {
                    self.on_route_refresh(r);
                } else {
                    self.fsm_error(now);
                }
            }
        }
    }

    /// The peer's OPEN in OpenSent (or Connect/Active under DelayOpen): check it,
    /// answer with KEEPALIVE and go to OpenConfirm (RFC 4271 §8.2.2 Event 19).
    fn accept_open(&mut self, peer: Open, now: Instant) {
        // Our OPEN moves into the negotiated parameters; nothing reads it here afterwards.
        let local = self.local_open.take().unwrap_or_else(|| self.cfg.local_open(self.restarting));
        if let Err(n) = check_open(&self.cfg, &local, &peer) {
            return self.fail(now, n, DownReason::BadOpen);
        }
        let neg = Negotiated::compute(&self.cfg, local, peer);
        if neg.families.is_empty() {
            self.push(Output::Warning(super::Warning::NoCommonFamily));
        }
        self.decode_ctx = neg.decode_ctx.clone();
        self.encode_ctx = neg.encode_ctx.clone();
        self.hold = (neg.hold_time > 0).then(|| Duration::from_secs(neg.hold_time as u64));
        self.keepalive = (neg.keepalive > 0).then(|| Duration::from_secs(neg.keepalive as u64));
        self.neg = Some(std::sync::Arc::new(neg));
        self.send_keepalive(now);
        match self.hold {
            Some(h) => self.set_timer(TimerKind::Hold, now + h),
            None => self.cancel_timer(TimerKind::Hold),
        }
        if let Some(ka) = self.keepalive {
            self.set_timer(TimerKind::Keepalive, now + ka);
        }
        self.transition(State::OpenConfirm);
    }

    /// An unexpected message (RFC 6608 subcodes); before OPEN was sent there is no
    /// NOTIFICATION, only a close (RFC 4271 §8.2.2 Connect/Active "any other event").
    fn fsm_error(&mut self, now: Instant) {
        let sub = match self.state {
            State::OpenSent => fsm::UNEXPECTED_IN_OPENSENT,
            State::OpenConfirm => fsm::UNEXPECTED_IN_OPENCONFIRM,
            State::Established => fsm::UNEXPECTED_IN_ESTABLISHED,
            _ => return self.go_idle(now, DownReason::FsmError, None, None, Restart::Backoff),
        };
        self.fail(now, Notification::new(code::FSM, sub, Bytes::new()), DownReason::FsmError);
    }

    /// Sends `n` and goes Idle with automatic restart.
    pub(super) fn fail(&mut self, now: Instant, n: Notification, reason: DownReason) {
        self.go_idle(now, reason, Some(n), None, Restart::Backoff);
    }

    fn admin_stop(&mut self, notification: Option<Notification>, now: Instant) {
        if self.state == State::Idle {
            self.cancel_timer(TimerKind::IdleHold);
            if let GrState::PeerRestarting(f) = std::mem::take(&mut self.gr) {
                self.cancel_timer(TimerKind::GrRestart);
                self.push(Output::StaleSweep { families: f });
            }
            return;
        }
        // RFC 4271 §8.2.2: ManualStop sends Cease once OPEN was sent (RFC 4486 subcode 2,
        // RFC 9003 message when given).
        let sent = self.state.has_open_sent().then(|| {
            let n = notification.unwrap_or_else(|| Notification::new(code::CEASE, cease::ADMIN_SHUTDOWN, Bytes::new()));
            self.maybe_hard_reset(n)
        });
        self.go_idle(now, DownReason::AdminStop, sent, None, Restart::Never);
    }

    /// RFC 8538 §5: with the N bit negotiated, the Cease subcodes that mean "do not
    /// keep my routes" are sent wrapped in Hard Reset (data = subcode + original data).
    pub(super) fn maybe_hard_reset(&self, n: Notification) -> Notification {
        let n_bit = self.neg.as_ref().and_then(|x| x.gr.as_ref()).is_some_and(|g| g.notification);
        if n_bit
            && n.code == code::CEASE
            && matches!(
                n.subcode,
                cease::MAX_PREFIXES | cease::ADMIN_SHUTDOWN | cease::PEER_DECONFIGURED | cease::ADMIN_RESET
            )
        {
            let mut d = Vec::with_capacity(n.data.len() + 1);
            d.push(n.subcode);
            d.extend_from_slice(&n.data);
            return Notification::new(code::CEASE, cease::HARD_RESET, d);
        }
        n
    }

    /// Everything that leads to Idle: send the NOTIFICATION, close, stop timers,
    /// Graceful Restart bookkeeping, back-off, and the Down output.
    pub(super) fn go_idle(
        &mut self,
        now: Instant,
        reason: DownReason,
        sent: Option<Notification>,
        received: Option<Notification>,
        restart: Restart,
    ) {
        let from = self.state;
        if let Some(n) = &sent {
            let _ = self.send_message(&Message::Notification(n.clone()), now);
        }
        if self.conn.is_some() || self.connecting {
            self.push(Output::CloseConnection);
        }
        self.conn = None;
        self.connecting = false;
        for k in
            [TimerKind::ConnectRetry, TimerKind::Hold, TimerKind::Keepalive, TimerKind::DelayOpen, TimerKind::IdleHold]
        {
            self.cancel_timer(k);
        }
        if let Some(n) = sent.as_ref().or(received.as_ref()) {
            self.stats.last_error = Some(LastError { notification: n.clone(), sent: sent.is_some(), at: now });
        }
        let admin = reason == DownReason::AdminStop;
        if from == State::Established {
            self.stats.flaps += 1;
            // DampPeerOscillations: a session that stayed up long enough is forgiven.
            if self.stats.established_at.is_some_and(|t| t + self.cfg.stable_period <= now) {
                self.backoff.reset();
            }
        }
        self.stats.established_at = None;
        self.transition(State::Idle);
        self.gr_on_down(from, sent.as_ref(), received.as_ref(), admin, now);
        tracing::info!(?reason, ?sent, ?received, "bgp session down");
        self.push(Output::Down { reason, notification_sent: sent, notification_received: received });
        // Per-connection state.
        self.neg = None;
        self.local_open = None;
        self.decode_ctx = DecodeCtx::default();
        self.encode_ctx = EncodeCtx::default();
        self.hold = None;
        self.keepalive = None;
        self.disabled.clear();
        self.counts.clear();
        let wait = match restart {
            _ if !self.admin_up => None,
            Restart::Backoff if self.cfg.auto_restart => Some(self.backoff.next_wait()),
            Restart::NoPenalty if self.cfg.auto_restart => Some(self.backoff.peek()),
            Restart::After(d) => Some(d),
            _ => None,
        };
        if let Some(w) = wait {
            self.set_timer(TimerKind::IdleHold, now + w);
        }
    }
}
