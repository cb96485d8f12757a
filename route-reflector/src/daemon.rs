//! The running reflector: the speaker, the control socket, metrics, SIGHUP reload.

use crate::config::{Config, Group};
use crate::control::{self, Request};
use crate::status;
use bgp_speaker::driver::{DynamicNeighbors, NeighborKind};
use bgp_speaker::{NeighborConfig, Speaker, SpeakerConfig, SpeakerHandle};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The daemon's shared state.
pub struct Daemon {
    /// The speaker.
    pub handle: SpeakerHandle,
    /// The configuration in force.
    pub config: Mutex<Config>,
    /// Unix time (ms) of the last Loc-RIB change.
    pub last_change_ms: AtomicU64,
    /// Loc-RIB change batches seen.
    pub change_batches: AtomicU64,
}

/// The speaker configuration for `c`.
pub fn speaker_config(c: &Config) -> SpeakerConfig {
    let mut s = SpeakerConfig::new(c.asn, c.router_id);
    s.listen = c.listen.clone();
    s.cluster_id = c.cluster_id;
    s.max_queued_bytes = c.max_queued_bytes;
    s.neighbors = static_peers(c).into_values().collect();
    s.dynamic = dynamic(c);
    s
}

fn neighbor(g: &Group, addr: IpAddr) -> NeighborConfig {
    let mut n = g.template.clone();
    n.address = addr;
    n
}

/// Every static peer, by address.
pub fn static_peers(c: &Config) -> BTreeMap<IpAddr, NeighborConfig> {
    c.groups.iter().flat_map(|g| g.peers.iter().map(move |&a| (a, neighbor(g, a)))).collect()
}

fn dynamic(c: &Config) -> Vec<DynamicNeighbors> {
    c.groups
        .iter()
        .flat_map(|g| {
            g.ranges.iter().map(move |&range| DynamicNeighbors { range, template: g.template.clone(), limit: g.limit })
        })
        .collect()
}

