//! Interop of our speaker with ExaBGP 4.2 in namespaces, in both directions (we dial
//! while ExaBGP listens; ExaBGP dials while our neighbour is passive — `ss` in our
//! namespace shows who connected): IPv4 and IPv6 routes both ways with communities, large communities and MED checked
//! exactly (ExaBGP's JSON events, our RIB), and RFC 7606:
//! ExaBGP sends malformed attributes as generic `attribute [ code flags value ]` and we
//! apply the prescribed action.
//!
//! Needs root and `exabgp`; prints a SKIP line and passes otherwise.

use std::time::{Duration, Instant};

use bgp_proto::{AsPath, Community, LargeCommunity, NextHop};
use bgp_speaker::rib::PathAttrs;
use tests::peers::{BgpDaemon, ExaBgp, Neighbor, PeerSpec, Route};
use tests::speaker::{have, lab_ok, neighbor, pfx, speaker_config, them, us, wait_for, NsSpeaker, Pair};

const T: Duration = Duration::from_secs(30);

/// ExaBGP (AS 65002) with two routes, our speaker (AS 65001) originating two; we dial
/// (ExaBGP passive) when `we_dial`, else ExaBGP dials and our neighbour is passive.
fn setup(tag: &str, we_dial: bool) -> (Pair, ExaBgp, NsSpeaker) {
    let pair = Pair::new(tag).expect("namespaces");
    let theirs: Vec<Route> = ["10.244.2.0/26", "2001:db8:f00:2::/64"]
        .into_iter()
        .map(|p| Route::new(p).community(65002, 1).large(65002, 1, 2).med(20))
        .collect();
    let spec = PeerSpec::new("x", 65002, Pair::PEER_V4)
        .v6(Pair::PEER_V6)
        .neighbor(Neighbor::new(us(), 65001).passive(we_dial))
        .routes(theirs);
    let exa = ExaBgp::start(&pair.peer, spec).expect("exabgp");
    let mut n = neighbor(65001, Pair::US_V4, them(), 65002);
    n.transport.source = Some(us());
    n.next_hop_v6 = Some(Pair::US_V6);
    n.session.passive = !we_dial;
    let sp = NsSpeaker::start(&pair.us, speaker_config(65001, Pair::US_V4, us(), vec![n])).expect("speaker");
    for p in ["10.244.1.0/26", "2001:db8:f00:1::/64"] {
        let a = PathAttrs {
            communities: vec![Community::new(65001, 7)],
            large_communities: vec![LargeCommunity::new(65001, 7, 8)],
            med: Some(10),
            ..Default::default()
        };
        sp.originate(pfx(p), a).expect("originate");
    }
    (pair, exa, sp)
}

/// The attributes of the last update event from ExaBGP announcing `prefix`, and how
/// many update events announced it.
fn exa_attrs(exa: &ExaBgp, prefix: &str) -> (serde_json::Value, usize) {
    let mut last = serde_json::Value::Null;
    let mut n = 0;
    for ev in exa.events().expect("events") {
        let upd = &ev["neighbor"]["message"]["update"];
        if upd["announce"].to_string().contains(&format!("\"{prefix}\"")) {
            last = upd["attribute"].clone();
            n += 1;
        }
    }
    (last, n)
}

#[test]
fn interop_exabgp_routes_attrs() {
    routes_attrs("interop_exabgp_routes_attrs", "xr", true);
}

#[test]
fn interop_exabgp_dials_routes_attrs() {
    routes_attrs("interop_exabgp_dials_routes_attrs", "xd", false);
}

