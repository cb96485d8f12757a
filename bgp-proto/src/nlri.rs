//! NLRI: IPv4 and IPv6 prefixes with optional ADD-PATH path identifiers (RFC 4271 §4.3,
//! RFC 4760 §5, RFC 7911 §3). This is the hottest code in the crate: a full-table UPDATE
//! stream is mostly prefixes.

use bytes::{BufMut, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use smallvec::SmallVec;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One NLRI entry: a prefix, with its path identifier when ADD-PATH is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Nlri<P> {
    /// RFC 7911 path identifier, present only when ADD-PATH is negotiated for the family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_id: Option<u32>,
    /// The prefix, host bits cleared.
    pub prefix: P,
}

impl<P> Nlri<P> {
    /// A prefix without a path identifier.
    pub const fn new(prefix: P) -> Self {
        Nlri { path_id: None, prefix }
    }
    /// A prefix with a path identifier.
    pub const fn with_path_id(prefix: P, path_id: u32) -> Self {
        Nlri { path_id: Some(path_id), prefix }
    }
}

/// Why a run of NLRI could not be parsed (RFC 7606 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NlriFault {
    /// Offset of the bad prefix within the run.
    pub at: usize,
    pub reason: &'static str,
}

/// A prefix type this module can decode and encode.
pub trait Prefix: Copy + Sized {
    /// Address length in bits (32 or 128).
    const MAX_LEN: u8;
    /// Builds the prefix from up to `MAX_LEN / 8` significant octets; host bits are
    /// cleared (RFC 4271 §4.3: trailing bits are irrelevant).
    fn from_octets(octets: &[u8], len: u8) -> Self;
    /// Prefix length in bits.
    fn len_bits(&self) -> u8;
    /// The address octets (network order).
    fn write_octets(&self, out: &mut BytesMut, n: usize);
    /// Decodes a length octet followed by a whole address (`w` holds at least
    /// `1 + MAX_LEN / 8` octets), clearing the bits past the length; `None` when the
    /// length exceeds `MAX_LEN`. The caller advances by the length's octets only.
    fn read_wide(w: &[u8]) -> Option<Self>;
    /// Writes the length octet and the whole address (`1 + MAX_LEN / 8` octets) at the
    /// front of `dst`; only the first `1 + len_bits().div_ceil(8)` of them are kept.
    fn write_wide(&self, dst: &mut [u8]);
}

impl Prefix for Ipv4Net {
    const MAX_LEN: u8 = 32;
    #[inline(always)]
    fn from_octets(o: &[u8], len: u8) -> Self {
        let mut a = [0u8; 4];
        a[..o.len()].copy_from_slice(o);
        let v = u32::from_be_bytes(a) & mask32(len);
        // len <= 32 was checked by the caller, so this cannot fail.
        Ipv4Net::new(Ipv4Addr::from(v), len).unwrap_or_default()
    }
    #[inline(always)]
    fn len_bits(&self) -> u8 {
        self.prefix_len()
    }
    #[inline(always)]
    fn write_octets(&self, out: &mut BytesMut, n: usize) {
        out.put_slice(&self.addr().octets()[..n]);
    }
    #[inline(always)]
    fn read_wide(w: &[u8]) -> Option<Self> {
        let w: &[u8; 5] = w.first_chunk()?;
        let len = w[0];
        if len > 32 {
            return None;
        }
        let v = u32::from_be_bytes([w[1], w[2], w[3], w[4]]) & mask32(len);
        Ipv4Net::new(Ipv4Addr::from(v), len).ok()
    }
    #[inline(always)]
    fn write_wide(&self, dst: &mut [u8]) {
        let o = self.addr().octets();
        dst[..5].copy_from_slice(&[self.prefix_len(), o[0], o[1], o[2], o[3]]);
    }
}

