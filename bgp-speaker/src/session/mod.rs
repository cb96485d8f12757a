//! Sans-IO BGP session state machine (RFC 4271 §8).
//!
//! One [`Session`] per peer connection. It owns no socket and no clock: the driver
//! feeds it [`Input`]s with the current [`Instant`] and drains [`Output`]s with
//! [`Session::poll_output`]:
//!
//! ```text
//!   driver ──Input──▶ Session::handle(input, now)
//!   driver ◀─Output── Session::poll_output()   (Send bytes, Connect, SetTimer, Update …)
//! ```
//!
//! # Timers
//! Timers are outputs: [`Output::SetTimer`] / [`Output::CancelTimer`] say which real
//! timer to arm; the driver feeds [`Input::TimerFired`] (or calls
//! [`Session::handle_timeout`]) when one fires. [`Session::next_deadline`] gives the
//! earliest armed deadline for drivers that prefer a single sleep. A firing whose
//! deadline was moved or cancelled is ignored, so a driver may be sloppy about
//! cancelling. The RFC 4271 §8.2.2 "restart the HoldTimer on every KEEPALIVE/UPDATE"
//! and "restart the KeepaliveTimer on every KEEPALIVE/UPDATE sent" are done lazily:
//! the session records the times and, when the old deadline fires, re-arms for the
//! right moment instead of emitting a `SetTimer` per message.
//!
//! # Receiving
//! The driver cuts the byte stream with [`bgp_proto::frame`] using
//! [`Session::max_frame_len`] and feeds each message as [`Input::Frame`]; a framing
//! error is fed as [`Input::FrameError`].
//!
//! # Sending in Established
//! [`Session::send_update`], [`Session::send_raw`], [`Session::send_route_refresh`],
//! [`Session::send_end_of_rib`], [`Session::send_refresh_marker`] queue
//! [`Output::Send`]. As restarting speaker (config `restarting`), the driver sends its
//! initial table after [`Output::Established`] and then End-of-RIB for every family
//! ([`Session::send_end_of_ribs`]), RFC 4724 §4.1.
//!
//! # Collisions (RFC 4271 §6.8)
//! See [`collision`]: the driver holds both sessions of a colliding pair and asks
//! [`Session::should_yield_to`]; the loser gets [`Input::CollisionLost`].
//!
//! # Graceful Restart (RFC 4724, RFC 8538), receiving speaker
//! When an Established session with GR negotiated ends without a NOTIFICATION (or with
//! one other than Hard Reset when the N bit was negotiated), the session emits
//! [`Output::PeerRestarting`] before [`Output::Down`]: the RIB marks the peer's routes
//! in those families stale instead of flushing them, and [`TimerKind::GrRestart`] is
//! armed with the peer's Restart Time. If it fires first: [`Output::StaleSweep`]. On
//! re-establishment, families the new OPEN no longer preserves (F bit clear) are swept
//! at once; the rest are swept on the peer's End-of-RIB for them, or when
//! [`TimerKind::GrStale`] fires.

pub mod collision;
pub mod config;
mod encoded;
mod established;
mod fsm;
pub mod io;
pub mod negotiate;
pub mod open_check;
pub mod state;
pub mod timers;

#[cfg(test)]
mod tests;

pub use collision::resolve_collision;
pub use config::{FamilyConfig, GracefulRestartConfig, MaxPrefix, PeerAs, Role, SessionConfig};
pub use established::{treat_as_withdraw, SendError};
pub use io::{Direction, DownReason, Input, Output, Warning};
pub use negotiate::{AddPathNegotiated, GrNegotiated, Negotiated};
pub use state::State;
pub use timers::TimerKind;

use bgp_proto::nlri::Nlri;
use bgp_proto::{AfiSafi, DecodeCtx, EncodeCtx, Notification, Open};
use ipnet::{Ipv4Net, Ipv6Net};
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use timers::{Backoff, Timers};

/// The last NOTIFICATION exchanged, for show commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// The NOTIFICATION.
    pub notification: Notification,
    /// We sent it (else we received it).
    pub sent: bool,
    /// When.
    pub at: Instant,
}

/// Counters of one session ([`Session::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// UPDATEs received.
    pub updates_in: u64,
    /// UPDATEs sent.
    pub updates_out: u64,
    /// KEEPALIVEs received.
    pub keepalives_in: u64,
    /// KEEPALIVEs sent.
    pub keepalives_out: u64,
    /// NOTIFICATIONs received.
    pub notifications_in: u64,
    /// NOTIFICATIONs sent.
    pub notifications_out: u64,
    /// ROUTE-REFRESHes received.
    pub route_refresh_in: u64,
    /// ROUTE-REFRESHes sent.
    pub route_refresh_out: u64,
    /// Prefixes currently received per family.
    pub prefixes: Vec<(AfiSafi, u32)>,
    /// The last NOTIFICATION sent or received.
    pub last_error: Option<LastError>,
    /// When the session last reached Established (cleared when it goes down).
    pub established_at: Option<Instant>,
    /// Times Established was reached.
    pub established_count: u32,
    /// Times Established was left.
    pub flaps: u32,
    /// Outgoing connection attempts.
    pub connect_attempts: u32,
}

