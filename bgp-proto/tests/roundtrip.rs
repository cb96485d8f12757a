//! Round trips: generated messages survive encode → decode, canonical bytes survive
//! decode → encode, arbitrary bytes never panic the decoder, and UpdateBuilder packs
//! prefixes into the fewest messages that fit.

mod common;

use bgp_proto::attr::Aggregator;
use bgp_proto::capability::{
    AddPathFamily, AddPathMode, ExtendedNextHop, GracefulRestart, GracefulRestartFamily, LlgrFamily,
};
use bgp_proto::{
    Afi, AfiSafi, AsPath, AsSegment, AttrValue, Attribute, Capability, Community, DecodeCtx, EncodeCtx,
    ExtendedCommunity, LargeCommunity, Message, MpNlri, MpReach, MpUnreach, NextHop, Nlri, Notification, Open,
    OptionalParameter, Origin, Prefixes, RefreshSubtype, RouteRefresh, Safi, SegmentKind, Update, UpdateBuilder,
};
use bytes::{Bytes, BytesMut};
use common::*;
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

// ----- generators ----------------------------------------------------------------------------

fn v4net() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}
fn v6net() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0u8..=128).prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}
fn nlri<P: std::fmt::Debug + Clone + 'static>(
    p: impl Strategy<Value = P> + 'static,
    add_path: bool,
    max: usize,
) -> BoxedStrategy<Vec<Nlri<P>>> {
    let one = (p, any::<u32>()).prop_map(move |(prefix, id)| Nlri { path_id: add_path.then_some(id), prefix });
    vec(one, 0..max).boxed()
}
fn ctx_pair() -> impl Strategy<Value = (DecodeCtx, EncodeCtx)> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(four, ap4, ap6)| {
        let mut fs = Vec::new();
        if ap4 {
            fs.push(AfiSafi::IPV4_UNICAST);
        }
        if ap6 {
            fs.push(AfiSafi::IPV6_UNICAST);
        }
        // The MP_REACH strategies send IPv6 next hops for IPv4 NLRI too (RFC 8950), and
        // `mirror` encodes them: both directions have the capability in force.
        let d = DecodeCtx {
            four_octet_as: four,
            add_path: fams(&fs),
            extended_next_hop: fams(&[AfiSafi::IPV4_UNICAST, AfiSafi::IPV4_MULTICAST]),
            ..DecodeCtx::default()
        };
        let e = mirror(&d);
        (d, e)
    })
}
fn asn(four: bool) -> BoxedStrategy<u32> {
    if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    }
}
fn as_path(four: bool, confed: bool) -> impl Strategy<Value = AsPath> {
    let kinds: Vec<SegmentKind> = if confed {
        vec![SegmentKind::Set, SegmentKind::Sequence, SegmentKind::ConfedSequence, SegmentKind::ConfedSet]
    } else {
        vec![SegmentKind::Set, SegmentKind::Sequence]
    };
    vec((proptest::sample::select(kinds), vec(asn(four), 1..8)).prop_map(|(kind, asns)| AsSegment { kind, asns }), 0..4)
        .prop_map(|segments| AsPath { segments })
}
fn host_v4() -> BoxedStrategy<Ipv4Addr> {
    (1u8..224, any::<[u8; 3]>()).prop_map(|(a, r)| Ipv4Addr::new(a, r[0], r[1], r[2])).boxed()
}
fn v6addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// A typed or opaque MP_REACH_NLRI.
fn mp_reach(add4: bool, add6: bool) -> BoxedStrategy<MpReach> {
    let nh6 = (v6addr(), proptest::option::of(v6addr()))
        .prop_map(|(global, link_local)| NextHop::V6 { global, link_local })
        .boxed();
    let v4nh = prop_oneof![host_v4().prop_map(NextHop::V4), nh6.clone()].boxed();
    prop_oneof![
        (v4nh.clone(), nlri(v4net(), add4, 6)).prop_map(|(next_hop, n)| MpReach {
            family: AfiSafi::IPV4_UNICAST,
            next_hop,
            nlri: MpNlri::Ipv4(n),
        }),
        // ADD-PATH is only ever negotiated for unicast in these contexts.
        (v4nh, nlri(v4net(), false, 6)).prop_map(|(next_hop, n)| MpReach {
            family: AfiSafi::IPV4_MULTICAST,
            next_hop,
            nlri: MpNlri::Ipv4(n),
        }),
        (nh6, nlri(v6net(), add6, 6)).prop_map(|(next_hop, n)| MpReach {
            family: AfiSafi::IPV6_UNICAST,
            next_hop,
            nlri: MpNlri::Ipv6(n),
        }),
        (opaque_family(), vec(any::<u8>(), 0..24), vec(any::<u8>(), 0..40)).prop_map(|(family, nh, n)| MpReach {
            family,
            next_hop: NextHop::Raw(Bytes::from(nh)),
            nlri: MpNlri::Opaque(Bytes::from(n)),
        }),
    ]
    .boxed()
}
fn opaque_family() -> impl Strategy<Value = AfiSafi> {
    proptest::sample::select(vec![
        AfiSafi::new(Afi::IPV4, Safi::MPLS_VPN),
        AfiSafi::new(Afi::L2VPN, Safi::EVPN),
        AfiSafi::new(Afi::IPV4, Safi::FLOWSPEC),
        AfiSafi::new(Afi::BGP_LS, Safi(71)),
        AfiSafi::new(Afi::IPV6, Safi::MPLS_LABEL),
    ])
}
fn mp_unreach(add4: bool, add6: bool) -> BoxedStrategy<MpUnreach> {
    prop_oneof![
        nlri(v4net(), add4, 6).prop_map(|n| MpUnreach { family: AfiSafi::IPV4_UNICAST, withdrawn: MpNlri::Ipv4(n) }),
        nlri(v6net(), add6, 6).prop_map(|n| MpUnreach { family: AfiSafi::IPV6_UNICAST, withdrawn: MpNlri::Ipv6(n) }),
        (opaque_family(), vec(any::<u8>(), 0..40))
            .prop_map(|(family, n)| MpUnreach { family, withdrawn: MpNlri::Opaque(Bytes::from(n)) }),
    ]
    .boxed()
}

