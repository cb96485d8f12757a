//! The netlink driver: runs the [`Reconciler`] against the kernel on one thread.
//!
//! Writes are pipelined: up to `batch` route requests go out in a single `send`, and
//! only the last one asks for an ACK. The kernel handles a netlink request inside the
//! sender's `send` call, and always answers a failing request with an error carrying
//! its sequence number, so when the last request's ACK arrives every earlier one is
//! done: errors are matched to their route by sequence number, the rest succeeded.
//! That is one `send` and a handful of `recv`s per batch instead of a round trip per
//! route.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

use crate::reconcile::{Op, Reconciler};
use crate::socket::{strerror, NlSocket, GROUPS};
use crate::topology::LearnFilter;
use crate::types::{DesiredRoute, FibEvent, SyncStatus, RTPROT_BIRD};
use crate::wire::{self, Msg};

/// Requests from the handle.
pub(crate) enum Command {
    Set(DesiredRoute),
    Remove(u32, ipnet::IpNet),
    ReplaceAll(Vec<DesiredRoute>),
    Converged,
    Learn(LearnFilter),
    Flush(oneshot::Sender<SyncStatus>),
    /// Block the driver thread (tests: simulate a consumer that falls behind).
    Stall(Duration),
    Shutdown,
}

pub(crate) struct Driver {
    req: NlSocket,
    ev: AsyncFd<NlSocket>,
    rec: Reconciler,
    seq: u32,
    batch: usize,
    sendbuf: Vec<u8>,
    recvbuf: Vec<u8>,
    events: mpsc::UnboundedSender<FibEvent>,
    waiters: Vec<oneshot::Sender<SyncStatus>>,
}

const RECV_BUF: usize = 1 << 20;