/// Two routes each way with exact attributes, the session opened by us (`we_dial`) or
/// by ExaBGP.
fn routes_attrs(test: &str, tag: &str, we_dial: bool) {
    if !(lab_ok(test) && have(test, "exabgp")) {
        return;
    }
    let (pair, mut exa, sp) = setup(tag, we_dial);
    sp.wait_established(them(), T).expect("our session");
    exa.wait_established(us(), T).expect("ExaBGP session");
    assert_eq!(pair.peer_dialled().expect("ss"), !we_dial, "who connected (we_dial = {we_dial})");
    exa.wait_prefixes(&["10.244.1.0/26".parse().unwrap(), "2001:db8:f00:1::/64".parse().unwrap()], T)
        .expect("ExaBGP learns ours");
    let got = sp.wait_routes(&[pfx("10.244.2.0/26"), pfx("2001:db8:f00:2::/64")], T).expect("we learn ExaBGP's");
    for p in ["10.244.1.0/26", "2001:db8:f00:1::/64"] {
        let (a, _) = exa_attrs(&exa, p);
        assert_eq!(a["origin"], "igp", "{p}: {a}");
        assert_eq!(a["as-path"], serde_json::json!([65001]), "{p}: {a}");
        assert_eq!(a["med"], 10, "{p}: {a}");
        assert_eq!(a["community"], serde_json::json!([[65001, 7]]), "{p}: {a}");
        assert_eq!(a["large-community"], serde_json::json!([[65001, 7, 8]]), "{p}: {a}");
        assert!(a.get("local-preference").is_none(), "{p}: no LOCAL_PREF over eBGP: {a}");
    }
    for (r, nh) in got.iter().zip([NextHop::V4(Pair::PEER_V4), NextHop::V6 { global: Pair::PEER_V6, link_local: None }])
    {
        let a = &r.route.attrs;
        let ctx = format!("{r:?}");
        assert_eq!(a.as_path, AsPath::from_sequence([65002]), "{ctx}");
        assert_eq!(a.next_hop.as_ref(), Some(&nh), "{ctx}");
        assert_eq!(a.communities, vec![Community::new(65002, 1)], "{ctx}");
        assert_eq!(a.large_communities, vec![LargeCommunity::new(65002, 1, 2)], "{ctx}");
        assert_eq!(a.med, Some(20), "{ctx}");
        assert_eq!(a.local_pref, None, "{ctx}");
    }

    // No route refresh with ExaBGP 4.2.21: answering our ROUTE-REFRESH crashes its peer
    // loop ("TypeError: 'RouteRefresh' object is not iterable" in Update.messages, then
    // it drops the TCP connection), and its `announce route-refresh` API command fails
    // in the encoder ("%b requires a bytes-like object"). GoBGP, BIRD and FRR cover it.
    assert_eq!(sp.peer(them()).unwrap().flaps, 0);
}

/// RFC 7606 actions on attributes ExaBGP sends raw.
#[test]
fn interop_exabgp_rfc7606_malformed_attributes() {
    let test = "interop_exabgp_rfc7606_malformed_attributes";
    if !(lab_ok(test) && have(test, "exabgp")) {
        return;
    }
    let (_pair, mut exa, sp) = setup("x7", true);
    sp.wait_established(them(), T).expect("our session");
    exa.wait_established(us(), T).expect("ExaBGP session");
    sp.wait_routes(&[pfx("10.244.2.0/26")], T).expect("ExaBGP's routes");
    let nh = Pair::PEER_V4;
    let up = |sp: &NsSpeaker| {
        let p = sp.peer(them()).unwrap();
        assert!(p.state == "Established" && p.flaps == 0, "session stays up: {p:?}");
    };

    // COMMUNITIES of 3 octets (RFC 7606 §7.8): treat-as-withdraw. The route was valid
    // first, so the malformed UPDATE must remove it.
    exa.command(&format!("announce route 10.244.3.0/26 next-hop {nh} community [ 65002:3 ]")).unwrap();
    sp.wait_routes(&[pfx("10.244.3.0/26")], T).expect("valid route first");
    exa.command(&format!("announce route 10.244.3.0/26 next-hop {nh} attribute [ 0x08 0xc0 0x010203 ]")).unwrap();
    wait_for("treat-as-withdraw", || sp.best(pfx("10.244.3.0/26")).unwrap().is_none().then_some(()));
    up(&sp);

    // AGGREGATOR of 5 octets (§7.7): attribute discard, the route stays without it.
    exa.command(&format!("announce route 10.244.4.0/26 next-hop {nh} attribute [ 0x07 0xc0 0x0000fdea02 ]")).unwrap();
    let r = sp.wait_routes(&[pfx("10.244.4.0/26")], T).expect("route kept")[0].clone();
    assert_eq!(r.route.attrs.aggregator, None, "{r:?}");
    up(&sp);

    // LOCAL_PREF from an external peer (§7.5): discarded, the route stays without it.
    exa.command(&format!("announce route 10.244.5.0/26 next-hop {nh} attribute [ 0x05 0x40 0x000000c8 ]")).unwrap();
    let r = sp.wait_routes(&[pfx("10.244.5.0/26")], T).expect("route kept")[0].clone();
    assert_eq!(r.route.attrs.local_pref, None, "{r:?}");
    up(&sp);
    let routes_before = sp.routes().unwrap().len();
    assert!(routes_before >= 4);

    // An unrecognized well-known attribute (type 99, flags 0x40): RFC 4271 §6.3 3/2
    // Unrecognized Well-known Attribute, session reset (RFC 7606 keeps it).
    let start = Instant::now();
    exa.command(&format!("announce route 10.244.6.0/26 next-hop {nh} attribute [ 0x63 0x40 0x00 ]")).unwrap();
    wait_for("us to send 3/2", || (sp.peer(them()).unwrap().last_error.as_deref() == Some("sent 3/2")).then_some(()));
    let p = sp.peer(them()).unwrap();
    assert!(p.flaps >= 1, "the session was reset: {p:?}");
    assert!(sp.best(pfx("10.244.6.0/26")).unwrap().is_none());
    eprintln!("{test}: reset after {:?}", start.elapsed());
}
