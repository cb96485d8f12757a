//! One task per neighbour: it owns the sans-IO [`Session`], the TCP connection and the
//! connect attempts, and turns session outputs into socket writes and core events.

use super::writer::{self, Write};
use crate::net::{self, TransportOpts};
use crate::rib::{OutBatch, PeerId};
use crate::session::{
    resolve_collision, Direction, DownReason, Input, Negotiated, Output, Session, SessionConfig, State,
};
use bgp_proto::{AfiSafi, DecodeCtx, EncodeCtx, Message, Notification, RouteRefresh, Update};
use bytes::{Bytes, BytesMut};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Index of a neighbour in the core's table.
pub(crate) type Slot = usize;

/// What the core asks of a peer task.
#[derive(Debug)]
pub(crate) enum PeerCmd {
    /// Write the batches of this export run that target the peer (`.1`, its RIB id):
    /// `.2` bytes, already counted in the peer's queue.
    Send(Arc<[OutBatch]>, PeerId, usize),
    /// Send End-of-RIB for these families (RFC 4724 §2).
    EndOfRib(Vec<AfiSafi>),
    /// Send a BoRR or EoRR marker (RFC 7313).
    RefreshMarker(AfiSafi, bool),
    /// Ask the peer to re-send its routes (RFC 2918).
    RequestRefresh(AfiSafi),
    /// An accepted connection from this peer.
    Inbound(TcpStream),
    /// Stop the session with this NOTIFICATION and end the task.
    Shutdown(Option<Notification>),
    /// Stop the session with this NOTIFICATION, drop what is queued, and start again.
    Reset(Notification),
}

/// What a peer task tells the core.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    Established(Slot, std::sync::Arc<Negotiated>, SocketAddr),
    Update(Slot, Box<Update>),
    RouteRefresh(Slot, RouteRefresh),
    EndOfRib(Slot, AfiSafi),
    Restarting(Slot, Vec<AfiSafi>),
    StaleSweep(Slot, Vec<AfiSafi>),
    FamilyDisabled(Slot, AfiSafi),
    Down(Slot, DownReason, Option<Notification>, Option<Notification>),
    Exited(Slot),
}

struct Conn {
    reader: OwnedReadHalf,
    writer: mpsc::UnboundedSender<Write>,
    writer_task: JoinHandle<()>,
    rbuf: BytesMut,
    /// How much to reserve for the next read: doubles while reads fill the buffer, halves
    /// while they use little of it ([`MIN_READ`]..=[`MAX_READ`]).
    read_size: usize,
    local: SocketAddr,
}

/// An inbound connection held while our own connection is in OpenSent (RFC 4271
/// §6.8): it is read until its OPEN names the peer's BGP identifier, which decides the
/// collision. What was read is replayed if the connection wins.
struct Pending {
    stream: TcpStream,
    buf: BytesMut,
}

/// Smallest read buffer: a session's messages are mostly short (OPEN, KEEPALIVE, a Calico
/// UPDATE under 100 octets); a longer one (up to 4096 octets, or 65535 with RFC 8654)
/// grows the buffer, and reads that fill it double the next one (up to [`MAX_READ`]).
const MIN_READ: usize = 1 << 10;
/// Largest read buffer.
const MAX_READ: usize = 64 << 10;

/// The task's state.
pub(crate) struct PeerTask {
    slot: Slot,
    remote: SocketAddr,
    opts: TransportOpts,
    session: Session,
    conn: Option<Conn>,
    connecting: Option<JoinHandle<std::io::Result<TcpStream>>>,
    pending_inbound: Option<Pending>,
    events: mpsc::Sender<PeerEvent>,
    queued: Arc<AtomicUsize>,
    live: Arc<LiveState>,
    /// The session was Established when the last outputs were carried out.
    was_established: bool,
    /// The initial table's End-of-RIB was queued: end the writer's hold.
    release_hold: bool,
    /// Messages of this session not yet handed to the writer: everything the frames of
    /// one read produce goes to the writer together (see [`PeerTask::flush_writes`]).
    writes: Vec<bytes::Bytes>,
    /// Frames of one read are being handled: writes wait for the end of the read.
    in_read: bool,
}