impl Driver {
    /// Open the sockets in the current thread's network namespace.
    pub fn open(
        rec: Reconciler,
        batch: usize,
        event_rcvbuf: usize,
        events: mpsc::UnboundedSender<FibEvent>,
    ) -> io::Result<Self> {
        // Request socket: the batch's error ACKs must fit in its receive buffer.
        let req = NlSocket::open(&[], 32 << 20, 8 << 20, false)?;
        req.set_recv_timeout(Duration::from_secs(10))?;
        // Event socket: a large buffer rides out bursts; overflow (ENOBUFS) is handled
        // by re-reading the kernel's state.
        let ev = NlSocket::open(&GROUPS, event_rcvbuf, 1 << 20, true)?;
        if let Err(e) = ev.exclude_pid(req.portid) {
            tracing::warn!(error = %e, "cannot filter our own notifications; skipping them in user space");
        }
        // SAFETY: `NlSocket` owns its descriptor, never changes it, and closes it only
        // when dropped, which happens when the AsyncFd is dropped.
        let ev = unsafe { AsyncFd::register_with_interest(ev, tokio::io::Interest::READABLE) }?;
        Ok(Driver {
            req,
            ev,
            rec,
            seq: 0,
            batch: batch.max(1),
            sendbuf: Vec::with_capacity(batch * 128),
            recvbuf: Vec::with_capacity(RECV_BUF),
            events,
            waiters: Vec::new(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Dump one kind of object, feeding each message to `f`.
    fn dump(&mut self, kind: u16, family: u8, mut f: impl FnMut(&mut Reconciler, Msg)) -> io::Result<()> {
        let seq = self.next_seq();
        self.sendbuf.clear();
        wire::push_dump(&mut self.sendbuf, kind, family, seq);
        self.req.send(&self.sendbuf)?;
        loop {
            self.req.recv(&mut self.recvbuf, false)?;
            for (h, p) in wire::messages(&self.recvbuf) {
                if h.seq != seq {
                    continue;
                }
                match wire::decode(&h, p) {
                    Msg::Done => return Ok(()),
                    Msg::Ack { errno, .. } if errno != 0 => return Err(io::Error::from_raw_os_error(errno)),
                    m => f(&mut self.rec, m),
                }
            }
        }
    }

    /// Re-read interfaces, addresses and routes, and reconcile against them.
    fn resync(&mut self) -> io::Result<()> {
        let started = Instant::now();
        self.rec.topo.clear_links();
        self.dump(wire::RTM_GETLINK, 0, |r, m| {
            if let Msg::NewLink(l) = m {
                let _ = r.topo.link(l);
            }
        })?;
        self.dump(wire::RTM_GETADDR, 0, |r, m| {
            if let Msg::NewAddr(a) = m {
                r.topo.addr(a, true);
            }
        })?;
        self.rec.begin_resync();
        for v6 in [false, true] {
            self.dump(wire::RTM_GETROUTE, wire::family(v6), |r, m| {
                if let Msg::NewRoute(k) = m {
                    r.resync_route(k, Instant::now());
                }
            })?;
        }
        self.rec.end_resync(Instant::now());
        tracing::debug!(elapsed = ?started.elapsed(), "resynced with the kernel");
        Ok(())
    }

    /// Write everything the reconciler wants written, batch by batch.
    fn pump(&mut self) {
        loop {
            let now = Instant::now();
            let ops = self.rec.next_ops(self.batch, now);
            if ops.is_empty() {
                break;
            }
            let results = self.write(&ops);
            let now = Instant::now();
            match results {
                Ok(results) => {
                    for (op, r) in ops.into_iter().zip(results) {
                        self.rec.op_done(op, r, now);
                    }
                }
                Err(e) => {
                    // We do not know which requests were applied: write them again
                    // (replace and delete are idempotent) after a re-read.
                    tracing::warn!(error = %e, "netlink batch failed; will re-read and retry");
                    for op in ops {
                        self.rec.requeue(op);
                    }
                    self.rec.needs_resync = true;
                    self.forward_events();
                    return;
                }
            }
            // Keep the event socket drained during long loads.
            self.drain_events();
            self.forward_events();
        }
    }

    fn write(&mut self, ops: &[Op]) -> io::Result<Vec<Result<(), (i32, String)>>> {
        self.sendbuf.clear();
        let base = self.seq.wrapping_add(1);
        let last = ops.len() - 1;
        for (i, op) in ops.iter().enumerate() {
            let seq = self.next_seq();
            let ack = i == last;
            match op {
                Op::Install { key, metric, spec } => wire::push_new_route(
                    &mut self.sendbuf,
                    seq,
                    ack,
                    key.table,
                    &key.prefix,
                    *metric,
                    spec,
                    RTPROT_BIRD,
                ),
                Op::Delete((table, prefix, metric)) => {
                    wire::push_del_route(&mut self.sendbuf, seq, ack, *table, prefix, *metric, RTPROT_BIRD)
                }
            }
        }
        let last_seq = self.seq;
        self.req.send(&self.sendbuf)?;
        let mut results: Vec<Result<(), (i32, String)>> = vec![Ok(()); ops.len()];
        loop {
            self.req.recv(&mut self.recvbuf, false)?;
            let mut done = false;
            for (h, p) in wire::messages(&self.recvbuf) {
                let idx = h.seq.wrapping_sub(base) as usize;
                if idx >= ops.len() {
                    continue;
                }
                if let Msg::Ack { errno, reason } = wire::decode(&h, p) {
                    if errno != 0 {
                        let reason = reason.unwrap_or_else(|| strerror(errno));
                        results[idx] = Err((errno, reason));
                    }
                    if h.seq == last_seq {
                        done = true;
                    }
                }
            }
            if done {
                return Ok(results);
            }
        }
    }

    fn drain_events(&mut self) {
        let own = self.req.portid;
        loop {
            match self.ev.get_ref().recv(&mut self.recvbuf, true) {
                Ok(_) => {
                    for (h, p) in wire::messages(&self.recvbuf) {
                        if h.pid == own && own != 0 {
                            continue;
                        }
                        match wire::decode(&h, p) {
                            Msg::NewRoute(r) => {
                                self.rec.on_route(true, r, h.flags & wire::NLM_F_REPLACE != 0, Instant::now())
                            }
                            Msg::DelRoute(r) => self.rec.on_route(false, r, false, Instant::now()),
                            Msg::NewLink(l) => self.rec.on_link(l, true),
                            Msg::DelLink(l) => self.rec.on_link(l, false),
                            Msg::NewAddr(a) => self.rec.on_addr(a, true),
                            Msg::DelAddr(a) => self.rec.on_addr(a, false),
                            _ => {}
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Events were lost: the only safe view is a fresh dump.
                    self.rec.needs_resync = true;
                    let _ = self.events.send(FibEvent::Resynced);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event socket error");
                    return;
                }
            }
        }
    }

    fn forward_events(&mut self) {
        for e in self.rec.take_events() {
            let _ = self.events.send(e);
        }
    }

    /// Apply one command; returns false on shutdown.
    fn command(&mut self, c: Command) -> bool {
        let now = Instant::now();
        match c {
            Command::Set(r) => self.rec.set_route(r, now),
            Command::Remove(t, p) => self.rec.remove_route(t, p),
            Command::ReplaceAll(v) => self.rec.replace_all(v, now),
            Command::Converged => self.rec.converged(),
            Command::Learn(f) => self.rec.set_learn_filter(f),
            Command::Flush(tx) => self.waiters.push(tx),
            Command::Stall(d) => std::thread::sleep(d),
            Command::Shutdown => return false,
        }
        true
    }

    /// The driver's loop; returns when the handle is dropped.
    pub async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Command>) {
        if let Err(e) = self.resync() {
            tracing::error!(error = %e, "initial dump failed");
            self.rec.needs_resync = true;
        }
        loop {
            if self.rec.needs_resync {
                if let Err(e) = self.resync() {
                    tracing::warn!(error = %e, "resync failed");
                }
            }
            self.rec.tick(Instant::now());
            self.pump();
            self.forward_events();
            if !self.rec.has_work() && !self.waiters.is_empty() {
                let s = self.rec.status();
                for w in self.waiters.drain(..) {
                    let _ = w.send(s.clone());
                }
            }
            let deadline = self.rec.next_deadline().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                c = cmds.recv() => {
                    let Some(c) = c else { return };
                    if !self.command(c) {
                        return;
                    }
                    while let Ok(c) = cmds.try_recv() {
                        if !self.command(c) {
                            return;
                        }
                    }
                }
                g = self.ev.readable() => {
                    if let Ok(mut g) = g {
                        g.clear_ready();
                    }
                    self.drain_events();
                }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
    }
}
