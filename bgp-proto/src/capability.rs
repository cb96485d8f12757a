//! BGP capabilities (RFC 5492) carried in OPEN optional parameters.
//!
//! The leaf parsers use nom; nom's error type never leaves this module.

use crate::error::EncodeError;
use crate::types::{hex_bytes, Afi, AfiSafi, Safi};
use bytes::{BufMut, Bytes, BytesMut};
use nom::combinator::all_consuming;
use nom::multi::many0;
use nom::number::complete::{be_u16, be_u24, be_u32, be_u8};
use nom::{IResult, Parser};
use serde::Serialize;

/// Capability codes (IANA "Capability Codes").
pub mod cap_code {
    /// Multiprotocol Extensions (RFC 4760).
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route Refresh (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 2;
    /// Extended Next Hop Encoding (RFC 8950).
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// Extended Message (RFC 8654).
    pub const EXTENDED_MESSAGE: u8 = 6;
    /// BGP Role (RFC 9234).
    pub const ROLE: u8 = 9;
    /// Graceful Restart (RFC 4724).
    pub const GRACEFUL_RESTART: u8 = 64;
    /// Support for 4-octet AS numbers (RFC 6793).
    pub const FOUR_OCTET_AS: u8 = 65;
    /// ADD-PATH (RFC 7911).
    pub const ADD_PATH: u8 = 69;
    /// Enhanced Route Refresh (RFC 7313).
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    /// Long-Lived Graceful Restart (RFC 9494).
    pub const LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
    /// FQDN (draft-walton-bgp-hostname-capability).
    pub const FQDN: u8 = 73;
}

/// ADD-PATH Send/Receive field (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddPathMode {
    /// 1: willing to receive multiple paths.
    Receive,
    /// 2: able to send multiple paths.
    Send,
    /// 3: both.
    Both,
}

impl AddPathMode {
    /// Whether this side receives path identifiers.
    pub fn receives(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
    /// Whether this side sends path identifiers.
    pub fn sends(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
    fn code(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
        }
    }
}

/// One ADD-PATH tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct AddPathFamily {
    /// The family.
    pub family: AfiSafi,
    /// Send, receive or both.
    pub mode: AddPathMode,
}

/// One Extended Next Hop tuple (RFC 8950 §3): NLRI of `nlri` may carry a next hop of
/// `next_hop_afi`. The NLRI SAFI is 16 bits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ExtendedNextHop {
    /// The NLRI family.
    pub nlri: AfiSafi,
    /// The next hop's address family.
    pub next_hop_afi: Afi,
}

/// Per-family Graceful Restart state (RFC 4724 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct GracefulRestartFamily {
    /// The family.
    pub family: AfiSafi,
    /// Forwarding State bit: forwarding was preserved across the restart.
    pub forwarding_preserved: bool,
    /// The other flag bits, kept as received.
    pub other_flags: u8,
}

/// Graceful Restart capability (RFC 4724 §3, RFC 8538 §2 for the N bit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GracefulRestart {
    /// Restart State (R) bit.
    pub restarting: bool,
    /// Notification (N) bit (RFC 8538).
    pub notification: bool,
    /// The two reserved flag bits, kept as received.
    pub reserved_flags: u8,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    /// Families whose state is preserved.
    pub families: Vec<GracefulRestartFamily>,
}

/// One Long-Lived Graceful Restart tuple (RFC 9494 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LlgrFamily {
    /// The family.
    pub family: AfiSafi,
    /// Flags (F bit 0x80).
    pub flags: u8,
    /// Long-lived stale time in seconds (24 bits).
    pub stale_time: u32,
}

