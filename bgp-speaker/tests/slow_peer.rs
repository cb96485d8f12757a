//! A peer that stops reading cannot make the speaker buffer without bound, nor hold up
//! the others: once more than `max_queued_bytes` wait for it, it is reset with
//! NOTIFICATION Cease / Out of Resources (RFC 4486 subcode 8), and a healthy peer still
//! gets every route. Real TCP on 127.0.0.x; the stuck peer is a raw client that shrinks
//! its receive buffer, completes the OPEN exchange, then reads nothing until the speaker
//! has given up on it.

use bgp_proto::{AsPath, DecodeCtx, Message, NextHop};
use bgp_speaker::rib::{PathAttrs, Prefix};
use bgp_speaker::session::PeerAs;
use bgp_speaker::{NeighborConfig, Speaker, SpeakerConfig, SpeakerHandle};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const SPEAKER: &str = "127.0.0.61";
const STUCK: &str = "127.0.0.62";
const HEALTHY: &str = "127.0.0.63";
const AS: u32 = 64512;
/// Routes originated: each with its own MED, so each UPDATE carries one prefix and the
/// table is several MiB on the wire, far more than the kernel's socket buffers hold.
const ROUTES: u32 = 100_000;
const LIMIT: usize = 512 << 10;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn neighbor(addr: &str, port: u16, passive: bool) -> NeighborConfig {
    let mut n = NeighborConfig::new(AS, Ipv4Addr::new(10, 0, 0, 61), ip(addr), PeerAs::Exact(AS));
    n.port = port;
    n.transport.source = Some(ip(SPEAKER));
    n.session.passive = passive;
    n.session.connect_retry = Duration::from_millis(300);
    n.session.idle_hold = Duration::from_millis(100);
    n.session.hold_time = 90;
    n
}

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An OPEN from AS 64512, hold 90, BGP ID 10.0.0.62: multiprotocol IPv4 unicast and
/// 4-octet AS (RFC 4271 §4.2, RFC 5492, RFC 4760, RFC 6793).
fn open_bytes() -> Vec<u8> {
    let caps: [u8; 14] = [2, 12, 1, 4, 0, 1, 0, 1, 65, 4, 0, 0, 0xfc, 0x00];
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&[0, 0, 1, 4, 0xfc, 0x00, 0, 90, 10, 0, 0, 62, caps.len() as u8]);
    m.extend_from_slice(&caps);
    let len = m.len() as u16;
    m[16..18].copy_from_slice(&len.to_be_bytes());
    m
}

const KEEPALIVE: [u8; 19] =
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, 4];

