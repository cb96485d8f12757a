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

/// A prefix type this module can decode and encode: [`Ipv4Net`] and [`Ipv6Net`] only
/// (sealed), as the encode loop relies on [`Prefix::write_window`] storing at least the
/// length octet and the significant address octets.
pub trait Prefix: Copy + Sized + sealed::Sealed {
    /// Address length in bits (32 or 128).
    const MAX_LEN: u8;
    /// Octets [`Prefix::write_window`] stores: the length octet, the whole address and,
    /// for IPv4, padding up to one 8-octet word.
    const WIDE: usize;
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
    /// [`Prefix::read_wide`] from a pointer, without a bounds check.
    ///
    /// # Safety
    /// `src` must be valid for reads of `1 + MAX_LEN / 8` octets.
    unsafe fn read_window(src: *const u8) -> Option<Self>;
    /// Writes the length octet and the whole address (`1 + MAX_LEN / 8` octets) at the
    /// front of `dst`; only the first `1 + len_bits().div_ceil(8)` of them are kept.
    fn write_wide(&self, dst: &mut [u8]);
    /// [`Prefix::write_wide`] to a pointer, as one store of [`Prefix::WIDE`] octets
    /// where the target allows, without a bounds check.
    ///
    /// # Safety
    /// `dst` must be valid for writes of [`Prefix::WIDE`] octets.
    unsafe fn write_window(&self, dst: *mut u8);
}

mod sealed {
    /// Keeps [`super::Prefix`] to the two types of this module.
    pub trait Sealed {}
    impl Sealed for ipnet::Ipv4Net {}
    impl Sealed for ipnet::Ipv6Net {}
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
        v4_from_window(w.first_chunk()?)
    }
    #[inline(always)]
    unsafe fn read_window(src: *const u8) -> Option<Self> {
        // SAFETY: the caller guarantees 5 readable octets; `[u8; 5]` has alignment 1.
        v4_from_window(unsafe { &*src.cast::<[u8; 5]>() })
    }
    #[inline(always)]
    fn write_wide(&self, dst: &mut [u8]) {
        let o = self.addr().octets();
        dst[..5].copy_from_slice(&[self.prefix_len(), o[0], o[1], o[2], o[3]]);
    }
    const WIDE: usize = 8;
    #[inline(always)]
    unsafe fn write_window(&self, dst: *mut u8) {
        // Octet 0 the length, octets 1-4 the address in network order, then 3 octets of
        // padding: one 8-octet store.
        let w = self.prefix_len() as u64 | (u32::from_le_bytes(self.addr().octets()) as u64) << 8;
        // SAFETY: the caller guarantees 8 writable octets; the store is unaligned.
        unsafe { dst.cast::<[u8; 8]>().write_unaligned(w.to_le_bytes()) }
    }
}

/// A length octet and a whole IPv4 address: the prefix with its host bits cleared, or
/// `None` for a length over 32. The address stays in network byte order and is masked
/// with a mask in the same order (no byte swaps).
#[inline(always)]
fn v4_from_window(w: &[u8; 5]) -> Option<Ipv4Net> {
    let len = w[0];
    if len > 32 {
        return None;
    }
    let a = u32::from_ne_bytes([w[1], w[2], w[3], w[4]]) & MASK32_NE[len as usize];
    Ipv4Net::new(Ipv4Addr::from(a.to_ne_bytes()), len).ok()
}

