//! The load generator: a raw, light BGP client on tokio, the same for every reflector.
//!
//! Each client sends an OPEN (AS 64512, 4-octet AS, MP IPv4 unicast, route refresh),
//! answers the peer's OPEN with a KEEPALIVE, and counts as Established on the peer's
//! first KEEPALIVE. After that it sends a KEEPALIVE every hold/3 seconds.
//!
//! - An injector writes its pre-encoded announcement UPDATEs when told to (in chunks of
//!   about 64 KiB, cut at message boundaries, with KEEPALIVEs in between when due), then
//!   its pre-encoded withdrawals. Whatever the reflector sends it is framed and dropped.
//! - The monitor announces nothing; it decodes every UPDATE with `bgp_proto` and holds
//!   the set of prefixes announced minus withdrawn. It stamps the instant the set first
//!   reaches the target during an announce phase, and the instant it is empty again
//!   during a withdraw phase.
//!
//! Every runtime thread joins the `load` namespace (`setns(2)`) before it runs a task, so
//! every socket is created there.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_proto::{
    AsPath, AttrValue, Attribute, Capability, DecodeCtx, EncodeCtx, Message, Nlri, Open, Origin, UpdateBuilder,
};
use bytes::{Bytes, BytesMut};
use ipnet::Ipv4Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

/// The iBGP AS of every benchmark session.
pub const ASN: u32 = 64512;
/// Hold time we propose.
pub const HOLD: u16 = 90;
const CHUNK: usize = 64 * 1024;
/// How long a new connection waits for the peer's OPEN before it is dialled again.
pub const OPEN_WAIT: Duration = Duration::from_secs(5);

/// Connections dialled again (no OPEN within [`OPEN_WAIT`], or reset in the handshake).
pub static REDIALS: AtomicUsize = AtomicUsize::new(0);

fn redials(n: usize) {
    REDIALS.fetch_add(n, Ordering::Relaxed);
}
const KEEPALIVE: [u8; 19] =
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, 4];

/// What the clients are told to do. Rounds are numbered so that a repeated command is
/// a new command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Stay idle (keepalives only).
    Idle,
    /// Announce everything (round number).
    Announce(u32),
    /// Withdraw everything (round number).
    Withdraw(u32),
}

/// Phase the monitor checks its count against.
const PHASE_IDLE: u8 = 0;
const PHASE_ANNOUNCE: u8 = 1;
const PHASE_WITHDRAW: u8 = 2;

/// One injector's pre-encoded messages.
#[derive(Debug, Clone)]
pub struct Injector {
    /// Source address (also NEXT_HOP and BGP identifier).
    pub addr: Ipv4Addr,
    /// Announcement UPDATEs, in chunks cut at message boundaries.
    pub announce: Vec<Bytes>,
    /// Withdrawal UPDATEs, likewise.
    pub withdraw: Vec<Bytes>,
    /// Number of UPDATE messages in `announce`.
    pub announce_msgs: usize,
}

/// The `k`-th prefix of length `len` inside 10.0.0.0/8.
pub fn nth_prefix(k: u64, len: u8) -> Ipv4Net {
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let addr = base + ((k as u32) << (32 - len as u32));
    Ipv4Net::new(Ipv4Addr::from(addr), len).expect("valid prefix length")
}

