//! Malformed messages: each case asserts the exact offset, NOTIFICATION code and subcode,
//! RFC 7606 action, and the data RFC 4271 §6 prescribes. Section numbers are RFC 7606
//! unless stated otherwise.

mod common;

use bgp_proto::capability::ExtendedNextHop;
use bgp_proto::{
    negotiate, Action, Afi, AfiSafi, AsPath, AttrValue, Attribute, Capability, DecodeCtx, DecodeError, ErrorKind,
    Message, NextHop, Nlri, Open, Origin, Update,
};
use common::*;
use ipnet::Ipv4Net;

const RESET: Action = Action::SessionReset;
const TAW: Action = Action::TreatAsWithdraw;
const DISCARD: Action = Action::AttributeDiscard;
const DISABLE: Action = Action::AfiSafiDisable;

/// ORIGIN IGP, AS_PATH [65000] (4-octet), NEXT_HOP 192.0.2.1: 20 octets.
const M: &str = "40 01 01 00   40 02 06 02 01 0000fde8   40 03 04 c0000201";
/// The attribute right after `M` in an UPDATE with no withdrawn routes starts here:
/// 19 header + 2 withdrawn length + 2 attribute length + 20.
const AFTER_M: usize = 43;
/// 10.244.1.0/24.
const N: &str = "18 0af401";

fn mandatory() -> Vec<Attribute> {
    vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::from_sequence([65000]))),
        Attribute::new(AttrValue::NextHop("192.0.2.1".parse().unwrap())),
    ]
}

fn p(s: &str) -> Nlri<Ipv4Net> {
    Nlri::new(s.parse().unwrap())
}

