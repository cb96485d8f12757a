//! Golden (bytes, value) pairs, checked both ways: `decode(bytes) == value` and
//! `encode(value) == bytes`. Every byte string is written by hand from the RFC layouts,
//! one field per comment, never produced by our encoder.

mod common;

use bgp_proto::attr::Aggregator;
use bgp_proto::{
    Afi, AfiSafi, AsPath, AsSegment, AttrValue, Attribute, Capability, Community, DecodeCtx, EncodeCtx,
    ExtendedCommunity, LargeCommunity, Message, MpNlri, MpReach, MpUnreach, NextHop, Nlri, Notification, Open,
    OptionalParameter, Origin, RefreshSubtype, RouteRefresh, Safi, SegmentKind, Update,
};
use bytes::{Bytes, BytesMut};
use common::*;
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

fn v4(s: &str) -> Nlri<Ipv4Net> {
    Nlri::new(s.parse().unwrap())
}
fn v6(s: &str) -> Nlri<Ipv6Net> {
    Nlri::new(s.parse().unwrap())
}
fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}
fn seg(kind: SegmentKind, asns: &[u32]) -> AsSegment {
    AsSegment { kind, asns: asns.to_vec() }
}
fn a(v: AttrValue) -> Attribute {
    Attribute::new(v)
}
const EVPN: AfiSafi = AfiSafi::new(Afi::L2VPN, Safi::EVPN);
const VPNV4: AfiSafi = AfiSafi::new(Afi::IPV4, Safi::MPLS_VPN);
const FLOWSPEC4: AfiSafi = AfiSafi::new(Afi::IPV4, Safi::FLOWSPEC);

// ---------------------------------------------------------------------------------
// KEEPALIVE, NOTIFICATION, ROUTE-REFRESH
// ---------------------------------------------------------------------------------