/// Builds every injector's UPDATEs (before the clock starts): injector `i` owns
/// prefixes `i*m .. (i+1)*m` of length `len` in 10.0.0.0/8; ORIGIN IGP, empty AS_PATH,
/// NEXT_HOP = its address, LOCAL_PREF 100.
pub fn build_injectors(addrs: &[Ipv4Addr], m: usize, len: u8) -> io::Result<Vec<Injector>> {
    let capacity = 1u64 << (len as u32 - 8);
    if (addrs.len() * m) as u64 > capacity {
        return Err(io::Error::other(format!("{} x {m} prefixes do not fit in 10.0.0.0/8 as /{len}", addrs.len())));
    }
    let builder = UpdateBuilder::new(EncodeCtx::default());
    let mut out = Vec::with_capacity(addrs.len());
    for (i, &addr) in addrs.iter().enumerate() {
        let nlri: Vec<Nlri<Ipv4Net>> = (0..m).map(|j| Nlri::new(nth_prefix((i * m + j) as u64, len))).collect();
        let attrs = [
            Attribute::new(AttrValue::Origin(Origin::Igp)),
            Attribute::new(AttrValue::AsPath(AsPath::default())),
            Attribute::new(AttrValue::NextHop(addr)),
            Attribute::new(AttrValue::LocalPref(100)),
        ];
        let mut a = BytesMut::new();
        let announce_msgs =
            builder.announce_v4(&attrs, &nlri, &mut a).map_err(|e| io::Error::other(format!("{e:?}")))?;
        let mut w = BytesMut::new();
        builder.withdraw_v4(&nlri, &mut w).map_err(|e| io::Error::other(format!("{e:?}")))?;
        out.push(Injector { addr, announce: chunks(a.freeze()), withdraw: chunks(w.freeze()), announce_msgs });
    }
    Ok(out)
}

/// Cuts a run of messages into chunks of about [`CHUNK`] bytes at message boundaries.
fn chunks(all: Bytes) -> Vec<Bytes> {
    let mut v = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < all.len() {
        let len = u16::from_be_bytes([all[at + 16], all[at + 17]]) as usize;
        if at + len - start > CHUNK && at > start {
            v.push(all.slice(start..at));
            start = at;
        }
        at += len;
    }
    if start < all.len() {
        v.push(all.slice(start..));
    }
    v
}

/// State shared between the clients and the benchmark's main thread.
#[derive(Debug, Default)]
pub struct Shared {
    /// Sessions Established so far.
    pub established: AtomicUsize,
    /// Errors (a session that failed or closed after Established).
    pub errors: Mutex<Vec<String>>,
    /// Prefixes the monitor holds.
    pub count: AtomicU64,
    /// Target count for the announce phase.
    pub target: AtomicU64,
    phase: AtomicU8,
    /// When the monitor first held `target` prefixes in the announce phase.
    pub full_at: Mutex<Option<Instant>>,
    /// When the monitor held none in the withdraw phase.
    pub empty_at: Mutex<Option<Instant>>,
    /// UPDATE messages the monitor received.
    pub monitor_updates: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn error(&self, e: String) {
        if !self.stop.load(Ordering::Relaxed) {
            self.errors.lock().unwrap().push(e);
        }
    }

    /// The first error, if any.
    pub fn first_error(&self) -> Option<String> {
        let e = self.errors.lock().unwrap();
        e.first().map(|f| if e.len() > 1 { format!("{f} (and {} more)", e.len() - 1) } else { f.clone() })
    }
}

/// The running load generator: a tokio runtime inside the `load` namespace.
pub struct LoadGen {
    rt: Option<tokio::runtime::Runtime>,
    /// Shared state.
    pub shared: Arc<Shared>,
    cmd: watch::Sender<Cmd>,
    sessions: usize,
}

impl LoadGen {
    /// Starts a runtime whose `threads` threads join the namespace at `/run/netns/NAME`.
    pub fn new(netns_name: &str, threads: usize) -> io::Result<LoadGen> {
        let file = Arc::new(File::open(format!("/run/netns/{netns_name}"))?);
        let setns_failed = Arc::new(AtomicBool::new(false));
        let (f, failed) = (file.clone(), setns_failed.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .thread_name("loadgen")
            .on_thread_start(move || {
                // SAFETY: setns(2) on a valid namespace fd; it affects only this thread.
                if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    failed.store(true, Ordering::SeqCst);
                }
            })
            .build()?;
        // Make sure the workers have started (and joined the namespace).
        rt.block_on(async {
            for _ in 0..threads.max(1) * 4 {
                tokio::spawn(async {}).await.ok();
            }
        });
        if setns_failed.load(Ordering::SeqCst) {
            return Err(io::Error::other("setns into the load namespace failed"));
        }
        let (cmd, _) = watch::channel(Cmd::Idle);
        Ok(LoadGen { rt: Some(rt), shared: Arc::new(Shared::default()), cmd, sessions: 0 })
    }

