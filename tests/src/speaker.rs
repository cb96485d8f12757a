//! Our own speaker ([`bgp_speaker::Speaker`]) running inside a namespace.
//!
//! [`NsSpeaker::start`] spawns a dedicated OS thread that joins the namespace with
//! `setns(2)` (as [`Netns::enter`] does), builds a tokio current-thread runtime there and
//! runs [`Speaker::start`] on it, so every socket the speaker opens — listeners and
//! outgoing connections — lives in that namespace. The test gets the
//! [`SpeakerHandle`] (its methods only send on channels, so they work from any runtime)
//! and blocking wrappers that run them on a small runtime of the guard's own. Dropping
//! the guard shuts the speaker down (Cease/2) and joins the thread, also when the test
//! panics.
//!
//! Set `BGPT_LOG=debug` (an `EnvFilter` directive, e.g. `bgp_speaker=debug`) to see the
//! speaker's tracing output on stderr.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use bgp_speaker::rib::{PathAttrs, Prefix, RouteInfo};
use bgp_speaker::{NeighborConfig, PeerStatus, Speaker, SpeakerConfig, SpeakerHandle};
use tokio::sync::oneshot;

use crate::netns::Netns;

/// A speaker running on its own thread inside a namespace. Stopped on drop.
pub struct NsSpeaker {
    handle: SpeakerHandle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    rt: tokio::runtime::Runtime,
    ns: String,
}

impl std::fmt::Debug for NsSpeaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsSpeaker").field("ns", &self.ns).finish()
    }
}

/// Installs a tracing subscriber writing to stderr when `BGPT_LOG` is set (once).
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("BGPT_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

impl NsSpeaker {
    /// Starts a speaker with `cfg` inside `ns`. Returns once its listeners are bound.
    pub fn start(ns: &Netns, cfg: SpeakerConfig) -> io::Result<NsSpeaker> {
        init_logging();
        let file = File::open(format!("/run/netns/{}", ns.name()))?;
        let (ready_tx, ready_rx) = std_mpsc::channel::<io::Result<SpeakerHandle>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let name = format!("speaker-{}", ns.name());
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            // SAFETY: setns on a valid namespace fd; it affects only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let _ = ready_tx.send(Err(io::Error::last_os_error()));
                return;
            }
            drop(file);
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let h = match Speaker::start(cfg).await {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = ready_tx.send(Err(io::Error::other(e.to_string())));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(h.clone()));
                // Runs until the guard says stop (or is dropped).
                let _ = stop_rx.await;
                let _ = tokio::time::timeout(Duration::from_secs(3), h.shutdown(Some("test over".into()))).await;
                // Let the writers flush the closing NOTIFICATIONs.
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
            // Dropping the runtime cancels whatever is left (peer tasks, listeners).
            drop(rt);
        })?;
        let handle = match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(io::Error::other("speaker thread did not start")),
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(NsSpeaker { handle, stop: Some(stop_tx), thread: Some(thread), rt, ns: ns.name().to_string() })
    }

    /// The speaker's handle (usable from any runtime).
    pub fn handle(&self) -> &SpeakerHandle {
        &self.handle
    }

    /// Runs a future (e.g. a [`SpeakerHandle`] call) to completion on the guard's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Every neighbour's status.
    pub fn peers(&self) -> io::Result<Vec<PeerStatus>> {
        self.block_on(self.handle.peers()).map_err(io::Error::other)
    }

    /// The status of the neighbour at `addr`.
    pub fn peer(&self, addr: IpAddr) -> io::Result<PeerStatus> {
        self.peers()?
            .into_iter()
            .find(|p| p.address == addr)
            .ok_or_else(|| io::Error::other(format!("no neighbour {addr}")))
    }

    /// All paths of every prefix.
    pub fn routes(&self) -> io::Result<Vec<(Prefix, Vec<RouteInfo>)>> {
        self.block_on(self.handle.routes(None)).map_err(io::Error::other)
    }

    /// The best path for `prefix`, if any.
    pub fn best(&self, prefix: Prefix) -> io::Result<Option<RouteInfo>> {
        let v = self.block_on(self.handle.routes(Some(prefix))).map_err(io::Error::other)?;
        Ok(v.into_iter().flat_map(|(_, r)| r).find(|r| r.best))
    }

    /// Adds a neighbour.
    pub fn add_peer(&self, n: NeighborConfig) -> io::Result<()> {
        self.block_on(self.handle.add_peer(n)).map_err(io::Error::other)
    }

    /// Removes a neighbour.
    pub fn remove_peer(&self, addr: IpAddr) -> io::Result<()> {
        self.block_on(self.handle.remove_peer(addr)).map_err(io::Error::other)
    }

    /// Originates `prefix` with `attrs`.
    pub fn originate(&self, prefix: Prefix, attrs: PathAttrs) -> io::Result<()> {
        self.block_on(self.handle.originate(prefix, attrs)).map_err(io::Error::other)
    }

    /// Withdraws an originated prefix.
    pub fn withdraw(&self, prefix: Prefix) -> io::Result<()> {
        self.block_on(self.handle.withdraw(prefix)).map_err(io::Error::other)
    }

    /// Asks the neighbour at `addr` to re-send its routes (ROUTE-REFRESH).
    pub fn refresh(&self, addr: IpAddr) -> io::Result<()> {
        self.block_on(self.handle.refresh(addr)).map_err(io::Error::other)
    }

    /// Polls until the neighbour at `addr` is Established, for at most `timeout`.
    pub fn wait_established(&self, addr: IpAddr, timeout: Duration) -> io::Result<PeerStatus> {
        crate::poll(&format!("our session with {addr} Established"), timeout, Duration::from_millis(100), || {
            let p = self.peer(addr)?;
            Ok((p.state == "Established").then_some(p))
        })
    }

    /// Polls until every prefix in `want` has a best path, for at most `timeout`.
    pub fn wait_routes(&self, want: &[Prefix], timeout: Duration) -> io::Result<Vec<RouteInfo>> {
        crate::poll(&format!("our speaker to learn {want:?}"), timeout, Duration::from_millis(100), || {
            let mut out = Vec::new();
            for p in want {
                match self.best(*p)? {
                    Some(r) => out.push(r),
                    None => return Ok(None),
                }
            }
            Ok(Some(out))
        })
    }

    /// Stops the speaker (Cease/2 to every neighbour) and joins its thread.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for NsSpeaker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the interop lab can run: root (for namespaces). Prints a SKIP line if not.
