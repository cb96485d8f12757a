//! Golden (bytes, value) pairs for OPEN and every capability, checked both ways:
//! `decode(bytes) == value` and `encode(value) == bytes`. Byte strings are written by
//! hand from the RFC layouts (RFC 4271 §4.2, RFC 5492, RFC 9072), never by our encoder.

mod common;

use bgp_proto::capability::{
    AddPathFamily, AddPathMode, ExtendedNextHop, GracefulRestart, GracefulRestartFamily, LlgrFamily,
};
use bgp_proto::{Afi, AfiSafi, Capability, Message, Open, OptionalParameter, Safi};
use bytes::{Bytes, BytesMut};
use common::*;
use std::net::Ipv4Addr;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
const EVPN: AfiSafi = AfiSafi::new(Afi::L2VPN, Safi::EVPN);

// ---------------------------------------------------------------------------------
// OPEN and capabilities
// ---------------------------------------------------------------------------------

fn all_capabilities() -> Vec<Capability> {
    vec![
        Capability::Multiprotocol { family: AfiSafi::IPV4_UNICAST, reserved: 0 },
        Capability::Multiprotocol { family: AfiSafi::IPV6_UNICAST, reserved: 0 },
        Capability::RouteRefresh,
        Capability::ExtendedNextHop(vec![ExtendedNextHop { nlri: AfiSafi::IPV4_UNICAST, next_hop_afi: Afi::IPV6 }]),
        Capability::ExtendedMessage,
        Capability::Role(3),
        Capability::GracefulRestart(GracefulRestart {
            restarting: true,
            notification: true,
            reserved_flags: 0,
            restart_time: 120,
            families: vec![
                GracefulRestartFamily { family: AfiSafi::IPV4_UNICAST, forwarding_preserved: true, other_flags: 0 },
                GracefulRestartFamily { family: AfiSafi::IPV6_UNICAST, forwarding_preserved: false, other_flags: 0 },
            ],
        }),
        Capability::FourOctetAs(65000),
        Capability::AddPath(vec![
            AddPathFamily { family: AfiSafi::IPV4_UNICAST, mode: AddPathMode::Both },
            AddPathFamily { family: AfiSafi::IPV6_UNICAST, mode: AddPathMode::Receive },
        ]),
        Capability::EnhancedRouteRefresh,
        Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            family: AfiSafi::IPV4_UNICAST,
            flags: 0x80,
            stale_time: 3600,
        }]),
        Capability::Fqdn { hostname: "node1".into(), domain: "example.com".into() },
        Capability::Unknown { code: 128, value: Bytes::from_static(&[0xab, 0xcd]) },
    ]
}

const ALL_CAPS_HEX: &str = "
    01 04 0001 00 01                  # 1 multiprotocol: AFI 1, reserved, SAFI 1
    01 04 0002 00 01                  # 1 multiprotocol: AFI 2, reserved, SAFI 1
    02 00                             # 2 route refresh
    05 06 0001 0001 0002              # 5 extended next hop: NLRI AFI 1, SAFI 1 (16 bits), NH AFI 2
    06 00                             # 6 extended message
    09 01 03                          # 9 role: customer
    40 0a                             # 64 graceful restart, length 10
       c078                           #    R=1 N=1 reserved=00, restart time 120
       0001 01 80                     #    IPv4 unicast, F=1
       0002 01 00                     #    IPv6 unicast, F=0
    41 04 0000fde8                    # 65 4-octet AS 65000
    45 08                             # 69 ADD-PATH, length 8
       0001 01 03                     #    IPv4 unicast, send/receive
       0002 01 01                     #    IPv6 unicast, receive
    46 00                             # 70 enhanced route refresh
    47 07 0001 01 80 000e10           # 71 LLGR: IPv4 unicast, F bit, stale time 3600
    49 12                             # 73 FQDN, length 18
       05 6e6f646531                  #    'node1'
       0b 6578616d706c652e636f6d      #    'example.com'
    80 02 abcd                        # 128 unknown, kept raw
";

#[test]
fn open_all_capabilities() {
    let b = msg(
        1,
        &h(&format!(
            "
        04                 # version 4
        fde8               # My AS 65000
        00b4               # hold time 180
        c0000201           # BGP identifier 192.0.2.1
        5c                 # optional parameters length 92
        02 5a              # parameter 2 (capabilities), length 90
        {ALL_CAPS_HEX}"
        )),
    );
    let o = Open {
        my_as: 65000,
        hold_time: 180,
        bgp_id: ip("192.0.2.1"),
        params: vec![OptionalParameter::Capabilities { capabilities: all_capabilities() }],
    };
    golden(&b, &Message::Open(o), &d4(), &e4());
}

