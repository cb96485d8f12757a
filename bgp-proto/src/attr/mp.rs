//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3-4), with RFC 8950 IPv6 next hops
//! for IPv4 NLRI and RFC 2545 link-local next hops.

use crate::nlri::{self, Nlri};
use crate::types::{hex_bytes, Afi, AfiSafi, Safi};
use bytes::{Bytes, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A next hop as carried in MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextHop {
    /// A 4-octet IPv4 next hop.
    V4(Ipv4Addr),
    /// A 16-octet global IPv6 next hop, optionally followed by a link-local one
    /// (RFC 2545 §3; RFC 8950 for IPv4 NLRI).
    V6 {
        /// Global address.
        global: Ipv6Addr,
        /// Link-local address, when 32 octets were sent.
        link_local: Option<Ipv6Addr>,
    },
    /// Any other encoding (VPN next hops with a route distinguisher, and so on), raw.
    Raw(#[serde(serialize_with = "hex_bytes")] Bytes),
}

impl NextHop {
    fn encoded_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 { link_local: None, .. } => 16,
            NextHop::V6 { link_local: Some(_), .. } => 32,
            NextHop::Raw(b) => b.len(),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            NextHop::V4(a) => out.extend_from_slice(&a.octets()),
            NextHop::V6 { global, link_local } => {
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.extend_from_slice(&ll.octets());
                }
            }
            NextHop::Raw(b) => out.extend_from_slice(b),
        }
    }

    /// Decodes the next hop of a typed family. `None` when the length does not fit
    /// (RFC 7606 §7.11: the attribute is malformed). `v6_for_v4`: an IPv6 next hop is
    /// allowed for IPv4 NLRI (RFC 8950, Extended Next Hop Encoding in force).
    fn decode(family: AfiSafi, b: &[u8], v6_for_v4: bool) -> Option<NextHop> {
        if !family.is_typed() {
            return Some(NextHop::Raw(Bytes::copy_from_slice(b)));
        }
        let v6 = |o: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(o).unwrap_or([0; 16]));
        // RFC 4760 §3 / RFC 2545 §3: IPv4 NLRI take a 4-octet next hop, IPv6 NLRI a
        // 16- or 32-octet one. RFC 8950 §3: IPv4 NLRI may take the IPv6 forms too, but
        // only where the receiver advertised the capability (§4); otherwise the length
        // is "inconsistent with that which was expected" (RFC 7606 §7.11).
        if family.afi == Afi::IPV4 && b.len() != 4 && !v6_for_v4 {
            return None;
        }
        match (family.afi, b.len()) {
            (Afi::IPV4, 4) => Some(NextHop::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            (_, 16) => Some(NextHop::V6 { global: v6(b), link_local: None }),
            (_, 32) => Some(NextHop::V6 { global: v6(&b[..16]), link_local: Some(v6(&b[16..])) }),
            _ => None,
        }
    }
}

/// NLRI carried in an MP attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MpNlri {
    /// IPv4 unicast or multicast prefixes.
    Ipv4(Vec<Nlri<Ipv4Net>>),
    /// IPv6 unicast or multicast prefixes.
    Ipv6(Vec<Nlri<Ipv6Net>>),
    /// Any other family (VPN, EVPN, FlowSpec, BGP-LS …), byte-exact.
    Opaque(#[serde(serialize_with = "hex_bytes")] Bytes),
}

impl MpNlri {
    /// Whether there are no prefixes.
    pub fn is_empty(&self) -> bool {
        match self {
            MpNlri::Ipv4(v) => v.is_empty(),
            MpNlri::Ipv6(v) => v.is_empty(),
            MpNlri::Opaque(b) => b.is_empty(),
        }
    }

    /// Number of typed prefixes (0 for opaque NLRI).
    pub fn len(&self) -> usize {
        match self {
            MpNlri::Ipv4(v) => v.len(),
            MpNlri::Ipv6(v) => v.len(),
            MpNlri::Opaque(_) => 0,
        }
    }

