//! The six states of RFC 4271 §8.2.2.

use std::fmt;

/// A session state (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Refuses connections; waits for a start event.
    Idle,
    /// Waiting for the outgoing TCP connection to complete.
    Connect,
    /// Waiting for the peer to connect (passive, or after a failed attempt).
    Active,
    /// OPEN sent, waiting for the peer's OPEN.
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// Routes flow.
    Established,
}

impl State {
    /// Whether a TCP connection is up in this state (from OpenSent on; Connect and
    /// Active may also hold one while DelayOpen runs).
    pub fn has_open_sent(self) -> bool {
        matches!(self, State::OpenSent | State::OpenConfirm | State::Established)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}