/// A capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum Capability {
    /// 1: Multiprotocol extensions (RFC 4760 §8). The reserved octet is kept.
    Multiprotocol {
        /// The family.
        family: AfiSafi,
        /// The reserved octet (zero when well formed).
        reserved: u8,
    },
    /// 2: Route refresh (RFC 2918).
    RouteRefresh,
    /// 5: Extended next hop encoding (RFC 8950).
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// 6: Extended message (RFC 8654).
    ExtendedMessage,
    /// 9: BGP role (RFC 9234): 0 provider, 1 RS, 2 RS-client, 3 customer, 4 peer.
    Role(u8),
    /// 64: Graceful restart (RFC 4724).
    GracefulRestart(GracefulRestart),
    /// 65: 4-octet AS number support (RFC 6793), carrying our ASN.
    FourOctetAs(u32),
    /// 69: ADD-PATH (RFC 7911).
    AddPath(Vec<AddPathFamily>),
    /// 70: Enhanced route refresh (RFC 7313).
    EnhancedRouteRefresh,
    /// 71: Long-lived graceful restart (RFC 9494).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// 73: FQDN (host name and domain name).
    Fqdn {
        /// Host name.
        hostname: String,
        /// Domain name.
        domain: String,
    },
    /// Any other capability, or a known one whose value is malformed, kept byte-exact.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value.
        #[serde(serialize_with = "hex_bytes")]
        value: Bytes,
    },
}

type NomResult<'a, T> = IResult<&'a [u8], T>;

fn family3(i: &[u8]) -> NomResult<'_, AfiSafi> {
    // AFI (2) + SAFI (1), as in ADD-PATH, GR and LLGR tuples.
    let (i, (afi, safi)) = (be_u16, be_u8).parse(i)?;
    Ok((i, AfiSafi::new(Afi(afi), Safi(safi))))
}

fn parse_known(code: u8, v: &[u8]) -> Option<Capability> {
    use cap_code::*;
    let r: NomResult<'_, Capability> = match code {
        MULTIPROTOCOL => all_consuming((be_u16, be_u8, be_u8))
            .map(|(afi, reserved, safi)| Capability::Multiprotocol {
                family: AfiSafi::new(Afi(afi), Safi(safi)),
                reserved,
            })
            .parse(v),
        ROUTE_REFRESH if v.is_empty() => Ok((v, Capability::RouteRefresh)),
        EXTENDED_MESSAGE if v.is_empty() => Ok((v, Capability::ExtendedMessage)),
        ENHANCED_ROUTE_REFRESH if v.is_empty() => Ok((v, Capability::EnhancedRouteRefresh)),
        ROLE => all_consuming(be_u8).map(Capability::Role).parse(v),
        FOUR_OCTET_AS => all_consuming(be_u32).map(Capability::FourOctetAs).parse(v),
        EXTENDED_NEXT_HOP => all_consuming(many0((be_u16, be_u16, be_u16).map_opt(|(afi, safi, nh)| {
            Some(ExtendedNextHop {
                nlri: AfiSafi::new(Afi(afi), Safi(u8::try_from(safi).ok()?)),
                next_hop_afi: Afi(nh),
            })
        })))
        .map(Capability::ExtendedNextHop)
        .parse(v),
        ADD_PATH => all_consuming(many0((family3, be_u8).map_opt(|(family, m)| {
            let mode = match m {
                1 => AddPathMode::Receive,
                2 => AddPathMode::Send,
                3 => AddPathMode::Both,
                _ => return None,
            };
            Some(AddPathFamily { family, mode })
        })))
        .map(Capability::AddPath)
        .parse(v),
        GRACEFUL_RESTART => all_consuming((
            be_u16,
            many0((family3, be_u8).map(|(family, f)| GracefulRestartFamily {
                family,
                forwarding_preserved: f & 0x80 != 0,
                other_flags: f & 0x7f,
            })),
        ))
        .map(|(hdr, families)| {
            Capability::GracefulRestart(GracefulRestart {
                restarting: hdr & 0x8000 != 0,
                notification: hdr & 0x4000 != 0,
                reserved_flags: ((hdr >> 12) & 0x3) as u8,
                restart_time: hdr & 0x0fff,
                families,
            })
        })
        .parse(v),
        LONG_LIVED_GRACEFUL_RESTART => {
            all_consuming(many0((family3, be_u8, be_u24).map(|(family, flags, stale_time)| LlgrFamily {
                family,
                flags,
                stale_time,
            })))
            .map(Capability::LongLivedGracefulRestart)
            .parse(v)
        }
        FQDN => all_consuming((be_u8.flat_map(nom::bytes::complete::take), be_u8.flat_map(nom::bytes::complete::take)))
            .map_opt(|(h, d): (&[u8], &[u8])| {
                Some(Capability::Fqdn {
                    hostname: String::from_utf8(h.to_vec()).ok()?,
                    domain: String::from_utf8(d.to_vec()).ok()?,
                })
            })
            .parse(v),
        _ => return None,
    };
    r.ok().map(|(_, c)| c)
}

