//! A redundant reflector pair with real clients (issue #5): two `route-reflector`
//! processes with one cluster ID, peering with each other as non-clients, and seven
//! clients that all peer with both: two of our speakers (`NsSpeaker`), two BIRD 2, two
//! FRR bgpd and one raw client on the `bgp_proto` codec (`RawPeer`) that records what
//! each reflector sends it. Every node is in its own namespace on one bridge
//! (198.18.0.0/16). Asserted: every client ends up with every other client's prefix,
//! the reflected attributes byte-for-value (ORIGINATOR_ID = the originator's router ID,
//! CLUSTER_LIST = [cluster ID], next hop unchanged), cluster-loop discard (RFC 4456 §8),
//! and that killing one reflector (SIGKILL) withdraws nothing anywhere, and its restart
//! brings every session back with every route.
//!
//! Needs root, `bird`/`birdc` and FRR's bgpd; prints a SKIP line and passes otherwise.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bgp_proto::{AsPath, AttrValue, Attribute, Origin};
use bgp_speaker::rib::PathAttrs;
use ipnet::{IpNet, Ipv4Net};
use tests::netns::{Attachment, Fabric, Netns};
use tests::peers::{BgpDaemon, Bird, Frr, Neighbor, PeerSpec, Route};
use tests::proc::Proc;
use tests::rawpeer::RawPeer;
use tests::speaker::{have, lab_ok, neighbor, pfx, wait_for, NsSpeaker};
use tests::WorkDir;

const BIN: &str = env!("CARGO_BIN_EXE_route-reflector");
const ASN: u32 = 64512;
const CLUSTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const RR: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)];
/// Generous: FRR holds its first UPDATEs back for a while, and the machine is loaded.
const T: Duration = Duration::from_secs(40);

/// Client `i` (1..=7): address 198.18.1.i, router ID 198.19.0.i (distinct from the next
/// hop, so ORIGINATOR_ID is seen to be the router ID), prefix 10.244.i.0/26.
fn addr(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 1, i)
}
fn rid(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, 0, i)
}
fn prefix(i: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, 244, i, 0), 26).unwrap()
}
/// Which client originates `p`: 10.244.i.0/26 and the marker 10.244.(100+i).0/26 are
/// client i's; the loop and control routes (10.244.99/98) the raw client's.
fn owner(p: Ipv4Net) -> u8 {
    match p.addr().octets()[2] {
        98 | 99 => RAW,
        n if n > 100 => n - 100,
        n => n,
    }
}
const OURS: [u8; 2] = [1, 2];
const BIRDS: [u8; 2] = [3, 4];
const FRRS: [u8; 2] = [5, 6];
const RAW: u8 = 7;

fn skip(test: &str) -> bool {
    !(lab_ok(test) && have(test, "bird") && have(test, "birdc") && have(test, "/usr/lib/frr/bgpd"))
}

/// One `route-reflector` process in its namespace; killed by pid on drop.
struct Reflector {
    ns: Netns,
    dir: WorkDir,
    proc: Option<Proc>,
    starts: u32,
}

impl Reflector {
    fn new(fabric: &mut Fabric, i: usize) -> (Reflector, Attachment) {
        let ns = Netns::new(&format!("rr{i}")).expect("namespace");
        let att = fabric.attach(&ns, "eth0", &[net(RR[i], 16)]).expect("attach");
        let dir = WorkDir::new(&format!("rr{i}")).expect("workdir");
        let me = RR[i];
        let other = RR[1 - i];
        let conf = format!(
            "asn = {ASN}\nrouter_id = \"{me}\"\ncluster_id = \"{CLUSTER}\"\nlisten = [\"{me}\"]\nport = 179\n\
             control_socket = \"{}\"\n\n\
             [[group]]\nname = \"nodes\"\ntype = \"client\"\nranges = [\"198.18.1.0/24\"]\nhold_time = 9\n\n\
             [[group]]\nname = \"reflectors\"\ntype = \"non-client\"\npeers = [\"{other}\"]\nhold_time = 9\n\
             connect_retry = 1\nfamilies = [\"ipv4\"]\npassive = {}\n",
            dir.path().join("rr.sock").display(),
            // Only A dials. When both dial, A's first attempt fails (B is not up yet), A
            // idles (IdleHold 5 s, doubling) and refuses B's connection with Cease/7
            // meanwhile; B idles for the same time, and from then on each dials while
            // the other idles, in lockstep, forever (see the report of issue #5).
            i == 1
        );
        std::fs::write(dir.path().join("rr.toml"), conf).expect("config");
        (Reflector { ns, dir, proc: None, starts: 0 }, att)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("rr.sock")
    }

