//! Path attributes (RFC 4271 §4.3, §5) and their RFC 7606 error rules (§7).

mod aspath;
mod community;
mod encode;
mod mp;
mod value;

pub use aspath::{AsPath, AsSegment, SegmentKind};
pub use community::{Community, ExtendedCommunity, LargeCommunity};
pub use mp::{MpNlri, MpReach, MpUnreach, NextHop};

use crate::types::hex_bytes;
use bytes::Bytes;
use serde::Serialize;
use std::net::Ipv4Addr;

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    /// Optional (1) or well-known (0).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive.
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: an optional transitive attribute passed on by a speaker that did not
    /// recognise it.
    pub const PARTIAL: u8 = 0x20;
    /// Extended Length: the length field is two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod type_code {
    /// ORIGIN.
    pub const ORIGIN: u8 = 1;
    /// AS_PATH.
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP.
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC.
    pub const MED: u8 = 4;
    /// LOCAL_PREF.
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE.
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR.
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// ORIGINATOR_ID (RFC 4456).
    pub const ORIGINATOR_ID: u8 = 9;
    /// CLUSTER_LIST (RFC 4456).
    pub const CLUSTER_LIST: u8 = 10;
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// Traffic Engineering (RFC 5543).
    pub const TRAFFIC_ENGINEERING: u8 = 24;
    /// IPv6 Address Specific Extended Community (RFC 5701).
    pub const IPV6_EXTENDED_COMMUNITIES: u8 = 25;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITIES: u8 = 32;
    /// Only to Customer (RFC 9234).
    pub const OTC: u8 = 35;
    /// ATTR_SET (RFC 6368).
    pub const ATTR_SET: u8 = 128;
}

/// ORIGIN values (RFC 4271 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// 0: IGP.
    Igp,
    /// 1: EGP.
    Egp,
    /// 2: INCOMPLETE.
    Incomplete,
}

/// AGGREGATOR or AS4_AGGREGATOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Aggregator {
    /// The aggregating AS (AS_TRANS in a 2-octet AGGREGATOR when it needs 4 octets).
    pub asn: u32,
    /// The aggregating speaker's address.
    pub address: Ipv4Addr,
}

/// A path attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum AttrValue {
    /// 1: ORIGIN.
    Origin(Origin),
    /// 2: AS_PATH.
    AsPath(AsPath),
    /// 3: NEXT_HOP.
    NextHop(Ipv4Addr),
    /// 4: MULTI_EXIT_DISC.
    Med(u32),
    /// 5: LOCAL_PREF.
    LocalPref(u32),
    /// 6: ATOMIC_AGGREGATE.
    AtomicAggregate,
    /// 7: AGGREGATOR.
    Aggregator(Aggregator),
    /// 8: COMMUNITIES.
    Communities(Vec<Community>),
    /// 9: ORIGINATOR_ID.
    OriginatorId(Ipv4Addr),
    /// 10: CLUSTER_LIST.
    ClusterList(Vec<Ipv4Addr>),
    /// 14: MP_REACH_NLRI. Boxed, like MP_UNREACH_NLRI: the two are rare next to the
    /// small attributes, and inline they would double the size of every `AttrValue`.
    MpReach(Box<MpReach>),
    /// 15: MP_UNREACH_NLRI.
    MpUnreach(Box<MpUnreach>),
    /// 16: EXTENDED COMMUNITIES.
    ExtendedCommunities(Vec<ExtendedCommunity>),
    /// 17: AS4_PATH.
    As4Path(AsPath),
    /// 18: AS4_AGGREGATOR.
    As4Aggregator(Aggregator),
    /// 32: LARGE_COMMUNITY.
    LargeCommunities(Vec<LargeCommunity>),
    /// 35: OTC.
    Otc(u32),
    /// Any other attribute, value byte-exact.
    Unknown {
        /// Type code.
        type_code: u8,
        /// Value.
        #[serde(serialize_with = "hex_bytes")]
        data: Bytes,
    },
}

