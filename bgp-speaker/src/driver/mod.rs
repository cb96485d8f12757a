//! The tokio driver and the embedding API.
//!
//! [`Speaker::start`] spawns one core task that owns the RIB and the update groups, one
//! task per neighbour that owns its [`Session`](crate::session::Session) and socket, and
//! one accept task per listen address. They talk over channels:
//!
//! - peer → core: a bounded channel, so a busy core slows reading from peers (TCP
//!   back-pressure) instead of buffering without bound;
//! - core → peer: encoded UPDATE bytes shared by the whole update group, with a per-peer
//!   byte budget ([`SpeakerConfig::max_queued_bytes`]); a peer that exceeds it is reset
//!   with Cease/8 rather than stalling the others.
//!
//! The core drains every ready event before it runs export, so a burst of UPDATEs is
//! coalesced into one Loc-RIB diff and one set of UPDATEs per group.

mod config;
mod core;
mod peer;
mod writer;

pub use config::{DynamicNeighbors, NeighborConfig, SpeakerConfig};

use crate::rib::{BestChange, PathAttrs, PeerCounts, PeerId, Prefix, RouteInfo};
use crate::session::State;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Errors of the embedding API.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    /// The speaker has shut down.
    #[error("the speaker is not running")]
    Stopped,
    /// A neighbour with this address exists already.
    #[error("neighbour {0} exists already")]
    DuplicatePeer(IpAddr),
    /// No neighbour with this address.
    #[error("no neighbour {0}")]
    NoSuchPeer(IpAddr),
    /// A socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// The kind of neighbour, as status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeighborKind {
    /// Configured statically.
    Static,
    /// Accepted from a dynamic range.
    Dynamic,
}

/// A neighbour's state and counters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerStatus {
    /// Address.
    pub address: IpAddr,
    /// The peer's AS, once known.
    pub asn: Option<u32>,
    /// Static or dynamic.
    pub kind: NeighborKind,
    /// Route-reflector client.
    pub rr_client: bool,
    /// Session state.
    pub state: String,
    /// When the state last changed.
    pub since: SystemTime,
    /// Prefixes received, accepted and best.
    pub counts: PeerCounts,
    /// Prefixes advertised (UPDATE bytes queued to it, in messages, is not tracked per
    /// prefix; this counts prefixes in its update group's Adj-RIB-Out).
    pub advertised: u64,
    /// Times the session went down.
    pub flaps: u64,
    /// UPDATE messages received (End-of-RIB markers not included), over all sessions.
    pub updates_received: u64,
    /// UPDATE messages queued to it by the export (End-of-RIB and route-refresh markers
    /// not included), over all sessions.
    pub updates_sent: u64,
    /// The peer's BGP identifier, from its OPEN, once a session has been up.
    pub bgp_id: Option<std::net::Ipv4Addr>,
    /// ROUTE-REFRESH requests received (RFC 2918), over all sessions.
    pub refresh_requests_received: u64,
    /// The last NOTIFICATION sent or received, as "sent 6/2" / "received 2/2".
    pub last_error: Option<String>,
    /// Families whose End-of-RIB the peer has sent since the session came up.
    pub end_of_rib: Vec<String>,
    /// Description.
    pub description: String,
    /// The neighbour's id in the RIB (what [`RouteInfo`]'s `route.peer` refers to), once
    /// its session has been up.
    pub rib_id: Option<PeerId>,
    /// The update group it belongs to while Established: the members of one group share
    /// one export run and one encoding of every UPDATE (peers with the same export
    /// policy, kind, next-hop mode and negotiated encoding).
    pub update_group: Option<u32>,
}

/// What [`SpeakerHandle::update_peer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerUpdate {
    /// The settings are the same: nothing to do.
    Unchanged,
    /// Only the import and/or export policy changed: swapped in place, the session kept;
    /// a ROUTE-REFRESH was sent for a new import policy, and the Adj-RIB-Out was
    /// re-evaluated for a new export policy.
    PolicyUpdated,
    /// Other settings changed: nothing was done; remove and add the neighbour to apply
    /// them (that resets the session).
    NeedsReset,
}

/// A batch of Loc-RIB best-path changes, shared by all subscribers.
pub type RouteEvents = Arc<Vec<BestChange>>;

pub(crate) enum Cmd {
    AddPeer(Box<NeighborConfig>, oneshot::Sender<Result<(), SpeakerError>>),
    RemovePeer(IpAddr, oneshot::Sender<Result<(), SpeakerError>>),
    Originate(Prefix, PathAttrs),
    WithdrawLocal(Prefix),
    Peers(oneshot::Sender<Vec<PeerStatus>>),
    Routes(Option<Prefix>, oneshot::Sender<Vec<(Prefix, Vec<RouteInfo>)>>),
    Refresh(IpAddr, oneshot::Sender<Result<(), SpeakerError>>),
    UpdatePeer(Box<NeighborConfig>, oneshot::Sender<Result<PeerUpdate, SpeakerError>>),
    SetDynamic(Vec<DynamicNeighbors>, oneshot::Sender<()>),
    Incoming(tokio::net::TcpStream, SocketAddr),
    Shutdown(Option<String>, oneshot::Sender<()>),
    GracefulShutdown(bool, oneshot::Sender<()>),
}

/// A running speaker.
pub struct Speaker;

impl Speaker {
    /// Binds the listeners and starts the core, the neighbours and the accept loops.
    pub async fn start(cfg: SpeakerConfig) -> Result<SpeakerHandle, SpeakerError> {
        let mut listeners = Vec::new();
        for a in &cfg.listen {
            listeners.push(crate::net::listen(*a, 1024)?);
        }
        Ok(Self::start_with_listeners(cfg, listeners))
    }