    fn start(&mut self) {
        self.starts += 1;
        let mut cmd = self.ns.command(BIN);
        cmd.arg("--config").arg(self.dir.path().join("rr.toml")).env("RUST_LOG", "info");
        let log = self.dir.path().join(format!("rr-{}.log", self.starts));
        let mut p = Proc::spawn(cmd, &log).expect("route-reflector");
        tests::poll("the reflector's control socket", T, Duration::from_millis(50), || {
            p.check_alive()?;
            Ok(self.cli(&["status", "--json"]).status.success().then_some(()))
        })
        .expect("reflector up");
        self.proc = Some(p);
    }

    /// SIGKILL by pid, then reap.
    fn kill9(&mut self) {
        let mut p = self.proc.take().expect("running");
        p.signal(libc::SIGKILL).expect("kill -9");
        p.stop();
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN).arg("--socket").arg(self.socket()).args(args).output().expect("route-reflector CLI")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// `routes PREFIX --json`: the paths of one prefix (empty when none).
    fn paths(&self, p: Ipv4Net) -> Vec<serde_json::Value> {
        let v = self.json(&["routes", &p.to_string(), "--json"]);
        v.as_array().and_then(|a| a.first()).and_then(|r| r["paths"].as_array().cloned()).unwrap_or_default()
    }

    fn log(&self) -> String {
        self.proc.as_ref().map(Proc::log).unwrap_or_default()
    }
}

fn net(a: Ipv4Addr, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new(a, len).unwrap())
}

/// The whole topology, up and converged.
struct Cluster {
    // Dropped in field order: clients first, then reflectors, then the fabric.
    ours: Vec<NsSpeaker>,
    birds: Vec<Bird>,
    frrs: Vec<Frr>,
    raw: Vec<RawPeer>,
    raw_ns: Netns,
    _client_ns: Vec<Netns>,
    rr: Vec<Reflector>,
    _fabric: Fabric,
}

fn bird_or_frr_spec(name: &str, i: u8) -> PeerSpec {
    let mut s = PeerSpec::new(name, ASN, addr(i));
    s.router_id = rid(i);
    for r in RR {
        let mut n = Neighbor::new(IpAddr::V4(r), ASN);
        n.ipv6 = false;
        n.hold_time = 9;
        s = s.neighbor(n);
    }
    s.routes([Route::new(&prefix(i).to_string())])
}

/// The raw client's own route: ORIGIN IGP, empty AS_PATH, NEXT_HOP its address,
/// LOCAL_PREF 100.
fn raw_attrs() -> Vec<Attribute> {
    vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::default())),
        Attribute::new(AttrValue::NextHop(addr(RAW))),
        Attribute::new(AttrValue::LocalPref(100)),
    ]
}

fn raw_connect(ns: &Netns, rr: usize) -> RawPeer {
    RawPeer::connect(ns, SocketAddr::new(IpAddr::V4(RR[rr]), 179), ASN, rid(RAW), 30, T).expect("raw session")
}