    /// Connects every injector and the monitor to `remote` at once. `deadline` bounds the
    /// connection attempts (a refused or reset connect is retried until then).
    pub fn connect(&mut self, injectors: &[Injector], monitor: Ipv4Addr, remote: SocketAddrV4, deadline: Instant) {
        let rt = self.rt.as_ref().expect("runtime");
        self.shared.target.store(0, Ordering::SeqCst);
        for inj in injectors {
            let (shared, rx, inj) = (self.shared.clone(), self.cmd.subscribe(), inj.clone());
            rt.spawn(async move {
                let addr = inj.addr;
                if let Err(e) = injector(inj, remote, deadline, shared.clone(), rx).await {
                    shared.error(format!("injector {addr}: {e}"));
                }
            });
        }
        let (shared, rx) = (self.shared.clone(), self.cmd.subscribe());
        rt.spawn(async move {
            if let Err(e) = run_monitor(monitor, remote, deadline, shared.clone(), rx).await {
                shared.error(format!("monitor {monitor}: {e}"));
            }
        });
        self.sessions = injectors.len() + 1;
    }

    /// Number of sessions started by [`connect`](Self::connect).
    pub fn sessions(&self) -> usize {
        self.sessions
    }

    /// Starts an announce round (`target` = prefixes the monitor must end up with);
    /// returns the instant just before the command went out.
    pub fn announce(&self, round: u32, target: u64) -> Instant {
        self.shared.target.store(target, Ordering::SeqCst);
        *self.shared.full_at.lock().unwrap() = None;
        self.shared.phase.store(PHASE_ANNOUNCE, Ordering::SeqCst);
        let t0 = Instant::now();
        self.cmd.send_replace(Cmd::Announce(round));
        t0
    }

    /// Starts a withdraw round; returns the instant just before the command went out.
    pub fn withdraw(&self, round: u32) -> Instant {
        *self.shared.empty_at.lock().unwrap() = None;
        self.shared.phase.store(PHASE_WITHDRAW, Ordering::SeqCst);
        let t0 = Instant::now();
        self.cmd.send_replace(Cmd::Withdraw(round));
        t0
    }

