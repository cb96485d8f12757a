//! Records what real BGP daemons send, as raw byte streams for the codec's tests.
//!
//! `cargo run -p tests --bin record-peers -- --out bgp-proto/tests/data/peers`
//!
//! For each scenario: two namespaces joined by a veth (198.18.N.1 ours, 198.18.N.2 the
//! daemon's; fd00:198:18:N::/64), the daemon passive with a fixed route set, and our own
//! raw responder dialling it. Writes `<daemon>-<scenario>.bgp` (daemon -> us),
//! `<daemon>-<scenario>.sent.bgp` (us -> daemon), pair captures from `tcpdump -w`
//! between two real daemons, `index.json` and `README.md`.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use ipnet::IpNet;
use serde_json::json;

use tests::netns::{self, Netns};
use tests::peers::{AddPath, BgpDaemon, Bird, ExaBgp, Frr, GoBgp, Neighbor, PeerSpec, Route};
use tests::proc::Proc;
use tests::responder::Responder;
use tests::wire::{self, PeerOpen};

#[derive(Parser, Debug)]
#[command(about = "Record raw BGP streams from BIRD, FRR, GoBGP and ExaBGP")]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "bgp-proto/tests/data/peers")]
    out: PathBuf,
    /// Only run scenarios whose file stem contains one of these strings.
    #[arg(long)]
    only: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bird,
    Frr,
    GoBgp,
    ExaBgp,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bird => "bird",
            Kind::Frr => "frr",
            Kind::GoBgp => "gobgp",
            Kind::ExaBgp => "exabgp",
        }
    }

    fn start(self, ns: &Netns, spec: PeerSpec) -> io::Result<Box<dyn BgpDaemon>> {
        Ok(match self {
            Kind::Bird => Box::new(Bird::start(ns, spec)?),
            Kind::Frr => Box::new(Frr::start(ns, spec)?),
            Kind::GoBgp => Box::new(GoBgp::start(ns, spec)?),
            Kind::ExaBgp => Box::new(ExaBgp::start(ns, spec)?),
        })
    }
}

/// The Calico-style AS used by every daemon.
const NODE_AS: u32 = 64512;
/// The AS of the other side in eBGP scenarios.
const EBGP_AS: u32 = 65001;

#[derive(Debug, Clone)]
struct Scenario {
    kind: Kind,
    /// e.g. `ibgp-addpath`.
    name: String,
    our_as: u32,
    add_path: bool,
    /// The daemon dials and our responder accepts (else the daemon is passive).
    daemon_dials: bool,
}

