//! The node speaker: what BIRD does on a Calico node, over the speaker library and
//! fib-sync.
//!
//! [`NodeSpeaker::start`] reads a [`NodeConfig`], programs the kernel (`proto bird`
//! blackholes for the local blocks, routes to remote blocks), peers with the mesh and
//! the configured peers, advertises the blocks, borrowed pod /32s and service ranges
//! under Calico's export filter, and answers the control socket ([`control`]). The
//! same operations are methods here: [`NodeSpeaker::add_block`],
//! [`NodeSpeaker::add_member`], [`NodeSpeaker::reload`], [`NodeSpeaker::status`].
//!
//! Graceful restart: when fib-sync finds `proto bird` routes of a previous run they stay
//! and keep forwarding; the sessions open with the R bit, and once every peer is
//! Established and has sent End-of-RIB the desired table is flushed and
//! [`fib_sync::FibSync::converged`] deletes what is no longer wanted (else fib-sync's
//! grace period, the mesh restart time, does it).

pub mod advertise;
pub mod config;
pub mod control;
pub mod fib;
pub mod mesh;
pub mod status;

pub use config::{ConfigError, NodeConfig};
pub use mesh::PeerType;
pub use status::{PeerRow, Status};

use crate::rib::{BestChange, Prefix};
use crate::{Speaker, SpeakerConfig, SpeakerError, SpeakerHandle};
use fib::RemoteRoutes;
use fib_sync::{DesiredRoute, FibEvent, FibSync, LearnFilter, RouteKind, RT_TABLE_MAIN};
use ipnet::IpNet;
use mesh::Wanted;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Errors of the node speaker.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The speaker failed.
    #[error("{0}")]
    Speaker(#[from] SpeakerError),
    /// fib-sync failed.
    #[error("{0}")]
    Fib(#[from] fib_sync::FibSyncError),
    /// A request made no sense.
    #[error("{0}")]
    Invalid(String),
}

struct State {
    cfg: NodeConfig,
    peers: BTreeMap<IpAddr, Wanted>,
    originated: BTreeMap<IpNet, crate::rib::PathAttrs>,
    learned: BTreeSet<IpNet>,
    remote: RemoteRoutes,
    restarting: bool,
}

struct Inner {
    path: Option<PathBuf>,
    handle: SpeakerHandle,
    fib: Option<FibSync>,
    state: Mutex<State>,
    started: Instant,
    /// Set by a planned stop: the kernel is no longer touched, so the routes stay.
    stopping: std::sync::atomic::AtomicBool,
}

/// A running node speaker; cheap to clone.
#[derive(Clone)]
pub struct NodeSpeaker {
    inner: Arc<Inner>,
}

/// How to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The file the configuration came from (for `reload`).
    pub path: Option<PathBuf>,
    /// Program kernel routes (in this network namespace). Off: BGP only.
    pub program_fib: bool,
}

fn learn_filter(cfg: &NodeConfig) -> LearnFilter {
    LearnFilter::calico(cfg.blocks.clone())
}