#[test]
fn keepalive() {
    let b = h("
        ffffffffffffffffffffffffffffffff  # marker
        0013                              # length 19
        04                                # type KEEPALIVE
    ");
    golden(&b, &Message::Keepalive, &d4(), &e4());
}

#[test]
fn notification_plain() {
    let b = h("
        ffffffffffffffffffffffffffffffff 0015 03  # header, length 21, NOTIFICATION
        04                                        # code 4 Hold Timer Expired
        00                                        # subcode 0
    ");
    golden(&b, &Message::Notification(Notification::new(4, 0, Bytes::new())), &d4(), &e4());
}

#[test]
fn notification_with_data() {
    // UPDATE Message Error / Missing Well-known Attribute, data = the type code (ORIGIN).
    let b = msg(3, &h("03 03 01"));
    golden(&b, &Message::Notification(Notification::new(3, 3, vec![1u8])), &d4(), &e4());
}

#[test]
fn notification_shutdown_communication_rfc9003() {
    let b = h("
        ffffffffffffffffffffffffffffffff 0021 03  # header, length 33
        06                                        # Cease
        02                                        # Administrative Shutdown
        0b                                        # Shutdown Communication length 11
        6d61696e74656e616e6365                    # 'maintenance'
    ");
    let n = Notification::cease_with_message(2, "maintenance");
    golden(&b, &Message::Notification(n.clone()), &d4(), &e4());
    assert_eq!(n.shutdown_communication().unwrap().as_deref(), Some("maintenance"));

    // Multi-octet UTF-8, Administrative Reset.
    let b = h("
        ffffffffffffffffffffffffffffffff 001b 03  # header, length 27
        06 04                                     # Cease / Administrative Reset
        05                                        # length 5
        c3bc 62 65 72                             # 'über'
    ");
    let n = Notification::cease_with_message(4, "über");
    golden(&b, &Message::Notification(n.clone()), &d4(), &e4());
    assert_eq!(n.shutdown_communication().unwrap().as_deref(), Some("über"));

    // A length running past the data, and bad UTF-8, are errors.
    assert!(Notification::new(6, 2, h("05 6869")).shutdown_communication().is_err());
    assert!(Notification::new(6, 2, h("02 c328")).shutdown_communication().is_err());
    // Other Cease subcodes carry no communication.
    assert_eq!(Notification::new(6, 3, h("02 6869")).shutdown_communication().unwrap(), None);
}

#[test]
fn route_refresh_plain_borr_eorr_rfc7313() {
    let req = h("
        ffffffffffffffffffffffffffffffff 0017 05  # header, length 23, ROUTE-REFRESH
        0001                                      # AFI IPv4
        00                                        # subtype 0: normal request (RFC 2918 reserved)
        01                                        # SAFI unicast
    ");
    golden(&req, &Message::RouteRefresh(RouteRefresh::request(AfiSafi::IPV4_UNICAST)), &d4(), &e4());

    let borr = h("ffffffffffffffffffffffffffffffff 0017 05  0002 01 01  # IPv6, BoRR, unicast");
    let v = RouteRefresh { family: AfiSafi::IPV6_UNICAST, subtype: RefreshSubtype::BeginOfRefresh, orf: Bytes::new() };
    golden(&borr, &Message::RouteRefresh(v), &d4(), &e4());

    let eorr = h("ffffffffffffffffffffffffffffffff 0017 05  0001 02 01  # IPv4, EoRR, unicast");
    let v = RouteRefresh { family: AfiSafi::IPV4_UNICAST, subtype: RefreshSubtype::EndOfRefresh, orf: Bytes::new() };
    golden(&eorr, &Message::RouteRefresh(v), &d4(), &e4());

    // RFC 7313 §5: unknown subtypes are ignored by the session, but kept by the codec.
    let other = msg(5, &h("0001 07 01"));
    let v = RouteRefresh { family: AfiSafi::IPV4_UNICAST, subtype: RefreshSubtype::Other(7), orf: Bytes::new() };
    golden(&other, &Message::RouteRefresh(v), &d4(), &e4());

    // RFC 5291 ORF entries after a normal request are kept raw.
    let orf = msg(5, &h("0001 00 01   01 40 0005 0000000000"));
    let v = RouteRefresh {
        family: AfiSafi::IPV4_UNICAST,
        subtype: RefreshSubtype::Request,
        orf: Bytes::from(h("01 40 0005 0000000000")),
    };
    golden(&orf, &Message::RouteRefresh(v), &d4(), &e4());
}

// ---------------------------------------------------------------------------------
// UPDATE: every attribute
// ---------------------------------------------------------------------------------

/// ORIGIN IGP, AS_PATH [65000] (4-octet), NEXT_HOP 192.0.2.1.
const MANDATORY4: &str = "
    40 01 01 00                 # ORIGIN (well-known transitive), IGP
    40 02 06 02 01 0000fde8     # AS_PATH: AS_SEQUENCE of 1, 65000
    40 03 04 c0000201           # NEXT_HOP 192.0.2.1
";

fn mandatory4() -> Vec<Attribute> {
    vec![
        a(AttrValue::Origin(Origin::Igp)),
        a(AttrValue::AsPath(AsPath::from_sequence([65000]))),
        a(AttrValue::NextHop(ip("192.0.2.1"))),
    ]
}

#[test]
fn update_every_attribute_4_octet() {
    let b = update(
        &h("10 0a01                      # withdrawn 10.1.0.0/16"),
        &h("
            40 01 01 02                  # ORIGIN INCOMPLETE
            40 02 20                     # AS_PATH, length 32
               02 02 0000fde8 0000fde9   #   AS_SEQUENCE 65000 65001
               01 02 00010000 00000064   #   AS_SET 65536 100
               03 01 0000fc00            #   AS_CONFED_SEQUENCE 64512
               04 01 0000fc01            #   AS_CONFED_SET 64513
            40 03 04 c0000201            # NEXT_HOP 192.0.2.1
            80 04 04 00000064            # MULTI_EXIT_DISC 100 (optional non-transitive)
            40 05 04 000000c8            # LOCAL_PREF 200
            40 06 00                     # ATOMIC_AGGREGATE
            c0 07 08 0000fde8 c0000201   # AGGREGATOR 65000, 192.0.2.1 (4-octet)
            c0 08 20                     # COMMUNITIES, 8 of them
               ffffff01                  #   NO_EXPORT
               ffffff02                  #   NO_ADVERTISE
               ffffff03                  #   NO_EXPORT_SUBCONFED
               ffff0000                  #   GRACEFUL_SHUTDOWN
               ffff029a                  #   BLACKHOLE
               ffff0006                  #   LLGR_STALE
               ffff0007                  #   NO_LLGR
               fde80064                  #   65000:100
            80 09 04 0a000001            # ORIGINATOR_ID 10.0.0.1
            80 0a 08 0a000002 0a000003   # CLUSTER_LIST 10.0.0.2 10.0.0.3
            c0 10 10                     # EXTENDED_COMMUNITIES, 2 of them
               0002 fde8 00000064        #   route target 65000:100
               4300 0000 00000000        #   non-transitive opaque (type 0x43)
            c0 20 0c 0000fde8 00000001 00000002  # LARGE_COMMUNITY 65000:1:2
            c0 23 04 0000fde8            # OTC 65000
            e0 63 03 010203              # unknown 99, optional transitive PARTIAL
            80 64 02 beef                # unknown 100, optional non-transitive
        "),
        &h("
            18 0af401                    # 10.244.1.0/24
            1a 0af40240                  # 10.244.2.64/26
            20 c0000201                  # 192.0.2.1/32
            00                           # 0.0.0.0/0
        "),
    );
    let u = Update {
        withdrawn: bgp_proto::smallvec::smallvec![v4("10.1.0.0/16")],
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::Origin(Origin::Incomplete)),
            a(AttrValue::AsPath(AsPath {
                segments: vec![
                    seg(SegmentKind::Sequence, &[65000, 65001]),
                    seg(SegmentKind::Set, &[65536, 100]),
                    seg(SegmentKind::ConfedSequence, &[64512]),
                    seg(SegmentKind::ConfedSet, &[64513]),
                ],
            })),
            a(AttrValue::NextHop(ip("192.0.2.1"))),
            a(AttrValue::Med(100)),
            a(AttrValue::LocalPref(200)),
            a(AttrValue::AtomicAggregate),
            a(AttrValue::Aggregator(Aggregator { asn: 65000, address: ip("192.0.2.1") })),
            a(AttrValue::Communities(vec![
                Community::NO_EXPORT,
                Community::NO_ADVERTISE,
                Community::NO_EXPORT_SUBCONFED,
                Community::GRACEFUL_SHUTDOWN,
                Community::BLACKHOLE,
                Community::LLGR_STALE,
                Community::NO_LLGR,
                Community::new(65000, 100),
            ])),
            a(AttrValue::OriginatorId(ip("10.0.0.1"))),
            a(AttrValue::ClusterList(vec![ip("10.0.0.2"), ip("10.0.0.3")])),
            a(AttrValue::ExtendedCommunities(vec![
                ExtendedCommunity::route_target(65000, 100),
                ExtendedCommunity([0x43, 0, 0, 0, 0, 0, 0, 0]),
            ])),
            a(AttrValue::LargeCommunities(vec![LargeCommunity::new(65000, 1, 2)])),
            a(AttrValue::Otc(65000)),
            Attribute { flags: 0xe0, value: AttrValue::Unknown { type_code: 99, data: Bytes::from(h("010203")) } },
            Attribute { flags: 0x80, value: AttrValue::Unknown { type_code: 100, data: Bytes::from(h("beef")) } },
        ],
        nlri: bgp_proto::smallvec::smallvec![
            v4("10.244.1.0/24"),
            v4("10.244.2.64/26"),
            v4("192.0.2.1/32"),
            v4("0.0.0.0/0")
        ],
    };
    golden(&b, &Message::Update(u.clone()), &d4(), &e4());
    let ec = ExtendedCommunity::route_target(65000, 100);
    assert!(ec.is_transitive() && ec.sub_type() == 2);
    assert_eq!(Community::NO_LLGR.to_string(), "NO_LLGR");
}

#[test]
fn update_two_octet_as_with_as4_path_and_as4_aggregator() {
    let b = update(
        &[],
        &h("
            40 01 01 00                      # ORIGIN IGP
            40 02 0c                         # AS_PATH (2-octet ASNs), length 12
               02 02 fde8 5ba0               #   AS_SEQUENCE 65000 AS_TRANS
               01 02 0064 5ba0               #   AS_SET 100 AS_TRANS
            40 03 04 c0000201                # NEXT_HOP
            c0 07 06 5ba0 c0000201           # AGGREGATOR (2-octet): AS_TRANS, 192.0.2.1
            c0 11 14                         # AS4_PATH, length 20
               02 02 0000fde8 00010000       #   AS_SEQUENCE 65000 65536
               01 02 00000064 00010001       #   AS_SET 100 65537
            c0 12 08 00010000 c0000201       # AS4_AGGREGATOR 65536, 192.0.2.1
        "),
        &h("18 0af401"),
    );
    let u = Update {
        withdrawn: Default::default(),
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath {
                segments: vec![seg(SegmentKind::Sequence, &[65000, 23456]), seg(SegmentKind::Set, &[100, 23456])],
            })),
            a(AttrValue::NextHop(ip("192.0.2.1"))),
            a(AttrValue::Aggregator(Aggregator { asn: 23456, address: ip("192.0.2.1") })),
            a(AttrValue::As4Path(AsPath {
                segments: vec![seg(SegmentKind::Sequence, &[65000, 65536]), seg(SegmentKind::Set, &[100, 65537])],
            })),
            a(AttrValue::As4Aggregator(Aggregator { asn: 65536, address: ip("192.0.2.1") })),
        ],
        nlri: bgp_proto::smallvec::smallvec![v4("10.244.1.0/24")],
    };
    golden(&b, &Message::Update(u.clone()), &d2(), &e2());
    // RFC 6793 §4.2.3: the real path.
    assert_eq!(
        u.effective_as_path().unwrap(),
        AsPath { segments: vec![seg(SegmentKind::Sequence, &[65000, 65536]), seg(SegmentKind::Set, &[100, 65537])] }
    );
}

#[test]
fn rfc6793_merge_rules() {
    let with = |p: AsPath, p4: Option<AsPath>, agg: Option<(u32, u32)>| {
        let mut attributes = vec![a(AttrValue::Origin(Origin::Igp)), a(AttrValue::AsPath(p))];
        if let Some(p4) = p4 {
            attributes.push(a(AttrValue::As4Path(p4)));
        }
        if let Some((g, g4)) = agg {
            attributes.push(a(AttrValue::Aggregator(Aggregator { asn: g, address: ip("192.0.2.1") })));
            attributes.push(a(AttrValue::As4Aggregator(Aggregator { asn: g4, address: ip("192.0.2.1") })));
        }
        Update { attributes: attributes.into(), ..Default::default() }.effective_as_path().unwrap()
    };
    // AS_PATH longer than AS4_PATH: the leading ASNs of AS_PATH, then AS4_PATH.
    let p = AsPath::from_sequence([65001, 65002, 23456, 23456]);
    let p4 = AsPath::from_sequence([65536, 65537]);
    assert_eq!(
        with(p.clone(), Some(p4.clone()), None),
        AsPath {
            segments: vec![seg(SegmentKind::Sequence, &[65001, 65002]), seg(SegmentKind::Sequence, &[65536, 65537])]
        }
    );
    // Same length: AS4_PATH replaces the whole path.
    let q = AsPath::from_sequence([23456, 23456]);
    assert_eq!(with(q.clone(), Some(p4.clone()), None), p4);
    // "If the number of AS numbers in the AS_PATH attribute is less than the number of AS
    // numbers in the AS4_PATH attribute, then the AS4_PATH attribute SHALL be ignored."
    let short = AsPath::from_sequence([23456]);
    assert_eq!(with(short.clone(), Some(p4.clone()), None), short);
    // AS_SET counts as one.
    let set = AsPath { segments: vec![seg(SegmentKind::Sequence, &[65001]), seg(SegmentKind::Set, &[1, 2, 3])] };
    assert_eq!(with(set.clone(), Some(AsPath::from_sequence([65536, 65537, 65538])), None), set);
    // No AS4_PATH: AS_PATH as is.
    assert_eq!(with(p.clone(), None, None), p);
    // AGGREGATOR not AS_TRANS: AS4_PATH and AS4_AGGREGATOR are ignored.
    assert_eq!(with(p.clone(), Some(p4.clone()), Some((65000, 65536))), p);
    // AGGREGATOR AS_TRANS: merged as usual.
    assert_eq!(with(q.clone(), Some(p4.clone()), Some((23456, 65536))), p4);
}

#[test]
fn aggregator_two_octet_sends_as_trans() {
    // A 4-octet aggregator ASN on a 2-octet session is sent as AS_TRANS.
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![a(AttrValue::Aggregator(Aggregator {
            asn: 65536,
            address: ip("192.0.2.1")
        }))],
        ..Default::default()
    };
    let b = enc(&Message::Update(u), &e2());
    assert_eq!(hex::encode(&b[19..]), hex::encode(h("0000 0009  c0 07 06 5ba0 c0000201")));
    // And AS_PATH ASNs above 65535 become AS_TRANS (RFC 6793 §4.2.2).
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![a(AttrValue::AsPath(AsPath::from_sequence([65000, 4200000000])))],
        ..Default::default()
    };
    let b = enc(&Message::Update(u), &e2());
    assert_eq!(hex::encode(&b[19..]), hex::encode(h("0000 0009  40 02 06 02 02 fde8 5ba0")));
}

#[test]
fn mp_reach_unreach_ipv4_and_ipv6_unicast() {
    // IPv4 unicast in MP_REACH_NLRI with an IPv4 next hop, withdrawal in MP_UNREACH_NLRI.
    let b = update(
        &[],
        &h("
            80 0e 0d                 # MP_REACH_NLRI, length 13
               0001 01               #   AFI 1, SAFI 1
               04 c0000201           #   next hop length 4, 192.0.2.1
               00                    #   reserved
               18 0af401             #   10.244.1.0/24
            80 0f 07                 # MP_UNREACH_NLRI, length 7
               0001 01               #   AFI 1, SAFI 1
               18 0af402             #   10.244.2.0/24
            40 01 01 00              # ORIGIN
            40 02 00                 # AS_PATH, empty (iBGP)
        "),
        &[],
    );
    let u = Update {
        withdrawn: Default::default(),
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop: NextHop::V4(ip("192.0.2.1")),
                nlri: MpNlri::Ipv4(vec![v4("10.244.1.0/24")]),
            }))),
            a(AttrValue::MpUnreach(Box::new(MpUnreach {
                family: AfiSafi::IPV4_UNICAST,
                withdrawn: MpNlri::Ipv4(vec![v4("10.244.2.0/24")]),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
        ],
        nlri: Default::default(),
    };
    golden(&b, &Message::Update(u.clone()), &d4(), &e4());
    assert_eq!(u.announced_v4().count(), 1);
    assert_eq!(u.withdrawn_v4().count(), 1);

    // IPv6 with global + link-local next hop (RFC 2545 §3).
    let b = update(
        &[],
        &h("
            80 0e 35                                  # MP_REACH_NLRI, length 53
               0002 01                                #   AFI 2, SAFI 1
               20                                     #   next hop length 32
               20010db8000000000000000000000001       #   global 2001:db8::1
               fe800000000000000000000000000001       #   link-local fe80::1
               00                                     #   reserved
               30 20010db80001                        #   2001:db8:1::/48
               40 20010db800020000                    #   2001:db8:2::/64
            80 0f 0a                                  # MP_UNREACH_NLRI, length 10
               0002 01                                #   AFI 2, SAFI 1
               30 20010db80003                        #   2001:db8:3::/48
            40 01 01 00                               # ORIGIN
            40 02 06 02 01 0000fde8                   # AS_PATH 65000
            80 04 04 00000000                         # MED 0
        "),
        &[],
    );
    let u = Update {
        withdrawn: Default::default(),
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: NextHop::V6 { global: ip6("2001:db8::1"), link_local: Some(ip6("fe80::1")) },
                nlri: MpNlri::Ipv6(vec![v6("2001:db8:1::/48"), v6("2001:db8:2::/64")]),
            }))),
            a(AttrValue::MpUnreach(Box::new(MpUnreach {
                family: AfiSafi::IPV6_UNICAST,
                withdrawn: MpNlri::Ipv6(vec![v6("2001:db8:3::/48")]),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::from_sequence([65000]))),
            a(AttrValue::Med(0)),
        ],
        nlri: Default::default(),
    };
    golden(&b, &Message::Update(u.clone()), &d4(), &e4());
    assert_eq!(u.announced_v6().count(), 2);
    assert_eq!(u.withdrawn_v6().count(), 1);

    // IPv6 global-only next hop.
    let b = update(
        &[],
        &h("
            80 0e 1e 0002 01 10 20010db8000000000000000000000001 00  # MP_REACH (30), NH 2001:db8::1
               40 20010db800020000                                   # 2001:db8:2::/64
            40 01 01 00  40 02 00                                    # ORIGIN, empty AS_PATH
        "),
        &[],
    );
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: NextHop::V6 { global: ip6("2001:db8::1"), link_local: None },
                nlri: MpNlri::Ipv6(vec![v6("2001:db8:2::/64")]),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
        ],
        ..Default::default()
    };
    golden(&b, &Message::Update(u), &d4(), &e4());
}