    pub(crate) fn decode(family: AfiSafi, b: &[u8], add_path: bool) -> Result<MpNlri, &'static str> {
        match (family.is_typed(), family.afi) {
            (true, Afi::IPV4) => {
                let mut v = Vec::new();
                nlri::decode_v4(b, add_path, &mut v).map_err(|f| f.reason)?;
                Ok(MpNlri::Ipv4(v))
            }
            (true, _) => {
                let mut v = Vec::new();
                nlri::decode_v6(b, add_path, &mut v).map_err(|f| f.reason)?;
                Ok(MpNlri::Ipv6(v))
            }
            _ => Ok(MpNlri::Opaque(Bytes::copy_from_slice(b))),
        }
    }

    pub(crate) fn encode(&self, add_path: bool, out: &mut BytesMut) {
        match self {
            MpNlri::Ipv4(v) => nlri::encode_all(v, add_path, out),
            MpNlri::Ipv6(v) => nlri::encode_all(v, add_path, out),
            MpNlri::Opaque(b) => out.extend_from_slice(b),
        }
    }

    pub(crate) fn encoded_len(&self, add_path: bool) -> usize {
        match self {
            MpNlri::Ipv4(v) => v.iter().map(|n| nlri::encoded_len(n, add_path)).sum(),
            MpNlri::Ipv6(v) => v.iter().map(|n| nlri::encoded_len(n, add_path)).sum(),
            MpNlri::Opaque(b) => b.len(),
        }
    }
}

/// MP_REACH_NLRI (type 14).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MpReach {
    /// The family of the NLRI.
    pub family: AfiSafi,
    /// The next hop.
    pub next_hop: NextHop,
    /// The announced NLRI.
    pub nlri: MpNlri,
}

/// MP_UNREACH_NLRI (type 15).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MpUnreach {
    /// The family of the NLRI.
    pub family: AfiSafi,
    /// The withdrawn NLRI.
    pub withdrawn: MpNlri,
}

/// Why an MP attribute failed: the family when it could be read (for AFI/SAFI disable).
pub(crate) struct MpFault {
    pub family: Option<AfiSafi>,
    pub reason: &'static str,
}

/// The AFI/SAFI at the front of an MP attribute value, when it is long enough.
pub(crate) fn family_of(b: &[u8]) -> Option<AfiSafi> {
    (b.len() >= 3).then(|| AfiSafi::new(Afi(u16::from_be_bytes([b[0], b[1]])), Safi(b[2])))
}

impl MpReach {
    pub(crate) fn decode(
        b: &[u8],
        add_path: impl Fn(AfiSafi) -> bool,
        v6_for_v4: impl Fn(AfiSafi) -> bool,
    ) -> Result<MpReach, MpFault> {
        let family = family_of(b);
        let fault = |reason| MpFault { family, reason };
        let family = family.ok_or(fault("too short for AFI/SAFI"))?;
        let nh_len = *b.get(3).ok_or(fault("next hop length missing"))? as usize;
        // AFI(2) SAFI(1) NH-len(1) NH reserved(1)
        if b.len() < 5 + nh_len {
            return Err(fault("next hop overruns the attribute"));
        }
        let next_hop = NextHop::decode(family, &b[4..4 + nh_len], v6_for_v4(family))
            .ok_or(fault("next hop length inconsistent with AFI"))?;
        let nlri = MpNlri::decode(family, &b[5 + nh_len..], add_path(family)).map_err(fault)?;
        Ok(MpReach { family, next_hop, nlri })
    }

    pub(crate) fn encode(&self, add_path: bool, out: &mut BytesMut) {
        out.extend_from_slice(&self.family.afi.0.to_be_bytes());
        out.extend_from_slice(&[self.family.safi.0]);
        out.extend_from_slice(&[self.next_hop.encoded_len() as u8]);
        self.next_hop.encode(out);
        out.extend_from_slice(&[0]);
        self.nlri.encode(add_path, out);
    }

    pub(crate) fn encoded_len(&self, add_path: bool) -> usize {
        5 + self.next_hop.encoded_len() + self.nlri.encoded_len(add_path)
    }
}

impl MpUnreach {
    pub(crate) fn decode(b: &[u8], add_path: impl Fn(AfiSafi) -> bool) -> Result<MpUnreach, MpFault> {
        let family = family_of(b);
        let family = family.ok_or(MpFault { family, reason: "too short for AFI/SAFI" })?;
        let withdrawn = MpNlri::decode(family, &b[3..], add_path(family))
            .map_err(|reason| MpFault { family: Some(family), reason })?;
        Ok(MpUnreach { family, withdrawn })
    }

    pub(crate) fn encode(&self, add_path: bool, out: &mut BytesMut) {
        out.extend_from_slice(&self.family.afi.0.to_be_bytes());
        out.extend_from_slice(&[self.family.safi.0]);
        self.withdrawn.encode(add_path, out);
    }

    pub(crate) fn encoded_len(&self, add_path: bool) -> usize {
        3 + self.withdrawn.encoded_len(add_path)
    }
}
