//! Restart (stale routes), self-healing, gateway resolution, CrossSubnet, errors and
//! learning, each in its own fresh network namespace.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{set, wait_until, Netns};
use fib_sync::{
    encap_route_kind, Config, DesiredRoute, FibEvent, FibEvents, FibSync, IpipMode, LearnFilter, NextHop, RouteError,
    RouteKind,
};
use ipnet::IpNet;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn route(p: &str, kind: RouteKind) -> DesiredRoute {
    DesiredRoute::new(p.parse().unwrap(), kind)
}

fn start(ns: &Netns, grace: Duration) -> (FibSync, FibEvents) {
    FibSync::start(Config { netns: Some(ns.path()), stale_grace: grace, ..Config::default() }).unwrap()
}

/// Wait (up to `timeout`) for an event matching `f`.
fn wait_event(ev: &mut FibEvents, timeout: Duration, f: impl Fn(&FibEvent) -> bool) -> FibEvent {
    let end = std::time::Instant::now() + timeout;
    loop {
        match ev.try_recv() {
            Ok(e) if f(&e) => return e,
            Ok(_) => {}
            Err(_) => {
                assert!(std::time::Instant::now() < end, "event not seen in time");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Routes of a previous run are adopted when desired, and deleted only after the grace
/// period; other protocols' routes on the same prefixes survive.
#[test]
fn stale_routes_kept_for_grace_then_removed() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    // A previous speaker's routes...
    ns.ip(&["route", "add", "blackhole", "198.18.64.0/26", "proto", "bird"]);
    ns.ip(&["route", "add", "blackhole", "198.18.65.0/26", "proto", "bird"]);
    ns.ip(&["route", "add", "198.18.66.0/26", "via", "198.18.0.2", "proto", "bird"]);
    // ...and other protocols' routes on the same prefixes (other metrics) and elsewhere.
    ns.ip(&["route", "add", "blackhole", "198.18.65.0/26", "proto", "static", "metric", "50"]);
    ns.ip(&["route", "add", "198.18.66.0/26", "via", "198.18.0.9", "proto", "boot", "metric", "60"]);
    ns.ip(&["route", "add", "198.18.0.77/32", "dev", "veth0p", "scope", "link", "proto", "static"]);
    let others_before: Vec<String> = ns.all_routes("-4").into_iter().filter(|r| !r.contains("proto bird")).collect();

    // Taken before start: the grace period starts inside `start`.
    let grace_start = std::time::Instant::now();
    let (fib, _ev) = start(&ns, Duration::from_millis(1500));
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Blackhole), // same: adopted
        route("198.18.66.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.3")))), // changed
    ]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!((st.installed, st.stale, st.in_grace), (2, 1, true), "{st:?}");
    // During the grace period the stale 198.18.65.0/26 stays.
    assert_eq!(
        ns.bird_routes(),
        set(&["blackhole 198.18.64.0/26", "blackhole 198.18.65.0/26", "198.18.66.0/26 via 198.18.0.3 dev veth0",])
    );
    std::thread::sleep(Duration::from_millis(800));
    // Only meaningful if the machine was not too slow to get here within the grace.
    if grace_start.elapsed() < Duration::from_millis(1400) {
        assert!(ns.bird_routes().contains(&"blackhole 198.18.65.0/26".to_string()));
    }
    // After it, only the desired routes remain.
    assert!(wait_until(Duration::from_secs(3), || ns.bird_routes()
        == set(&["blackhole 198.18.64.0/26", "198.18.66.0/26 via 198.18.0.3 dev veth0"])));
    assert!(grace_start.elapsed() >= Duration::from_millis(1500));
    let others_after: Vec<String> = ns.all_routes("-4").into_iter().filter(|r| !r.contains("proto bird")).collect();
    assert_eq!(others_before, others_after);
}

