//! Two and three in-process speakers over real TCP on 127.0.0.x: routes and
//! withdrawals flow, a reflector adds its attributes, loops are cut, best path picks
//! what RFC 4271 §9.1.2.2 says.

use bgp_proto::{AsPath, NextHop};
use bgp_speaker::rib::{PathAttrs, Prefix, RouteInfo};
use bgp_speaker::session::PeerAs;
use bgp_speaker::{NeighborConfig, Speaker, SpeakerConfig, SpeakerHandle};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rid(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A neighbour with fast timers for tests.
fn neighbor(
    local_as: u32,
    router_id: Ipv4Addr,
    addr: &str,
    port: u16,
    peer_as: u32,
    source: Option<&str>,
) -> NeighborConfig {
    let mut n = NeighborConfig::new(local_as, router_id, ip(addr), PeerAs::Exact(peer_as));
    n.port = port;
    n.transport.source = source.map(ip);
    n.transport.connect_timeout = Some(Duration::from_secs(2));
    n.session.connect_retry = Duration::from_millis(300);
    n.session.idle_hold = Duration::from_millis(100);
    n.session.hold_time = 9;
    n
}

/// A speaker listening on `addr:0`; returns its handle and port.
async fn listening(asn: u32, router_id: &str, addr: &str) -> (SpeakerHandle, u16) {
    let mut cfg = SpeakerConfig::new(asn, rid(router_id));
    cfg.listen = vec![SocketAddr::new(ip(addr), 0)];
    let h = Speaker::start(cfg).await.unwrap();
    let port = h.local_addrs()[0].port();
    (h, port)
}

async fn active(asn: u32, router_id: &str, neighbors: Vec<NeighborConfig>) -> SpeakerHandle {
    let mut cfg = SpeakerConfig::new(asn, rid(router_id));
    cfg.neighbors = neighbors;
    Speaker::start(cfg).await.unwrap()
}

/// Polls `f` until it returns Some, for at most 10 s (the condition is event-driven;
/// the bound only keeps a broken build from hanging CI).
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn best(h: &SpeakerHandle, p: Prefix) -> Option<RouteInfo> {
    h.routes(Some(p)).await.unwrap().into_iter().flat_map(|(_, v)| v).find(|r| r.best)
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn local_attrs() -> PathAttrs {
    PathAttrs { as_path: AsPath::default(), ..Default::default() }
}

async fn wait_established(h: &SpeakerHandle, n: usize) {
    eventually("sessions Established", async || {
        let p = h.peers().await.unwrap();
        (p.iter().filter(|s| s.state == "Established").count() >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ibgp_pair_routes_and_withdrawals_flow() {
    let (a, port) = listening(64512, "198.18.0.1", "127.0.10.1").await;
    a.add_peer({
        let mut n = neighbor(64512, rid("198.18.0.1"), "127.0.10.2", 179, 64512, None);
        n.session.passive = true;
        n
    })
    .await
    .unwrap();
    let b = active(
        64512,
        "198.18.0.2",
        vec![neighbor(64512, rid("198.18.0.2"), "127.0.10.1", port, 64512, Some("127.0.10.2"))],
    )
    .await;
    wait_established(&a, 1).await;
    wait_established(&b, 1).await;

    let block = pfx("10.244.1.0/26");
    a.originate(block, local_attrs()).await.unwrap();
    let r = eventually("B learns A's block", async || best(&b, block).await).await;
    // iBGP from A: next hop is A's session address (next-hop self for local routes),
    // LOCAL_PREF 100, empty AS_PATH.
    assert_eq!(r.route.attrs.next_hop, Some(NextHop::V4(rid("127.0.10.1"))));
    assert_eq!(r.route.attrs.local_pref, Some(100));
    assert_eq!(r.route.attrs.as_path, AsPath::default());

    a.withdraw(block).await.unwrap();
    eventually("B drops the block", async || best(&b, block).await.is_none().then_some(())).await;
    a.shutdown(Some("test over".into())).await.unwrap();
    b.shutdown(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_sets_originator_and_cluster_list_and_keeps_next_hop() {
    let (rr, port) = listening(64512, "198.18.1.1", "127.0.11.1").await;
    for c in ["127.0.11.2", "127.0.11.3"] {
        let mut n = neighbor(64512, rid("198.18.1.1"), c, 179, 64512, None);
        n.session.passive = true;
        n.rr_client = true;
        rr.add_peer(n).await.unwrap();
    }
    let c1 = active(
        64512,
        "198.18.1.2",
        vec![neighbor(64512, rid("198.18.1.2"), "127.0.11.1", port, 64512, Some("127.0.11.2"))],
    )
    .await;
    let c2 = active(
        64512,
        "198.18.1.3",
        vec![neighbor(64512, rid("198.18.1.3"), "127.0.11.1", port, 64512, Some("127.0.11.3"))],
    )
    .await;
    wait_established(&rr, 2).await;

    let block = pfx("10.244.2.0/26");
    c1.originate(block, local_attrs()).await.unwrap();
    let r = eventually("C2 learns C1's block through the reflector", async || best(&c2, block).await).await;
    // RFC 4456 §8: ORIGINATOR_ID is C1's router ID, CLUSTER_LIST starts with the
    // reflector's cluster ID (its router ID), and the next hop is C1's, unchanged.
    assert_eq!(r.route.attrs.originator_id, Some(rid("198.18.1.2")));
    assert_eq!(r.route.attrs.cluster_list, vec![rid("198.18.1.1")]);
    assert_eq!(r.route.attrs.next_hop, Some(NextHop::V4(rid("127.0.11.2"))));

    // C1 does not get its own route back: the reflector never sends a route to the peer
    // it came from, and C1's only path is its local one.
    let c1_paths = c1.routes(Some(block)).await.unwrap();
    assert_eq!(c1_paths[0].1.len(), 1, "C1 must hold only its own path: {c1_paths:?}");

    for h in [rr, c1, c2] {
        h.shutdown(None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_path_prefers_shorter_as_path_over_ebgp() {
    // A (AS 64512) hears the same prefix from two eBGP neighbours: B (AS 65001) with a
    // one-AS path and C (AS 65002) which prepends twice. A must pick B's path.
    let (a, port) = listening(64512, "198.18.2.1", "127.0.12.1").await;
    for (addr, asn) in [("127.0.12.2", 65001), ("127.0.12.3", 65002)] {
        let mut n = neighbor(64512, rid("198.18.2.1"), addr, 179, asn, None);
        n.session.passive = true;
        a.add_peer(n).await.unwrap();
    }
    let b = active(
        65001,
        "198.18.2.2",
        vec![neighbor(65001, rid("198.18.2.2"), "127.0.12.1", port, 64512, Some("127.0.12.2"))],
    )
    .await;
    let c = active(
        65002,
        "198.18.2.3",
        vec![neighbor(65002, rid("198.18.2.3"), "127.0.12.1", port, 64512, Some("127.0.12.3"))],
    )
    .await;
    wait_established(&a, 2).await;
    let p = pfx("203.0.113.0/24");
    b.originate(p, local_attrs()).await.unwrap();
    c.originate(p, PathAttrs { as_path: AsPath::from_sequence([65002, 65002]), ..Default::default() }).await.unwrap();
    let r = eventually("A holds both paths", async || {
        let v = a.routes(Some(p)).await.unwrap();
        (v[0].1.len() == 2).then(|| v[0].1.clone())
    })
    .await;
    let chosen = r.iter().find(|x| x.best).unwrap();
    assert_eq!(chosen.route.attrs.as_path, AsPath::from_sequence([65001]));
    let other = r.iter().find(|x| !x.best).unwrap();
    assert_eq!(other.route.attrs.as_path, AsPath::from_sequence([65002, 65002, 65002]));
    for h in [a, b, c] {
        h.shutdown(None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_tags_routes_then_stops_with_a_message() {
    let (a, port) = listening(64512, "198.18.3.1", "127.0.13.1").await;
    a.add_peer({
        let mut n = neighbor(64512, rid("198.18.3.1"), "127.0.13.2", 179, 64512, None);
        n.session.passive = true;
        n
    })
    .await
    .unwrap();
    let b = active(
        64512,
        "198.18.3.2",
        vec![neighbor(64512, rid("198.18.3.2"), "127.0.13.1", port, 64512, Some("127.0.13.2"))],
    )
    .await;
    wait_established(&b, 1).await;
    let block = pfx("10.244.3.0/26");
    a.originate(block, local_attrs()).await.unwrap();
    let r = eventually("B learns the block", async || best(&b, block).await).await;
    assert_eq!(r.route.attrs.local_pref, Some(100));

    // RFC 8326: A re-advertises with GRACEFUL_SHUTDOWN; B lowers LOCAL_PREF to 0.
    a.set_graceful_shutdown(true).await.unwrap();
    let r = eventually("B sees the GRACEFUL_SHUTDOWN community", async || {
        best(&b, block).await.filter(|r| r.route.attrs.has_community(bgp_proto::Community::GRACEFUL_SHUTDOWN))
    })
    .await;
    assert_eq!(r.route.attrs.local_pref, Some(0));

    // Then the planned stop: B gets Cease/2 and drops A's routes.
    a.shutdown_gracefully(Some("maintenance".into()), Duration::from_millis(50)).await.unwrap();
    eventually("B drops the block after A's stop", async || best(&b, block).await.is_none().then_some(())).await;
    let st = b.peers().await.unwrap();
    assert_eq!(st[0].last_error.as_deref(), Some("received 6/2"), "{st:?}");
    b.shutdown(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_peer_local_as_is_presented_and_prepended() {
    // A runs AS 64512 but presents AS 65100 to B (BIRD's `local as`): B expects 65100
    // and sees it as the first AS of A's routes.
    let (a, port) = listening(64512, "198.18.4.1", "127.0.14.1").await;
    a.add_peer({
        let mut n = neighbor(65100, rid("198.18.4.1"), "127.0.14.2", 179, 65001, None);
        n.session.passive = true;
        n
    })
    .await
    .unwrap();
    let b = active(
        65001,
        "198.18.4.2",
        vec![neighbor(65001, rid("198.18.4.2"), "127.0.14.1", port, 65100, Some("127.0.14.2"))],
    )
    .await;
    wait_established(&b, 1).await;
    let block = pfx("10.244.4.0/26");
    a.originate(block, local_attrs()).await.unwrap();
    let r = eventually("B learns the block", async || best(&b, block).await).await;
    assert_eq!(r.route.attrs.as_path, AsPath::from_sequence([65100]));
    for h in [a, b] {
        h.shutdown(None).await.unwrap();
    }
}

/// Two speakers that dial each other at the same instant (RFC 4271 §6.8 connection
/// collision): each holds the other's connection while its own is in OpenSent. The
/// collision is resolved on the BGP identifiers and one session comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_open_from_both_sides_comes_up() {
    let (a, pa) = listening(64512, "10.0.4.1", "127.0.4.1").await;
    let (b, pb) = listening(64512, "10.0.4.2", "127.0.4.2").await;
    let na = neighbor(64512, rid("10.0.4.1"), "127.0.4.2", pb, 64512, Some("127.0.4.1"));
    let nb = neighbor(64512, rid("10.0.4.2"), "127.0.4.1", pa, 64512, Some("127.0.4.2"));
    let (ra, rb) = tokio::join!(a.add_peer(na), b.add_peer(nb));
    ra.unwrap();
    rb.unwrap();
    wait_established(&a, 1).await;
    wait_established(&b, 1).await;
    a.originate(pfx("10.244.4.0/26"), local_attrs()).await.unwrap();
    eventually("B learns A's route", async || best(&b, pfx("10.244.4.0/26")).await).await;
}

/// Peers whose export policies are equal (interned to one policy) and whose sessions
/// negotiated the same encoding share one update group; a peer with another export
/// policy gets its own, and what each receives follows its group's policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_with_equal_policies_share_one_update_group() {
    use bgp_speaker::rib::policy::Terminal;
    use bgp_speaker::rib::Policy;
    let accept = || Policy { name: "export".into(), default: Terminal::Accept, rules: Vec::new() };
    let (hub, port) = listening(64512, "198.18.2.1", "127.0.12.1").await;
    let spokes = ["127.0.12.2", "127.0.12.3", "127.0.12.4"];
    for (i, s) in spokes.iter().enumerate() {
        let mut n = neighbor(64512, rid("198.18.2.1"), s, 179, 64512, None);
        n.session.passive = true;
        n.export = Some(std::sync::Arc::new(if i < 2 {
            accept()
        } else {
            Policy { name: "export-none".into(), default: Terminal::Reject, rules: Vec::new() }
        }));
        hub.add_peer(n).await.unwrap();
    }
    let mut others = Vec::new();
    for (i, s) in spokes.iter().enumerate() {
        let id = format!("198.18.2.{}", i + 2);
        let n = neighbor(64512, rid(&id), "127.0.12.1", port, 64512, Some(s));
        others.push(active(64512, &id, vec![n]).await);
    }
    wait_established(&hub, 3).await;
    let block = pfx("10.244.2.0/26");
    hub.originate(block, local_attrs()).await.unwrap();
    for o in &others[..2] {
        eventually("the accepted spokes learn the block", async || best(o, block).await).await;
    }
    let peers = hub.peers().await.unwrap();
    let group = |a: &str| peers.iter().find(|p| p.address == ip(a)).and_then(|p| p.update_group);
    let (g2, g3, g4) = (group(spokes[0]), group(spokes[1]), group(spokes[2]));
    assert!(g2.is_some() && g4.is_some(), "Established peers are in a group: {g2:?} {g4:?}");
    assert_eq!(g2, g3, "equal export policies: one update group");
    assert_ne!(g2, g4, "another export policy: another group");
    assert_eq!(peers.iter().find(|p| p.address == ip(spokes[2])).unwrap().advertised, 0);
    assert!(best(&others[2], block).await.is_none(), "the reject-all policy sends nothing");
    for o in others {
        o.shutdown(None).await.unwrap();
    }
    hub.shutdown(None).await.unwrap();
}

/// Dynamic neighbours coming and going do not grow the RIB's peer table: once the
/// withdrawals of a departed neighbour have gone out (an observer loses its route), the
/// next neighbour takes its RIB id, and inherits none of its routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_dynamic_neighbours_rib_id_is_reused() {
    let (rr, port) = listening(64512, "198.18.0.1", "127.0.16.1").await;
    let mut template = neighbor(64512, rid("198.18.0.1"), "0.0.0.0", 179, 64512, None);
    template.rr_client = true;
    rr.set_dynamic(vec![bgp_speaker::driver::DynamicNeighbors {
        range: "127.0.16.0/24".parse().unwrap(),
        template,
        limit: 10,
    }])
    .await
    .unwrap();
    let client = |id: &'static str, source: &'static str| {
        active(64512, id, vec![neighbor(64512, rid(id), "127.0.16.1", port, 64512, Some(source))])
    };
    let rib_id = async |addr: &str| {
        let p = rr.peers().await.unwrap();
        p.iter().find(|s| s.address == ip(addr) && s.state == "Established").and_then(|s| s.rib_id)
    };
    let observer = client("198.18.0.9", "127.0.16.9").await;
    let first = client("198.18.0.2", "127.0.16.2").await;
    let old = eventually("the first client in the RIB", async || rib_id("127.0.16.2").await).await;
    let block = pfx("10.244.2.0/26");
    first.originate(block, local_attrs()).await.unwrap();
    eventually("the observer learns the block", async || best(&observer, block).await).await;

    first.shutdown(None).await.unwrap();
    eventually("the observer loses the block", async || best(&observer, block).await.is_none().then_some(())).await;
    let second = client("198.18.0.3", "127.0.16.3").await;
    let new = eventually("the second client in the RIB", async || rib_id("127.0.16.3").await).await;
    assert_eq!(new, old, "the departed neighbour's id is reused");
    assert!(best(&rr, block).await.is_none(), "nothing of the first client's is left");
    let other = pfx("10.244.3.0/26");
    second.originate(other, local_attrs()).await.unwrap();
    let r = eventually("the observer learns the second block", async || best(&observer, other).await).await;
    assert_eq!(r.route.attrs.next_hop, Some(NextHop::V4(rid("127.0.16.3"))));
    for h in [rr, observer, second] {
        h.shutdown(None).await.unwrap();
    }
}
