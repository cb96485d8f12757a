//! The topology builder against the real kernel and real daemons. Needs root (CI runs
//! as root); skipped with a message otherwise. Daemon tests skip when the daemon is not
//! installed.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;
use tests::netns::{self, Fabric, Netns};
use tests::peers::{AddPath, BgpDaemon, Bird, ExaBgp, Frr, GoBgp, Neighbor, PeerSpec, Route};
use tests::proc::Proc;

fn lab_ok() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root for network namespaces");
    }
    root
}

fn have(bin: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("skipped: {bin} not installed");
    }
    found
}

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix")
}

fn ns_exists(name: &str) -> bool {
    tests::run_args("ip", &["netns", "list"])
        .expect("ip netns list")
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn netns_is_deleted_and_its_processes_killed_on_drop() {
    if !lab_ok() {
        return;
    }
    let ns = Netns::new("t-drop").expect("netns");
    let name = ns.name().to_string();
    assert!(ns_exists(&name));
    let dir = tests::WorkDir::new("t-drop").expect("workdir");
    // A process started outside any guard but inside the namespace.
    let child = ns.command("sleep").arg("300").spawn().expect("sleep");
    let pid = child.id() as i32;
    // `ip netns exec` joins the namespace after its fork: on a busy machine the child
    // may still be outside it for a moment.
    let t = std::time::Instant::now();
    while ns.pids().expect("pids").is_empty() && t.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(ns.pids().expect("pids"), vec![pid]);
    let proc = Proc::spawn_in(&ns, "sleep", &["300"], &dir.path().join("sleep.log")).expect("proc");
    let ppid = proc.pid();
    drop(proc);
    assert!(!std::path::Path::new(&format!("/proc/{ppid}")).exists() || is_zombie(ppid as i32));
    drop(ns);
    assert!(!ns_exists(&name));
    assert!(is_zombie(pid) || !std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(child);
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
}

#[test]
fn netns_is_deleted_when_a_test_panics() {
    if !lab_ok() {
        return;
    }
    let name = std::sync::Mutex::new(String::new());
    let r = std::panic::catch_unwind(|| {
        let ns = Netns::new("t-panic").expect("netns");
        *name.lock().expect("lock") = ns.name().to_string();
        panic!("boom");
    });
    assert!(r.is_err());
    assert!(!ns_exists(&name.lock().expect("lock")));
}

#[test]
fn veth_pair_carries_ipv4_and_ipv6() {
    if !lab_ok() {
        return;
    }
    let a = Netns::new("t-veth").expect("a");
    let b = Netns::new("t-veth").expect("b");
    let (ea, eb) = netns::veth(
        &a,
        "a0",
        &[net("198.18.100.1/30"), net("fd00:198:18:100::1/64")],
        &b,
        "b0",
        &[net("198.18.100.2/30"), net("fd00:198:18:100::2/64")],
    )
    .expect("veth");
    assert_eq!(ea.v4(), Some(Ipv4Addr::new(198, 18, 100, 1)));
    assert_eq!(eb.v6(), Some("fd00:198:18:100::2".parse().expect("v6")));
    assert!(netns::ping(&a, IpAddr::V4(Ipv4Addr::new(198, 18, 100, 2)), 3));
    assert!(netns::ping(&b, "fd00:198:18:100::1".parse().expect("v6"), 5));
    // A socket opened inside a namespace.
    let l = b.tcp_listen("198.18.100.2:1790".parse().expect("addr")).expect("listen");
    let s = a.tcp_connect("198.18.100.2:1790".parse().expect("addr"), Duration::from_secs(2)).expect("connect");
    let (_, peer) = l.accept().expect("accept");
    assert_eq!(peer.ip(), IpAddr::V4(Ipv4Addr::new(198, 18, 100, 1)));
    drop(s);
}

#[test]
fn fabric_with_pinned_neighbours_and_a_calico_pod() {
    if !lab_ok() {
        return;
    }
    let mut fabric = Fabric::new("t-fab").expect("fabric");
    let nodes: Vec<Netns> = (0..3).map(|_| Netns::new("t-node").expect("node")).collect();
    let atts: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| fabric.attach(n, "eth0", &[net(&format!("198.18.101.{}/24", i + 1))]).expect("attach"))
        .collect();
    let pairs: Vec<_> = nodes.iter().zip(atts.iter()).collect();
    fabric.pin(&pairs).expect("pin");
    let neigh = nodes[0].ip(&["neigh", "show", "dev", "eth0"]).expect("neigh");
    assert!(neigh.contains("198.18.101.2") && neigh.contains("PERMANENT"), "{neigh}");
    assert!(netns::ping(&nodes[0], "198.18.101.3".parse().expect("ip"), 3));

    // A pod on node 0; node 2 routes the pod's /32 via node 0.
    let pod = netns::wire_pod(&nodes[0], "eth0", Ipv4Addr::new(10, 244, 0, 1)).expect("pod");
    assert!(pod.cali.starts_with("cali") && pod.cali.len() == 15, "{}", pod.cali);
    nodes[2].ip(&["route", "add", "10.244.0.1/32", "via", "198.18.101.1"]).expect("route");
    assert!(netns::ping(&pod.ns, "198.18.101.1".parse().expect("ip"), 3), "pod -> its node");
    assert!(netns::ping(&pod.ns, "198.18.101.3".parse().expect("ip"), 3), "pod -> other node");
    assert!(netns::ping(&nodes[2], "10.244.0.1".parse().expect("ip"), 3), "other node -> pod");
}

/// Two daemons on one veth: `a` dials, `b` is passive; each learns the other's routes and
/// sees a withdrawal.
fn interop(
    mut a: impl FnMut(&Netns, PeerSpec) -> Box<dyn BgpDaemon>,
    mut b: impl FnMut(&Netns, PeerSpec) -> Box<dyn BgpDaemon>,
    a_as: u32,
    b_as: u32,
    link: u8,
    md5: Option<&str>,
) {
    let na = Netns::new("t-a").expect("a");
    let nb = Netns::new("t-b").expect("b");
    let a4 = Ipv4Addr::new(198, 18, link, 1);
    let b4 = Ipv4Addr::new(198, 18, link, 2);
    let a6 = Ipv6Addr::new(0xfd00, 0x198, 0x18, link.into(), 0, 0, 0, 1);
    let b6 = Ipv6Addr::new(0xfd00, 0x198, 0x18, link.into(), 0, 0, 0, 2);
    netns::veth(
        &na,
        "a0",
        &[IpNet::new(a4.into(), 24).expect("n"), IpNet::new(a6.into(), 64).expect("n")],
        &nb,
        "b0",
        &[IpNet::new(b4.into(), 24).expect("n"), IpNet::new(b6.into(), 64).expect("n")],
    )
    .expect("veth");
    let with_md5 = |n: Neighbor| match md5 {
        Some(pw) => n.md5(pw),
        None => n,
    };
    let ra = vec![
        Route::new("10.244.1.0/26").community(64512, 1).large(64512, 1, 1).med(5),
        Route::new("fd00:10:244:1::/122"),
    ];
    let rb = vec![
        Route::new("10.244.2.0/26").community(64512, 2),
        Route::new("10.244.2.64/26"),
        Route::new("fd00:10:244:2::/122"),
    ];
    let sa = PeerSpec::new("a", a_as, a4)
        .v6(a6)
        .neighbor(with_md5(Neighbor::new(b4.into(), b_as).add_path(AddPath::Both)))
        .routes(ra);
    let sb = PeerSpec::new("b", b_as, b4)
        .v6(b6)
        .neighbor(with_md5(Neighbor::new(a4.into(), a_as).passive(true).add_path(AddPath::Both)))
        .routes(rb);
    let mut db = b(&nb, sb);
    let mut da = a(&na, sa);
    let t = Duration::from_secs(40);
    da.wait_established(b4.into(), t)
        .unwrap_or_else(|e| panic!("{e}\n--- a log:\n{}\n--- b log:\n{}", da.log(), db.log()));
    db.wait_established(a4.into(), t).expect("b established");
    da.wait_prefixes(&[net("10.244.2.0/26"), net("10.244.2.64/26"), net("fd00:10:244:2::/122")], t)
        .unwrap_or_else(|e| panic!("{e}\n--- a log:\n{}", da.log()));
    db.wait_prefixes(&[net("10.244.1.0/26"), net("fd00:10:244:1::/122")], t)
        .unwrap_or_else(|e| panic!("{e}\n--- b log:\n{}", db.log()));
    db.withdraw(net("10.244.2.64/26")).expect("withdraw");
    tests::poll("withdrawal", t, Duration::from_millis(200), || {
        let have: BTreeSet<IpNet> = da.received_prefixes()?;
        Ok((!have.contains(&net("10.244.2.64/26"))).then_some(()))
    })
    .expect("withdrawal reaches a");
    da.announce(&Route::new("10.244.1.128/26").med(7)).expect("announce");
    db.wait_prefixes(&[net("10.244.1.128/26")], t).expect("announcement reaches b");
}

#[test]
fn bird_and_frr_peer_ibgp() {
    if !lab_ok() || !have("bird") || !have("vtysh") {
        return;
    }
    interop(
        |ns, s| Box::new(Bird::start(ns, s).expect("bird")),
        |ns, s| Box::new(Frr::start(ns, s).expect("frr")),
        64512,
        64512,
        110,
        None,
    );
}

#[test]
fn gobgp_and_exabgp_peer_ebgp() {
    if !lab_ok() || !have("gobgpd") || !have("exabgp") {
        return;
    }
    interop(
        |ns, s| Box::new(GoBgp::start(ns, s).expect("gobgp")),
        |ns, s| Box::new(ExaBgp::start(ns, s).expect("exabgp")),
        64512,
        65001,
        111,
        None,
    );
}

#[test]
fn frr_and_gobgp_peer_ebgp() {
    if !lab_ok() || !have("vtysh") || !have("gobgpd") {
        return;
    }
    interop(
        |ns, s| Box::new(Frr::start(ns, s).expect("frr")),
        |ns, s| Box::new(GoBgp::start(ns, s).expect("gobgp")),
        64512,
        65001,
        112,
        None,
    );
}

#[test]
fn exabgp_and_bird_peer_ebgp() {
    if !lab_ok() || !have("exabgp") || !have("bird") {
        return;
    }
    interop(
        |ns, s| Box::new(ExaBgp::start(ns, s).expect("exabgp")),
        |ns, s| Box::new(Bird::start(ns, s).expect("bird")),
        65001,
        64512,
        113,
        None,
    );
}

#[test]
fn bird_and_frr_peer_with_tcp_md5() {
    if !lab_ok() || !have("bird") || !have("vtysh") {
        return;
    }
    interop(
        |ns, s| Box::new(Frr::start(ns, s).expect("frr")),
        |ns, s| Box::new(Bird::start(ns, s).expect("bird")),
        // iBGP: over eBGP BIRD adds a link-local IPv6 next hop, which FRR without zebra
        // (no interface info) treats as an error and resets the session in a loop.
        64512,
        64512,
        114,
        Some("s3cret"),
    );
}