#[track_caller]
fn err(b: &[u8], d: &DecodeCtx) -> DecodeError {
    match Message::decode(b, d) {
        Ok(m) => panic!("decoded a malformed message: {m:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn check(e: &DecodeError, offset: usize, code: u8, subcode: u8, action: Action, data: &[u8]) {
    assert_eq!(
        (e.offset, e.code, e.subcode, e.action, hex::encode(&e.data)),
        (offset, code, subcode, action, hex::encode(data)),
        "{e:?}"
    );
    if action >= DISABLE {
        assert!(e.salvaged.is_none(), "no salvage for {action:?}");
    }
}

/// An UPDATE with `M`, then `bad`, then NLRI `N`; checks a treat-as-withdraw at
/// `AFTER_M` whose data is `bad` and whose salvaged update withdraws exactly `N`.
#[track_caller]
fn taw_after_m(bad: &str, subcode: u8, d: &DecodeCtx) -> DecodeError {
    let b = update(&[], &h(&format!("{M} {bad}")), &h(N));
    let e = err(&b, d);
    check(&e, AFTER_M, 3, subcode, TAW, &h(bad));
    let s = e.salvaged_update().expect("salvaged");
    assert_eq!(s.nlri[..], vec![p("10.244.1.0/24")]);
    assert_eq!(s.announced_v4().count(), 1);
    e
}

/// Like `taw_after_m` for attribute discard: the salvaged update is the input minus the
/// bad attribute.
#[track_caller]
fn discard_after_m(bad: &str, subcode: u8, d: &DecodeCtx) -> DecodeError {
    let b = update(&[], &h(&format!("{M} {bad}")), &h(N));
    let e = err(&b, d);
    check(&e, AFTER_M, 3, subcode, DISCARD, &h(bad));
    let s = e.salvaged_update().expect("salvaged");
    assert_eq!(
        s,
        &Update {
            withdrawn: Default::default(),
            attributes: mandatory().into(),
            nlri: bgp_proto::smallvec::smallvec![p("10.244.1.0/24")]
        }
    );
    e
}

// ----- Message header (RFC 4271 §6.1) ------------------------------------------------

#[test]
fn header_bad_marker() {
    let mut b = msg(4, &[]);
    b[3] = 0;
    check(&err(&b, &d4()), 3, 1, 1, RESET, &[]);
}

#[test]
fn header_length_below_19() {
    let b = h("ffffffffffffffffffffffffffffffff 0012 04");
    check(&err(&b, &d4()), 16, 1, 2, RESET, &h("0012"));
}

#[test]
fn header_length_above_4096() {
    let mut b = msg(2, &vec![0u8; 4096 - 19 + 1]);
    b[19..23].copy_from_slice(&h("0000 0000"));
    check(&err(&b, &d4()), 16, 1, 2, RESET, &h("1001"));
}

#[test]
fn header_wrong_length_per_type() {
    // KEEPALIVE must be exactly 19 (RFC 4271 §4.4).
    check(&err(&msg(4, &[0]), &d4()), 16, 1, 2, RESET, &h("0014"));
    // OPEN at least 29.
    check(&err(&msg(1, &h("04 fde8 00b4 c0000201")), &d4()), 16, 1, 2, RESET, &h("001c"));
    // UPDATE at least 23.
    check(&err(&msg(2, &h("0000 00")), &d4()), 16, 1, 2, RESET, &h("0016"));
    // NOTIFICATION at least 21.
    check(&err(&msg(3, &h("06")), &d4()), 16, 1, 2, RESET, &h("0014"));
    // ROUTE-REFRESH at least 23 (RFC 2918 §3).
    check(&err(&msg(5, &h("0001 00")), &d4()), 16, 1, 2, RESET, &h("0016"));
}

#[test]
fn header_bad_type() {
    check(&err(&msg(6, &[]), &d4()), 18, 1, 3, RESET, &[6]);
    check(&err(&msg(0, &[]), &d4()), 18, 1, 3, RESET, &[0]);
}

#[test]
fn header_open_never_extended_rfc8654() {
    let body = h(&format!("04 fde8 00b4 c0000201 ff ff 1000 80 0ffd {}", "00".repeat(0x0ffd)));
    let b = msg(1, &body);
    let d = DecodeCtx { extended_message: true, ..d4() };
    check(&err(&b, &d), 16, 1, 2, RESET, &((b.len() as u16).to_be_bytes()));
}

// ----- OPEN (RFC 4271 §6.2, RFC 9072 §3) -----------------------------------------------

#[test]
fn open_unsupported_version() {
    let b = msg(1, &h("05 fde8 00b4 c0000201 00"));
    // Data: the largest locally supported version, 4.
    check(&err(&b, &d4()), 19, 2, 1, RESET, &[0, 4]);
}

#[test]
fn open_optional_parameters_length_mismatch() {
    let b = msg(1, &h("04 fde8 00b4 c0000201 09  02 06 41 04 0000fde8"));
    check(&err(&b, &d4()), 28, 2, 0, RESET, &[]);
}

#[test]
fn open_parameter_and_capability_overruns() {
    // Parameter length 9 runs past the 8 octets of optional parameters.
    let b = msg(1, &h("04 fde8 00b4 c0000201 08  02 09 41 04 0000fde8"));
    check(&err(&b, &d4()), 29, 2, 0, RESET, &[]);
    // Capability length 5 runs past its 6-octet parameter.
    let b = msg(1, &h("04 fde8 00b4 c0000201 08  02 06 41 05 0000fde8"));
    check(&err(&b, &d4()), 31, 2, 0, RESET, &[]);
    // Extended format (RFC 9072) with a parameter overrunning the extended length.
    let b = msg(1, &h("04 fde8 00b4 c0000201 ff ff 0009  02 0007 41 04 0000fde8"));
    check(&err(&b, &d4()), 32, 2, 0, RESET, &[]);
}

// ----- ROUTE-REFRESH (RFC 7313 §5) -------------------------------------------------------

#[test]
fn route_refresh_borr_eorr_bad_length() {
    let b = msg(5, &h("0001 01 01 00"));
    check(&err(&b, &d4()), 23, 7, 1, RESET, &b);
    let b = msg(5, &h("0002 02 01 0000"));
    check(&err(&b, &d4()), 23, 7, 1, RESET, &b);
    // A normal request may carry ORF entries (RFC 5291): not an error.
    assert!(Message::decode(&msg(5, &h("0001 00 01 01 40 0000")), &d4()).is_ok());
}

// ----- UPDATE lengths (RFC 4271 §6.3, RFC 7606 §4) --------------------------------------

#[test]
fn update_withdrawn_length_overrun() {
    let b = msg(2, &h("0010 18 0af401 0000"));
    check(&err(&b, &d4()), 19, 3, 1, RESET, &[]);
}

#[test]
fn update_total_path_attribute_length_overrun() {
    let b = msg(2, &h(&format!("0000 0020 {M}")));
    check(&err(&b, &d4()), 19, 3, 1, RESET, &[]);
}

#[test]
fn attribute_value_overruns_attribute_field_s4() {
    // MED claims 8 octets, only 4 remain before the NLRI field: treat-as-withdraw, and
    // the NLRI field is still found from the Total Path Attribute Length.
    let b = update(&[], &h(&format!("{M} 80 04 08 00000064")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M, 3, 5, TAW, &h("80 04 08 00000064"));
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
}

#[test]
fn attribute_header_truncated_s4() {
    // Two octets left: not even an attribute header.
    let b = update(&[], &h(&format!("{M} 80 04")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M, 3, 1, TAW, &[]);
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
}

#[test]
fn mp_reach_overrun_resets_s4() {
    // The overrunning attribute is MP_REACH_NLRI: its NLRI cannot be located (§3 h).
    let b = update(&[], &h(&format!("{M} 80 0e 20 0001 01 04 c0000201 00")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M, 3, 5, RESET, &h("80 0e 20 0001 01 04 c0000201 00"));
}

// ----- NLRI (§5.3) -------------------------------------------------------------------------

#[test]
fn nlri_prefix_length_over_32() {
    let b = update(&[], &h(M), &h("18 0af401  21 0af40100 00"));
    check(&err(&b, &d4()), 43 + 4, 3, 10, RESET, &[]);
}

#[test]
fn nlri_prefix_overruns_field() {
    let b = update(&[], &h(M), &h("18 0af4"));
    check(&err(&b, &d4()), 43, 3, 10, RESET, &[]);
}

#[test]
fn withdrawn_prefix_length_over_32() {
    let b = update(&h("10 0a01  29 0a010203 04"), &[], &[]);
    check(&err(&b, &d4()), 21 + 3, 3, 10, RESET, &[]);
}

#[test]
fn add_path_nlri_truncated() {
    // ADD-PATH in force: a path identifier cut short.
    let d = DecodeCtx { add_path: fams(&[AfiSafi::IPV4_UNICAST]), ..d4() };
    let b = update(&[], &h(M), &h("00000001 18 0af401  0000"));
    check(&err(&b, &d), 43 + 8, 3, 10, RESET, &[]);
}

#[test]
fn mp_reach_nlri_bad_prefix_disables_family() {
    let bad = "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00  81 20010db8";
    let b = update(&[], &h(&format!("{bad} 40 01 01 00 40 02 00")), &[]);
    let e = err(&b, &d4());
    check(&e, 23, 3, 9, DISABLE, &h(bad));
    assert!(matches!(e.kind, ErrorKind::BadMpAttribute { afi_safi: AfiSafi::IPV6_UNICAST, .. }));
}

#[test]
fn mp_unreach_nlri_overrun_disables_family_s7_12() {
    let bad = "80 0f 06 0001 01 18 0a01";
    let b = update(&[], &h(bad), &[]);
    let e = err(&b, &d4());
    check(&e, 23, 3, 9, DISABLE, &h(bad));
    assert!(matches!(e.kind, ErrorKind::BadMpAttribute { afi_safi: AfiSafi::IPV4_UNICAST, .. }));
}

// ----- §7.1 ORIGIN ------------------------------------------------------------------------

#[test]
fn s7_1_origin_undefined_value() {
    let b = update(&[], &h("40 01 01 03  40 02 06 02 01 0000fde8  40 03 04 c0000201"), &h(N));
    let e = err(&b, &d4());
    check(&e, 23, 3, 6, TAW, &h("40 01 01 03"));
    let s = e.salvaged_update().unwrap();
    assert_eq!(s.nlri[..], vec![p("10.244.1.0/24")]);
    assert!(s.attribute(1).is_none());
}

#[test]
fn s7_1_origin_bad_length() {
    let b = update(&[], &h("40 01 02 0000  40 02 06 02 01 0000fde8  40 03 04 c0000201"), &h(N));
    let e = err(&b, &d4());
    check(&e, 23, 3, 5, TAW, &h("40 01 02 0000"));
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
}

// ----- §7.2 AS_PATH -------------------------------------------------------------------------

#[test]
fn s7_2_as_path_unknown_segment_type() {
    let b = update(&[], &h("40 01 01 00  40 02 06 05 01 0000fde8  40 03 04 c0000201"), &h(N));
    let e = err(&b, &d4());
    check(&e, 27, 3, 11, TAW, &h("40 02 06 05 01 0000fde8"));
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
}

#[test]
fn s7_2_as_path_zero_length_segment() {
    let b = update(&[], &h("40 01 01 00  40 02 02 02 00  40 03 04 c0000201"), &h(N));
    check(&err(&b, &d4()), 27, 3, 11, TAW, &h("40 02 02 02 00"));
}

#[test]
fn s7_2_as_path_segment_overrun() {
    let b = update(&[], &h("40 01 01 00  40 02 06 02 02 0000fde8  40 03 04 c0000201"), &h(N));
    check(&err(&b, &d4()), 27, 3, 11, TAW, &h("40 02 06 02 02 0000fde8"));
}

#[test]
fn s7_2_as_path_single_octet_underrun() {
    let b = update(&[], &h("40 01 01 00  40 02 07 02 01 0000fde8 02  40 03 04 c0000201"), &h(N));
    check(&err(&b, &d4()), 27, 3, 11, TAW, &h("40 02 07 02 01 0000fde8 02"));
}

#[test]
fn s7_2_as_path_two_octet_session_odd_length() {
    // On a 2-octet session the same bytes are 2-octet ASNs: a 3-ASN segment needs 6.
    let b = update(&[], &h("40 01 01 00  40 02 06 02 03 fde8 fde9  40 03 04 c0000201"), &h(N));
    check(&err(&b, &d2()), 27, 3, 11, TAW, &h("40 02 06 02 03 fde8 fde9"));
}

// ----- §7.3 NEXT_HOP -------------------------------------------------------------------------

#[test]
fn s7_3_next_hop_bad_length() {
    let b = update(&[], &h("40 01 01 00  40 02 06 02 01 0000fde8  40 03 05 c000020100"), &h(N));
    let e = err(&b, &d4());
    check(&e, 36, 3, 5, TAW, &h("40 03 05 c000020100"));
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
    // The missing NEXT_HOP is not reported on top of the malformed one.
    assert!(e.others.is_empty(), "{:?}", e.others);
}

#[test]
fn s7_3_next_hop_multicast_or_zero() {
    for nh in ["e0000001", "00000000", "ffffffff"] {
        let attr = format!("40 03 04 {nh}");
        let b = update(&[], &h(&format!("40 01 01 00  40 02 06 02 01 0000fde8  {attr}")), &h(N));
        check(&err(&b, &d4()), 36, 3, 8, TAW, &h(&attr));
    }
}

// ----- §7.4 MED, §7.5 LOCAL_PREF ----------------------------------------------------------

#[test]
fn s7_4_med_bad_length() {
    taw_after_m("80 04 03 000064", 5, &d4());
}

#[test]
fn s7_5_local_pref_bad_length_internal() {
    taw_after_m("40 05 03 000064", 5, &d4());
}

#[test]
fn s7_5_local_pref_from_external_is_discarded() {
    // Well formed or not, LOCAL_PREF from an external peer is discarded.
    discard_after_m("40 05 04 00000064", 1, &d4_ext());
    let e = err(&update(&[], &h(&format!("{M} 40 05 03 000064")), &h(N)), &d4_ext());
    check(&e, AFTER_M, 3, 5, DISCARD, &h("40 05 03 000064"));
}

// ----- §7.6 ATOMIC_AGGREGATE, §7.7 AGGREGATOR ------------------------------------------------

#[test]
fn s7_6_atomic_aggregate_bad_length() {
    discard_after_m("40 06 01 00", 5, &d4());
}

#[test]
fn s7_7_aggregator_bad_length() {
    // 6 octets on a 4-octet session.
    discard_after_m("c0 07 06 fde8 c0000201", 5, &d4());
    // 8 octets on a 2-octet session.
    let b = update(&[], &h("40 01 01 00  40 02 04 02 01 fde8  40 03 04 c0000201  c0 07 08 0000fde8 c0000201"), &h(N));
    let e = err(&b, &d2());
    check(&e, 41, 3, 5, DISCARD, &h("c0 07 08 0000fde8 c0000201"));
    assert_eq!(e.salvaged_update().unwrap().attributes.len(), 3);
}

// ----- §7.8 COMMUNITIES ----------------------------------------------------------------------

#[test]
fn s7_8_communities_zero_length() {
    taw_after_m("c0 08 00", 5, &d4());
}

#[test]
fn s7_8_communities_not_multiple_of_4() {
    taw_after_m("c0 08 06 ffffff01 0000", 5, &d4());
}

// ----- §7.9 ORIGINATOR_ID, §7.10 CLUSTER_LIST -----------------------------------------------

#[test]
fn s7_9_originator_id_bad_length_internal() {
    taw_after_m("80 09 05 0a00000100", 5, &d4());
}

#[test]
fn s7_9_originator_id_from_external_is_discarded() {
    discard_after_m("80 09 04 0a000001", 9, &d4_ext());
    discard_after_m("80 09 05 0a00000100", 9, &d4_ext());
}

#[test]
fn s7_10_cluster_list_bad_length_internal() {
    taw_after_m("80 0a 06 0a000001 0000", 5, &d4());
    taw_after_m("80 0a 00", 5, &d4());
}

#[test]
fn s7_10_cluster_list_from_external_is_discarded() {
    discard_after_m("80 0a 04 0a000001", 9, &d4_ext());
}

// ----- §7.11 MP_REACH_NLRI, §7.12 MP_UNREACH_NLRI --------------------------------------------

#[test]
fn s7_11_mp_reach_next_hop_length_inconsistent() {
    let bad = "80 0e 11 0002 01 0c 20010db8 0000000000000000 00";
    let b = update(&[], &h(&format!("{bad} 40 01 01 00 40 02 00")), &[]);
    check(&err(&b, &d4()), 23, 3, 9, DISABLE, &h(bad));
    // An IPv4 next hop for IPv6 NLRI.
    let bad = "80 0e 0a 0002 01 04 c0000201 00 00";
    let b = update(&[], &h(&format!("{bad} 40 01 01 00 40 02 00")), &[]);
    check(&err(&b, &d4()), 23, 3, 9, DISABLE, &h(bad));
}

#[test]
fn s7_11_ipv6_next_hop_for_ipv4_without_extended_next_hop_rfc8950() {
    // RFC 8950 §3-§4: a 16- or 32-octet next hop for IPv4 NLRI is only expected where we
    // advertised Extended Next Hop Encoding; elsewhere the Length of Next Hop Address is
    // "inconsistent with that which was expected" (RFC 7606 §7.11): the attribute is
    // malformed and the family disabled, Optional Attribute Error (RFC 4760 §7).
    let global = "2001:db8::1".parse().unwrap();
    for (nh, ll) in [
        ("10 20010db8000000000000000000000001", None),
        ("20 20010db8000000000000000000000001 fe800000000000000000000000000001", Some("fe80::1".parse().unwrap())),
    ] {
        let len = 5 + 1 + (if ll.is_some() { 32 } else { 16 }) + 4 - 1;
        let bad = format!("80 0e {len:02x} 0001 01 {nh} 00 18 0af401");
        let b = update(&[], &h(&format!("{bad} 40 01 01 00 40 02 00")), &[]);
        let e = err(&b, &d4());
        check(&e, 23, 3, 9, DISABLE, &h(&bad));
        assert_eq!(
            e.kind,
            ErrorKind::BadMpAttribute {
                afi_safi: AfiSafi::IPV4_UNICAST,
                reason: "next hop length inconsistent with AFI"
            }
        );
        // Extended next hop in force for another family only: still malformed.
        let other = DecodeCtx { extended_next_hop: fams(&[AfiSafi::IPV4_MULTICAST]), ..d4() };
        check(&err(&b, &other), 23, 3, 9, DISABLE, &h(&bad));
        // In force for IPv4 unicast: a valid route.
        let Message::Update(u) = Message::decode(&b, &d4_enh()).unwrap() else { panic!() };
        assert_eq!(u.mp_next_hop(), Some(&NextHop::V6 { global, link_local: ll }));
        assert_eq!(u.announced_v4().copied().collect::<Vec<_>>(), vec![p("10.244.1.0/24")]);
    }
}

#[test]
fn extended_next_hop_is_in_force_where_we_advertised_it_rfc8950() {
    // RFC 8950 §4: the capability says what its sender can receive. Our decode context
    // follows our OPEN, our encode context the peer's.
    let enh =
        || Capability::ExtendedNextHop(vec![ExtendedNextHop { nlri: AfiSafi::IPV4_UNICAST, next_hop_afi: Afi::IPV6 }]);
    let id = "192.0.2.1".parse().unwrap();
    let with = Open::new(64512, 90, id, vec![enh()]);
    let without = Open::new(64512, 90, id, vec![]);
    let (d, e) = negotiate(&with, &without, false);
    assert!(d.extended_next_hop(AfiSafi::IPV4_UNICAST) && !d.extended_next_hop(AfiSafi::IPV4_MULTICAST));
    assert!(!e.extended_next_hop);
    let (d, e) = negotiate(&without, &with, false);
    assert!(!d.extended_next_hop(AfiSafi::IPV4_UNICAST));
    assert!(e.extended_next_hop);
    // A tuple for an IPv4 next hop (next hop AFI 1) grants nothing.
    let odd = Open::new(
        64512,
        90,
        id,
        vec![Capability::ExtendedNextHop(vec![ExtendedNextHop {
            nlri: AfiSafi::IPV4_UNICAST,
            next_hop_afi: Afi::IPV4,
        }])],
    );
    assert!(!negotiate(&odd, &with, false).0.extended_next_hop(AfiSafi::IPV4_UNICAST));
}

#[test]
fn s7_11_mp_reach_too_short_for_family_resets() {
    let bad = "80 0e 02 0001";
    let b = update(&[], &h(&format!("{M} {bad}")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M, 3, 9, RESET, &h(bad));
    assert!(matches!(e.kind, ErrorKind::OptionalAttribute { type_code: 14, .. }));
}

#[test]
fn s7_12_mp_unreach_too_short_for_family_resets() {
    let bad = "80 0f 01 00";
    let e = err(&update(&[], &h(bad), &[]), &d4());
    check(&e, 23, 3, 9, RESET, &h(bad));
    assert!(matches!(e.kind, ErrorKind::OptionalAttribute { type_code: 15, .. }));
}

// ----- §7.13 - §7.16 --------------------------------------------------------------------------

#[test]
fn s7_13_traffic_engineering_too_short() {
    taw_after_m("80 18 04 01020304", 5, &d4());
    taw_after_m("80 18 00", 5, &d4());
    // One whole descriptor (36 octets, RFC 5543 §3) is kept as an unknown attribute.
    let te = format!("80 18 24 {}", "01".repeat(36));
    let b = update(&[], &h(&format!("{M} {te}")), &h(N));
    let Message::Update(u) = Message::decode(&b, &d4()).unwrap() else { panic!() };
    assert_eq!(u.attributes.len(), 4);
}

#[test]
fn s7_14_extended_communities_bad_length() {
    taw_after_m("c0 10 07 00020000000000", 5, &d4());
    taw_after_m("c0 10 00", 5, &d4());
}

#[test]
fn s7_15_ipv6_address_specific_extended_community_bad_length() {
    taw_after_m(&format!("c0 19 15 {}", "00".repeat(21)), 5, &d4());
    taw_after_m("c0 19 00", 5, &d4());
}

#[test]
fn s7_16_attr_set_too_short() {
    taw_after_m("c0 80 03 0000fd", 5, &d4());
}

// ----- §3: flags, duplicates, missing attributes --------------------------------------------

#[test]
fn s3c_flags_conflict_is_malformed_with_the_attribute_rule() {
    // ORIGIN marked optional: treat-as-withdraw.
    let b = update(&[], &h("c0 01 01 00  40 02 06 02 01 0000fde8  40 03 04 c0000201"), &h(N));
    let e = err(&b, &d4());
    check(&e, 23, 3, 4, TAW, &h("c0 01 01 00"));
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
    // MED marked transitive.
    taw_after_m("c0 04 04 00000064", 4, &d4());
    // COMMUNITIES marked well-known.
    taw_after_m("40 08 04 ffffff01", 4, &d4());
    // ATOMIC_AGGREGATE marked optional: its own rule (§7.6) is attribute discard.
    discard_after_m("c0 06 00", 4, &d4());
}

#[test]
fn s3c_flags_conflict_for_every_known_attribute() {
    // RFC 7606 §3 (c): a conflict in the Optional or Transitive bit is a malformed
    // attribute under the attribute's own §7 rule, NOTIFICATION subcode 4 (Attribute
    // Flags Error, RFC 4271 §6.3), data the attribute. Each value below is well formed
    // with the right flags (`ok`); each wrong flag combination is then checked.
    let cases: &[(u8, &str, u8, Action, Action)] = &[
        // (type, value, right flags, action iBGP, action eBGP)
        (1, "00", 0x40, TAW, TAW),                        // §7.1 ORIGIN
        (2, "02010000fde8", 0x40, TAW, TAW),              // §7.2 AS_PATH
        (3, "c0000201", 0x40, TAW, TAW),                  // §7.3 NEXT_HOP
        (4, "00000064", 0x80, TAW, TAW),                  // §7.4 MED
        (5, "00000064", 0x40, TAW, DISCARD),              // §7.5 LOCAL_PREF
        (6, "", 0x40, DISCARD, DISCARD),                  // §7.6 ATOMIC_AGGREGATE
        (7, "0000fde8c0000201", 0xc0, DISCARD, DISCARD),  // §7.7 AGGREGATOR
        (8, "fde80064", 0xc0, TAW, TAW),                  // §7.8 COMMUNITIES
        (9, "0a000001", 0x80, TAW, DISCARD),              // §7.9 ORIGINATOR_ID
        (10, "0a000001", 0x80, TAW, DISCARD),             // §7.10 CLUSTER_LIST
        (16, "0002fde800000064", 0xc0, TAW, TAW),         // §7.14 EXTENDED COMMUNITIES
        (17, "02010000fde8", 0xc0, DISCARD, DISCARD),     // RFC 6793 §6 AS4_PATH
        (18, "0000fde8c0000201", 0xc0, DISCARD, DISCARD), // RFC 6793 §6 AS4_AGGREGATOR
        (32, "0000fde80000000100000002", 0xc0, TAW, TAW), // RFC 8092 §5 LARGE_COMMUNITY
        (35, "0000fde8", 0xc0, TAW, TAW),                 // RFC 9234 §5 OTC
        // §7.13, §7.15, §7.16: kept as raw bytes, but their flags are specified
        // (RFC 5543 §3, RFC 5701 §2, RFC 6368 §5), so a conflict is not an
        // "unrecognized well-known attribute" (3/2, session reset).
        (24, &"01".repeat(36), 0x80, TAW, TAW), // Traffic Engineering
        (25, &"00".repeat(20), 0xc0, TAW, TAW), // IPv6 Address Specific EC
        (128, "0000fde8", 0xc0, TAW, TAW),      // ATTR_SET
    ];
    // AS4_PATH and AS4_AGGREGATOR are only decoded from a 2-octet speaker (RFC 6793 §4.1),
    // whose AS_PATH has 2-octet ASNs.
    let m2 = M.replace("02 06 02 01 0000fde8", "02 04 02 01 fde8");
    for &(t, value, right, act_i, act_e) in cases {
        let two = matches!(t, 17 | 18);
        let (di, de) = if two { (d2(), DecodeCtx { external: true, ..d2() }) } else { (d4(), d4_ext()) };
        // The other attributes: `M`, without the one under test when it is mandatory.
        let rest = match t {
            1 => "40 02 06 02 01 0000fde8  40 03 04 c0000201".to_string(),
            2 => "40 01 01 00  40 03 04 c0000201".to_string(),
            3 => "40 01 01 00  40 02 06 02 01 0000fde8".to_string(),
            _ if two => m2.clone(),
            _ => M.to_string(),
        };
        let attr = |fl: u8| format!("{fl:02x} {t:02x} {:02x} {value}", value.len() / 2);
        for (d, act) in [(&di, act_i), (&de, act_e)] {
            // With the right flags the attribute is accepted (LOCAL_PREF, ORIGINATOR_ID
            // and CLUSTER_LIST from an external peer are discarded whatever their flags).
            let good = update(&[], &h(&format!("{rest} {}", attr(right))), &h(N));
            let r = Message::decode(&good, d);
            assert!(r.is_ok() || (d.external && matches!(t, 5 | 9 | 10)), "type {t} flags {right:02x}: {r:?}");
            for wrong in [0x00u8, 0x40, 0x80, 0xc0].into_iter().filter(|&f| f != right) {
                let bad = attr(wrong);
                let b = update(&[], &h(&format!("{rest} {bad}")), &h(N));
                let e = err(&b, d);
                assert_eq!(
                    (e.offset, e.code, e.subcode, e.action, hex::encode(&e.data), e.kind.clone()),
                    (23 + h(&rest).len(), 3, 4, act, hex::encode(h(&bad)), ErrorKind::AttributeFlags(t)),
                    "type {t} flags {wrong:02x} external {}",
                    d.external
                );
                let s = e.salvaged_update().expect("salvaged");
                assert_eq!(s.nlri[..], vec![p("10.244.1.0/24")]);
                assert!(!s.attributes.iter().any(|a| a.type_code() == t));
            }
        }
    }
}

#[test]
fn s3c_flags_conflict_on_mp_attributes_disables_the_family() {
    // §7.11, §7.12 allow "session reset" or "AFI/SAFI disable": like any malformed MP
    // attribute whose family can be read, the family is disabled; subcode 4.
    for bad in ["c0 0e 0d 0001 01 04 c0000201 00 18 0af401", "40 0f 07 0001 01 18 0af402", "00 0f 03 0002 01"] {
        let b = update(&[], &h(&format!("{bad} 40 01 01 00 40 02 00")), &[]);
        let e = err(&b, &d4());
        check(&e, 23, 3, 4, DISABLE, &h(bad));
        let family = if bad.contains("0002 01") { AfiSafi::IPV6_UNICAST } else { AfiSafi::IPV4_UNICAST };
        assert!(matches!(e.kind, ErrorKind::BadMpAttribute { afi_safi, .. } if afi_safi == family), "{e:?}");
    }
    // Too short to name the family: session reset.
    let bad = "c0 0e 02 0001";
    let b = update(&[], &h(&format!("{M} {bad}")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M, 3, 4, RESET, &h(bad));
    assert_eq!(e.kind, ErrorKind::AttributeFlags(14));
}

#[test]
fn s3c_partial_and_extended_length_bits_are_not_conflicts() {
    // Partial on a known optional transitive attribute, Extended Length on a short one.
    let b = update(&[], &h(&format!("{M} e0 08 04 ffffff01  90 04 0004 00000064")), &h(N));
    let Message::Update(u) = Message::decode(&b, &d4()).unwrap() else { panic!() };
    assert_eq!(u.attributes[3].flags, 0xe0);
    assert_eq!(u.attributes[4].value, AttrValue::Med(100));
}

#[test]
fn s3g_duplicate_attribute_keeps_the_first() {
    let b = update(&[], &h(&format!("{M} 80 04 04 00000001  80 04 04 00000002")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M + 7, 3, 1, DISCARD, &[]);
    let s = e.salvaged_update().unwrap();
    assert_eq!(s.attribute(4), Some(&AttrValue::Med(1)));
    assert_eq!(s.attributes.len(), 4);
}

#[test]
fn s3g_duplicate_mp_reach_resets() {
    let mp = "80 0e 0d 0001 01 04 c0000201 00 18 0af401";
    let b = update(&[], &h(&format!("{mp} {mp} 40 01 01 00 40 02 00")), &[]);
    check(&err(&b, &d4()), 23 + 16, 3, 1, RESET, &[]);
    let mp = "80 0f 03 0002 01";
    let b = update(&[], &h(&format!("{mp} {mp}")), &[]);
    check(&err(&b, &d4()), 23 + 6, 3, 1, RESET, &[]);
}

#[test]
fn s3d_missing_well_known_mandatory() {
    // No ORIGIN: treat-as-withdraw, data is the missing type code.
    let b = update(&[], &h("40 02 06 02 01 0000fde8  40 03 04 c0000201"), &h(N));
    let e = err(&b, &d4());
    check(&e, 23, 3, 3, TAW, &[1]);
    assert_eq!(e.salvaged_update().unwrap().nlri[..], vec![p("10.244.1.0/24")]);
    // No AS_PATH.
    let b = update(&[], &h("40 01 01 00  40 03 04 c0000201"), &h(N));
    check(&err(&b, &d4()), 23, 3, 3, TAW, &[2]);
    // No NEXT_HOP with NLRI in the NLRI field.
    let b = update(&[], &h("40 01 01 00  40 02 06 02 01 0000fde8"), &h(N));
    check(&err(&b, &d4()), 23, 3, 3, TAW, &[3]);
}

#[test]
fn s3d_next_hop_only_required_with_the_nlri_field() {
    // MP_REACH_NLRI only: no NEXT_HOP needed (RFC 4760 §3).
    let b = update(&[], &h("80 0e 0d 0001 01 04 c0000201 00 18 0af401  40 01 01 00  40 02 00"), &[]);
    assert!(Message::decode(&b, &d4()).is_ok());
    // Withdrawals only: no attributes needed.
    assert!(Message::decode(&update(&h("18 0af401"), &[], &[]), &d4()).is_ok());
    // MP_REACH without ORIGIN is still missing a mandatory attribute.
    let b = update(&[], &h("80 0e 0d 0001 01 04 c0000201 00 18 0af401  40 02 00"), &[]);
    let e = err(&b, &d4());
    check(&e, 23, 3, 3, TAW, &[1]);
    assert_eq!(e.salvaged_update().unwrap().announced_v4().count(), 1);
}

#[test]
fn unrecognized_well_known_attribute_resets() {
    // RFC 4271 §6.3: Unrecognized Well-known Attribute, data the attribute.
    let b = update(&[], &h(&format!("{M} 40 63 01 00")), &h(N));
    check(&err(&b, &d4()), AFTER_M, 3, 2, RESET, &h("40 63 01 00"));
}

#[test]
fn s5_2_error_without_reachable_nlri_resets() {
    // Withdrawals plus path attributes, one malformed: nothing reachable, so the session
    // is reset rather than treat-as-withdraw.
    let b = update(&h("18 0af401"), &h("40 01 01 05  40 02 00"), &[]);
    check(&err(&b, &d4()), 27, 3, 6, RESET, &h("40 01 01 05"));
    // An overrun that may hide MP_REACH_NLRI, no NLRI field: reset.
    let b = update(&[], &h("40 01 01 00  80 0e 30 0001 01 04"), &[]);
    check(&err(&b, &d4()), 27, 3, 5, RESET, &h("80 0e 30 0001 01 04"));
    let b = update(&[], &h("40 01 01 00  40 02 08 02 01 0000fde8"), &[]);
    check(&err(&b, &d4()), 27, 3, 5, RESET, &h("40 02 08 02 01 0000fde8"));
    // Attribute discard is still fine without NLRI.
    let b = update(&h("18 0af401"), &h("40 01 01 00 40 02 00 40 06 01 00"), &[]);
    let e = err(&b, &d4());
    check(&e, 27 + 7, 3, 5, DISCARD, &h("40 06 01 00"));
    assert_eq!(e.salvaged_update().unwrap().withdrawn[..], vec![p("10.244.1.0/24")]);
}

#[test]
fn s3f_worst_action_wins_and_others_are_kept() {
    // A discard (ATOMIC_AGGREGATE) and a withdraw (MED): treat-as-withdraw is the headline.
    let b = update(&[], &h(&format!("{M} 40 06 01 00  80 04 02 0000")), &h(N));
    let e = err(&b, &d4());
    check(&e, AFTER_M + 4, 3, 5, TAW, &h("80 04 02 0000"));
    assert_eq!(e.others.len(), 1);
    assert_eq!(e.others[0].action, DISCARD);
    assert_eq!(e.salvaged_update().unwrap().attributes[..], mandatory());
}

// ----- RFC 6793 §6, RFC 8092 §5, RFC 9234 §5 -------------------------------------------------

fn m2(extra: &str) -> Vec<u8> {
    // Mandatory attributes for a 2-octet session (18 octets), then `extra`, then N.
    update(&[], &h(&format!("40 01 01 00  40 02 04 02 01 fde8  40 03 04 c0000201  {extra}")), &h(N))
}

#[test]
fn rfc6793_malformed_as4_path_is_discarded() {
    let bad = "c0 11 02 02 00";
    let e = err(&m2(bad), &d2());
    check(&e, 41, 3, 9, DISCARD, &h(bad));
    assert_eq!(e.salvaged_update().unwrap().attributes.len(), 3);
    let bad = "c0 11 05 02 01 0001 00";
    check(&err(&m2(bad), &d2()), 41, 3, 9, DISCARD, &h(bad));
}

#[test]
fn rfc6793_malformed_as4_aggregator_is_discarded() {
    let bad = "c0 12 06 0001 c0000201";
    let e = err(&m2(bad), &d2());
    check(&e, 41, 3, 5, DISCARD, &h(bad));
    assert_eq!(e.salvaged_update().unwrap().attributes.len(), 3);
}

#[test]
fn rfc6793_as4_attributes_between_new_speakers_are_discarded() {
    discard_after_m("c0 11 06 02 01 00010000", 9, &d4());
    discard_after_m("c0 12 08 00010000 c0000201", 9, &d4());
}

#[test]
fn rfc6793_confed_segments_in_as4_path_are_dropped() {
    let b = m2("c0 11 0c 03 01 0000fc00 02 01 00010000");
    let Message::Update(u) = Message::decode(&b, &d2()).unwrap() else { panic!() };
    assert_eq!(u.attribute(17), Some(&AttrValue::As4Path(AsPath::from_sequence([65536]))));
}

#[test]
fn rfc8092_large_communities_bad_length() {
    taw_after_m("c0 20 0d 0000fde8 00000001 00000002 00", 5, &d4());
    taw_after_m("c0 20 00", 5, &d4());
}

#[test]
fn rfc9234_otc_bad_length() {
    taw_after_m("c0 23 03 00fde8", 5, &d4());
    // OTC marked non-transitive is a flags conflict, treat-as-withdraw.
    taw_after_m("80 23 04 0000fde8", 4, &d4());
}
