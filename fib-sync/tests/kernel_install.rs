//! Install, replace and delete in a fresh network namespace; the kernel's `proto bird`
//! table must be exactly the desired set after each step.

mod common;

use std::net::IpAddr;

use common::{set, Netns};
use fib_sync::{Config, DesiredRoute, FibSync, NextHop, RouteKind};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn route(p: &str, kind: RouteKind) -> DesiredRoute {
    DesiredRoute::new(p.parse().unwrap(), kind)
}

fn multipath(gws: &[&str]) -> RouteKind {
    RouteKind::Multipath(gws.iter().map(|g| NextHop::via(ip(g))).collect())
}

#[test]
fn install_replace_delete() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    ns.add_tunl0();
    let (fib, _events) = FibSync::start(Config { netns: Some(ns.path()), ..Config::default() }).unwrap();

    // Step 1: one of each kind, IPv4 and IPv6.
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Blackhole),
        route("198.18.65.0/26", RouteKind::Unreachable),
        route("198.18.66.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.2")))),
        route("198.18.67.0/26", RouteKind::Via(NextHop::onlink(ip("198.19.1.1"), "tunl0"))),
        route("198.18.68.0/26", multipath(&["198.18.0.2", "198.18.0.3"])),
        route("198.18.69.0/26", RouteKind::Blackhole).with_metric(7),
        route("198.18.70.0/26", RouteKind::Blackhole).with_table(100),
        route("2001:db8:64::/64", RouteKind::Blackhole),
        route("2001:db8:65::/64", RouteKind::Via(NextHop::via(ip("2001:db8:1::2")))),
        route("2001:db8:66::/64", multipath(&["2001:db8:1::2", "2001:db8:1::3"])),
    ]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!((st.desired, st.installed, st.failed), (10, 10, 0), "{st:?}");
    assert_eq!(
        ns.bird_routes(),
        set(&[
            "blackhole 198.18.64.0/26",
            "unreachable 198.18.65.0/26",
            "198.18.66.0/26 via 198.18.0.2 dev veth0",
            "198.18.67.0/26 via 198.19.1.1 dev tunl0 onlink",
            "198.18.68.0/26 nexthop via 198.18.0.2 dev veth0 weight 1 nexthop via 198.18.0.3 dev veth0 weight 1",
            "blackhole 198.18.69.0/26 metric 7",
            "blackhole 198.18.70.0/26 table 100",
            "blackhole 2001:db8:64::/64 dev lo metric 1024",
            "2001:db8:65::/64 via 2001:db8:1::2 dev veth0 metric 1024",
            "2001:db8:66::/64 metric 1024 nexthop via 2001:db8:1::2 dev veth0 weight 1 nexthop via 2001:db8:1::3 dev veth0 weight 1",
        ])
    );

    // Step 2: replace kinds and gateways, change a metric, drop some routes.
    fib.replace_all(vec![
        route("198.18.64.0/26", RouteKind::Unreachable),
        route("198.18.65.0/26", RouteKind::Via(NextHop::via(ip("198.18.0.3")))),
        route("198.18.66.0/26", RouteKind::Via(NextHop::onlink(ip("198.19.1.2"), "tunl0"))),
        route("198.18.68.0/26", multipath(&["198.18.0.4", "198.18.0.3"])),
        route("198.18.69.0/26", RouteKind::Blackhole).with_metric(9),
        route("2001:db8:64::/64", RouteKind::Via(NextHop::via(ip("2001:db8:1::3")))),
        route("2001:db8:66::/64", multipath(&["2001:db8:1::4", "2001:db8:1::2"])),
    ]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!((st.desired, st.installed, st.failed), (7, 7, 0), "{st:?}");
    assert_eq!(
        ns.bird_routes(),
        set(&[
            "unreachable 198.18.64.0/26",
            "198.18.65.0/26 via 198.18.0.3 dev veth0",
            "198.18.66.0/26 via 198.19.1.2 dev tunl0 onlink",
            "198.18.68.0/26 nexthop via 198.18.0.3 dev veth0 weight 1 nexthop via 198.18.0.4 dev veth0 weight 1",
            "blackhole 198.18.69.0/26 metric 9",
            "2001:db8:64::/64 via 2001:db8:1::3 dev veth0 metric 1024",
            "2001:db8:66::/64 metric 1024 nexthop via 2001:db8:1::2 dev veth0 weight 1 nexthop via 2001:db8:1::4 dev veth0 weight 1",
        ])
    );

    // Step 3: delete everything.
    fib.replace_all(vec![]);
    let st = fib.flush_blocking().unwrap();
    assert_eq!(st.desired, 0);
    assert_eq!(ns.bird_routes(), Vec::<String>::new());
    // The connected routes the kernel made are still there.
    assert!(ns.all_routes("-4").iter().any(|r| r.starts_with("198.18.0.0/24 dev veth0 proto kernel")));
}

/// `start_local`: the sync as a task of the caller's runtime, in the caller's namespace
/// (a thread that entered the test's namespace); it writes and reports like `start`.
#[test]
fn start_local_runs_on_the_callers_runtime() {
    if !common::can_run() {
        return;
    }
    let ns = Netns::new();
    let path = ns.path();
    let st = std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: plain setns(2) on this thread with an open namespace file.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (fib, _ev) = FibSync::start_local(Config::default()).unwrap();
            fib.set_route(DesiredRoute::new("198.18.70.0/26".parse().unwrap(), RouteKind::Blackhole));
            fib.set_route(DesiredRoute::new(
                "198.18.71.0/26".parse().unwrap(),
                RouteKind::Via(NextHop::via("198.18.0.2".parse().unwrap())),
            ));
            fib.flush().await.unwrap()
        })
    })
    .join()
    .unwrap();
    assert_eq!(st.installed, 2, "{st:?}");
    assert_eq!(
        ns.bird_routes(),
        vec!["198.18.71.0/26 via 198.18.0.2 dev veth0".to_string(), "blackhole 198.18.70.0/26".to_string()]
    );
    // A namespace path is refused: the caller's namespace is the one used.
    let err = FibSync::start_local(Config { netns: Some(ns.path()), ..Config::default() }).err().unwrap();
    assert!(matches!(err, fib_sync::FibSyncError::Netns { .. }), "{err}");
}
