//! Messages whose bytes do not depend on the session: KEEPALIVE is one static 19-octet
//! message (RFC 4271 §4.4), and a node's mesh sessions all send the same OPEN, which is
//! encoded once per thread and shared.

use bgp_proto::{EncodeCtx, EncodeError, Message, Open};
use bytes::Bytes;
use std::cell::RefCell;

/// A KEEPALIVE: the marker, length 19, type 4 (RFC 4271 §4.1, §4.4).
static KEEPALIVE: [u8; 19] =
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, 4];

/// How many distinct OPENs a thread keeps encoded.
const OPENS: usize = 8;

thread_local! {
    static CACHE: RefCell<Vec<(Open, Bytes)>> = const { RefCell::new(Vec::new()) };
}

/// The bytes of `m`: shared for KEEPALIVE and for an OPEN sent before, freshly encoded
/// otherwise. (OPEN and KEEPALIVE are encoded the same under every context, RFC 8654
/// §3.)
pub(super) fn encode(m: &Message, ctx: &EncodeCtx) -> Result<Bytes, EncodeError> {
    match m {
        Message::Keepalive => Ok(Bytes::from_static(&KEEPALIVE)),
        Message::Open(o) => {
            if let Some(b) = CACHE.with_borrow(|c| c.iter().find(|(k, _)| k == o).map(|(_, b)| b.clone())) {
                return Ok(b);
            }
            let b = m.to_bytes(ctx)?;
            CACHE.with_borrow_mut(|c| {
                if c.len() == OPENS {
                    c.remove(0);
                }
                c.push((o.clone(), b.clone()));
            });
            Ok(b)
        }
        _ => m.to_bytes(ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_proto::{Capability, DecodeCtx};
    use std::net::Ipv4Addr;

    #[test]
    fn keepalive_is_the_encoded_one() {
        let ctx = EncodeCtx::default();
        assert_eq!(encode(&Message::Keepalive, &ctx).unwrap(), Message::Keepalive.to_bytes(&ctx).unwrap());
    }

    #[test]
    fn opens_are_cached_by_value() {
        let ctx = EncodeCtx::default();
        let a = Open::new(64512, 240, Ipv4Addr::new(198, 18, 0, 1), vec![Capability::RouteRefresh]);
        let b = Open::new(64512, 240, Ipv4Addr::new(198, 18, 0, 2), vec![Capability::RouteRefresh]);
        let (ea, ea2, eb) = (
            encode(&Message::Open(a.clone()), &ctx).unwrap(),
            encode(&Message::Open(a.clone()), &ctx).unwrap(),
            encode(&Message::Open(b.clone()), &ctx).unwrap(),
        );
        assert_eq!(ea.as_ptr(), ea2.as_ptr(), "the second one is the first one's bytes");
        assert_eq!(ea, Message::Open(a.clone()).to_bytes(&ctx).unwrap());
        assert_eq!(eb, Message::Open(b.clone()).to_bytes(&ctx).unwrap());
        assert_ne!(ea, eb);
        let back = Message::decode(&eb, &DecodeCtx::default()).unwrap();
        assert_eq!(back, Message::Open(b));
    }
}