/// `converged()` ends the grace period at once.
#[test]
fn converged_removes_stale_routes() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    ns.ip(&["route", "add", "blackhole", "198.18.65.0/26", "proto", "bird"]);
    ns.ip(&["-6", "route", "add", "blackhole", "2001:db8:65::/64", "proto", "bird"]);
    ns.ip(&["route", "add", "blackhole", "198.18.65.0/26", "proto", "static", "metric", "50"]);
    let (fib, _ev) = start(&ns, Duration::from_secs(3600));
    fib.replace_all(vec![route("198.18.64.0/26", RouteKind::Blackhole)]);
    fib.flush_blocking().unwrap();
    assert_eq!(ns.bird_routes().len(), 3);
    fib.converged();
    let st = fib.flush_blocking().unwrap();
    assert!(!st.in_grace);
    assert_eq!(ns.bird_routes(), set(&["blackhole 198.18.64.0/26"]));
    assert!(ns.all_routes("-4").contains(&"blackhole 198.18.65.0/26 proto static metric 50".to_string()));
}

/// Someone deletes or replaces our route: it is put back within a second (event-driven).
#[test]
fn tampering_is_undone() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    let (fib, _ev) = start(&ns, Duration::from_secs(3600));
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.2")))),
        route("2001:db8:64::/64", RouteKind::Blackhole),
    ]);
    fib.flush_blocking().unwrap();
    let want = set(&["198.18.64.0/26 via 198.18.0.2 dev veth0", "blackhole 2001:db8:64::/64 dev lo metric 1024"]);
    assert_eq!(ns.bird_routes(), want);

    ns.ip(&["route", "del", "198.18.64.0/26"]);
    assert!(wait_until(Duration::from_secs(1), || ns.bird_routes() == want), "delete not repaired");

    ns.ip(&["route", "replace", "198.18.64.0/26", "via", "198.18.0.3"]);
    assert!(wait_until(Duration::from_secs(1), || ns.bird_routes() == want), "replace not repaired");
    // The tamperer's route took our slot and was overwritten back: no boot route left.
    assert!(!ns.all_routes("-4").iter().any(|r| r.contains("198.18.0.3")));

    ns.ip(&["route", "replace", "198.18.64.0/26", "via", "198.18.0.4", "proto", "bird"]);
    assert!(wait_until(Duration::from_secs(1), || ns.bird_routes() == want));

    ns.ip(&["-6", "route", "del", "2001:db8:64::/64"]);
    assert!(wait_until(Duration::from_secs(1), || ns.bird_routes() == want));
}

/// A next hop two hops away is installed via the gateway towards it, and follows it.
#[test]
fn recursive_next_hop_follows_gateway() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    ns.ip(&["route", "add", "198.19.5.0/24", "via", "198.18.0.2", "proto", "static"]);
    let (fib, _ev) = start(&ns, Duration::from_secs(3600));
    fib.set_route(route("198.19.100.0/24", RouteKind::Via(NextHop::via(ip("198.19.5.1")))));
    let st = fib.flush_blocking().unwrap();
    assert_eq!(st.installed, 1, "{st:?}");
    assert_eq!(ns.bird_routes(), set(&["198.19.100.0/24 via 198.18.0.2 dev veth0"]));
    ns.ip(&["route", "replace", "198.19.5.0/24", "via", "198.18.0.3", "proto", "static"]);
    assert!(
        wait_until(Duration::from_secs(1), || ns.bird_routes() == set(&["198.19.100.0/24 via 198.18.0.3 dev veth0"]))
    );
}

