//! Small shared types: address families and helpers.

use serde::Serialize;
use std::fmt;

/// Address Family Identifier (IANA "Address Family Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4.
    pub const IPV4: Afi = Afi(1);
    /// IPv6.
    pub const IPV6: Afi = Afi(2);
    /// Layer-2 VPN (EVPN, VPLS).
    pub const L2VPN: Afi = Afi(25);
    /// BGP-LS.
    pub const BGP_LS: Afi = Afi(16388);
}

/// Subsequent Address Family Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast.
    pub const UNICAST: Safi = Safi(1);
    /// Multicast.
    pub const MULTICAST: Safi = Safi(2);
    /// Labeled unicast (RFC 8277).
    pub const MPLS_LABEL: Safi = Safi(4);
    /// EVPN (RFC 7432).
    pub const EVPN: Safi = Safi(70);
    /// MPLS-labeled VPN (RFC 4364).
    pub const MPLS_VPN: Safi = Safi(128);
    /// FlowSpec (RFC 8955).
    pub const FLOWSPEC: Safi = Safi(133);
}

/// An AFI/SAFI pair: one address family of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AfiSafi {
    /// Address family.
    pub afi: Afi,
    /// Subsequent address family.
    pub safi: Safi,
}

impl AfiSafi {
    /// IPv4 unicast.
    pub const IPV4_UNICAST: AfiSafi = AfiSafi::new(Afi::IPV4, Safi::UNICAST);
    /// IPv6 unicast.
    pub const IPV6_UNICAST: AfiSafi = AfiSafi::new(Afi::IPV6, Safi::UNICAST);
    /// IPv4 multicast.
    pub const IPV4_MULTICAST: AfiSafi = AfiSafi::new(Afi::IPV4, Safi::MULTICAST);
    /// IPv6 multicast.
    pub const IPV6_MULTICAST: AfiSafi = AfiSafi::new(Afi::IPV6, Safi::MULTICAST);

    /// Builds a pair.
    pub const fn new(afi: Afi, safi: Safi) -> Self {
        AfiSafi { afi, safi }
    }

    /// Whether NLRI of this family are plain prefixes that this crate decodes into
    /// `ipnet` types (IPv4/IPv6 unicast and multicast). Others stay opaque.
    pub fn is_typed(self) -> bool {
        matches!(self.afi, Afi::IPV4 | Afi::IPV6) && matches!(self.safi, Safi::UNICAST | Safi::MULTICAST)
    }

    /// Index into [`FamilySet`]'s bitmap, for the typed families.
    const fn bit(self) -> Option<u8> {
        match (self.afi.0, self.safi.0) {
            (1, 1) => Some(0),
            (2, 1) => Some(1),
            (1, 2) => Some(2),
            (2, 2) => Some(3),
            _ => None,
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.afi.0, self.safi.0) {
            (1, 1) => f.write_str("ipv4-unicast"),
            (2, 1) => f.write_str("ipv6-unicast"),
            (1, 2) => f.write_str("ipv4-multicast"),
            (2, 2) => f.write_str("ipv6-multicast"),
            (a, s) => write!(f, "afi{a}-safi{s}"),
        }
    }
}

/// A set of address families, used for per-family flags such as ADD-PATH.
///
/// The typed families live in a bitmap; any other family is kept in a short list, so
/// lookups on the hot path cost one AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FamilySet {
    bits: u8,
    others: Vec<AfiSafi>,
}

impl FamilySet {
    /// The empty set.
    pub const fn new() -> Self {
        FamilySet { bits: 0, others: Vec::new() }
    }

    /// A set holding every typed family (IPv4/IPv6 unicast and multicast).
    pub const fn all_typed() -> Self {
        FamilySet { bits: 0x0f, others: Vec::new() }
    }

    /// Adds a family.
    pub fn insert(&mut self, f: AfiSafi) {
        match f.bit() {
            Some(b) => self.bits |= 1 << b,
            None if !self.others.contains(&f) => self.others.push(f),
            None => {}
        }
    }

    /// Whether the set holds `f`.
    #[inline]
    pub fn contains(&self, f: AfiSafi) -> bool {
        match f.bit() {
            Some(b) => self.bits & (1 << b) != 0,
            None => self.others.contains(&f),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits == 0 && self.others.is_empty()
    }
}

impl FromIterator<AfiSafi> for FamilySet {
    fn from_iter<T: IntoIterator<Item = AfiSafi>>(iter: T) -> Self {
        let mut s = FamilySet::new();
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// Serializes bytes as a lowercase hex string (used for opaque fields in JSON).
pub(crate) fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for &x in b {
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 15) as usize] as char);
    }
    s.serialize_str(&out)
}
