//! Interop of our speaker (`bgp_speaker`, run inside a namespace by
//! `tests::speaker::NsSpeaker`) with BIRD 2 in another namespace: sessions both ways,
//! IPv4 and IPv6 (MP-BGP over the IPv4 session, IPv6 next hops) with communities, large
//! communities, MED and LOCAL_PREF checked exactly on both sides, route refresh both
//! ways, graceful restart of BIRD, TCP MD5, and Bad Peer AS both ways.
//!
//! Needs root and `bird`; prints a SKIP line and passes otherwise.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use bgp_proto::{AsPath, Community, LargeCommunity, NextHop};
use bgp_speaker::rib::{PathAttrs, Prefix};
use tests::peers::{BgpDaemon, Bird, Neighbor, PeerSpec, Route};
use tests::proc::Proc;
use tests::speaker::{have, lab_ok, neighbor, pfx, speaker_config, them, us, wait_for, NsSpeaker, Pair};

const T: Duration = Duration::from_secs(30);

fn skip(test: &str) -> bool {
    !(lab_ok(test) && have(test, "bird"))
}

/// BIRD's routes: 10.244.2.0/26 and 2001:db8:f00:2::/64.
fn bird_routes(asn: u32, lp: Option<u32>) -> Vec<Route> {
    ["10.244.2.0/26", "2001:db8:f00:2::/64"]
        .into_iter()
        .map(|p| {
            let r = Route::new(p).community(asn as u16, 1).community(asn as u16, 2).large(asn, 1, 2).med(20);
            match lp {
                Some(lp) => r.local_pref(lp),
                None => r,
            }
        })
        .collect()
}

/// Our routes: 10.244.1.0/26 and 2001:db8:f00:1::/64.
fn our_routes(asn: u32, lp: Option<u32>) -> Vec<(Prefix, PathAttrs)> {
    ["10.244.1.0/26", "2001:db8:f00:1::/64"]
        .into_iter()
        .map(|p| {
            let a = PathAttrs {
                communities: vec![Community::new(asn as u16, 7), Community::new(asn as u16, 8)],
                large_communities: vec![LargeCommunity::new(asn, 7, 8)],
                med: Some(10),
                local_pref: lp,
                ..Default::default()
            };
            (pfx(p), a)
        })
        .collect()
}

