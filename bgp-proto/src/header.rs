//! Message framing (RFC 4271 §4.1): the marker, the length and the type. Framing is
//! separate from decoding so that a transport can cut a byte stream into messages
//! without understanding them.

use crate::error::{code, subcode::header as sub, DecodeError, ErrorKind, Result};
use bytes::Bytes;

/// Header length: 16-octet marker, 2-octet length, 1-octet type.
pub const HEADER_LEN: usize = 19;
/// The marker: all ones (RFC 4271 §4.1).
pub const MARKER: [u8; 16] = [0xff; 16];

/// Message type codes.
pub mod msg_type {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A checked message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub length: u16,
    /// Message type.
    pub msg_type: u8,
}

fn bad_length(len: u16) -> DecodeError {
    // RFC 4271 §6.1: the Data field holds the erroneous Length field.
    DecodeError::new(
        ErrorKind::BadLength(len),
        16,
        code::MESSAGE_HEADER,
        sub::BAD_MESSAGE_LENGTH,
        Bytes::copy_from_slice(&len.to_be_bytes()),
    )
}

/// Checks the header at the front of `buf` (at least 19 octets): the marker, and a
/// length between 19 and `max_len`.
pub fn check_header(buf: &[u8], max_len: usize) -> Result<Header> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError::truncated(
            "header",
            HEADER_LEN - buf.len(),
            buf.len(),
            code::MESSAGE_HEADER,
            sub::BAD_MESSAGE_LENGTH,
        ));
    }
    if buf[..16] != MARKER {
        let at = buf[..16].iter().position(|&b| b != 0xff).unwrap_or(0);
        return Err(DecodeError::new(
            ErrorKind::BadMarker,
            at,
            code::MESSAGE_HEADER,
            sub::CONNECTION_NOT_SYNCHRONIZED,
            Bytes::new(),
        ));
    }
    let length = u16::from_be_bytes([buf[16], buf[17]]);
    if (length as usize) < HEADER_LEN || length as usize > max_len {
        return Err(bad_length(length));
    }
    Ok(Header { length, msg_type: buf[18] })
}

/// Finds the first complete message in a receive buffer.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some(len))` when the first `len`
/// octets are one whole message, and an error for a bad marker or length (which the
/// session answers with the NOTIFICATION in the error).
pub fn frame(buf: &[u8], max_len: usize) -> Result<Option<usize>> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let h = check_header(buf, max_len)?;
    Ok((buf.len() >= h.length as usize).then_some(h.length as usize))
}

/// Checks the type-specific minimum and exact lengths (RFC 4271 §6.1, RFC 2918 §3).
pub(crate) fn check_type_length(h: Header) -> Result<()> {
    let len = h.length as usize;
    let ok = match h.msg_type {
        msg_type::OPEN => len >= 29,
        msg_type::UPDATE => len >= 23,
        msg_type::NOTIFICATION => len >= 21,
        msg_type::KEEPALIVE => len == 19,
        msg_type::ROUTE_REFRESH => len >= 23,
        t => {
            // RFC 4271 §6.1: the Data field holds the bad type.
            return Err(DecodeError::new(
                ErrorKind::BadType(t),
                18,
                code::MESSAGE_HEADER,
                sub::BAD_MESSAGE_TYPE,
                Bytes::copy_from_slice(&[t]),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad_length(h.length))
    }
}

/// Writes a header with a zero length at the end of `out` and returns its position, so
/// the length can be filled in with [`finish_header`].
pub(crate) fn start_header(out: &mut bytes::BytesMut, msg_type: u8) -> usize {
    let at = out.len();
    let mut h = [0xff; HEADER_LEN];
    h[16..].copy_from_slice(&[0, 0, msg_type]);
    out.extend_from_slice(&h);
    at
}

/// Fills in the length of the message that starts at `at`.
pub(crate) fn finish_header(out: &mut bytes::BytesMut, at: usize) -> usize {
    let len = out.len() - at;
    let l = (len.min(u16::MAX as usize) as u16).to_be_bytes();
    out[at + 16] = l[0];
    out[at + 17] = l[1];
    len
}
