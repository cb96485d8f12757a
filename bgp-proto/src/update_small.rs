//! Encoding of a small UPDATE (RFC 4271 §4.3) in one pass, straight into the output.
//!
//! A Calico UPDATE is 40-100 octets. Appending it piece by piece to a `BytesMut` costs a
//! capacity check and a length update per piece (a dozen pieces); here room for
//! [`SMALL`] octets is reserved once, every piece is a fixed-size store into that room
//! (checked against [`SMALL`] only), the length fields are filled in at the end, and the
//! message becomes part of `out` by one length update. Whatever this path does not
//! handle (a message over [`SMALL`] octets, an Extended Length flag, MP_REACH_NLRI,
//! AGGREGATOR, AS4 attributes, unknown attributes) makes it give up before the length of
//! `out` changes, and the general encoder runs instead. The bytes are the same either
//! way (a unit test below and the golden tests check it).

use crate::attr::{flags, type_code, AsPath, AttrValue, Attribute};
use crate::ctx::EncodeCtx;
use crate::header::{msg_type, HEADER_LEN, MARKER};
use crate::nlri::{Nlri, Prefix};
use crate::open::AS_TRANS;
use crate::types::AfiSafi;
use crate::update::Update;
use bytes::BytesMut;
use ipnet::Ipv4Net;

/// The largest message this path writes: Calico UPDATEs are 40-100 octets.
pub(crate) const SMALL: usize = 128;

/// The message being written: the start of [`SMALL`] writable octets, and a cursor.
///
/// Every store checks that it ends within the [`SMALL`] octets; octets it writes past
/// the cursor are either overwritten by the next piece or left out of the message.
struct Writer {
    p: *mut u8,
    n: usize,
}

impl Writer {
    /// Stores `K` octets at `at`; `None` when they would end past [`SMALL`].
    #[inline(always)]
    fn set<const K: usize>(&mut self, at: usize, x: [u8; K]) -> Option<()> {
        if at + K > SMALL {
            return None;
        }
        // SAFETY: `p` is valid for writes of SMALL octets (see `encode`) and
        // `at + K <= SMALL`; the store is unaligned.
        unsafe { self.p.add(at).cast::<[u8; K]>().write_unaligned(x) };
        Some(())
    }

    /// Appends `K` octets; `None` when they do not fit.
    #[inline(always)]
    fn put<const K: usize>(&mut self, x: [u8; K]) -> Option<()> {
        self.set(self.n, x)?;
        self.n += K;
        Some(())
    }

    /// A fixed-size attribute with a one-octet length and a 4-octet value (7 octets),
    /// stored as one 8-octet word (the next piece overwrites the eighth octet).
    #[inline(always)]
    fn put_u32_attr(&mut self, f: u8, t: u8, x: u32) -> Option<()> {
        let w = (f as u64) | (t as u64) << 8 | 4 << 16 | (x.swap_bytes() as u64) << 24;
        self.set(self.n, w.to_le_bytes())?;
        self.n += 7;
        Some(())
    }

    /// A run of IPv4 prefixes: each one a fixed-size window (the next one overwrites
    /// the unused octets).
    #[inline(always)]
    fn nlri(&mut self, v: &[Nlri<Ipv4Net>], add_path: bool) -> Option<()> {
        for p in v {
            if add_path {
                // As `nlri::encode_one`: a missing path identifier is sent as 0.
                self.put(p.path_id.unwrap_or(0).to_be_bytes())?;
            }
            if self.n + <Ipv4Net as Prefix>::WIDE > SMALL {
                return None;
            }
            // SAFETY: `p` is valid for SMALL octets and the window of WIDE octets ends
            // within them (checked above).
            unsafe { p.prefix.write_window(self.p.add(self.n)) };
            self.n += 1 + (p.prefix.len_bits() as usize).div_ceil(8);
        }
        Some(())
    }

    /// An attribute made of fixed-size items (communities, cluster list).
    #[inline(always)]
    fn items<T, const K: usize>(&mut self, f: u8, t: u8, v: &[T], g: impl Fn(&T) -> [u8; K]) -> Option<()> {
        let len = v.len() * K;
        if len > 255 {
            return None;
        }
        self.put([f, t, len as u8])?;
        for x in v {
            self.put(g(x))?;
        }
        Some(())
    }