impl NodeSpeaker {
    /// Starts everything. Kernel routes of a previous run are kept until convergence.
    pub async fn start(cfg: NodeConfig, opts: StartOptions) -> Result<NodeSpeaker, NodeError> {
        // Listen first: a mesh starts all at once, and a peer that dials while the kernel
        // table is read below waits in the backlog instead of being refused.
        let mut listeners = Vec::new();
        for a in listen_addrs(&cfg) {
            listeners.push(crate::net::listen(a, 1024).map_err(SpeakerError::from)?);
        }
        let mut restarting = false;
        let (fib, fib_events) = if opts.program_fib {
            let fcfg = fib_sync::Config {
                learn: learn_filter(&cfg),
                stale_grace: Duration::from_secs(u64::from(cfg.mesh.restart_time.max(1))),
                ..Default::default()
            };
            // On this runtime: no second thread and runtime per node (a 100-node mesh on
            // two cores runs 100 of them).
            let (fib, ev) = FibSync::start_local(fcfg)?;
            let st = fib.flush().await?;
            restarting = st.stale > 0;
            for b in &cfg.blocks {
                fib.set_route(DesiredRoute::new(*b, RouteKind::Blackhole));
            }
            (Some(fib), Some(ev))
        } else {
            (None, None)
        };
        if restarting {
            tracing::info!(
                "kernel routes of a previous run found: graceful restart (R bit), keeping them until End-of-RIB"
            );
        }
        let peers = mesh::wanted(&cfg, restarting);
        let mut scfg = SpeakerConfig::new(cfg.node.asn, cfg.router_id());
        scfg.cluster_id = cfg.node.route_reflector_cluster_id;
        // The local routes are originated before any neighbour starts: a session that came
        // up first could send End-of-RIB without them, and a restarting node's peers would
        // then drop its blocks (GR helpers purge stale routes at End-of-RIB). Neighbours
        // come with the start, not after it: a peer that dialled in between would be
        // refused and retry later (mesh-bench: ~7,600 refusals in a 100-node start).
        let originated = originations(&cfg, &BTreeSet::new());
        scfg.originate = originated.iter().map(|(p, a)| (Prefix::from(*p), a.clone())).collect();
        scfg.neighbors = peers.values().map(|w| w.config.clone()).collect();
        let handle = Speaker::start_with_listeners(scfg, listeners);
        let events = handle.subscribe();
        let state =
            State { cfg, peers, originated, learned: BTreeSet::new(), remote: RemoteRoutes::default(), restarting };
        let node = NodeSpeaker {
            inner: Arc::new(Inner {
                path: opts.path,
                handle,
                fib,
                state: Mutex::new(state),
                started: Instant::now(),
                stopping: Default::default(),
            }),
        };
        tokio::spawn(node.clone().route_task(events));
        if let Some(ev) = fib_events {
            tokio::spawn(node.clone().fib_task(ev));
            tokio::spawn(node.clone().converge_task());
        }
        Ok(node)
    }

    /// The speaker library handle.
    pub fn handle(&self) -> &SpeakerHandle {
        &self.inner.handle
    }

