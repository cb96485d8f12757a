//! End-to-end tests of issue #6's topologies: seed 000 (two node subnets behind a
//! router) with IPIP Never, with and without BIRD on the router as a top-of-rack eBGP
//! router, and a cluster without the mesh behind two `route-reflector`s, one of which
//! is killed with SIGKILL while pods ping. Real binaries in network namespaces; needs
//! root, skipped otherwise.

mod common;

use common::{assert_all_ping, up, wait_routes, RouteWatch};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tests::lab::{router, Lab, LabSpec};
use tests::netns::ping;
use tests::poll;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn has_bird() -> bool {
    Command::new("bird").arg("--version").output().is_ok()
}

/// Test 2, IPIP Never: seed 000 as the issue describes it. node-3's block is `via` the
/// router on node-1 and node-2 (the kernel will not take the off-subnet node address as
/// a gateway, so the next hop is resolved through the route to node-3's subnet, as
/// BIRD's `gateway recursive` does), and the router knows no pod routes: pods on
/// node-1/node-2 cannot reach pods on node-3, and back, while node-1 and node-2 pods
/// reach each other.
#[test]
fn e2e_seed000_ipip_never() {
    let mut spec = LabSpec::seed000();
    spec.ipip = "Never".into();
    let Some(c) = up("e2e-never", spec) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(60)).unwrap();
    let want = [
        strings(&[
            "10.244.2.0/26 via 198.18.0.2 dev eth0",
            "10.244.3.0/26 via 198.18.0.254 dev eth0",
            "blackhole 10.244.1.0/26",
        ]),
        strings(&[
            "10.244.1.0/26 via 198.18.0.1 dev eth0",
            "10.244.3.0/26 via 198.18.0.254 dev eth0",
            "blackhole 10.244.2.0/26",
        ]),
        strings(&[
            "10.244.1.0/26 via 198.18.1.254 dev eth0",
            "10.244.2.0/26 via 198.18.1.254 dev eth0",
            "blackhole 10.244.3.0/26",
        ]),
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(&lab.expected_routes(i), w);
        wait_routes(lab, i, w, Duration::from_secs(20)).unwrap();
    }
    // The router has only its connected subnets.
    let r = lab.router.as_ref().unwrap().ip(&["route"]).unwrap();
    assert!(!r.contains("10.244."), "the router must know no pod routes:\n{r}");
    let pod = |n: usize| &lab.nodes[n].pods[0];
    assert!(ping(&pod(0).ns, IpAddr::V4(pod(1).ip), 2), "same subnet: node-1 pod -> node-2 pod");
    assert!(ping(&pod(1).ns, IpAddr::V4(pod(0).ip), 2), "same subnet: node-2 pod -> node-1 pod");
    for (a, b) in [(0, 2), (1, 2), (2, 0), (2, 1)] {
        assert!(
            !ping(&pod(a).ns, IpAddr::V4(pod(b).ip), 2),
            "{} -> {} must fail under IPIP Never",
            pod(a).ip,
            pod(b).ip
        );
    }
    // The packets die at the router: its "no route" counter grows by the pings sent.
    let ns = lab.router.as_ref().unwrap();
    let before = in_no_routes(ns);
    assert!(!ping(&pod(0).ns, IpAddr::V4(pod(2).ip), 3));
    let after = in_no_routes(ns);
    assert!(after >= before + 3, "InNoRoutes {before} -> {after}");
}

/// The namespace's `IpExt: InNoRoutes` (packets dropped for want of a route).
fn in_no_routes(ns: &tests::netns::Netns) -> u64 {
    let s = ns.exec("cat", &["/proc/net/netstat"]).unwrap();
    let l: Vec<&str> = s.lines().filter(|l| l.starts_with("IpExt:")).collect();
    let (names, values) = (l[0].split_whitespace(), l[1].split_whitespace());
    names.zip(values).find(|(n, _)| *n == "InNoRoutes").and_then(|(_, v)| v.parse().ok()).unwrap()
}

