//! Encoding of path attributes (RFC 4271 §4.3).
//!
//! Each attribute is appended with as few fixed-size copies as its type allows (one for
//! the fixed-size attributes). MP_REACH_NLRI and MP_UNREACH_NLRI, whose length would
//! need a pass over their prefixes, are written first and measured after.

use super::*;
use crate::ctx::EncodeCtx;
use crate::error::EncodeError;
use crate::open::AS_TRANS;
use bytes::BytesMut;

/// Length of the encoded value.
#[inline]
fn value_len(v: &AttrValue, ctx: &EncodeCtx) -> usize {
    match v {
        AttrValue::Origin(_) => 1,
        AttrValue::AsPath(p) => p.encoded_len(ctx.four_octet_as),
        AttrValue::As4Path(p) => p.encoded_len(true),
        AttrValue::NextHop(_) | AttrValue::Med(_) | AttrValue::LocalPref(_) | AttrValue::Otc(_) => 4,
        AttrValue::OriginatorId(_) => 4,
        AttrValue::AtomicAggregate => 0,
        AttrValue::Aggregator(_) => {
            if ctx.four_octet_as {
                8
            } else {
                6
            }
        }
        AttrValue::As4Aggregator(_) => 8,
        AttrValue::Communities(c) => c.len() * 4,
        AttrValue::ClusterList(c) => c.len() * 4,
        AttrValue::ExtendedCommunities(c) => c.len() * 8,
        AttrValue::LargeCommunities(c) => c.len() * 12,
        AttrValue::MpReach(m) => m.encoded_len(ctx.add_path(m.family)),
        AttrValue::MpUnreach(m) => m.encoded_len(ctx.add_path(m.family)),
        AttrValue::Unknown { data, .. } => data.len(),
    }
}

/// Whether the header takes the two-octet length: for values over 255 octets, and
/// where the sender chose it (kept in `flags` so a re-encoding matches its bytes).
#[inline(always)]
fn extended(len: usize, flags: u8) -> bool {
    len > 255 || flags & flags::EXTENDED_LENGTH != 0
}

/// Octets the whole attribute takes on the wire: header and value.
pub(crate) fn encoded_len(a: &Attribute, ctx: &EncodeCtx) -> usize {
    let len = value_len(&a.value, ctx);
    len + if extended(len, a.flags) { 4 } else { 3 }
}

/// Appends one attribute: flags, type, length (extended when over 255, or when the
/// sender chose it) and value.
#[inline]
pub(crate) fn encode_attribute(a: &Attribute, ctx: &EncodeCtx, out: &mut BytesMut) -> Result<(), EncodeError> {
    use type_code::*;
    let f = a.flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL | flags::EXTENDED_LENGTH);
    // The fixed-size attributes with a one-octet length, the bulk of every UPDATE:
    // header and value in one copy.
    if f & flags::EXTENDED_LENGTH == 0 {
        let u32_attr = |t: u8, x: u32| {
            let b = x.to_be_bytes();
            [f, t, 4, b[0], b[1], b[2], b[3]]
        };
        match &a.value {
            AttrValue::Origin(o) => out.extend_from_slice(&[f, ORIGIN, 1, *o as u8]),
            AttrValue::NextHop(x) => out.extend_from_slice(&u32_attr(NEXT_HOP, x.to_bits())),
            AttrValue::Med(x) => out.extend_from_slice(&u32_attr(MED, *x)),
            AttrValue::LocalPref(x) => out.extend_from_slice(&u32_attr(LOCAL_PREF, *x)),
            AttrValue::OriginatorId(x) => out.extend_from_slice(&u32_attr(ORIGINATOR_ID, x.to_bits())),
            AttrValue::Otc(x) => out.extend_from_slice(&u32_attr(OTC, *x)),
            AttrValue::AtomicAggregate => out.extend_from_slice(&[f, ATOMIC_AGGREGATE, 0]),
            // An iBGP route's empty AS_PATH.
            AttrValue::AsPath(p) if p.segments.is_empty() => out.extend_from_slice(&[f, AS_PATH, 0]),
            _ => return encode_variable(a, f, ctx, out),
        }
        return Ok(());
    }
    encode_variable(a, f, ctx, out)
}

/// Appends the attributes in order. On error `out` may hold part of them; the callers
/// truncate.
pub(crate) fn encode_attributes(attrs: &[Attribute], ctx: &EncodeCtx, out: &mut BytesMut) -> Result<(), EncodeError> {
    for a in attrs {
        encode_attribute(a, ctx, out)?;
    }
    Ok(())
}

