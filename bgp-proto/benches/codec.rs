//! Codec benchmarks: our decode/encode against a bare NLRI walk (the practical floor)
//! and, with `--features compare`, against other Rust BGP codecs on the same bytes.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p bgp-proto --features compare --bench codec -- \
//!     --warm-up-time 1 --measurement-time 3
//! python3 bgp-proto/benches/summarize.py /work/target-bench/criterion
//! ```
//!
//! Fixtures (built once, checked to decode):
//! - `v4_4096`: one 4096-octet UPDATE, ORIGIN + AS_PATH + NEXT_HOP and ~1000 IPv4 /24s.
//! - `calico`: iBGP ORIGIN IGP, empty AS_PATH, NEXT_HOP, LOCAL_PREF 100, one /26;
//!   `calico_comm` adds COMMUNITIES and LARGE_COMMUNITY.
//! - `v6_mp`: one 4096-octet UPDATE, MP_REACH_NLRI IPv6 with global + link-local next hop,
//!   IPv6 /48s.
//! - `mrt_rib`: a TABLE_DUMP_V2 stream: PEER_INDEX_TABLE then RIB_IPV4_UNICAST records
//!   with two entries each.
//!
//! The group/benchmark names are `<fixture>/<codec>-<decode|encode|walk>`; the fixture
//! sizes are written to `$CARGO_TARGET_DIR/criterion/codec-fixtures.json` for
//! `summarize.py`.

use bgp_proto::mrt::{MrtReader, MrtWriter, PeerEntry, PeerIndexTable, RibEntry, RibPrefix, RibRecord};
use bgp_proto::{
    AfiSafi, AsPath, AttrValue, Attribute, Community, DecodeCtx, EncodeCtx, LargeCommunity, Message, NextHop, Nlri,
    Origin, Prefixes, UpdateBuilder,
};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One benchmark input: a whole BGP message (or an MRT stream).
struct Fixture {
    name: &'static str,
    bytes: Vec<u8>,
    /// Prefixes it carries (RIB records for MRT).
    prefixes: usize,
}

fn v4_attrs() -> Vec<Attribute> {
    vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::from_sequence([64512, 64513, 65000]))),
        Attribute::new(AttrValue::NextHop(Ipv4Addr::new(198, 18, 0, 1))),
    ]
}

/// The first UPDATE `announce_v4` packs from `n` distinct /24s.
fn fixture_v4_4096() -> Fixture {
    let prefixes: Vec<Nlri<Ipv4Net>> =
        (0..2000u32).map(|i| Nlri::new(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).unwrap())).collect();
    let mut out = BytesMut::new();
    UpdateBuilder::new(EncodeCtx::default()).announce_v4(&v4_attrs(), &prefixes, &mut out).unwrap();
    let len = bgp_proto::frame(&out, 4096).unwrap().unwrap();
    let bytes = out[..len].to_vec();
    let n = match Message::decode(&bytes, &DecodeCtx::default()).unwrap() {
        Message::Update(u) => u.nlri.len(),
        m => panic!("not an UPDATE: {m:?}"),
    };
    assert!(bytes.len() <= 4096 && bytes.len() > 4090 && n > 1000, "{} octets, {n} prefixes", bytes.len());
    Fixture { name: "v4_4096", bytes, prefixes: n }
}

fn fixture_calico(name: &'static str, communities: bool) -> Fixture {
    let mut attributes = vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::default())),
        Attribute::new(AttrValue::NextHop(Ipv4Addr::new(10, 128, 0, 5))),
        Attribute::new(AttrValue::LocalPref(100)),
    ];
    if communities {
        attributes.push(Attribute::new(AttrValue::Communities(vec![Community::new(64512, 100), Community::NO_EXPORT])));
        attributes.push(Attribute::new(AttrValue::LargeCommunities(vec![
            LargeCommunity::new(64512, 1, 2),
            LargeCommunity::new(64512, 3, 4),
        ])));
    }
    let u = bgp_proto::Update {
        attributes: attributes.into(),
        nlri: bgp_proto::smallvec::smallvec![Nlri::new("10.244.1.64/26".parse().unwrap())],
        ..Default::default()
    };
    let bytes = Message::Update(u.clone()).to_bytes(&EncodeCtx::default()).unwrap().to_vec();
    assert_eq!(Message::decode(&bytes, &DecodeCtx::default()).unwrap(), Message::Update(u));
    Fixture { name, bytes, prefixes: 1 }
}