/// Test 2, peering the router: BIRD on the router is a top-of-rack router (AS 64513)
/// that every node peers with over eBGP instead of the mesh. The router learns every
/// block with next hop = its node and forwards between the subnets; the nodes learn the
/// other blocks from the router (AS path 64513 64512: numAllowedLocalASNumbers = 1)
/// with the originating node as next hop (BIRD passes a next hop on, RFC 4271 §5.1.3,
/// when it lies on the interface toward the peer, and the lab router has both subnets
/// on one interface); for the other subnet's blocks the kernel route resolves that next
/// hop through the router. No tunnel anywhere, and every pod pings every other pod.
#[test]
fn e2e_seed000_tor_router() {
    if !has_bird() {
        eprintln!("skipping: no bird");
        return;
    }
    let Some(c) = up("e2e-tor", LabSpec::seed000_tor()) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(60)).unwrap();
    let want_router = vec![
        ("10.244.1.0/26".parse().unwrap(), "198.18.0.1".parse().unwrap()),
        ("10.244.2.0/26".parse().unwrap(), "198.18.0.2".parse().unwrap()),
        ("10.244.3.0/26".parse().unwrap(), "198.18.1.3".parse().unwrap()),
    ];
    let mut last = Vec::new();
    poll("the router's BIRD routes", Duration::from_secs(20), Duration::from_millis(200), || {
        last = router::routes(&lab.dir, lab.spec.pool)?;
        Ok((last == want_router).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e}: got {last:?}\n{}", lab.report()));
    // …and programs them into its kernel.
    let ns = lab.router.as_ref().unwrap();
    let mut k: Vec<String> =
        ns.ip(&["route", "show", "proto", "bird"]).unwrap().lines().map(|l| l.trim().into()).collect();
    k.sort();
    assert_eq!(
        k,
        strings(&[
            "10.244.1.0/26 via 198.18.0.1 dev eth0 metric 32",
            "10.244.2.0/26 via 198.18.0.2 dev eth0 metric 32",
            "10.244.3.0/26 via 198.18.1.3 dev eth0 metric 32",
        ])
    );
    for i in 0..3 {
        let st = lab.peer_states(i).unwrap();
        let gw = lab.nodes[i].spec.gateway.unwrap().to_string();
        assert_eq!(st, vec![(gw, "node specific".to_string(), "up".to_string())], "node {i}");
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(20)).unwrap();
    }
    assert_eq!(
        lab.expected_routes(2),
        strings(&[
            "10.244.1.0/26 via 198.18.1.254 dev eth0",
            "10.244.2.0/26 via 198.18.1.254 dev eth0",
            "blackhole 10.244.3.0/26",
        ])
    );
    assert_eq!(
        lab.expected_routes(0),
        strings(&[
            "10.244.2.0/26 via 198.18.0.2 dev eth0",
            "10.244.3.0/26 via 198.18.0.254 dev eth0",
            "blackhole 10.244.1.0/26",
        ])
    );
    // Learned from the router: AS path 64513 64512.
    let (ok, out) = lab.ctl(2, &["routes", "10.244.1.0/26"]).unwrap();
    assert!(ok && out.contains("via 198.18.0.1 ") && out.contains("[64513 64512]"), "{out}");
    let (ok, out) = lab.ctl(0, &["routes", "10.244.2.0/26"]).unwrap();
    assert!(ok && out.contains("via 198.18.0.2 ") && out.contains("[64513 64512]"), "{out}");
    assert_all_ping(lab);
    // The sessions with the router are TCP-MD5 signed on both ends (RFC 2385): with
    // the key in place, an unsigned SYN from the other end's address is dropped by the
    // kernel (a timeout, not a refusal), toward our node speaker and toward BIRD.
    let unsigned = |from: &tests::netns::Netns, to: std::net::Ipv4Addr| {
        from.tcp_connect(std::net::SocketAddr::from((to, 179)), Duration::from_millis(1500))
    };
    for i in 0..3 {
        let node = lab.nodes[i].spec.addr.addr();
        let gw = lab.nodes[i].spec.gateway.unwrap();
        let e = unsigned(ns, node).expect_err("an unsigned SYN must not reach our speaker");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "router -> node {i}: {e}");
        let e = unsigned(&lab.nodes[i].ns, gw).expect_err("an unsigned SYN must not reach BIRD");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "node {i} -> router: {e}");
    }
}