/// Type codes the codec validates or types; unknown attributes avoid them.
const KNOWN: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 24, 25, 32, 35, 128];

fn optional_attrs(four: bool, add4: bool, add6: bool) -> BoxedStrategy<Vec<Attribute>> {
    let partial = any::<bool>();
    let agg = (asn(four), host_v4()).prop_map(|(asn, address)| Aggregator { asn, address }).boxed();
    let comm = prop_oneof![
        proptest::sample::select(vec![
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NO_EXPORT_SUBCONFED,
            Community::GRACEFUL_SHUTDOWN,
            Community::BLACKHOLE,
            Community::LLGR_STALE,
            Community::NO_LLGR,
        ]),
        any::<u32>().prop_map(Community),
    ];
    let mut parts: Vec<BoxedStrategy<AttrValue>> = vec![
        any::<u32>().prop_map(AttrValue::Med).boxed(),
        any::<u32>().prop_map(AttrValue::LocalPref).boxed(),
        Just(AttrValue::AtomicAggregate).boxed(),
        agg.clone().prop_map(AttrValue::Aggregator).boxed(),
        vec(comm, 1..6).prop_map(AttrValue::Communities).boxed(),
        any::<[u8; 4]>().prop_map(|a| AttrValue::OriginatorId(a.into())).boxed(),
        vec(any::<[u8; 4]>().prop_map(Ipv4Addr::from), 1..4).prop_map(AttrValue::ClusterList).boxed(),
        vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..4).prop_map(AttrValue::ExtendedCommunities).boxed(),
        vec(any::<(u32, u32, u32)>().prop_map(|(g, a, b)| LargeCommunity::new(g, a, b)), 1..4)
            .prop_map(AttrValue::LargeCommunities)
            .boxed(),
        any::<u32>().prop_map(AttrValue::Otc).boxed(),
        mp_reach(add4, add6).prop_map(|m| AttrValue::MpReach(Box::new(m))).boxed(),
        mp_unreach(add4, add6).prop_map(|m| AttrValue::MpUnreach(Box::new(m))).boxed(),
        ((0u8..=255).prop_filter("unknown", |t| !KNOWN.contains(t)), vec(any::<u8>(), 0..300))
            .prop_map(|(type_code, d)| AttrValue::Unknown { type_code, data: Bytes::from(d) })
            .boxed(),
    ];
    if !four {
        // AS4_PATH and AS4_AGGREGATOR only travel from 2-octet speakers (RFC 6793 §4.1).
        parts.push(as_path(true, false).prop_map(AttrValue::As4Path).boxed());
        parts.push(agg.prop_map(AttrValue::As4Aggregator).boxed());
    }
    let n = parts.len();
    vec((0..n, partial, proptest::sample::select(vec![0x80u8, 0xc0])), 0..6)
        .prop_flat_map(move |picks| {
            let strategies: Vec<BoxedStrategy<Attribute>> = picks
                .into_iter()
                .map(|(i, p, unknown_flags)| {
                    parts[i]
                        .clone()
                        .prop_map(move |v| {
                            let mut a = Attribute::new(v);
                            if matches!(a.value, AttrValue::Unknown { .. }) {
                                a.flags = unknown_flags;
                            }
                            // Partial only on optional transitive attributes (RFC 4271 §4.3).
                            if p && a.flags == 0xc0 {
                                a.flags |= 0x20;
                            }
                            a
                        })
                        .boxed()
                })
                .collect();
            strategies
        })
        .boxed()
}