fn fixture_v6_mp() -> Fixture {
    let prefixes: Vec<Nlri<Ipv6Net>> = (0..2000u128)
        .map(|i| Nlri::new(Ipv6Net::new(Ipv6Addr::from((0x2001_0db8u128 << 96) | (i << 80)), 48).unwrap()))
        .collect();
    let nh =
        NextHop::V6 { global: "2001:db8:ffff::1".parse().unwrap(), link_local: Some("fe80::1:2:3:4".parse().unwrap()) };
    let attrs = vec![
        Attribute::new(AttrValue::Origin(Origin::Igp)),
        Attribute::new(AttrValue::AsPath(AsPath::from_sequence([64512, 64513, 65000]))),
    ];
    let mut out = BytesMut::new();
    UpdateBuilder::new(EncodeCtx::default())
        .announce_mp(&attrs, AfiSafi::IPV6_UNICAST, &nh, Prefixes::V6(&prefixes), &mut out)
        .unwrap();
    let len = bgp_proto::frame(&out, 4096).unwrap().unwrap();
    let bytes = out[..len].to_vec();
    let n = match Message::decode(&bytes, &DecodeCtx::default()).unwrap() {
        Message::Update(u) => u.announced_v6().count(),
        m => panic!("not an UPDATE: {m:?}"),
    };
    assert!(bytes.len() <= 4096 && n > 500, "{} octets, {n} prefixes", bytes.len());
    Fixture { name: "v6_mp", bytes, prefixes: n }
}

const MRT_RECORDS: u32 = 1000;

fn fixture_mrt_rib() -> Fixture {
    let peers: Vec<PeerEntry> = (0..4u8)
        .map(|i| PeerEntry {
            bgp_id: Ipv4Addr::new(192, 0, 2, i + 1),
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, i + 1)),
            asn: 64500 + i as u32,
        })
        .collect();
    let table = PeerIndexTable { collector_bgp_id: Ipv4Addr::new(192, 0, 2, 254), view_name: String::new(), peers };
    let mut w = MrtWriter::new(Vec::new());
    w.write_peer_index_table(1_700_000_000, &table).unwrap();
    for i in 0..MRT_RECORDS {
        let entry = |peer: u16| RibEntry {
            peer_index: peer,
            peer: None,
            originated_time: 1_699_999_000 + i,
            path_id: None,
            attributes: vec![
                Attribute::new(AttrValue::Origin(Origin::Igp)),
                Attribute::new(AttrValue::AsPath(AsPath::from_sequence([64500 + peer as u32, 3356, 13335]))),
                Attribute::new(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, peer as u8 + 1))),
                Attribute::new(AttrValue::Communities(vec![Community::new(3356, 100 + peer)])),
            ],
            errors: Vec::new(),
        };
        let rib = RibRecord {
            sequence: i,
            family: AfiSafi::IPV4_UNICAST,
            prefix: RibPrefix::Ip(IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).unwrap())),
            entries: vec![entry(0), entry(1)],
        };
        w.write_rib(1_700_000_000, &rib, false).unwrap();
    }
    w.flush().unwrap();
    let bytes = w.into_inner();
    let ribs = MrtReader::new(&bytes[..])
        .filter(|r| matches!(r.as_ref().unwrap().body, bgp_proto::mrt::MrtBody::Rib(_)))
        .count();
    assert_eq!(ribs, MRT_RECORDS as usize);
    Fixture { name: "mrt_rib", bytes, prefixes: ribs }
}

/// The floor: walk the NLRI length octets and count prefixes, building nothing.
#[inline(always)]
fn walk_nlri(b: &[u8]) -> usize {
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        i += 1 + (b[i] as usize).div_ceil(8);
        n += 1;
    }
    n
}

