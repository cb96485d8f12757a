//! rtnetlink wire format: the few messages the sync writes and reads, hand-encoded.
//!
//! Route requests are on the hot path (a million per burst), so they are written
//! straight into one send buffer with no per-message allocation. The unit tests check
//! the encoding against `netlink-packet-route`'s parser.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::spec::{Hop, Spec};

pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_GETLINK: u16 = 18;
pub(crate) const RTM_NEWADDR: u16 = 20;
pub(crate) const RTM_DELADDR: u16 = 21;
pub(crate) const RTM_GETADDR: u16 = 22;
pub(crate) const RTM_NEWROUTE: u16 = 24;
pub(crate) const RTM_DELROUTE: u16 = 25;
pub(crate) const RTM_GETROUTE: u16 = 26;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLM_F_REPLACE: u16 = 0x100;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

pub(crate) const RTN_UNICAST: u8 = 1;
pub(crate) const RTN_BLACKHOLE: u8 = 6;
pub(crate) const RTN_UNREACHABLE: u8 = 7;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_NOWHERE: u8 = 255;
const RTNH_F_ONLINK: u8 = 4;
const RTM_F_CLONED: u32 = 0x200;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x10000;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

/// A route read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KRoute {
    pub table: u32,
    pub prefix: IpNet,
    pub metric: u32,
    pub protocol: u8,
    pub rtype: u8,
    pub spec: Spec,
    /// Output interface of a single-path route (0 if none).
    pub oif: u32,
    /// A gateway-less unicast route (`dev X scope link`).
    pub device_route: bool,
}

/// An interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KLink {
    pub index: u32,
    pub name: String,
    /// Administratively up and carrier present.
    pub up: bool,
}

/// An interface address, as its connected subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KAddr {
    pub index: u32,
    pub net: IpNet,
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    NewRoute(KRoute),
    DelRoute(KRoute),
    NewLink(KLink),
    DelLink(KLink),
    NewAddr(KAddr),
    DelAddr(KAddr),
    /// Ack (errno 0) or error (positive errno) for request `seq`.
    Ack {
        errno: i32,
        reason: Option<String>,
    },
    Done,
    /// Something we do not use (or a cloned/cache route).
    Ignored,
}

/// The netlink header of one message in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub len: usize,
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

/// Split a receive buffer into (header, payload) pairs.
pub(crate) fn messages(mut buf: &[u8]) -> impl Iterator<Item = (Header, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return None;
        }
        let h = Header {
            len,
            kind: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes(buf[8..12].try_into().ok()?),
            pid: u32::from_ne_bytes(buf[12..16].try_into().ok()?),
        };
        let payload = &buf[NLMSG_HDRLEN..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((h, payload))
    })
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            return None;
        }
        let v = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((kind, v))
    })
}

fn u32_of(v: &[u8]) -> u32 {
    v.get(0..4).map(|b| u32::from_ne_bytes(b.try_into().unwrap())).unwrap_or(0)
}

