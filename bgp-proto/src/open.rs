//! OPEN message (RFC 4271 §4.2) with optional parameters (RFC 5492) in the normal or
//! the extended (RFC 9072) encoding.

use crate::capability::{AddPathMode, Capability};
use crate::error::{code, subcode, DecodeError, EncodeError, ErrorKind, Result};
use crate::header::HEADER_LEN;
use crate::reader::Reader;
use crate::types::{hex_bytes, AfiSafi};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use std::net::Ipv4Addr;

/// AS_TRANS (RFC 6793 §9): stands in for a 4-octet ASN in 2-octet fields.
pub const AS_TRANS: u16 = 23456;

/// Optional parameter type for Capabilities (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;

/// An OPEN optional parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum OptionalParameter {
    /// Type 2: one or more capabilities.
    Capabilities {
        /// The capabilities, in wire order.
        capabilities: Vec<Capability>,
    },
    /// Any other parameter type (RFC 5492 §5: the session answers 2/4), kept raw.
    Unknown {
        /// Parameter type.
        param_type: u8,
        /// Parameter value.
        #[serde(serialize_with = "hex_bytes")]
        value: Bytes,
    },
}

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Open {
    /// My Autonomous System (AS_TRANS when the real ASN needs 4 octets).
    pub my_as: u16,
    /// Proposed hold time, seconds.
    pub hold_time: u16,
    /// BGP Identifier.
    pub bgp_id: Ipv4Addr,
    /// Optional parameters in wire order.
    pub params: Vec<OptionalParameter>,
}

