//! A whole BGP message: the header plus one of the five message types.

use crate::ctx::{DecodeCtx, EncodeCtx};
use crate::error::{EncodeError, Result};
use crate::header::{check_header, check_type_length, finish_header, msg_type, start_header, HEADER_LEN};
use crate::notification::Notification;
use crate::open::Open;
use crate::route_refresh::RouteRefresh;
use crate::update::Update;
use bytes::{Bytes, BytesMut};
use serde::Serialize;

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "body", rename_all = "kebab-case")]
// `Update` keeps its attributes and a prefix inline (no allocation per decoded UPDATE);
// boxing it to shrink the enum would bring an allocation back.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// OPEN (type 1).
    Open(Open),
    /// UPDATE (type 2).
    Update(Update),
    /// NOTIFICATION (type 3).
    Notification(Notification),
    /// KEEPALIVE (type 4).
    Keepalive,
    /// ROUTE-REFRESH (type 5).
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// Decodes one whole message (header included), as cut by [`crate::frame`].
    ///
    /// The header is checked again against the context's maximum length; trailing bytes
    /// past the header's length are ignored, so pass exactly one message.
    #[inline(always)]
    pub fn decode(msg: &[u8], ctx: &DecodeCtx) -> Result<Message> {
        // The decoded value is written where the caller keeps the `Result`: a `Message`
        // holding an `Update` is a few hundred octets, and returning it from a
        // non-inlined function would copy it from a stack temporary (a `memcpy`).
        let mut r = std::mem::MaybeUninit::uninit();
        Self::decode_to(msg, ctx, &mut r);
        // SAFETY: `decode_to` writes `r` on every path that returns.
        unsafe { r.assume_init() }
    }

    /// [`Message::decode`], written into `out` (always initialised on return).
    #[inline(never)]
    fn decode_to(msg: &[u8], ctx: &DecodeCtx, out: &mut std::mem::MaybeUninit<Result<Message>>) {
        // Fast path for the common case, a well-formed UPDATE header: the same checks as
        // below (marker, length within 23..=max and within `msg`), without building any
        // error on the way.
        if let Some(h) = msg.first_chunk::<HEADER_LEN>() {
            let len = u16::from_be_bytes([h[16], h[17]]) as usize;
            if h[18] == msg_type::UPDATE
                && h[..16] == crate::header::MARKER
                && (23..=ctx.max_message_len()).contains(&len)
                && msg.len() >= len
            {
                // Built in place: a move of the decoded UPDATE would be a `memcpy`.
                let r = out.write(Ok(Message::Update(Update::default())));
                if let Ok(Message::Update(u)) = r {
                    if let Err(e) = Update::decode_body_into(&msg[HEADER_LEN..len], ctx, u) {
                        *r = Err(e);
                    }
                }
                return;
            }
        }
        out.write(Self::decode_checked(msg, ctx));
    }

    /// [`Message::decode`] for every other case, with the header errors.
    fn decode_checked(msg: &[u8], ctx: &DecodeCtx) -> Result<Message> {
        let h = check_header(msg, ctx.max_message_len())?;
        if msg.len() < h.length as usize {
            return Err(crate::error::DecodeError::truncated(
                "message",
                h.length as usize - msg.len(),
                msg.len(),
                crate::error::code::MESSAGE_HEADER,
                crate::error::subcode::header::BAD_MESSAGE_LENGTH,
            ));
        }
        check_type_length(h)?;
        // RFC 8654 §3: OPEN and KEEPALIVE are never extended.
        if h.msg_type == msg_type::OPEN && h.length as usize > crate::ctx::MAX_MESSAGE_LEN {
            return Err(crate::error::DecodeError::new(
                crate::error::ErrorKind::BadLength(h.length),
                16,
                crate::error::code::MESSAGE_HEADER,
                crate::error::subcode::header::BAD_MESSAGE_LENGTH,
                Bytes::copy_from_slice(&h.length.to_be_bytes()),
            ));
        }
        let body = &msg[HEADER_LEN..h.length as usize];
        Ok(match h.msg_type {
            msg_type::OPEN => Message::Open(Open::decode_body(body)?),
            msg_type::UPDATE => Message::Update(Update::decode_body(body, ctx)?),
            msg_type::NOTIFICATION => Message::Notification(Notification::decode_body(body)),
            msg_type::KEEPALIVE => Message::Keepalive,
            _ => Message::RouteRefresh(RouteRefresh::decode_body(body).map_err(|mut e| {
                // RFC 7313 §5: the data is the complete ROUTE-REFRESH message.
                e.data = Bytes::copy_from_slice(&msg[..h.length as usize]);
                e
            })?),
        })
    }

    /// The message type code.
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Open(_) => msg_type::OPEN,
            Message::Update(_) => msg_type::UPDATE,
            Message::Notification(_) => msg_type::NOTIFICATION,
            Message::Keepalive => msg_type::KEEPALIVE,
            Message::RouteRefresh(_) => msg_type::ROUTE_REFRESH,
        }
    }

    /// Appends the whole message to `out`. Fails, leaving `out` as it was, when the
    /// message would exceed the context's maximum length.
    #[inline]
    pub fn encode(&self, ctx: &EncodeCtx, out: &mut BytesMut) -> std::result::Result<usize, EncodeError> {
        if let Message::Update(u) = self {
            // Small UPDATEs in one pass, straight into `out`; the rest in the general
            // encoder, kept out of line so the small path does not pay its frame.
            if let Some(n) = crate::update_small::encode(u, ctx, out) {
                return Ok(n);
            }
        }
        self.encode_general(ctx, out)
    }

    #[inline(never)]
    fn encode_general(&self, ctx: &EncodeCtx, out: &mut BytesMut) -> std::result::Result<usize, EncodeError> {
        let start = out.len();
        let at = start_header(out, self.msg_type());
        let r = match self {
            Message::Open(o) => o.encode_body(out),
            Message::Update(u) => u.encode_body(ctx, out),
            Message::Notification(n) => {
                n.encode_body(out);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(r) => {
                r.encode_body(out);
                Ok(())
            }
        };
        if let Err(e) = r {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start;
        // RFC 8654 §3: "The BGP Extended Message Capability applies to all messages
        // except for OPEN and KEEPALIVE messages"; those stay within 4096, NOTIFICATION
        // and the others use the negotiated limit.
        let max = match self {
            Message::Open(_) | Message::Keepalive => crate::ctx::MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        if len > max {
            out.truncate(start);
            return Err(EncodeError::TooLong { len, max });
        }
        Ok(finish_header(out, at))
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self, ctx: &EncodeCtx) -> std::result::Result<Bytes, EncodeError> {
        let mut b = BytesMut::with_capacity(64);
        self.encode(ctx, &mut b)?;
        Ok(b.freeze())
    }
}