    /// The current configuration.
    pub async fn config(&self) -> NodeConfig {
        self.inner.state.lock().await.cfg.clone()
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    async fn route_task(self, mut rx: tokio::sync::broadcast::Receiver<crate::driver::RouteEvents>) {
        use tokio::sync::broadcast::error::RecvError;
        // Routes may have arrived between the start and the subscription: read the whole
        // table once, then apply the queued events on top (each carries its prefix's full
        // state, in order, so the result is the latest state).
        if self.resync().await.is_err() {
            return;
        }
        loop {
            match rx.recv().await {
                Ok(batch) => {
                    let mut st = self.inner.state.lock().await;
                    for c in batch.iter() {
                        if let Some(p) = st.remote.apply(c) {
                            self.program(&st, p);
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "route events lagged; re-reading the table");
                    if self.resync().await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Re-reads the whole Loc-RIB and makes the kernel match it.
    async fn resync(&self) -> Result<(), SpeakerError> {
        let all = self.inner.handle.routes(None).await?;
        let mut st = self.inner.state.lock().await;
        st.remote.reset(all.into_iter().map(|(prefix, infos)| BestChange {
            prefix,
            ecmp: infos.into_iter().filter(|i| i.ecmp).map(|i| i.route).collect(),
        }));
        if let Some(f) = self.fib() {
            f.replace_all(fib::desired(&st.cfg, &st.remote));
        }
        Ok(())
    }

    /// fib-sync, unless a planned stop has begun.
    fn fib(&self) -> Option<&FibSync> {
        self.inner.fib.as_ref().filter(|_| !self.inner.stopping.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Programs one remote prefix.
    fn program(&self, st: &State, p: IpNet) {
        let Some(f) = self.fib() else { return };
        if st.cfg.blocks.contains(&p) {
            return;
        }
        match st.remote.get(&p).and_then(|h| fib::remote_route(&st.cfg, p, h)) {
            Some(r) => f.set_route(r),
            None => f.remove_route(RT_TABLE_MAIN, p),
        }
    }

    async fn fib_task(self, mut ev: fib_sync::FibEvents) {
        while let Some(e) = ev.recv().await {
            if let FibEvent::Learned(r) | FibEvent::Unlearned(r) = &e {
                if self.ignored(&r.dev).await {
                    continue;
                }
            }
            match e {
                FibEvent::Learned(r) => {
                    tracing::info!(prefix = %r.prefix, dev = %r.dev, "borrowed workload route learned");
                    let mut st = self.inner.state.lock().await;
                    st.learned.insert(r.prefix);
                    self.sync_originations(&mut st).await;
                }
                FibEvent::Unlearned(r) => {
                    let mut st = self.inner.state.lock().await;
                    st.learned.remove(&r.prefix);
                    self.sync_originations(&mut st).await;
                }
                FibEvent::RouteFailed { error, attempt, retry_in } => {
                    tracing::warn!(%error, attempt, ?retry_in, "kernel route failed")
                }
                FibEvent::StaleRemoved(n) => tracing::info!(n, "stale kernel routes of the previous run removed"),
                other => tracing::debug!(?other, "fib event"),
            }
        }
    }

    async fn ignored(&self, dev: &str) -> bool {
        self.inner.state.lock().await.cfg.node.ignored_interfaces.iter().any(|i| i == dev)
    }

    /// Waits for every peer to be Established with End-of-RIB, then lets fib-sync
    /// delete the routes of the previous run that are no longer wanted.
    async fn converge_task(self) {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let Ok(peers) = self.inner.handle.peers().await else { return };
            let done = peers.iter().all(|p| {
                let fam = if p.address.is_ipv4() { "ipv4-unicast" } else { "ipv6-unicast" };
                p.state == "Established" && p.end_of_rib.iter().any(|f| f == fam)
            });
            if done {
                break;
            }
        }
        // Let the last route events reach fib-sync before it deletes anything.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _st = self.inner.state.lock().await;
        if let Some(f) = &self.inner.fib {
            let _ = f.flush().await;
            f.converged();
            tracing::info!("converged: End-of-RIB from every peer; stale kernel routes reconciled");
        }
        drop(_st);
        self.inner.state.lock().await.restarting = false;
    }

    /// Originates what should be and withdraws what should not: local blocks, borrowed
    /// /32s outside them, service ranges.
    async fn sync_originations(&self, st: &mut State) {
        let want = originations(&st.cfg, &st.learned);
        let h = &self.inner.handle;
        for p in st.originated.keys() {
            if !want.contains_key(p) {
                let _ = h.withdraw(Prefix::from(*p)).await;
            }
        }
        for (p, a) in &want {
            if st.originated.get(p) != Some(a) {
                let _ = h.originate(Prefix::from(*p), a.clone()).await;
            }
        }
        st.originated = want;
    }

    /// Makes the sessions match the configuration: unchanged peers keep their sessions.
    async fn sync_peers(&self, st: &mut State) -> Result<(), NodeError> {
        let want = mesh::wanted(&st.cfg, false);
        let h = &self.inner.handle;
        let fp = |w: &Wanted| {
            let mut w = w.clone();
            if let Some(gr) = w.config.session.graceful_restart.as_mut() {
                gr.restarting = false;
            }
            w.fingerprint()
        };
        for (a, w) in &st.peers {
            if want.get(a).is_none_or(|n| fp(n) != fp(w)) {
                tracing::info!(peer = %a, name = %w.name, "removing neighbour");
                h.remove_peer(*a).await?;
            }
        }
        for (a, w) in &want {
            if st.peers.get(a).is_none_or(|o| fp(o) != fp(w)) {
                tracing::info!(peer = %a, name = %w.name, "adding neighbour");
                h.add_peer(w.config.clone()).await?;
            }
        }
        st.peers = want;
        Ok(())
    }

    /// Applies a new configuration: changed neighbours are replaced, unchanged ones keep
    /// their sessions; blocks, pools and advertisements take effect at once.
    pub async fn apply(&self, cfg: NodeConfig) -> Result<(), NodeError> {
        let mut st = self.inner.state.lock().await;
        if cfg.node.asn != st.cfg.node.asn || cfg.router_id() != st.cfg.router_id() {
            return Err(NodeError::Invalid("changing the AS or router ID needs a restart".into()));
        }
        st.cfg = cfg;
        self.sync_peers(&mut st).await?;
        self.sync_originations(&mut st).await;
        if let Some(f) = self.fib() {
            f.set_learn_filter(learn_filter(&st.cfg));
            f.replace_all(fib::desired(&st.cfg, &st.remote));
        }
        Ok(())
    }

    /// Re-reads the file given at start and applies it (SIGHUP, `bgp-speaker reload`).
    pub async fn reload(&self) -> Result<(), NodeError> {
        let path = self.inner.path.clone().ok_or_else(|| NodeError::Invalid("no configuration file".into()))?;
        let cfg = NodeConfig::load(&path)?;
        self.apply(cfg).await
    }

    async fn edit(&self, f: impl FnOnce(&mut NodeConfig) -> Result<(), String>) -> Result<(), NodeError> {
        let mut cfg = self.config().await;
        f(&mut cfg).map_err(NodeError::Invalid)?;
        self.apply(cfg).await
    }

    /// Adds a local IPAM block: blackhole, advertisement.
    pub async fn add_block(&self, b: IpNet) -> Result<(), NodeError> {
        if b != b.trunc() {
            return Err(NodeError::Invalid(format!("{b}: host bits set")));
        }
        self.edit(|c| {
            if c.blocks.contains(&b) {
                return Err(format!("block {b} exists"));
            }
            c.blocks.push(b);
            Ok(())
        })
        .await
    }

    /// Removes a local IPAM block.
    pub async fn del_block(&self, b: IpNet) -> Result<(), NodeError> {
        self.edit(|c| {
            let n = c.blocks.len();
            c.blocks.retain(|x| *x != b);
            if c.blocks.len() == n {
                return Err(format!("no block {b}"));
            }
            Ok(())
        })
        .await
    }

    /// Adds a mesh member; its session is accepted (or dialled) at once.
    pub async fn add_member(&self, name: &str, addr: IpAddr) -> Result<(), NodeError> {
        self.edit(|c| {
            if c.mesh.members.contains_key(name) {
                return Err(format!("member {name} exists"));
            }
            c.mesh.members.insert(name.to_string(), addr);
            Ok(())
        })
        .await
    }

    /// Removes a mesh member (by name; the address must match if given).
    pub async fn del_member(&self, name: &str, addr: Option<IpAddr>) -> Result<(), NodeError> {
        self.edit(|c| match c.mesh.members.get(name) {
            Some(a) if addr.is_none_or(|x| x == *a) => {
                c.mesh.members.remove(name);
                Ok(())
            }
            Some(a) => Err(format!("member {name} has address {a}")),
            None => Err(format!("no member {name}")),
        })
        .await
    }

    /// The `calicoctl node status` view.
    pub async fn status(&self) -> Result<Status, NodeError> {
        let peers = self.inner.handle.peers().await?;
        let st = self.inner.state.lock().await;
        Ok(status::build(&st.cfg.node.name, &peers, &st.peers, self.uptime()))
    }

    /// Readiness with calico-node's semantics: every peer Established within
    /// `control.ready-after` seconds of start, after that at least one (or no peers).
    pub async fn ready(&self) -> Result<(bool, String), NodeError> {
        let peers = self.inner.handle.peers().await?;
        let after = Duration::from_secs(self.inner.state.lock().await.cfg.control.ready_after);
        let up = peers.iter().filter(|p| p.state == "Established").count();
        let ok = up == peers.len() || (self.uptime() >= after && up > 0);
        Ok((ok, format!("{up}/{} peers Established, up {}s", peers.len(), self.uptime().as_secs())))
    }

    /// Liveness: the speaker's core answers.
    pub async fn live(&self) -> bool {
        self.inner.handle.peers().await.is_ok()
    }

    /// A planned stop: Cease/Administrative Shutdown with `message` to every peer.
    /// Kernel routes stay (dropping fib-sync leaves them).
    pub async fn shutdown(&self, message: &str) {
        // The sessions' routes leave the Loc-RIB as they close; keep them in the kernel.
        self.inner.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.inner.handle.shutdown(Some(message.to_string())).await;
    }
}

/// What the node originates: local blocks, borrowed /32s outside them, service ranges.
fn originations(cfg: &NodeConfig, learned: &BTreeSet<IpNet>) -> BTreeMap<IpNet, crate::rib::PathAttrs> {
    let mut want = BTreeMap::new();
    for b in &cfg.blocks {
        want.insert(*b, advertise::local_attrs(cfg, *b));
    }
    for l in learned {
        if !cfg.blocks.iter().any(|b| b.contains(l)) {
            want.insert(*l, advertise::local_attrs(cfg, *l));
        }
    }
    for s in advertise::service_prefixes(cfg) {
        want.insert(s, advertise::local_attrs(cfg, s));
    }
    want
}

fn listen_addrs(cfg: &NodeConfig) -> Vec<SocketAddr> {
    let port = cfg.node.listen_port;
    match cfg.node.bind_mode {
        config::BindMode::NodeIP => cfg.node_addrs().into_iter().map(|a| SocketAddr::new(a, port)).collect(),
        config::BindMode::None => {
            let mut v = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)];
            if cfg.node.ipv6.is_some() {
                v.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
            }
            v
        }
    }
}