impl Scenario {
    fn stem(&self) -> String {
        format!("{}-{}", self.kind.name(), self.name)
    }
    fn ibgp(&self) -> bool {
        self.our_as == NODE_AS
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut v = vec![];
    let mut add = |kind, name: &str, our_as, add_path| {
        v.push(Scenario { kind, name: name.into(), our_as, add_path, daemon_dials: name.ends_with("-active") })
    };
    for k in [Kind::Bird, Kind::Frr] {
        add(k, "ibgp", NODE_AS, false);
        add(k, "ibgp-addpath", NODE_AS, true);
        add(k, "ebgp", EBGP_AS, false);
        add(k, "ebgp-addpath", EBGP_AS, true);
    }
    add(Kind::Frr, "ebgp-as4", 4_200_000_001, false);
    for k in [Kind::GoBgp, Kind::ExaBgp] {
        add(k, "ibgp-addpath", NODE_AS, true);
        add(k, "ebgp", EBGP_AS, false);
    }
    // The daemon opens the connection: its OPEN comes first, ours answers it.
    add(Kind::Bird, "ibgp-addpath-active", NODE_AS, true);
    add(Kind::Frr, "ebgp-active", EBGP_AS, false);
    v
}

/// The routes every daemon originates. The last IPv4 and IPv6 ones get withdrawn.
fn routes(ibgp: bool) -> Vec<Route> {
    let lp = |r: Route, v| if ibgp { r.local_pref(v) } else { r };
    vec![
        lp(Route::new("10.244.0.0/26").community(64512, 100).large(64512, 1, 1).med(10), 200),
        Route::new("10.244.0.64/26").community(64512, 100).community(64512, 200).med(20),
        Route::new("10.244.0.128/26"),
        Route::new("10.244.7.3/32").large(64512, 3, 4),
        lp(Route::new("fd00:10:244::/122").community(64512, 100).large(64512, 1, 1).med(10), 200),
        Route::new("fd00:10:244::40/122").large(64512, 2, 2),
        Route::new("fd00:10:244:1::/64"),
        Route::new("10.244.9.0/24").community(64512, 999),
        Route::new("fd00:10:244:9::/64").community(64512, 999),
    ]
}

const WITHDRAWN: [&str; 2] = ["10.244.9.0/24", "fd00:10:244:9::/64"];

/// Addresses of link number `n`: (ours v4, ours v6, peer v4, peer v6).
fn link_addrs(n: u8) -> (Ipv4Addr, Ipv6Addr, Ipv4Addr, Ipv6Addr) {
    (
        Ipv4Addr::new(198, 18, n, 1),
        Ipv6Addr::new(0xfd00, 0x198, 0x18, n.into(), 0, 0, 0, 1),
        Ipv4Addr::new(198, 18, n, 2),
        Ipv6Addr::new(0xfd00, 0x198, 0x18, n.into(), 0, 0, 0, 2),
    )
}

fn net(a: IpAddr, len: u8) -> IpNet {
    IpNet::new(a, len).expect("prefix length")
}

/// Two namespaces joined by a veth: (a, b, a's v4, a's v6, b's v4, b's v6).
fn pair(n: u8) -> io::Result<(Netns, Netns, Ipv4Addr, Ipv6Addr, Ipv4Addr, Ipv6Addr)> {
    let (a4, a6, b4, b6) = link_addrs(n);
    let a = Netns::new("rec")?;
    let b = Netns::new("peer")?;
    // Fixed MACs: IPv6 link-local next hops (BIRD sends them) are then the same every run.
    let (ma, mb) = (format!("02:00:c6:12:{n:02x}:01"), format!("02:00:c6:12:{n:02x}:02"));
    netns::veth_with_macs(
        &a,
        "a0",
        Some(&ma),
        &[net(a4.into(), 24), net(a6.into(), 64)],
        &b,
        "b0",
        Some(&mb),
        &[net(b4.into(), 24), net(b6.into(), 64)],
    )?;
    Ok((a, b, a4, a6, b4, b6))
}

/// What is needed to decode one recorded file.
fn note_for(
    file: &str,
    sender_open: &PeerOpen,
    receiver_open: &PeerOpen,
    extra: serde_json::Value,
    stream: &[u8],
) -> serde_json::Value {
    let fams = |o: &PeerOpen| o.families();
    let add_path_used: Vec<String> = fams(sender_open)
        .into_iter()
        .filter(|&(afi, safi)| {
            let sends = sender_open.add_path().iter().any(|&(a, s, f)| a == afi && s == safi && f & 2 != 0);
            let recvs = receiver_open.add_path().iter().any(|&(a, s, f)| a == afi && s == safi && f & 1 != 0);
            sends && recvs
        })
        .map(|(a, s)| format!("{a}/{s}"))
        .collect();
    let both = |c: u8| sender_open.has(c) && receiver_open.has(c);
    let max_len = if both(6) { 65535 } else { 4096 };
    let labels = wire::labels(stream, max_len).unwrap_or_else(|e| vec![format!("ERROR {e}")]);
    let mut v = json!({
        "file": file,
        "sender_as": sender_open.as4().unwrap_or(sender_open.my_as.into()),
        "receiver_as": receiver_open.as4().unwrap_or(receiver_open.my_as.into()),
        "four_octet_as": both(65),
        "add_path_in_stream": add_path_used,
        "extended_message": both(6),
        "enhanced_route_refresh": both(70),
        "graceful_restart": both(64),
        "families": fams(sender_open).iter().filter(|f| fams(receiver_open).contains(f))
            .map(|(a, s)| format!("{a}/{s}")).collect::<Vec<_>>(),
        "bytes": stream.len(),
        "messages": compress(&labels),
    });
    if let (Some(m), serde_json::Value::Object(x)) = (v.as_object_mut(), extra) {
        m.extend(x);
    }
    v
}

/// `["A","B","B","B"]` -> `"A B x3"`.
fn compress(labels: &[String]) -> String {
    let mut out: Vec<String> = vec![];
    let mut i = 0;
    while i < labels.len() {
        let mut j = i;
        while j < labels.len() && labels[j] == labels[i] {
            j += 1;
        }
        out.push(if j - i > 1 { format!("{}x{}", labels[i], j - i) } else { labels[i].clone() });
        i = j;
    }
    out.join(" ")
}

fn first_open(stream: &[u8]) -> PeerOpen {
    wire::frames(stream, 65535)
        .ok()
        .and_then(|f| f.into_iter().find(|f| f.kind == wire::OPEN))
        .and_then(|f| wire::parse_open(f.bytes))
        .unwrap_or_default()
}

fn record_one(sc: &Scenario, n: u8, out: &Path) -> io::Result<Vec<serde_json::Value>> {
    let (ours, peer, a4, _a6, b4, b6) = pair(n)?;
    let ap = if sc.add_path { AddPath::Both } else { AddPath::Off };
    let spec = PeerSpec::new(sc.kind.name(), NODE_AS, b4)
        .v6(b6)
        .neighbor(Neighbor::new(a4.into(), sc.our_as).passive(!sc.daemon_dials).add_path(ap))
        .routes(routes(sc.ibgp()));
    let listener = if sc.daemon_dials { Some(ours.tcp_listen(SocketAddr::new(a4.into(), 179))?) } else { None };
    let mut daemon = sc.kind.start(&peer, spec)?;
    let version = daemon.version()?;
    let stream = match &listener {
        Some(l) => {
            l.set_nonblocking(true)?;
            let (s, _) = tests::poll("daemon to connect", Duration::from_secs(30), Duration::from_millis(100), || {
                match l.accept() {
                    Ok(x) => Ok(Some(x)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) => Err(e),
                }
            })?;
            s.set_nonblocking(false)?;
            s
        }
        None => {
            let target = SocketAddr::new(b4.into(), 179);
            tests::poll("daemon to accept a connection", Duration::from_secs(20), Duration::from_millis(250), || {
                Ok(ours.tcp_connect(target, Duration::from_secs(1)).ok())
            })?
        }
    };
    drop(listener);
    let mut r = Responder::new(stream)?;
    let params = wire::OpenParams {
        asn: sc.our_as,
        hold: 90,
        router_id: a4,
        add_path: sc.add_path,
        extended_message: true,
        // ExaBGP 4.2.21 crashes handling a ROUTE-REFRESH once enhanced route refresh is
        // negotiated ("'RouteRefresh' object is not iterable"), so don't offer it there.
        enhanced_route_refresh: sc.kind != Kind::ExaBgp,
    };
    let our_open_msg = wire::open(&params);
    if !sc.daemon_dials {
        r.send(&our_open_msg)?;
    }
    let their_open_msg = r.expect("OPEN", Duration::from_secs(15), |m| m[18] == wire::OPEN)?;
    if sc.daemon_dials {
        r.send(&our_open_msg)?;
    }
    let their = wire::parse_open(&their_open_msg).ok_or_else(|| io::Error::other("bad OPEN"))?;
    let ours_parsed = wire::parse_open(&our_open_msg).expect("our OPEN parses");
    r.send(&wire::keepalive())?;
    r.expect("KEEPALIVE", Duration::from_secs(10), |m| m[18] == wire::KEEPALIVE)?;
    let mut problems: Vec<String> = vec![];

    // Initial table: wait for End-of-RIB of every family both sides have.
    let mut want: Vec<(u16, u8)> = their.families().into_iter().filter(|f| *f == (1, 1) || *f == (2, 1)).collect();
    let eor = r.expect("End-of-RIB", Duration::from_secs(40), |m| {
        if let Some(e) = wire::update_info(m).and_then(|u| u.end_of_rib()) {
            want.retain(|f| *f != e);
        }
        want.is_empty()
    });
    if let Err(e) = eor {
        problems.push(format!("initial table: {e} (missing {want:?})"));
    }
    r.drain_quiet(Duration::from_secs(1), Duration::from_secs(5))?;

    // ROUTE-REFRESH for IPv4 unicast: the peer resends its table.
    r.send(&wire::route_refresh(1, 1, 0))?;
    if params.enhanced_route_refresh && their.has(70) {
        let res = r.expect("EoRR", Duration::from_secs(15), |m| m[18] == wire::ROUTE_REFRESH && m.get(21) == Some(&2));
        if let Err(e) = res {
            problems.push(format!("route refresh: {e}"));
        }
    }
    r.drain_quiet(Duration::from_secs(2), Duration::from_secs(15))?;

    // Withdraw one IPv4 and one IPv6 route.
    for p in WITHDRAWN {
        daemon.withdraw(p.parse().expect("prefix"))?;
    }
    let (mut w4, mut w6) = (false, false);
    let res = r.expect("withdrawals", Duration::from_secs(20), |m| {
        if let Some(u) = wire::update_info(m) {
            w4 |= u.withdrawn_len > 0;
            w6 |= matches!(u.mp_unreach, Some((2, 1, n)) if n > 0);
        }
        w4 && w6
    });
    if let Err(e) = res {
        problems.push(format!("withdrawal: {e} (v4 seen {w4}, v6 seen {w6})"));
    }
    r.drain_quiet(Duration::from_secs(2), Duration::from_secs(5))?;
    r.send(&wire::notification(6, 2, &[]))?;
    r.read_to_close(Duration::from_secs(3));
    let (recv, sent) = r.finish();
    drop(daemon);
    drop(peer);
    drop(ours);

    let stem = sc.stem();
    std::fs::write(out.join(format!("{stem}.bgp")), &recv)?;
    std::fs::write(out.join(format!("{stem}.sent.bgp")), &sent)?;
    let extra = |dir: &str, who: &str| {
        json!({
            "daemon": sc.kind.name(), "version": version, "scenario": sc.name,
            "direction": dir, "sender": who, "problems": problems,
            "session": if sc.ibgp() { "iBGP" } else { "eBGP" },
        })
    };
    Ok(vec![
        note_for(&format!("{stem}.bgp"), &their, &ours_parsed, extra("daemon -> responder", sc.kind.name()), &recv),
        note_for(&format!("{stem}.sent.bgp"), &ours_parsed, &their, extra("responder -> daemon", "responder"), &sent),
    ])
}

/// Two real daemons talking, captured with tcpdump inside a's namespace.
#[derive(Debug, Clone)]
struct PairScenario {
    a: Kind,
    b: Kind,
    a_as: u32,
    b_as: u32,
    add_path: bool,
    name: &'static str,
}

impl PairScenario {
    fn stem(&self) -> String {
        format!("pair-{}-{}-{}", self.a.name(), self.b.name(), self.name)
    }
}

fn pair_scenarios() -> Vec<PairScenario> {
    vec![
        PairScenario {
            a: Kind::Bird,
            b: Kind::Frr,
            a_as: NODE_AS,
            b_as: NODE_AS,
            add_path: true,
            name: "ibgp-addpath",
        },
        PairScenario { a: Kind::GoBgp, b: Kind::ExaBgp, a_as: NODE_AS, b_as: EBGP_AS, add_path: false, name: "ebgp" },
        PairScenario { a: Kind::GoBgp, b: Kind::Bird, a_as: EBGP_AS, b_as: NODE_AS, add_path: false, name: "ebgp" },
    ]
}

fn pair_routes(ibgp: bool, third_octet: u8) -> Vec<Route> {
    // Same shape as `routes`, moved into 10.244.<third_octet>... / fd00:10:244:<n>...
    routes(ibgp)
        .into_iter()
        .map(|mut r| {
            r.prefix = match r.prefix {
                IpNet::V4(p) => {
                    let o = p.addr().octets();
                    let a = Ipv4Addr::new(o[0], o[1], o[2] + third_octet, o[3]);
                    net(a.into(), p.prefix_len())
                }
                IpNet::V6(p) => {
                    let mut s = p.addr().segments();
                    s[3] += u16::from(third_octet) << 8;
                    net(Ipv6Addr::from(s).into(), p.prefix_len())
                }
            };
            r
        })
        .collect()
}

fn record_pair(sc: &PairScenario, n: u8, out: &Path) -> io::Result<Vec<serde_json::Value>> {
    let (a_ns, b_ns, a4, a6, b4, b6) = pair(n)?;
    let dir = tests::WorkDir::new("pcap")?;
    let pcap = dir.path().join("cap.pcap");
    let mut dump = Proc::spawn_in(
        &a_ns,
        "tcpdump",
        &["-i", "a0", "-n", "-s", "0", "-U", "-w", pcap.to_str().unwrap_or_default(), "tcp port 179"],
        &dir.path().join("tcpdump.log"),
    )?;
    tests::poll("tcpdump to listen", Duration::from_secs(10), Duration::from_millis(100), || {
        dump.check_alive()?;
        Ok(dump.log().contains("listening on").then_some(()))
    })?;
    let ap = if sc.add_path { AddPath::Both } else { AddPath::Off };
    let ibgp = sc.a_as == sc.b_as;
    let a_spec = PeerSpec::new(sc.a.name(), sc.a_as, a4)
        .v6(a6)
        .neighbor(Neighbor::new(b4.into(), sc.b_as).add_path(ap))
        .routes(pair_routes(ibgp, 0));
    let b_spec = PeerSpec::new(sc.b.name(), sc.b_as, b4)
        .v6(b6)
        .neighbor(Neighbor::new(a4.into(), sc.a_as).add_path(ap).passive(true))
        .routes(pair_routes(ibgp, 20));
    let mut b = sc.b.start(&b_ns, b_spec)?;
    let mut a = sc.a.start(&a_ns, a_spec)?;
    let version_a = a.version()?;
    let version_b = b.version()?;
    a.wait_established(b4.into(), Duration::from_secs(40))?;
    b.wait_established(a4.into(), Duration::from_secs(20))?;
    let from_b: Vec<IpNet> = pair_routes(ibgp, 20).iter().map(|r| r.prefix).collect();
    let from_a: Vec<IpNet> = pair_routes(ibgp, 0).iter().map(|r| r.prefix).collect();
    a.wait_prefixes(&from_b, Duration::from_secs(30))?;
    b.wait_prefixes(&from_a, Duration::from_secs(30))?;
    let gone = |d: &mut Box<dyn BgpDaemon>, p: &[IpNet]| -> io::Result<()> {
        tests::poll("withdrawals to arrive", Duration::from_secs(20), Duration::from_millis(250), || {
            let have = d.received_prefixes()?;
            Ok(p.iter().all(|x| !have.contains(x)).then_some(()))
        })
    };
    let wa: Vec<IpNet> = from_a[from_a.len() - 2..].to_vec();
    let wb: Vec<IpNet> = from_b[from_b.len() - 2..].to_vec();
    for p in &wa {
        a.withdraw(*p)?;
    }
    for p in &wb {
        b.withdraw(*p)?;
    }
    gone(&mut b, &wa)?;
    gone(&mut a, &wb)?;
    std::thread::sleep(Duration::from_secs(1));
    // a stops first (SIGTERM: it closes the session with a NOTIFICATION), then b.
    drop(a);
    std::thread::sleep(Duration::from_secs(1));
    drop(b);
    std::thread::sleep(Duration::from_millis(500));
    dump.stop();
    let bytes = std::fs::read(&pcap)?;
    let streams = tests::pcap::tcp_streams(&bytes)?;
    // Pick the connection carrying the most bytes (a collision may leave a second one).
    let mut conns: BTreeMap<(SocketAddr, SocketAddr), usize> = BTreeMap::new();
    for ((s, d), v) in &streams {
        let key = if s < d { (*s, *d) } else { (*d, *s) };
        *conns.entry(key).or_default() += v.len();
    }
    let (&(x, y), _) =
        conns.iter().max_by_key(|(_, n)| **n).ok_or_else(|| io::Error::other("no TCP payload captured"))?;
    let (a_addr, b_addr) = if x.ip() == IpAddr::V4(a4) { (x, y) } else { (y, x) };
    let a_to_b = streams.get(&(a_addr, b_addr)).cloned().unwrap_or_default();
    let b_to_a = streams.get(&(b_addr, a_addr)).cloned().unwrap_or_default();
    let stem = sc.stem();
    let (an, bn) = (sc.a.name(), sc.b.name());
    let fa = format!("{stem}.{an}.bgp");
    let fb = format!("{stem}.{bn}.bgp");
    std::fs::write(out.join(&fa), &a_to_b)?;
    std::fs::write(out.join(&fb), &b_to_a)?;
    std::fs::write(out.join(format!("{stem}.pcap")), &bytes)?;
    let (oa, ob) = (first_open(&a_to_b), first_open(&b_to_a));
    let session = if ibgp { "iBGP" } else { "eBGP" };
    let extra = |sender: &str, version: &str, dir: String| {
        json!({"daemon": sender, "version": version, "scenario": format!("pair-{}", sc.name),
               "direction": dir, "sender": sender, "session": session, "problems": [],
               "pcap": format!("{stem}.pcap")})
    };
    Ok(vec![
        note_for(&fa, &oa, &ob, extra(an, &version_a, format!("{an} -> {bn}")), &a_to_b),
        note_for(&fb, &ob, &oa, extra(bn, &version_b, format!("{bn} -> {an}")), &b_to_a),
    ])
}

fn write_readme(out: &Path, notes: &[serde_json::Value]) -> io::Result<()> {
    let mut s = String::from(
        "# Recorded BGP streams from real peers\n\n\
Generated by `cargo run -p tests --bin record-peers -- --out bgp-proto/tests/data/peers`\n\
(as root; see tests/README.md). Do not edit by hand: re-run the recorder.\n\n\
Each `.bgp` file is one direction of one TCP session: the exact bytes, i.e. whole BGP\n\
messages concatenated (16-byte marker, length, type, body), nothing else.\n\n\
- `<daemon>-<scenario>.bgp`: what the daemon sent to our raw responder\n\
  (`tests/src/responder.rs`, hand-built OPEN: MP 1/1 + 2/1, route refresh, enhanced\n\
  route refresh, 4-octet AS, graceful restart 120 s, extended message, and ADD-PATH\n\
  send/receive for 1/1 + 2/1 in `*-addpath` scenarios only).\n\
- `<daemon>-<scenario>.sent.bgp`: what the responder sent: OPEN, KEEPALIVE,\n\
  ROUTE-REFRESH 1/1, NOTIFICATION Cease/Administrative Shutdown (6/2).\n\
- `pair-<a>-<b>-<scenario>.<x>.bgp`: what daemon `x` sent to the other, extracted from\n\
  `pair-<a>-<b>-<scenario>.pcap` (`tcpdump -w` on the veth) by `tests/src/pcap.rs`.\n\n\
Session script (responder scenarios): the daemon is passive, holds the routes below,\n\
the responder dials it (`*-active`: the daemon dials, the responder accepts and answers\n\
its OPEN with ours), waits for End-of-RIB of IPv4 and IPv6 unicast, sends a\n\
ROUTE-REFRESH for IPv4 unicast (the daemon resends, with BoRR/EoRR when enhanced\n\
route refresh is negotiated), then the daemon withdraws `10.244.9.0/24` and\n\
`fd00:10:244:9::/64` (BIRD: config rewrite + `birdc configure`; FRR: `no network`\n\
via vtysh; GoBGP: `gobgp global rib del`; ExaBGP: `withdraw route` via its API\n\
process), then the responder closes with a NOTIFICATION.\n\n\
Routes (daemon AS 64512; LOCAL_PREF 200 only on iBGP):\n\n\
| prefix | communities | large communities | MED |\n|---|---|---|---|\n\
| 10.244.0.0/26, fd00:10:244::/122 | 64512:100 | 64512:1:1 | 10 |\n\
| 10.244.0.64/26 | 64512:100 64512:200 | | 20 |\n\
| 10.244.0.128/26, fd00:10:244:1::/64 | | | |\n\
| 10.244.7.3/32 | | 64512:3:4 | |\n\
| fd00:10:244::40/122 | | 64512:2:2 | |\n\
| 10.244.9.0/24, fd00:10:244:9::/64 (withdrawn later) | 64512:999 | | |\n\n\
Pair captures use the same shapes, shifted to 10.244.20.x / fd00:10:244:1400:: for\n\
daemon b. Next hops: IPv4 198.18.N.2 (or .1), IPv6 fd00:198:18:N::2 (BIRD may add a\n\
link-local as second next hop: it does in\n\
`pair-gobgp-bird-ebgp.bird.bgp`, a 32-byte MP_REACH next hop; MACs are fixed per link, so\n\
the link-local is the same every run). Byte-identical across runs except GoBGP, which\n\
sends the same messages in a varying order.\n\n\
Decoding notes per file (also in `index.json`, machine-readable): `add_path_in_stream`\n\
lists the families whose NLRI in *this* direction carry 4-byte path IDs (sender offered\n\
send, receiver offered receive). `four_octet_as`: both sides sent capability 65, so\n\
AS_PATH uses 4-byte ASNs. `extended_message`: both sent capability 6, so messages may\n\
exceed 4096 bytes. Message sequences: `EOR(a/s)` End-of-RIB, `WITHDRAW` an UPDATE that\n\
only withdraws, `ROUTE-REFRESH(afi/safi/subtype)` (1 = BoRR, 2 = EoRR).\n\n",
    );
    for n in notes {
        let g = |k: &str| n[k].to_string().trim_matches('"').to_string();
        s.push_str(&format!("## {}\n\n", g("file")));
        s.push_str(&format!(
            "- {} ({}), {}, {}; sender AS {} -> receiver AS {}\n",
            g("daemon"),
            g("version"),
            g("session"),
            g("direction"),
            g("sender_as"),
            g("receiver_as")
        ));
        s.push_str(&format!(
            "- 4-octet AS: {}; ADD-PATH in this stream: {}; extended message: {}; enhanced route refresh: {}; families: {}\n",
            g("four_octet_as"),
            n["add_path_in_stream"],
            g("extended_message"),
            g("enhanced_route_refresh"),
            n["families"]
        ));
        s.push_str(&format!("- {} bytes: {}\n", g("bytes"), g("messages")));
        if n["problems"].as_array().is_some_and(|p| !p.is_empty()) {
            s.push_str(&format!("- problems: {}\n", n["problems"]));
        }
        s.push('\n');
    }
    std::fs::write(out.join("README.md"), s)
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let picked = |stem: &str| args.only.is_empty() || args.only.iter().any(|o| stem.contains(o));
    if args.list {
        for s in scenarios() {
            println!("{}", s.stem());
        }
        for p in pair_scenarios() {
            println!("{}", p.stem());
        }
        return Ok(());
    }
    let removed = netns::cleanup_stale()?;
    if removed > 0 {
        eprintln!("removed {removed} stale namespaces");
    }
    std::fs::create_dir_all(&args.out)?;
    // Keep notes of files not re-recorded this run.
    let index_path = args.out.join("index.json");
    let mut index: BTreeMap<String, serde_json::Value> = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<serde_json::Value>>(&b).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| Some((v["file"].as_str()?.to_string(), v)))
        .collect();
    let mut failed = vec![];
    // Link numbers (198.18.N.x) follow the full scenario list, so a filtered run records
    // the same bytes as a full one.
    let singles = scenarios();
    let n_singles = singles.len();
    for (i, sc) in singles.into_iter().enumerate().filter(|(_, s)| picked(&s.stem())) {
        let n = i as u8 + 1;
        eprintln!("== {}", sc.stem());
        match record_one(&sc, n, &args.out) {
            Ok(notes) => {
                for v in notes {
                    eprintln!("   {}: {}", v["file"], v["messages"]);
                    index.insert(v["file"].as_str().unwrap_or_default().into(), v);
                }
            }
            Err(e) => {
                eprintln!("   FAILED: {e}");
                failed.push(sc.stem());
            }
        }
    }
    for (i, sc) in pair_scenarios().into_iter().enumerate().filter(|(_, s)| picked(&s.stem())) {
        let n = (n_singles + i) as u8 + 1;
        eprintln!("== {}", sc.stem());
        match record_pair(&sc, n, &args.out) {
            Ok(notes) => {
                for v in notes {
                    eprintln!("   {}: {}", v["file"], v["messages"]);
                    index.insert(v["file"].as_str().unwrap_or_default().into(), v);
                }
            }
            Err(e) => {
                eprintln!("   FAILED: {e}");
                failed.push(sc.stem());
            }
        }
    }
    let notes: Vec<serde_json::Value> = index.into_values().collect();
    std::fs::write(&index_path, serde_json::to_string_pretty(&notes)? + "\n")?;
    write_readme(&args.out, &notes)?;
    if !failed.is_empty() {
        return Err(io::Error::other(format!("failed: {failed:?}")));
    }
    Ok(())
}
