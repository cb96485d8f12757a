//! Bare path attribute blocks, as RIB entries carry them (RFC 6396 §4.2, §4.3.4):
//! attributes without an UPDATE around them, and an MP_REACH_NLRI that holds only the
//! next hop.

use super::types::MessageError;
use crate::attr::{self, flags, type_code, AttrValue, Attribute, MpNlri, MpReach, NextHop};
use crate::ctx::{DecodeCtx, EncodeCtx};
use crate::error::{code, subcode::update as sub, Action, DecodeError, EncodeError, ErrorKind};
use crate::types::{Afi, AfiSafi};
use bytes::{BufMut, Bytes, BytesMut};
use std::net::{Ipv4Addr, Ipv6Addr};

fn next_hop(family: AfiSafi, b: &[u8]) -> NextHop {
    let v6 = |o: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(o).unwrap_or([0; 16]));
    match b.len() {
        4 => NextHop::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        16 if family.is_typed() => NextHop::V6 { global: v6(b), link_local: None },
        32 if family.is_typed() => NextHop::V6 { global: v6(&b[..16]), link_local: Some(v6(&b[16..])) },
        _ => NextHop::Raw(Bytes::copy_from_slice(b)),
    }
}

fn empty_nlri(family: AfiSafi) -> MpNlri {
    match (family.is_typed(), family.afi) {
        (true, Afi::IPV4) => MpNlri::Ipv4(Vec::new()),
        (true, _) => MpNlri::Ipv6(Vec::new()),
        _ => MpNlri::Opaque(Bytes::new()),
    }
}

/// RFC 6396 §4.3.4: in a RIB entry, MP_REACH_NLRI holds only the Next Hop Address
/// Length and the Next Hop Address. Some old dumpers wrote the full RFC 4760 form; it
/// is recognised by its length not matching the first octet.
fn short_mp_reach(family: AfiSafi, v: &[u8]) -> Option<MpReach> {
    let n = *v.first()? as usize;
    // The next hop, optionally followed by the (zero) reserved octet some dumpers add.
    if n + 1 == v.len() || (n + 2 == v.len() && v[n + 1] == 0 && n > 0) {
        return Some(MpReach { family, next_hop: next_hop(family, &v[1..1 + n]), nlri: empty_nlri(family) });
    }
    None
}

/// Decodes a bare path attribute block, as in a TABLE_DUMP or TABLE_DUMP_V2 RIB entry.
///
/// `rib_family` is the family of the RIB record: with it, MP_REACH_NLRI is read in the
/// abbreviated RIB form (next hop only, RFC 6396 §4.3.4) when its length says so.
/// `base` is added to the offsets in the errors. Attributes that do not decode are
/// left out of the first vector and described in the second; an overrun stops the
/// block.
pub fn decode_attribute_block(
    block: &[u8],
    ctx: &DecodeCtx,
    rib_family: Option<AfiSafi>,
    base: usize,
) -> (Vec<Attribute>, Vec<MessageError>) {
    let mut attrs = Vec::with_capacity(8);
    // The usual attributes, well-formed (most RIB entries): the UPDATE decoder's
    // short loop, with the same values; anything else in the loop below.
    if attr::decode_common(block, ctx, false, &mut attrs) {
        return (attrs, Vec::new());
    }
    let mut errors = Vec::new();
    let mut i = 0usize;
    while i < block.len() {
        let at = base + i;
        let rem = block.len() - i;
        let fl = block[i];
        let hdr = if fl & flags::EXTENDED_LENGTH != 0 { 4 } else { 3 };
        if rem < hdr {
            let e = DecodeError::new(
                ErrorKind::AttributeOverrun,
                at,
                code::UPDATE_MESSAGE,
                sub::MALFORMED_ATTRIBUTE_LIST,
                Bytes::new(),
            );
            errors.push(MessageError::from(&e.with_action(Action::TreatAsWithdraw)));
            break;
        }
        let t = block[i + 1];
        let vlen =
            if hdr == 4 { u16::from_be_bytes([block[i + 2], block[i + 3]]) as usize } else { block[i + 2] as usize };
        if rem - hdr < vlen {
            let e = DecodeError::new(
                ErrorKind::AttributeOverrun,
                at,
                code::UPDATE_MESSAGE,
                sub::ATTRIBUTE_LENGTH,
                Bytes::copy_from_slice(&block[i..]),
            );
            errors.push(MessageError::from(&e.with_action(Action::TreatAsWithdraw)));
            break;
        }
        let raw = &block[i..i + hdr + vlen];
        let v = &raw[hdr..];
        i += hdr + vlen;
        if t == type_code::MP_REACH_NLRI {
            if let Some(m) = rib_family.and_then(|f| short_mp_reach(f, v)) {
                attrs.push(Attribute { flags: fl & 0xe0, value: AttrValue::MpReach(Box::new(m)) });
                continue;
            }
        }
        match attr::decode_value(fl, t, v, ctx) {
            Ok(value) => attrs.push(Attribute { flags: fl & 0xe0, value }),
            Err(f) => {
                let e = DecodeError::new(f.kind, at, code::UPDATE_MESSAGE, f.subcode, Bytes::copy_from_slice(raw))
                    .with_action(f.action);
                errors.push(MessageError::from(&e));
            }
        }
    }
    (attrs, errors)
}

/// Encodes a path attribute block for a TABLE_DUMP_V2 RIB entry: 4-octet ASNs, and
/// MP_REACH_NLRI in the abbreviated form (next hop length and next hop only, RFC 6396
/// §4.3.4).
pub fn encode_attribute_block(attrs: &[Attribute], out: &mut BytesMut) -> Result<(), EncodeError> {
    let ctx = EncodeCtx { four_octet_as: true, extended_message: true, ..EncodeCtx::default() };
    for a in attrs {
        match &a.value {
            AttrValue::MpReach(m) => {
                let mut nh = BytesMut::with_capacity(32);
                match &m.next_hop {
                    NextHop::V4(x) => nh.put_slice(&x.octets()),
                    NextHop::V6 { global, link_local } => {
                        nh.put_slice(&global.octets());
                        if let Some(ll) = link_local {
                            nh.put_slice(&ll.octets());
                        }
                    }
                    NextHop::Raw(b) => nh.put_slice(b),
                }
                if nh.len() > 254 {
                    return Err(EncodeError::FieldOverflow("next hop"));
                }
                out.put_u8(a.flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL));
                out.put_u8(type_code::MP_REACH_NLRI);
                out.put_u8(nh.len() as u8 + 1);
                out.put_u8(nh.len() as u8);
                out.put_slice(&nh);
            }
            _ => attr::encode_attribute(a, &ctx, out)?,
        }
    }
    Ok(())
}