impl Cluster {
    fn up() -> Cluster {
        let mut fabric = Fabric::new("rrcf").expect("fabric");
        let mut pins: Vec<(Netns, Attachment)> = Vec::new();
        let mut rr = Vec::new();
        let mut rr_atts = Vec::new();
        for i in 0..2 {
            let (r, att) = Reflector::new(&mut fabric, i);
            rr_atts.push(att);
            rr.push(r);
        }
        for i in 1..=RAW {
            let ns = Netns::new(&format!("rrc{i}")).expect("namespace");
            let att = fabric.attach(&ns, "eth0", &[net(addr(i), 16)]).expect("attach");
            pins.push((ns, att));
        }
        let mut all: Vec<(&Netns, &Attachment)> = rr.iter().map(|r| &r.ns).zip(rr_atts.iter()).collect();
        all.extend(pins.iter().map(|(n, a)| (n, a)));
        fabric.pin(&all).expect("pin neighbours");
        for r in rr.iter_mut() {
            r.start();
        }
        let mut nss: Vec<Netns> = pins.into_iter().map(|(n, _)| n).collect();
        let raw_ns = nss.pop().expect("raw namespace");

        let ours = OURS
            .iter()
            .map(|&i| {
                let mut cfg = bgp_speaker::SpeakerConfig::new(ASN, rid(i));
                for r in RR {
                    let mut n = neighbor(ASN, rid(i), IpAddr::V4(r), ASN);
                    n.transport.source = Some(IpAddr::V4(addr(i)));
                    cfg.neighbors.push(n);
                }
                let sp = NsSpeaker::start(&nss[i as usize - 1], cfg).expect("our speaker");
                sp.originate(pfx(&prefix(i).to_string()), PathAttrs::default()).expect("originate");
                sp
            })
            .collect();
        let birds = BIRDS
            .iter()
            .map(|&i| Bird::start(&nss[i as usize - 1], bird_or_frr_spec(&format!("b{i}"), i)).expect("bird"))
            .collect();
        let frrs = FRRS
            .iter()
            .map(|&i| Frr::start(&nss[i as usize - 1], bird_or_frr_spec(&format!("f{i}"), i)).expect("frr"))
            .collect();
        let raw: Vec<RawPeer> = (0..2).map(|r| raw_connect(&raw_ns, r)).collect();
        for s in &raw {
            s.announce_v4(raw_attrs(), &[prefix(RAW)]).expect("raw announce");
        }
        let c = Cluster { ours, birds, frrs, raw, raw_ns, _client_ns: nss, rr, _fabric: fabric };
        c.wait_sessions(&[0, 1]);
        c
    }

    /// Waits until every client's sessions with the reflectors `rrs` are Established,
    /// as the reflectors see them (seven clients, plus the other reflector when both
    /// run).
    fn wait_sessions(&self, rrs: &[usize]) {
        for &r in rrs {
            let want: BTreeSet<IpAddr> = (1..=RAW)
                .map(|i| IpAddr::V4(addr(i)))
                .chain(rrs.iter().filter(|&&o| o != r).map(|&o| IpAddr::V4(RR[o])))
                .collect();
            let got = tests::poll(
                &format!("every session Established at reflector {}", RR[r]),
                T,
                Duration::from_millis(200),
                || {
                    let v = self.rr[r].json(&["status", "--json"]);
                    let up: BTreeSet<IpAddr> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|p| p["state"] == "Established")
                        .map(|p| p["address"].as_str().unwrap().parse().unwrap())
                        .collect();
                    Ok((up == want).then_some(()))
                },
            );
            if let Err(e) = got {
                panic!("{e}: {}\n{}", self.rr[r].json(&["status", "--json"]), self.rr[r].log());
            }
        }
    }

    /// Waits until every client holds exactly the client prefixes `all` minus its own,
    /// and the raw client got them on each of its sessions with reflectors `rrs`.
    fn wait_converged(&mut self, all: &[Ipv4Net], rrs: &[usize]) {
        let others =
            |me: u8| -> BTreeSet<IpNet> { all.iter().filter(|p| owner(**p) != me).map(|p| IpNet::V4(*p)).collect() };
        for (k, &i) in OURS.iter().enumerate() {
            let want = others(i);
            let sp = &self.ours[k];
            let got = tests::poll(&format!("our client {i} to hold {want:?}"), T, Duration::from_millis(100), || {
                let have: BTreeSet<IpNet> = sp
                    .routes()?
                    .into_iter()
                    .filter(|(_, paths)| paths.iter().any(|r| r.best))
                    .filter_map(|(p, _)| p.to_string().parse().ok())
                    .filter(|p| !matches!(p, IpNet::V4(v) if owner(*v) == i))
                    .collect();
                Ok((have == want).then_some(()))
            });
            got.unwrap_or_else(|e| panic!("{e}: {:?}", sp.routes()));
        }
        for (d, i) in self.birds.iter_mut().zip(BIRDS) {
            wait_exact(d, others(i));
        }
        for (d, i) in self.frrs.iter_mut().zip(FRRS) {
            wait_exact(d, others(i));
        }
        let want: BTreeSet<Ipv4Net> = others(RAW)
            .into_iter()
            .filter_map(|p| match p {
                IpNet::V4(v) => Some(v),
                IpNet::V6(_) => None,
            })
            .collect();
        for &r in rrs {
            let raw = &self.raw[r];
            wait_for(&format!("the raw client to hold {want:?} from {}", RR[r]), || {
                (raw.rib_v4().keys().copied().collect::<BTreeSet<_>>() == want).then_some(())
            });
        }
    }
}