/// The group of a peer: its static group, or the group of the range it came from.
pub fn group_of(c: &Config, addr: IpAddr, kind: NeighborKind) -> Option<&Group> {
    match kind {
        NeighborKind::Static => c.groups.iter().find(|g| g.peers.contains(&addr)),
        NeighborKind::Dynamic => c.groups.iter().find(|g| g.ranges.iter().any(|r| r.contains(&addr))),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Starts everything and runs until SIGINT/SIGTERM.
pub async fn run(cfg: Config) -> Result<(), String> {
    // Signal handlers first: a SIGHUP that arrives once the control socket exists must
    // reload, not kill the process (SIGHUP's default action).
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let listener = control::bind(&cfg.control_socket)
        .map_err(|e| format!("control socket {}: {e}", cfg.control_socket.display()))?;
    let metrics = match cfg.metrics {
        Some(a) => match tokio::net::TcpListener::bind(a).await {
            Ok(l) => Some(l),
            Err(e) => {
                let _ = std::fs::remove_file(&cfg.control_socket);
                return Err(format!("metrics {a}: {e}"));
            }
        },
        None => None,
    };
    let handle = match Speaker::start(speaker_config(&cfg)).await {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_file(&cfg.control_socket);
            return Err(format!("cannot start: {e}"));
        }
    };
    tracing::info!(
        asn = cfg.asn,
        router_id = %cfg.router_id,
        listen = ?handle.local_addrs(),
        groups = cfg.groups.len(),
        control_socket = %cfg.control_socket.display(),
        "route reflector started"
    );
    let socket_path = cfg.control_socket.clone();
    let daemon = Arc::new(Daemon {
        handle: handle.clone(),
        config: Mutex::new(cfg),
        last_change_ms: AtomicU64::new(now_ms()),
        change_batches: AtomicU64::new(0),
    });
    let mut changes = handle.subscribe();
    let d = daemon.clone();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        while let Ok(_) | Err(RecvError::Lagged(_)) = changes.recv().await {
            d.last_change_ms.store(now_ms(), Ordering::Relaxed);
            d.change_batches.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::spawn(control::serve(listener, daemon.clone()));
    if let Some(l) = metrics {
        tokio::spawn(crate::metrics::serve(l, daemon.clone()));
    }
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                let _ = daemon.reload().await;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down");
    let _ =
        tokio::time::timeout(Duration::from_secs(5), handle.shutdown(Some("route reflector stopping".into()))).await;
    let _ = std::fs::remove_file(&socket_path);
    Ok(())
}

impl Daemon {
    /// Answers a control request.
    pub async fn request(&self, req: Request) -> Result<serde_json::Value, String> {
        match req {
            Request::Status => {
                let rows = status::peer_rows(self).await?;
                serde_json::to_value(rows).map_err(|e| e.to_string())
            }
            Request::Routes { prefix } => {
                let p = match prefix {
                    Some(s) => Some(s.parse().map_err(|_| format!("{s:?} is not a prefix"))?),
                    None => None,
                };
                status::routes_json(self, p).await
            }
            Request::Reload => self.reload().await.map(serde_json::Value::String),
            Request::Dump { path } => crate::mrt::dump(self, &path).await.map(serde_json::Value::String),
        }
    }

    /// Re-reads the configuration file and applies the difference. On any error the
    /// old configuration stays in force and the reason is logged and returned.
    pub async fn reload(&self) -> Result<String, String> {
        let r = self.reload_inner().await;
        match &r {
            Ok(s) => tracing::info!(result = %s, "configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "reload failed; keeping the running configuration"),
        }
        r
    }

    async fn reload_inner(&self) -> Result<String, String> {
        let mut cur = self.config.lock().await;
        let new = match &cur.path {
            Some(p) => Config::load(p).map_err(|e| e.to_string())?,
            None => Config::embedded(),
        };
        let fixed = [
            ("asn", cur.asn != new.asn),
            ("router_id", cur.router_id != new.router_id),
            ("cluster_id", cur.cluster_id != new.cluster_id),
            ("listen/port", cur.listen != new.listen),
            ("control_socket", cur.control_socket != new.control_socket),
            ("metrics", cur.metrics != new.metrics),
            ("max_queued_bytes", cur.max_queued_bytes != new.max_queued_bytes),
        ];
        if let Some((k, _)) = fixed.iter().find(|(_, changed)| *changed) {
            return Err(format!("{k} cannot change on reload; restart the reflector"));
        }
        let h = &self.handle;
        let err = |e: bgp_speaker::SpeakerError| e.to_string();
        let (old_s, new_s) = (static_peers(&cur), static_peers(&new));
        let mut stats = BTreeMap::<&str, usize>::new();
        for a in old_s.keys().filter(|a| !new_s.contains_key(a)) {
            h.remove_peer(*a).await.map_err(err)?;
            *stats.entry("removed").or_default() += 1;
        }
        let mut reset = Vec::new();
        for (a, n) in &new_s {
            if !old_s.contains_key(a) {
                h.add_peer(n.clone()).await.map_err(err)?;
                *stats.entry("added").or_default() += 1;
                continue;
            }
            match h.update_peer(n.clone()).await.map_err(err)? {
                bgp_speaker::driver::PeerUpdate::Unchanged => *stats.entry("unchanged").or_default() += 1,
                bgp_speaker::driver::PeerUpdate::PolicyUpdated => *stats.entry("policy updated").or_default() += 1,
                bgp_speaker::driver::PeerUpdate::NeedsReset => {
                    h.remove_peer(*a).await.map_err(err)?;
                    reset.push(n.clone());
                }
            }
        }
        h.set_dynamic(dynamic(&new)).await.map_err(err)?;
        for p in h.peers().await.map_err(err)? {
            if p.kind != NeighborKind::Dynamic {
                continue;
            }
            let Some(g) = group_of(&new, p.address, NeighborKind::Dynamic) else {
                h.remove_peer(p.address).await.map_err(err)?;
                *stats.entry("removed").or_default() += 1;
                continue;
            };
            match h.update_peer(neighbor(g, p.address)).await {
                Ok(bgp_speaker::driver::PeerUpdate::Unchanged) => *stats.entry("unchanged").or_default() += 1,
                Ok(bgp_speaker::driver::PeerUpdate::PolicyUpdated) => *stats.entry("policy updated").or_default() += 1,
                Ok(bgp_speaker::driver::PeerUpdate::NeedsReset) => {
                    // It reconnects and is accepted with the new template.
                    h.remove_peer(p.address).await.map_err(err)?;
                    *stats.entry("reset").or_default() += 1;
                }
                Err(_) => {} // gone meanwhile
            }
        }
        // A reset static peer comes back once its old task has exited.
        for n in reset {
            let start = std::time::Instant::now();
            loop {
                match h.add_peer(n.clone()).await {
                    Ok(()) => break,
                    Err(bgp_speaker::SpeakerError::DuplicatePeer(_)) if start.elapsed() < Duration::from_secs(10) => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            *stats.entry("reset").or_default() += 1;
        }
        let path = new.path.clone();
        *cur = Config { path, ..new };
        let summary: Vec<String> = stats.iter().map(|(k, v)| format!("{v} {k}")).collect();
        Ok(if summary.is_empty() { "no peers".into() } else { summary.join(", ") })
    }
}
