//! UPDATE message (RFC 4271 §4.3) and its error handling (RFC 4271 §6.3, RFC 7606).

use crate::attr::{self, type_code, AsPath, AttrValue, Attribute, MpNlri, MpUnreach, NextHop};
use crate::ctx::{DecodeCtx, EncodeCtx};
use crate::error::{code, subcode::update as sub, Action, DecodeError, EncodeError, ErrorKind, Result};
use crate::header::HEADER_LEN;
use crate::nlri::{self, Nlri};
use crate::types::AfiSafi;
use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use smallvec::SmallVec;

/// Attributes [`Update::attributes`] holds without a heap allocation: a Calico UPDATE
/// carries ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF and up to two community attributes.
pub const INLINE_ATTRIBUTES: usize = 6;

/// The path attributes of an UPDATE, in wire order; up to [`INLINE_ATTRIBUTES`] are
/// stored inline (no allocation per decoded message).
pub type Attributes = SmallVec<[Attribute; INLINE_ATTRIBUTES]>;

/// The IPv4 prefixes of the Withdrawn Routes or NLRI field; one is stored inline (the
/// vector is then as large as a `Vec`), more go to the heap.
pub type NlriList = SmallVec<[Nlri<Ipv4Net>; 1]>;

/// An UPDATE message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Update {
    /// Withdrawn IPv4 unicast routes.
    pub withdrawn: NlriList,
    /// Path attributes in wire order.
    pub attributes: Attributes,
    /// Announced IPv4 unicast routes.
    pub nlri: NlriList,
}

