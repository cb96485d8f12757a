//! Deterministic tests of the sync's decisions.

use super::*;
use crate::types::RT_TABLE_MAIN;
use crate::wire::RTN_UNICAST;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn kroute(p: &str, metric: u32, proto: u8, spec: Spec) -> KRoute {
    KRoute {
        table: RT_TABLE_MAIN,
        prefix: net(p),
        metric,
        protocol: proto,
        rtype: match spec {
            Spec::Blackhole => crate::wire::RTN_BLACKHOLE,
            _ => RTN_UNICAST,
        },
        spec,
        oif: 0,
        device_route: false,
    }
}

fn via(gw: &str, oif: u32) -> Spec {
    Spec::unicast(vec![Hop { gw: ip(gw), oif, onlink: false, weight: 1 }])
}

fn blackhole(p: &str) -> DesiredRoute {
    DesiredRoute::new(net(p), RouteKind::Blackhole)
}

fn setup() -> (Reconciler, Instant) {
    let now = Instant::now();
    let mut r = Reconciler::new(now, Duration::from_secs(10), Backoff::default());
    r.on_link(KLink { index: 2, name: "eth0".into(), up: true }, true);
    r.on_addr(KAddr { index: 2, net: net("198.18.0.0/24") }, true);
    r.needs_resync = false;
    r.take_events();
    (r, now)
}

/// Apply ops as if the kernel accepted them all.
fn ack_all(r: &mut Reconciler, now: Instant) -> Vec<Op> {
    let ops = r.next_ops(usize::MAX, now);
    for op in &ops {
        r.op_done(op.clone(), Ok(()), now);
    }
    ops
}

#[test]
fn adopts_matching_and_deletes_stale_only_after_grace() {
    let (mut r, now) = setup();
    r.begin_resync();
    r.resync_route(kroute("198.18.8.0/26", 0, 12, Spec::Blackhole), now); // matches
    r.resync_route(kroute("198.18.9.0/26", 0, 12, Spec::Blackhole), now); // stale
    r.resync_route(kroute("198.18.10.0/26", 0, 12, Spec::Unreachable), now); // differs
    r.resync_route(kroute("198.18.9.0/26", 10, 4, Spec::Blackhole), now); // static: not ours
    r.end_resync(now);
    r.replace_all(vec![blackhole("198.18.8.0/26"), blackhole("198.18.10.0/26")], now);
    let ops = ack_all(&mut r, now);
    // Only the differing route is written; nothing is deleted during the grace period.
    assert_eq!(
        ops,
        vec![Op::Install {
            key: RouteKey { table: 254, prefix: net("198.18.10.0/26") },
            metric: 0,
            spec: Spec::Blackhole
        }]
    );
    assert_eq!(r.status().installed, 2);
    assert_eq!(r.status().stale, 1);
    r.tick(now + Duration::from_secs(5));
    assert!(r.next_ops(10, now).is_empty());
    r.tick(now + Duration::from_secs(10));
    assert_eq!(r.next_ops(10, now), vec![Op::Delete((254, net("198.18.9.0/26"), 0))]);
    assert!(r.take_events().contains(&FibEvent::StaleRemoved(1)));
}

#[test]
fn converged_ends_grace_early() {
    let (mut r, now) = setup();
    r.begin_resync();
    r.resync_route(kroute("198.18.9.0/26", 0, 12, Spec::Blackhole), now);
    r.end_resync(now);
    assert!(r.next_ops(10, now).is_empty());
    r.converged();
    assert_eq!(r.next_ops(10, now), vec![Op::Delete((254, net("198.18.9.0/26"), 0))]);
    assert!(!r.in_grace());
}

#[test]
fn tamper_is_repaired() {
    let (mut r, now) = setup();
    r.set_route(DesiredRoute::new(net("198.19.1.0/24"), RouteKind::Via(NextHop::via(ip("198.18.0.2")))), now);
    ack_all(&mut r, now);
    // Someone replaces it with another gateway under another protocol.
    r.on_route(true, kroute("198.19.1.0/24", 0, 3, via("198.18.0.3", 2)), true, now);
    assert_eq!(ack_all(&mut r, now).len(), 1);
    // Someone deletes it.
    r.on_route(false, kroute("198.19.1.0/24", 0, 12, via("198.18.0.2", 2)), false, now);
    assert_eq!(r.next_ops(10, now).len(), 1);
    // Our own shape echoed back (e.g. by a resync) changes nothing.
    r.on_route(true, kroute("198.19.1.0/24", 0, 12, via("198.18.0.2", 2)), false, now);
    assert!(r.next_ops(10, now).is_empty());
    // A foreign route on the same prefix with another metric is left alone.
    r.on_route(true, kroute("198.19.1.0/24", 50, 4, via("198.18.0.9", 2)), false, now);
    assert!(r.next_ops(10, now).is_empty());
}

