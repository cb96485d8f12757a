//! A tiny pcap reader that reassembles each TCP direction's payload, enough to turn a
//! `tcpdump -w` capture of a BGP session into one raw byte stream per direction.
//! Handles classic pcap (either byte order, µs or ns), link types Ethernet (1), Linux
//! cooked (113) and raw IP (101); IPv4 and IPv6 (no extension headers); retransmissions
//! (payload is placed by sequence number, relative to the SYN or first segment).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One TCP direction: source and destination socket addresses.
pub type Direction = (SocketAddr, SocketAddr);

#[derive(Default)]
struct Stream {
    isn: Option<u32>,
    segs: BTreeMap<u64, Vec<u8>>,
}

/// Reassembled payload per TCP direction found in a pcap file's bytes.
pub fn tcp_streams(pcap: &[u8]) -> io::Result<BTreeMap<Direction, Vec<u8>>> {
    let bad = |m: &str| io::Error::other(format!("pcap: {m}"));
    if pcap.len() < 24 {
        return Err(bad("too short"));
    }
    let magic = u32::from_le_bytes([pcap[0], pcap[1], pcap[2], pcap[3]]);
    let le = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        _ => return Err(bad("not a classic pcap file")),
    };
    let u32_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(pcap, 20);
    let mut streams: BTreeMap<Direction, Stream> = BTreeMap::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let incl = u32_at(pcap, off + 8) as usize;
        let orig = u32_at(pcap, off + 12) as usize;
        let pkt = pcap.get(off + 16..off + 16 + incl).ok_or_else(|| bad("truncated record"))?;
        if incl < orig {
            return Err(bad("packet truncated by snaplen; capture with -s 0"));
        }
        off += 16 + incl;
        let ip = match linktype {
            1 => {
                let mut et = u16::from_be_bytes([pkt[12], pkt[13]]);
                let mut o = 14;
                if et == 0x8100 {
                    et = u16::from_be_bytes([pkt[16], pkt[17]]);
                    o = 18;
                }
                if et != 0x0800 && et != 0x86dd {
                    continue;
                }
                &pkt[o..]
            }
            113 => &pkt[16..],
            101 => pkt,
            other => return Err(bad(&format!("unsupported link type {other}"))),
        };
        let Some((src, dst, tcp)) = ip_tcp(ip) else {
            continue;
        };
        if tcp.len() < 20 {
            continue;
        }
        let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        let doff = ((tcp[12] >> 4) as usize) * 4;
        let syn = tcp[13] & 0x02 != 0;
        let payload = tcp.get(doff..).unwrap_or(&[]);
        let dir = (SocketAddr::new(src, sport), SocketAddr::new(dst, dport));
        let s = streams.entry(dir).or_default();
        if syn {
            s.isn = Some(seq.wrapping_add(1));
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        let isn = *s.isn.get_or_insert(seq);
        let rel = u64::from(seq.wrapping_sub(isn));
        let e = s.segs.entry(rel).or_default();
        if payload.len() > e.len() {
            *e = payload.to_vec();
        }
    }
    let mut out = BTreeMap::new();
    for (dir, s) in streams {
        let mut buf: Vec<u8> = vec![];
        for (rel, seg) in s.segs {
            let rel = rel as usize;
            if rel > buf.len() {
                return Err(bad(&format!("gap in {dir:?} at {}", buf.len())));
            }
            let skip = buf.len() - rel;
            if skip < seg.len() {
                buf.extend_from_slice(&seg[skip..]);
            }
        }
        if !buf.is_empty() {
            out.insert(dir, buf);
        }
    }
    Ok(out)
}

/// Splits an IP packet into (source, destination, TCP segment); `None` if not TCP.
fn ip_tcp(ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    match ip.first()? >> 4 {
        4 => {
            let ihl = ((ip[0] & 0x0f) as usize) * 4;
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            if *ip.get(9)? != 6 {
                return None;
            }
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            Some((src.into(), dst.into(), ip.get(ihl..total.min(ip.len()))?))
        }
        6 => {
            if *ip.get(6)? != 6 {
                return None;
            }
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            Some((Ipv6Addr::from(src).into(), Ipv6Addr::from(dst).into(), ip.get(40..(40 + plen).min(ip.len()))?))
        }
        _ => None,
    }
}
