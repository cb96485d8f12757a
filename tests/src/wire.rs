//! Hand-built BGP messages and a frame walker. Deliberately no codec: just enough to
//! run a raw-TCP responder against real daemons and to sanity-check recorded streams.

use std::io::{self, Read};
use std::net::Ipv4Addr;

/// Message type OPEN.
pub const OPEN: u8 = 1;
/// Message type UPDATE.
pub const UPDATE: u8 = 2;
/// Message type NOTIFICATION.
pub const NOTIFICATION: u8 = 3;
/// Message type KEEPALIVE.
pub const KEEPALIVE: u8 = 4;
/// Message type ROUTE-REFRESH.
pub const ROUTE_REFRESH: u8 = 5;

/// AS_TRANS (RFC 6793), put in the 2-octet OPEN field when the AS does not fit.
pub const AS_TRANS: u16 = 23456;

/// Wraps `body` in a BGP header (marker, length, type).
pub fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = 19 + body.len();
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// A KEEPALIVE.
pub fn keepalive() -> Vec<u8> {
    message(KEEPALIVE, &[])
}

/// A ROUTE-REFRESH (RFC 2918; `subtype` 0 = request, 1 = BoRR, 2 = EoRR per RFC 7313).
pub fn route_refresh(afi: u16, safi: u8, subtype: u8) -> Vec<u8> {
    let mut b = afi.to_be_bytes().to_vec();
    b.push(subtype);
    b.push(safi);
    message(ROUTE_REFRESH, &b)
}

/// A NOTIFICATION with the given code, subcode and data.
pub fn notification(code: u8, subcode: u8, data: &[u8]) -> Vec<u8> {
    let mut b = vec![code, subcode];
    b.extend_from_slice(data);
    message(NOTIFICATION, &b)
}

/// What our hand-built OPEN offers.
#[derive(Debug, Clone)]
pub struct OpenParams {
    /// Our AS (AS_TRANS goes in the 2-octet field when it does not fit).
    pub asn: u32,
    /// Hold time, seconds.
    pub hold: u16,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Offer ADD-PATH send/receive for IPv4 and IPv6 unicast.
    pub add_path: bool,
    /// Offer the extended message capability (RFC 8654).
    pub extended_message: bool,
    /// Offer enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
}

/// Builds an OPEN: version 4, with one optional parameter holding the capabilities MP
/// 1/1 and 2/1, route refresh (2), enhanced route refresh (70, if asked), 4-octet AS (65),
/// graceful restart (64, 120 s, both families), ADD-PATH (69, send/receive both
/// families, if asked) and extended message (6, if asked).
pub fn open(p: &OpenParams) -> Vec<u8> {
    let mut caps: Vec<u8> = vec![];
    let mut cap = |code: u8, val: &[u8]| {
        caps.push(code);
        caps.push(val.len() as u8);
        caps.extend_from_slice(val);
    };
    cap(1, &[0, 1, 0, 1]);
    cap(1, &[0, 2, 0, 1]);
    cap(2, &[]);
    if p.enhanced_route_refresh {
        cap(70, &[]);
    }
    cap(65, &p.asn.to_be_bytes());
    // Restart flags 0, restart time 120; per family: AFI, SAFI, flags 0.
    cap(64, &[0x00, 120, 0, 1, 1, 0, 0, 2, 1, 0]);
    if p.add_path {
        cap(69, &[0, 1, 1, 3, 0, 2, 1, 3]);
    }
    if p.extended_message {
        cap(6, &[]);
    }
    let my_as = u16::try_from(p.asn).unwrap_or(AS_TRANS);
    let mut b = vec![4];
    b.extend_from_slice(&my_as.to_be_bytes());
    b.extend_from_slice(&p.hold.to_be_bytes());
    b.extend_from_slice(&p.router_id.octets());
    b.push(caps.len() as u8 + 2);
    b.push(2);
    b.push(caps.len() as u8);
    b.extend_from_slice(&caps);
    message(OPEN, &b)
}

/// Reads one whole message (header included) from `r`.
pub fn read_message(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut hdr = [0u8; 19];
    r.read_exact(&mut hdr)?;
    if hdr[..16] != [0xff; 16] {
        return Err(io::Error::other("bad BGP marker"));
    }
    let len = u16::from_be_bytes([hdr[16], hdr[17]]) as usize;
    if len < 19 {
        return Err(io::Error::other(format!("bad BGP length {len}")));
    }
    let mut m = hdr.to_vec();
    m.resize(len, 0);
    r.read_exact(&mut m[19..])?;
    Ok(m)
}