pub fn lab_ok(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIP {test}: needs root for network namespaces");
    }
    root
}

/// Whether `bin` is installed (on PATH or an absolute path). Prints a SKIP line if not.
pub fn have(test: &str, bin: &str) -> bool {
    let found = if bin.starts_with('/') {
        std::path::Path::new(bin).exists()
    } else {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !found {
        eprintln!("SKIP {test}: {bin} not installed");
    }
    found
}

/// Two namespaces joined by a veth: `us` (our speaker) and `peer` (a daemon), with
/// 198.18.0.1/24 + fd00:198:18::1/64 on our end and .2 / ::2 on theirs.
#[derive(Debug)]
pub struct Pair {
    /// Our namespace.
    pub us: Netns,
    /// The daemon's namespace.
    pub peer: Netns,
}

impl Pair {
    /// Our IPv4 address.
    pub const US_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 1);
    /// The daemon's IPv4 address.
    pub const PEER_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 2);
    /// Our IPv6 address.
    pub const US_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 1);
    /// The daemon's IPv6 address.
    pub const PEER_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 2);

    /// Creates `bgpt-<tag>u-*` and `bgpt-<tag>p-*` and the veth between them.
    pub fn new(tag: &str) -> io::Result<Pair> {
        let us = Netns::new(&format!("{tag}u"))?;
        let peer = Netns::new(&format!("{tag}p"))?;
        let net = |s: String| -> io::Result<ipnet::IpNet> { s.parse().map_err(io::Error::other) };
        crate::netns::veth(
            &us,
            "u0",
            &[net(format!("{}/24", Self::US_V4))?, net(format!("{}/64", Self::US_V6))?],
            &peer,
            "p0",
            &[net(format!("{}/24", Self::PEER_V4))?, net(format!("{}/64", Self::PEER_V6))?],
        )?;
        Ok(Pair { us, peer })
    }

    /// Which side opened the established BGP session between the two, from `ss` in our
    /// namespace: `true` when our end is the one on port 179 (the peer dialled us),
    /// `false` when theirs is (we dialled). An error when no session is established.
    pub fn peer_dialled(&self) -> io::Result<bool> {
        let out = self.us.exec("ss", &["-Htn", "state", "established"])?;
        let (us, peer) = (format!("{}:", Self::US_V4), format!("{}:", Self::PEER_V4));
        let line = out
            .lines()
            .find(|l| l.contains(&us) && l.contains(&peer))
            .ok_or_else(|| io::Error::other(format!("no established session in `ss`: {out}")))?;
        // "Recv-Q Send-Q Local:Port Peer:Port" (no state column with a state filter).
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, remote) = (cols[cols.len() - 2], cols[cols.len() - 1]);
        match (local == format!("{us}179"), remote == format!("{peer}179")) {
            (true, false) => Ok(true),
            (false, true) => Ok(false),
            _ => Err(io::Error::other(format!("cannot tell who dialled: {line}"))),
        }
    }
}

/// A neighbour of our speaker with test timers: hold 9 s, ConnectRetry 1 s, IdleHold
/// 200 ms (so sessions come back quickly), connect timeout 2 s.
pub fn neighbor(local_as: u32, router_id: std::net::Ipv4Addr, addr: IpAddr, peer_as: u32) -> NeighborConfig {
    let mut n = NeighborConfig::new(local_as, router_id, addr, bgp_speaker::session::PeerAs::Exact(peer_as));
    n.transport.connect_timeout = Some(Duration::from_secs(2));
    n.session.connect_retry = Duration::from_secs(1);
    n.session.idle_hold = Duration::from_millis(200);
    n.session.idle_hold_max = Duration::from_secs(1);
    n.session.hold_time = 9;
    n
}

/// A speaker config listening on `listen:179` with the given neighbours.
pub fn speaker_config(
    local_as: u32,
    router_id: std::net::Ipv4Addr,
    listen: IpAddr,
    neighbors: Vec<NeighborConfig>,
) -> SpeakerConfig {
    let mut cfg = SpeakerConfig::new(local_as, router_id);
    cfg.listen = vec![std::net::SocketAddr::new(listen, 179)];
    cfg.neighbors = neighbors;
    cfg
}

/// Our address on a [`Pair`].
pub fn us() -> IpAddr {
    IpAddr::V4(Pair::US_V4)
}

/// The peer's address on a [`Pair`].
pub fn them() -> IpAddr {
    IpAddr::V4(Pair::PEER_V4)
}

/// Parses a prefix (test literals).
pub fn pfx(s: &str) -> bgp_speaker::rib::Prefix {
    s.parse().expect("prefix")
}

/// Polls `f` every 100 ms for up to 30 s; panics naming `what` when it never holds.
pub fn wait_for(what: &str, mut f: impl FnMut() -> Option<()>) {
    crate::poll(what, std::time::Duration::from_secs(30), std::time::Duration::from_millis(100), || Ok(f()))
        .unwrap_or_else(|e| panic!("{e}"));
}
