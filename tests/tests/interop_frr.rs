//! Interop of our speaker with FRR bgpd (no zebra) in namespaces: eBGP where we dial
//! and iBGP where FRR dials; IPv4 and IPv6 (MP-BGP over the IPv4 session) routes both
//! ways with communities, large communities, MED and LOCAL_PREF checked exactly on both
//! sides (FRR's JSON, our RIB); route refresh both ways.
//!
//! Needs root and FRR's bgpd; prints a SKIP line and passes otherwise.

use std::time::Duration;

use bgp_proto::{AsPath, Community, LargeCommunity, NextHop};
use bgp_speaker::rib::PathAttrs;
const BGPD: &str = "/usr/lib/frr/bgpd";
use tests::peers::{BgpDaemon, Frr, Neighbor, PeerSpec, Route};
use tests::speaker::{have, lab_ok, neighbor, pfx, speaker_config, them, us, wait_for, NsSpeaker, Pair};

// FRR holds its first UPDATEs back for a while after the session comes up.
const T: Duration = Duration::from_secs(30);

fn frr_json(frr: &Frr, cmd: &str) -> serde_json::Value {
    let out = frr.vtysh(&[cmd]).expect("vtysh");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd}: {e}: {out}"))
}

fn msg_stat(frr: &Frr, key: &str) -> u64 {
    let v = frr_json(frr, &format!("show bgp neighbors {} json", us()));
    v[us().to_string()]["messageStats"][key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn routes_and_refresh(test: &str, ibgp: bool, we_dial: bool) {
    if !(lab_ok(test) && have(test, BGPD)) {
        return;
    }
    let (our_as, frr_as) = if ibgp { (64512u32, 64512u32) } else { (65001, 65002) };
    let pair = Pair::new(if ibgp { "fi" } else { "fe" }).expect("namespaces");
    let lp = |v: u32| ibgp.then_some(v);
    let theirs: Vec<Route> = ["10.244.2.0/26", "2001:db8:f00:2::/64"]
        .into_iter()
        .map(|p| {
            let r = Route::new(p).community(frr_as as u16, 1).community(frr_as as u16, 2).large(frr_as, 1, 2).med(20);
            if ibgp {
                r.local_pref(200)
            } else {
                r
            }
        })
        .collect();
    let spec = PeerSpec::new("f", frr_as, Pair::PEER_V4)
        .v6(Pair::PEER_V6)
        .neighbor(Neighbor::new(us(), our_as).passive(we_dial))
        .routes(theirs);
    let mut frr = Frr::start(&pair.peer, spec).expect("frr");
    let mut n = neighbor(our_as, Pair::US_V4, them(), frr_as);
    n.session.passive = !we_dial;
    n.transport.source = Some(us());
    n.next_hop_v6 = Some(Pair::US_V6);
    let sp = NsSpeaker::start(&pair.us, speaker_config(our_as, Pair::US_V4, us(), vec![n])).expect("speaker");
    for p in ["10.244.1.0/26", "2001:db8:f00:1::/64"] {
        let a = PathAttrs {
            communities: vec![Community::new(our_as as u16, 7), Community::new(our_as as u16, 8)],
            large_communities: vec![LargeCommunity::new(our_as, 7, 8)],
            med: Some(10),
            local_pref: lp(300),
            ..Default::default()
        };
        sp.originate(pfx(p), a).expect("originate");
    }
    sp.wait_established(them(), T).expect("our session");
    frr.wait_established(us(), T).expect("FRR session");
    frr.wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("FRR learns ours");
    let got = sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("we learn FRR's");

    // Ours, in FRR's JSON.
    for (p, af, nh) in
        [("10.244.1.0/26", "ipv4", Pair::US_V4.to_string()), ("2001:db8:f00:1::/64", "ipv6", Pair::US_V6.to_string())]
    {
        let v = frr_json(&frr, &format!("show bgp {af} unicast {p} json"));
        let path = &v["paths"][0];
        let ctx = format!("{p}: {path}");
        assert_eq!(path["aspath"]["string"], if ibgp { "Local" } else { "65001" }, "{ctx}");
        assert_eq!(path["origin"], "IGP", "{ctx}");
        assert_eq!(path["metric"], 10, "{ctx}");
        assert_eq!(path["community"]["string"], format!("{our_as}:7 {our_as}:8"), "{ctx}");
        assert_eq!(path["largeCommunity"]["string"], format!("{our_as}:7:8"), "{ctx}");
        assert_eq!(path["nexthops"][0]["ip"], nh.as_str(), "{ctx}");
        if ibgp {
            assert_eq!(path["locPrf"], 300, "{ctx}");
        }
    }
    // FRR's, in our RIB.
    for (r, nh) in got.iter().zip([NextHop::V4(Pair::PEER_V4), NextHop::V6 { global: Pair::PEER_V6, link_local: None }])
    {
        let a = &r.route.attrs;
        let ctx = format!("{r:?}");
        assert_eq!(a.as_path, if ibgp { AsPath::default() } else { AsPath::from_sequence([frr_as]) }, "{ctx}");
        match (&a.next_hop, &nh) {
            (Some(NextHop::V6 { global, .. }), NextHop::V6 { global: want, .. }) => assert_eq!(global, want, "{ctx}"),
            (got, want) => assert_eq!(got.as_ref(), Some(want), "{ctx}"),
        }
        assert_eq!(a.communities, vec![Community::new(frr_as as u16, 1), Community::new(frr_as as u16, 2)], "{ctx}");
        assert_eq!(a.large_communities, vec![LargeCommunity::new(frr_as, 1, 2)], "{ctx}");
        assert_eq!(a.med, Some(20), "{ctx}");
        assert_eq!(a.local_pref, lp(200), "{ctx}");
    }

    // We ask FRR to re-send. (FRR sends End-of-RIB only to peers that advertise GR, so
    // there is none to wait for here; both routes are in, one UPDATE per family.)
    let before = sp.peer(them()).unwrap().updates_received;
    let rr_recv = msg_stat(&frr, "routeRefreshRecv");
    sp.refresh(them()).expect("refresh");
    let answered = tests::poll("FRR to answer our ROUTE-REFRESH", T, Duration::from_millis(100), || {
        // FRR counts both requests; over iBGP it was seen to re-send only one family's
        // UPDATE (its updatesSent agrees with our count), so at least one.
        Ok((sp.peer(them()).unwrap().updates_received > before).then_some(()))
    });
    if let Err(e) = answered {
        let v = frr_json(&frr, &format!("show bgp neighbors {} json", us()));
        panic!("{e}: before {before}, now {:?}\n{}\n{}", sp.peer(them()), v, frr.log());
    }
    wait_for("FRR to count both ROUTE-REFRESH", || (msg_stat(&frr, "routeRefreshRecv") >= rr_recv + 2).then_some(()));
    sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("routes stay");

    // FRR asks us (`clear bgp X soft in`, both families).
    let asked = sp.peer(them()).unwrap().refresh_requests_received;
    let upd = msg_stat(&frr, "updatesRecv");
    for af in ["ipv4", "ipv6"] {
        frr.vtysh(&[&format!("clear bgp {af} unicast {} soft in", us())]).expect("clear soft in");
    }
    wait_for("FRR's ROUTE-REFRESH", || (sp.peer(them()).unwrap().refresh_requests_received >= asked + 2).then_some(()));
    wait_for("FRR to receive our routes again", || (msg_stat(&frr, "updatesRecv") >= upd + 2).then_some(()));
    frr.wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("FRR keeps ours");
    assert_eq!(sp.peer(them()).unwrap().flaps, 0);
}

#[test]
fn interop_frr_ebgp_we_dial_routes_attrs_refresh() {
    routes_and_refresh("interop_frr_ebgp_we_dial_routes_attrs_refresh", false, true);
}

#[test]
fn interop_frr_ibgp_frr_dials_routes_attrs_local_pref_refresh() {
    routes_and_refresh("interop_frr_ibgp_frr_dials_routes_attrs_local_pref_refresh", true, false);
}
