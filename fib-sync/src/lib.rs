//! # fib-sync
//!
//! Keeps the Linux kernel's `proto bird` (rtnetlink protocol 12) routes exactly equal to
//! what a BGP speaker wants, and touches nothing else. It knows nothing of BGP: the
//! speaker feeds it [`DesiredRoute`]s.
//!
//! * **Differential sync.** Desired routes are written with replace semantics
//!   (`NLM_F_CREATE|NLM_F_REPLACE`, never `NLM_F_EXCL`, which fails on restart), IPv4 and
//!   IPv6, blackhole, unreachable, `via` (optionally `dev`/`onlink`) and ECMP.
//! * **Restart without disruption.** On start the kernel's routes are dumped; protocol-12
//!   routes that match the desired state are adopted, the others are deleted only after
//!   the grace period or [`FibSync::converged`]. Other protocols' routes are never
//!   written or deleted (deletes carry protocol 12, so the kernel cannot match another's).
//! * **Gateway recursive.** A `via` next hop that is not on a connected subnet is
//!   installed via the gateway the kernel would use to reach it, and follows that route.
//! * **Self-healing without scans.** Route, link and address notifications drive
//!   repairs; a re-dump happens only when the kernel may have dropped routes silently
//!   (a link or address went away) or the event socket overflowed.
//! * **Fast.** Requests are pipelined in large batches with errors matched by sequence
//!   number (see the `driver` module); our own notifications are dropped in the kernel by
//!   a socket filter.
//! * **Learning.** Routes of other protocols on interfaces matching a [`LearnFilter`] are
//!   reported as [`FibEvent::Learned`], never modified.
//!
//! The IPIP rule of Calico pools is [`encap_decision`] / [`encap_route_kind`].
//!
//! ```no_run
//! use fib_sync::{Config, DesiredRoute, FibSync, IpipMode, RouteKind, encap_route_kind};
//!
//! # async fn demo() -> Result<(), fib_sync::FibSyncError> {
//! // Runs in the current network namespace (or `Config { netns: Some(path), .. }`).
//! let (fib, mut events) = FibSync::start(Config::default())?;
//! let subnets = vec!["192.0.2.0/24".parse().unwrap()];
//! let nh = "198.51.100.7".parse().unwrap();
//! fib.set_route(DesiredRoute::new(
//!     "10.244.3.0/26".parse().unwrap(),
//!     encap_route_kind(IpipMode::CrossSubnet, &subnets, nh, "tunl0"),
//! ));
//! fib.set_route(DesiredRoute::new("10.244.1.0/26".parse().unwrap(), RouteKind::Blackhole));
//! let status = fib.flush().await?; // everything attempted once
//! assert_eq!(status.desired, 2);
//! fib.converged(); // end of graceful restart: delete stale routes now
//! while let Some(ev) = events.recv().await {
//!     println!("{ev:?}");
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod backoff;
mod driver;
mod encap;
mod reconcile;
mod socket;
mod spec;
mod topology;
mod types;
mod wire;

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};

pub use backoff::Backoff;
pub use encap::{encap_decision, encap_route_kind, Encap, IpipMode};
pub use topology::LearnFilter;
pub use types::*;

use driver::{Command, Driver};

/// Settings of a [`FibSync`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Network namespace to run in (e.g. `/var/run/netns/NAME`); `None`: the caller's.
    pub netns: Option<PathBuf>,
    /// How long stale `proto bird` routes from a previous run are kept if the speaker
    /// does not call [`FibSync::converged`] first.
    pub stale_grace: Duration,
    /// Retry schedule for rejected routes.
    pub backoff: Backoff,
    /// Which other protocols' routes to report.
    pub learn: LearnFilter,
    /// Route requests per `send` (one ACK each batch).
    pub batch: usize,
    /// Receive buffer of the event socket. Overflow is survivable (a re-dump follows),
    /// so this only trades memory for fewer re-dumps during bursts of foreign changes.
    pub event_rcvbuf: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            netns: None,
            stale_grace: Duration::from_secs(120),
            backoff: Backoff::default(),
            learn: LearnFilter::default(),
            batch: 2048,
            event_rcvbuf: 64 << 20,
        }
    }
}

