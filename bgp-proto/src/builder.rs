//! UPDATE packing: as many prefixes per message as the negotiated size allows, with the
//! attributes encoded once and copied into each message.

use crate::attr::{encode_attribute, flags, type_code, Attribute, NextHop};
use crate::ctx::EncodeCtx;
use crate::error::EncodeError;
use crate::header::{finish_header, msg_type, start_header, HEADER_LEN};
use crate::nlri::{encode_fit, Nlri, Prefix};
use crate::types::AfiSafi;
use bytes::{BufMut, BytesMut};
use ipnet::{Ipv4Net, Ipv6Net};

/// Prefixes of one family, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Prefixes<'a> {
    /// IPv4 prefixes.
    V4(&'a [Nlri<Ipv4Net>]),
    /// IPv6 prefixes.
    V6(&'a [Nlri<Ipv6Net>]),
}

/// Packs prefixes into UPDATE messages under a session's [`EncodeCtx`].
///
/// Every method appends whole messages to `out` and returns how many it wrote. The
/// shared attributes are encoded once; MP_REACH_NLRI / MP_UNREACH_NLRI go first in
/// each message (RFC 7606 §5.1).
#[derive(Debug, Clone)]
pub struct UpdateBuilder {
    ctx: EncodeCtx,
}

impl UpdateBuilder {
    /// A builder for a session.
    pub fn new(ctx: EncodeCtx) -> Self {
        UpdateBuilder { ctx }
    }

    /// The session context.
    pub fn ctx(&self) -> &EncodeCtx {
        &self.ctx
    }

    fn encode_attrs(&self, attrs: &[Attribute]) -> Result<BytesMut, EncodeError> {
        let mut b = BytesMut::with_capacity(64);
        for a in attrs {
            if matches!(a.type_code(), type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI) {
                continue;
            }
            encode_attribute(a, &self.ctx, &mut b)?;
        }
        Ok(b)
    }

    /// Announces IPv4 unicast prefixes in the NLRI field; `attrs` must hold NEXT_HOP.
    pub fn announce_v4(
        &self,
        attrs: &[Attribute],
        nlri: &[Nlri<Ipv4Net>],
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let a = self.encode_attrs(attrs)?;
        let add = self.ctx.add_path(AfiSafi::IPV4_UNICAST);
        let max = self.ctx.max_message_len();
        let fixed = HEADER_LEN + 4 + a.len();
        if fixed >= max {
            return Err(EncodeError::TooLong { len: fixed, max });
        }
        let mut count = 0;
        let mut rest = nlri;
        while !rest.is_empty() {
            let at = start_header(out, msg_type::UPDATE);
            out.put_u16(0);
            out.put_u16(a.len() as u16);
            out.put_slice(&a);
            let n = pack(rest, add, max - fixed, out, at, max)?;
            rest = &rest[n..];
            finish_header(out, at);
            count += 1;
        }
        Ok(count)
    }

    /// Withdraws IPv4 unicast prefixes in the Withdrawn Routes field.
    pub fn withdraw_v4(&self, nlri: &[Nlri<Ipv4Net>], out: &mut BytesMut) -> Result<usize, EncodeError> {
        let add = self.ctx.add_path(AfiSafi::IPV4_UNICAST);
        let max = self.ctx.max_message_len();
        let mut count = 0;
        let mut rest = nlri;
        while !rest.is_empty() {
            let at = start_header(out, msg_type::UPDATE);
            let wl_at = out.len();
            out.put_u16(0);
            let n = pack(rest, add, max - HEADER_LEN - 4, out, at, max)?;
            let wl = (out.len() - wl_at - 2) as u16;
            out[wl_at..wl_at + 2].copy_from_slice(&wl.to_be_bytes());
            out.put_u16(0);
            rest = &rest[n..];
            finish_header(out, at);
            count += 1;
        }
        Ok(count)
    }

    /// Announces prefixes of `family` in MP_REACH_NLRI with `next_hop`, plus `attrs`
    /// (any MP attributes among them are ignored).
    pub fn announce_mp(
        &self,
        attrs: &[Attribute],
        family: AfiSafi,
        next_hop: &NextHop,
        prefixes: Prefixes<'_>,
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let a = self.encode_attrs(attrs)?;
        let mut nh = BytesMut::new();
        match next_hop {
            NextHop::V4(x) => nh.put_slice(&x.octets()),
            NextHop::V6 { global, link_local } => {
                nh.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    nh.put_slice(&ll.octets());
                }
            }
            NextHop::Raw(b) => nh.put_slice(b),
        }
        // MP_REACH: flags, type, 2-octet length, AFI, SAFI, NH len, NH, reserved.
        let mp_fixed = 4 + 3 + 1 + nh.len() + 1;
        self.mp_messages(
            &a,
            mp_fixed,
            family,
            prefixes,
            out,
            |out| {
                out.put_u8(nh.len() as u8);
                out.put_slice(&nh);
                out.put_u8(0);
            },
            type_code::MP_REACH_NLRI,
        )
    }

    /// Withdraws prefixes of `family` in MP_UNREACH_NLRI.
    pub fn withdraw_mp(
        &self,
        family: AfiSafi,
        prefixes: Prefixes<'_>,
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        self.mp_messages(&[], 4 + 3, family, prefixes, out, |_| {}, type_code::MP_UNREACH_NLRI)
    }

    #[allow(clippy::too_many_arguments)]
    fn mp_messages(
        &self,
        attrs: &[u8],
        mp_fixed: usize,
        family: AfiSafi,
        prefixes: Prefixes<'_>,
        out: &mut BytesMut,
        mp_head: impl Fn(&mut BytesMut),
        mp_type: u8,
    ) -> Result<usize, EncodeError> {
        let add = self.ctx.add_path(family);
        let max = self.ctx.max_message_len();
        let fixed = HEADER_LEN + 4 + mp_fixed + attrs.len();
        if fixed >= max {
            return Err(EncodeError::TooLong { len: fixed, max });
        }
        let room0 = max - fixed;
        let mut count = 0;
        match prefixes {
            Prefixes::V4(v) => self.mp_loop(v, add, room0, attrs, family, out, &mp_head, mp_type, &mut count)?,
            Prefixes::V6(v) => self.mp_loop(v, add, room0, attrs, family, out, &mp_head, mp_type, &mut count)?,
        }
        Ok(count)
    }

    #[allow(clippy::too_many_arguments)]
    fn mp_loop<P: Prefix>(
        &self,
        v: &[Nlri<P>],
        add: bool,
        room0: usize,
        attrs: &[u8],
        family: AfiSafi,
        out: &mut BytesMut,
        mp_head: &impl Fn(&mut BytesMut),
        mp_type: u8,
        count: &mut usize,
    ) -> Result<(), EncodeError> {
        let max = self.ctx.max_message_len();
        let mut rest = v;
        while !rest.is_empty() {
            let at = start_header(out, msg_type::UPDATE);
            out.put_u16(0);
            let alen_at = out.len();
            out.put_u16(0);
            // The MP attribute always uses the extended length (its size is only known
            // after packing), then the shared attributes follow.
            out.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
            out.put_u8(mp_type);
            let mlen_at = out.len();
            out.put_u16(0);
            out.put_u16(family.afi.0);
            out.put_u8(family.safi.0);
            mp_head(out);
            let n = pack(rest, add, room0, out, at, max)?;
            let mlen = (out.len() - mlen_at - 2) as u16;
            out[mlen_at..mlen_at + 2].copy_from_slice(&mlen.to_be_bytes());
            out.put_slice(attrs);
            let alen = (out.len() - alen_at - 2) as u16;
            out[alen_at..alen_at + 2].copy_from_slice(&alen.to_be_bytes());
            rest = &rest[n..];
            finish_header(out, at);
            *count += 1;
        }
        Ok(())
    }
}