impl Capability {
    /// Decodes one capability value. A known capability whose value does not parse is
    /// kept as [`Capability::Unknown`] so that it re-encodes byte-exact; the session
    /// decides whether that matters (RFC 5492 §3 leaves it to the receiver).
    pub fn decode(code: u8, value: &[u8]) -> Capability {
        parse_known(code, value).unwrap_or_else(|| Capability::Unknown { code, value: Bytes::copy_from_slice(value) })
    }

    /// The capability code.
    pub fn code(&self) -> u8 {
        use cap_code::*;
        match self {
            Capability::Multiprotocol { .. } => MULTIPROTOCOL,
            Capability::RouteRefresh => ROUTE_REFRESH,
            Capability::ExtendedNextHop(_) => EXTENDED_NEXT_HOP,
            Capability::ExtendedMessage => EXTENDED_MESSAGE,
            Capability::Role(_) => ROLE,
            Capability::GracefulRestart(_) => GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => FOUR_OCTET_AS,
            Capability::AddPath(_) => ADD_PATH,
            Capability::EnhancedRouteRefresh => ENHANCED_ROUTE_REFRESH,
            Capability::LongLivedGracefulRestart(_) => LONG_LIVED_GRACEFUL_RESTART,
            Capability::Fqdn { .. } => FQDN,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Appends the value (without code and length) to `out`.
    pub fn encode_value(&self, out: &mut BytesMut) {
        match self {
            Capability::Multiprotocol { family, reserved } => {
                out.put_u16(family.afi.0);
                out.put_u8(*reserved);
                out.put_u8(family.safi.0);
            }
            Capability::RouteRefresh | Capability::ExtendedMessage | Capability::EnhancedRouteRefresh => {}
            Capability::ExtendedNextHop(v) => {
                for e in v {
                    out.put_u16(e.nlri.afi.0);
                    out.put_u16(e.nlri.safi.0 as u16);
                    out.put_u16(e.next_hop_afi.0);
                }
            }
            Capability::Role(r) => out.put_u8(*r),
            Capability::GracefulRestart(g) => {
                let mut hdr = g.restart_time & 0x0fff;
                hdr |= ((g.reserved_flags & 3) as u16) << 12;
                if g.restarting {
                    hdr |= 0x8000;
                }
                if g.notification {
                    hdr |= 0x4000;
                }
                out.put_u16(hdr);
                for f in &g.families {
                    out.put_u16(f.family.afi.0);
                    out.put_u8(f.family.safi.0);
                    out.put_u8((f.other_flags & 0x7f) | if f.forwarding_preserved { 0x80 } else { 0 });
                }
            }
            Capability::FourOctetAs(asn) => out.put_u32(*asn),
            Capability::AddPath(v) => {
                for e in v {
                    out.put_u16(e.family.afi.0);
                    out.put_u8(e.family.safi.0);
                    out.put_u8(e.mode.code());
                }
            }
            Capability::LongLivedGracefulRestart(v) => {
                for e in v {
                    out.put_u16(e.family.afi.0);
                    out.put_u8(e.family.safi.0);
                    out.put_u8(e.flags);
                    let t = e.stale_time.min(0xff_ffff);
                    out.put_slice(&t.to_be_bytes()[1..]);
                }
            }
            Capability::Fqdn { hostname, domain } => {
                for s in [hostname, domain] {
                    let b = &s.as_bytes()[..s.len().min(255)];
                    out.put_u8(b.len() as u8);
                    out.put_slice(b);
                }
            }
            Capability::Unknown { value, .. } => out.put_slice(value),
        }
    }

    /// Appends code, length and value to `out`. Fails, leaving `out` unchanged, when the
    /// value is longer than the one-octet length allows.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_u8(self.code());
        out.put_u8(0);
        self.encode_value(out);
        let len = out.len() - start - 2;
        if len > 255 {
            out.truncate(start);
            return Err(EncodeError::FieldOverflow("capability length"));
        }
        out[start + 1] = len as u8;
        Ok(())
    }
}
