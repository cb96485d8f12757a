//! NLRI: IPv4 and IPv6 prefixes with optional ADD-PATH path identifiers (RFC 4271 §4.3,
//! RFC 4760 §5, RFC 7911 §3). This is the hottest code in the crate: a full-table UPDATE
//! stream is mostly prefixes.

use bytes::{BufMut, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
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
}

#[inline(always)]
fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - len as u32).unwrap_or(0)
}

#[inline(always)]
fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - len as u32).unwrap_or(0)
}

/// Decodes a run of IPv4 prefixes. The fast path loads four octets at once and masks,
/// which is safe while four octets remain in the buffer.
pub(crate) fn decode_v4(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<Ipv4Net>>) -> Result<(), NlriFault> {
    out.reserve(buf.len() / 4 + 1);
    let mut i = 0usize;
    let end = buf.len();
    while i < end {
        let start = i;
        let path_id = if add_path {
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
        if len > 32 {
            return Err(NlriFault { at: start, reason: "prefix length exceeds 32" });
        }
        let n = (len as usize + 7) >> 3;
        if end - i < n {
            return Err(NlriFault { at: start, reason: "prefix overruns the field" });
        }
        let v = if end - i >= 4 {
            u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]) & mask32(len)
        } else {
            let mut a = [0u8; 4];
            a[..n].copy_from_slice(&buf[i..i + n]);
            u32::from_be_bytes(a) & mask32(len)
        };
        i += n;
        let prefix = Ipv4Net::new(Ipv4Addr::from(v), len).unwrap_or_default();
        out.push(Nlri { path_id, prefix });
    }
    Ok(())
}

/// Decodes a run of IPv6 prefixes.
pub(crate) fn decode_v6(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<Ipv6Net>>) -> Result<(), NlriFault> {
    decode_generic::<Ipv6Net>(buf, add_path, out)
}

fn decode_generic<P: Prefix>(buf: &[u8], add_path: bool, out: &mut Vec<Nlri<P>>) -> Result<(), NlriFault> {
    let mut i = 0usize;
    let end = buf.len();
    while i < end {
        let start = i;
        let path_id = if add_path {
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
            return Err(NlriFault { at: start, reason: "prefix length exceeds the address length" });
        }
        let n = (len as usize + 7) >> 3;
        if end - i < n {
            return Err(NlriFault { at: start, reason: "prefix overruns the field" });
        }
        out.push(Nlri { path_id, prefix: P::from_octets(&buf[i..i + n], len) });
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
        out.put_u32(n.path_id.unwrap_or(0));
    }
    let len = n.prefix.len_bits();
    out.put_u8(len);
    n.prefix.write_octets(out, (len as usize).div_ceil(8));
}

/// Appends a run of NLRI.
pub fn encode_all<P: Prefix>(v: &[Nlri<P>], add_path: bool, out: &mut BytesMut) {
    out.reserve(v.len() * if add_path { 9 } else { 5 });
    for n in v {
        encode_one(n, add_path, out);
    }
}