/// A length octet and a whole IPv6 address, as [`v4_from_window`].
#[inline(always)]
fn v6_from_window(w: &[u8; 17]) -> Option<Ipv6Net> {
    let len = w[0];
    if len > 128 {
        return None;
    }
    let m = &MASK128_NE[len as usize];
    let a: &[u8; 16] = w[1..].first_chunk()?;
    let a = u128::from_ne_bytes(*a) & m;
    Ipv6Net::new(Ipv6Addr::from(a.to_ne_bytes()), len).ok()
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
        v6_from_window(w.first_chunk()?)
    }
    #[inline(always)]
    unsafe fn read_window(src: *const u8) -> Option<Self> {
        // SAFETY: the caller guarantees 17 readable octets; `[u8; 17]` has alignment 1.
        v6_from_window(unsafe { &*src.cast::<[u8; 17]>() })
    }
    #[inline(always)]
    fn write_wide(&self, dst: &mut [u8]) {
        let d: &mut [u8; 17] = dst.first_chunk_mut().expect("17 octets of room");
        d[0] = self.prefix_len();
        d[1..].copy_from_slice(&self.addr().octets());
    }
    const WIDE: usize = 17;
    #[inline(always)]
    unsafe fn write_window(&self, dst: *mut u8) {
        // SAFETY: the caller guarantees 17 writable octets; both stores are unaligned.
        unsafe {
            dst.write(self.prefix_len());
            dst.add(1).cast::<[u8; 16]>().write_unaligned(self.addr().octets());
        }
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

/// `mask32(len)` in network byte order, as a native-endian word: ANDed with an address
/// loaded with `from_ne_bytes`, it clears the host bits without a byte swap.
static MASK32_NE: [u32; 33] = {
    let mut t = [0u32; 33];
    let mut i = 1;
    while i <= 32 {
        t[i] = (u32::MAX << (32 - i)).to_be();
        i += 1;
    }
    t
};

/// `mask128(len)` in network byte order, as [`MASK32_NE`].
static MASK128_NE: [u128; 129] = {
    let mut t = [0u128; 129];
    let mut i = 1;
    while i <= 128 {
        t[i] = (u128::MAX << (128 - i)).to_be();
        i += 1;
    }
    t
};

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
        decode_vec::<Ipv4Net, true>(buf, out)
    } else {
        decode_vec::<Ipv4Net, false>(buf, out)
    }
}

/// Decodes a run of IPv6 prefixes.
pub(crate) fn decode_v6(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<Ipv6Net>>) -> Result<(), NlriFault> {
    if add_path {
        decode_vec::<Ipv6Net, true>(buf, out)
    } else {
        decode_vec::<Ipv6Net, false>(buf, out)
    }
}

/// The decode loop into a `Vec`, one copy per family and ADD-PATH setting: the loop of
/// [`decode_run`] in batches with one bounds and capacity check per batch.
///
/// A prefix takes at most a window (path identifier, length octet, full address), so
/// when `room` octets lie past the start of the first window, the next
/// `room / window + 1` prefixes each start with a whole window inside `buf`. The vector
/// is given room for them, and each prefix is one unchecked load of its window, a
/// length check, a mask and a store into the spare capacity. The last octets (less than
/// a window) take the careful path, which also reports the faults (RFC 7606 §5.3).
#[inline(always)]
fn decode_vec<P: Prefix, const ADD: bool>(buf: &[u8], out: &mut Vec<Nlri<P>>) -> Result<(), NlriFault> {
    if buf.is_empty() {
        return Ok(());
    }
    let hdr = if ADD { 5 } else { 1 };
    let window = hdr + P::MAX_LEN as usize / 8;
    if out.capacity() == 0 {
        // Typical full-table prefixes take about a quarter of the window. A fresh vector:
        // `with_capacity` is a plain allocation, where `reserve` takes the growth path.
        *out = Vec::with_capacity(buf.len() / (hdr + P::MAX_LEN as usize / 32) + 1);
    }
    let mut i = 0usize;
    while let Some(room) = buf.len().checked_sub(i + window) {
        let n = room / window + 1;
        out.reserve(n);
        let len = out.len();
        let mut k = 0;
        let mut fault = false;
        for slot in &mut out.spare_capacity_mut()[..n] {
            // SAFETY: prefix `k` of the batch starts at most `k * window` octets past
            // the batch's first one, and `k < n`, so its window ends within
            // `room + window` octets of it: inside `buf`.
            let at = unsafe { buf.as_ptr().add(i) };
            let path_id = if ADD {
                // SAFETY: as above, 4 of the window's octets.
                Some(u32::from_be_bytes(unsafe { at.cast::<[u8; 4]>().read() }))
            } else {
                None
            };
            // SAFETY: as above, the rest of the window.
            let Some(prefix) = (unsafe { P::read_window(at.add(hdr - 1)) }) else {
                fault = true; // Length too large: the careful path reports it.
                break;
            };
            slot.write(Nlri { path_id, prefix });
            k += 1;
            // `hdr + len.div_ceil(8)` in one addition and one shift.
            i += (prefix.len_bits() as usize + 7 + 8 * hdr) >> 3;
        }
        // SAFETY: the first `k` spare slots were written above.
        unsafe { out.set_len(len + k) };
        if fault {
            break;
        }
    }
    if i == buf.len() {
        return Ok(());
    }
    decode_tail::<P, ADD>(buf, i, out)
}