#[test]
fn ipv4_nlri_with_ipv6_next_hop_rfc8950() {
    let b = update(
        &[],
        &h("
            80 0e 19                              # MP_REACH_NLRI, length 25
               0001 01                            #   AFI 1 (IPv4), SAFI 1
               10 20010db8000000000000000000000001  # next hop length 16: 2001:db8::1
               00                                 #   reserved
               18 0af401                          #   10.244.1.0/24
            40 01 01 00  40 02 00                 # ORIGIN, empty AS_PATH
        "),
        &[],
    );
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop: NextHop::V6 { global: ip6("2001:db8::1"), link_local: None },
                nlri: MpNlri::Ipv4(vec![v4("10.244.1.0/24")]),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
        ],
        ..Default::default()
    };
    golden(&b, &Message::Update(u.clone()), &d4_enh(), &e4());
    assert_eq!(u.mp_next_hop(), Some(&NextHop::V6 { global: ip6("2001:db8::1"), link_local: None }));
    // Without the capability in force the same bytes are malformed (malformed.rs).
    assert!(Message::decode(&b, &d4()).is_err());
}

#[test]
fn add_path_nlri_rfc7911() {
    let d = DecodeCtx { add_path: fams(&[AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]), ..d4() };
    let e = EncodeCtx { add_path: fams(&[AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]), ..e4() };
    let b = update(
        &h("00000003 10 0a01            # path id 3, 10.1.0.0/16"),
        &h(&format!(
            "{MANDATORY4}
            80 0e 20 0002 01 10 20010db8000000000000000000000001 00  # MP_REACH IPv6, length 32
               00000007 30 20010db80001                              #   path 7, 2001:db8:1::/48
        "
        )),
        &h("
            00000001 18 0af401          # path id 1, 10.244.1.0/24
            00000002 18 0af401          # path id 2, same prefix
        "),
    );
    let mut attributes = mandatory4();
    attributes.push(a(AttrValue::MpReach(Box::new(MpReach {
        family: AfiSafi::IPV6_UNICAST,
        next_hop: NextHop::V6 { global: ip6("2001:db8::1"), link_local: None },
        nlri: MpNlri::Ipv6(vec![Nlri::with_path_id("2001:db8:1::/48".parse().unwrap(), 7)]),
    }))));
    let u = Update {
        withdrawn: bgp_proto::smallvec::smallvec![Nlri::with_path_id("10.1.0.0/16".parse().unwrap(), 3)],
        attributes: attributes.into(),
        nlri: bgp_proto::smallvec::smallvec![
            Nlri::with_path_id("10.244.1.0/24".parse().unwrap(), 1),
            Nlri::with_path_id("10.244.1.0/24".parse().unwrap(), 2),
        ],
    };
    golden(&b, &Message::Update(u), &d, &e);
}

#[test]
fn end_of_rib_both_forms_rfc4724() {
    let b = h("
        ffffffffffffffffffffffffffffffff 0017 02  # header, length 23, UPDATE
        0000                                      # no withdrawn routes
        0000                                      # no path attributes
    ");
    let eor = Update::end_of_rib(AfiSafi::IPV4_UNICAST);
    golden(&b, &Message::Update(eor.clone()), &d4(), &e4());
    assert_eq!(eor.as_end_of_rib(), Some(AfiSafi::IPV4_UNICAST));

    let b = h("
        ffffffffffffffffffffffffffffffff 001d 02  # header, length 29
        0000 0006                                 # no withdrawn, 6 octets of attributes
        80 0f 03 0002 01                          # MP_UNREACH_NLRI IPv6 unicast, no NLRI
    ");
    let eor = Update::end_of_rib(AfiSafi::IPV6_UNICAST);
    golden(&b, &Message::Update(eor.clone()), &d4(), &e4());
    assert_eq!(eor.as_end_of_rib(), Some(AfiSafi::IPV6_UNICAST));

    let b = update(&[], &h("80 0f 03 0019 46   # MP_UNREACH_NLRI EVPN, no NLRI"), &[]);
    let eor = Update::end_of_rib(EVPN);
    golden(&b, &Message::Update(eor.clone()), &d4(), &e4());
    assert_eq!(eor.as_end_of_rib(), Some(EVPN));

    // An UPDATE that withdraws something is not an End-of-RIB.
    let u = Update { withdrawn: bgp_proto::smallvec::smallvec![v4("10.0.0.0/8")], ..Default::default() };
    assert_eq!(u.as_end_of_rib(), None);
}

#[test]
fn opaque_families_byte_exact() {
    // VPNv4 (1/128): next hop is RD(0) + IPv4, NLRI is label + RD + prefix.
    let vpn_nh = h("0000000000000000 c0000201");
    let vpn_nlri = h("
        70              # 112 bits: 24 label + 64 RD + 24 prefix
        000641          # label 100, bottom of stack
        0000fde800000064  # RD type 0, 65000:100
        0af401          # 10.244.1.0
    ");
    // EVPN (25/70): route type 3 (inclusive multicast Ethernet tag).
    let evpn_nlri = h("
        03 11                 # route type 3, length 17
        0000fde800000064      # RD
        00000000              # Ethernet tag
        20 c0000201           # originating router's IP, 32 bits
    ");
    // FlowSpec (1/133): next hop length 0.
    let fs_nlri = h("
        08                    # NLRI length 8
        01 18 0af401          # destination prefix 10.244.1.0/24
        03 81 06              # IP protocol == 6 (end of list)
    ");
    let b = update(
        &[],
        &cat(&[
            &h("80 0e 20 0001 80 0c"),
            &vpn_nh,
            &h("00"),
            &vpn_nlri,
            &h("80 0f 16 0019 46"),
            &evpn_nlri,
            &h("40 01 01 00  40 02 00"),
        ]),
        &[],
    );
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: VPNV4,
                next_hop: NextHop::Raw(Bytes::from(vpn_nh.clone())),
                nlri: MpNlri::Opaque(Bytes::from(vpn_nlri.clone())),
            }))),
            a(AttrValue::MpUnreach(Box::new(MpUnreach {
                family: EVPN,
                withdrawn: MpNlri::Opaque(Bytes::from(evpn_nlri.clone())),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
        ],
        ..Default::default()
    };
    golden(&b, &Message::Update(u), &d4(), &e4());

    let b = update(&[], &cat(&[&h("80 0e 1c 0019 46 04 c0000201 00"), &evpn_nlri, &h("40 01 01 00  40 02 00")]), &[]);
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: EVPN,
                next_hop: NextHop::Raw(Bytes::from(h("c0000201"))),
                nlri: MpNlri::Opaque(Bytes::from(evpn_nlri.clone())),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
        ],
        ..Default::default()
    };
    golden(&b, &Message::Update(u), &d4(), &e4());

    let b = update(
        &[],
        &cat(&[
            &h("80 0e 0e 0001 85 00 00"),
            &fs_nlri,
            &h("40 01 01 00  40 02 00  c0 10 08 8006 0000 00000000  # traffic-rate 0"),
        ]),
        &[],
    );
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            a(AttrValue::MpReach(Box::new(MpReach {
                family: FLOWSPEC4,
                next_hop: NextHop::Raw(Bytes::new()),
                nlri: MpNlri::Opaque(Bytes::from(fs_nlri.clone())),
            }))),
            a(AttrValue::Origin(Origin::Igp)),
            a(AttrValue::AsPath(AsPath::default())),
            a(AttrValue::ExtendedCommunities(vec![ExtendedCommunity([0x80, 0x06, 0, 0, 0, 0, 0, 0])])),
        ],
        ..Default::default()
    };
    golden(&b, &Message::Update(u), &d4(), &e4());
}

