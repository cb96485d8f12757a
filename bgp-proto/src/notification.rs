//! NOTIFICATION message (RFC 4271 §4.5) with every registered code and subcode, and
//! the shutdown communication of RFC 8203 / RFC 9003.

use crate::error::{code, DecodeError, ErrorKind, Result};
use crate::types::hex_bytes;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
pub mod cease {
    /// Maximum Number of Prefixes Reached.
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown (carries a shutdown communication, RFC 9003).
    pub const ADMIN_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset (carries a shutdown communication, RFC 9003).
    pub const ADMIN_RESET: u8 = 4;
    /// Connection Rejected.
    pub const CONNECTION_REJECTED: u8 = 5;
    /// Other Configuration Change.
    pub const OTHER_CONFIG_CHANGE: u8 = 6;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION: u8 = 7;
    /// Out of Resources.
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// Hard Reset (RFC 8538).
    pub const HARD_RESET: u8 = 9;
    /// BFD Down (RFC 9384).
    pub const BFD_DOWN: u8 = 10;
}

/// FSM Error subcodes (RFC 6608).
pub mod fsm {
    /// Receive Unexpected Message in OpenSent State.
    pub const UNEXPECTED_IN_OPENSENT: u8 = 1;
    /// Receive Unexpected Message in OpenConfirm State.
    pub const UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
    /// Receive Unexpected Message in Established State.
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// A NOTIFICATION message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data.
    #[serde(serialize_with = "hex_bytes")]
    pub data: Bytes,
}

impl Notification {
    /// Builds a NOTIFICATION.
    pub fn new(code: u8, subcode: u8, data: impl Into<Bytes>) -> Self {
        Notification { code, subcode, data: data.into() }
    }

    /// The NOTIFICATION a decode error calls for.
    pub fn from_error(e: &DecodeError) -> Self {
        Notification { code: e.code, subcode: e.subcode, data: e.data.clone() }
    }

    /// Cease with a shutdown communication (RFC 9003 §2): subcode 2 (Administrative
    /// Shutdown) or 4 (Administrative Reset). The message is cut at 255 octets on a
    /// UTF-8 boundary.
    pub fn cease_with_message(subcode: u8, message: &str) -> Self {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut d = BytesMut::with_capacity(end + 1);
        d.put_u8(end as u8);
        d.put_slice(&message.as_bytes()[..end]);
        Notification { code: code::CEASE, subcode, data: d.freeze() }
    }

    /// The shutdown communication (RFC 9003 §2), for Cease 2 and 4 only. `Ok(None)` when
    /// none was sent; an error when the length or the UTF-8 is bad.
    pub fn shutdown_communication(&self) -> Result<Option<String>> {
        if self.code != code::CEASE || !matches!(self.subcode, cease::ADMIN_SHUTDOWN | cease::ADMIN_RESET) {
            return Ok(None);
        }
        let Some((&len, rest)) = self.data.split_first() else { return Ok(None) };
        let bad = || DecodeError::new(ErrorKind::BadShutdownCommunication, 21, 0, 0, Bytes::new());
        if len == 0 {
            return Ok(None);
        }
        let text = rest.get(..len as usize).ok_or_else(bad)?;
        std::str::from_utf8(text).map(|s| Some(s.to_owned())).map_err(|_| bad())
    }

    /// Names of the code and subcode, as the RFCs spell them.
    pub fn describe(&self) -> (&'static str, &'static str) {
        describe(self.code, self.subcode)
    }

    pub(crate) fn decode_body(body: &[u8]) -> Notification {
        // The caller checked the length is at least 21 (body >= 2).
        Notification { code: body[0], subcode: body[1], data: Bytes::copy_from_slice(&body[2..]) }
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        out.put_u8(self.code);
        out.put_u8(self.subcode);
        out.put_slice(&self.data);
    }
}

/// Names a NOTIFICATION code and subcode (IANA "BGP Error (Notification) Codes" and
/// "BGP Error Subcodes").
pub fn describe(code: u8, subcode: u8) -> (&'static str, &'static str) {
    let c = match code {
        1 => "Message Header Error",
        2 => "OPEN Message Error",
        3 => "UPDATE Message Error",
        4 => "Hold Timer Expired",
        5 => "Finite State Machine Error",
        6 => "Cease",
        7 => "ROUTE-REFRESH Message Error",
        _ => "Unknown",
    };
    let s = match (code, subcode) {
        (_, 0) => "Unspecific",
        (1, 1) => "Connection Not Synchronized",
        (1, 2) => "Bad Message Length",
        (1, 3) => "Bad Message Type",
        (2, 1) => "Unsupported Version Number",
        (2, 2) => "Bad Peer AS",
        (2, 3) => "Bad BGP Identifier",
        (2, 4) => "Unsupported Optional Parameter",
        (2, 5) => "Authentication Failure (deprecated)",
        (2, 6) => "Unacceptable Hold Time",
        (2, 7) => "Unsupported Capability",
        (2, 8) => "Grouping Conflict (deprecated)",
        (2, 9) => "Grouping Required (deprecated)",
        (2, 10) => "Capability Value Mismatch (deprecated)",
        (2, 11) => "Role Mismatch",
        (3, 1) => "Malformed Attribute List",
        (3, 2) => "Unrecognized Well-known Attribute",
        (3, 3) => "Missing Well-known Attribute",
        (3, 4) => "Attribute Flags Error",
        (3, 5) => "Attribute Length Error",
        (3, 6) => "Invalid ORIGIN Attribute",
        (3, 7) => "AS Routing Loop (deprecated)",
        (3, 8) => "Invalid NEXT_HOP Attribute",
        (3, 9) => "Optional Attribute Error",
        (3, 10) => "Invalid Network Field",
        (3, 11) => "Malformed AS_PATH",
        (5, 1) => "Receive Unexpected Message in OpenSent State",
        (5, 2) => "Receive Unexpected Message in OpenConfirm State",
        (5, 3) => "Receive Unexpected Message in Established State",
        (6, 1) => "Maximum Number of Prefixes Reached",
        (6, 2) => "Administrative Shutdown",
        (6, 3) => "Peer De-configured",
        (6, 4) => "Administrative Reset",
        (6, 5) => "Connection Rejected",
        (6, 6) => "Other Configuration Change",
        (6, 7) => "Connection Collision Resolution",
        (6, 8) => "Out of Resources",
        (6, 9) => "Hard Reset",
        (6, 10) => "BFD Down",
        (7, 1) => "Invalid Message Length",
        _ => "Unknown",
    };
    (c, s)
}