/// Prefixes received in one family, for max-prefix and stats.
#[derive(Debug, Default)]
struct FamilyCount {
    v4: FxHashSet<Nlri<Ipv4Net>>,
    v6: FxHashSet<Nlri<Ipv6Net>>,
    external: Option<u32>,
    warned: bool,
}

impl FamilyCount {
    fn count(&self) -> u32 {
        self.external.unwrap_or((self.v4.len() + self.v6.len()) as u32)
    }
}

/// Graceful Restart progress of the peer (receiving speaker, RFC 4724 §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum GrState {
    #[default]
    None,
    /// The session dropped; routes in these families are stale until re-establishment.
    PeerRestarting(Vec<AfiSafi>),
    /// Re-established; these families are stale until the peer's End-of-RIB.
    AwaitingEor(Vec<AfiSafi>),
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    local: SocketAddr,
    remote: SocketAddr,
    direction: Direction,
}

/// One BGP session: the RFC 4271 §8 state machine for one peer.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: State,
    out: VecDeque<Output>,
    timers: Timers,
    backoff: Backoff,
    /// ManualStart given and no ManualStop since: automatic restarts allowed.
    admin_up: bool,
    /// Set the GR R bit in the next OPEN.
    restarting: bool,
    conn: Option<Conn>,
    /// An outgoing connection attempt is in progress.
    connecting: bool,
    local_open: Option<Open>,
    neg: Option<std::sync::Arc<Negotiated>>,
    decode_ctx: DecodeCtx,
    encode_ctx: EncodeCtx,
    hold: Option<Duration>,
    keepalive: Option<Duration>,
    last_rx: Instant,
    last_tx: Instant,
    disabled: Vec<AfiSafi>,
    counts: Vec<(AfiSafi, FamilyCount)>,
    gr: GrState,
    stats: Stats,
    /// Connections in a row that failed before the peer's OPEN (`connect_retry_fast`).
    early_fails: u32,
}

impl Session {
    /// A session in Idle. Nothing happens until [`Input::Start`].
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let restarting = cfg.graceful_restart.as_ref().is_some_and(|g| g.restarting);
        Session {
            backoff: Backoff::new(cfg.idle_hold, cfg.idle_hold_max),
            cfg,
            state: State::Idle,
            out: VecDeque::new(),
            timers: Timers::default(),
            admin_up: false,
            restarting,
            conn: None,
            connecting: false,
            local_open: None,
            neg: None,
            decode_ctx: DecodeCtx::default(),
            encode_ctx: EncodeCtx::default(),
            hold: None,
            keepalive: None,
            last_rx: now,
            last_tx: now,
            disabled: Vec::new(),
            counts: Vec::new(),
            gr: GrState::None,
            stats: Stats::default(),
            early_fails: 0,
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest armed timer deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The deadline of one timer, if armed.
    pub fn timer(&self, kind: TimerKind) -> Option<Instant> {
        self.timers.get(kind)
    }

    /// Fires every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for k in self.timers.expired(now) {
            self.handle(Input::TimerFired(k), now);
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The negotiated parameters, from OpenConfirm on.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.neg.as_deref()
    }

    /// The peer's BGP Identifier, once its OPEN was received (for collision detection).
    #[doc(alias = "bgp_id_of_peer")]
    pub fn peer_bgp_id(&self) -> Option<Ipv4Addr> {
        self.neg.as_ref().map(|n| n.peer_id)
    }

    /// The peer's ASN, once its OPEN was received.
    pub fn peer_asn(&self) -> Option<u32> {
        self.neg.as_ref().map(|n| n.peer_asn)
    }

    /// Who opened the current TCP connection.
    pub fn direction(&self) -> Option<Direction> {
        self.conn.map(|c| c.direction)
    }

    /// Local and remote addresses of the current TCP connection.
    pub fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.conn.map(|c| (c.local, c.remote))
    }

    /// Whether the session would take an incoming connection now (Connect or Active
    /// without a connection; RFC 4271 §8.2.2: Idle refuses connections).
    pub fn accepts_connection(&self) -> bool {
        matches!(self.state, State::Connect | State::Active) && self.conn.is_none()
    }

    /// The largest message the driver should frame for this session.
    pub fn max_frame_len(&self) -> usize {
        self.decode_ctx.max_message_len()
    }

    /// The encoding context in force (for building UPDATEs with
    /// [`bgp_proto::UpdateBuilder`]).
    pub fn encode_ctx(&self) -> &EncodeCtx {
        &self.encode_ctx
    }

    /// Families disabled by RFC 7606 AFI/SAFI disable on this connection.
    pub fn disabled_families(&self) -> &[AfiSafi] {
        &self.disabled
    }

    /// The IdleHold time the next failure will wait.
    pub fn current_backoff(&self) -> Duration {
        self.backoff.peek()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.prefixes = self.counts.iter().map(|(f, c)| (*f, c.count())).collect();
        s
    }
}
