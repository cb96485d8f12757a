//! A minimal raw-TCP BGP speaker of our own (no codec): sends hand-built messages,
//! records every byte in both directions, and hands received messages to the caller.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::wire;

/// One BGP session driven by hand. A reader thread appends every received byte to
/// the received buffer (see [`Responder::finish`]) and splits the stream into messages.
#[derive(Debug)]
pub struct Responder {
    stream: TcpStream,
    sent: Vec<u8>,
    received: Arc<Mutex<Vec<u8>>>,
    rx: Receiver<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
    last_keepalive: Instant,
    /// Interval for periodic KEEPALIVEs sent while waiting (default 30 s).
    pub keepalive_every: Duration,
    /// Every message received so far, in order.
    pub messages: Vec<Vec<u8>>,
}

impl Responder {
    /// Takes over a connected stream and starts the reader thread.
    pub fn new(stream: TcpStream) -> io::Result<Responder> {
        stream.set_nodelay(true)?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let mut rs = stream.try_clone()?;
        let rec = Arc::clone(&received);
        let reader = std::thread::spawn(move || {
            let mut pending: Vec<u8> = vec![];
            let mut buf = [0u8; 65536];
            loop {
                let n = match rs.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                rec.lock().expect("lock").extend_from_slice(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
                while pending.len() >= 19 {
                    let len = u16::from_be_bytes([pending[16], pending[17]]) as usize;
                    if len < 19 || pending.len() < len {
                        break;
                    }
                    let msg: Vec<u8> = pending.drain(..len).collect();
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Responder {
            stream,
            sent: vec![],
            received,
            rx,
            reader: Some(reader),
            last_keepalive: Instant::now(),
            keepalive_every: Duration::from_secs(30),
            messages: vec![],
        })
    }

    /// Sends one message and records it.
    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stream.write_all(msg)?;
        self.sent.extend_from_slice(msg);
        if msg.get(18) == Some(&wire::KEEPALIVE) {
            self.last_keepalive = Instant::now();
        }
        Ok(())
    }

    /// Waits up to `timeout` for the next message, sending periodic KEEPALIVEs. `Ok(None)`
    /// on timeout; an error when the connection closed.
    pub fn next(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.last_keepalive.elapsed() >= self.keepalive_every {
                self.send(&wire::keepalive())?;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let ka_due = self.keepalive_every.saturating_sub(self.last_keepalive.elapsed());
            let wait = (deadline - now).min(ka_due).max(Duration::from_millis(1));
            match self.rx.recv_timeout(wait) {
                Ok(m) => {
                    self.messages.push(m.clone());
                    return Ok(Some(m));
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "peer closed the connection"))
                }
            }
        }
    }

    /// Reads messages until `pred` accepts one (returned) or `timeout` passes (error).
    pub fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left)? {
                Some(m) if pred(&m) => return Ok(m),
                Some(m) if m[18] == wire::NOTIFICATION => {
                    return Err(io::Error::other(format!("NOTIFICATION {:?} while waiting for {what}", &m[19..])))
                }
                Some(_) => {}
                None => return Err(io::Error::new(io::ErrorKind::TimedOut, format!("timed out waiting for {what}"))),
            }
        }
    }

    /// Reads messages until none arrives for `quiet`, or `max` passes.
    pub fn drain_quiet(&mut self, quiet: Duration, max: Duration) -> io::Result<()> {
        let end = Instant::now() + max;
        while Instant::now() < end {
            if self.next(quiet)?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Reads until the peer closes or `timeout` passes.
    pub fn read_to_close(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.next(Duration::from_millis(200)).is_err() {
                break;
            }
        }
    }

    /// Closes the socket and returns (bytes received, bytes sent).
    pub fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        let recv = self.received.lock().expect("lock").clone();
        (recv, std::mem::take(&mut self.sent))
    }
}