/// The decode loop for a run short enough for the inline vector of an UPDATE field
/// (longer runs go to [`decode_vec`]), one copy per ADD-PATH setting.
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

/// The encode loop: room for the worst case (every prefix a full address) is reserved
/// once and each prefix is written into the spare capacity as one fixed-size store of
/// [`Prefix::WIDE`] octets, of which only the significant ones are kept: the next
/// prefix overwrites the rest. The length is set once at the end; nothing is
/// zero-filled.
#[inline(always)]
fn encode_run<P: Prefix, const ADD: bool>(v: &[Nlri<P>], room: usize, out: &mut BytesMut) -> (usize, usize) {
    if v.is_empty() {
        return (0, 0);
    }
    if v.len() <= SHORT_RUN {
        return encode_short::<P, ADD>(v, room, out);
    }
    if room == usize::MAX {
        encode_wide::<P, ADD, false>(v, room, out)
    } else {
        encode_wide::<P, ADD, true>(v, room, out)
    }
}

/// [`encode_run`] for a run longer than [`SHORT_RUN`]; `FIT`: stop at `room` octets.
#[inline(always)]
fn encode_wide<P: Prefix, const ADD: bool, const FIT: bool>(
    v: &[Nlri<P>],
    room: usize,
    out: &mut BytesMut,
) -> (usize, usize) {
    let hdr = if ADD { 5 } else { 1 };
    let window = hdr + P::MAX_LEN as usize / 8;
    // Every prefix is written at an offset `p` where the previous ones ended, so
    // `p <= (v.len() - 1) * window`; with `FIT`, `p + len <= room` too. The store at `p`
    // reaches `p + hdr - 1 + WIDE`, which both bounds keep below `max + WIDE`.
    let max = if FIT { v.len().saturating_mul(window).min(room.saturating_add(window)) } else { v.len() * window };
    out.reserve(max + P::WIDE);
    let start = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    let mut p = 0usize;
    let mut count = 0usize;
    for n in v {
        // `hdr + len.div_ceil(8)` in one addition and one shift.
        let len = (n.prefix.len_bits() as usize + 7 + 8 * hdr) >> 3;
        if FIT && p + len > room {
            break;
        }
        // SAFETY: `dst` points to the spare capacity, of at least `max + WIDE` octets;
        // by the bounds above every store here stays below `p + hdr - 1 + WIDE`, inside it.
        unsafe {
            if ADD {
                dst.add(p).cast::<[u8; 4]>().write_unaligned(n.path_id.unwrap_or(0).to_be_bytes());
            }
            n.prefix.write_window(dst.add(p + hdr - 1));
        }
        p += len;
        count += 1;
    }
    // SAFETY: octets `start..start + p` were all written: each prefix wrote at least its
    // own `len` octets from where the previous one ended (path identifier, then
    // `write_window`'s length octet and address; `Prefix` is sealed to the two
    // implementations above).
    unsafe { out.set_len(start + p) };
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
#[path = "nlri_tests.rs"]
mod tests;