impl Prefix for Ipv6Net {
    const MAX_LEN: u8 = 128;
    #[inline(always)]
    fn from_octets(o: &[u8], len: u8) -> Self {
        let mut a = [0u8; 16];
        a[..o.len()].copy_from_slice(o);
        let v = u128::from_be_bytes(a) & mask128(len);
        Ipv6Net::new(Ipv6Addr::from(v), len).unwrap_or_default()
    }
    #[inline(always)]
    fn len_bits(&self) -> u8 {
        self.prefix_len()
    }
    #[inline(always)]
    fn write_octets(&self, out: &mut BytesMut, n: usize) {
        out.put_slice(&self.addr().octets()[..n]);
    }
    #[inline(always)]
    fn read_wide(w: &[u8]) -> Option<Self> {
        let w: &[u8; 17] = w.first_chunk()?;
        let len = w[0];
        if len > 128 {
            return None;
        }
        let a: &[u8; 16] = w[1..].first_chunk()?;
        let v = u128::from_be_bytes(*a) & mask128(len);
        Ipv6Net::new(Ipv6Addr::from(v), len).ok()
    }
    #[inline(always)]
    fn write_wide(&self, dst: &mut [u8]) {
        let d: &mut [u8; 17] = dst.first_chunk_mut().expect("17 octets of room");
        d[0] = self.prefix_len();
        d[1..].copy_from_slice(&self.addr().octets());
    }
}

/// The top `len` bits of a `u32` (`len` <= 32), without a branch.
#[inline(always)]
fn mask32(len: u8) -> u32 {
    (u64::MAX << (32 - len as u32)) as u32
}

/// The top `len` bits of a `u128` (`len` <= 128): one load from a 2 KiB table, where
/// a variable 128-bit shift takes a dozen instructions.
#[inline(always)]
fn mask128(len: u8) -> u128 {
    MASK128[len as usize]
}

static MASK128: [u128; 129] = {
    let mut t = [0u128; 129];
    let mut i = 1;
    while i <= 128 {
        t[i] = u128::MAX << (128 - i);
        i += 1;
    }
    t
};

/// Where a decode loop puts its prefixes: a `Vec`, or the inline vector of
/// [`crate::Update`] ([`crate::NlriList`]) for short runs.
pub(crate) trait NlriSink<P> {
    /// Makes room for `want` prefixes.
    fn prepare(&mut self, want: usize);
    /// Appends one prefix.
    fn push_nlri(&mut self, n: Nlri<P>);
}

impl<P> NlriSink<P> for Vec<Nlri<P>> {
    #[inline(always)]
    fn prepare(&mut self, want: usize) {
        if self.capacity() == 0 {
            // A fresh vector: `with_capacity` is a plain allocation, where `reserve` takes
            // the general growth path.
            *self = Vec::with_capacity(want);
        } else {
            self.reserve(want);
        }
    }
    #[inline(always)]
    fn push_nlri(&mut self, n: Nlri<P>) {
        self.push(n)
    }
}

impl<P, const N: usize> NlriSink<P> for SmallVec<[Nlri<P>; N]> {
    #[inline(always)]
    fn prepare(&mut self, _want: usize) {}
    #[inline(always)]
    fn push_nlri(&mut self, n: Nlri<P>) {
        self.push(n)
    }
}

/// Decodes a run of IPv4 prefixes into the inline vector of an UPDATE field.
///
/// A run of at most one window (a Calico UPDATE's single prefix) is decoded in place;
/// a longer one into a `Vec` whose buffer the inline vector then takes over (no copy),
/// so long runs keep the `Vec` loop.
#[inline(always)]
pub(crate) fn decode_v4_into<const N: usize>(
    buf: &[u8],
    add_path: bool,
    out: &mut SmallVec<[Nlri<Ipv4Net>; N]>,
) -> Result<(), NlriFault> {
    // An empty run (most Withdrawn Routes fields) without a call.
    if buf.is_empty() {
        return Ok(());
    }
    decode_v4_run(buf, add_path, out)
}

