//! The per-connection writer task: it writes what the peer task queues, everything already
//! queued in one vectored write, without copying the (shared) UPDATE bytes.
//!
//! Nothing is kept between bursts: a peer that received a burst of UPDATEs holds no
//! buffer afterwards (1000 mostly idle sessions must not pin a write buffer each).

use crate::rib::{OutBatch, PeerId};
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// What a writer task is asked to write.
#[derive(Debug)]
pub(crate) enum Write {
    /// One message (or several, back to back) of this session.
    One(Bytes),
    /// One update group's UPDATEs of one export run, shared by every member: the writer
    /// sends the batches whose target includes `me`.
    Group(Arc<[OutBatch]>, PeerId),
    /// Write nothing until [`Write::Release`] or this deadline, then everything queued
    /// meanwhile in one write (a new session's last KEEPALIVE with its initial table).
    Hold(tokio::time::Instant),
    /// Ends a [`Write::Hold`].
    Release,
}

impl Write {
    /// The byte slices this write puts on the wire, in order.
    fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let (one, run, me): (Option<&[u8]>, &[OutBatch], PeerId) = match self {
            Write::One(b) => (Some(b), &[], PeerId(0)),
            Write::Group(run, me) => (None, run, *me),
            Write::Hold(_) | Write::Release => (None, &[], PeerId(0)),
        };
        one.into_iter().chain(run.iter().filter(move |b| b.target.includes(me)).map(|b| &b.bytes[..]))
    }

    fn len(&self) -> usize {
        self.chunks().map(<[u8]>::len).sum()
    }
}

/// Bytes of `run` that go to `me`.
pub(crate) fn group_len(run: &[OutBatch], me: PeerId) -> usize {
    run.iter().filter(|b| b.target.includes(me)).map(|b| b.bytes.len()).sum()
}

/// Most slices per `writev` (Linux `IOV_MAX` is 1024).
const MAX_IOV: usize = 512;

/// Writes queued but not fully written yet. The slices for each `writev` are gathered
/// from the queue when it is made, so a writer holds no list of chunks (with 1000 peers
/// and 1000 split-horizon batches each, such lists took 30 MiB at once).
#[derive(Default)]
struct Queue {
    items: VecDeque<Write>,
    /// Bytes of the front item already written.
    skip: usize,
}

impl Queue {
    /// Up to [`MAX_IOV`] slices of what is left to write.
    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::new();
        let mut skip = self.skip;
        for c in self.items.iter().flat_map(Write::chunks) {
            let c = if skip >= c.len() {
                skip -= c.len();
                continue;
            } else {
                let c = &c[skip..];
                skip = 0;
                c
            };
            out.push(IoSlice::new(c));
            if out.len() == MAX_IOV {
                break;
            }
        }
        out
    }

    /// Queues `w`; a hold or release changes `hold` instead.
    fn take(&mut self, w: Write, hold: &mut Option<tokio::time::Instant>) {
        match w {
            Write::Hold(until) => *hold = Some(until),
            Write::Release => *hold = None,
            w => self.items.push_back(w),
        }
    }

    /// Marks `n` more bytes as written; returns the bytes of the items now done.
    fn advance(&mut self, n: usize) -> usize {
        self.skip += n;
        let mut done = 0;
        while let Some(front) = self.items.front() {
            let len = front.len();
            if len > self.skip {
                break;
            }
            self.skip -= len;
            done += len;
            self.items.pop_front();
        }
        done
    }
}