/// One message found by [`frames`].
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Offset of the message in the stream.
    pub offset: usize,
    /// Message type.
    pub kind: u8,
    /// The whole message, header included.
    pub bytes: &'a [u8],
}

impl Frame<'_> {
    /// The message body (after the 19-byte header).
    pub fn body(&self) -> &[u8] {
        &self.bytes[19..]
    }
}

/// Splits a raw stream into messages, checking the marker, the length (19..=`max_len`)
/// and the type (1..=5). The stream must end on a message boundary.
pub fn frames(buf: &[u8], max_len: usize) -> Result<Vec<Frame<'_>>, String> {
    let mut out = vec![];
    let mut off = 0;
    while off < buf.len() {
        if buf.len() - off < 19 {
            return Err(format!("truncated header at {off}"));
        }
        if buf[off..off + 16] != [0xff; 16] {
            return Err(format!("bad marker at {off}"));
        }
        let len = u16::from_be_bytes([buf[off + 16], buf[off + 17]]) as usize;
        if !(19..=max_len).contains(&len) {
            return Err(format!("bad length {len} at {off}"));
        }
        let kind = buf[off + 18];
        if !(1..=5).contains(&kind) {
            return Err(format!("bad type {kind} at {off}"));
        }
        if off + len > buf.len() {
            return Err(format!("truncated message at {off}"));
        }
        out.push(Frame { offset: off, kind, bytes: &buf[off..off + len] });
        off += len;
    }
    Ok(out)
}

/// The parts of a peer's OPEN that matter for decoding its stream.
#[derive(Debug, Clone, Default)]
pub struct PeerOpen {
    /// The 2-octet My AS field.
    pub my_as: u16,
    /// Hold time.
    pub hold: u16,
    /// BGP identifier.
    pub router_id: Option<Ipv4Addr>,
    /// All capabilities, as (code, value), in order.
    pub caps: Vec<(u8, Vec<u8>)>,
}

impl PeerOpen {
    /// True if capability `code` is present.
    pub fn has(&self, code: u8) -> bool {
        self.caps.iter().any(|(c, _)| *c == code)
    }

    /// The 4-octet AS from capability 65, if present.
    pub fn as4(&self) -> Option<u32> {
        self.caps
            .iter()
            .find(|(c, v)| *c == 65 && v.len() == 4)
            .map(|(_, v)| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }

    /// ADD-PATH entries as (AFI, SAFI, send/receive: 1 = receive, 2 = send, 3 = both).
    pub fn add_path(&self) -> Vec<(u16, u8, u8)> {
        let mut out = vec![];
        for (_, v) in self.caps.iter().filter(|(c, _)| *c == 69) {
            for e in v.chunks_exact(4) {
                out.push((u16::from_be_bytes([e[0], e[1]]), e[2], e[3]));
            }
        }
        out
    }

    /// Multiprotocol families as (AFI, SAFI).
    pub fn families(&self) -> Vec<(u16, u8)> {
        self.caps
            .iter()
            .filter(|(c, v)| *c == 1 && v.len() == 4)
            .map(|(_, v)| (u16::from_be_bytes([v[0], v[1]]), v[3]))
            .collect()
    }
}

/// Parses an OPEN message (header included). Supports RFC 9072 extended parameters.
pub fn parse_open(msg: &[u8]) -> Option<PeerOpen> {
    if msg.len() < 29 || msg[18] != OPEN {
        return None;
    }
    let b = &msg[19..];
    let mut o = PeerOpen {
        my_as: u16::from_be_bytes([b[1], b[2]]),
        hold: u16::from_be_bytes([b[3], b[4]]),
        router_id: Some(Ipv4Addr::new(b[5], b[6], b[7], b[8])),
        caps: vec![],
    };
    let (mut p, ext) = if b[9] == 255 && b.get(10) == Some(&255) { (&b[13..], true) } else { (&b[10..], false) };
    while !p.is_empty() {
        let ptype = p[0];
        let (plen, hl) =
            if ext { (u16::from_be_bytes([*p.get(1)?, *p.get(2)?]) as usize, 3) } else { (*p.get(1)? as usize, 2) };
        let val = p.get(hl..hl + plen)?;
        if ptype == 2 {
            let mut c = val;
            while c.len() >= 2 {
                let (code, len) = (c[0], c[1] as usize);
                o.caps.push((code, c.get(2..2 + len)?.to_vec()));
                c = &c[2 + len..];
            }
        }
        p = &p[hl + plen..];
    }
    Some(o)
}

/// A rough look inside an UPDATE (no attribute decoding beyond type codes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateInfo {
    /// Length of the IPv4 withdrawn-routes field.
    pub withdrawn_len: usize,
    /// Path attribute type codes, in order.
    pub attrs: Vec<u8>,
    /// Length of the trailing IPv4 NLRI field.
    pub nlri_len: usize,
    /// MP_REACH_NLRI's (AFI, SAFI), if present.
    pub mp_reach: Option<(u16, u8)>,
    /// MP_UNREACH_NLRI's (AFI, SAFI, withdrawn bytes), if present.
    pub mp_unreach: Option<(u16, u8, usize)>,
}