/// [`decode_v4_into`] for a run that is not empty.
#[inline(never)]
fn decode_v4_run<const N: usize>(
    buf: &[u8],
    add_path: bool,
    out: &mut SmallVec<[Nlri<Ipv4Net>; N]>,
) -> Result<(), NlriFault> {
    let window = if add_path { 9 } else { 5 };
    if buf.len() <= window * N {
        return if add_path { decode_run::<Ipv4Net, true>(buf, out) } else { decode_run::<Ipv4Net, false>(buf, out) };
    }
    let mut v = Vec::new();
    let r = decode_v4(buf, add_path, &mut v);
    if out.is_empty() {
        *out = SmallVec::from_vec(v);
    } else {
        out.extend(v);
    }
    r
}

/// Decodes a run of IPv4 prefixes.
#[inline]
pub(crate) fn decode_v4(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<Ipv4Net>>) -> Result<(), NlriFault> {
    if buf.is_empty() {
        return Ok(());
    }
    if add_path {
        decode_run::<Ipv4Net, true>(buf, out)
    } else {
        decode_run::<Ipv4Net, false>(buf, out)
    }
}

/// Decodes a run of IPv6 prefixes.
pub(crate) fn decode_v6(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<Ipv6Net>>) -> Result<(), NlriFault> {
    if add_path {
        decode_run::<Ipv6Net, true>(buf, out)
    } else {
        decode_run::<Ipv6Net, false>(buf, out)
    }
}

/// The decode loop, one copy per family and ADD-PATH setting.
///
/// The fast path runs while a whole window (path identifier, length octet and a full
/// address) lies inside `buf`: a prefix that starts there cannot overrun the field, so
/// the only check left is the length, and the address is one unaligned load and a
/// mask. The last few prefixes take the careful path, which also reports the faults.
#[inline(always)]
fn decode_run<P: Prefix, const ADD: bool>(buf: &[u8], out: &mut impl NlriSink<P>) -> Result<(), NlriFault> {
    if buf.is_empty() {
        return Ok(());
    }
    let hdr = if ADD { 5 } else { 1 };
    let window = hdr + P::MAX_LEN as usize / 8;
    // Typical full-table prefixes take about a quarter of the window; `push` grows the
    // vector when shorter prefixes are packed in.
    out.prepare(buf.len() / (hdr + P::MAX_LEN as usize / 32) + 1);
    let mut i = 0usize;
    while let Some(w) = buf.get(i..i + window) {
        let path_id = if ADD { Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]])) } else { None };
        let Some(prefix) = P::read_wide(&w[hdr - 1..]) else {
            break; // Length too large: the careful path reports it.
        };
        out.push_nlri(Nlri { path_id, prefix });
        i += hdr + (prefix.len_bits() as usize).div_ceil(8);
    }
    if i == buf.len() {
        return Ok(());
    }
    decode_tail::<P, ADD>(buf, i, out)
}

#[cold]
#[inline(never)]
fn decode_tail<P: Prefix, const ADD: bool>(
    buf: &[u8],
    mut i: usize,
    out: &mut impl NlriSink<P>,
) -> Result<(), NlriFault> {
    let end = buf.len();
    while i < end {
        let start = i;
        let path_id = if ADD {
            if end - i < 4 {
                return Err(NlriFault { at: start, reason: "path identifier truncated" });
            }
            let v = u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
            i += 4;
            Some(v)
        } else {
            None
        };
        let Some(&len) = buf.get(i) else {
            return Err(NlriFault { at: start, reason: "prefix length missing" });
        };
        i += 1;
        if len > P::MAX_LEN {
            let reason =
                if P::MAX_LEN == 32 { "prefix length exceeds 32" } else { "prefix length exceeds the address length" };
            return Err(NlriFault { at: start, reason });
        }
        let n = (len as usize).div_ceil(8);
        if end - i < n {
            return Err(NlriFault { at: start, reason: "prefix overruns the field" });
        }
        out.push_nlri(Nlri { path_id, prefix: P::from_octets(&buf[i..i + n], len) });
        i += n;
    }
    Ok(())
}

