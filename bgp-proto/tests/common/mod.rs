//! Helpers shared by the codec test suites: hand-written hex with comments, message
//! framing, contexts, and the two-way golden check.
#![allow(dead_code)]

use bgp_proto::{AfiSafi, DecodeCtx, EncodeCtx, FamilySet, Message};
use bytes::BytesMut;

/// Parses hex written by hand: whitespace is ignored and `#` starts a comment that runs
/// to the end of the line.
pub fn h(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    hex::decode(&digits).unwrap_or_else(|e| panic!("bad hex in test vector ({e}): {digits}"))
}

/// The 16-octet all-ones marker.
pub const MARKER: [u8; 16] = [0xff; 16];

/// Frames a body: marker, 2-octet length (header included), type.
pub fn msg(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = MARKER.to_vec();
    v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    v.push(msg_type);
    v.extend_from_slice(body);
    v
}

/// An UPDATE message from its three variable fields (RFC 4271 §4.3), the two length
/// fields filled in.
pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    msg(2, &b)
}

/// Concatenates byte strings.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// 4-octet AS session, iBGP, no ADD-PATH, 4096 octets.
pub fn d4() -> DecodeCtx {
    DecodeCtx::default()
}

/// 2-octet AS session.
pub fn d2() -> DecodeCtx {
    DecodeCtx { four_octet_as: false, ..DecodeCtx::default() }
}

/// 4-octet AS session with an external peer.
pub fn d4_ext() -> DecodeCtx {
    DecodeCtx { external: true, ..DecodeCtx::default() }
}

/// 4-octet AS session on which we advertised Extended Next Hop Encoding for IPv4
/// unicast (RFC 8950): the peer may send IPv6 next hops for IPv4 NLRI.
pub fn d4_enh() -> DecodeCtx {
    DecodeCtx { extended_next_hop: fams(&[AfiSafi::IPV4_UNICAST]), ..DecodeCtx::default() }
}

/// 4-octet AS encode context.
pub fn e4() -> EncodeCtx {
    EncodeCtx::default()
}

/// 2-octet AS encode context.
pub fn e2() -> EncodeCtx {
    EncodeCtx { four_octet_as: false, ..EncodeCtx::default() }
}

/// A family set.
pub fn fams(f: &[AfiSafi]) -> FamilySet {
    f.iter().copied().collect()
}

/// The encode context that mirrors a decode context.
pub fn mirror(d: &DecodeCtx) -> EncodeCtx {
    EncodeCtx {
        four_octet_as: d.four_octet_as,
        add_path: d.add_path.clone(),
        extended_message: d.extended_message,
        extended_next_hop: true,
    }
}

/// Encodes a message into a fresh vector.
pub fn enc(m: &Message, e: &EncodeCtx) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(e, &mut b).unwrap_or_else(|err| panic!("encode failed: {err}: {m:?}"));
    b.to_vec()
}

/// The golden check, both ways: `decode(bytes) == value` and `encode(value) == bytes`.
#[track_caller]
pub fn golden(bytes: &[u8], value: &Message, d: &DecodeCtx, e: &EncodeCtx) {
    let got = Message::decode(bytes, d).unwrap_or_else(|err| panic!("decode failed: {err:?}"));
    assert_eq!(&got, value, "decode(bytes) != value");
    let out = enc(value, e);
    assert_eq!(hex::encode(&out), hex::encode(bytes), "encode(value) != bytes");
}
