//! A raw iBGP peer over the `bgp_proto` codec, run by hand from a test: it connects
//! from inside a namespace, exchanges OPENs (IPv4 unicast, 4-octet AS, route refresh),
//! keeps the session up with KEEPALIVEs, sends the UPDATEs the test gives it, and
//! records every UPDATE it receives, decoded, with the instant it arrived. Nothing is
//! interpreted for it: a test asserts on exact attribute values and on what was (not)
//! withdrawn when.
//!
//! Two threads per peer: a reader (frames with `bgp_proto::frame`, decodes with the
//! negotiated context) and a keepalive timer. Dropping the peer closes the socket and
//! joins both.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgp_proto::{AfiSafi, Attribute, Capability, DecodeCtx, EncodeCtx, Message, Open, Update};
use bytes::BytesMut;
use ipnet::Ipv4Net;

use crate::netns::Netns;

/// An UPDATE as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the reader decoded it.
    pub at: Instant,
    /// The decoded UPDATE.
    pub update: Update,
}

#[derive(Debug, Default)]
struct State {
    updates: Vec<Received>,
    closed: Option<String>,
}

/// A running raw session. See the module documentation.
#[derive(Debug)]
pub struct RawPeer {
    stream: TcpStream,
    enc: EncodeCtx,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The OPEN the remote side sent.
    pub remote_open: Open,
}

const KEEPALIVE: [u8; 19] =
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, 4];

fn read_frame(s: &mut TcpStream, buf: &mut BytesMut) -> io::Result<BytesMut> {
    loop {
        match bgp_proto::frame(buf, bgp_proto::MAX_EXTENDED_MESSAGE_LEN) {
            Ok(Some(n)) => return Ok(buf.split_to(n)),
            Ok(None) => {}
            Err(e) => return Err(io::Error::other(format!("framing: {e:?}"))),
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

impl RawPeer {
    /// Connects from `ns` to `remote` (retrying refused connections until `timeout`),
    /// sends an OPEN for AS `asn` with identifier `router_id` and hold time `hold`, and
    /// returns once the remote side's OPEN and first KEEPALIVE have arrived.
    pub fn connect(
        ns: &Netns,
        remote: SocketAddr,
        asn: u32,
        router_id: Ipv4Addr,
        hold: u16,
        timeout: Duration,
    ) -> io::Result<RawPeer> {
        let deadline = Instant::now() + timeout;
        let mut stream = loop {
            match ns.tcp_connect(remote, Duration::from_secs(2)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("connect {remote}: {e}"))),
            }
        };
        stream.set_nodelay(true)?;
        let caps = vec![
            Capability::Multiprotocol { family: AfiSafi::IPV4_UNICAST, reserved: 0 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(asn),
        ];
        let open = Open::new(asn, hold, router_id, caps);
        let bytes = Message::Open(open.clone())
            .to_bytes(&EncodeCtx::default())
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        stream.write_all(&bytes)?;
        stream
            .set_read_timeout(Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1))))?;
        let mut buf = BytesMut::new();
        let mut negotiated: Option<(Open, DecodeCtx, EncodeCtx)> = None;
        loop {
            let msg = read_frame(&mut stream, &mut buf)?;
            match Message::decode(&msg, &DecodeCtx::default()) {
                Ok(Message::Open(o)) => {
                    let (dec, enc) = bgp_proto::negotiate(&open, &o, o.asn() != asn);
                    negotiated = Some((o, dec, enc));
                    stream.write_all(&KEEPALIVE)?;
                }
                Ok(Message::Keepalive) if negotiated.is_some() => break,
                Ok(Message::Notification(n)) => {
                    return Err(io::Error::other(format!("NOTIFICATION {}/{} in the handshake", n.code, n.subcode)))
                }
                other => return Err(io::Error::other(format!("unexpected in the handshake: {other:?}"))),
            }
        }
        let (remote_open, dec, enc) = negotiated.expect("set before the KEEPALIVE");
        stream.set_read_timeout(None)?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();

        // Reader: decode and record until the session ends.
        let (mut r, st, stp) = (stream.try_clone()?, state.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let why = loop {
                let msg = match read_frame(&mut r, &mut buf) {
                    Ok(m) => m,
                    Err(e) => break e.to_string(),
                };
                match Message::decode(&msg, &dec) {
                    Ok(Message::Update(u)) => {
                        st.lock().unwrap().updates.push(Received { at: Instant::now(), update: u })
                    }
                    Ok(Message::Notification(n)) => break format!("NOTIFICATION {}/{}", n.code, n.subcode),
                    Ok(_) => {}
                    Err(e) => break format!("decode error: {e:?}"),
                }
            };
            if !stp.load(Ordering::Relaxed) {
                st.lock().unwrap().closed = Some(why);
            }
        }));

        // Keepalives every hold/3 (RFC 4271 §4.4), at least every second.
        let hold = hold.min(remote_open.hold_time);
        let every = if hold == 0 { Duration::from_secs(3600) } else { Duration::from_secs((hold / 3).max(1) as u64) };
        let (mut w, stp) = (stream.try_clone()?, stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut next = Instant::now() + every;
            while !stp.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    if w.write_all(&KEEPALIVE).is_err() {
                        return;
                    }
                    next = Instant::now() + every;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
        Ok(RawPeer { stream, enc, state, stop, threads, remote_open })
    }

    /// Encodes `u` with the negotiated context and sends it.
    pub fn send_update(&self, u: &Update) -> io::Result<()> {
        let bytes = Message::Update(u.clone()).to_bytes(&self.enc).map_err(|e| io::Error::other(format!("{e:?}")))?;
        (&self.stream).write_all(&bytes)
    }

    /// Sends an IPv4 announcement of `prefixes` with `attrs`.
    pub fn announce_v4(&self, attrs: Vec<Attribute>, prefixes: &[Ipv4Net]) -> io::Result<()> {
        let nlri = prefixes.iter().map(|p| bgp_proto::Nlri::new(*p)).collect();
        self.send_update(&Update { withdrawn: Default::default(), attributes: attrs.into(), nlri })
    }

    /// Every UPDATE received so far, in order.
    pub fn updates(&self) -> Vec<Received> {
        self.state.lock().unwrap().updates.clone()
    }

    /// Why the session ended (NOTIFICATION, EOF, error), or `None` while it is up.
    pub fn closed(&self) -> Option<String> {
        self.state.lock().unwrap().closed.clone()
    }

    /// The IPv4 routes held now: every announced prefix not withdrawn since, with the
    /// attributes of its last announcement.
    pub fn rib_v4(&self) -> BTreeMap<Ipv4Net, Vec<Attribute>> {
        let mut rib = BTreeMap::new();
        for r in &self.state.lock().unwrap().updates {
            for p in r.update.withdrawn_v4() {
                rib.remove(&p.prefix);
            }
            for p in r.update.announced_v4() {
                rib.insert(p.prefix, r.update.attributes.to_vec());
            }
        }
        rib
    }

    /// IPv4 prefixes withdrawn by UPDATEs that arrived at or after `since`.
    pub fn withdrawn_since(&self, since: Instant) -> Vec<Ipv4Net> {
        let st = self.state.lock().unwrap();
        st.updates.iter().filter(|r| r.at >= since).flat_map(|r| r.update.withdrawn_v4().map(|p| p.prefix)).collect()
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
