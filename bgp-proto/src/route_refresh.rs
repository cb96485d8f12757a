//! ROUTE-REFRESH (RFC 2918) with the Enhanced Route Refresh subtypes (RFC 7313).

use crate::error::{code, subcode, DecodeError, ErrorKind, Result};
use crate::types::{hex_bytes, Afi, AfiSafi, Safi};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// The Message Subtype field (RFC 7313 §3.2; reserved octet in RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshSubtype {
    /// 0: a normal route refresh request.
    Request,
    /// 1: Beginning of Route Refresh.
    BeginOfRefresh,
    /// 2: End of Route Refresh.
    EndOfRefresh,
    /// Any other value (RFC 7313 §5: ignored on receipt), kept.
    Other(u8),
}

impl RefreshSubtype {
    fn code(self) -> u8 {
        match self {
            RefreshSubtype::Request => 0,
            RefreshSubtype::BeginOfRefresh => 1,
            RefreshSubtype::EndOfRefresh => 2,
            RefreshSubtype::Other(c) => c,
        }
    }
    fn from_code(c: u8) -> Self {
        match c {
            0 => RefreshSubtype::Request,
            1 => RefreshSubtype::BeginOfRefresh,
            2 => RefreshSubtype::EndOfRefresh,
            c => RefreshSubtype::Other(c),
        }
    }
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RouteRefresh {
    /// The family to refresh.
    pub family: AfiSafi,
    /// Request, BoRR or EoRR.
    pub subtype: RefreshSubtype,
    /// Outbound Route Filter entries (RFC 5291) of a plain request, raw.
    #[serde(serialize_with = "hex_bytes")]
    pub orf: Bytes,
}

impl RouteRefresh {
    /// A plain request for `family`.
    pub fn request(family: AfiSafi) -> Self {
        RouteRefresh { family, subtype: RefreshSubtype::Request, orf: Bytes::new() }
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<RouteRefresh> {
        // The caller checked the message length is at least 23 (body >= 4).
        let subtype = RefreshSubtype::from_code(body[2]);
        // RFC 7313 §5: a BoRR or EoRR whose body is not 4 octets is an error 7/1 with the
        // whole message as data.
        if matches!(subtype, RefreshSubtype::BeginOfRefresh | RefreshSubtype::EndOfRefresh) && body.len() != 4 {
            let len = (body.len() + 19) as u16;
            return Err(DecodeError::new(
                ErrorKind::BadRouteRefreshLength(len),
                23,
                code::ROUTE_REFRESH,
                subcode::route_refresh::INVALID_MESSAGE_LENGTH,
                Bytes::copy_from_slice(body),
            ));
        }
        Ok(RouteRefresh {
            family: AfiSafi::new(Afi(u16::from_be_bytes([body[0], body[1]])), Safi(body[3])),
            subtype,
            orf: Bytes::copy_from_slice(&body[4..]),
        })
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        out.put_u16(self.family.afi.0);
        out.put_u8(self.subtype.code());
        out.put_u8(self.family.safi.0);
        out.put_slice(&self.orf);
    }
}