impl Update {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for IPv4
    /// unicast, otherwise an UPDATE holding only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(family: AfiSafi) -> Update {
        if family == AfiSafi::IPV4_UNICAST {
            return Update::default();
        }
        let withdrawn = match (family.is_typed(), family.afi) {
            (true, crate::types::Afi::IPV4) => MpNlri::Ipv4(Vec::new()),
            (true, _) => MpNlri::Ipv6(Vec::new()),
            _ => MpNlri::Opaque(Bytes::new()),
        };
        Update {
            attributes: smallvec::smallvec![Attribute::new(AttrValue::MpUnreach(Box::new(MpUnreach {
                family,
                withdrawn
            })))],
            ..Default::default()
        }
    }

    /// If this UPDATE is an End-of-RIB marker, its family.
    pub fn as_end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(AfiSafi::IPV4_UNICAST),
            [a] => match &a.value {
                AttrValue::MpUnreach(m) if m.withdrawn.is_empty() => Some(m.family),
                _ => None,
            },
            _ => None,
        }
    }

    /// The first attribute with this type code.
    pub fn attribute(&self, type_code: u8) -> Option<&AttrValue> {
        self.attributes.iter().find(|a| a.type_code() == type_code).map(|a| &a.value)
    }

    /// MP_REACH_NLRI, if present.
    pub fn mp_reach(&self) -> Option<&attr::MpReach> {
        match self.attribute(type_code::MP_REACH_NLRI) {
            Some(AttrValue::MpReach(m)) => Some(m),
            _ => None,
        }
    }

    /// MP_UNREACH_NLRI, if present.
    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        match self.attribute(type_code::MP_UNREACH_NLRI) {
            Some(AttrValue::MpUnreach(m)) => Some(m),
            _ => None,
        }
    }

    /// The AS path to use: AS_PATH, merged with AS4_PATH by RFC 6793 §4.2.3 when the
    /// latter is present (it only is on sessions with a 2-octet speaker).
    pub fn effective_as_path(&self) -> Option<AsPath> {
        let p = match self.attribute(type_code::AS_PATH) {
            Some(AttrValue::AsPath(p)) => p,
            _ => return None,
        };
        // RFC 6793 §4.2.3: "When both the attributes are received, if the AS number in
        // the AGGREGATOR attribute is not AS_TRANS, then: the AS4_AGGREGATOR attribute
        // and the AS4_PATH attribute SHALL be ignored, ... and the AS_PATH attribute SHALL
        // be taken as the information about the path".
        if let (Some(AttrValue::Aggregator(g)), Some(AttrValue::As4Aggregator(_))) =
            (self.attribute(type_code::AGGREGATOR), self.attribute(type_code::AS4_AGGREGATOR))
        {
            if g.asn != crate::open::AS_TRANS as u32 {
                return Some(p.clone());
            }
        }
        match self.attribute(type_code::AS4_PATH) {
            Some(AttrValue::As4Path(p4)) => Some(p.merge_as4(p4)),
            _ => Some(p.clone()),
        }
    }

    /// Every announced IPv4 prefix: the NLRI field and MP_REACH_NLRI for IPv4.
    pub fn announced_v4(&self) -> impl Iterator<Item = &Nlri<Ipv4Net>> {
        let mp = match self.mp_reach().map(|m| &m.nlri) {
            Some(MpNlri::Ipv4(v)) => v.as_slice(),
            _ => &[],
        };
        self.nlri.iter().chain(mp.iter())
    }

    /// Every announced IPv6 prefix (from MP_REACH_NLRI).
    pub fn announced_v6(&self) -> impl Iterator<Item = &Nlri<Ipv6Net>> {
        match self.mp_reach().map(|m| &m.nlri) {
            Some(MpNlri::Ipv6(v)) => v.iter(),
            _ => [].iter(),
        }
    }

    /// Every withdrawn IPv4 prefix: the Withdrawn Routes field and MP_UNREACH_NLRI.
    pub fn withdrawn_v4(&self) -> impl Iterator<Item = &Nlri<Ipv4Net>> {
        let mp = match self.mp_unreach().map(|m| &m.withdrawn) {
            Some(MpNlri::Ipv4(v)) => v.as_slice(),
            _ => &[],
        };
        self.withdrawn.iter().chain(mp.iter())
    }

    /// Every withdrawn IPv6 prefix (from MP_UNREACH_NLRI).
    pub fn withdrawn_v6(&self) -> impl Iterator<Item = &Nlri<Ipv6Net>> {
        match self.mp_unreach().map(|m| &m.withdrawn) {
            Some(MpNlri::Ipv6(v)) => v.iter(),
            _ => [].iter(),
        }
    }

    /// The next hop for the announced prefixes of `family`: NEXT_HOP for IPv4 in the
    /// NLRI field, the MP_REACH_NLRI next hop otherwise.
    pub fn next_hop_v4_field(&self) -> Option<std::net::Ipv4Addr> {
        match self.attribute(type_code::NEXT_HOP) {
            Some(AttrValue::NextHop(a)) => Some(*a),
            _ => None,
        }
    }

    /// The MP_REACH_NLRI next hop.
    pub fn mp_next_hop(&self) -> Option<&NextHop> {
        self.mp_reach().map(|m| &m.next_hop)
    }

    /// Whether the UPDATE announces anything (NLRI field or MP_REACH_NLRI).
    pub fn has_reachable(&self) -> bool {
        !self.nlri.is_empty() || self.mp_reach().is_some_and(|m| !m.nlri.is_empty())
    }

    /// Decodes an UPDATE body; `body` starts right after the 19-octet header.
    ///
    /// Errors follow RFC 7606: a non-fatal error comes back as `Err` with
    /// `action` `AttributeDiscard` or `TreatAsWithdraw` and the usable rest of the
    /// UPDATE in `salvaged`.
    pub fn decode_body(body: &[u8], ctx: &DecodeCtx) -> Result<Update> {
        let mut u = Update::default();
        Self::decode_body_into(body, ctx, &mut u)?;
        Ok(u)
    }

    /// [`Update::decode_body`] into `u`, which must be empty: the decoded UPDATE is
    /// built where the caller wants it (an `Update` with its inline vectors is a few
    /// hundred octets, so each move is a `memcpy`). On error `u` holds a part.
    #[inline(always)]
    pub(crate) fn decode_body_into(
        body: &[u8],
        ctx: &DecodeCtx,
        u: &mut Update,
    ) -> std::result::Result<(), DecodeError> {
        let reset = |kind, off, s, data: Bytes| DecodeError::new(kind, off, code::UPDATE_MESSAGE, s, data);
        let len_err =
            |why| reset(ErrorKind::BadUpdateLengths(why), HEADER_LEN, sub::MALFORMED_ATTRIBUTE_LIST, Bytes::new());
        if body.len() < 4 {
            return Err(len_err("shorter than the two length fields"));
        }
        // RFC 4271 §6.3 / RFC 7606 §4: lengths that overrun the message reset the session.
        let wlen = u16::from_be_bytes([body[0], body[1]]) as usize;
        if 2 + wlen + 2 > body.len() {
            return Err(len_err("Withdrawn Routes Length overruns the message"));
        }
        let wbuf = &body[2..2 + wlen];
        let alen_at = 2 + wlen;
        let alen = u16::from_be_bytes([body[alen_at], body[alen_at + 1]]) as usize;
        let attrs_at = alen_at + 2;
        if attrs_at + alen > body.len() {
            return Err(len_err("Total Path Attribute Length overruns the message"));
        }
        let abuf = &body[attrs_at..attrs_at + alen];
        let nbuf = &body[attrs_at + alen..];

        let add_v4 = ctx.add_path(AfiSafi::IPV4_UNICAST);
        // RFC 7606 §5.3: an NLRI field that cannot be parsed resets the session.
        nlri::decode_v4_into(wbuf, add_v4, &mut u.withdrawn).map_err(|f| {
            reset(ErrorKind::BadNlri(f.reason), HEADER_LEN + 2 + f.at, sub::INVALID_NETWORK_FIELD, Bytes::new())
        })?;
        nlri::decode_v4_into(nbuf, add_v4, &mut u.nlri).map_err(|f| {
            reset(
                ErrorKind::BadNlri(f.reason),
                HEADER_LEN + attrs_at + alen + f.at,
                sub::INVALID_NETWORK_FIELD,
                Bytes::new(),
            )
        })?;

        // The common case, every attribute a well-formed one of the usual kinds, in a
        // shorter loop; anything else goes through the general loop below.
        if attr::decode_common(abuf, ctx, !u.nlri.is_empty(), &mut u.attributes) {
            return Ok(());
        }
        let mut faults: Vec<DecodeError> = Vec::new();
        // Whether the UPDATE holds any path attribute other than MP_UNREACH_NLRI
        // (RFC 7606 §5.2).
        let mut other_attrs = false;
        // The attribute types met so far (decoded or faulty), for the duplicate and
        // missing-attribute checks.
        let mut seen = [0u64; 4];
        let mut rest = abuf;
        while !rest.is_empty() {
            let at = || HEADER_LEN + attrs_at + (abuf.len() - rest.len());
            // RFC 7606 §4: too few octets for an attribute header, or a value running past
            // the Total Path Attribute Length, is treat-as-withdraw; the NLRI field is
            // still located by the Total Path Attribute Length.
            let (fl, t, hdr, vlen) = match *rest {
                [fl, t, l, ..] if fl & attr::flags::EXTENDED_LENGTH == 0 => (fl, t, 3, l as usize),
                [fl, t, h, l, ..] => (fl, t, 4, u16::from_be_bytes([h, l]) as usize),
                _ => {
                    // A fragment too short to be an attribute might be a cut MP_REACH_NLRI.
                    other_attrs = true;
                    faults.push(
                        reset(ErrorKind::AttributeOverrun, at(), sub::MALFORMED_ATTRIBUTE_LIST, Bytes::new())
                            .with_action(Action::TreatAsWithdraw),
                    );
                    break;
                }
            };
            if t != type_code::MP_UNREACH_NLRI {
                other_attrs = true;
            }
            let Some(v) = rest.get(hdr..hdr + vlen) else {
                faults.push(
                    reset(ErrorKind::AttributeOverrun, at(), sub::ATTRIBUTE_LENGTH, Bytes::copy_from_slice(rest))
                        .with_action(if is_mp(t) { Action::SessionReset } else { Action::TreatAsWithdraw }),
                );
                break;
            };
            let raw = &rest[..hdr + vlen];
            let at = at();
            rest = &rest[hdr + vlen..];
            // RFC 7606 §3g: MP_REACH/MP_UNREACH twice resets; other duplicates are dropped.
            let (w, b) = ((t >> 6) as usize, t & 63);
            if seen[w] & (1 << b) != 0 {
                let e = reset(ErrorKind::DuplicateAttribute(t), at, sub::MALFORMED_ATTRIBUTE_LIST, Bytes::new());
                if is_mp(t) {
                    return Err(e);
                }
                faults.push(e.with_action(Action::AttributeDiscard));
                continue;
            }
            seen[w] |= 1 << b;
            if ctx.four_octet_as && matches!(t, type_code::AS4_PATH | type_code::AS4_AGGREGATOR) {
                // RFC 6793 §4.1: "A NEW BGP speaker that receives the AS4_PATH attribute and
                // the AS4_AGGREGATOR attribute in an UPDATE message from a NEW BGP speaker
                // MUST discard these path attributes and continue processing the UPDATE".
                faults.push(
                    DecodeError::new(
                        ErrorKind::OptionalAttribute { type_code: t, reason: "AS4 attribute between 4-octet speakers" },
                        at,
                        code::UPDATE_MESSAGE,
                        sub::OPTIONAL_ATTRIBUTE,
                        Bytes::copy_from_slice(raw),
                    )
                    .with_action(Action::AttributeDiscard),
                );
                continue;
            }
            match attr::decode_value(fl, t, v, ctx) {
                Ok(value) => {
                    // The Extended Length bit is kept only where the sender chose it for a
                    // short value, so a re-encoding matches the sender's bytes; for long
                    // values it is implied.
                    let keep = if vlen <= 255 { 0xf0 } else { 0xe0 };
                    push_attribute(&mut u.attributes, Attribute { flags: fl & keep, value })
                }
                Err(f) => {
                    let e = DecodeError::new(f.kind, at, code::UPDATE_MESSAGE, f.subcode, Bytes::copy_from_slice(raw))
                        .with_action(f.action);
                    if f.action >= Action::AfiSafiDisable {
                        return Err(e);
                    }
                    faults.push(e);
                }
            }
        }

        // RFC 7606 §3d: a missing well-known mandatory attribute is treat-as-withdraw;
        // only UPDATEs that announce something need them, and NEXT_HOP only for the
        // NLRI field (RFC 4760 §3).
        // An attribute counts as present when it was met, decoded or not: a faulty one
        // has its own error (its NOTIFICATION data starts with its header).
        let has = |t: u8| seen[(t >> 6) as usize] & (1 << (t & 63)) != 0;
        let complete =
            has(type_code::ORIGIN) && has(type_code::AS_PATH) && (u.nlri.is_empty() || has(type_code::NEXT_HOP));
        if !complete && u.has_reachable() && !faults.iter().any(|e| e.action == Action::TreatAsWithdraw) {
            let mut missing = |t: u8| {
                if !has(t) {
                    faults.push(
                        reset(
                            ErrorKind::MissingWellKnown(t),
                            HEADER_LEN + attrs_at,
                            sub::MISSING_WELL_KNOWN,
                            Bytes::from(vec![t]),
                        )
                        .with_action(Action::TreatAsWithdraw),
                    );
                }
            };
            missing(type_code::ORIGIN);
            missing(type_code::AS_PATH);
            if !u.nlri.is_empty() {
                missing(type_code::NEXT_HOP);
            }
        }

        if faults.is_empty() {
            // Nothing to free in an empty `Vec`: skip its out-of-line drop (~25
            // instructions, 2% of a small UPDATE's decode).
            std::mem::forget(faults);
            return Ok(());
        }
        // The worst action wins; the first error of that action is the headline.
        let worst = faults.iter().map(|e| e.action).max().unwrap_or(Action::AttributeDiscard);
        let pos = faults.iter().position(|e| e.action == worst).unwrap_or(0);
        let mut head = faults.remove(pos);
        head.others = faults;
        // RFC 7606 §5.2: when an UPDATE "does contain path attributes other than
        // MP_UNREACH_NLRI and doesn't encode any reachable NLRI ... if any path attribute
        // errors are encountered in such an UPDATE message and if any encountered error
        // specifies an error-handling approach other than 'attribute discard', then the
        // 'session reset' approach MUST be used." (This also covers an attribute overrun
        // that hides a possible MP_REACH_NLRI, RFC 7606 §4 with §3 item h.)
        if worst > Action::AttributeDiscard && other_attrs && !u.has_reachable() {
            head.action = Action::SessionReset;
            return Err(head);
        }
        // Only the two non-fatal actions come with the salvaged UPDATE.
        if worst <= Action::TreatAsWithdraw {
            head.salvaged = Some(Box::new(std::mem::take(u)));
        }
        Err(head)
    }

    /// Encoded body length (without the header).
    pub fn encoded_body_len(&self, ctx: &EncodeCtx) -> usize {
        let add = ctx.add_path(AfiSafi::IPV4_UNICAST);
        let w: usize = self.withdrawn.iter().map(|n| nlri::encoded_len(n, add)).sum();
        let n: usize = self.nlri.iter().map(|n| nlri::encoded_len(n, add)).sum();
        let a: usize = self.attributes.iter().map(|a| attr::encoded_len(a, ctx)).sum();
        4 + w + a + n
    }

    /// Appends the body (after the header).
    pub fn encode_body(&self, ctx: &EncodeCtx, out: &mut BytesMut) -> std::result::Result<(), EncodeError> {
        let add = ctx.add_path(AfiSafi::IPV4_UNICAST);
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        nlri::encode_all(&self.withdrawn, add, out);
        let wlen = out.len() - start - 2;
        let alen_at = out.len();
        out.extend_from_slice(&[0, 0]);
        if let Err(e) = attr::encode_attributes(&self.attributes, ctx, out) {
            out.truncate(start);
            return Err(e);
        }
        let alen = out.len() - alen_at - 2;
        if wlen > u16::MAX as usize || alen > u16::MAX as usize {
            out.truncate(start);
            return Err(EncodeError::FieldOverflow("UPDATE length field"));
        }
        out[start..start + 2].copy_from_slice(&(wlen as u16).to_be_bytes());
        out[alen_at..alen_at + 2].copy_from_slice(&(alen as u16).to_be_bytes());
        nlri::encode_all(&self.nlri, add, out);
        Ok(())
    }
}

/// `v.push(a)` with the common case (room left) inline: `SmallVec::push` is not inlined
/// into the decoder, and the call moves each attribute through a stack temporary.
#[inline(always)]
pub(crate) fn push_attribute(v: &mut Attributes, a: Attribute) {
    let len = v.len();
    if len < v.capacity() {
        // SAFETY: `len < capacity`, so slot `len` is allocated and unused; it is written
        // before the length covers it.
        unsafe {
            v.as_mut_ptr().add(len).write(a);
            v.set_len(len + 1);
        }
    } else {
        v.push(a);
    }
}

fn is_mp(t: u8) -> bool {
    t == type_code::MP_REACH_NLRI || t == type_code::MP_UNREACH_NLRI
}