impl UpdateInfo {
    /// End-of-RIB marker (RFC 4724): its (AFI, SAFI), if this UPDATE is one.
    pub fn end_of_rib(&self) -> Option<(u16, u8)> {
        if self.withdrawn_len == 0 && self.nlri_len == 0 {
            if self.attrs.is_empty() {
                return Some((1, 1));
            }
            if self.attrs == [15] {
                if let Some((afi, safi, 0)) = self.mp_unreach {
                    return Some((afi, safi));
                }
            }
        }
        None
    }

    /// True if the UPDATE withdraws anything (IPv4 field or MP_UNREACH with prefixes).
    pub fn withdraws(&self) -> bool {
        self.withdrawn_len > 0 || matches!(self.mp_unreach, Some((_, _, n)) if n > 0)
    }

    /// True if the UPDATE announces anything.
    pub fn announces(&self) -> bool {
        self.nlri_len > 0 || self.mp_reach.is_some()
    }
}

/// Looks inside an UPDATE message (header included); `None` if not a well-formed one.
pub fn update_info(msg: &[u8]) -> Option<UpdateInfo> {
    if msg.len() < 23 || msg[18] != UPDATE {
        return None;
    }
    let b = &msg[19..];
    let wl = u16::from_be_bytes([b[0], b[1]]) as usize;
    let al = u16::from_be_bytes([*b.get(2 + wl)?, *b.get(3 + wl)?]) as usize;
    let mut attrs = b.get(4 + wl..4 + wl + al)?;
    let nlri_len = b.len() - 4 - wl - al;
    let mut info = UpdateInfo { withdrawn_len: wl, nlri_len, ..Default::default() };
    while attrs.len() >= 3 {
        let (flags, code) = (attrs[0], attrs[1]);
        let (len, hl) = if flags & 0x10 != 0 {
            (u16::from_be_bytes([attrs[2], *attrs.get(3)?]) as usize, 4)
        } else {
            (attrs[2] as usize, 3)
        };
        let val = attrs.get(hl..hl + len)?;
        info.attrs.push(code);
        if code == 14 && val.len() >= 3 {
            info.mp_reach = Some((u16::from_be_bytes([val[0], val[1]]), val[2]));
        }
        if code == 15 && val.len() >= 3 {
            info.mp_unreach = Some((u16::from_be_bytes([val[0], val[1]]), val[2], val.len() - 3));
        }
        attrs = &attrs[hl + len..];
    }
    Some(info)
}

/// A one-word label per message: `OPEN`, `KEEPALIVE`, `UPDATE`, `EOR(1/1)`,
/// `WITHDRAW`, `NOTIFICATION(6/2)`, `ROUTE-REFRESH(1/1/0)`, ...
pub fn label(f: &Frame<'_>) -> String {
    let b = f.body();
    match f.kind {
        OPEN => "OPEN".into(),
        KEEPALIVE => "KEEPALIVE".into(),
        NOTIFICATION => format!("NOTIFICATION({}/{})", b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)),
        ROUTE_REFRESH if b.len() >= 4 => {
            format!("ROUTE-REFRESH({}/{}/{})", u16::from_be_bytes([b[0], b[1]]), b[3], b[2])
        }
        UPDATE => match update_info(f.bytes) {
            Some(u) => match u.end_of_rib() {
                Some((afi, safi)) => format!("EOR({afi}/{safi})"),
                None if u.withdraws() && !u.announces() => "WITHDRAW".into(),
                None => "UPDATE".into(),
            },
            None => "UPDATE(malformed)".into(),
        },
        k => format!("TYPE{k}"),
    }
}

/// Labels every message of a stream (see [`label`]).
pub fn labels(buf: &[u8], max_len: usize) -> Result<Vec<String>, String> {
    Ok(frames(buf, max_len)?.iter().map(label).collect())
}