fn update_for(d: &DecodeCtx) -> BoxedStrategy<Update> {
    let four = d.four_octet_as;
    let add4 = d.add_path(AfiSafi::IPV4_UNICAST);
    let add6 = d.add_path(AfiSafi::IPV6_UNICAST);
    (
        nlri(v4net(), add4, 8),
        nlri(v4net(), add4, 8),
        proptest::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]),
        as_path(four, true),
        host_v4(),
        optional_attrs(four, add4, add6),
    )
        .prop_map(|(withdrawn, nlri, origin, path, nh, opt)| {
            // One attribute per type (RFC 7606 §3 g), the well-known ones first.
            let mut by_type = BTreeMap::new();
            let mut attributes = vec![
                Attribute::new(AttrValue::Origin(origin)),
                Attribute::new(AttrValue::AsPath(path)),
                Attribute::new(AttrValue::NextHop(nh)),
            ];
            for a in opt {
                by_type.entry(a.type_code()).or_insert(a);
            }
            attributes.extend(by_type.into_values());
            let u = Update { withdrawn: withdrawn.into(), attributes: attributes.into(), nlri: nlri.into() };
            if u.has_reachable() {
                u
            } else {
                // Without reachable NLRI, keep only withdrawals (an UPDATE with attributes and
                // nothing reachable is legal, but keep the common shapes).
                u
            }
        })
        .boxed()
}

