//! End-to-end tests of the node speaker: the real `bgp-speaker` binary on every node of
//! a cluster built from network namespaces (`tests::lab`). Needs root; skipped
//! otherwise. The binary is (re)built with `cargo build --release -p bgp-speaker` first.
//!
//! `tunl0` is a tun device here (this kernel has no ipip link type): the tests check the
//! routes programmed onto it, not the IPIP data path.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::lab::{Lab, LabSpec};
use tests::poll;

mod common;

use common::{assert_all_ping, up, wait_routes};

/// Test 1: a 3-node mesh. Every pod pings every other pod; every node's `ip route show
/// proto bird` is exactly a blackhole for its own block and a via route per other block.
#[test]
fn e2e_mesh_three_nodes() {
    let Some(c) = up("e2e-mesh", LabSpec::mesh(3)) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    for i in 0..3 {
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(10)).unwrap();
        let st = lab.peer_states(i).unwrap();
        assert_eq!(st.len(), 2);
        assert!(st.iter().all(|p| p.1 == "node-to-node mesh" && p.2 == "up"), "{st:?}");
        let (ready, out) = lab.ctl(i, &["ready"]).unwrap();
        assert!(ready, "{out}");
    }
    let want = lab.expected_routes(0);
    assert_eq!(
        want,
        vec![
            "10.244.2.0/26 via 198.18.0.2 dev eth0".to_string(),
            "10.244.3.0/26 via 198.18.0.3 dev eth0".to_string(),
            "blackhole 10.244.1.0/26".to_string(),
        ]
    );
    assert_all_ping(lab);
}

/// Test 5: `blocks add` at run time appears on every other node; `blocks del` removes it.
#[test]
fn e2e_blocks_add_del() {
    let Some(c) = up("e2e-blocks", LabSpec::mesh(3)) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    let (ok, out) = lab.ctl(0, &["blocks", "add", "10.244.1.64/26"]).unwrap();
    assert!(ok, "{out}");
    let mut want: Vec<Vec<String>> = (0..3).map(|i| lab.expected_routes(i)).collect();
    want[0].push("blackhole 10.244.1.64/26".into());
    for w in &mut want[1..] {
        w.push("10.244.1.64/26 via 198.18.0.1 dev eth0".into());
    }
    for (i, w) in want.iter_mut().enumerate() {
        w.sort();
        wait_routes(lab, i, w, Duration::from_secs(10)).unwrap();
    }
    let (ok, out) = lab.ctl(0, &["routes", "10.244.1.64/26"]).unwrap();
    assert!(ok && out.contains("10.244.1.64/26"), "{out}");
    let (ok, out) = lab.ctl(0, &["blocks", "del", "10.244.1.64/26"]).unwrap();
    assert!(ok, "{out}");
    for i in 0..3 {
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(10)).unwrap();
    }
    let (ok, _) = lab.ctl(0, &["blocks", "del", "10.244.1.64/26"]).unwrap();
    assert!(!ok, "deleting a missing block fails");
}

/// Test 2: seed 000's topology. node-1 and node-2 share 198.18.0.0/24, node-3 is on
/// 198.18.1.0/24 behind a router with no pod routes; IPIP CrossSubnet: the same-subnet
/// block is `via` eth0, the other subnet's on tunl0 onlink.
#[test]
fn e2e_seed000_cross_subnet() {
    let Some(c) = up("e2e-seed000", LabSpec::seed000()) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    for i in 0..3 {
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(10)).unwrap();
    }
    let r1 = lab.bird_routes(0).unwrap();
    assert!(r1.contains(&"10.244.2.0/26 via 198.18.0.2 dev eth0".to_string()), "{r1:?}");
    assert!(r1.contains(&"10.244.3.0/26 via 198.18.1.3 dev tunl0 onlink".to_string()), "{r1:?}");
    let r3 = lab.bird_routes(2).unwrap();
    assert!(r3.contains(&"10.244.1.0/26 via 198.18.0.1 dev tunl0 onlink".to_string()), "{r3:?}");
    // Pods on the shared subnet reach each other natively.
    let p1 = &lab.nodes[0].pods[0];
    let p2 = &lab.nodes[1].pods[0];
    assert!(tests::netns::ping(&p1.ns, IpAddr::V4(p2.ip), 2));
}