/// Bare walk of an IPv4 UPDATE: the two length fields, then the withdrawn and NLRI runs.
fn walk_update_v4(msg: &[u8]) -> usize {
    let body = &msg[19..];
    let wlen = u16::from_be_bytes([body[0], body[1]]) as usize;
    let alen = u16::from_be_bytes([body[2 + wlen], body[3 + wlen]]) as usize;
    walk_nlri(&body[2..2 + wlen]) + walk_nlri(&body[4 + wlen + alen..])
}

/// Bare walk of an UPDATE whose prefixes are in MP_REACH_NLRI: skip attribute headers
/// to type 14, skip its next hop, walk its NLRI.
fn walk_update_mp(msg: &[u8]) -> usize {
    let body = &msg[19..];
    let wlen = u16::from_be_bytes([body[0], body[1]]) as usize;
    let alen = u16::from_be_bytes([body[2 + wlen], body[3 + wlen]]) as usize;
    let attrs = &body[4 + wlen..4 + wlen + alen];
    let mut i = 0;
    let mut n = 0;
    while i < attrs.len() {
        let (fl, t) = (attrs[i], attrs[i + 1]);
        let (h, l) = if fl & 0x10 != 0 {
            (4, u16::from_be_bytes([attrs[i + 2], attrs[i + 3]]) as usize)
        } else {
            (3, attrs[i + 2] as usize)
        };
        let v = &attrs[i + h..i + h + l];
        if t == 14 {
            let nh = v[3] as usize;
            n += walk_nlri(&v[5 + nh..]);
        }
        i += h + l;
    }
    n
}

fn fixtures() -> Vec<Fixture> {
    let f = vec![
        fixture_v4_4096(),
        fixture_calico("calico", false),
        fixture_calico("calico_comm", true),
        fixture_v6_mp(),
        fixture_mrt_rib(),
    ];
    // Sizes for summarize.py.
    let dir = std::env::var_os("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
            .join("criterion")
    });
    let _ = std::fs::create_dir_all(&dir);
    let json: Vec<String> = f
        .iter()
        .map(|x| format!("\"{}\": {{\"bytes\": {}, \"prefixes\": {}}}", x.name, x.bytes.len(), x.prefixes))
        .collect();
    let _ = std::fs::write(dir.join("codec-fixtures.json"), format!("{{{}}}\n", json.join(", ")));
    for x in &f {
        eprintln!("fixture {}: {} octets, {} prefixes", x.name, x.bytes.len(), x.prefixes);
    }
    f
}

fn bench_ours(c: &mut Criterion, f: &Fixture) {
    let dctx = DecodeCtx::default();
    let ectx = EncodeCtx::default();
    let mut g = c.benchmark_group(f.name);
    g.throughput(Throughput::Bytes(f.bytes.len() as u64));
    if f.name == "mrt_rib" {
        g.bench_function("ours-decode", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in MrtReader::new(black_box(&f.bytes[..])) {
                    n += black_box(r.unwrap()).offset as usize & 1;
                }
                n
            })
        });
        let records: Vec<_> = MrtReader::new(&f.bytes[..]).map(|r| r.unwrap()).collect();
        let mut out = Vec::with_capacity(f.bytes.len());
        g.bench_function("ours-encode", |b| {
            b.iter(|| {
                out.clear();
                let mut w = MrtWriter::new(&mut out);
                for r in &records {
                    w.write_record(r).unwrap();
                }
                w.flush().unwrap();
                drop(w);
                out.len()
            })
        });
        g.finish();
        return;
    }
    let walk: fn(&[u8]) -> usize = if f.name == "v6_mp" { walk_update_mp } else { walk_update_v4 };
    assert_eq!(walk(&f.bytes), f.prefixes);
    g.bench_function("bare-walk", |b| b.iter(|| walk(black_box(&f.bytes))));
    g.bench_function("ours-decode", |b| b.iter(|| Message::decode(black_box(&f.bytes), &dctx).unwrap()));
    let msg = Message::decode(&f.bytes, &dctx).unwrap();
    let mut out = BytesMut::with_capacity(8192);
    g.bench_function("ours-encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&msg).encode(&ectx, &mut out).unwrap()
        })
    });
    {
        let mut check = BytesMut::new();
        msg.encode(&ectx, &mut check).unwrap();
        assert_eq!(&check[..], &f.bytes[..], "{}: re-encoding differs", f.name);
    }
    if f.name == "v4_4096" {
        let Message::Update(u) = &msg else { unreachable!() };
        let builder = UpdateBuilder::new(ectx.clone());
        g.bench_function("ours-builder-encode", |b| {
            b.iter(|| {
                out.clear();
                builder.announce_v4(&u.attributes, black_box(&u.nlri), &mut out).unwrap()
            })
        });
    }
    g.finish();
}