impl Open {
    /// A typical OPEN: `asn` (AS_TRANS in My AS if it needs 4 octets, with the 4-octet
    /// AS capability always present), and `caps` in one Capabilities parameter.
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, mut caps: Vec<Capability>) -> Self {
        if !caps.iter().any(|c| matches!(c, Capability::FourOctetAs(_))) {
            caps.push(Capability::FourOctetAs(asn));
        }
        Open {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params: vec![OptionalParameter::Capabilities { capabilities: caps }],
        }
    }

    /// Every capability, across all parameters, in wire order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flat_map(|p| match p {
            OptionalParameter::Capabilities { capabilities } => capabilities.as_slice(),
            OptionalParameter::Unknown { .. } => &[],
        })
    }

    /// Whether any capability matches `f`.
    pub fn has_capability(&self, f: impl Fn(&Capability) -> bool) -> bool {
        self.capabilities().any(f)
    }

    /// The ASN from the 4-octet AS capability, if advertised (RFC 6793 §3).
    pub fn four_octet_asn(&self) -> Option<u32> {
        self.capabilities().find_map(|c| match c {
            Capability::FourOctetAs(a) => Some(*a),
            _ => None,
        })
    }

    /// The speaker's ASN: the 4-octet capability's value if present, else My AS.
    pub fn asn(&self) -> u32 {
        self.four_octet_asn().unwrap_or(self.my_as as u32)
    }

    /// Families advertised with the Multiprotocol capability.
    pub fn families(&self) -> Vec<AfiSafi> {
        self.capabilities()
            .filter_map(|c| match c {
                Capability::Multiprotocol { family, .. } => Some(*family),
                _ => None,
            })
            .collect()
    }

    /// ADD-PATH modes per family (RFC 7911 §4).
    pub fn add_path_modes(&self) -> Vec<(AfiSafi, AddPathMode)> {
        self.capabilities()
            .filter_map(|c| match c {
                Capability::AddPath(v) => Some(v.iter().map(|e| (e.family, e.mode))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Decodes an OPEN body; `body` starts right after the 19-octet header.
    pub fn decode_body(body: &[u8]) -> Result<Open> {
        let mut r = Reader::new(body, HEADER_LEN);
        let too_short = || {
            let len = (body.len() + HEADER_LEN) as u16;
            DecodeError::new(
                ErrorKind::BadLength(len),
                HEADER_LEN - 3,
                code::MESSAGE_HEADER,
                subcode::header::BAD_MESSAGE_LENGTH,
                Bytes::copy_from_slice(&len.to_be_bytes()),
            )
        };
        // RFC 4271 §4.2: the fixed part is 10 octets.
        let fixed = r.take(10).map_err(|_| too_short())?;
        let version = fixed[0];
        if version != 4 {
            // RFC 4271 §6.2: data is the largest locally supported version.
            return Err(DecodeError::new(
                ErrorKind::UnsupportedVersion(version),
                HEADER_LEN,
                code::OPEN_MESSAGE,
                subcode::open::UNSUPPORTED_VERSION,
                Bytes::from_static(&[0, 4]),
            ));
        }
        let my_as = u16::from_be_bytes([fixed[1], fixed[2]]);
        let hold_time = u16::from_be_bytes([fixed[3], fixed[4]]);
        let bgp_id = Ipv4Addr::new(fixed[5], fixed[6], fixed[7], fixed[8]);
        let mut opt_len = fixed[9] as usize;
        let mut extended = false;
        let bad = |why: &'static str, off: usize| {
            DecodeError::new(
                ErrorKind::BadOptionalParameters(why),
                off,
                code::OPEN_MESSAGE,
                subcode::open::UNSPECIFIC,
                Bytes::new(),
            )
        };
        // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255 marks the
        // extended encoding, with a 2-octet length and 2-octet parameter lengths.
        if opt_len == 255 && r.rest().first() == Some(&255) {
            let off = r.offset();
            r.u8().map_err(|_| bad("extended length missing", off))?;
            opt_len = r.u16().map_err(|_| bad("extended length missing", off))? as usize;
            extended = true;
        }
        if opt_len != r.remaining() {
            return Err(bad("optional parameters length disagrees with message length", HEADER_LEN + 9));
        }
        let mut params = Vec::new();
        while !r.is_empty() {
            let off = r.offset();
            let ptype = r.u8().map_err(|_| bad("parameter header truncated", off))?;
            let plen = if extended { r.u16().map(|v| v as usize) } else { r.u8().map(|v| v as usize) }
                .map_err(|_| bad("parameter header truncated", off))?;
            let mut pv = r.sub(plen).map_err(|_| bad("parameter overruns optional parameters", off))?;
            if ptype != PARAM_CAPABILITIES {
                params.push(OptionalParameter::Unknown { param_type: ptype, value: Bytes::copy_from_slice(pv.rest()) });
                continue;
            }
            let mut caps = Vec::new();
            while !pv.is_empty() {
                let coff = pv.offset();
                let hdr = pv.take(2).map_err(|_| bad("capability header truncated", coff))?;
                let value = pv.take(hdr[1] as usize).map_err(|_| bad("capability overruns its parameter", coff))?;
                caps.push(Capability::decode(hdr[0], value));
            }
            params.push(OptionalParameter::Capabilities { capabilities: caps });
        }
        Ok(Open { my_as, hold_time, bgp_id, params })
    }

    /// Appends the OPEN body. Uses the RFC 9072 extended encoding only when the
    /// parameters do not fit the normal one.
    pub fn encode_body(&self, out: &mut BytesMut) -> std::result::Result<(), EncodeError> {
        out.put_u8(4);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        // Encode parameter values first to learn their sizes.
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let mut v = BytesMut::new();
            let t = match p {
                OptionalParameter::Capabilities { capabilities } => {
                    for c in capabilities {
                        c.encode(&mut v)?;
                    }
                    PARAM_CAPABILITIES
                }
                OptionalParameter::Unknown { param_type, value } => {
                    v.put_slice(value);
                    *param_type
                }
            };
            values.push((t, v));
        }
        let normal: usize = values.iter().map(|(_, v)| 2 + v.len()).sum();
        let needs_ext = normal > 255 || values.iter().any(|(_, v)| v.len() > 255);
        if !needs_ext {
            out.put_u8(normal as u8);
            for (t, v) in values {
                out.put_u8(t);
                out.put_u8(v.len() as u8);
                out.put_slice(&v);
            }
        } else {
            let ext: usize = values.iter().map(|(_, v)| 3 + v.len()).sum();
            let ext = u16::try_from(ext).map_err(|_| EncodeError::FieldOverflow("optional parameters"))?;
            out.put_u8(255);
            out.put_u8(255);
            out.put_u16(ext);
            for (t, v) in values {
                out.put_u8(t);
                out.put_u16(v.len() as u16);
                out.put_slice(&v);
            }
        }
        Ok(())
    }
}