/// A session's FSM state, written by its peer task and read by the core when it reports
/// status: transitions need no event through the core's queue.
#[derive(Debug)]
pub(crate) struct LiveState {
    state: AtomicU8,
    /// When the state last changed, in milliseconds since the Unix epoch.
    since_ms: AtomicU64,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl LiveState {
    /// Idle, since now.
    pub(crate) fn new() -> Self {
        LiveState { state: AtomicU8::new(State::Idle as u8), since_ms: AtomicU64::new(unix_ms()) }
    }

    fn set(&self, s: State) {
        self.since_ms.store(unix_ms(), Ordering::Relaxed);
        self.state.store(s as u8, Ordering::Relaxed);
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        const ALL: [State; 6] =
            [State::Idle, State::Connect, State::Active, State::OpenSent, State::OpenConfirm, State::Established];
        ALL.get(self.state.load(Ordering::Relaxed) as usize).copied().unwrap_or(State::Idle)
    }

    /// When it was entered.
    pub(crate) fn since(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_millis(self.since_ms.load(Ordering::Relaxed))
    }
}

/// How long a new session's writer holds its first Established writes (the handshake's
/// last KEEPALIVE) for the initial table and End-of-RIB, so they share one segment.
const INITIAL_HOLD: std::time::Duration = std::time::Duration::from_millis(20);

impl PeerTask {
    pub(crate) fn spawn(
        slot: Slot,
        remote: SocketAddr,
        opts: TransportOpts,
        cfg: SessionConfig,
        events: mpsc::Sender<PeerEvent>,
        queued: Arc<AtomicUsize>,
        live: Arc<LiveState>,
    ) -> (mpsc::UnboundedSender<PeerCmd>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        // The core's RIB counts received prefixes; the session keeps its own set only
        // where a max-prefix limit needs it.
        let mut cfg = cfg;
        cfg.count_prefixes = false;
        let mut session = Session::new(cfg, now);
        session.handle(Input::Start, now);
        let t = PeerTask {
            slot,
            remote,
            opts,
            session,
            conn: None,
            connecting: None,
            pending_inbound: None,
            events,
            queued,
            live,
            was_established: false,
            release_hold: false,
            writes: Vec::new(),
            in_read: false,
        };
        // Boxed: the task's future (~5 KiB, the session inside) is then written once
        // into its allocation instead of being moved through every layer of `spawn`
        // (callgrind of a mesh node: ~3 KiB copied six times per peer).
        (tx, tokio::spawn(Box::pin(t.run(rx))))
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<PeerCmd>) {
        // One timer for the task, moved only when the session's next deadline changes
        // (a fresh timer per loop turn showed up in profiles of 1000-peer fan-out).
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far());
        tokio::pin!(sleep);
        'outer: loop {
            if !self.drain_outputs().await {
                break;
            }
            let deadline = self.session.next_deadline().map(tokio::time::Instant::from_std);
            let target = deadline.unwrap_or_else(far);
            if sleep.deadline() != target {
                sleep.as_mut().reset(target);
            }
            tokio::select! {
                cmd = cmds.recv() => {
                    // Take every command already queued: a burst of UPDATEs for this peer
                    // is handled in one turn.
                    let mut next = cmd;
                    for _ in 0..1024 {
                        match next {
                            None | Some(PeerCmd::Shutdown(_)) => {
                                let n = match next { Some(PeerCmd::Shutdown(n)) => n, _ => None };
                                self.session.stop(n, Instant::now());
                                let _ = self.drain_outputs().await;
                                break 'outer;
                            }
                            Some(c) => {
                                // UPDATE bytes go straight to the writer; anything else may
                                // make the session queue messages (BoRR/EoRR, End-of-RIB),
                                // which must hit the wire in command order: flush them now.
                                let direct = matches!(c, PeerCmd::Send(..));
                                self.command(c);
                                if !direct && !self.drain_outputs().await {
                                    break 'outer;
                                }
                            }
                        }
                        match cmds.try_recv() {
                            Ok(c) => next = Some(c),
                            Err(_) => break,
                        }
                    }
                }
                r = read_some(&mut self.conn) => {
                    if !self.on_read(r).await {
                        break;
                    }
                }
                r = read_pending(&mut self.pending_inbound) => self.on_pending_read(r),
                r = join_connect(&mut self.connecting) => self.on_connected(r),
                _ = &mut sleep, if deadline.is_some() => self.session.handle_timeout(Instant::now()),
            }
        }
        self.close_conn();
        let _ = self.events.send(PeerEvent::Exited(self.slot)).await;
    }

    fn command(&mut self, c: PeerCmd) {
        let now = Instant::now();
        match c {
            PeerCmd::Send(run, me, n) => {
                if let Some(conn) = &self.conn {
                    if self.session.state() == State::Established {
                        let _ = conn.writer.send(Write::Group(run, me));
                        return;
                    }
                }
                release(&self.queued, n);
            }
            PeerCmd::EndOfRib(fams) => {
                for f in fams {
                    let _ = self.session.send_end_of_rib(f, now);
                }
                // The core sends this right after the initial table (RFC 4724 §2).
                self.release_hold = true;
            }
            PeerCmd::RefreshMarker(f, begin) => {
                let _ = self.session.send_refresh_marker(f, begin, now);
            }
            PeerCmd::RequestRefresh(f) => {
                let _ = self.session.send_route_refresh(f, now);
            }
            PeerCmd::Inbound(s) => self.inbound(s),
            PeerCmd::Reset(n) => {
                // The session queues the NOTIFICATION, the close and its Down; the run
                // loop's drain_outputs carries them out in that order, so the core
                // learns the session went down and withdraws what the peer sent.
                self.session.stop(Some(n), now);
                self.session.handle(Input::Start, now);
            }
            PeerCmd::Shutdown(_) => {}
        }
    }

    /// An accepted connection: adopt it, hold it for collision resolution, or refuse it
    /// (RFC 4271 §6.8).
    fn inbound(&mut self, s: TcpStream) {
        let now = Instant::now();
        if self.conn.is_none() && self.session.accepts_connection() {
            if let Some(c) = self.connecting.take() {
                c.abort();
            }
            self.attach(s, Direction::Inbound, now);
            return;
        }
        match self.session.state() {
            State::OpenSent => {
                // The peer's BGP ID is not known yet: decide once its OPEN arrives, on
                // either connection. Reading this one too matters when the peer is in
                // the same position (both dialled at once): each would otherwise wait
                // for an OPEN the other holds back.
                let p = Pending { stream: s, buf: BytesMut::new() };
                if let Some(old) = self.pending_inbound.replace(p) {
                    refuse(old.stream, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new()));
                }
            }
            State::OpenConfirm => self.resolve(Pending { stream: s, buf: BytesMut::new() }, None),
            _ => refuse(s, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new())),
        }
    }

    /// Collision resolution once the peer's BGP ID is known (RFC 4271 §6.8): from the
    /// OPEN on our connection (OpenConfirm), or from `remote` (BGP ID and AS) of the OPEN
    /// read on the held inbound one.
    fn resolve(&mut self, p: Pending, remote: Option<(Ipv4Addr, u32)>) {
        let now = Instant::now();
        let remote = remote.or_else(|| Some((self.session.peer_bgp_id()?, self.session.peer_asn()?)));
        let (Some((remote_id, remote_as)), Some(dir)) = (remote, self.session.direction()) else {
            refuse(p.stream, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new()));
            return;
        };
        let cfg = self.session.config();
        let survivor = resolve_collision(cfg.router_id, cfg.local_asn, remote_id, remote_as);
        if survivor == dir {
            refuse(p.stream, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new()));
            return;
        }
        // The existing connection loses: it sends Cease/7 and closes; a fresh session
        // takes the new connection, with what was already read from it.
        self.session.handle(Input::CollisionLost, now);
        self.flush_sends_and_close();
        self.session = Session::new(self.session.config().clone(), now);
        self.session.handle(Input::Start, now);
        self.adopt(p, now);
    }

    /// Takes a held inbound connection as the session's, replaying what was read.
    fn adopt(&mut self, p: Pending, now: Instant) {
        self.attach(p.stream, Direction::Inbound, now);
        if let Some(c) = self.conn.as_mut() {
            if !p.buf.is_empty() {
                c.rbuf.extend_from_slice(&p.buf);
                // The replayed bytes (an OPEN, perhaps more): their outputs are carried
                // out by the task loop.
                while self.next_frame() {}
            }
        }
    }

    /// Bytes on the held inbound connection: once its first message is whole, an OPEN
    /// decides the collision; anything else, or a close, drops the connection.
    fn on_pending_read(&mut self, r: std::io::Result<usize>) {
        let Some(p) = self.pending_inbound.as_mut() else { return };
        if !matches!(r, Ok(n) if n > 0) {
            self.pending_inbound = None;
            return;
        }
        let len = match bgp_proto::frame(&p.buf, bgp_proto::MAX_MESSAGE_LEN) {
            Ok(None) => return,
            Ok(Some(len)) => len,
            Err(_) => {
                self.pending_inbound = None;
                return;
            }
        };
        let Some(p) = self.pending_inbound.take() else { return };
        match Message::decode(&p.buf[..len], &DecodeCtx::default()) {
            // Our own connection went away meanwhile: no collision left.
            Ok(Message::Open(_)) if self.conn.is_none() && self.session.accepts_connection() => {
                if let Some(c) = self.connecting.take() {
                    c.abort();
                }
                self.adopt(p, Instant::now());
            }
            Ok(Message::Open(o)) => {
                let remote = (o.bgp_id, o.asn());
                self.resolve(p, Some(remote));
            }
            _ => refuse(p.stream, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new())),
        }
    }

    fn attach(&mut self, s: TcpStream, direction: Direction, now: Instant) {
        let (Ok(local), Ok(remote)) = (s.local_addr(), s.peer_addr()) else {
            self.session.handle(Input::TcpConnectFailed, now);
            return;
        };
        // An outbound socket got its options before and after `connect` (net::connect).
        if direction == Direction::Inbound {
            let _ = net::apply_accepted(&s, remote.is_ipv4(), &self.opts);
        }
        let (r, w) = s.into_split();
        let (wtx, wrx) = mpsc::unbounded_channel::<Write>();
        let queued = self.queued.clone();
        // Bytes queued for an earlier connection died with it.
        queued.store(0, Ordering::Relaxed);
        let writer_task = tokio::spawn(writer::run(w, wrx, queued));
        self.conn =
            Some(Conn { reader: r, writer: wtx, writer_task, rbuf: BytesMut::new(), read_size: MIN_READ, local });
        self.session.handle(Input::TcpConnected { local, remote, direction }, now);
    }

    /// Returns false when the core is gone.
    async fn on_read(&mut self, r: std::io::Result<(usize, bool)>) -> bool {
        let now = Instant::now();
        match r {
            Ok((0, _)) | Err(_) => {
                self.close_conn();
                self.session.handle(Input::TcpClosed, now);
                true
            }
            Ok((n, filled)) => {
                if let Some(c) = self.conn.as_mut() {
                    c.read_size = if filled {
                        (c.read_size * 2).min(MAX_READ)
                    } else if n < c.read_size / 4 {
                        (c.read_size / 2).max(MIN_READ)
                    } else {
                        c.read_size
                    };
                }
                self.process_frames().await
            }
        }
    }

    /// Hands every whole message in the read buffer to the session, carrying out the
    /// outputs of each before decoding the next: a read of up to [`MAX_READ`] bytes
    /// holds at most one decoded UPDATE (a 4096-byte UPDATE of /28s decodes into a 32
    /// KiB NLRI vector) while the core's event queue is full, not all of them (20
    /// clients sending a million prefixes had 17 MiB of decoded UPDATEs waiting).
    /// Returns false when the core is gone.
    async fn process_frames(&mut self) -> bool {
        self.in_read = true;
        while self.next_frame() {
            if !self.drain_outputs().await {
                return false;
            }
        }
        self.in_read = false;
        self.flush_writes();
        true
    }

    /// Hands the next whole message in the read buffer (or its framing error) to the
    /// session. False when there is none.
    fn next_frame(&mut self) -> bool {
        let max = self.session.max_frame_len();
        let Some(conn) = self.conn.as_mut() else { return false };
        match bgp_proto::frame(&conn.rbuf, max) {
            Ok(Some(len)) => {
                let f = conn.rbuf.split_to(len).freeze();
                self.session.handle(Input::Frame(f), Instant::now());
                true
            }
            Ok(None) => {
                if conn.rbuf.is_empty() {
                    // Everything read was handled: give the buffer back rather than
                    // keep up to MAX_READ per (mostly idle) session.
                    conn.rbuf = BytesMut::new();
                }
                false
            }
            Err(e) => {
                conn.rbuf.clear();
                self.session.handle(Input::FrameError(e), Instant::now());
                false
            }
        }
    }

    fn on_connected(&mut self, r: std::io::Result<TcpStream>) {
        let now = Instant::now();
        self.connecting = None;
        match r {
            Ok(s) if self.conn.is_none() => self.attach(s, Direction::Outbound, now),
            Ok(s) => drop(s),
            Err(e) => {
                tracing::debug!(peer = %self.remote, error = %e, "connect failed");
                self.session.handle(Input::TcpConnectFailed, now);
            }
        }
    }

    fn close_conn(&mut self) {
        // Dropping the reader and the writer's sender: the writer task drains what was
        // queued (the closing NOTIFICATION included) and shuts the socket down. A peer
        // that does not read gets two seconds, then the writer is cut off, so a stuck
        // peer cannot pin memory.
        if let Some(c) = self.conn.take() {
            let Conn { writer, writer_task, .. } = c;
            drop(writer);
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                writer_task.abort();
            });
        }
    }

    fn flush_sends_and_close(&mut self) {
        while let Some(o) = self.session.poll_output() {
            if let Output::Send(b) = o {
                self.writes.push(b);
            }
        }
        self.flush_writes();
        self.close_conn();
    }

    /// Hands the collected writes to the writer. When the session came up in the input
    /// just handled (whose answer, the handshake's last KEEPALIVE, is among them), the
    /// writer first gets a hold: it keeps them until the initial table and End-of-RIB
    /// are queued behind (or INITIAL_HOLD passes), and all of it goes out in one write.
    fn flush_writes(&mut self) {
        let established = self.session.state() == State::Established;
        let came_up = established && !self.was_established;
        self.was_established = established;
        let Some(c) = &self.conn else {
            self.writes.clear();
            return;
        };
        if came_up {
            let _ = c.writer.send(Write::Hold(tokio::time::Instant::now() + INITIAL_HOLD));
        }
        for b in self.writes.drain(..) {
            self.queued.fetch_add(b.len(), Ordering::Relaxed);
            let _ = c.writer.send(Write::One(b));
        }
        if std::mem::take(&mut self.release_hold) {
            let _ = c.writer.send(Write::Release);
        }
    }

    /// Carries out the session's outputs. Returns false when the core is gone.
    async fn drain_outputs(&mut self) -> bool {
        let ok = self.carry_out_outputs().await;
        if !self.in_read {
            self.flush_writes();
        }
        ok
    }

    async fn carry_out_outputs(&mut self) -> bool {
        while let Some(o) = self.session.poll_output() {
            let ev = match o {
                Output::Connect => {
                    if self.conn.is_none() && self.connecting.is_none() {
                        let (remote, opts) = (self.remote, self.opts.clone());
                        self.connecting = Some(tokio::spawn(async move { net::connect(remote, &opts).await }));
                    }
                    None
                }
                Output::Send(b) => {
                    if self.conn.is_some() {
                        self.writes.push(b);
                    }
                    None
                }
                Output::CloseConnection => {
                    // What the session sent before closing (a NOTIFICATION) goes first.
                    self.flush_writes();
                    self.close_conn();
                    if let Some(c) = self.connecting.take() {
                        c.abort();
                    }
                    None
                }
                Output::RefuseConnection { .. } | Output::SetTimer(..) | Output::CancelTimer(_) => None,
                Output::StateChanged { to, .. } => {
                    if to == State::OpenConfirm {
                        if let Some(p) = self.pending_inbound.take() {
                            self.resolve(p, None);
                        }
                    }
                    // Recorded for status where the core reads it: no event per transition.
                    self.live.set(to);
                    None
                }
                Output::Established(n) => {
                    let local =
                        self.conn.as_ref().map(|c| c.local).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                    if let Some(p) = self.pending_inbound.take() {
                        refuse(p.stream, Notification::new(bgp_proto::error::code::CEASE, 7, Bytes::new()));
                    }
                    Some(PeerEvent::Established(self.slot, n, local))
                }
                Output::Update(u) => Some(PeerEvent::Update(self.slot, u)),
                Output::RouteRefresh(r) => Some(PeerEvent::RouteRefresh(self.slot, r)),
                Output::EndOfRib(f) => Some(PeerEvent::EndOfRib(self.slot, f)),
                Output::FamilyDisabled { family, error } => {
                    tracing::warn!(peer = %self.remote, %family, error = %error, "address family disabled (RFC 7606)");
                    Some(PeerEvent::FamilyDisabled(self.slot, family))
                }
                Output::PeerRestarting { families_preserved, .. } => {
                    Some(PeerEvent::Restarting(self.slot, families_preserved))
                }
                Output::StaleSweep { families } => Some(PeerEvent::StaleSweep(self.slot, families)),
                Output::Down { reason, notification_sent, notification_received } => {
                    tracing::info!(peer = %self.remote, ?reason, sent = ?notification_sent, received = ?notification_received, "session down");
                    Some(PeerEvent::Down(self.slot, reason, notification_sent, notification_received))
                }
                Output::Warning(w) => {
                    tracing::warn!(peer = %self.remote, warning = ?w, "session warning");
                    None
                }
            };
            if let Some(ev) = ev {
                // A bounded channel: a slow core pauses reading from this peer (TCP
                // back-pressure), never the other way round.
                if self.events.send(ev).await.is_err() {
                    return false;
                }
            }
        }
        true
    }
}