#[test]
fn open_no_params_as_trans_and_unknown_param() {
    let b = h("
        ffffffffffffffffffffffffffffffff 001d 01  # header, length 29
        04 5ba0 005a 0a000001                     # v4, My AS = AS_TRANS, hold 90, id 10.0.0.1
        00                                        # no optional parameters
    ");
    let o = Open { my_as: 23456, hold_time: 90, bgp_id: ip("10.0.0.1"), params: vec![] };
    golden(&b, &Message::Open(o), &d4(), &e4());

    // One capability per parameter (RFC 5492 allows both layouts), and a parameter
    // type other than 2 kept raw (the session answers 2/4).
    let b = msg(
        1,
        &h("
        04 5ba0 005a 0a000001
        11                    # optional parameters length 17
        02 06 41 04 00010000  # capabilities: 4-octet AS 65536
        02 02 02 00           # capabilities: route refresh
        01 03 aabbcc          # parameter 1 (deprecated authentication), raw
    "),
    );
    let o = Open {
        my_as: 23456,
        hold_time: 90,
        bgp_id: ip("10.0.0.1"),
        params: vec![
            OptionalParameter::Capabilities { capabilities: vec![Capability::FourOctetAs(65536)] },
            OptionalParameter::Capabilities { capabilities: vec![Capability::RouteRefresh] },
            OptionalParameter::Unknown { param_type: 1, value: Bytes::from(h("aabbcc")) },
        ],
    };
    golden(&b, &Message::Open(o.clone()), &d4(), &e4());
    let m = Message::decode(&b, &d4()).unwrap();
    let Message::Open(d) = m else { panic!() };
    assert_eq!(d.asn(), 65536);
}

#[test]
fn open_extended_optional_parameters_rfc9072() {
    // Two 200-octet unknown capabilities do not fit the one-octet lengths.
    let body = h(&format!(
        "
        04 fde8 00b4 c0000201
        ff               # Non-Ext OP Len 255
        ff               # Non-Ext OP Type 255: extended format follows
        0197             # Extended Opt. Parm. Length 407
        02 0194          # parameter 2, 2-octet length 404
        80 c8 {}         # capability 128, length 200
        81 c8 {}         # capability 129, length 200
    ",
        "aa".repeat(200),
        "bb".repeat(200)
    ));
    let b = msg(1, &body);
    let o = Open {
        my_as: 65000,
        hold_time: 180,
        bgp_id: ip("192.0.2.1"),
        params: vec![OptionalParameter::Capabilities {
            capabilities: vec![
                Capability::Unknown { code: 128, value: Bytes::from(vec![0xaa; 200]) },
                Capability::Unknown { code: 129, value: Bytes::from(vec![0xbb; 200]) },
            ],
        }],
    };
    golden(&b, &Message::Open(o), &d4(), &e4());

    // The extended format is also accepted when it was not needed (decode only: we send
    // the normal format then).
    let b = msg(1, &h("04 fde8 00b4 c0000201  ff ff 0009  02 0006 41 04 0000fde8"));
    let Message::Open(o) = Message::decode(&b, &d4()).unwrap() else { panic!() };
    assert_eq!(o.params, vec![OptionalParameter::Capabilities { capabilities: vec![Capability::FourOctetAs(65000)] }]);
}

#[test]
fn capabilities_each_both_ways() {
    let caps = all_capabilities();
    let mut rest: &[u8] = &h(ALL_CAPS_HEX);
    for c in &caps {
        let len = rest[1] as usize;
        let (one, tail) = rest.split_at(2 + len);
        assert_eq!(&Capability::decode(one[0], &one[2..]), c, "decode {}", hex::encode(one));
        let mut out = BytesMut::new();
        c.encode(&mut out).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(one), "encode {c:?}");
        rest = tail;
    }
    assert!(rest.is_empty());
    // More per-AFI Graceful Restart flags: R=0 N=0, reserved bits and other flag bits kept.
    let v = h("3fff 0002 01 81 0019 46 00"); // reserved=11, time 4095; IPv6 F=1 + bit 0x01; EVPN F=0
    let c = Capability::GracefulRestart(GracefulRestart {
        restarting: false,
        notification: false,
        reserved_flags: 3,
        restart_time: 4095,
        families: vec![
            GracefulRestartFamily { family: AfiSafi::IPV6_UNICAST, forwarding_preserved: true, other_flags: 1 },
            GracefulRestartFamily { family: EVPN, forwarding_preserved: false, other_flags: 0 },
        ],
    });
    assert_eq!(Capability::decode(64, &v), c);
    let mut out = BytesMut::new();
    c.encode_value(&mut out);
    assert_eq!(out.to_vec(), v);
    // A known capability with a malformed value is kept raw (byte-exact).
    for (code, v) in [(65u8, h("0000fd")), (1, h("0001 00")), (2, h("00")), (69, h("0001 01 04"))] {
        let c = Capability::decode(code, &v);
        assert_eq!(c, Capability::Unknown { code, value: Bytes::from(v.clone()) });
    }
}