/// Test 4: kill -9 a node speaker while pods ping. Its kernel routes stay and keep
/// forwarding, the peers keep its routes (graceful restart), and after the restart a
/// stale `proto bird` route left from before is reconciled away once End-of-RIB
/// arrives, while the wanted routes never disappear.
#[test]
fn e2e_kill9_graceful_restart() {
    let Some(mut c) = up("e2e-kill9", LabSpec::mesh(3)) else { return };
    let lab = &mut c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    let want: Vec<Vec<String>> = (0..3).map(|i| lab.expected_routes(i)).collect();
    for (i, w) in want.iter().enumerate() {
        wait_routes(lab, i, w, Duration::from_secs(10)).unwrap();
    }
    lab.kill9(0);
    // A stale route from "the previous run" that nobody advertises any more.
    lab.nodes[0].ns.ip(&["route", "add", "10.244.99.0/26", "via", "198.18.0.3", "proto", "bird"]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for (i, w) in want.iter().enumerate() {
        let got = lab.bird_routes(i).unwrap();
        for r in w {
            assert!(got.contains(r), "node {i} lost {r} while node-1 was down: {got:?}");
        }
    }
    let (p1, p2) = (&lab.nodes[0].pods[0], &lab.nodes[1].pods[0]);
    assert!(tests::netns::ping(&p2.ns, IpAddr::V4(p1.ip), 2), "node-2 pod -> node-1 pod while node-1 is down");
    assert!(tests::netns::ping(&p1.ns, IpAddr::V4(p2.ip), 2), "node-1 pod -> node-2 pod while node-1 is down");

    // Watch every node's routes through the restart: none of the wanted ones may vanish.
    let names: Vec<String> = lab.nodes.iter().map(|n| n.ns.name().to_string()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, want) = (stop.clone(), want.clone());
        std::thread::spawn(move || {
            let mut lost = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for (i, w) in want.iter().enumerate() {
                    let out =
                        tests::run_args("ip", &["-n", &names[i], "route", "show", "proto", "bird"]).unwrap_or_default();
                    let got: Vec<String> = out
                        .lines()
                        .map(|l| l.split_whitespace().filter(|w| *w != "linkdown").collect::<Vec<_>>().join(" "))
                        .collect();
                    lost.extend(w.iter().filter(|r| !got.contains(r)).map(|r| format!("node {i}: {r}")));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            lost
        })
    };
    let r = lab.start_node(0).and_then(|()| {
        lab.wait_mesh(Duration::from_secs(30))?;
        wait_routes(lab, 0, &want[0], Duration::from_secs(15))
    });
    stop.store(true, Ordering::Relaxed);
    let lost = watcher.join().unwrap();
    r.unwrap();
    assert!(lost.is_empty(), "routes vanished during the restart: {lost:?}");
    let log = std::fs::read_to_string(&lab.nodes[0].log).unwrap_or_default();
    assert!(log.contains("graceful restart"), "restart not detected:\n{log}");
    assert_all_ping(lab);
}

/// Test 7: a mixed cluster, node-3 running BIRD with a Calico-like configuration: the
/// sessions come up both ways round, every node programs the same routes, pods ping.
#[test]
fn e2e_mixed_with_bird() {
    if std::process::Command::new("bird").arg("--version").output().is_err() {
        eprintln!("skipping: no bird");
        return;
    }
    let mut spec = LabSpec::mesh(3);
    spec.nodes[2].bird = true;
    let Some(c) = up("e2e-bird", spec) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(40)).unwrap();
    for i in 0..3 {
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(15)).unwrap();
    }
    assert_all_ping(lab);
}