    /// Marks the end of measuring: errors from closing sessions are ignored from now on.
    pub fn quiesce(&self) {
        self.shared.phase.store(PHASE_IDLE, Ordering::SeqCst);
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for LoadGen {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

async fn dial(local: Ipv4Addr, remote: SocketAddrV4, deadline: Instant) -> io::Result<TcpStream> {
    loop {
        let attempt = async {
            let s = TcpSocket::new_v4()?;
            s.set_reuseaddr(true)?;
            s.bind(SocketAddr::V4(SocketAddrV4::new(local, 0)))?;
            s.connect(SocketAddr::V4(remote)).await
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, attempt).await {
            Ok(Ok(s)) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Ok(Err(e)) if Instant::now() + Duration::from_millis(200) < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        }
    }
}

/// Reads one whole message into `buf` (which may hold more); returns its length.
async fn read_msg(r: &mut OwnedReadHalf, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        if let Some(n) = bgp_proto::frame(buf, 65535).map_err(|e| io::Error::other(format!("framing: {e:?}")))? {
            return Ok(n);
        }
        if r.read_buf(buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed the connection"));
        }
    }
}

fn notification_text(msg: &[u8]) -> String {
    match Message::decode(msg, &DecodeCtx::default()) {
        Ok(Message::Notification(n)) => format!("NOTIFICATION {}/{}", n.code, n.subcode),
        _ => "NOTIFICATION".into(),
    }
}

/// Connects, exchanges OPENs and waits for the first KEEPALIVE. Returns the halves, the
/// bytes already read past it, the keepalive interval and the decode context.
async fn establish(
    local: Ipv4Addr,
    remote: SocketAddrV4,
    deadline: Instant,
) -> io::Result<(OwnedReadHalf, OwnedWriteHalf, BytesMut, Duration, DecodeCtx)> {
    'again: loop {
        let stream = dial(local, remote, deadline).await?;
        let (mut r, mut w) = stream.into_split();
        let caps = vec![
            Capability::Multiprotocol { family: bgp_proto::AfiSafi::IPV4_UNICAST, reserved: 0 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(ASN),
        ];
        let open = Open::new(ASN, HOLD, local, caps);
        let bytes = Message::Open(open.clone())
            .to_bytes(&EncodeCtx::default())
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        w.write_all(&bytes).await?;
        let mut buf = BytesMut::with_capacity(CHUNK);
        let mut ctx = None;
        let mut hold = HOLD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // A connection that gets no answer within OPEN_WAIT (a full accept queue drops
            // the handshake's last ACK and our OPEN) is closed and dialled again.
            let n = match tokio::time::timeout(left.min(OPEN_WAIT), read_msg(&mut r, &mut buf)).await {
                Err(_) if left > OPEN_WAIT => {
                    redials(1);
                    continue 'again;
                }
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no Established before the deadline")),
                // A reset during the handshake (e.g. a listener overflow): dial again.
                Ok(Err(_)) if Instant::now() + Duration::from_millis(200) < deadline => {
                    redials(1);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'again;
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(n)) => n,
            };
            let msg = buf.split_to(n);
            match msg[18] {
                1 => {
                    let peer = match Message::decode(&msg, &DecodeCtx::default()) {
                        Ok(Message::Open(o)) => o,
                        other => return Err(io::Error::other(format!("bad OPEN: {other:?}"))),
                    };
                    hold = hold.min(peer.hold_time);
                    ctx = Some(bgp_proto::negotiate(&open, &peer, false).0);
                    w.write_all(&KEEPALIVE).await?;
                }
                4 if ctx.is_some() => {
                    let ka = if hold == 0 {
                        Duration::from_secs(3600)
                    } else {
                        Duration::from_secs((hold / 3).max(1) as u64)
                    };
                    return Ok((r, w, buf, ka, ctx.unwrap()));
                }
                3 => return Err(io::Error::other(format!("{} during the handshake", notification_text(&msg)))),
                t => return Err(io::Error::other(format!("unexpected message type {t} during the handshake"))),
            }
        }
    }
}

async fn write_chunks(w: &mut OwnedWriteHalf, chunks: &[Bytes], next_ka: &mut Instant, ka: Duration) -> io::Result<()> {
    for c in chunks {
        if Instant::now() >= *next_ka {
            w.write_all(&KEEPALIVE).await?;
            *next_ka = Instant::now() + ka;
        }
        w.write_all(c).await?;
    }
    Ok(())
}

/// The writer side shared by injectors and the monitor: keepalives, and for injectors
/// the UPDATEs of each round.
async fn writer(
    mut w: OwnedWriteHalf,
    ka: Duration,
    inj: Option<Injector>,
    mut rx: watch::Receiver<Cmd>,
    shared: Arc<Shared>,
) -> io::Result<()> {
    let mut next_ka = Instant::now() + ka;
    let mut last = Cmd::Idle;
    loop {
        let cmd = *rx.borrow_and_update();
        if cmd != last {
            last = cmd;
            if let Some(inj) = &inj {
                match cmd {
                    Cmd::Announce(_) => write_chunks(&mut w, &inj.announce, &mut next_ka, ka).await?,
                    Cmd::Withdraw(_) => write_chunks(&mut w, &inj.withdraw, &mut next_ka, ka).await?,
                    Cmd::Idle => {}
                }
            }
        }
        let sleep = tokio::time::sleep_until(next_ka.into());
        tokio::select! {
            _ = sleep => {
                w.write_all(&KEEPALIVE).await?;
                next_ka = Instant::now() + ka;
            }
            r = rx.changed() => {
                if r.is_err() || shared.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
            }
        }
    }
}

async fn injector(
    inj: Injector,
    remote: SocketAddrV4,
    deadline: Instant,
    shared: Arc<Shared>,
    rx: watch::Receiver<Cmd>,
) -> io::Result<()> {
    let (mut r, w, mut buf, ka, _) = establish(inj.addr, remote, deadline).await?;
    shared.established.fetch_add(1, Ordering::SeqCst);
    let s2 = shared.clone();
    let addr = inj.addr;
    tokio::spawn(async move {
        if let Err(e) = writer(w, ka, Some(inj), rx, s2.clone()).await {
            s2.error(format!("injector {addr}: write: {e}"));
        }
    });
    // Drop whatever the reflector sends; stop on NOTIFICATION or close.
    loop {
        while let Some(n) = bgp_proto::frame(&buf, 65535).map_err(|e| io::Error::other(format!("framing: {e:?}")))? {
            if buf[18] == 3 {
                return Err(io::Error::other(notification_text(&buf[..n])));
            }
            let _ = buf.split_to(n);
        }
        buf.reserve(CHUNK);
        if r.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "reflector closed the session"));
        }
    }
}