    /// AS_PATH as `attr::encode` writes it: segments of at most 255 ASNs (longer ones
    /// go to the general path), empty segments left out, ASNs over 65535 sent as
    /// AS_TRANS on a 2-octet session (RFC 6793 §4.2.2).
    #[inline(always)]
    fn as_path(&mut self, f: u8, p: &AsPath, four: bool) -> Option<()> {
        let at = self.n;
        self.put([f, type_code::AS_PATH, 0])?;
        for s in &p.segments {
            if s.asns.is_empty() {
                continue;
            }
            if s.asns.len() > 255 {
                return None;
            }
            self.put([s.kind.code(), s.asns.len() as u8])?;
            for &a in &s.asns {
                if four {
                    self.put(a.to_be_bytes())?;
                } else {
                    self.put(u16::try_from(a).unwrap_or(AS_TRANS).to_be_bytes())?;
                }
            }
        }
        let len = self.n - at - 3;
        if len > 255 {
            return None;
        }
        self.set(at + 2, [len as u8])
    }

    #[inline(always)]
    fn attribute(&mut self, a: &Attribute, ctx: &EncodeCtx) -> Option<()> {
        use type_code::*;
        let f = a.flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL | flags::EXTENDED_LENGTH);
        if f & flags::EXTENDED_LENGTH != 0 {
            return None;
        }
        match &a.value {
            AttrValue::Origin(o) => self.put([f, ORIGIN, 1, *o as u8]),
            AttrValue::NextHop(x) => self.put_u32_attr(f, NEXT_HOP, x.to_bits()),
            AttrValue::Med(x) => self.put_u32_attr(f, MED, *x),
            AttrValue::LocalPref(x) => self.put_u32_attr(f, LOCAL_PREF, *x),
            AttrValue::OriginatorId(x) => self.put_u32_attr(f, ORIGINATOR_ID, x.to_bits()),
            AttrValue::Otc(x) => self.put_u32_attr(f, OTC, *x),
            AttrValue::AtomicAggregate => self.put([f, ATOMIC_AGGREGATE, 0]),
            AttrValue::AsPath(p) => self.as_path(f, p, ctx.four_octet_as),
            AttrValue::Communities(c) => self.items(f, COMMUNITIES, c, |c| c.0.to_be_bytes()),
            AttrValue::LargeCommunities(c) => self.items(f, LARGE_COMMUNITIES, c, |c| {
                let (g, l1, l2) = (c.global.to_be_bytes(), c.local1.to_be_bytes(), c.local2.to_be_bytes());
                [g[0], g[1], g[2], g[3], l1[0], l1[1], l1[2], l1[3], l2[0], l2[1], l2[2], l2[3]]
            }),
            AttrValue::ExtendedCommunities(c) => self.items(f, EXTENDED_COMMUNITIES, c, |c| c.0),
            AttrValue::ClusterList(c) => self.items(f, CLUSTER_LIST, c, |a| a.octets()),
            _ => None,
        }
    }
}

