//! Timers (RFC 4271 §8.1.1, §10) and the IdleHold back-off for oscillating peers.

use std::time::{Duration, Instant};

/// The timers a session runs. The driver arms a real timer for each
/// [`Output::SetTimer`](super::Output::SetTimer) and feeds
/// [`Input::TimerFired`](super::Input::TimerFired) when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// ConnectRetryTimer (RFC 4271 §8.1.1).
    ConnectRetry,
    /// HoldTimer.
    Hold,
    /// KeepaliveTimer.
    Keepalive,
    /// DelayOpenTimer (optional).
    DelayOpen,
    /// IdleHoldTimer: automatic restart after a failure (DampPeerOscillations), or
    /// after a max-prefix shutdown.
    IdleHold,
    /// The peer's GR Restart Time (RFC 4724 §4.2): stale routes are swept if the
    /// session is not re-established in time.
    GrRestart,
    /// Stale-path time after re-establishment, waiting for End-of-RIB (RFC 4724 §4.2).
    GrStale,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: [TimerKind; 7] = [
        TimerKind::ConnectRetry,
        TimerKind::Hold,
        TimerKind::Keepalive,
        TimerKind::DelayOpen,
        TimerKind::IdleHold,
        TimerKind::GrRestart,
        TimerKind::GrStale,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Deadlines of the armed timers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    at: [Option<Instant>; 7],
}

impl Timers {
    pub fn get(&self, k: TimerKind) -> Option<Instant> {
        self.at[k.index()]
    }
    pub fn set(&mut self, k: TimerKind, at: Instant) {
        self.at[k.index()] = Some(at);
    }
    /// Clears `k`; returns whether it was armed.
    pub fn clear(&mut self, k: TimerKind) -> bool {
        self.at[k.index()].take().is_some()
    }
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
    /// Kinds whose deadline is at or before `now`, earliest first.
    pub fn expired(&self, now: Instant) -> Vec<TimerKind> {
        let mut v: Vec<(Instant, TimerKind)> =
            TimerKind::ALL.iter().filter_map(|&k| self.get(k).filter(|&t| t <= now).map(|t| (t, k))).collect();
        v.sort();
        v.into_iter().map(|(_, k)| k).collect()
    }
}

/// IdleHold back-off (RFC 4271 §8.1.1 DampPeerOscillations): each failure doubles the
/// wait before the next automatic start, up to a cap; a stable session resets it.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max: max.max(initial), current: initial }
    }
    /// The wait for this failure; doubles the next one.
    pub fn next_wait(&mut self) -> Duration {
        let w = self.current;
        self.current = (self.current * 2).min(self.max);
        w
    }
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
    pub fn peek(&self) -> Duration {
        self.current
    }
}