/// Test 3: a pod whose address is borrowed from another node's block. The node it runs
/// on learns its `cali*` /32 route, advertises it, and every other node routes the /32
/// to it, past the owner's own blackhole (longest match).
#[test]
fn e2e_borrowed_pod_ip() {
    let Some(c) = up("e2e-borrow", LabSpec::mesh(3)) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    // 10.244.1.10 lies in node-1's block but the pod runs on node-2.
    let borrowed = tests::netns::wire_pod(&lab.nodes[1].ns, "eth0", "10.244.1.10".parse().unwrap()).unwrap();
    let mut want: Vec<Vec<String>> = (0..3).map(|i| lab.expected_routes(i)).collect();
    want[0].push("10.244.1.10 via 198.18.0.2 dev eth0".into());
    want[2].push("10.244.1.10 via 198.18.0.2 dev eth0".into());
    for (i, w) in want.iter_mut().enumerate() {
        w.sort();
        wait_routes(lab, i, w, Duration::from_secs(10)).unwrap();
    }
    for src in [&lab.nodes[0].pods[0], &lab.nodes[2].pods[0]] {
        assert!(tests::netns::ping(&src.ns, IpAddr::V4(borrowed.ip), 2), "{} -> borrowed {}", src.ip, borrowed.ip);
    }
    // The pod goes away: its /32 is withdrawn everywhere.
    drop(borrowed);
    for i in 0..3 {
        wait_routes(lab, i, &lab.expected_routes(i), Duration::from_secs(10)).unwrap();
    }
}

fn since(lab: &Lab, i: usize) -> Vec<(String, u64)> {
    let (ok, out) = lab.ctl(i, &["status", "--json"]).unwrap();
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["ipv4"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["since_unix"].as_u64().unwrap()))
        .collect()
}

/// Test 6: `reload` and SIGHUP apply a changed file while unchanged peers keep their
/// sessions; a broken file is refused with its line and the running configuration stays.
#[test]
fn e2e_reload_keeps_sessions() {
    let Some(c) = up("e2e-reload", LabSpec::mesh(3)) else { return };
    let lab = &c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let before = since(lab, 0);
    let path = lab.nodes[0].config.clone();
    let orig = std::fs::read_to_string(&path).unwrap();
    let changed = orig.replace("blocks = [\"10.244.1.0/26\"]", "blocks = [\"10.244.1.0/26\", \"10.244.1.128/26\"]");
    assert_ne!(orig, changed);
    std::fs::write(&path, &changed).unwrap();
    let (ok, out) = lab.ctl(0, &["reload"]).unwrap();
    assert!(ok, "{out}");
    let mut want = lab.expected_routes(1);
    want.push("10.244.1.128/26 via 198.18.0.1 dev eth0".into());
    want.sort();
    wait_routes(lab, 1, &want, Duration::from_secs(10)).unwrap();
    assert_eq!(since(lab, 0), before, "sessions were reset by the reload");

    // A broken file: refused with file, line and field; the node keeps running.
    std::fs::write(&path, changed.replace("[mesh]", "[mesh]\nenabeld = true")).unwrap();
    let (ok, out) = lab.ctl(0, &["reload"]).unwrap();
    assert!(!ok && out.contains(":16:") && out.contains("enabeld"), "{out}");
    assert_eq!(since(lab, 0), before);

    // SIGHUP with the original file: the extra block goes away.
    std::fs::write(&path, &orig).unwrap();
    lab.nodes[0].proc.as_ref().unwrap().signal(libc::SIGHUP).unwrap();
    wait_routes(lab, 1, &lab.expected_routes(1), Duration::from_secs(10)).unwrap();
    assert_eq!(since(lab, 0), before, "sessions were reset by SIGHUP");
}