/// Packs as many of `rest` as fit in `room` octets after the message started at `at`.
/// Refuses, leaving nothing of the message, when not even one fits beside the shared
/// attributes (otherwise the callers would emit empty UPDATEs forever).
fn pack<P: Prefix>(
    rest: &[Nlri<P>],
    add: bool,
    room: usize,
    out: &mut BytesMut,
    at: usize,
    max: usize,
) -> Result<usize, EncodeError> {
    let (n, _) = encode_fit(rest, add, room, out);
    if n == 0 {
        out.truncate(at);
        return Err(EncodeError::TooLong { len: max + 1, max });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AttrValue, Attribute};
    use bytes::Bytes;

    #[test]
    fn refuses_when_no_prefix_fits_instead_of_looping() {
        // Shared attributes that leave room for the header but not for one prefix.
        let b = UpdateBuilder::new(EncodeCtx::default());
        let big =
            Attribute::new(AttrValue::Unknown { type_code: 200, data: Bytes::from(vec![0u8; 4096 - 19 - 4 - 4 - 2]) });
        let mut out = BytesMut::new();
        let p = [Nlri::new("10.0.0.0/24".parse().unwrap())];
        assert!(matches!(b.announce_v4(std::slice::from_ref(&big), &p, &mut out), Err(EncodeError::TooLong { .. })));
        assert!(out.is_empty(), "nothing half-written");
        let p6 = [Nlri::new("2001:db8::/32".parse().unwrap())];
        let nh = NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None };
        let r = b.announce_mp(&[big], AfiSafi::IPV6_UNICAST, &nh, Prefixes::V6(&p6), &mut out);
        assert!(matches!(r, Err(EncodeError::TooLong { .. })), "{r:?}");
        assert!(out.is_empty(), "nothing half-written");
    }
}
