//! Decoding of individual attribute values, with each attribute's RFC 7606 §7 error
//! rule. Encoding is in `encode.rs`.

use super::*;
use crate::ctx::DecodeCtx;
use crate::error::{subcode::update as sub, Action, ErrorKind};

/// A malformed attribute: what, which NOTIFICATION subcode (code 3), which action.
#[derive(Debug)]
pub(crate) struct AttrFault {
    pub kind: ErrorKind,
    pub subcode: u8,
    pub action: Action,
}

fn fault(kind: ErrorKind, subcode: u8, action: Action) -> AttrFault {
    AttrFault { kind, subcode, action }
}

fn len_fault(t: u8, len: usize, action: Action) -> AttrFault {
    fault(ErrorKind::AttributeLength { type_code: t, len }, sub::ATTRIBUTE_LENGTH, action)
}

/// The action RFC 7606 §7 (and RFC 6793 §6, RFC 8092 §5, RFC 9234 §5) prescribes for a
/// malformed attribute of type `t`, including a flags conflict (RFC 7606 §3c).
pub(crate) fn malformed_action(t: u8, ctx: &DecodeCtx) -> Action {
    use type_code::*;
    match t {
        // §7.1-§7.4, §7.8, §7.14, RFC 8092 §5, RFC 9234 §5.
        ORIGIN | AS_PATH | NEXT_HOP | MED | COMMUNITIES | EXTENDED_COMMUNITIES | LARGE_COMMUNITIES | OTC => {
            Action::TreatAsWithdraw
        }
        // §7.5: LOCAL_PREF from an external peer is discarded; otherwise withdraw.
        LOCAL_PREF if ctx.external => Action::AttributeDiscard,
        LOCAL_PREF => Action::TreatAsWithdraw,
        // §7.9, §7.10: from an external peer, discard; otherwise withdraw.
        ORIGINATOR_ID | CLUSTER_LIST if ctx.external => Action::AttributeDiscard,
        ORIGINATOR_ID | CLUSTER_LIST => Action::TreatAsWithdraw,
        // §7.6, §7.7, RFC 6793 §6.
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => Action::AttributeDiscard,
        // §7.11, §7.12: "session reset" or "AFI/SAFI disable"; the callers disable the
        // family where they could read it (`mp_fault`, `flags_fault`).
        MP_REACH_NLRI | MP_UNREACH_NLRI => Action::SessionReset,
        // §7.13, §7.15, §7.16.
        TRAFFIC_ENGINEERING | IPV6_EXTENDED_COMMUNITIES | ATTR_SET => Action::TreatAsWithdraw,
        _ => Action::AttributeDiscard,
    }
}

/// The fixed part of one RFC 5543 §3 Traffic Engineering descriptor.
const TE_DESCRIPTOR_MIN: usize = 36;

#[inline(always)]
fn u32_at(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

#[inline(always)]
fn ipv4_at(v: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(v[0], v[1], v[2], v[3])
}

/// RFC 4271 §6.3: a NEXT_HOP must be a valid host address. We reject 0.0.0.0, class D
/// (multicast) and class E (including the limited broadcast address).
fn next_hop_valid(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.octets()[0] >= 224)
}

/// The COMMUNITIES in `v` (a multiple of 4 octets), in an exact-size `Vec`.
#[inline(always)]
fn communities(v: &[u8]) -> Vec<Community> {
    v.as_chunks::<4>().0.iter().map(|c| Community(u32::from_be_bytes(*c))).collect()
}

/// The LARGE_COMMUNITY values in `v` (a multiple of 12 octets), in an exact-size `Vec`.
#[inline(always)]
fn large_communities(v: &[u8]) -> Vec<LargeCommunity> {
    v.as_chunks::<12>().0.iter().map(|c| LargeCommunity::new(u32_at(c), u32_at(&c[4..]), u32_at(&c[8..]))).collect()
}