/// [`encode_attribute`] for the attributes whose length varies (and for any attribute
/// the sender gave an Extended Length): the header, then the value in fixed-size
/// copies into room reserved once.
fn encode_variable(a: &Attribute, f: u8, ctx: &EncodeCtx, out: &mut BytesMut) -> Result<(), EncodeError> {
    if let AttrValue::MpReach(_) | AttrValue::MpUnreach(_) = &a.value {
        return encode_mp(a, ctx, out);
    }
    let len = value_len(&a.value, ctx);
    if len > u16::MAX as usize {
        return Err(EncodeError::FieldOverflow("attribute length"));
    }
    out.reserve(4 + len);
    if extended(len, f) {
        let l = (len as u16).to_be_bytes();
        out.extend_from_slice(&[f | flags::EXTENDED_LENGTH, a.type_code(), l[0], l[1]]);
    } else {
        out.extend_from_slice(&[f, a.type_code(), len as u8]);
    }
    match &a.value {
        AttrValue::Origin(o) => out.extend_from_slice(&[*o as u8]),
        AttrValue::AsPath(p) => encode_as_path(p, ctx.four_octet_as, out),
        AttrValue::As4Path(p) => encode_as_path(p, true, out),
        AttrValue::NextHop(a) | AttrValue::OriginatorId(a) => out.extend_from_slice(&a.octets()),
        AttrValue::Med(x) | AttrValue::LocalPref(x) | AttrValue::Otc(x) => out.extend_from_slice(&x.to_be_bytes()),
        AttrValue::AtomicAggregate => {}
        AttrValue::Aggregator(g) => {
            let a = g.address.octets();
            if ctx.four_octet_as {
                let s = g.asn.to_be_bytes();
                out.extend_from_slice(&[s[0], s[1], s[2], s[3], a[0], a[1], a[2], a[3]]);
            } else {
                let s = u16::try_from(g.asn).unwrap_or(AS_TRANS).to_be_bytes();
                out.extend_from_slice(&[s[0], s[1], a[0], a[1], a[2], a[3]]);
            }
        }
        AttrValue::As4Aggregator(g) => {
            let (s, a) = (g.asn.to_be_bytes(), g.address.octets());
            out.extend_from_slice(&[s[0], s[1], s[2], s[3], a[0], a[1], a[2], a[3]]);
        }
        AttrValue::Communities(c) => put_items(c, out, |c| c.0.to_be_bytes()),
        AttrValue::ClusterList(c) => put_items(c, out, |a| a.octets()),
        AttrValue::ExtendedCommunities(c) => put_items(c, out, |c| c.0),
        AttrValue::LargeCommunities(c) => put_items(c, out, |c| {
            let (g, l1, l2) = (c.global.to_be_bytes(), c.local1.to_be_bytes(), c.local2.to_be_bytes());
            [g[0], g[1], g[2], g[3], l1[0], l1[1], l1[2], l1[3], l2[0], l2[1], l2[2], l2[3]]
        }),
        AttrValue::MpReach(_) | AttrValue::MpUnreach(_) => {}
        AttrValue::Unknown { data, .. } => out.extend_from_slice(data),
    }
    Ok(())
}

/// AS_PATH / AS4_PATH with 2- or 4-octet ASNs, as `AsPath::encoded_len` counts it: on a
/// 2-octet encoding, ASNs above 65535 become AS_TRANS (RFC 6793 §4.2.2); segments over
/// 255 ASNs are split; an empty segment is not written.
fn encode_as_path(p: &AsPath, four: bool, out: &mut BytesMut) {
    for s in &p.segments {
        for chunk in s.asns.chunks(255) {
            out.extend_from_slice(&[s.kind.code(), chunk.len() as u8]);
            if four {
                put_items(chunk, out, |a| a.to_be_bytes());
            } else {
                put_items(chunk, out, |&a| u16::try_from(a).unwrap_or(AS_TRANS).to_be_bytes());
            }
        }
    }
}

/// Appends fixed-size items through a stack buffer: one copy into `out` per 96 octets
/// rather than one per item (each copy into a `BytesMut` checks its capacity).
#[inline(always)]
fn put_items<T, const N: usize>(items: &[T], out: &mut BytesMut, f: impl Fn(&T) -> [u8; N]) {
    // 96 is a multiple of every item size used (2, 4, 8, 12).
    let mut buf = [0u8; 96];
    for chunk in items.chunks(96 / N) {
        for (d, x) in buf.chunks_exact_mut(N).zip(chunk) {
            d.copy_from_slice(&f(x));
        }
        out.extend_from_slice(&buf[..chunk.len() * N]);
    }
}

/// MP_REACH_NLRI / MP_UNREACH_NLRI: the value is written first behind a two-octet
/// length, then measured, so the prefixes are walked once; a value of 255 octets or
/// less (unless the sender chose Extended Length) is moved down one octet to take the
/// one-octet length.
#[inline(never)]
fn encode_mp(a: &Attribute, ctx: &EncodeCtx, out: &mut BytesMut) -> Result<(), EncodeError> {
    let f = a.flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL | flags::EXTENDED_LENGTH);
    let h = out.len();
    out.extend_from_slice(&[f | flags::EXTENDED_LENGTH, a.type_code(), 0, 0]);
    match &a.value {
        AttrValue::MpReach(m) => m.encode(ctx.add_path(m.family), out),
        AttrValue::MpUnreach(m) => m.encode(ctx.add_path(m.family), out),
        _ => {}
    }
    let len = out.len() - h - 4;
    if len > u16::MAX as usize {
        out.truncate(h);
        return Err(EncodeError::FieldOverflow("attribute length"));
    }
    if extended(len, f) {
        out[h + 2..h + 4].copy_from_slice(&(len as u16).to_be_bytes());
    } else {
        out[h] = f;
        out[h + 2] = len as u8;
        out.copy_within(h + 4.., h + 3);
        out.truncate(out.len() - 1);
    }
    Ok(())
}