fn capability() -> impl Strategy<Value = Capability> {
    let fam = (any::<u16>(), any::<u8>()).prop_map(|(a, s)| AfiSafi::new(Afi(a), Safi(s)));
    let known: &[u8] = &[1, 2, 5, 6, 9, 64, 65, 69, 70, 71, 73];
    let known = known.to_vec();
    prop_oneof![
        (fam.clone(), any::<u8>()).prop_map(|(family, reserved)| Capability::Multiprotocol { family, reserved }),
        Just(Capability::RouteRefresh),
        vec((fam.clone(), any::<u16>()), 0..4).prop_map(|v| Capability::ExtendedNextHop(
            v.into_iter().map(|(nlri, nh)| ExtendedNextHop { nlri, next_hop_afi: Afi(nh) }).collect()
        )),
        Just(Capability::ExtendedMessage),
        any::<u8>().prop_map(Capability::Role),
        (any::<bool>(), any::<bool>(), 0u8..4, 0u16..4096, vec((fam.clone(), any::<bool>(), 0u8..128), 0..4)).prop_map(
            |(r, n, res, t, f)| Capability::GracefulRestart(GracefulRestart {
                restarting: r,
                notification: n,
                reserved_flags: res,
                restart_time: t,
                families: f
                    .into_iter()
                    .map(|(family, fp, o)| GracefulRestartFamily { family, forwarding_preserved: fp, other_flags: o })
                    .collect(),
            })
        ),
        any::<u32>().prop_map(Capability::FourOctetAs),
        vec(
            (fam.clone(), proptest::sample::select(vec![AddPathMode::Receive, AddPathMode::Send, AddPathMode::Both])),
            0..4
        )
        .prop_map(|v| Capability::AddPath(
            v.into_iter().map(|(family, mode)| AddPathFamily { family, mode }).collect()
        )),
        Just(Capability::EnhancedRouteRefresh),
        vec((fam, any::<u8>(), 0u32..0x100_0000), 0..4).prop_map(|v| Capability::LongLivedGracefulRestart(
            v.into_iter().map(|(family, flags, stale_time)| LlgrFamily { family, flags, stale_time }).collect()
        )),
        ("[a-z0-9-]{0,20}", "[a-z0-9.]{0,30}").prop_map(|(hostname, domain)| Capability::Fqdn { hostname, domain }),
        (any::<u8>().prop_filter("unknown code", move |c| !known.contains(c)), vec(any::<u8>(), 0..20))
            .prop_map(|(code, v)| Capability::Unknown { code, value: Bytes::from(v) }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    let param = prop_oneof![
        4 => vec(capability(), 0..8).prop_map(|capabilities| OptionalParameter::Capabilities { capabilities }),
        // Type 255 is reserved by RFC 9072 to mark the extended format.
        1 => ((0u8..255).prop_filter("not capabilities", |t| *t != 2), vec(any::<u8>(), 0..20))
            .prop_map(|(param_type, v)| OptionalParameter::Unknown { param_type, value: Bytes::from(v) }),
    ];
    (any::<u16>(), any::<u16>(), any::<[u8; 4]>(), vec(param, 0..6)).prop_map(|(my_as, hold_time, id, params)| Open {
        my_as,
        hold_time,
        bgp_id: id.into(),
        params,
    })
}

fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
    let fam = (any::<u16>(), any::<u8>()).prop_map(|(a, s)| AfiSafi::new(Afi(a), Safi(s)));
    prop_oneof![
        (fam.clone(), vec(any::<u8>(), 0..20)).prop_map(|(family, o)| RouteRefresh {
            family,
            subtype: RefreshSubtype::Request,
            orf: Bytes::from(o)
        }),
        (fam.clone(), any::<bool>()).prop_map(|(family, b)| RouteRefresh {
            family,
            subtype: if b { RefreshSubtype::BeginOfRefresh } else { RefreshSubtype::EndOfRefresh },
            orf: Bytes::new()
        }),
        (fam, 3u8..=255, vec(any::<u8>(), 0..8)).prop_map(|(family, c, o)| RouteRefresh {
            family,
            subtype: RefreshSubtype::Other(c),
            orf: Bytes::from(o)
        }),
    ]
}

fn message_for(d: &DecodeCtx) -> BoxedStrategy<Message> {
    prop_oneof![
        3 => update_for(d).prop_map(Message::Update),
        1 => open().prop_map(Message::Open),
        1 => (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..40))
            .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
        1 => Just(Message::Keepalive),
        1 => route_refresh().prop_map(Message::RouteRefresh),
    ]
    .boxed()
}

fn ctx_and_message() -> impl Strategy<Value = (DecodeCtx, EncodeCtx, Message)> {
    ctx_pair().prop_flat_map(|(d, e)| {
        let m = message_for(&d);
        (Just(d), Just(e), m)
    })
}

// ----- properties ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    /// decode(encode(m)) == m, and the bytes are canonical: encode(decode(b)) == b.
    #[test]
    fn encode_then_decode((d, e, m) in ctx_and_message()) {
        let mut b = BytesMut::new();
        if m.encode(&e, &mut b).is_err() {
            // Too big for 4096 octets: skip.
            return Ok(());
        }
        let back = Message::decode(&b, &d);
        prop_assert_eq!(back.as_ref(), Ok(&m), "bytes {}", hex::encode(&b));
        let again = enc(&back.unwrap(), &e);
        prop_assert_eq!(hex::encode(&again), hex::encode(&b));
        prop_assert_eq!(bgp_proto::frame(&b, d.max_message_len()).unwrap(), Some(b.len()));
    }

    /// Whatever the bytes and the context, decode does not panic, and whatever it accepts
    /// re-encodes to something that decodes to the same value.
    #[test]
    fn decode_never_panics(
        (d, e) in ctx_pair(),
        ext in any::<bool>(),
        ty in 0u8..=6,
        body in vec(any::<u8>(), 0..300),
        raw in any::<bool>(),
    ) {
        let d = DecodeCtx { extended_message: ext, external: ty % 2 == 0, ..d };
        let e = EncodeCtx { extended_message: ext, ..e };
        let b = if raw { body.clone() } else { msg(ty, &body) };
        if let Ok(m) = Message::decode(&b, &d) {
            let again = enc(&m, &e);
            prop_assert_eq!(Message::decode(&again, &d), Ok(m));
        }
        let _ = bgp_proto::frame(&b, d.max_message_len());
    }

    /// Structured garbage: a valid UPDATE skeleton with random attribute bytes.
    #[test]
    fn update_with_random_attributes((d, e) in ctx_pair(), attrs in vec(any::<u8>(), 0..200), nlri in vec(any::<u8>(), 0..20)) {
        let b = update(&[], &attrs, &nlri);
        match Message::decode(&b, &d) {
            Ok(m) => {
                let again = enc(&m, &e);
                prop_assert_eq!(Message::decode(&again, &d), Ok(m));
            }
            Err(err) => {
                prop_assert!(err.offset <= b.len());
                prop_assert!(err.code == 1 || err.code == 3);
                prop_assert_eq!(err.salvaged.is_some(), err.action <= bgp_proto::Action::TreatAsWithdraw);
            }
        }
    }
}