/// CrossSubnet: in-subnet next hops go direct, others through tunl0 onlink.
#[test]
fn cross_subnet_encapsulation() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    ns.add_tunl0();
    let (fib, mut ev) = start(&ns, Duration::from_secs(3600));
    let subnets = match wait_event(&mut ev, Duration::from_secs(2), |e| matches!(e, FibEvent::NodeSubnets(_))) {
        FibEvent::NodeSubnets(s) => s,
        _ => unreachable!(),
    };
    let v4: Vec<IpNet> = subnets.iter().filter(|n| n.addr().is_ipv4()).copied().collect();
    assert_eq!(v4, vec!["198.18.0.0/24".parse::<IpNet>().unwrap()]);
    let m = IpipMode::CrossSubnet;
    fib.replace_all(vec![
        route("198.18.64.0/26", encap_route_kind(m, &subnets, ip("198.18.0.7"), "tunl0")),
        route("198.18.65.0/26", encap_route_kind(m, &subnets, ip("198.19.7.1"), "tunl0")),
        route("198.18.66.0/26", encap_route_kind(IpipMode::Always, &subnets, ip("198.18.0.8"), "tunl0")),
    ]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!(st.installed, 3, "{st:?}");
    assert_eq!(
        ns.bird_routes(),
        set(&[
            "198.18.64.0/26 via 198.18.0.7 dev veth0",
            "198.18.65.0/26 via 198.19.7.1 dev tunl0 onlink",
            "198.18.66.0/26 via 198.18.0.8 dev tunl0 onlink",
        ])
    );
    // A new address on the node changes its subnets.
    ns.ip(&["addr", "add", "198.19.7.2/24", "dev", "veth0"]);
    let e = wait_event(&mut ev, Duration::from_secs(2), |e| matches!(e, FibEvent::NodeSubnets(_)));
    assert!(matches!(e, FibEvent::NodeSubnets(s) if s.contains(&"198.19.7.0/24".parse().unwrap())));
}

/// A rejected route is reported with its prefix and the kernel's reason, retried, and
/// does not block the others.
#[test]
fn rejected_route_reported_and_retried() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    let (fib, mut ev) = start(&ns, Duration::from_secs(3600));
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Via(NextHop::via(ip("198.19.200.1")))),
        route("198.18.65.0/26", RouteKind::Blackhole),
        route("198.18.66.0/26", RouteKind::Via(NextHop::onlink(ip("198.19.1.1"), "tunl0"))),
    ]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!((st.installed, st.failed), (1, 2), "{st:?}");
    assert_eq!(ns.bird_routes(), set(&["blackhole 198.18.65.0/26"]));
    let e = wait_event(&mut ev, Duration::from_secs(1), |e| {
        matches!(e, FibEvent::RouteFailed { error: RouteError::Kernel { .. }, .. })
    });
    let FibEvent::RouteFailed { error: RouteError::Kernel { prefix, errno, reason, .. }, .. } = e else {
        unreachable!()
    };
    assert_eq!(prefix, "198.18.64.0/26".parse::<IpNet>().unwrap());
    assert_eq!(errno, libc::ENETUNREACH);
    assert!(!reason.is_empty());
    wait_event(
        &mut ev,
        Duration::from_secs(1),
        |e| matches!(e, FibEvent::RouteFailed { error: RouteError::NoSuchDevice { dev, .. }, .. } if dev == "tunl0"),
    );
    // The kernel's objections go away: both routes get installed.
    ns.ip(&["route", "add", "198.19.200.0/24", "via", "198.18.0.2", "proto", "static"]);
    ns.add_tunl0();
    assert!(wait_until(Duration::from_secs(3), || ns.bird_routes()
        == set(&[
            "198.18.64.0/26 via 198.18.0.2 dev veth0",
            "blackhole 198.18.65.0/26",
            "198.18.66.0/26 via 198.19.1.1 dev tunl0 onlink",
        ])));
}

/// IPv4 drops routes silently when their link goes down; they come back with the link.
#[test]
fn link_down_up_reinstalls() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    let (fib, _ev) = start(&ns, Duration::from_secs(3600));
    fib.replace_all(vec![route("198.18.64.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.2"))))]);
    fib.flush_blocking().unwrap();
    let want = set(&["198.18.64.0/26 via 198.18.0.2 dev veth0"]);
    assert_eq!(ns.bird_routes(), want);
    ns.ip(&["link", "set", "veth0", "down"]);
    assert!(wait_until(Duration::from_secs(1), || ns.bird_routes().is_empty()));
    ns.ip(&["link", "set", "veth0", "up"]);
    assert!(wait_until(Duration::from_secs(2), || ns.bird_routes() == want));
}