impl AttrValue {
    /// The type code.
    pub fn type_code(&self) -> u8 {
        use type_code::*;
        match self {
            AttrValue::Origin(_) => ORIGIN,
            AttrValue::AsPath(_) => AS_PATH,
            AttrValue::NextHop(_) => NEXT_HOP,
            AttrValue::Med(_) => MED,
            AttrValue::LocalPref(_) => LOCAL_PREF,
            AttrValue::AtomicAggregate => ATOMIC_AGGREGATE,
            AttrValue::Aggregator(_) => AGGREGATOR,
            AttrValue::Communities(_) => COMMUNITIES,
            AttrValue::OriginatorId(_) => ORIGINATOR_ID,
            AttrValue::ClusterList(_) => CLUSTER_LIST,
            AttrValue::MpReach(_) => MP_REACH_NLRI,
            AttrValue::MpUnreach(_) => MP_UNREACH_NLRI,
            AttrValue::ExtendedCommunities(_) => EXTENDED_COMMUNITIES,
            AttrValue::As4Path(_) => AS4_PATH,
            AttrValue::As4Aggregator(_) => AS4_AGGREGATOR,
            AttrValue::LargeCommunities(_) => LARGE_COMMUNITIES,
            AttrValue::Otc(_) => OTC,
            AttrValue::Unknown { type_code, .. } => *type_code,
        }
    }
}

/// The Optional and Transitive flags a known attribute type must carry, or `None` for
/// types this crate does not know. Known are the types it decodes and the three RFC 7606
/// §7 gives an error rule but this crate keeps as raw bytes: Traffic Engineering
/// (RFC 5543 §3: optional non-transitive), IPv6 Address Specific Extended Community
/// (RFC 5701 §2: optional transitive) and ATTR_SET (RFC 6368 §5: optional transitive).
pub fn expected_flags(type_code: u8) -> Option<u8> {
    use flags::*;
    use type_code::*;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => TRANSITIVE,
        MED | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI | TRAFFIC_ENGINEERING => OPTIONAL,
        AGGREGATOR
        | COMMUNITIES
        | EXTENDED_COMMUNITIES
        | AS4_PATH
        | AS4_AGGREGATOR
        | LARGE_COMMUNITIES
        | OTC
        | IPV6_EXTENDED_COMMUNITIES
        | ATTR_SET => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

/// A path attribute: its flags and value.
///
/// `flags` holds the Optional, Transitive and Partial bits, and the Extended Length bit
/// when the sender used the two-octet length for a value that did not need it (BIRD and
/// FRR do that for MP_REACH_NLRI and AS_PATH), so re-encoding reproduces their bytes.
/// The encoder sets Extended Length itself for values over 255 octets. The four unused
/// low bits are ignored on receipt (RFC 4271 §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Attribute {
    /// Optional | Transitive | Partial bits.
    pub flags: u8,
    /// The value.
    #[serde(flatten)]
    pub value: AttrValue,
}

impl Attribute {
    /// An attribute with the flags its type requires. Unknown attributes get
    /// optional-transitive.
    pub fn new(value: AttrValue) -> Self {
        let flags = expected_flags(value.type_code()).unwrap_or(flags::OPTIONAL | flags::TRANSITIVE);
        Attribute { flags, value }
    }

    /// The type code.
    pub fn type_code(&self) -> u8 {
        self.value.type_code()
    }

    /// Whether the Partial bit is set.
    pub fn is_partial(&self) -> bool {
        self.flags & flags::PARTIAL != 0
    }
}

impl From<AttrValue> for Attribute {
    fn from(v: AttrValue) -> Self {
        Attribute::new(v)
    }
}

pub(crate) use encode::{encode_attribute, encode_attributes, encoded_len};
pub(crate) use value::{decode_common, decode_value};