/// Appends the whole UPDATE message (header included) to `out` and returns its length,
/// or returns `None` with the length and contents of `out` unchanged (its capacity may
/// have grown) when the message is not one this path writes.
#[inline(always)]
pub(crate) fn encode(u: &Update, ctx: &EncodeCtx, out: &mut BytesMut) -> Option<usize> {
    const { assert!(SMALL < 256, "the length fields are written as one octet") };
    out.reserve(SMALL);
    let spare = out.spare_capacity_mut();
    debug_assert!(spare.len() >= SMALL);
    // `reserve` made room for at least SMALL more octets: the writer's stores go there.
    let mut w = Writer { p: spare.as_mut_ptr().cast::<u8>(), n: HEADER_LEN + 2 };
    let add = ctx.add_path(AfiSafi::IPV4_UNICAST);
    w.nlri(&u.withdrawn, add)?;
    let wlen = w.n - HEADER_LEN - 2;
    let alen_at = w.n;
    w.n += 2;
    for a in &u.attributes {
        w.attribute(a, ctx)?;
    }
    let alen = w.n - alen_at - 2;
    // A prefix takes at least one octet: give up at once on a long NLRI field.
    let nlri = u.nlri.as_slice();
    if nlri.len() > SMALL {
        return None;
    }
    w.nlri(nlri, add)?;
    let n = w.n;
    // The marker (RFC 4271 §4.1), the header's length and type, the two length fields:
    // the octets the pieces above skipped.
    w.set(0, MARKER)?;
    w.set(16, [0, n as u8, msg_type::UPDATE, 0, wlen as u8])?;
    w.set(alen_at, [0, alen as u8])?;
    // SAFETY: `reserve` made room for SMALL more octets and `n <= SMALL`; octets
    // `0..n` of that room are initialised: the marker, header and length fields just
    // written, and in between the pieces, each appended where the previous one ended.
    unsafe { out.set_len(out.len() + n) };
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin, SegmentKind};

    /// The general encoder, bypassing this path.
    fn general(u: &Update, ctx: &EncodeCtx) -> Vec<u8> {
        let mut out = BytesMut::new();
        let at = crate::header::start_header(&mut out, msg_type::UPDATE);
        u.encode_body(ctx, &mut out).unwrap();
        crate::header::finish_header(&mut out, at);
        out.to_vec()
    }

    fn check(u: &Update, ctx: &EncodeCtx, small: bool) {
        let mut out = BytesMut::from(&b"prefix"[..]);
        match encode(u, ctx, &mut out) {
            Some(n) => {
                assert!(small, "took the small path: {u:?}");
                assert_eq!(n, out.len() - 6);
                assert_eq!(&out[6..], &general(u, ctx)[..], "{u:?}");
            }
            None => {
                assert!(!small, "gave up: {u:?}");
                assert_eq!(&out[..], b"prefix");
            }
        }
    }

    #[test]
    fn same_bytes_as_the_general_encoder() {
        let p = |s: &str| Nlri::new(s.parse::<Ipv4Net>().unwrap());
        let a = Attribute::new;
        let base = vec![
            a(AttrValue::Origin(Origin::Egp)),
            a(AttrValue::AsPath(AsPath {
                segments: vec![
                    AsSegment { kind: SegmentKind::Sequence, asns: vec![64512, 70000, 1] },
                    AsSegment { kind: SegmentKind::Set, asns: vec![] },
                    AsSegment { kind: SegmentKind::Set, asns: vec![5, 6] },
                ],
            })),
            a(AttrValue::NextHop("198.18.0.1".parse().unwrap())),
            a(AttrValue::Med(7)),
            a(AttrValue::LocalPref(100)),
            a(AttrValue::Communities(vec![Community::new(64512, 1), Community::NO_EXPORT])),
        ];
        let more = vec![
            a(AttrValue::LargeCommunities(vec![LargeCommunity::new(1, 2, 3)])),
            a(AttrValue::ExtendedCommunities(vec![ExtendedCommunity([0, 2, 0, 1, 0, 0, 0, 9])])),
            a(AttrValue::ClusterList(vec!["192.0.2.1".parse().unwrap()])),
            a(AttrValue::OriginatorId("192.0.2.2".parse().unwrap())),
            a(AttrValue::AtomicAggregate),
            a(AttrValue::Otc(64512)),
        ];
        let nlri: crate::NlriList =
            [p("10.244.1.64/26"), p("0.0.0.0/0"), p("10.0.0.0/8"), p("192.0.2.1/32")].into_iter().collect();
        for four in [true, false] {
            for add in [false, true] {
                let mut ctx = EncodeCtx { four_octet_as: four, ..Default::default() };
                if add {
                    ctx.add_path.insert(AfiSafi::IPV4_UNICAST);
                }
                let u = Update { attributes: base.clone().into(), nlri: nlri.clone(), ..Default::default() };
                check(&u, &ctx, true);
                let u = Update { attributes: more.clone().into(), withdrawn: nlri.clone(), ..Default::default() };
                check(&u, &ctx, true);
                check(&Update::default(), &ctx, true);
                // Given up: Extended Length chosen by the sender, a long value, MP_REACH.
                let mut x = a(AttrValue::LocalPref(1));
                x.flags |= flags::EXTENDED_LENGTH;
                check(&Update { attributes: [x].into_iter().collect(), ..Default::default() }, &ctx, false);
                let long = a(AttrValue::Communities((0..64).map(Community).collect()));
                check(&Update { attributes: [long].into_iter().collect(), ..Default::default() }, &ctx, false);
                let eor = Update::end_of_rib(AfiSafi::IPV6_UNICAST);
                check(&eor, &ctx, false);
                // Too long for the buffer: 60 /32s in the NLRI field.
                let many = (0..60u32).map(|i| Nlri::new(Ipv4Net::new((0x0a00_0000 | i).into(), 32).unwrap()));
                check(&Update { nlri: many.collect(), ..Default::default() }, &ctx, false);
            }
        }
    }
}