/// Counts `n` queued bytes as written, never going below zero.
pub(crate) fn release(q: &AtomicUsize, n: usize) {
    let _ = q.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
}

/// Sends `n` on a connection we refuse, then closes it.
fn refuse(mut s: TcpStream, n: Notification) {
    tokio::spawn(async move {
        if let Ok(b) = Message::Notification(n).to_bytes(&EncodeCtx::default()) {
            let _ = s.write_all(&b).await;
        }
        let _ = s.shutdown().await;
    });
}

/// Reads into the connection's buffer: the byte count, and whether the read filled
/// all the room there was.
async fn read_some(conn: &mut Option<Conn>) -> std::io::Result<(usize, bool)> {
    match conn {
        Some(c) => loop {
            // Room is reserved only once there is something to read: an idle session
            // (most of them, most of the time) holds no read buffer.
            c.reader.readable().await?;
            if c.rbuf.capacity() - c.rbuf.len() < MIN_READ {
                c.rbuf.reserve(c.read_size);
            }
            let room = c.rbuf.capacity() - c.rbuf.len();
            match c.reader.try_read_buf(&mut c.rbuf) {
                Ok(n) => return Ok((n, n >= room)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        },
        None => std::future::pending().await,
    }
}

/// Reads from the held inbound connection, if any (never ready without one).
async fn read_pending(p: &mut Option<Pending>) -> std::io::Result<usize> {
    match p {
        Some(p) => p.stream.read_buf(&mut p.buf).await,
        None => std::future::pending().await,
    }
}

async fn join_connect(h: &mut Option<JoinHandle<std::io::Result<TcpStream>>>) -> std::io::Result<TcpStream> {
    match h {
        Some(j) => match j.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        },
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_state_reads_back_every_state_and_its_time() {
        let l = LiveState::new();
        assert_eq!(l.state(), State::Idle);
        for s in [State::Connect, State::Active, State::OpenSent, State::OpenConfirm, State::Established, State::Idle] {
            let before = SystemTime::now() - std::time::Duration::from_millis(1);
            l.set(s);
            assert_eq!(l.state(), s);
            assert!(l.since() >= before && l.since() <= SystemTime::now());
        }
    }
}