/// `ping -i 0.05 -c count` from a pod, started now.
fn ping_flood(lab: &Lab, from: (usize, usize), to: (usize, usize), count: u32) -> Child {
    let src = &lab.nodes[from.0].pods[from.1];
    let dst = lab.nodes[to.0].pods[to.1].ip;
    src.ns
        .command("ping")
        .args(["-n", "-q", "-i", "0.05", "-W", "2", "-c", &count.to_string()])
        .arg(dst.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// (transmitted, received) from ping's summary line.
fn ping_counts(out: &str) -> Option<(u32, u32)> {
    let l = out.lines().find(|l| l.contains("packets transmitted"))?;
    let n: Vec<u32> = l.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    Some((*n.first()?, *n.get(1)?))
}

/// Test 3: the mesh off, 6 nodes, 2 `route-reflector`s of one cluster, every node a
/// client of both. Every pod pings every other pod. One reflector is killed with
/// SIGKILL while pods ping every 50 ms: no ping is lost and no node's `proto bird`
/// routes change (the other reflector has the same paths). Restarted, its sessions come
/// back Established and the routes stay.
#[test]
fn e2e_reflectors_kill9() {
    let Some(mut c) = up("e2e-rr", LabSpec::reflected(6, 2)) else { return };
    let lab = &mut c.lab;
    lab.wait_mesh(Duration::from_secs(90)).unwrap();
    let want: Vec<Vec<String>> = (0..6).map(|i| lab.expected_routes(i)).collect();
    assert_eq!(want[0].len(), 6);
    assert!(want[0].contains(&"10.244.6.0/26 via 198.18.0.6 dev eth0".to_string()), "{:?}", want[0]);
    for (i, w) in want.iter().enumerate() {
        wait_routes(lab, i, w, Duration::from_secs(20)).unwrap();
        let mut st = lab.peer_states(i).unwrap();
        st.sort();
        assert_eq!(
            st,
            vec![
                ("198.18.0.201".to_string(), "global".to_string(), "up".to_string()),
                ("198.18.0.202".to_string(), "global".to_string(), "up".to_string()),
            ],
            "node {i}"
        );
    }
    let nodes: Vec<String> = (1..=6).map(|i| format!("198.18.0.{i}")).collect();
    for k in 0..2 {
        let st = lab.reflector_states(k).unwrap();
        assert_eq!(st.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), nodes, "reflector {k}: {st:?}");
        assert!(st.iter().all(|p| p.1 == "Established"), "reflector {k}: {st:?}");
        let (ok, out) = lab.rr_ctl(k, &["routes"]).unwrap();
        for i in 1..=6 {
            assert!(ok && out.contains(&format!("10.244.{i}.0/26")), "reflector {k} lacks node {i}'s block:\n{out}");
        }
    }
    // Node 1 holds node 4's block from both reflectors, and says so (the next hop is
    // node 4's, so only the Adj-RIB-In tells where a path came from).
    let (ok, out) = lab.ctl(0, &["routes", "10.244.4.0/26", "--json"]).unwrap();
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut from: Vec<String> =
        rows.as_array().unwrap().iter().map(|r| r["from"].as_str().unwrap().to_string()).collect();
    from.sort();
    assert!(ok && from == ["198.18.0.201", "198.18.0.202"], "{out}");
    assert_all_ping(lab);

    // Pods ping across nodes every 50 ms through the kill; routes are watched.
    let watch = RouteWatch::start(lab, want.clone());
    let pairs = [((0, 0), (3, 0)), ((1, 1), (4, 1)), ((2, 0), (5, 1)), ((5, 0), (0, 1))];
    let pings: Vec<Child> = pairs.iter().map(|(a, b)| ping_flood(lab, *a, *b, 160)).collect();
    std::thread::sleep(Duration::from_secs(2));
    lab.reflectors[0].kill9();
    // Every node sees rr-1 go down and keeps rr-2.
    poll("rr-1 down and rr-2 up on every node", Duration::from_secs(30), Duration::from_millis(100), || {
        for i in 0..6 {
            let st = lab.peer_states(i)?;
            let up = |a: &str| st.iter().any(|p| p.0 == a && p.2 == "up");
            if up("198.18.0.201") || !up("198.18.0.202") {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .unwrap();
    for (p, (a, b)) in pings.into_iter().zip(pairs) {
        let out = p.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (tx, rx) = ping_counts(&text).unwrap_or_else(|| panic!("no ping summary: {text}"));
        assert_eq!((tx, rx), (160, 160), "pod {a:?} -> pod {b:?} lost pings across the kill: {text}");
    }
    let (sweeps, bad) = watch.stop();
    assert!(sweeps > 10, "the watcher barely ran ({sweeps} sweeps)");
    assert!(bad.is_empty(), "routes changed while rr-1 died: {bad:#?}");

    // Restart: rr-1's sessions come back and the nodes' routes never change.
    let watch = RouteWatch::start(lab, want.clone());
    let (bin, dir) = (lab.rr_bin.clone(), lab.dir.clone());
    lab.reflectors[0].start(&bin, &dir).unwrap();
    lab.wait_mesh(Duration::from_secs(90)).unwrap();
    let st = lab.reflector_states(0).unwrap();
    assert_eq!(st.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), nodes, "{st:?}");
    assert!(st.iter().all(|p| p.1 == "Established"), "{st:?}");
    for (i, w) in want.iter().enumerate() {
        wait_routes(lab, i, w, Duration::from_secs(20)).unwrap();
    }
    let (ok, out) = lab.rr_ctl(0, &["routes"]).unwrap();
    for i in 1..=6 {
        assert!(ok && out.contains(&format!("10.244.{i}.0/26")), "restarted rr-1 lacks node {i}'s block:\n{out}");
    }
    let (_, bad) = watch.stop();
    assert!(bad.is_empty(), "routes changed while rr-1 restarted: {bad:#?}");
    assert_all_ping(lab);
}