/// Octets one NLRI takes on the wire.
#[inline]
pub fn encoded_len<P: Prefix>(n: &Nlri<P>, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + 1 + (n.prefix.len_bits() as usize).div_ceil(8)
}

/// Appends one NLRI. With `add_path`, a missing path identifier is sent as 0.
#[inline]
pub fn encode_one<P: Prefix>(n: &Nlri<P>, add_path: bool, out: &mut BytesMut) {
    if add_path {
        out.extend_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
    }
    // A fixed-size copy (inlined) and a truncate beat a variable-length copy.
    let mut w = [0u8; 17];
    n.prefix.write_wide(&mut w);
    let full = 1 + P::MAX_LEN as usize / 8;
    out.extend_from_slice(&w[..full]);
    out.truncate(out.len() - (P::MAX_LEN as usize / 8 - (n.prefix.len_bits() as usize).div_ceil(8)));
}

/// Appends a run of NLRI.
#[inline]
pub fn encode_all<P: Prefix>(v: &[Nlri<P>], add_path: bool, out: &mut BytesMut) {
    if v.is_empty() {
        return;
    }
    if add_path {
        encode_run::<P, true>(v, usize::MAX, out);
    } else {
        encode_run::<P, false>(v, usize::MAX, out);
    }
}

/// Appends the longest leading run of `v` that fits in `room` octets; returns how many
/// NLRI and how many octets that was.
pub fn encode_fit<P: Prefix>(v: &[Nlri<P>], add_path: bool, room: usize, out: &mut BytesMut) -> (usize, usize) {
    if add_path {
        encode_run::<P, true>(v, room, out)
    } else {
        encode_run::<P, false>(v, room, out)
    }
}

/// The encode loop: the output is grown once to the worst case (every prefix a full
/// address) and each prefix is written as a fixed-size window, of which only the
/// significant octets are kept: the next prefix overwrites the rest.
#[inline(always)]
fn encode_run<P: Prefix, const ADD: bool>(v: &[Nlri<P>], room: usize, out: &mut BytesMut) -> (usize, usize) {
    if v.is_empty() {
        return (0, 0);
    }
    let hdr = if ADD { 5 } else { 1 };
    let window = hdr + P::MAX_LEN as usize / 8;
    if v.len() <= SHORT_RUN {
        return encode_short::<P, ADD>(v, room, out);
    }
    let start = out.len();
    let max = v.len().saturating_mul(window).min(room.saturating_add(window));
    out.resize(start + max, 0);
    let dst = &mut out[start..];
    let mut p = 0usize;
    let mut count = 0usize;
    for n in v {
        let len = hdr + (n.prefix.len_bits() as usize).div_ceil(8);
        if p + len > room {
            break;
        }
        let Some(d) = dst.get_mut(p..p + window) else { break };
        if ADD {
            d[..4].copy_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
        }
        n.prefix.write_wide(&mut d[hdr - 1..]);
        p += len;
        count += 1;
    }
    out.truncate(start + p);
    (count, p)
}

/// Runs up to this many prefixes (the typical Calico UPDATE carries one) are appended
/// window by window, without growing and zero-filling the buffer to the worst case.
const SHORT_RUN: usize = 4;

