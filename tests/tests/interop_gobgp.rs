//! Interop of our speaker with GoBGP 3 in namespaces over iBGP, in both directions (we
//! dial a passive GoBGP; GoBGP dials us while our neighbour is passive — `ss` in our
//! namespace shows who connected): IPv4 and IPv6 routes both ways with communities,
//! large communities, MED and LOCAL_PREF checked on both sides (`gobgp neighbor X
//! adj-in`, our RIB); our ROUTE-REFRESH answered.
//!
//! Needs root and `gobgpd`; prints a SKIP line and passes otherwise.

use std::time::Duration;

use bgp_proto::{AsPath, Community, LargeCommunity, NextHop};
use bgp_speaker::rib::PathAttrs;
use tests::peers::{BgpDaemon, GoBgp, Neighbor, PeerSpec, Route};
use tests::speaker::{have, lab_ok, neighbor, pfx, speaker_config, them, us, wait_for, NsSpeaker, Pair};

const T: Duration = Duration::from_secs(30);

#[test]
fn interop_gobgp_ibgp_we_dial_routes_attrs_refresh() {
    routes_attrs_refresh("interop_gobgp_ibgp_we_dial_routes_attrs_refresh", "gi", true);
}

#[test]
fn interop_gobgp_ibgp_gobgp_dials_routes_attrs_refresh() {
    routes_attrs_refresh("interop_gobgp_ibgp_gobgp_dials_routes_attrs_refresh", "gd", false);
}

/// GoBGP (passive when `we_dial`, else dialling us while our neighbour is passive) and
/// our speaker exchange two routes each; attributes checked both ways, refresh both ways.
fn routes_attrs_refresh(test: &str, tag: &str, we_dial: bool) {
    if !(lab_ok(test) && have(test, "gobgpd")) {
        return;
    }
    let pair = Pair::new(tag).expect("namespaces");
    let theirs: Vec<Route> = ["10.244.2.0/26", "2001:db8:f00:2::/64"]
        .into_iter()
        .map(|p| Route::new(p).community(64512, 1).large(64512, 1, 2).med(20).local_pref(200))
        .collect();
    let spec = PeerSpec::new("g", 64512, Pair::PEER_V4)
        .v6(Pair::PEER_V6)
        .neighbor(Neighbor::new(us(), 64512).passive(we_dial))
        .routes(theirs);
    let mut gobgp = GoBgp::start(&pair.peer, spec).expect("gobgp");
    let mut n = neighbor(64512, Pair::US_V4, them(), 64512);
    n.transport.source = Some(us());
    n.next_hop_v6 = Some(Pair::US_V6);
    n.session.passive = !we_dial;
    let sp = NsSpeaker::start(&pair.us, speaker_config(64512, Pair::US_V4, us(), vec![n])).expect("speaker");
    for p in ["10.244.1.0/26", "2001:db8:f00:1::/64"] {
        let a = PathAttrs {
            communities: vec![Community::new(64512, 7)],
            large_communities: vec![LargeCommunity::new(64512, 7, 8)],
            med: Some(10),
            local_pref: Some(300),
            ..Default::default()
        };
        sp.originate(pfx(p), a).expect("originate");
    }
    sp.wait_established(them(), T).expect("our session");
    gobgp.wait_established(us(), T).expect("GoBGP session");
    assert_eq!(pair.peer_dialled().expect("ss"), !we_dial, "who connected (we_dial = {we_dial})");
    gobgp
        .wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("GoBGP learns ours");
    let got = sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("we learn GoBGP's");

    for (af, p, nh) in
        [("ipv4", "10.244.1.0/26", Pair::US_V4.to_string()), ("ipv6", "2001:db8:f00:1::/64", Pair::US_V6.to_string())]
    {
        let out = gobgp.gobgp(&["neighbor", &us().to_string(), "adj-in", "-a", af]).unwrap();
        let line = out.lines().find(|l| l.contains(p)).unwrap_or_else(|| panic!("{p} in {out}"));
        for want in [nh.as_str(), "{Origin: i}", "{Med: 10}", "{LocalPref: 300}", "{Communities: 64512:7}", "64512:7:8"]
        {
            assert!(line.contains(want), "{p}: {want:?} in {line}");
        }
    }
    for (r, nh) in got.iter().zip([NextHop::V4(Pair::PEER_V4), NextHop::V6 { global: Pair::PEER_V6, link_local: None }])
    {
        let a = &r.route.attrs;
        let ctx = format!("{r:?}");
        assert_eq!(a.as_path, AsPath::default(), "{ctx}");
        assert_eq!(a.next_hop.as_ref(), Some(&nh), "{ctx}");
        assert_eq!(a.communities, vec![Community::new(64512, 1)], "{ctx}");
        assert_eq!(a.large_communities, vec![LargeCommunity::new(64512, 1, 2)], "{ctx}");
        assert_eq!(a.med, Some(20), "{ctx}");
        assert_eq!(a.local_pref, Some(200), "{ctx}");
    }

    // We ask GoBGP to re-send.
    let before = sp.peer(them()).unwrap().updates_received;
    sp.refresh(them()).expect("refresh");
    wait_for("GoBGP to answer our ROUTE-REFRESH", || {
        (sp.peer(them()).unwrap().updates_received >= before + 2).then_some(())
    });
    sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("routes stay");

    // GoBGP cannot be made to send a ROUTE-REFRESH from its CLI (`softresetin`
    // re-reads its own Adj-RIB-In), so the reverse direction is covered with BIRD and
    // FRR; `softresetout` re-sends its routes to us and nothing breaks.
    let before = sp.peer(them()).unwrap().updates_received;
    for af in ["ipv4", "ipv6"] {
        gobgp.gobgp(&["neighbor", &us().to_string(), "softresetout", "-a", af]).expect("softresetout");
    }
    wait_for("GoBGP to re-send", || (sp.peer(them()).unwrap().updates_received >= before + 2).then_some(()));
    sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("routes stay");
    assert_eq!(sp.peer(them()).unwrap().flaps, 0);
}