#[test]
fn resync_repairs_silently_flushed_routes() {
    let (mut r, now) = setup();
    r.set_route(blackhole("198.18.8.0/26"), now);
    r.set_route(blackhole("198.18.9.0/26"), now);
    ack_all(&mut r, now);
    r.begin_resync();
    r.resync_route(kroute("198.18.8.0/26", 0, 12, Spec::Blackhole), now);
    r.end_resync(now);
    let ops = r.next_ops(10, now);
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Install { key, .. } if key.prefix == net("198.18.9.0/26")));
}

#[test]
fn failures_back_off_and_recover_without_blocking_others() {
    let (mut r, now) = setup();
    r.set_route(DesiredRoute::new(net("198.19.2.0/24"), RouteKind::Via(NextHop::via(ip("198.19.200.1")))), now);
    r.set_route(blackhole("198.18.8.0/26"), now);
    let ops = r.next_ops(10, now);
    assert_eq!(ops.len(), 2);
    r.op_done(ops[0].clone(), Err((libc::ENETUNREACH, "Nexthop has invalid gateway".into())), now);
    r.op_done(ops[1].clone(), Ok(()), now);
    let ev = r.take_events();
    assert!(
        matches!(&ev[0], FibEvent::RouteFailed { error: RouteError::Kernel { errno, prefix, reason, .. }, attempt: 1, retry_in }
        if *errno == libc::ENETUNREACH && *prefix == net("198.19.2.0/24")
            && reason == "Nexthop has invalid gateway" && *retry_in == Duration::from_millis(200))
    );
    assert_eq!(r.status().failed, 1);
    assert_eq!(r.status().installed, 1);
    assert_eq!(r.next_deadline(), Some(now + Duration::from_millis(200)));
    r.tick(now + Duration::from_millis(100));
    assert!(r.next_ops(10, now).is_empty());
    let later = now + Duration::from_millis(200);
    r.tick(later);
    let ops = r.next_ops(10, later);
    assert_eq!(ops.len(), 1);
    r.op_done(ops[0].clone(), Err((libc::ENETUNREACH, String::new())), later);
    assert!(matches!(r.take_events()[0], FibEvent::RouteFailed { attempt: 2, .. }));
    r.tick(later + Duration::from_millis(400));
    let ops = r.next_ops(10, later);
    r.op_done(ops[0].clone(), Ok(()), later);
    assert!(matches!(r.take_events()[0], FibEvent::RouteRecovered(_)));
    assert_eq!(r.status().failed, 0);
}

#[test]
fn missing_device_fails_then_retries_when_link_appears() {
    let (mut r, now) = setup();
    r.set_route(
        DesiredRoute::new(net("198.19.3.0/26"), RouteKind::Via(NextHop::onlink(ip("198.19.100.1"), "tunl0"))),
        now,
    );
    assert!(r.next_ops(10, now).is_empty());
    assert!(matches!(
        &r.take_events()[0],
        FibEvent::RouteFailed { error: RouteError::NoSuchDevice { dev, .. }, .. } if dev == "tunl0"
    ));
    r.on_link(KLink { index: 9, name: "tunl0".into(), up: true }, true);
    let ops = r.next_ops(10, now);
    assert_eq!(
        ops,
        vec![Op::Install {
            key: RouteKey { table: 254, prefix: net("198.19.3.0/26") },
            metric: 0,
            spec: Spec::unicast(vec![Hop { gw: ip("198.19.100.1"), oif: 9, onlink: true, weight: 1 }])
        }]
    );
}

#[test]
fn recursive_next_hop_follows_the_underlying_route() {
    let (mut r, now) = setup();
    r.on_route(true, kroute("198.19.5.0/24", 0, 4, via("198.18.0.2", 2)), false, now);
    r.set_route(DesiredRoute::new(net("198.19.100.0/24"), RouteKind::Via(NextHop::via(ip("198.19.5.1")))), now);
    let ops = ack_all(&mut r, now);
    assert!(matches!(&ops[0], Op::Install { spec, .. } if *spec == via("198.18.0.2", 0)));
    r.on_route(true, kroute("198.19.5.0/24", 0, 4, via("198.18.0.3", 2)), true, now);
    let ops = ack_all(&mut r, now);
    assert!(matches!(&ops[0], Op::Install { spec, .. } if *spec == via("198.18.0.3", 0)));
    assert!(r.next_ops(10, now).is_empty());
}