#[cfg(feature = "compare")]
mod compare {
    use super::*;
    use bytes::Bytes;

    pub fn bench(c: &mut Criterion, f: &Fixture) {
        let mut g = c.benchmark_group(f.name);
        g.throughput(Throughput::Bytes(f.bytes.len() as u64));
        if f.name == "mrt_rib" {
            bgpkit_mrt(&mut g, f);
        } else {
            bgpkit(&mut g, f);
            rustbgpd(&mut g, f);
            zetta(&mut g, f);
            netgauze(&mut g, f);
        }
        g.finish();
    }

    type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

    fn bgpkit(g: &mut Group<'_>, f: &Fixture) {
        use bgpkit_parser::models::{AsnLength, BgpMessage};
        use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
        let bytes = Bytes::copy_from_slice(&f.bytes);
        let decode = |b: &Bytes| parse_bgp_message(&mut b.clone(), false, &AsnLength::Bits32);
        let msg = decode(&bytes).expect("bgpkit-parser decodes the fixture");
        if let BgpMessage::Update(u) = &msg {
            let n = u.announced_prefixes.len()
                + u.attributes.get_reachable_nlri().map(|r| r.prefixes.len()).unwrap_or_default();
            assert_eq!(n, f.prefixes, "bgpkit-parser prefix count");
        }
        g.bench_function("bgpkit-decode", |b| b.iter(|| decode(black_box(&bytes)).unwrap()));
        g.bench_function("bgpkit-encode", |b| b.iter(|| black_box(&msg).encode(AsnLength::Bits32).unwrap()));
    }

    fn rustbgpd(g: &mut Group<'_>, f: &Fixture) {
        use rustbgpd_wire::{decode_message, Ipv4UnicastMode, Message as RMessage, UpdateMessage};
        let bytes = Bytes::copy_from_slice(&f.bytes);
        let decode = |b: &Bytes| {
            let RMessage::Update(u) = decode_message(&mut b.clone(), 4096).unwrap() else { unreachable!() };
            u.parse_revised(true, true, false, &[])
        };
        let parsed = decode(&bytes).expect("rustbgpd-wire decodes the fixture");
        assert!(parsed.malformed.is_empty(), "rustbgpd-wire: {:?}", parsed.malformed);
        let p = parsed.update;
        if f.name == "v4_4096" {
            assert_eq!(p.announced.len(), f.prefixes, "rustbgpd-wire prefix count");
        }
        g.bench_function("rustbgpd-decode", |b| b.iter(|| decode(black_box(&bytes)).unwrap()));
        let mut out = BytesMut::with_capacity(8192);
        g.bench_function("rustbgpd-encode", |b| {
            b.iter(|| {
                let p = black_box(&p);
                let u = UpdateMessage::try_build(
                    &p.announced,
                    &p.withdrawn,
                    &p.attributes,
                    true,
                    false,
                    Ipv4UnicastMode::Body,
                )
                .unwrap();
                out.clear();
                u.encode(&mut out).unwrap();
                out.len()
            })
        });
        {
            let u =
                UpdateMessage::try_build(&p.announced, &p.withdrawn, &p.attributes, true, false, Ipv4UnicastMode::Body)
                    .unwrap();
            out.clear();
            u.encode(&mut out).unwrap();
            assert_eq!(&out[..], &f.bytes[..], "rustbgpd-wire re-encoding differs");
        }
    }