#[test]
fn two_octet_context_substitutes_as_trans() {
    let u = Update {
        attributes: bgp_proto::smallvec::smallvec![
            Attribute::new(AttrValue::Origin(Origin::Igp)),
            Attribute::new(AttrValue::AsPath(AsPath::from_sequence([65000, 70000, 4_200_000_000]))),
            Attribute::new(AttrValue::NextHop("192.0.2.1".parse().unwrap())),
            Attribute::new(AttrValue::Aggregator(Aggregator { asn: 70000, address: "192.0.2.1".parse().unwrap() })),
        ],
        nlri: bgp_proto::smallvec::smallvec![Nlri::new("10.0.0.0/8".parse().unwrap())],
        ..Default::default()
    };
    let b = enc(&Message::Update(u), &e2());
    let Message::Update(back) = Message::decode(&b, &d2()).unwrap() else { panic!() };
    assert_eq!(back.attribute(2), Some(&AttrValue::AsPath(AsPath::from_sequence([65000, 23456, 23456]))));
    assert_eq!(
        back.attribute(7),
        Some(&AttrValue::Aggregator(Aggregator { asn: 23456, address: "192.0.2.1".parse().unwrap() }))
    );
}

#[test]
fn hand_written_canonical_bytes() {
    // decode → encode is the identity on these (all written by hand).
    let cases: &[(&str, bool)] = &[
        ("0000 0000", true),
        ("0004 18 0a0001 0000", true),
        ("0000 0014 40 01 01 00 40 02 06 02 01 0000fde8 40 03 04 c0000201  18 0af401 00", true),
        ("0000 0006 80 0f 03 0002 01", true),
        ("0000 0018 40 01 01 01 40 02 0a 01 02 0000fde8 0000fde9 40 03 04 0a000001", true),
        ("0000 0012 c0 07 08 0000fde8 c0000201 c0 23 04 00000001", true),
        ("0000 000a e0 63 03 010203 80 64 01 ff", true),
        ("0000 0012 40 01 01 00 40 02 04 02 01 fde8 40 03 04 c0000201  18 0af401", false),
    ];
    for (body, four) in cases {
        let b = msg(2, &h(body));
        let (d, e) = if *four { (d4(), e4()) } else { (d2(), e2()) };
        let m = Message::decode(&b, &d).unwrap_or_else(|err| panic!("{body}: {err:?}"));
        assert_eq!(hex::encode(enc(&m, &e)), hex::encode(&b), "{body}");
    }
    for m in ["0001 00 01", "0002 01 01", "0001 02 80"] {
        let b = msg(5, &h(m));
        assert_eq!(enc(&Message::decode(&b, &d4()).unwrap(), &e4()), b);
    }
    for m in ["04 fde8 00b4 c0000201 00", "04 fde8 00b4 c0000201 08 02 06 41 04 0000fde8"] {
        let b = msg(1, &h(m));
        assert_eq!(enc(&Message::decode(&b, &d4()).unwrap(), &e4()), b);
    }
    for m in ["06 02", "06 02 05 68656c6c6f", "03 03 01"] {
        let b = msg(3, &h(m));
        assert_eq!(enc(&Message::decode(&b, &d4()).unwrap(), &e4()), b);
    }
}

// ----- UpdateBuilder ---------------------------------------------------------------------------