#[test]
fn metric_change_installs_new_then_deletes_old_and_remove_deletes() {
    let (mut r, now) = setup();
    r.set_route(blackhole("198.18.8.0/26"), now);
    ack_all(&mut r, now);
    r.set_route(blackhole("198.18.8.0/26").with_metric(7), now);
    let ops = r.next_ops(10, now);
    assert!(matches!(ops[0], Op::Install { metric: 7, .. }));
    assert_eq!(ops[1], Op::Delete((254, net("198.18.8.0/26"), 0)));
    r.remove_route(254, net("198.18.8.0/26"));
    assert_eq!(r.next_ops(10, now), vec![Op::Delete((254, net("198.18.8.0/26"), 7))]);
    // IPv6 metric 0 is the kernel's 1024.
    r.set_route(blackhole("2001:db8::/64"), now);
    assert!(matches!(r.next_ops(10, now)[0], Op::Install { metric: 1024, .. }));
}

#[test]
fn stale_route_appearing_after_grace_is_deleted() {
    let (mut r, now) = setup();
    r.converged();
    r.on_route(true, kroute("198.18.9.0/26", 0, 12, Spec::Blackhole), false, now);
    assert_eq!(r.next_ops(10, now), vec![Op::Delete((254, net("198.18.9.0/26"), 0))]);
    // Other protocols' routes are never deleted.
    r.on_route(true, kroute("198.18.7.0/26", 0, 4, Spec::Blackhole), false, now);
    assert!(r.next_ops(10, now).is_empty());
}

#[test]
fn learning_reports_and_unreports() {
    let (mut r, now) = setup();
    r.on_link(KLink { index: 5, name: "cali0001".into(), up: true }, true);
    r.set_learn_filter(LearnFilter::calico(vec![net("198.18.64.0/26")]));
    r.take_events();
    let mut k = kroute("198.19.0.5/32", 0, 80, Spec::Other);
    k.device_route = true;
    k.oif = 5;
    r.on_route(true, k.clone(), false, now);
    assert!(matches!(&r.take_events()[..], [FibEvent::Learned(l)] if l.dev == "cali0001"));
    r.on_route(false, k, false, now);
    assert!(matches!(&r.take_events()[..], [FibEvent::Unlearned(_)]));
}

#[test]
fn node_subnets_event() {
    let (mut r, _) = setup();
    assert_eq!(r.node_subnets(), &[net("198.18.0.0/24")]);
    r.on_addr(KAddr { index: 2, net: net("198.18.1.0/24") }, true);
    assert_eq!(r.take_events(), vec![FibEvent::NodeSubnets(vec![net("198.18.0.0/24"), net("198.18.1.0/24")])]);
}

#[test]
fn a_route_fought_over_backs_off() {
    let (mut r, now) = setup();
    r.set_route(blackhole("198.18.8.0/26"), now);
    ack_all(&mut r, now);
    let gone = || kroute("198.18.8.0/26", 0, 12, Spec::Blackhole);
    for i in 0..REPAIR_BURST {
        let t = now + Duration::from_millis(i as u64);
        r.on_route(false, gone(), false, t);
        assert_eq!(ack_all(&mut r, t).len(), 1, "repair {i} is immediate");
    }
    r.take_events();
    let t = now + Duration::from_millis(100);
    r.on_route(false, gone(), false, t);
    assert!(r.next_ops(10, t).is_empty());
    assert!(r.take_events().iter().any(|e| matches!(
        e,
        FibEvent::RouteFailed { error: RouteError::Contended { repairs, .. }, attempt: 1, .. } if *repairs == REPAIR_BURST + 1
    )));
    let later = t + Duration::from_millis(200);
    r.tick(later);
    assert_eq!(ack_all(&mut r, later).len(), 1);
    // After a quiet window, repairs are immediate again.
    let much_later = later + REPAIR_WINDOW + Duration::from_secs(1);
    r.on_route(false, gone(), false, much_later);
    assert_eq!(r.next_ops(10, much_later).len(), 1);
}