/// A planned stop (SIGTERM): the peers get Cease/Administrative Shutdown with the
/// shutdown communication, and the stopped node's kernel routes stay.
#[test]
fn e2e_planned_stop_keeps_kernel_routes() {
    let Some(mut c) = up("e2e-stop", LabSpec::mesh(2)) else { return };
    let lab = &mut c.lab;
    lab.wait_mesh(Duration::from_secs(30)).unwrap();
    let want = lab.expected_routes(0);
    wait_routes(lab, 0, &want, Duration::from_secs(10)).unwrap();
    let p = lab.nodes[0].proc.as_mut().unwrap();
    p.signal(libc::SIGTERM).unwrap();
    poll("node-1 to exit", Duration::from_secs(10), Duration::from_millis(50), || {
        Ok(p.check_alive().is_err().then_some(()))
    })
    .unwrap();
    assert_eq!(lab.bird_routes(0).unwrap(), want);
    let log = std::fs::read_to_string(&lab.nodes[0].log).unwrap();
    assert!(log.contains("code: 6, subcode: 2") && log.contains("node speaker stopping"), "{log}");
    // node-2's INFO column shows the Cease while it lasts; its state is no longer up.
    let st = lab.peer_states(1).unwrap();
    assert!(st.iter().all(|p| p.2 != "up"), "{st:?}");
}

/// IPv6: two IPv6-only nodes (no IPv4 address, router ID set) on one link mesh over
/// IPv6 and program each other's IPv6 block `via` the peer's address, and their own as
/// a blackhole; `status` lists the session in its IPv6 section.
#[test]
fn e2e_ipv6_mesh_two_nodes() {
    use tests::netns::{veth, Netns};
    if !common::is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let bin = tests::lab::speaker_binary(true).expect("build bgp-speaker");
    let dir = tests::WorkDir::new("e2e-v6").unwrap();
    let ns: Vec<Netns> = (0..2).map(|_| Netns::new("v6").unwrap()).collect();
    let addr = |i: usize| format!("fd00:18::{}", i + 1);
    let net = |i: usize| format!("{}/64", addr(i)).parse::<ipnet::IpNet>().unwrap();
    veth(&ns[0], "eth0", &[net(0)], &ns[1], "eth0", &[net(1)]).unwrap();
    let block = |i: usize| format!("fd10:244:0:{}::/122", i + 1);
    let mut procs = Vec::new();
    let mut sockets = Vec::new();
    for (i, node) in ns.iter().enumerate() {
        let sock = dir.path().join(format!("n{i}.ctl"));
        let cfg = format!(
            r#"blocks = ["{block}"]
[node]
name = "v6-{n}"
ipv6 = "{a}/64"
router-id = "198.18.9.{n}"
[control]
socket = "{sock}"
[[pools]]
cidr = "fd10:244::/48"
block-size = 122
ipip-mode = "Never"
[mesh.members]
v6-1 = "{a0}"
v6-2 = "{a1}"
"#,
            block = block(i),
            n = i + 1,
            a = addr(i),
            sock = sock.display(),
            a0 = addr(0),
            a1 = addr(1),
        );
        let path = dir.path().join(format!("n{i}.toml"));
        std::fs::write(&path, cfg).unwrap();
        let log = dir.path().join(format!("n{i}.log"));
        let args = ["run", "-c", path.to_str().unwrap()];
        procs.push(tests::proc::Proc::spawn_in(node, bin.to_str().unwrap(), &args, &log).unwrap());
        sockets.push(sock);
    }
    for i in 0..2 {
        let other = 1 - i;
        let mut want =
            vec![format!("blackhole {} dev lo", block(i)), format!("{} via {} dev eth0", block(other), addr(other))];
        want.sort();
        let mut got = Vec::new();
        let r = poll("IPv6 routes", Duration::from_secs(20), Duration::from_millis(100), || {
            got = common::v6_routes_of(ns[i].name()).unwrap_or_default();
            Ok((got == want).then_some(()))
        });
        let log = std::fs::read_to_string(dir.path().join(format!("n{i}.log"))).unwrap_or_default();
        r.unwrap_or_else(|e| panic!("node {i}: {e}: got {got:?}, want {want:?}\n{log}"));
        let out = tests::run_args(bin.to_str().unwrap(), &["-s", sockets[i].to_str().unwrap(), "status"])
            .unwrap_or_else(|e| panic!("status: {e}"));
        let v6 = out.split("IPv6").nth(1).unwrap_or_else(|| panic!("no IPv6 section:\n{out}"));
        assert!(v6.contains(&addr(other)) && v6.contains("node-to-node mesh") && v6.contains("up"), "{out}");
    }
    drop(procs);
}