/// The `BGP.*` attribute lines of BIRD's best route for `prefix` (`show route P all`).
fn bird_attrs(bird: &Bird, prefix: &str) -> BTreeMap<String, String> {
    let out = bird.birdc(&["show", "route", prefix, "all"]).expect("birdc show route");
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (k, v) = l.split_once(':')?;
            k.starts_with("BGP.").then(|| (k.trim_start_matches("BGP.").to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The first number of BIRD's "Import updates:" / "Export updates:" statistics lines
/// (received / sent), summed over the channels of protocol n0.
fn bird_stat(bird: &Bird, what: &str) -> u64 {
    let out = bird.birdc(&["show", "protocols", "all", "n0"]).expect("birdc show protocols all");
    out.lines().filter_map(|l| l.trim().strip_prefix(what)?.split_whitespace().next()?.parse::<u64>().ok()).sum()
}

/// BIRD sends MED to an eBGP neighbour only when the export filter sets it (attributes
/// set by the static protocol are dropped), so the eBGP config sets it there.
fn bird_med_in_export_filter(bird: &Bird, med: u32) {
    let conf = std::fs::read_to_string(bird.config_path()).expect("bird.conf");
    let conf = conf.replace(
        "export where source ~ [RTS_STATIC, RTS_BGP];",
        &format!("export filter {{ if source ~ [RTS_STATIC, RTS_BGP] then {{ bgp_med = {med}; accept; }} reject; }};"),
    );
    std::fs::write(bird.config_path(), conf).expect("bird.conf");
    let out = bird.birdc(&["configure"]).expect("birdc configure");
    assert!(out.contains("Reconfigur"), "{out}");
}

fn expect(map: &BTreeMap<String, String>, key: &str, want: &str, ctx: &str) {
    assert_eq!(map.get(key).map(String::as_str), Some(want), "{ctx}: BGP.{key} in {map:?}");
}

/// Routes flow both ways with exact attributes, then route refresh both ways.
fn routes_and_refresh(test: &str, ibgp: bool, we_dial: bool) {
    if skip(test) {
        return;
    }
    let (our_as, bird_as) = if ibgp { (64512, 64512) } else { (65001, 65002) };
    let pair = Pair::new(if ibgp { "bi" } else { "be" }).expect("namespaces");
    let spec = PeerSpec::new("b", bird_as, Pair::PEER_V4)
        .v6(Pair::PEER_V6)
        .neighbor(Neighbor::new(us(), our_as).passive(we_dial))
        .routes(bird_routes(bird_as, ibgp.then_some(200)));
    let mut bird = Bird::start(&pair.peer, spec).expect("bird");
    if !ibgp {
        bird_med_in_export_filter(&bird, 20);
    }
    let mut n = neighbor(our_as, Pair::US_V4, them(), bird_as);
    n.session.passive = !we_dial;
    n.transport.source = Some(us());
    n.next_hop_v6 = Some(Pair::US_V6);
    let sp = NsSpeaker::start(&pair.us, speaker_config(our_as, Pair::US_V4, us(), vec![n])).expect("speaker");
    for (p, a) in our_routes(our_as, ibgp.then_some(300)) {
        sp.originate(p, a).expect("originate");
    }

    sp.wait_established(them(), T).expect("our session");
    bird.wait_established(us(), T).expect("BIRD session");
    bird.wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("BIRD learns our routes");
    let got = sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("we learn BIRD's");

    // Ours, as BIRD sees them.
    let path = if ibgp { "".to_string() } else { our_as.to_string() };
    for (p, nh) in [("10.244.1.0/26", Pair::US_V4.to_string()), ("2001:db8:f00:1::/64", Pair::US_V6.to_string())] {
        let a = bird_attrs(&bird, p);
        expect(&a, "origin", "IGP", p);
        expect(&a, "as_path", &path, p);
        assert!(a.get("next_hop").is_some_and(|v| v.split_whitespace().next() == Some(nh.as_str())), "{p}: {a:?}");
        expect(&a, "med", "10", p);
        expect(&a, "community", &format!("({our_as},7) ({our_as},8)"), p);
        expect(&a, "large_community", &format!("({our_as}, 7, 8)"), p);
        if ibgp {
            expect(&a, "local_pref", "300", p);
        } else {
            // We send none over eBGP; BIRD shows its own default (100) for eBGP routes.
            assert!(a.get("local_pref").is_none_or(|v| v == "100"), "{p}: {a:?}");
        }
    }
    // BIRD's, as we see them.
    for (r, nh) in got.iter().zip([NextHop::V4(Pair::PEER_V4), NextHop::V6 { global: Pair::PEER_V6, link_local: None }])
    {
        let a = &r.route.attrs;
        let ctx = format!("{r:?}");
        assert_eq!(a.as_path, if ibgp { AsPath::default() } else { AsPath::from_sequence([bird_as]) }, "{ctx}");
        match (&a.next_hop, &nh) {
            (Some(NextHop::V6 { global, .. }), NextHop::V6 { global: want, .. }) => assert_eq!(global, want, "{ctx}"),
            (got, want) => assert_eq!(got.as_ref(), Some(want), "{ctx}"),
        }
        assert_eq!(a.communities, vec![Community::new(bird_as as u16, 1), Community::new(bird_as as u16, 2)], "{ctx}");
        assert_eq!(a.large_communities, vec![LargeCommunity::new(bird_as, 1, 2)], "{ctx}");
        assert_eq!(a.med, Some(20), "{ctx}");
        assert_eq!(a.local_pref, ibgp.then_some(200), "{ctx}");
        assert!(!r.stale && !r.rejected, "{ctx}");
    }

    // We ask BIRD to re-send: its UPDATEs arrive again (both families), routes stay.
    wait_for("End-of-RIB from BIRD", || {
        let p = sp.peer(them()).unwrap();
        (p.end_of_rib.len() >= 2).then_some(())
    });
    let before = sp.peer(them()).unwrap().updates_received;
    let bird_sent = bird_stat(&bird, "Export updates:");
    sp.refresh(them()).expect("refresh");
    wait_for("BIRD to answer our ROUTE-REFRESH", || {
        (sp.peer(them()).unwrap().updates_received >= before + 2).then_some(())
    });
    assert!(bird_stat(&bird, "Export updates:") >= bird_sent + 2, "BIRD counted its re-sent UPDATEs");
    sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("routes stay");

    // BIRD asks us (`reload in`): we get its ROUTE-REFRESH and re-send ours.
    let received = bird_stat(&bird, "Import updates:");
    let asked = sp.peer(them()).unwrap().refresh_requests_received;
    bird.birdc(&["reload", "in", "n0"]).expect("birdc reload in");
    wait_for("BIRD's ROUTE-REFRESH", || {
        (sp.peer(them()).unwrap().refresh_requests_received >= asked + 2).then_some(())
    });
    let again = tests::poll("BIRD to receive our routes again", T, Duration::from_millis(100), || {
        Ok((bird_stat(&bird, "Import updates:") >= received + 2).then_some(()))
    });
    if let Err(e) = again {
        panic!("{e}: {}\n{}", bird.birdc(&["show", "protocols", "all", "n0"]).unwrap(), bird.log());
    }
    bird.wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("BIRD keeps our routes");
    let st = sp.peer(them()).unwrap();
    assert_eq!(st.flaps, 0, "no session reset: {st:?}");
    drop(sp);
    drop(bird);
}

#[test]
fn interop_bird_ebgp_we_dial_routes_attrs_refresh() {
    routes_and_refresh("interop_bird_ebgp_we_dial_routes_attrs_refresh", false, true);
}

#[test]
fn interop_bird_ibgp_bird_dials_routes_attrs_local_pref_refresh() {
    routes_and_refresh("interop_bird_ibgp_bird_dials_routes_attrs_local_pref_refresh", true, false);
}

/// BIRD is killed (-9) and started again with the same config and `-R` (graceful
/// restart recovery): its routes stay in our RIB, stale, with no withdrawal, until its
/// End-of-RIB, and are then fresh again.
#[test]
fn interop_bird_graceful_restart_keeps_routes() {
    let test = "interop_bird_graceful_restart_keeps_routes";
    if skip(test) {
        return;
    }
    let pair = Pair::new("bgr").expect("namespaces");
    let spec = PeerSpec::new("b", 65002, Pair::PEER_V4)
        .v6(Pair::PEER_V6)
        .neighbor(Neighbor::new(us(), 65001).passive(true))
        .routes(bird_routes(65002, None));
    let bird = Bird::start(&pair.peer, spec).expect("bird");
    let mut n = neighbor(65001, Pair::US_V4, them(), 65002);
    n.transport.source = Some(us());
    n.next_hop_v6 = Some(Pair::US_V6);
    n.session.graceful_restart = Some(Default::default());
    let sp = NsSpeaker::start(&pair.us, speaker_config(65001, Pair::US_V4, us(), vec![n])).expect("speaker");
    let theirs = [pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")];
    sp.wait_established(them(), T).expect("our session");
    sp.wait_routes(&theirs, T).expect("BIRD's routes");
    wait_for("End-of-RIB from BIRD", || (sp.peer(them()).unwrap().end_of_rib.len() >= 2).then_some(()));
    let mut events = sp.handle().subscribe();

    // Kill BIRD hard: no NOTIFICATION, just the TCP connection gone.
    let conf = bird.config_path().to_path_buf();
    let dir = bird.dir().to_path_buf();
    for pid in pair.peer.pids().expect("pids") {
        // SAFETY: kill(2) on a pid living in our own namespace (BIRD).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    wait_for("our session to notice", || (sp.peer(them()).unwrap().state != "Established").then_some(()));
    for p in theirs {
        let r = sp.best(p).unwrap().unwrap_or_else(|| panic!("{p} kept during the restart"));
        assert!(r.stale, "{p} is stale during the restart: {r:?}");
    }
    // The same config, GR recovery mode, a fresh control socket.
    let sock = dir.join("bird2.ctl");
    let args = [
        "-f".to_string(),
        "-R".into(),
        "-c".into(),
        conf.display().to_string(),
        "-s".into(),
        sock.display().to_string(),
        "-P".into(),
        dir.join("bird2.pid").display().to_string(),
    ];
    let _bird2 = Proc::spawn_in(&pair.peer, "bird", &args, &dir.join("bird2.log")).expect("bird again");
    let up_again = Instant::now();
    wait_for("the session back and BIRD's End-of-RIB", || {
        let p = sp.peer(them()).unwrap();
        (p.state == "Established" && p.end_of_rib.len() >= 2).then_some(())
    });
    for p in theirs {
        let r = sp.best(p).unwrap().unwrap_or_else(|| panic!("{p} after the restart"));
        assert!(!r.stale, "{p} refreshed after End-of-RIB: {r:?}");
    }
    let mut batches = 0;
    while let Ok(b) = events.try_recv() {
        batches += 1;
        for c in b.iter() {
            assert!(!(theirs.contains(&c.prefix) && c.is_withdraw()), "{} withdrawn during the restart", c.prefix);
        }
    }
    eprintln!("{test}: back in {:?}, {batches} event batches, no withdrawal", up_again.elapsed());
    drop(sp);
    drop(bird);
}

fn md5(test: &str, ours: &str, theirs: &str) {
    if skip(test) {
        return;
    }
    let pair = Pair::new("bm").expect("namespaces");
    let spec = PeerSpec::new("b", 65002, Pair::PEER_V4).neighbor(Neighbor::new(us(), 65001).md5(theirs));
    let mut bird = Bird::start(&pair.peer, spec).expect("bird");
    let mut n = neighbor(65001, Pair::US_V4, them(), 65002);
    n.transport.source = Some(us());
    n.transport.md5_key = Some(ours.as_bytes().to_vec());
    let sp = NsSpeaker::start(&pair.us, speaker_config(65001, Pair::US_V4, us(), vec![n])).expect("speaker");
    if ours == theirs {
        sp.wait_established(them(), T).expect("our session");
        bird.wait_established(us(), T).expect("BIRD session");
        return;
    }
    // Both sides dial and listen; for 5 s neither gets anywhere.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let p = sp.peer(them()).unwrap();
        assert!(matches!(p.state.as_str(), "Idle" | "Connect" | "Active"), "no OPEN exchanged: {p:?}");
        assert!(!bird.is_established(us()).unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = bird.log();
    assert!(!log.contains("Established") && !log.contains("OPEN"), "BIRD saw no session:\n{log}");
    let p = sp.peer(them()).unwrap();
    assert_eq!(p.last_error, None, "no NOTIFICATION either way: {p:?}");
}

#[test]
fn interop_bird_md5_matching_key_comes_up() {
    md5("interop_bird_md5_matching_key_comes_up", "s3cret-key", "s3cret-key");
}

#[test]
fn interop_bird_md5_wrong_key_never_comes_up() {
    md5("interop_bird_md5_wrong_key_never_comes_up", "s3cret-key", "other-key");
}

/// `we_expect_wrong`: we expect AS 65099 but BIRD is 65002, so we send 2/2 (Bad Peer
/// AS). Otherwise BIRD expects 65098 for us (we are 65001): BIRD sends 2/2 and we
/// record it.
fn bad_peer_as(test: &str, we_expect_wrong: bool) {
    if skip(test) {
        return;
    }
    let pair = Pair::new("bas").expect("namespaces");
    let their_view_of_us = if we_expect_wrong { 65001 } else { 65098 };
    let our_view_of_them = if we_expect_wrong { 65099 } else { 65002 };
    let spec = PeerSpec::new("b", 65002, Pair::PEER_V4).neighbor(Neighbor::new(us(), their_view_of_us).passive(true));
    let mut bird = Bird::start(&pair.peer, spec).expect("bird");
    let mut n = neighbor(65001, Pair::US_V4, them(), our_view_of_them);
    n.transport.source = Some(us());
    let sp = NsSpeaker::start(&pair.us, speaker_config(65001, Pair::US_V4, us(), vec![n])).expect("speaker");
    let want = if we_expect_wrong { "sent 2/2" } else { "received 2/2" };
    wait_for(want, || (sp.peer(them()).unwrap().last_error.as_deref() == Some(want)).then_some(()));
    assert!(!bird.is_established(us()).unwrap());
    let log = bird.log();
    assert!(log.to_lowercase().contains("bad peer as"), "BIRD logs the Bad Peer AS error:\n{log}");
}

#[test]
fn interop_bird_we_expect_wrong_as_send_2_2() {
    bad_peer_as("interop_bird_we_expect_wrong_as_send_2_2", true);
}

#[test]
fn interop_bird_expects_wrong_as_we_receive_2_2() {
    bad_peer_as("interop_bird_expects_wrong_as_we_receive_2_2", false);
}