fn addr_of(family: u8, v: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET if v.len() >= 4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        AF_INET6 if v.len() >= 16 => {
            let b: [u8; 16] = v[0..16].try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Decode one message.
pub(crate) fn decode(h: &Header, p: &[u8]) -> Msg {
    match h.kind {
        NLMSG_DONE => Msg::Done,
        NLMSG_ERROR => decode_error(h, p),
        RTM_NEWROUTE | RTM_DELROUTE => match decode_route(p) {
            Some(r) if h.kind == RTM_NEWROUTE => Msg::NewRoute(r),
            Some(r) => Msg::DelRoute(r),
            None => Msg::Ignored,
        },
        RTM_NEWLINK | RTM_DELLINK => match decode_link(p) {
            Some(l) if h.kind == RTM_NEWLINK => Msg::NewLink(l),
            Some(l) => Msg::DelLink(l),
            None => Msg::Ignored,
        },
        RTM_NEWADDR | RTM_DELADDR => match decode_addr(p) {
            Some(a) if h.kind == RTM_NEWADDR => Msg::NewAddr(a),
            Some(a) => Msg::DelAddr(a),
            None => Msg::Ignored,
        },
        _ => Msg::Ignored,
    }
}

fn decode_error(h: &Header, p: &[u8]) -> Msg {
    if p.len() < 4 {
        return Msg::Ignored;
    }
    let err = i32::from_ne_bytes(p[0..4].try_into().unwrap());
    let mut reason = None;
    if h.flags & NLM_F_ACK_TLVS != 0 && p.len() >= 4 + NLMSG_HDRLEN {
        let orig_len = u32::from_ne_bytes(p[4..8].try_into().unwrap()) as usize;
        let tlv_start = if h.flags & NLM_F_CAPPED != 0 { 4 + NLMSG_HDRLEN } else { 4 + align(orig_len) };
        if let Some(tlvs) = p.get(tlv_start..) {
            for (k, v) in attrs(tlvs) {
                if k == NLMSGERR_ATTR_MSG {
                    let s = v.split(|&b| b == 0).next().unwrap_or(&[]);
                    reason = Some(String::from_utf8_lossy(s).into_owned());
                }
            }
        }
    }
    Msg::Ack { errno: -err, reason }
}

fn decode_route(p: &[u8]) -> Option<KRoute> {
    if p.len() < 12 {
        return None;
    }
    let family = p[0];
    let dst_len = p[1];
    let mut table = p[4] as u32;
    let protocol = p[5];
    let rtype = p[7];
    let flags = u32::from_ne_bytes(p[8..12].try_into().ok()?);
    if flags & RTM_F_CLONED != 0 || (family != AF_INET && family != AF_INET6) {
        return None;
    }
    let mut dst = None;
    let mut gw = None;
    let mut oif = 0;
    let mut metric = 0;
    let mut hops = Vec::new();
    for (k, v) in attrs(&p[12..]) {
        match k {
            RTA_DST => dst = addr_of(family, v),
            RTA_GATEWAY => gw = addr_of(family, v),
            RTA_OIF => oif = u32_of(v),
            RTA_PRIORITY => metric = u32_of(v),
            RTA_TABLE => table = u32_of(v),
            RTA_MULTIPATH => hops = decode_multipath(family, v),
            _ => {}
        }
    }
    let dst = dst.unwrap_or(match family {
        AF_INET => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let prefix = IpNet::new(dst, dst_len).ok()?;
    let onlink = (flags & RTNH_F_ONLINK as u32) != 0;
    let mut device_route = false;
    let spec = match rtype {
        RTN_BLACKHOLE => Spec::Blackhole,
        RTN_UNREACHABLE => Spec::Unreachable,
        RTN_UNICAST if !hops.is_empty() => Spec::unicast(hops),
        RTN_UNICAST => match gw {
            Some(gw) => Spec::unicast(vec![Hop { gw, oif, onlink, weight: 1 }]),
            None => {
                device_route = true;
                Spec::Other
            }
        },
        _ => Spec::Other,
    };
    Some(KRoute { table, prefix, metric, protocol, rtype, spec, oif, device_route })
}

fn decode_multipath(family: u8, mut v: &[u8]) -> Vec<Hop> {
    let mut hops = Vec::new();
    while v.len() >= 8 {
        let len = u16::from_ne_bytes([v[0], v[1]]) as usize;
        if len < 8 || len > v.len() {
            break;
        }
        let flags = v[2];
        let weight = v[3] as u16 + 1;
        let oif = u32::from_ne_bytes(v[4..8].try_into().unwrap());
        let gw = attrs(&v[8..len]).find(|(k, _)| *k == RTA_GATEWAY).and_then(|(_, a)| addr_of(family, a));
        if let Some(gw) = gw {
            hops.push(Hop { gw, oif, onlink: flags & RTNH_F_ONLINK != 0, weight });
        }
        v = &v[align(len).min(v.len())..];
    }
    hops
}

fn decode_link(p: &[u8]) -> Option<KLink> {
    if p.len() < 16 {
        return None;
    }
    let index = u32::from_ne_bytes(p[4..8].try_into().ok()?);
    let flags = u32::from_ne_bytes(p[8..12].try_into().ok()?);
    let name = attrs(&p[16..])
        .find(|(k, _)| *k == IFLA_IFNAME)
        .map(|(_, v)| {
            let s = v.split(|&b| b == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(s).into_owned()
        })
        .unwrap_or_default();
    Some(KLink { index, name, up: flags & IFF_UP != 0 && flags & IFF_LOWER_UP != 0 })
}

fn decode_addr(p: &[u8]) -> Option<KAddr> {
    if p.len() < 8 {
        return None;
    }
    let family = p[0];
    let plen = p[1];
    let index = u32::from_ne_bytes(p[4..8].try_into().ok()?);
    let (mut address, mut local) = (None, None);
    for (k, v) in attrs(&p[8..]) {
        match k {
            IFA_ADDRESS => address = addr_of(family, v),
            IFA_LOCAL => local = addr_of(family, v),
            _ => {}
        }
    }
    // For IPv4, IFA_LOCAL is the interface's own address and IFA_ADDRESS the peer on a
    // point-to-point link; the subnet is the one of the local address.
    let a = local.or(address)?;
    Some(KAddr { index, net: IpNet::new(a, plen).ok()?.trunc() })
}

/// Appends messages to a send buffer.
pub(crate) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Writer<'a> {
    fn begin(buf: &'a mut Vec<u8>, kind: u16, flags: u16, seq: u32) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        Writer { buf, start }
    }

    fn attr(&mut self, kind: u16, v: &[u8]) {
        let len = 4 + v.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(v);
        self.pad();
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn finish(self) {
        let len = (self.buf.len() - self.start) as u32;
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn family_of(p: &IpNet) -> u8 {
    match p {
        IpNet::V4(_) => AF_INET,
        IpNet::V6(_) => AF_INET6,
    }
}

/// Append an `RTM_NEWROUTE` (create or replace, protocol 12) for `spec`.
///
/// `ack` asks for a success ACK; errors are always answered.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_new_route(
    buf: &mut Vec<u8>,
    seq: u32,
    ack: bool,
    table: u32,
    prefix: &IpNet,
    metric: u32,
    spec: &Spec,
    protocol: u8,
) {
    let mut flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    if ack {
        flags |= NLM_F_ACK;
    }
    let (rtype, rflags, hops): (u8, u32, &[Hop]) = match spec {
        Spec::Blackhole => (RTN_BLACKHOLE, 0, &[]),
        Spec::Unreachable => (RTN_UNREACHABLE, 0, &[]),
        Spec::Unicast(h) if h.len() == 1 && h[0].onlink => (RTN_UNICAST, RTNH_F_ONLINK as u32, h),
        Spec::Unicast(h) => (RTN_UNICAST, 0, h),
        Spec::Other => (RTN_UNICAST, 0, &[]),
    };
    let mut w = Writer::begin(buf, RTM_NEWROUTE, flags, seq);
    route_header(&mut w, prefix, table, protocol, RT_SCOPE_UNIVERSE, rtype, rflags);
    route_common(&mut w, prefix, table, metric);
    if hops.len() == 1 {
        w.attr(RTA_GATEWAY, &addr_bytes(&hops[0].gw));
        if hops[0].oif != 0 {
            w.attr(RTA_OIF, &hops[0].oif.to_ne_bytes());
        }
    } else if hops.len() > 1 {
        let mut mp = Vec::with_capacity(hops.len() * 24);
        for h in hops {
            let gw = addr_bytes(&h.gw);
            let len = 8 + 4 + gw.len();
            mp.extend_from_slice(&(len as u16).to_ne_bytes());
            mp.push(if h.onlink { RTNH_F_ONLINK } else { 0 });
            mp.push((h.weight.clamp(1, 256) - 1) as u8);
            mp.extend_from_slice(&h.oif.to_ne_bytes());
            mp.extend_from_slice(&((4 + gw.len()) as u16).to_ne_bytes());
            mp.extend_from_slice(&RTA_GATEWAY.to_ne_bytes());
            mp.extend_from_slice(&gw);
            while mp.len() % 4 != 0 {
                mp.push(0);
            }
        }
        w.attr(RTA_MULTIPATH, &mp);
    }
    w.finish();
}

/// Append an `RTM_DELROUTE` that only matches a route of `protocol` with this metric,
/// so that it can never remove another protocol's route on the same prefix.
pub(crate) fn push_del_route(
    buf: &mut Vec<u8>,
    seq: u32,
    ack: bool,
    table: u32,
    prefix: &IpNet,
    metric: u32,
    protocol: u8,
) {
    let flags = NLM_F_REQUEST | if ack { NLM_F_ACK } else { 0 };
    let mut w = Writer::begin(buf, RTM_DELROUTE, flags, seq);
    // Type unspec and scope nowhere match any type and scope (as `ip route del`).
    route_header(&mut w, prefix, table, protocol, RT_SCOPE_NOWHERE, 0, 0);
    route_common(&mut w, prefix, table, metric);
    w.finish();
}

fn route_header(w: &mut Writer<'_>, prefix: &IpNet, table: u32, protocol: u8, scope: u8, rtype: u8, flags: u32) {
    let t = if table < 256 { table as u8 } else { 0 };
    w.buf.extend_from_slice(&[family_of(prefix), prefix.prefix_len(), 0, 0, t, protocol, scope, rtype]);
    w.buf.extend_from_slice(&flags.to_ne_bytes());
}

fn route_common(w: &mut Writer<'_>, prefix: &IpNet, table: u32, metric: u32) {
    w.attr(RTA_DST, &addr_bytes(&prefix.network()));
    w.attr(RTA_TABLE, &table.to_ne_bytes());
    w.attr(RTA_PRIORITY, &metric.to_ne_bytes());
}

/// Append a dump request: `RTM_GETLINK`, `RTM_GETADDR` or `RTM_GETROUTE` for `family`.
pub(crate) fn push_dump(buf: &mut Vec<u8>, kind: u16, family: u8, seq: u32) {
    let w = Writer::begin(buf, kind, NLM_F_REQUEST | NLM_F_DUMP, seq);
    let hdr_len = match kind {
        RTM_GETLINK => 16,
        RTM_GETADDR => 8,
        _ => 12,
    };
    w.buf.push(family);
    w.buf.extend(std::iter::repeat_n(0u8, hdr_len - 1));
    w.finish();
}

/// The address family byte for IPv4 or IPv6.
pub(crate) fn family(v6: bool) -> u8 {
    if v6 {
        AF_INET6
    } else {
        AF_INET
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
    use rtnetlink::packet_route::route::{RouteAttribute, RouteProtocol, RouteType};
    use rtnetlink::packet_route::RouteNetlinkMessage;

    fn hop(gw: &str, oif: u32, onlink: bool) -> Hop {
        Hop { gw: gw.parse().unwrap(), oif, onlink, weight: 1 }
    }

    fn parse_lib(buf: &[u8]) -> rtnetlink::packet_route::route::RouteMessage {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf).unwrap();
        match m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r))
            | NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn new_route_blackhole_matches_library_and_roundtrips() {
        let mut buf = Vec::new();
        let p: IpNet = "198.18.4.0/24".parse().unwrap();
        push_new_route(&mut buf, 7, true, 254, &p, 20, &Spec::Blackhole, 12);
        let r = parse_lib(&buf);
        assert_eq!(r.header.protocol, RouteProtocol::Bird);
        assert_eq!(r.header.kind, RouteType::BlackHole);
        assert_eq!(r.header.destination_prefix_length, 24);
        assert!(r.attributes.contains(&RouteAttribute::Priority(20)));
        assert!(r.attributes.contains(&RouteAttribute::Table(254)));
        let (h, pl) = messages(&buf).next().unwrap();
        assert_eq!((h.seq, h.kind), (7, RTM_NEWROUTE));
        assert_eq!(h.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
        match decode(&h, pl) {
            Msg::NewRoute(k) => {
                assert_eq!((k.table, k.prefix, k.metric, k.protocol), (254, p, 20, 12));
                assert_eq!(k.spec, Spec::Blackhole);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn via_onlink_and_multipath_roundtrip() {
        let p: IpNet = "198.19.0.0/26".parse().unwrap();
        let one = Spec::unicast(vec![hop("198.18.1.1", 9, true)]);
        let multi = Spec::unicast(vec![hop("198.18.1.1", 2, false), hop("198.18.1.2", 3, false)]);
        let p6: IpNet = "2001:db8::/64".parse().unwrap();
        let six = Spec::unicast(vec![hop("2001:db8:1::1", 0, false)]);
        let mut buf = Vec::new();
        push_new_route(&mut buf, 1, false, 254, &p, 0, &one, 12);
        push_new_route(&mut buf, 2, false, 1000, &p, 5, &multi, 12);
        push_new_route(&mut buf, 3, false, 254, &p6, 1024, &six, 12);
        push_del_route(&mut buf, 4, true, 254, &p, 0, 12);
        let got: Vec<Msg> = messages(&buf).map(|(h, pl)| decode(&h, pl)).collect();
        assert_eq!(got.len(), 4);
        match &got[0] {
            Msg::NewRoute(k) => assert_eq!(k.spec, one),
            m => panic!("{m:?}"),
        }
        match &got[1] {
            Msg::NewRoute(k) => {
                assert_eq!(k.spec, multi);
                assert_eq!(k.table, 1000);
            }
            m => panic!("{m:?}"),
        }
        match &got[2] {
            Msg::NewRoute(k) => assert_eq!((k.spec.clone(), k.prefix), (six, p6)),
            m => panic!("{m:?}"),
        }
        assert!(matches!(&got[3], Msg::DelRoute(k) if k.prefix == p && k.protocol == 12));
        // The library agrees on the multipath encoding.
        let second = messages(&buf).nth(1).unwrap().0.len;
        let first = messages(&buf).next().unwrap().0.len;
        let r = parse_lib(&buf[first..first + second]);
        assert!(r.attributes.iter().any(|a| matches!(a, RouteAttribute::MultiPath(h) if h.len() == 2)));
    }

    #[test]
    fn error_ack_with_extack_message() {
        // nlmsghdr(error) + errno + capped original header + NLMSGERR_ATTR_MSG.
        let mut buf = Vec::new();
        let mut w = Writer::begin(&mut buf, NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 42);
        w.buf.extend_from_slice(&(-libc::ENETUNREACH).to_ne_bytes());
        w.buf.extend_from_slice(&[16, 0, 0, 0, 24, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
        w.attr(NLMSGERR_ATTR_MSG, b"Nexthop has invalid gateway\0");
        w.finish();
        let (h, p) = messages(&buf).next().unwrap();
        assert_eq!(h.seq, 42);
        assert_eq!(
            decode(&h, p),
            Msg::Ack { errno: libc::ENETUNREACH, reason: Some("Nexthop has invalid gateway".into()) }
        );
    }
}