#[test]
fn extended_length_attribute_and_extended_message_rfc8654() {
    // 1500 withdrawn /24s: 6000 octets, more than 4096.
    let mut w = Vec::new();
    let mut prefixes = Vec::new();
    for i in 0..1500u32 {
        w.extend_from_slice(&[24, 10, (i >> 8) as u8, i as u8]); // length 24, 10.x.y.0
        prefixes.push(Nlri::new(Ipv4Net::new(Ipv4Addr::new(10, (i >> 8) as u8, i as u8, 0), 24).unwrap()));
    }
    let b = update(&w, &[], &[]);
    assert_eq!(b.len(), 19 + 4 + 6000);
    let d = DecodeCtx { extended_message: true, ..d4() };
    let e = EncodeCtx { extended_message: true, ..e4() };
    let u = Update { withdrawn: prefixes.into(), ..Default::default() };
    golden(&b, &Message::Update(u.clone()), &d, &e);
    // Without the capability: a Bad Message Length whose data is the length field.
    let err = Message::decode(&b, &d4()).unwrap_err();
    assert_eq!((err.code, err.subcode, err.offset), (1, 2, 16));
    assert_eq!(err.data.as_ref(), &((19 + 4 + 6000) as u16).to_be_bytes());
    assert_eq!(bgp_proto::frame(&b, 4096).unwrap_err().subcode, 2);
    assert_eq!(bgp_proto::frame(&b, 65535).unwrap(), Some(b.len()));
    // And the encoder refuses it.
    let mut out = BytesMut::new();
    assert!(matches!(
        Message::Update(u).encode(&e4(), &mut out),
        Err(bgp_proto::EncodeError::TooLong { len: 6023, max: 4096 })
    ));
    assert!(out.is_empty());

    // An attribute longer than 255 octets uses the Extended Length flag.
    let comms: Vec<u8> = (0..100u32).flat_map(|i| (0xfde8_0000 | i).to_be_bytes()).collect();
    let b = update(&[], &cat(&[&h("d0 08 0190  # COMMUNITIES, Extended Length, 400 octets"), &comms]), &[]);
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![a(AttrValue::Communities(
            (0..100).map(|i| Community::new(65000, i)).collect()
        ))],
        ..Default::default()
    };
    // (An UPDATE with attributes but no NLRI: valid syntax, the session decides.)
    golden(&b, &Message::Update(u), &d4(), &e4());

    // A NOTIFICATION may be extended too (RFC 8654 §3); an OPEN may not.
    let n = Message::Notification(Notification::new(3, 1, vec![0u8; 5000]));
    assert_eq!(enc(&n, &e).len(), 19 + 2 + 5000);
    let o = Message::Open(Open {
        my_as: 1,
        hold_time: 90,
        bgp_id: ip("10.0.0.1"),
        params: (0..30)
            .map(|i| OptionalParameter::Capabilities {
                capabilities: vec![Capability::Unknown { code: 200 + i, value: Bytes::from(vec![0; 200]) }],
            })
            .collect(),
    });
    assert!(o.to_bytes(&e).is_err());
}