/// Waits until a daemon's learned prefixes are exactly `want`.
fn wait_exact(d: &mut dyn BgpDaemon, want: BTreeSet<IpNet>) {
    let kind = d.kind();
    let got = tests::poll(&format!("{kind} to hold exactly {want:?}"), T, Duration::from_millis(250), || {
        Ok((d.received_prefixes()? == want).then_some(()))
    });
    if let Err(e) = got {
        panic!("{e}: has {:?}\n{}", d.received_prefixes(), d.log());
    }
}

/// What a client receives from a reflector for client `i`'s prefix: the originator's
/// attributes, plus ORIGINATOR_ID = its router ID and CLUSTER_LIST = [cluster ID]
/// (RFC 4456 §8), the next hop unchanged. FRR originates `network` routes with MED 0,
/// which the reflectors pass on as they are.
fn reflected(i: u8) -> Vec<AttrValue> {
    let mut v = vec![AttrValue::Origin(Origin::Igp), AttrValue::AsPath(AsPath::default()), AttrValue::NextHop(addr(i))];
    if FRRS.contains(&i) {
        v.push(AttrValue::Med(0));
    }
    v.extend([AttrValue::LocalPref(100), AttrValue::OriginatorId(rid(i)), AttrValue::ClusterList(vec![CLUSTER])]);
    v
}

fn values(attrs: &[Attribute]) -> Vec<AttrValue> {
    let mut v: Vec<AttrValue> = attrs.iter().map(|a| a.value.clone()).collect();
    v.sort_by_key(|a| a.type_code());
    v
}

