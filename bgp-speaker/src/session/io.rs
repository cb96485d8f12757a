//! What goes into a session and what comes out.

use super::negotiate::Negotiated;
use super::state::State;
use super::timers::TimerKind;
use bgp_proto::{AfiSafi, DecodeError, Notification, RouteRefresh, Update};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which side opened the TCP connection (needed for collision resolution, RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer (after [`Output::Connect`]).
    Outbound,
    /// The peer connected to us.
    Inbound,
}

/// An event for the session (RFC 4271 §8.1).
#[derive(Debug, Clone)]
pub enum Input {
    /// ManualStart (Event 1), or ManualStart_with_PassiveTcpEstablishment (Event 4)
    /// when the config is passive.
    Start,
    /// ManualStop (Event 2). The NOTIFICATION to send if a connection is up; `None` =
    /// Cease/2 Administrative Shutdown without a message (RFC 4486, RFC 9003).
    Stop {
        /// The NOTIFICATION, e.g. [`Notification::cease_with_message`].
        notification: Option<Notification>,
    },
    /// The TCP connection is up (Events 16/17, Tcp_CR_Acked / TcpConnectionConfirmed).
    TcpConnected {
        /// Our address.
        local: SocketAddr,
        /// The peer's address.
        remote: SocketAddr,
        /// Who connected.
        direction: Direction,
    },
    /// The outgoing connection attempt failed (Event 18).
    TcpConnectFailed,
    /// The established TCP connection closed or failed (Event 18).
    TcpClosed,
    /// One whole message as cut by [`bgp_proto::frame`] with [`Session::max_frame_len`](super::Session::max_frame_len).
    Frame(Bytes),
    /// [`bgp_proto::frame`] rejected the stream (bad marker or length): BGPHeaderErr
    /// (Event 21).
    FrameError(DecodeError),
    /// A timer armed with [`Output::SetTimer`] fired. Stale firings are ignored.
    TimerFired(TimerKind),
    /// This connection lost a collision (RFC 4271 §6.8): close it with Cease/7.
    CollisionLost,
    /// An outside prefix count for a family (e.g. from the RIB after import policy),
    /// checked against the max-prefix limits. Replaces the session's own count.
    PrefixCount {
        /// The family.
        family: AfiSafi,
        /// Prefixes currently accepted from the peer.
        count: u32,
    },
}

/// Why the session went to Idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// Administrative stop.
    AdminStop,
    /// The peer sent a NOTIFICATION.
    NotificationReceived,
    /// The hold timer expired (we sent 4/0).
    HoldTimerExpired,
    /// The TCP connection closed or failed.
    TcpClosed,
    /// The outgoing TCP connection could not be made.
    ConnectFailed,
    /// The peer's OPEN was unacceptable (we sent a code 2 NOTIFICATION).
    BadOpen,
    /// A message failed to decode (header, UPDATE, ROUTE-REFRESH error; we sent the
    /// NOTIFICATION the error prescribes).
    MessageError,
    /// An unexpected message for the state (we sent code 5, RFC 6608).
    FsmError,
    /// The peer exceeded a max-prefix limit (we sent Cease/1).
    MaxPrefix(AfiSafi),
    /// This connection lost a collision (we sent Cease/7).
    CollisionLost,
}

/// Something the operator should know that did not tear the session down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The prefix count reached the warning threshold (RFC 4486 §4 suggests warning).
    MaxPrefixThreshold {
        /// The family.
        family: AfiSafi,
        /// Current count.
        count: u32,
        /// The configured limit.
        limit: u32,
    },
    /// An UPDATE was repaired under RFC 7606 (attribute discard or treat-as-withdraw).
    UpdateError(DecodeError),
    /// An UPDATE (or part of it) for a family that is not active was ignored.
    InactiveFamily(AfiSafi),
    /// A ROUTE-REFRESH was ignored (family inactive, capability not negotiated, or an
    /// unknown subtype, RFC 7313 §5).
    RouteRefreshIgnored(RouteRefresh),
    /// No family is active on the session.
    NoCommonFamily,
}

/// What the session asks of the driver.
#[derive(Debug, Clone)]
pub enum Output {
    /// Open a TCP connection to the peer (active mode).
    Connect,
    /// Write these bytes (one encoded message) to the connection.
    Send(Bytes),
    /// Close the TCP connection (after writing what was queued), or abandon the
    /// connection attempt in progress.
    CloseConnection,
    /// Close the connection just reported by [`Input::TcpConnected`]: the session is
    /// Idle (RFC 4271 §8.2.2 refuses connections there) or already has a connection.
    /// The session's own connection, if any, is untouched.
    RefuseConnection {
        /// The refused connection's peer address.
        remote: SocketAddr,
    },
    /// Arm (or re-arm) a timer for this deadline.
    SetTimer(TimerKind, Instant),
    /// Disarm a timer.
    CancelTimer(TimerKind),
    /// The state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session reached Established.
    Established(std::sync::Arc<Negotiated>),
    /// A received UPDATE after RFC 7606 handling and family filtering.
    /// (Boxed: an `Update` keeps its vectors inline, ~350 bytes, and every queued
    /// output and event would carry that size; a reflector with 1000 sessions keeps an
    /// output queue and events in flight per session.)
    Update(Box<Update>),
    /// A received ROUTE-REFRESH for an active family: a request (re-send Adj-RIB-Out,
    /// wrapped in BoRR/EoRR when enhanced route refresh is negotiated), or the peer's
    /// BoRR/EoRR (RFC 7313 §4: mark stale / sweep).
    RouteRefresh(RouteRefresh),
    /// The peer's End-of-RIB for a family (RFC 4724 §2).
    EndOfRib(AfiSafi),
    /// RFC 7606 AFI/SAFI disable: the family is off for the rest of the session; drop
    /// the peer's routes in it.
    FamilyDisabled {
        /// The family.
        family: AfiSafi,
        /// The error that disabled it.
        error: DecodeError,
    },
    /// The peer restarts gracefully (RFC 4724 §4.2): keep its routes in these families
    /// as stale. Emitted just before [`Output::Down`]; the driver must not flush them.
    PeerRestarting {
        /// Families whose routes are retained.
        families_preserved: Vec<AfiSafi>,
        /// The peer's Restart Time.
        restart_time: Duration,
    },
    /// Delete the peer's stale routes in these families (End-of-RIB received, GR timers
    /// expired, or the new OPEN no longer preserves them).
    StaleSweep {
        /// The families.
        families: Vec<AfiSafi>,
    },
    /// The session went to Idle.
    Down {
        /// Why.
        reason: DownReason,
        /// The NOTIFICATION we sent, if any.
        notification_sent: Option<Notification>,
        /// The NOTIFICATION we received, if any.
        notification_received: Option<Notification>,
    },
    /// A non-fatal problem.
    Warning(Warning),
}