fn calico_attrs() -> Vec<Attribute> {
    vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::from_sequence([64512]))),
        Attribute::new(AttrValue::NextHop("10.0.0.11".parse().unwrap())),
        Attribute::new(AttrValue::LocalPref(100)),
        Attribute::new(AttrValue::Communities(vec![Community::new(64512, 100), Community::NO_EXPORT])),
        Attribute::new(AttrValue::LargeCommunities(vec![LargeCommunity::new(64512, 1, 1)])),
    ]
}

fn slash24s(n: u32) -> Vec<Nlri<Ipv4Net>> {
    (0..n).map(|i| Nlri::new(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap())).collect()
}

fn slash64s(n: u32) -> Vec<Nlri<Ipv6Net>> {
    (0..n)
        .map(|i| {
            Nlri::new(Ipv6Net::new(Ipv6Addr::from(0x2001_0db8_0000_0000_u128 << 64 | (i as u128) << 64), 64).unwrap())
        })
        .collect()
}

/// Splits a buffer into messages and decodes each.
fn decode_all(buf: &[u8], d: &DecodeCtx) -> Vec<Update> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let len = bgp_proto::frame(rest, d.max_message_len()).unwrap().expect("whole message");
        assert!(len <= d.max_message_len());
        match Message::decode(&rest[..len], d).unwrap() {
            Message::Update(u) => out.push(u),
            m => panic!("not an UPDATE: {m:?}"),
        }
        rest = &rest[len..];
    }
    out
}

/// The fewest order-keeping messages: greedy filling is optimal when order is kept.
fn min_messages(sizes: impl Iterator<Item = usize>, room: usize) -> usize {
    let mut count = 0;
    let mut left = 0;
    for s in sizes {
        if s > left {
            count += 1;
            left = room;
        }
        left -= s;
    }
    count
}

fn with_ids<P: Copy>(v: &[Nlri<P>]) -> Vec<Nlri<P>> {
    v.iter().enumerate().map(|(i, n)| Nlri { path_id: Some(i as u32 + 1), prefix: n.prefix }).collect()
}

#[test]
fn builder_ipv4_announce_and_withdraw() {
    for (add_path, extended, n) in
        [(false, false, 1000), (true, false, 1000), (false, true, 40000), (true, true, 20000)]
    {
        let fs = if add_path { fams(&[AfiSafi::IPV4_UNICAST]) } else { fams(&[]) };
        let e = EncodeCtx { add_path: fs.clone(), extended_message: extended, ..e4() };
        let d = DecodeCtx { add_path: fs, extended_message: extended, ..d4() };
        let max = e.max_message_len();
        let mut prefixes = slash24s(n);
        if add_path {
            prefixes = with_ids(&prefixes);
        }
        let per = if add_path { 8 } else { 4 };
        let attrs = calico_attrs();
        let attr_len =
            enc(&Message::Update(Update { attributes: attrs.clone().into(), ..Default::default() }), &e).len() - 23;

        let b = UpdateBuilder::new(e.clone());
        let mut out = BytesMut::new();
        let count = b.announce_v4(&attrs, &prefixes, &mut out).unwrap();
        let msgs = decode_all(&out, &d);
        assert_eq!(msgs.len(), count);
        assert_eq!(count, min_messages(prefixes.iter().map(|_| per), max - 23 - attr_len), "{add_path} {extended}");
        let got: Vec<_> = msgs.iter().flat_map(|u| u.nlri.iter().copied()).collect();
        assert_eq!(got, prefixes);
        for u in &msgs {
            assert_eq!(u.attributes[..], attrs);
        }

        let mut out = BytesMut::new();
        let count = b.withdraw_v4(&prefixes, &mut out).unwrap();
        let msgs = decode_all(&out, &d);
        assert_eq!(count, msgs.len());
        assert_eq!(count, min_messages(prefixes.iter().map(|_| per), max - 23));
        let got: Vec<_> = msgs.iter().flat_map(|u| u.withdrawn.iter().copied()).collect();
        assert_eq!(got, prefixes);
    }
    // 1000 /24s (4000 octets) plus these attributes fit one 4096-octet UPDATE; 1100 need two.
    let mut out = BytesMut::new();
    assert_eq!(UpdateBuilder::new(e4()).announce_v4(&calico_attrs(), &slash24s(1000), &mut out).unwrap(), 1);
    assert_eq!(UpdateBuilder::new(e4()).announce_v4(&calico_attrs(), &slash24s(1100), &mut out).unwrap(), 2);
}