    fn zetta(g: &mut Group<'_>, f: &Fixture) {
        use zettabgp::prelude::*;
        let mut params = BgpSessionParams::new(
            64512,
            180,
            BgpTransportMode::IPv4,
            Ipv4Addr::new(192, 0, 2, 1),
            vec![BgpCapability::SafiIPv4u, BgpCapability::SafiIPv6u, BgpCapability::CapASN32(64512)],
        );
        // No guessing of ADD-PATH path identifiers: we know there are none.
        params.fuzzy_pathid = false;
        let decode = |buf: &[u8]| -> Result<BgpUpdateMessage, BgpError> {
            let (t, len) = params.decode_message_head(buf)?;
            assert_eq!(t, BgpMessageType::Update);
            let mut u = BgpUpdateMessage::new();
            u.decode_from(&params, &buf[19..19 + len])?;
            Ok(u)
        };
        let u = decode(&f.bytes).expect("zettabgp decodes the fixture");
        if f.name == "v4_4096" {
            let BgpAddrs::IPV4U(v) = &u.updates else { panic!("zettabgp: {:?}", u.updates) };
            assert_eq!(v.len(), f.prefixes);
        }
        g.bench_function("zettabgp-decode", |b| b.iter(|| decode(black_box(&f.bytes)).unwrap()));
        let mut out = vec![0u8; 8192];
        let encode = |u: &BgpUpdateMessage, out: &mut [u8]| -> usize {
            let len = u.encode_to(&params, &mut out[19..]).unwrap();
            params.prepare_message_buf(out, BgpMessageType::Update, len).unwrap()
        };
        let n = encode(&u, &mut out);
        if out[..n] != f.bytes[..] {
            eprintln!(
                "note: zettabgp re-encoding of {} differs from the input ({} vs {} octets)",
                f.name,
                n,
                f.bytes.len()
            );
        }
        g.bench_function("zettabgp-encode", |b| b.iter(|| encode(black_box(&u), &mut out)));
    }

    fn netgauze(g: &mut Group<'_>, f: &Fixture) {
        use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
        use netgauze_bgp_pkt::BgpMessage;
        use netgauze_parse_utils::reader::SliceReader;
        use netgauze_parse_utils::traits::ParseFromWithOneInput;
        use netgauze_parse_utils::WritablePdu;
        let mut ctx = BgpParsingContext::default();
        let mut decode = |buf: &[u8]| {
            let mut r = SliceReader::new(buf);
            BgpMessage::parse(&mut r, &mut ctx)
        };
        let msg = decode(&f.bytes).expect("netgauze decodes the fixture");
        g.bench_function("netgauze-decode", |b| b.iter(|| decode(black_box(&f.bytes)).unwrap()));
        let mut out: Vec<u8> = Vec::with_capacity(8192);
        msg.write(&mut out).unwrap();
        if out[..] != f.bytes[..] {
            eprintln!("note: netgauze re-encoding of {} differs from the input", f.name);
        }
        g.bench_function("netgauze-encode", |b| {
            b.iter(|| {
                out.clear();
                black_box(&msg).write(&mut out).unwrap();
                out.len()
            })
        });
    }

    fn bgpkit_mrt(g: &mut Group<'_>, f: &Fixture) {
        use bgpkit_parser::parse_mrt_record;
        let decode = |mut buf: &[u8]| {
            let mut n = 0usize;
            while !buf.is_empty() {
                let r = parse_mrt_record(&mut buf).unwrap();
                n += black_box(r).common_header.length as usize & 1;
            }
            n
        };
        decode(&f.bytes);
        g.bench_function("bgpkit-decode", |b| b.iter(|| decode(black_box(&f.bytes))));
        let mut records = Vec::new();
        let mut buf = &f.bytes[..];
        while !buf.is_empty() {
            records.push(parse_mrt_record(&mut buf).unwrap());
        }
        g.bench_function("bgpkit-encode", |b| {
            b.iter(|| black_box(&records).iter().map(|r| r.encode().unwrap().len()).sum::<usize>())
        });
    }
}

fn benches(c: &mut Criterion) {
    for f in fixtures() {
        bench_ours(c, &f);
        #[cfg(feature = "compare")]
        compare::bench(c, &f);
    }
}

criterion_group!(codec, benches);
criterion_main!(codec);