/// Decodes one attribute value. `flags` are the received flags.
#[inline(always)]
pub(crate) fn decode_value(flags: u8, t: u8, v: &[u8], ctx: &DecodeCtx) -> Result<AttrValue, AttrFault> {
    use type_code::*;
    let act = || malformed_action(t, ctx);
    if let Some(expected) = expected_flags(t) {
        // RFC 7606 §3c: a conflict in the Optional or Transitive bits makes the
        // attribute malformed, handled by the attribute's own rule.
        if flags & (flags::OPTIONAL | flags::TRANSITIVE) != expected {
            return Err(flags_fault(t, v, ctx));
        }
    }
    let len = v.len();
    Ok(match t {
        ORIGIN => {
            if len != 1 {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::Origin(match v[0] {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                o => return Err(fault(ErrorKind::InvalidOrigin(o), sub::INVALID_ORIGIN, act())),
            })
        }
        AS_PATH => AttrValue::AsPath(
            AsPath::decode(v, ctx.four_octet_as)
                .map_err(|r| fault(ErrorKind::MalformedAsPath(r), sub::MALFORMED_AS_PATH, act()))?,
        ),
        NEXT_HOP => {
            if len != 4 {
                return Err(len_fault(t, len, act()));
            }
            let a = ipv4_at(v);
            if !next_hop_valid(a) {
                return Err(fault(ErrorKind::InvalidNextHop, sub::INVALID_NEXT_HOP, act()));
            }
            AttrValue::NextHop(a)
        }
        MED | LOCAL_PREF | OTC => {
            if len != 4 {
                return Err(len_fault(t, len, act()));
            }
            match t {
                MED => AttrValue::Med(u32_at(v)),
                LOCAL_PREF if ctx.external => {
                    // RFC 7606 §7.5: LOCAL_PREF from an external peer is discarded even
                    // when well formed (RFC 4271 §5.1.5 says ignore it).
                    return Err(fault(
                        ErrorKind::OptionalAttribute { type_code: t, reason: "LOCAL_PREF from an external peer" },
                        sub::MALFORMED_ATTRIBUTE_LIST,
                        Action::AttributeDiscard,
                    ));
                }
                LOCAL_PREF => AttrValue::LocalPref(u32_at(v)),
                _ => AttrValue::Otc(u32_at(v)),
            }
        }
        ATOMIC_AGGREGATE => {
            if len != 0 {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::AtomicAggregate
        }
        AGGREGATOR => {
            // RFC 6793 §4: 8 octets between 4-octet speakers, else 6.
            let want = if ctx.four_octet_as { 8 } else { 6 };
            if len != want {
                return Err(len_fault(t, len, act()));
            }
            let asn = if ctx.four_octet_as { u32_at(v) } else { u16::from_be_bytes([v[0], v[1]]) as u32 };
            AttrValue::Aggregator(Aggregator { asn, address: ipv4_at(&v[len - 4..]) })
        }
        AS4_AGGREGATOR => {
            if len != 8 {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::As4Aggregator(Aggregator { asn: u32_at(v), address: ipv4_at(&v[4..]) })
        }
        COMMUNITIES => {
            // RFC 7606 §7.8: malformed unless a non-zero multiple of 4.
            if len == 0 || !len.is_multiple_of(4) {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::Communities(communities(v))
        }
        ORIGINATOR_ID | CLUSTER_LIST if ctx.external => {
            // RFC 7606 §7.9, §7.10: "If the ORIGINATOR_ID [CLUSTER_LIST] attribute is
            // received from an external neighbor, it SHALL be discarded using the approach
            // of 'attribute discard'" -- whatever its length.
            return Err(fault(
                ErrorKind::OptionalAttribute {
                    type_code: t,
                    reason: "route reflection attribute from an external peer",
                },
                sub::OPTIONAL_ATTRIBUTE,
                Action::AttributeDiscard,
            ));
        }
        ORIGINATOR_ID => {
            if len != 4 {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::OriginatorId(ipv4_at(v))
        }
        CLUSTER_LIST => {
            // RFC 7606 §7.10: malformed unless a non-zero multiple of 4.
            if len == 0 || !len.is_multiple_of(4) {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::ClusterList(v.chunks_exact(4).map(ipv4_at).collect())
        }
        EXTENDED_COMMUNITIES => {
            // RFC 7606 §7.14: malformed unless a non-zero multiple of 8.
            if len == 0 || !len.is_multiple_of(8) {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::ExtendedCommunities(
                v.chunks_exact(8).map(|c| ExtendedCommunity(<[u8; 8]>::try_from(c).unwrap_or([0; 8]))).collect(),
            )
        }
        LARGE_COMMUNITIES => {
            // RFC 8092 §5: malformed unless a non-zero multiple of 12.
            if len == 0 || !len.is_multiple_of(12) {
                return Err(len_fault(t, len, act()));
            }
            AttrValue::LargeCommunities(large_communities(v))
        }
        AS4_PATH => {
            // RFC 6793 §6: AS4_PATH is always 4-octet; a malformed one is discarded.
            let mut p = AsPath::decode(v, true)
                .map_err(|r| fault(ErrorKind::MalformedAsPath(r), sub::OPTIONAL_ATTRIBUTE, act()))?;
            // RFC 6793 §6: a speaker that receives AS_CONFED_SEQUENCE or AS_CONFED_SET in
            // AS4_PATH "MUST discard these path segments, adjust the relevant attribute
            // fields accordingly, and continue processing the UPDATE message" -- the
            // segments go, the rest of the attribute stays.
            p.segments.retain(|s| !s.kind.is_confed());
            AttrValue::As4Path(p)
        }
        MP_REACH_NLRI => AttrValue::MpReach(Box::new(
            MpReach::decode(v, |f| ctx.add_path(f), |f| ctx.extended_next_hop(f)).map_err(|f| mp_fault(t, f))?,
        )),
        MP_UNREACH_NLRI => {
            AttrValue::MpUnreach(Box::new(MpUnreach::decode(v, |f| ctx.add_path(f)).map_err(|f| mp_fault(t, f))?))
        }
        IPV6_EXTENDED_COMMUNITIES if len == 0 || !len.is_multiple_of(20) => {
            // RFC 7606 §7.15: malformed unless a non-zero multiple of 20.
            return Err(len_fault(t, len, act()));
        }
        ATTR_SET if len < 4 => {
            // RFC 7606 §7.16: malformed if shorter than the 4-octet Origin AS.
            return Err(len_fault(t, len, act()));
        }
        TRAFFIC_ENGINEERING if len < TE_DESCRIPTOR_MIN => {
            // RFC 7606 §7.13: "[RFC5543] does not detail what constitutes 'malformation'
            // for the Traffic Engineering path attribute ... an implementation that
            // determines (for whatever reason) that an UPDATE message contains a malformed
            // Traffic Engineering path attribute MUST handle it using the approach of
            // 'treat-as-withdraw'." RFC 5543 §3: the attribute holds one or more
            // descriptors of at least 36 octets (Switching Capability, Encoding, Reserved,
            // eight 4-octet Max LSP Bandwidths) followed by capability-specific data of a
            // length RFC 5543 does not fix; so only a value too short for one descriptor is
            // malformed (a length check beyond that would withdraw valid routes).
            return Err(len_fault(t, len, act()));
        }
        _ => {
            if flags & flags::OPTIONAL == 0 {
                // RFC 4271 §6.3: an unrecognized well-known attribute; RFC 7606 keeps
                // the session reset for it.
                return Err(fault(
                    ErrorKind::UnrecognizedWellKnown(t),
                    sub::UNRECOGNIZED_WELL_KNOWN,
                    Action::SessionReset,
                ));
            }
            AttrValue::Unknown { type_code: t, data: Bytes::copy_from_slice(v) }
        }
    })
}

/// RFC 7606 §3 (c): "If the value of either the Optional or Transitive bits in the
/// Attribute Flags is in conflict with their specified values, then the attribute MUST be
/// treated as malformed and the 'treat-as-withdraw' approach used, unless the
/// specification for the attribute mandates different handling for this case." So the
/// attribute's own §7 rule applies (`malformed_action`: treat-as-withdraw for most,
/// attribute discard for ATOMIC_AGGREGATE, AGGREGATOR, AS4_*, and for LOCAL_PREF,
/// ORIGINATOR_ID and CLUSTER_LIST from an external peer). For MP_REACH_NLRI and
/// MP_UNREACH_NLRI (§7.11, §7.12: "session reset" or "AFI/SAFI disable") the family is
/// disabled when the value is long enough to name it, like any other malformed MP
/// attribute, else the session is reset. The NOTIFICATION subcode is Attribute Flags
/// Error (RFC 4271 §6.3) in every case.
#[cold]
fn flags_fault(t: u8, v: &[u8], ctx: &DecodeCtx) -> AttrFault {
    if let (type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI, Some(afi_safi)) = (t, mp::family_of(v)) {
        let reason = "Optional/Transitive flags conflict with the attribute type";
        return fault(ErrorKind::BadMpAttribute { afi_safi, reason }, sub::ATTRIBUTE_FLAGS, Action::AfiSafiDisable);
    }
    fault(ErrorKind::AttributeFlags(t), sub::ATTRIBUTE_FLAGS, malformed_action(t, ctx))
}

fn mp_fault(t: u8, f: mp::MpFault) -> AttrFault {
    // RFC 7606 §7.11, §7.12 and §5.3: AFI/SAFI disable when the family is known,
    // otherwise session reset. RFC 4760 §7 gives the subcode.
    match f.family {
        Some(afi_safi) => fault(
            ErrorKind::BadMpAttribute { afi_safi, reason: f.reason },
            sub::OPTIONAL_ATTRIBUTE,
            Action::AfiSafiDisable,
        ),
        None => fault(
            ErrorKind::OptionalAttribute { type_code: t, reason: f.reason },
            sub::OPTIONAL_ATTRIBUTE,
            Action::SessionReset,
        ),
    }
}

/// Where [`decode_common`] writes: an UPDATE's inline vector, or the `Vec` of an MRT RIB
/// entry. Its room is what the caller reserved; a field with more attributes goes to the
/// general loop.
pub(crate) trait AttrBuf {
    /// The start of the buffer.
    fn as_mut_ptr(&mut self) -> *mut Attribute;
    /// Slots allocated.
    fn capacity(&self) -> usize;
    /// Slots in use.
    fn len(&self) -> usize;
    /// Sets the number of slots in use.
    ///
    /// # Safety
    /// As `Vec::set_len`: `n <= capacity()`, the first `n` slots initialised.
    unsafe fn set_len(&mut self, n: usize);
    /// Drops every attribute.
    fn clear(&mut self);
}

impl AttrBuf for crate::update::Attributes {
    #[inline(always)]
    fn as_mut_ptr(&mut self) -> *mut Attribute {
        smallvec::SmallVec::as_mut_ptr(self)
    }
    #[inline(always)]
    fn capacity(&self) -> usize {
        smallvec::SmallVec::capacity(self)
    }
    #[inline(always)]
    fn len(&self) -> usize {
        smallvec::SmallVec::len(self)
    }
    #[inline(always)]
    unsafe fn set_len(&mut self, n: usize) {
        // SAFETY: the caller's contract is `SmallVec::set_len`'s.
        unsafe { smallvec::SmallVec::set_len(self, n) }
    }
    #[inline(always)]
    fn clear(&mut self) {
        smallvec::SmallVec::clear(self)
    }
}

impl AttrBuf for Vec<Attribute> {
    #[inline(always)]
    fn as_mut_ptr(&mut self) -> *mut Attribute {
        Vec::as_mut_ptr(self)
    }
    #[inline(always)]
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
    #[inline(always)]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline(always)]
    unsafe fn set_len(&mut self, n: usize) {
        // SAFETY: the caller's contract is `Vec::set_len`'s.
        unsafe { Vec::set_len(self, n) }
    }
    #[inline(always)]
    fn clear(&mut self) {
        Vec::clear(self)
    }
}

/// The common case of a Path Attributes field: every attribute one of ORIGIN, AS_PATH,
/// NEXT_HOP, MULTI_EXIT_DISC, LOCAL_PREF (internal peer), COMMUNITIES or
/// LARGE_COMMUNITY, with its required Optional/Transitive flags, a one-octet length and
/// a well-formed value, none twice, and ORIGIN, AS_PATH and NEXT_HOP present when
/// `announces` (RFC 4271 §5, RFC 7606 §3d). Such a field decodes with no error, and the
/// values pushed to `out` are the ones `decode_value` gives (same checks, same
/// constructors); this loop just skips the general one's error bookkeeping.
///
/// Returns `false`, with `out` emptied again, at the first thing it does not take: the
/// caller then runs the general loop over the whole field.
#[inline(always)]
pub(crate) fn decode_common(abuf: &[u8], ctx: &DecodeCtx, announces: bool, out: &mut impl AttrBuf) -> bool {
    use type_code::*;
    // Written in place, the length set once at the end (a panic in between would only
    // leak the values written so far); a field with more attributes than `out` has room
    // for goes to the general loop.
    let (base, cap, mut n) = (out.as_mut_ptr(), out.capacity(), out.len());
    let mut seen = 0u64;
    let mut rest = abuf;
    const MASK: u8 = flags::OPTIONAL | flags::TRANSITIVE | flags::EXTENDED_LENGTH;
    const W: u8 = flags::TRANSITIVE;
    const O: u8 = flags::OPTIONAL;
    const OT: u8 = flags::OPTIONAL | flags::TRANSITIVE;
    let ok = loop {
        let [fl, t, l, ..] = *rest else {
            break rest.is_empty();
        };
        let Some((v, tail)) = rest[3..].split_at_checked(l as usize) else { break false };
        rest = tail;
        // One dispatch on the type: the Optional, Transitive and Extended Length bits it
        // must carry (Extended Length never: those go to the general loop), then its value.
        let len = v.len();
        let value = match t {
            ORIGIN if fl & MASK == W => match *v {
                [0] => AttrValue::Origin(Origin::Igp),
                [1] => AttrValue::Origin(Origin::Egp),
                [2] => AttrValue::Origin(Origin::Incomplete),
                _ => break false,
            },
            // An empty AS_PATH (every iBGP route of a Calico mesh) without the call.
            AS_PATH if fl & MASK == W && len == 0 => AttrValue::AsPath(AsPath::default()),
            AS_PATH if fl & MASK == W => match AsPath::decode(v, ctx.four_octet_as) {
                Ok(p) => AttrValue::AsPath(p),
                Err(_) => break false,
            },
            NEXT_HOP if fl & MASK == W && len == 4 && next_hop_valid(ipv4_at(v)) => AttrValue::NextHop(ipv4_at(v)),
            MED if fl & MASK == O && len == 4 => AttrValue::Med(u32_at(v)),
            LOCAL_PREF if fl & MASK == W && len == 4 && !ctx.external => AttrValue::LocalPref(u32_at(v)),
            COMMUNITIES if fl & MASK == OT && len != 0 && len.is_multiple_of(4) => {
                AttrValue::Communities(communities(v))
            }
            LARGE_COMMUNITIES if fl & MASK == OT && len != 0 && len.is_multiple_of(12) => {
                AttrValue::LargeCommunities(large_communities(v))
            }
            _ => break false,
        };
        // Each type once (all of them are below 64), and room left in `out`.
        if seen & (1 << t) != 0 || n == cap {
            break false;
        }
        seen |= 1 << t;
        // Without Extended Length every bit but the four unused ones is kept, as the
        // general loop keeps it.
        // SAFETY: `n < cap`: slot `n` is allocated and past the length.
        unsafe { base.add(n).write(Attribute { flags: fl & 0xf0, value }) };
        n += 1;
    };
    // SAFETY: slots up to `n` are written (the ones below the old length were there).
    unsafe { out.set_len(n) };
    const MANDATORY: u64 = 1 << ORIGIN | 1 << AS_PATH | 1 << NEXT_HOP;
    if ok && (!announces || seen & MANDATORY == MANDATORY) {
        return true;
    }
    out.clear();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decode_common` takes `field` into the inline vector (or not, as `takes` says);
    /// into a `Vec` with the room an MRT RIB entry reserves (8) whenever the inline
    /// vector takes it, and also when only the inline room (6) was short. What it takes
    /// is what `decode_value` gives for each attribute; a field it does not take leaves
    /// the vector empty.
    fn check(field: &[u8], ctx: &DecodeCtx, announces: bool, takes: bool) {
        let general = || {
            let mut rest = field;
            let mut want = Vec::new();
            while let [fl, t, l, ..] = *rest {
                let v = &rest[3..3 + l as usize];
                want.push(Attribute { flags: fl & 0xf0, value: decode_value(fl, t, v, ctx).unwrap() });
                rest = &rest[3 + l as usize..];
            }
            want
        };
        let mut out = crate::update::Attributes::new();
        let took = decode_common(field, ctx, announces, &mut out);
        assert_eq!(took, takes, "{field:02x?}");
        let mut v: Vec<Attribute> = Vec::with_capacity(8);
        let vec_took = decode_common(field, ctx, announces, &mut v);
        assert!(vec_took || !took, "{field:02x?}");
        if vec_took {
            assert_eq!(v, general());
        } else {
            assert!(v.is_empty());
        }
        if !took {
            assert!(out.is_empty());
            return;
        }
        assert_eq!(out.as_slice(), &general()[..]);
    }

    #[test]
    fn common_attributes_decode_as_the_general_path() {
        let ctx = DecodeCtx::default();
        let origin = [0x40, 1, 1, 2];
        let path = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe8];
        let nh = [0x40, 3, 4, 198, 18, 0, 1];
        let med = [0x80, 4, 4, 0, 0, 0, 7];
        let lp = [0x40, 5, 4, 0, 0, 0, 100];
        let comm = [0xc0, 8, 8, 0xfc, 0, 0, 1, 0xff, 0xff, 0xff, 0x01];
        let large = [0xc0, 32, 12, 0, 0, 0xfc, 0, 0, 0, 0, 1, 0, 0, 0, 2];
        let cat = |parts: &[&[u8]]| parts.concat();
        let all = cat(&[&origin, &path, &nh, &med, &lp, &comm, &large]);
        check(&cat(&[&origin, &path, &nh, &lp, &comm, &large]), &ctx, true, true);
        check(&cat(&[&large, &comm, &med, &nh, &path, &origin]), &ctx, true, true);
        check(&[], &ctx, false, true);
        // An empty AS_PATH (iBGP), on both kinds of session.
        check(&cat(&[&origin, &[0x40, 2, 0], &nh, &lp]), &ctx, true, true);
        check(&cat(&[&origin, &[0x40, 2, 0], &nh]), &DecodeCtx { four_octet_as: false, ..ctx.clone() }, true, true);
        // The Partial bit is kept (and the unused low bits dropped), as decode_value does.
        check(&cat(&[&origin, &path, &nh, &[0xe1, 8, 4, 0, 0, 0, 1]]), &ctx, true, true);
        // Left to the general loop: no room for a seventh attribute inline, a missing
        // mandatory attribute, a duplicate, Extended Length, a bad flag, a bad value,
        // LOCAL_PREF from an external peer, an unknown or other known type, a cut field.
        check(&all, &ctx, true, false);
        let mut v: Vec<Attribute> = Vec::with_capacity(8);
        assert!(decode_common(&all, &ctx, true, &mut v), "room for 7 in the Vec");
        assert_eq!(v.len(), 7);
        check(&cat(&[&origin, &path]), &ctx, true, false);
        check(&cat(&[&origin, &path]), &ctx, false, true);
        check(&cat(&[&origin, &path, &nh, &med, &med]), &ctx, true, false);
        check(&cat(&[&origin, &path, &[0x50, 3, 0, 4, 198, 18, 0, 1]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &[0xc0, 3, 4, 198, 18, 0, 1]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &[0x40, 3, 4, 224, 0, 0, 1]]), &ctx, true, false);
        check(&cat(&[&[0x40, 1, 1, 3], &path, &nh]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &[0xc0, 8, 6, 0, 0, 0, 1, 0, 0]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &lp]), &DecodeCtx { external: true, ..Default::default() }, true, false);
        check(&cat(&[&origin, &path, &nh, &[0xc0, 99, 1, 0]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &[0xc0, 200, 1, 0]]), &ctx, true, false);
        check(&cat(&[&origin, &[0x50, 2, 0, 0], &nh]), &ctx, true, false);
        check(&cat(&[&origin, &[0x40, 2, 1, 2], &nh]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &[0x40, 6, 0]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &[0x40, 5, 4, 0]]), &ctx, true, false);
        check(&cat(&[&origin, &path, &nh, &[0x40]]), &ctx, true, false);
    }
}