#[test]
fn rr_cluster_reflects_everything_with_exact_attributes_and_drops_cluster_loops() {
    let test = "rr_cluster_reflects_everything_with_exact_attributes_and_drops_cluster_loops";
    if skip(test) {
        return;
    }
    let started = Instant::now();
    let mut c = Cluster::up();
    let all: Vec<Ipv4Net> = (1..=RAW).map(prefix).collect();
    c.wait_converged(&all, &[0, 1]);
    eprintln!("{test}: converged in {:?}", started.elapsed());

    // What each reflector sent the raw client, decoded: exact attribute values.
    for (r, raw) in c.raw.iter().enumerate() {
        let rib = raw.rib_v4();
        for i in 1..RAW {
            assert_eq!(values(&rib[&prefix(i)]), reflected(i), "{} from reflector {}", prefix(i), RR[r]);
        }
    }
    // Our speakers, BIRD and FRR see the same attributes.
    for (k, &i) in OURS.iter().enumerate() {
        for j in (1..=RAW).filter(|&j| j != i) {
            let best = c.ours[k].best(pfx(&prefix(j).to_string())).unwrap().expect("best path");
            let a = &best.route.attrs;
            assert_eq!(a.originator_id, Some(rid(j)), "our client {i}, {}: {a:?}", prefix(j));
            assert_eq!(a.cluster_list, vec![CLUSTER], "our client {i}, {}: {a:?}", prefix(j));
            assert_eq!(a.next_hop, Some(bgp_proto::NextHop::V4(addr(j))), "our client {i}, {}: {a:?}", prefix(j));
        }
    }
    for b in &c.birds {
        let out = b.birdc(&["show", "route", &prefix(RAW).to_string(), "all"]).expect("birdc");
        assert!(out.contains(&format!("BGP.originator_id: {}", rid(RAW))), "{out}");
        assert!(out.contains(&format!("BGP.cluster_list: {CLUSTER}")), "{out}");
        assert!(out.contains(&format!("BGP.next_hop: {}", addr(RAW))), "{out}");
    }
    for f in &c.frrs {
        let out = f.vtysh(&[&format!("show bgp ipv4 unicast {} json", prefix(RAW))]).expect("vtysh");
        let v: serde_json::Value = serde_json::from_str(&out).expect("FRR JSON");
        let paths = v["paths"].as_array().expect("paths");
        assert_eq!(paths.len(), 2, "one path per reflector: {v}");
        for p in paths {
            assert_eq!(p["originatorId"], rid(RAW).to_string(), "{p}");
            assert_eq!(p["clusterList"]["list"], serde_json::json!([CLUSTER.to_string()]), "{p}");
            assert_eq!(p["nexthops"][0]["ip"], addr(RAW).to_string(), "{p}");
        }
    }

    // The reflectors reflect each other's clients' routes to each other (non-clients)
    // with CLUSTER_LIST = [cluster ID]; each drops them as a cluster loop: the path is
    // kept as rejected, never best.
    for (r, rr) in c.rr.iter().enumerate() {
        let other = RR[1 - r].to_string();
        for &p in &all {
            let paths = tests::poll("the other reflector's path", T, Duration::from_millis(100), || {
                let paths = rr.paths(p);
                Ok(paths.iter().any(|x| x["from"] == other.as_str()).then_some(paths))
            })
            .expect("reflector-to-reflector path");
            assert_eq!(paths.len(), 2, "{p} at {}: {paths:?}", RR[r]);
            for x in &paths {
                let from_client = x["from"] != other.as_str();
                assert_eq!(x["best"], from_client, "{p} at {}: {x}", RR[r]);
                assert_eq!(x["rejected"], !from_client, "{p} at {}: {x}", RR[r]);
            }
        }
    }

    // A client route whose CLUSTER_LIST already holds the cluster ID is a loop
    // (RFC 4456 §8): both reflectors drop it. A control route with a foreign cluster
    // in its CLUSTER_LIST and an ORIGINATOR_ID of its own is reflected with our
    // cluster prepended and the ORIGINATOR_ID kept. Sent loop first, on the same
    // sessions: once the control route is everywhere, the loop route was processed.
    let (looped, control) = (prefix(99), prefix(98));
    let foreign = Ipv4Addr::new(198, 18, 0, 200);
    let with = |cl: Vec<Ipv4Addr>, orig: Ipv4Addr| {
        let mut a = raw_attrs();
        a.push(Attribute::new(AttrValue::OriginatorId(orig)));
        a.push(Attribute::new(AttrValue::ClusterList(cl)));
        a
    };
    for s in &c.raw {
        s.announce_v4(with(vec![foreign, CLUSTER], rid(99)), &[looped]).expect("send loop");
        s.announce_v4(with(vec![foreign], rid(98)), &[control]).expect("send control");
    }
    let mut all2 = all.clone();
    all2.push(control);
    c.wait_converged(&all2, &[0, 1]);
    for (r, rr) in c.rr.iter().enumerate() {
        let paths = rr.paths(looped);
        assert_eq!(paths.len(), 1, "{looped} at {}: {paths:?}", RR[r]);
        assert_eq!(paths[0]["from"], addr(RAW).to_string());
        assert_eq!((&paths[0]["rejected"], &paths[0]["best"]), (&true.into(), &false.into()), "{paths:?}");
        let best: Vec<_> = rr.paths(control).into_iter().filter(|x| x["best"] == true).collect();
        assert_eq!(best.len(), 1, "{control} at {}", RR[r]);
        assert_eq!(best[0]["from"], addr(RAW).to_string());
    }
    // wait_converged checked every client holds exactly the client prefixes and the
    // control route: nobody got the loop. The control route, as our speaker got it:
    let got = c.ours[0].best(pfx(&control.to_string())).unwrap().expect("control route");
    assert_eq!(got.route.attrs.originator_id, Some(rid(98)));
    assert_eq!(got.route.attrs.cluster_list, vec![CLUSTER, foreign]);
    assert_eq!(got.route.attrs.next_hop, Some(bgp_proto::NextHop::V4(addr(RAW))));
    for r in &c.raw {
        assert_eq!(r.closed(), None, "the raw sessions stay up");
    }
    eprintln!("{test}: done in {:?}", started.elapsed());
}