/// Reads one whole message and its length; `None` at EOF.
async fn read_msg(s: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<(Message, usize)> {
    let ctx = DecodeCtx { four_octet_as: true, ..Default::default() };
    loop {
        if let Ok(Some(n)) = bgp_proto::frame(buf, 4096) {
            let m = Message::decode(&buf[..n], &ctx).expect("the speaker sends well-formed messages");
            buf.drain(..n);
            return Some((m, n));
        }
        let mut chunk = [0u8; 65536];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

async fn state(h: &SpeakerHandle, addr: &str) -> Option<(String, Option<String>, u64)> {
    let peers = h.peers().await.unwrap();
    peers.into_iter().find(|p| p.address == ip(addr)).map(|p| (p.state, p.last_error, p.flaps))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_reset_with_cease_out_of_resources() {
    // The healthy peer: a second speaker that dials ours.
    let mut cfg = SpeakerConfig::new(AS, Ipv4Addr::new(10, 0, 0, 61));
    cfg.listen = vec![SocketAddr::new(ip(SPEAKER), 0)];
    cfg.max_queued_bytes = LIMIT;
    let speaker = Speaker::start(cfg).await.unwrap();
    let port = speaker.local_addrs()[0].port();
    speaker.add_peer(neighbor(STUCK, 179, true)).await.unwrap();
    speaker.add_peer(neighbor(HEALTHY, 179, true)).await.unwrap();

    let mut hcfg = SpeakerConfig::new(AS, Ipv4Addr::new(10, 0, 0, 63));
    let mut back = NeighborConfig::new(AS, Ipv4Addr::new(10, 0, 0, 63), ip(SPEAKER), PeerAs::Exact(AS));
    back.port = port;
    back.transport.source = Some(ip(HEALTHY));
    back.session.connect_retry = Duration::from_millis(300);
    back.session.idle_hold = Duration::from_millis(100);
    hcfg.neighbors = vec![back];
    let healthy = Speaker::start(hcfg).await.unwrap();

    // The stuck peer: a 4 KiB receive buffer, set before connect so the window stays small.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.bind(SocketAddr::new(ip(STUCK), 0)).unwrap();
    let mut stuck = sock.connect(SocketAddr::new(ip(SPEAKER), port)).await.unwrap();
    stuck.write_all(&open_bytes()).await.unwrap();
    let mut buf = Vec::new();
    assert!(matches!(read_msg(&mut stuck, &mut buf).await, Some((Message::Open(_), _))));
    stuck.write_all(&KEEPALIVE).await.unwrap();
    assert!(matches!(read_msg(&mut stuck, &mut buf).await, Some((Message::Keepalive, _))));
    eventually("both sessions Established", 20, async || {
        let a = state(&speaker, STUCK).await?.0 == "Established";
        let b = state(&speaker, HEALTHY).await?.0 == "Established";
        (a && b).then_some(())
    })
    .await;

    // From here the stuck peer reads nothing. It sends nothing either: the hold time (90 s)
    // outlasts the test, and bytes left unread in the speaker's socket when it closes
    // would turn its FIN into a RST, losing what was in flight.
    let (mut rd, _wr) = stuck.into_split();

    // Originate in the background; the speaker resets the stuck peer part way through.
    let origin = speaker.clone();
    let originating = tokio::spawn(async move {
        for i in 0..ROUTES {
            let p = Prefix::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a64_0000 + i), 32).unwrap());
            let attrs = PathAttrs {
                as_path: AsPath::default(),
                next_hop: Some(NextHop::V4(Ipv4Addr::new(10, 0, 0, 61))),
                med: Some(i),
                ..Default::default()
            };
            origin.originate(p, attrs).await.unwrap();
        }
    });

    // The speaker gives up on the stuck peer with Cease/8 ...
    eventually("the stuck peer reset", 60, async || {
        let (_, err, flaps) = state(&speaker, STUCK).await?;
        (flaps >= 1).then_some(())?;
        assert_eq!(err.as_deref(), Some("sent 6/8"), "the reset is Cease / Out of Resources");
        Some(())
    })
    .await;
    // ... and the stuck peer, reading now, finds UPDATEs, then that NOTIFICATION, then EOF
    // (what the speaker had queued is flushed for two seconds before the socket is cut, so
    // this starts reading within 20 ms of the reset).
    let (mut last, mut bytes) = (None, 0usize);
    while let Some((m, n)) = read_msg(&mut rd, &mut buf).await {
        last = Some(m);
        bytes += n;
    }
    originating.await.unwrap();
    match last {
        Some(Message::Notification(n)) => assert_eq!((n.code, n.subcode), (6, 8), "{n:?}"),
        other => panic!("expected the Cease/8 NOTIFICATION last, after {bytes} bytes; got {other:?}"),
    }
    // Each UPDATE is 56 octets (one /32, ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF).
    let table = ROUTES as usize * 56;
    assert!(bytes < table, "the stuck peer was cut off before the whole table ({table} bytes) went to it ({bytes})");

    // The healthy peer was not held up: it has every route.
    let held = eventually("the healthy peer holds every route", 60, async || {
        let n = healthy.routes(None).await.unwrap().len();
        (n == ROUTES as usize).then_some(n)
    })
    .await;
    assert_eq!(held, ROUTES as usize);
    let _ = speaker.shutdown(None).await;
    let _ = healthy.shutdown(None).await;
}