/// Writes everything `rx` yields until it closes or a write fails, then shuts the
/// connection down, so a NOTIFICATION queued just before a close still goes out.
pub(crate) async fn run(mut w: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Write>, queued: Arc<AtomicUsize>) {
    let mut q = Queue::default();
    let mut hold = None;
    'outer: while let Some(first) = rx.recv().await {
        q.take(first, &mut hold);
        // Everything already queued goes out together: a burst of small UPDATEs costs a
        // few system calls, not one each.
        while let Ok(more) = rx.try_recv() {
            q.take(more, &mut hold);
        }
        if hold.is_some() {
            // The release usually follows within this turn of the runtime (the core
            // queues the initial table as soon as it sees the session Established): let
            // the other ready tasks run first, and arm a timer only if it has not come.
            // Each timer earlier than every other one costs the runtime a wake-up write
            // to its eventfd (100 new sessions at once: 100 system calls).
            tokio::task::yield_now().await;
            while let Ok(more) = rx.try_recv() {
                q.take(more, &mut hold);
            }
        }
        while let Some(until) = hold {
            tokio::select! {
                w = rx.recv() => match w {
                    Some(w) => q.take(w, &mut hold),
                    // Closed: write what is queued, then end.
                    None => hold = None,
                },
                _ = tokio::time::sleep_until(until) => hold = None,
            }
        }
        loop {
            // Items with nothing to write are dropped here (an empty writev is no write).
            super::peer::release(&queued, q.advance(0));
            if q.items.is_empty() {
                break;
            }
            let r = {
                let slices = q.slices();
                w.write_vectored(&slices).await
            };
            match r {
                Ok(n) if n > 0 => super::peer::release(&queued, q.advance(n)),
                _ => break 'outer,
            }
        }
        if q.items.capacity() > 64 {
            q.items = VecDeque::new();
        }
    }
    let _ = w.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::{GroupId, Target};

    fn batch(target: Target, b: &'static [u8]) -> OutBatch {
        OutBatch { group: GroupId(0), target, bytes: Bytes::from_static(b) }
    }

    fn pending(q: &Queue) -> Vec<u8> {
        q.slices().iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn group_writes_only_what_targets_the_member() {
        let run: Arc<[OutBatch]> = vec![
            batch(Target::All, b"aa"),
            batch(Target::AllExcept(PeerId(1)), b"bbb"),
            batch(Target::Only(PeerId(1)), b"c"),
            batch(Target::Only(PeerId(2)), b"dddd"),
        ]
        .into();
        let mut q = Queue::default();
        q.items.push_back(Write::Group(run.clone(), PeerId(1)));
        assert_eq!(pending(&q), b"aac");
        assert_eq!(group_len(&run, PeerId(1)), 3);
        assert_eq!(group_len(&run, PeerId(2)), 9);
        assert_eq!(group_len(&run, PeerId(3)), 5);
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let run: Arc<[OutBatch]> = vec![batch(Target::All, b"abc"), batch(Target::AllExcept(PeerId(2)), b"de")].into();
        let mut q = Queue::default();
        q.items.push_back(Write::One(Bytes::from_static(b"xy")));
        q.items.push_back(Write::Group(run.clone(), PeerId(1)));
        q.items.push_back(Write::Group(run, PeerId(2)));
        assert_eq!(pending(&q), b"xyabcdeabc");
        assert_eq!(q.advance(1), 0);
        assert_eq!(pending(&q), b"yabcdeabc");
        // The rest of "xy" and 3 of the group's 5 bytes: only the first item is done.
        assert_eq!(q.advance(4), 2);
        assert_eq!(pending(&q), b"deabc");
        assert_eq!(q.advance(5), 8);
        assert!(q.items.is_empty() && q.skip == 0);
    }

    /// A hold keeps everything back until released, or until its deadline.
    #[tokio::test]
    async fn hold_waits_for_release_or_deadline() {
        use tokio::io::AsyncReadExt;
        use tokio::time::{timeout, Duration, Instant};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let (_r, w) = c.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(w, rx, Arc::new(AtomicUsize::new(0))));
        let mut buf = [0u8; 16];
        tx.send(Write::Hold(Instant::now() + Duration::from_secs(3600))).unwrap();
        tx.send(Write::One(Bytes::from_static(b"ka"))).unwrap();
        assert!(timeout(Duration::from_millis(200), s.read(&mut buf)).await.is_err(), "held: nothing written");
        tx.send(Write::One(Bytes::from_static(b"+table"))).unwrap();
        tx.send(Write::Release).unwrap();
        let mut got = Vec::new();
        while got.len() < 8 {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"ka+table");
        // Unreleased, a hold ends at its deadline.
        tx.send(Write::Hold(Instant::now() + Duration::from_millis(50))).unwrap();
        tx.send(Write::One(Bytes::from_static(b"x"))).unwrap();
        let n = timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"x");
        // Closing the channel while held still writes what is queued.
        tx.send(Write::Hold(Instant::now() + Duration::from_secs(3600))).unwrap();
        tx.send(Write::One(Bytes::from_static(b"bye"))).unwrap();
        drop(tx);
        let mut got = Vec::new();
        loop {
            let n = timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bye");
        task.await.unwrap();
    }
}