fn key(p: &Ipv4Net) -> u64 {
    ((u32::from(p.addr()) as u64) << 8) | p.prefix_len() as u64
}

async fn run_monitor(
    local: Ipv4Addr,
    remote: SocketAddrV4,
    deadline: Instant,
    shared: Arc<Shared>,
    rx: watch::Receiver<Cmd>,
) -> io::Result<()> {
    let (mut r, w, mut buf, ka, ctx) = establish(local, remote, deadline).await?;
    shared.established.fetch_add(1, Ordering::SeqCst);
    let s2 = shared.clone();
    tokio::spawn(async move {
        if let Err(e) = writer(w, ka, None, rx, s2.clone()).await {
            s2.error(format!("monitor: write: {e}"));
        }
    });
    let mut set: HashSet<u64> = HashSet::new();
    loop {
        let mut changed = false;
        while let Some(n) = bgp_proto::frame(&buf, 65535).map_err(|e| io::Error::other(format!("framing: {e:?}")))? {
            let msg = buf.split_to(n);
            match msg[18] {
                2 => {
                    shared.monitor_updates.fetch_add(1, Ordering::Relaxed);
                    let u = match Message::decode(&msg, &ctx) {
                        Ok(Message::Update(u)) => u,
                        Ok(_) => continue,
                        Err(e) => return Err(io::Error::other(format!("UPDATE decode: {e:?}"))),
                    };
                    for p in u.withdrawn_v4() {
                        changed |= set.remove(&key(&p.prefix));
                    }
                    // Only the injectors' prefixes count (a reflector may also export
                    // its connected routes).
                    for p in u.announced_v4().filter(|p| p.prefix.addr().octets()[0] == 10) {
                        changed |= set.insert(key(&p.prefix));
                    }
                }
                3 => return Err(io::Error::other(notification_text(&msg))),
                _ => {}
            }
        }
        if changed {
            let c = set.len() as u64;
            shared.count.store(c, Ordering::SeqCst);
            match shared.phase.load(Ordering::SeqCst) {
                PHASE_ANNOUNCE if c == shared.target.load(Ordering::SeqCst) => {
                    let mut f = shared.full_at.lock().unwrap();
                    if f.is_none() {
                        *f = Some(Instant::now());
                    }
                }
                PHASE_WITHDRAW if c == 0 => {
                    let mut f = shared.empty_at.lock().unwrap();
                    if f.is_none() {
                        *f = Some(Instant::now());
                    }
                }
                _ => {}
            }
        }
        buf.reserve(CHUNK);
        if r.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "reflector closed the session"));
        }
    }
}