    /// As [`Speaker::start`], with listeners bound earlier ([`crate::net::listen`];
    /// `cfg.listen` is not used): a process that binds first and does its slow start-up
    /// work after has peers that dial meanwhile wait in the backlog instead of being
    /// refused. Must be called inside a tokio runtime.
    pub fn start_with_listeners(cfg: SpeakerConfig, listeners: Vec<tokio::net::TcpListener>) -> SpeakerHandle {
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (routes_tx, _) = broadcast::channel(1024);
        let listeners: Vec<Arc<tokio::net::TcpListener>> = listeners.into_iter().map(Arc::new).collect();
        let local_addrs = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
        for l in &listeners {
            let (l, tx) = (l.clone(), cmd_tx.clone());
            tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, remote)) => {
                            if tx.send(Cmd::Incoming(s, remote)).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        core::Core::spawn(cfg, cmd_rx, routes_tx.clone(), listeners);
        SpeakerHandle { cmd: cmd_tx, routes: routes_tx, local_addrs }
    }
}

/// A handle to a running speaker; cheap to clone.
#[derive(Clone)]
pub struct SpeakerHandle {
    cmd: mpsc::Sender<Cmd>,
    routes: broadcast::Sender<RouteEvents>,
    local_addrs: Vec<SocketAddr>,
}

impl SpeakerHandle {
    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, SpeakerError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(f(tx)).await.map_err(|_| SpeakerError::Stopped)?;
        rx.await.map_err(|_| SpeakerError::Stopped)
    }

    /// The addresses the listeners are bound to (useful with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Adds a neighbour at run time.
    pub async fn add_peer(&self, n: NeighborConfig) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::AddPeer(Box::new(n), tx)).await?
    }

    /// Removes a neighbour: Cease/3 (Peer De-configured), and its routes are withdrawn.
    pub async fn remove_peer(&self, addr: IpAddr) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::RemovePeer(addr, tx)).await?
    }

    /// Originates a prefix with these attributes (next hop: the session address,
    /// unless set).
    pub async fn originate(&self, prefix: Prefix, attrs: PathAttrs) -> Result<(), SpeakerError> {
        self.cmd.send(Cmd::Originate(prefix, attrs)).await.map_err(|_| SpeakerError::Stopped)
    }

    /// Withdraws a prefix originated with [`originate`](Self::originate).
    pub async fn withdraw(&self, prefix: Prefix) -> Result<(), SpeakerError> {
        self.cmd.send(Cmd::WithdrawLocal(prefix)).await.map_err(|_| SpeakerError::Stopped)
    }

    /// Loc-RIB best-path changes, in batches. A subscriber that falls behind gets
    /// `RecvError::Lagged` and should re-read the table with [`routes`](Self::routes).
    pub fn subscribe(&self) -> broadcast::Receiver<RouteEvents> {
        self.routes.subscribe()
    }

    /// Every neighbour's state and counters.
    pub async fn peers(&self) -> Result<Vec<PeerStatus>, SpeakerError> {
        self.ask(Cmd::Peers).await
    }

    /// All paths for one prefix, or for every prefix.
    pub async fn routes(&self, prefix: Option<Prefix>) -> Result<Vec<(Prefix, Vec<RouteInfo>)>, SpeakerError> {
        self.ask(|tx| Cmd::Routes(prefix, tx)).await
    }

    /// Asks a neighbour to re-send its routes (route refresh), e.g. after an import
    /// policy change.
    pub async fn refresh(&self, addr: IpAddr) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::Refresh(addr, tx)).await?
    }

    /// Applies new settings to an existing neighbour (static or dynamic) without a
    /// session reset when only its import/export policy changed; see [`PeerUpdate`].
    /// For a dynamic neighbour, `passive` is ignored (dynamic neighbours are passive).
    pub async fn update_peer(&self, n: NeighborConfig) -> Result<PeerUpdate, SpeakerError> {
        self.ask(|tx| Cmd::UpdatePeer(Box::new(n), tx)).await?
    }

    /// Replaces the dynamic neighbour ranges for new connections. Neighbours already
    /// accepted keep their settings (use [`update_peer`](Self::update_peer) or
    /// [`remove_peer`](Self::remove_peer) on them).
    pub async fn set_dynamic(&self, ranges: Vec<DynamicNeighbors>) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::SetDynamic(ranges, tx)).await
    }

    /// Stops every session with Cease/2 (Administrative Shutdown) carrying `message`
    /// (RFC 9003), and ends the speaker.
    pub async fn shutdown(&self, message: Option<String>) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::Shutdown(message, tx)).await
    }

    /// A planned stop with an RFC 8326 graceful-shutdown period first: every route is
    /// re-advertised with GRACEFUL_SHUTDOWN (and LOCAL_PREF 0 to internal peers), the
    /// speaker waits `period` for peers to move traffic away, then stops every session
    /// as [`shutdown`](Self::shutdown) does.
    pub async fn shutdown_gracefully(&self, message: Option<String>, period: Duration) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::GracefulShutdown(true, tx)).await?;
        tokio::time::sleep(period).await;
        self.shutdown(message).await
    }

    /// Starts or ends the RFC 8326 graceful-shutdown marking without stopping.
    pub async fn set_graceful_shutdown(&self, on: bool) -> Result<(), SpeakerError> {
        self.ask(|tx| Cmd::GracefulShutdown(on, tx)).await
    }
}

fn state_name(s: State) -> String {
    format!("{s:?}")
}