#[test]
fn builder_mixed_prefix_lengths_minimal() {
    let prefixes: Vec<Nlri<Ipv4Net>> = (0..3000u32)
        .map(|i| {
            let len = [8u8, 16, 24, 32, 0, 25][i as usize % 6];
            Nlri::new(Ipv4Net::new(Ipv4Addr::from(i.wrapping_mul(2654435761)), len).unwrap().trunc())
        })
        .collect();
    let attrs = calico_attrs();
    let attr_len =
        enc(&Message::Update(Update { attributes: attrs.clone().into(), ..Default::default() }), &e4()).len() - 23;
    let mut out = BytesMut::new();
    let count = UpdateBuilder::new(e4()).announce_v4(&attrs, &prefixes, &mut out).unwrap();
    let msgs = decode_all(&out, &d4());
    assert_eq!(
        count,
        min_messages(prefixes.iter().map(|p| 1 + (p.prefix.prefix_len() as usize).div_ceil(8)), 4096 - 23 - attr_len)
    );
    assert_eq!(msgs.iter().flat_map(|u| u.nlri.iter().copied()).collect::<Vec<_>>(), prefixes);
}

#[test]
fn builder_ipv6_mp_announce_and_withdraw() {
    let nh = NextHop::V6 { global: "2001:db8::11".parse().unwrap(), link_local: Some("fe80::11".parse().unwrap()) };
    let attrs: Vec<Attribute> = calico_attrs().into_iter().filter(|a| a.type_code() != 3).collect();
    for (add_path, extended, n) in
        [(false, false, 1000), (true, false, 1000), (false, true, 20000), (true, true, 10000)]
    {
        let fs = if add_path { fams(&[AfiSafi::IPV6_UNICAST]) } else { fams(&[]) };
        let e = EncodeCtx { add_path: fs.clone(), extended_message: extended, ..e4() };
        let d = DecodeCtx { add_path: fs, extended_message: extended, ..d4() };
        let max = e.max_message_len();
        let mut prefixes = slash64s(n);
        if add_path {
            prefixes = with_ids(&prefixes);
        }
        let per = if add_path { 13 } else { 9 };
        let attr_len =
            enc(&Message::Update(Update { attributes: attrs.clone().into(), ..Default::default() }), &e).len() - 23;
        let b = UpdateBuilder::new(e.clone());

        let mut out = BytesMut::new();
        let count = b.announce_mp(&attrs, AfiSafi::IPV6_UNICAST, &nh, Prefixes::V6(&prefixes), &mut out).unwrap();
        let msgs = decode_all(&out, &d);
        assert_eq!(count, msgs.len());
        // MP_REACH: 4 header (extended length) + 3 AFI/SAFI + 1 + 32 next hop + 1 reserved.
        assert_eq!(count, min_messages(prefixes.iter().map(|_| per), max - 23 - attr_len - 41));
        let got: Vec<_> = msgs.iter().flat_map(|u| u.announced_v6().copied()).collect();
        assert_eq!(got, prefixes);
        for u in &msgs {
            assert_eq!(u.mp_next_hop(), Some(&nh));
            assert_eq!(u.attributes.len(), attrs.len() + 1);
            assert_eq!(u.attributes[0].type_code(), 14, "MP_REACH_NLRI first (RFC 7606 §5.1)");
        }

        let mut out = BytesMut::new();
        let count = b.withdraw_mp(AfiSafi::IPV6_UNICAST, Prefixes::V6(&prefixes), &mut out).unwrap();
        let msgs = decode_all(&out, &d);
        assert_eq!(count, msgs.len());
        assert_eq!(count, min_messages(prefixes.iter().map(|_| per), max - 23 - 7));
        let got: Vec<_> = msgs.iter().flat_map(|u| u.withdrawn_v6().copied()).collect();
        assert_eq!(got, prefixes);
    }
    // IPv4 in MP_REACH with an IPv6 next hop (RFC 8950).
    let v4 = slash24s(1000);
    let mut out = BytesMut::new();
    let b = UpdateBuilder::new(EncodeCtx { extended_next_hop: true, ..e4() });
    b.announce_mp(&attrs, AfiSafi::IPV4_UNICAST, &nh, Prefixes::V4(&v4), &mut out).unwrap();
    let got: Vec<_> =
        decode_all(&out, &d4_enh()).iter().flat_map(|u| u.announced_v4().copied().collect::<Vec<_>>()).collect();
    assert_eq!(got, v4);
}
