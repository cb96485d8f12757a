//! Communities: standard (RFC 1997), extended (RFC 4360) and large (RFC 8092).

use serde::Serialize;
use std::fmt;

/// A standard community (RFC 1997): 16-bit ASN and 16-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Community(pub u32);

impl Community {
    /// GRACEFUL_SHUTDOWN (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// ACCEPT_OWN (RFC 7611).
    pub const ACCEPT_OWN: Community = Community(0xFFFF_0001);
    /// LLGR_STALE (RFC 9494).
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    /// NO_LLGR (RFC 9494).
    pub const NO_LLGR: Community = Community(0xFFFF_0007);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// NO_EXPORT (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// NO_PEER (RFC 3765).
    pub const NO_PEER: Community = Community(0xFFFF_FF04);

    /// Builds `asn:value`.
    pub const fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }

    /// The well-known name, if this is a well-known community.
    pub fn well_known_name(self) -> Option<&'static str> {
        Some(match self {
            Community::GRACEFUL_SHUTDOWN => "GRACEFUL_SHUTDOWN",
            Community::ACCEPT_OWN => "ACCEPT_OWN",
            Community::LLGR_STALE => "LLGR_STALE",
            Community::NO_LLGR => "NO_LLGR",
            Community::BLACKHOLE => "BLACKHOLE",
            Community::NO_EXPORT => "NO_EXPORT",
            Community::NO_ADVERTISE => "NO_ADVERTISE",
            Community::NO_EXPORT_SUBCONFED => "NO_EXPORT_SUBCONFED",
            Community::NO_PEER => "NO_PEER",
            _ => return None,
        })
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff),
        }
    }
}

/// An extended community (RFC 4360): 8 octets, type and sub-type first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// High-order type octet.
    pub fn type_high(&self) -> u8 {
        self.0[0]
    }
    /// Sub-type octet (for the regular types).
    pub fn sub_type(&self) -> u8 {
        self.0[1]
    }
    /// Whether the community is transitive across ASes (RFC 4360 §2: bit 0x40 clear).
    pub fn is_transitive(&self) -> bool {
        self.0[0] & 0x40 == 0
    }
    /// Two-octet-AS route target `asn:value` (type 0x00, sub-type 0x02).
    pub fn route_target(asn: u16, value: u32) -> Self {
        let mut b = [0u8; 8];
        b[1] = 0x02;
        b[2..4].copy_from_slice(&asn.to_be_bytes());
        b[4..8].copy_from_slice(&value.to_be_bytes());
        ExtendedCommunity(b)
    }
}

impl Serialize for ExtendedCommunity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::types::hex_bytes(&self.0, s)
    }
}

/// A large community (RFC 8092): global administrator and two local data parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LargeCommunity {
    /// Global administrator (an ASN).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl LargeCommunity {
    /// Builds `global:local1:local2`.
    pub const fn new(global: u32, local1: u32, local2: u32) -> Self {
        LargeCommunity { global, local1, local2 }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}