#[test]
fn rr_cluster_kill_one_reflector_withdraws_nothing_and_restart_restores_sessions() {
    let test = "rr_cluster_kill_one_reflector_withdraws_nothing_and_restart_restores_sessions";
    if skip(test) {
        return;
    }
    let started = Instant::now();
    let mut c = Cluster::up();
    let mut all: Vec<Ipv4Net> = (1..=RAW).map(prefix).collect();
    c.wait_converged(&all, &[0, 1]);
    let mut events: Vec<_> = c.ours.iter().map(|s| s.handle().subscribe()).collect();
    eprintln!("{test}: converged in {:?}", started.elapsed());

    // kill -9 reflector A.
    let t0 = Instant::now();
    c.rr[0].kill9();
    let a = IpAddr::V4(RR[0]);
    wait_for("the raw session with A to end", || c.raw[0].closed().map(drop));
    for sp in &c.ours {
        sp.wait_established(IpAddr::V4(RR[1]), T).expect("B stays");
        wait_for("our client to notice A is gone", || (sp.peer(a).unwrap().state != "Established").then_some(()));
    }
    for d in
        c.birds.iter_mut().map(|b| b as &mut dyn BgpDaemon).chain(c.frrs.iter_mut().map(|f| f as &mut dyn BgpDaemon))
    {
        let kind = d.kind();
        tests::poll(&format!("{kind} to notice A is gone"), T, Duration::from_millis(200), || {
            Ok((!d.is_established(a)?).then_some(()))
        })
        .expect("session with A down");
    }
    // A barrier: every client announces one more prefix through B only. Once the raw
    // client has them all from B, whatever any client sent B after A died (a withdrawal
    // would come first, on the same session) has been reflected.
    let markers: Vec<Ipv4Net> = (1..=RAW).map(|i| prefix(100 + i)).collect();
    for (k, &i) in OURS.iter().enumerate() {
        c.ours[k].originate(pfx(&markers[i as usize - 1].to_string()), PathAttrs::default()).expect("originate");
    }
    for (b, i) in c.birds.iter_mut().zip(BIRDS) {
        b.announce(&Route::new(&markers[i as usize - 1].to_string())).expect("bird announce");
    }
    for (f, i) in c.frrs.iter_mut().zip(FRRS) {
        f.announce(&Route::new(&markers[i as usize - 1].to_string())).expect("frr announce");
    }
    c.raw[1].announce_v4(raw_attrs(), &[markers[RAW as usize - 1]]).expect("raw announce");
    all.extend(&markers);
    c.wait_converged(&all, &[1]);
    assert_eq!(c.raw[1].withdrawn_since(t0), vec![], "B withdrew nothing while A was dead");
    assert_eq!(c.raw[1].closed(), None);
    for (k, rx) in events.iter_mut().enumerate() {
        while let Ok(batch) = rx.try_recv() {
            for ch in batch.iter() {
                assert!(!ch.is_withdraw(), "our client {}: {} withdrawn after A died", OURS[k], ch.prefix);
            }
        }
    }
    eprintln!("{test}: A dead, nothing withdrawn, {:?} after the kill", t0.elapsed());

    // Restart A: every session comes back, every route stays.
    c.rr[0].start();
    c.raw[0] = raw_connect(&c.raw_ns, 0);
    c.raw[0].announce_v4(raw_attrs(), &[prefix(RAW), markers[RAW as usize - 1]]).expect("raw announce");
    c.wait_sessions(&[0, 1]);
    c.wait_converged(&all, &[0, 1]);
    for &p in &all {
        let best: Vec<_> = c.rr[0].paths(p).into_iter().filter(|x| x["best"] == true).collect();
        assert_eq!(best.len(), 1, "{p} at the restarted A");
    }
    let rib = c.raw[0].rib_v4();
    for i in 1..RAW {
        assert_eq!(values(&rib[&prefix(i)]), reflected(i), "{} from the restarted A", prefix(i));
    }
    assert_eq!(c.raw[1].withdrawn_since(t0), vec![], "B withdrew nothing during the restart either");
    for (k, rx) in events.iter_mut().enumerate() {
        while let Ok(batch) = rx.try_recv() {
            for ch in batch.iter() {
                assert!(!ch.is_withdraw(), "our client {}: {} withdrawn around A's restart", OURS[k], ch.prefix);
            }
        }
    }
    for sp in &c.ours {
        assert_eq!(sp.peer(IpAddr::V4(RR[1])).unwrap().flaps, 0, "the session with B never went down");
    }
    eprintln!("{test}: done in {:?}", started.elapsed());
}