#[inline(always)]
fn encode_short<P: Prefix, const ADD: bool>(v: &[Nlri<P>], room: usize, out: &mut BytesMut) -> (usize, usize) {
    let hdr = if ADD { 5 } else { 1 };
    let window = hdr + P::MAX_LEN as usize / 8;
    let mut p = 0usize;
    let mut count = 0usize;
    for n in v {
        let len = hdr + (n.prefix.len_bits() as usize).div_ceil(8);
        if p + len > room {
            break;
        }
        let mut w = [0u8; 21];
        if ADD {
            w[..4].copy_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
        }
        n.prefix.write_wide(&mut w[hdr - 1..]);
        out.extend_from_slice(&w[..window]);
        out.truncate(out.len() - (window - len));
        p += len;
        count += 1;
    }
    (count, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The careful loop alone is the reference for the fast path.
    fn reference<P: Prefix, const ADD: bool>(buf: &[u8]) -> (Vec<Nlri<P>>, Result<(), NlriFault>) {
        let mut v = Vec::new();
        let r = decode_tail::<P, ADD>(buf, 0, &mut v);
        (v, r)
    }

    fn check_decode(buf: &[u8]) {
        for add in [false, true] {
            let mut v4 = Vec::new();
            let r4 = decode_v4(buf, add, &mut v4);
            let want4 = if add { reference::<Ipv4Net, true>(buf) } else { reference::<Ipv4Net, false>(buf) };
            assert_eq!((v4, r4), want4, "v4 add_path={add} {buf:02x?}");
            let mut v6 = Vec::new();
            let r6 = decode_v6(buf, add, &mut v6);
            let want6 = if add { reference::<Ipv6Net, true>(buf) } else { reference::<Ipv6Net, false>(buf) };
            assert_eq!((v6, r6), want6, "v6 add_path={add} {buf:02x?}");
        }
    }

    fn check_encode<P: Prefix + std::fmt::Debug + PartialEq>(v: &[Nlri<P>], room: usize) {
        for add in [false, true] {
            let mut one = BytesMut::new();
            let mut fit_n = 0;
            for n in v {
                if one.len() + encoded_len(n, add) > room {
                    break;
                }
                encode_one(n, add, &mut one);
                fit_n += 1;
            }
            let mut fit = BytesMut::from(&b"xy"[..]);
            assert_eq!(encode_fit(v, add, room, &mut fit), (fit_n, one.len()));
            assert_eq!(&fit[2..], &one[..]);
            if room == usize::MAX {
                let mut all = BytesMut::new();
                encode_all(v, add, &mut all);
                assert_eq!(all, one);
            }
        }
    }

    #[test]
    fn mask_edges() {
        assert_eq!(mask128(0), 0);
        assert_eq!(mask128(1), 1 << 127);
        assert_eq!(mask128(64), (u64::MAX as u128) << 64);
        assert_eq!(mask128(128), u128::MAX);
        assert_eq!(mask32(0), 0);
        assert_eq!(mask32(1), 0x8000_0000);
        assert_eq!(mask32(24), 0xffff_ff00);
        assert_eq!(mask32(32), u32::MAX);
    }

    #[test]
    fn fast_path_faults_match_the_careful_path() {
        check_decode(&[]);
        check_decode(&[24, 10, 0, 0, 24, 10, 0, 1, 33, 1, 2, 3, 4, 5, 6]);
        check_decode(&[24, 10, 0, 0, 24, 10, 0, 1, 32, 1, 2, 3]);
        check_decode(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 0]);
        check_decode(&[128; 40]);
    }

    proptest! {
        #[test]
        fn decode_matches_reference(buf in proptest::collection::vec(
            prop_oneof![0u8..=33, Just(24u8), Just(48u8), Just(64u8), Just(128u8), Just(129u8), any::<u8>()], 0..80)) {
            check_decode(&buf);
        }

        #[test]
        fn encode_matches_encode_one(
            v4 in proptest::collection::vec((any::<u32>(), 0u8..=32, proptest::option::of(any::<u32>())), 0..40),
            v6 in proptest::collection::vec((any::<u128>(), 0u8..=128, proptest::option::of(any::<u32>())), 0..40),
            room in prop_oneof![Just(usize::MAX), 0usize..300],
        ) {
            let v4: Vec<_> = v4.into_iter()
                .map(|(a, l, p)| Nlri { path_id: p, prefix: Ipv4Net::new(Ipv4Addr::from(a), l).unwrap() })
                .collect();
            let v6: Vec<_> = v6.into_iter()
                .map(|(a, l, p)| Nlri { path_id: p, prefix: Ipv6Net::new(Ipv6Addr::from(a), l).unwrap() })
                .collect();
            check_encode(&v4, room);
            check_encode(&v6, room);
        }
    }
}