/// Other protocols' host routes on `cali*` interfaces are reported, never modified.
#[test]
fn learns_cali_host_routes() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    ns.ip(&["link", "add", "cali0a1b2c", "type", "veth", "peer", "name", "calipeer"]);
    ns.ip(&["link", "set", "cali0a1b2c", "up"]);
    ns.ip(&["link", "set", "calipeer", "up"]);
    ns.ip(&["route", "add", "198.19.9.5/32", "dev", "cali0a1b2c", "scope", "link", "proto", "static"]);
    let (fib, mut ev) = FibSync::start(Config {
        netns: Some(ns.path()),
        learn: LearnFilter::calico(vec!["198.19.8.0/26".parse().unwrap()]),
        ..Config::default()
    })
    .unwrap();
    fib.flush_blocking().unwrap();
    let e = wait_event(&mut ev, Duration::from_secs(1), |e| matches!(e, FibEvent::Learned(_)));
    assert!(
        matches!(e, FibEvent::Learned(l) if l.prefix == "198.19.9.5/32".parse::<IpNet>().unwrap() && l.dev == "cali0a1b2c")
    );
    // Inside the node's own block: not reported. Outside: reported.
    ns.ip(&["route", "add", "198.19.8.7/32", "dev", "cali0a1b2c", "scope", "link", "proto", "static"]);
    ns.ip(&["route", "add", "198.19.9.6/32", "dev", "cali0a1b2c", "scope", "link", "proto", "static"]);
    let e = wait_event(&mut ev, Duration::from_secs(1), |e| matches!(e, FibEvent::Learned(_)));
    assert!(matches!(e, FibEvent::Learned(l) if l.prefix == "198.19.9.6/32".parse::<IpNet>().unwrap()));
    ns.ip(&["route", "del", "198.19.9.5/32", "dev", "cali0a1b2c"]);
    wait_event(
        &mut ev,
        Duration::from_secs(1),
        |e| matches!(e, FibEvent::Unlearned(l) if l.prefix == "198.19.9.5/32".parse::<IpNet>().unwrap()),
    );
    assert!(ns.bird_routes().is_empty());
    assert!(ns.all_routes("-4").contains(&"198.19.9.6 dev cali0a1b2c proto static scope link".to_string()));
}

/// The event socket overflows (ENOBUFS) during a burst of foreign changes: the sync
/// re-reads the kernel and still repairs the route that was deleted inside the burst.
#[test]
fn event_overflow_triggers_resync_and_repair() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    let (fib, mut ev) = FibSync::start(Config {
        netns: Some(ns.path()),
        stale_grace: Duration::from_secs(3600),
        event_rcvbuf: 4096, // tiny on purpose, to force the overflow
        ..Config::default()
    })
    .unwrap();
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Blackhole),
        route("198.18.65.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.2")))),
    ]);
    fib.flush_blocking().unwrap();
    let want = set(&["blackhole 198.18.64.0/26", "198.18.65.0/26 via 198.18.0.2 dev veth0"]);
    assert_eq!(ns.bird_routes(), want);
    // A burst while our sync is stalled: another writer (a second sync, so another
    // netlink port) puts 20 000 routes in table 100, and our route is deleted behind
    // our back. The 4 KiB event buffer cannot hold that.
    fib.stall_for_tests(Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(50));
    let (other, _oev) = FibSync::start(Config { netns: Some(ns.path()), ..Config::default() }).unwrap();
    other.replace_all(
        (0..20_000u32)
            .map(|i| {
                let p = IpNet::new(IpAddr::from([198, 19, (i >> 8) as u8, (i & 255) as u8]), 32).unwrap();
                DesiredRoute::new(p, RouteKind::Blackhole).with_table(100)
            })
            .collect(),
    );
    ns.ip(&["route", "del", "198.18.64.0/26"]);
    other.flush_blocking().unwrap();
    wait_event(&mut ev, Duration::from_secs(5), |e| *e == FibEvent::Resynced);
    let ours = || ns.bird_routes().into_iter().filter(|r| !r.contains("table 100")).collect::<Vec<_>>();
    assert!(wait_until(Duration::from_secs(5), || ours() == want), "{:?}", ours());
    // The other writer's routes were left alone (they are in our grace period).
    assert_eq!(ns.ip(&["route", "show", "table", "100"]).lines().count(), 20_000);
}