/// Errors of the handle.
#[derive(Debug, thiserror::Error)]
pub enum FibSyncError {
    /// Entering the network namespace failed.
    #[error("cannot enter network namespace {path}: {source}")]
    Netns {
        /// The namespace path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Opening the netlink sockets or the runtime failed.
    #[error("netlink setup failed: {0}")]
    Setup(std::io::Error),
    /// The sync thread is gone.
    #[error("the fib-sync thread has stopped")]
    Closed,
}

/// The reconciler and its netlink sockets, in the current thread's namespace.
fn open_driver(config: &Config, events: mpsc::UnboundedSender<FibEvent>) -> std::io::Result<Driver> {
    let mut rec = reconcile::Reconciler::new(Instant::now(), config.stale_grace, config.backoff);
    rec.set_learn_filter(config.learn.clone());
    Driver::open(rec, config.batch, config.event_rcvbuf, events)
}

/// The receiving end of the sync's reports.
pub type FibEvents = mpsc::UnboundedReceiver<FibEvent>;

/// Handle to a running sync. Dropping it stops the sync and leaves the routes in the
/// kernel (so that forwarding continues across a speaker restart).
pub struct FibSync {
    tx: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl FibSync {
    /// Start the sync on its own thread (with its own single-threaded runtime), in
    /// `config.netns` if given. Returns once the netlink sockets are open.
    pub fn start(config: Config) -> Result<(FibSync, FibEvents), FibSyncError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (etx, erx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fib-sync".into())
            .spawn(move || {
                if let Some(p) = &config.netns {
                    if let Err(source) = socket::enter_netns(p) {
                        let _ = ready_tx.send(Err(FibSyncError::Netns { path: p.clone(), source }));
                        return;
                    }
                }
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(FibSyncError::Setup(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match open_driver(&config, etx) {
                        Ok(d) => {
                            let _ = ready_tx.send(Ok(()));
                            d.run(rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(FibSyncError::Setup(e)));
                        }
                    }
                });
            })
            .map_err(FibSyncError::Setup)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok((FibSync { tx, thread: Some(thread) }, erx)),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(FibSyncError::Closed),
        }
    }

    /// Start the sync as a task of the caller's tokio runtime, in the caller's network
    /// namespace (`config.netns` must be `None`): no thread and no runtime of its own.
    /// Its netlink requests are answered while they are sent (the kernel applies a route
    /// in `sendmsg`), so they do not hold up the runtime's other tasks for long; a node
    /// speaker programming a few thousand routes uses this, a program with a large table
    /// or without a runtime uses [`FibSync::start`]. [`FibSync::flush_blocking`] must not
    /// be called from that runtime's thread.
    pub fn start_local(config: Config) -> Result<(FibSync, FibEvents), FibSyncError> {
        if let Some(p) = config.netns {
            return Err(FibSyncError::Netns {
                path: p,
                source: std::io::Error::other("start_local runs in the caller's namespace; use FibSync::start"),
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (etx, erx) = mpsc::unbounded_channel();
        let d = open_driver(&config, etx).map_err(FibSyncError::Setup)?;
        tokio::spawn(d.run(rx));
        Ok((FibSync { tx, thread: None }, erx))
    }

    fn send(&self, c: Command) {
        // A closed channel means the thread is gone; flush() reports it.
        let _ = self.tx.send(c);
    }

    /// Add or change the route for `route.prefix` in `route.table`.
    pub fn set_route(&self, route: DesiredRoute) {
        self.send(Command::Set(route));
    }

    /// Remove the route for `prefix` in `table` (from the kernel too).
    pub fn remove_route(&self, table: u32, prefix: IpNet) {
        self.send(Command::Remove(table, prefix));
    }

    /// Make the desired set exactly `routes`.
    pub fn replace_all(&self, routes: Vec<DesiredRoute>) {
        self.send(Command::ReplaceAll(routes));
    }

    /// The speaker has converged: delete stale routes now instead of at the grace end.
    pub fn converged(&self) {
        self.send(Command::Converged);
    }

    /// Change which other protocols' routes are reported.
    pub fn set_learn_filter(&self, filter: LearnFilter) {
        self.send(Command::Learn(filter));
    }

    /// Wait until every command sent so far has been written to the kernel (each route
    /// attempted at least once), and return the counters.
    pub async fn flush(&self) -> Result<SyncStatus, FibSyncError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Flush(tx)).map_err(|_| FibSyncError::Closed)?;
        rx.await.map_err(|_| FibSyncError::Closed)
    }

    /// Test hook: block the sync's thread for `d`, as a consumer that falls behind
    /// would be, so that tests can overflow its event socket deterministically.
    #[doc(hidden)]
    pub fn stall_for_tests(&self, d: Duration) {
        self.send(Command::Stall(d));
    }

    /// [`Self::flush`] for callers outside a runtime.
    pub fn flush_blocking(&self) -> Result<SyncStatus, FibSyncError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Flush(tx)).map_err(|_| FibSyncError::Closed)?;
        rx.blocking_recv().map_err(|_| FibSyncError::Closed)
    }
}

impl Drop for FibSync {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
