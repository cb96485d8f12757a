//! Decoding of MRT record bodies (RFC 6396 §4, RFC 8050).

use super::attrs::decode_attribute_block;
use super::types::*;
use super::{bgp4mp, mrt_type, td2};
use crate::ctx::DecodeCtx;
use crate::error::{code, DecodeError, ErrorKind};
use crate::message::Message;
use crate::reader::{Reader, Short};
use crate::types::{Afi, AfiSafi, FamilySet, Safi};
use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type R<T> = Result<T, MrtErrorKind>;

fn short(what: &'static str) -> impl Fn(Short) -> MrtErrorKind {
    move |s| MrtErrorKind::Truncated { at: s.offset, what, needed: s.needed }
}

fn bad(at: usize, what: &'static str) -> MrtErrorKind {
    MrtErrorKind::Malformed { at, what }
}

/// Reads an address of the given AFI (1: 4 octets, 2: 16 octets).
fn ip(r: &mut Reader<'_>, afi: u16, what: &'static str) -> R<IpAddr> {
    match afi {
        1 => Ok(IpAddr::V4(Ipv4Addr::from(r.array::<4>().map_err(short(what))?))),
        2 => Ok(IpAddr::V6(Ipv6Addr::from(r.array::<16>().map_err(short(what))?))),
        _ => Err(bad(r.offset(), "unknown address family")),
    }
}

/// Reads a prefix: length in bits, then the significant octets (RFC 6396 §4.3.2).
/// Host bits past the mask are cleared.
fn prefix(r: &mut Reader<'_>, afi: Afi) -> R<IpNet> {
    let at = r.offset();
    let len = r.u8().map_err(short("prefix length"))?;
    let max = if afi == Afi::IPV4 { 32 } else { 128 };
    if len > max {
        return Err(bad(at, "prefix length exceeds the address length"));
    }
    let o = r.take((len as usize).div_ceil(8)).map_err(short("prefix"))?;
    Ok(if afi == Afi::IPV4 {
        let mut a = [0u8; 4];
        a[..o.len()].copy_from_slice(o);
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap_or_default().trunc())
    } else {
        let mut a = [0u8; 16];
        a[..o.len()].copy_from_slice(o);
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap_or_default().trunc())
    })
}

/// Decodes the body of a record (after the microseconds field of the `_ET` types).
///
/// RIB entries are not resolved against a PEER_INDEX_TABLE here; [`super::MrtReader`]
/// does that.
pub fn decode_record(h: &MrtHeader, body: &[u8]) -> Result<MrtBody, MrtErrorKind> {
    let unsupported = |reason| Ok(MrtBody::Unsupported { reason, raw: Bytes::copy_from_slice(body) });
    match h.mrt_type {
        mrt_type::BGP4MP | mrt_type::BGP4MP_ET => match h.subtype {
            bgp4mp::STATE_CHANGE | bgp4mp::STATE_CHANGE_AS4 => {
                state_change(body, h.subtype == bgp4mp::STATE_CHANGE_AS4).map(MrtBody::Bgp4mpStateChange)
            }
            s @ (bgp4mp::MESSAGE
            | bgp4mp::MESSAGE_AS4
            | bgp4mp::MESSAGE_LOCAL
            | bgp4mp::MESSAGE_AS4_LOCAL
            | bgp4mp::MESSAGE_ADDPATH..=bgp4mp::MESSAGE_AS4_LOCAL_ADDPATH) => {
                let as4 = matches!(
                    s,
                    bgp4mp::MESSAGE_AS4
                        | bgp4mp::MESSAGE_AS4_LOCAL
                        | bgp4mp::MESSAGE_AS4_ADDPATH
                        | bgp4mp::MESSAGE_AS4_LOCAL_ADDPATH
                );
                let add_path = s >= bgp4mp::MESSAGE_ADDPATH;
                message(body, as4, add_path).map(|m| MrtBody::Bgp4mpMessage(Box::new(m)))
            }
            _ => unsupported("unknown BGP4MP subtype"),
        },
        mrt_type::TABLE_DUMP_V2 => match h.subtype {
            td2::PEER_INDEX_TABLE => peer_index_table(body).map(MrtBody::PeerIndexTable),
            s @ td2::RIB_IPV4_UNICAST..=td2::RIB_GENERIC_ADDPATH if s != 7 => rib(body, s).map(MrtBody::Rib),
            _ => unsupported("unknown TABLE_DUMP_V2 subtype"),
        },
        mrt_type::TABLE_DUMP => match h.subtype {
            1 | 2 => table_dump(body, h.subtype).map(MrtBody::TableDump),
            _ => unsupported("unknown TABLE_DUMP AFI"),
        },
        mrt_type::BGP => unsupported("deprecated MRT type BGP (5)"),
        _ => unsupported("MRT type not decoded"),
    }
}

/// The common BGP4MP prefix: peer AS, local AS, interface index, AFI, peer and local
/// addresses (RFC 6396 §4.4.1-§4.4.4).
fn bgp4mp_peers(r: &mut Reader<'_>, as4: bool) -> R<(u32, u32, u16, IpAddr, IpAddr)> {
    let (peer_as, local_as) = if as4 {
        (r.u32().map_err(short("peer AS"))?, r.u32().map_err(short("local AS"))?)
    } else {
        (r.u16().map_err(short("peer AS"))? as u32, r.u16().map_err(short("local AS"))? as u32)
    };
    let ifindex = r.u16().map_err(short("interface index"))?;
    let afi = r.u16().map_err(short("address family"))?;
    let peer_ip = ip(r, afi, "peer address")?;
    let local_ip = ip(r, afi, "local address")?;
    Ok((peer_as, local_as, ifindex, peer_ip, local_ip))
}

fn state_change(body: &[u8], as4: bool) -> R<Bgp4mpStateChange> {
    let mut r = Reader::new(body, 0);
    let (peer_as, local_as, interface_index, peer_ip, local_ip) = bgp4mp_peers(&mut r, as4)?;
    let old_state = r.u16().map_err(short("old state"))?;
    let new_state = r.u16().map_err(short("new state"))?;
    Ok(Bgp4mpStateChange { peer_as, local_as, interface_index, peer_ip, local_ip, old_state, new_state })
}

fn message(body: &[u8], as4: bool, add_path: bool) -> R<Bgp4mpMessage> {
    let mut r = Reader::new(body, 0);
    let (peer_as, local_as, interface_index, peer_ip, local_ip) = bgp4mp_peers(&mut r, as4)?;
    // RFC 6396 §4.4.2-§4.4.3, RFC 8050 §3: the context follows from the subtype.
    let ctx = DecodeCtx {
        four_octet_as: as4,
        add_path: if add_path { FamilySet::all_typed() } else { FamilySet::new() },
        extended_message: true,
        external: false,
        // A recording holds what the session accepted: IPv6 next hops for IPv4 NLRI
        // only reach it where RFC 8950 was in force.
        extended_next_hop: FamilySet::all_typed(),
    };
    let mut add_path_inferred = false;
    let (message, error) = match Message::decode(r.rest(), &ctx) {
        Ok(m) => (Some(m), None),
        // BIRD before RFC 8050 logged ADD-PATH sessions under the plain subtypes: when
        // the NLRI do not parse, and do parse with path identifiers, take those.
        Err(e) if !add_path && e.code == code::UPDATE_MESSAGE && nlri_fault(&e) => {
            let ap = DecodeCtx { add_path: FamilySet::all_typed(), ..ctx };
            match Message::decode(r.rest(), &ap) {
                Ok(m) => {
                    add_path_inferred = true;
                    (Some(m), None)
                }
                Err(_) => (None, Some(Box::new(MessageError::from(&e)))),
            }
        }
        Err(e) => (None, Some(Box::new(MessageError::from(&e)))),
    };
    Ok(Bgp4mpMessage { peer_as, local_as, interface_index, peer_ip, local_ip, add_path_inferred, message, error })
}

/// Whether an UPDATE error is an NLRI that does not parse (RFC 7606 §5.3, §7.11).
fn nlri_fault(e: &DecodeError) -> bool {
    matches!(e.kind, ErrorKind::BadNlri(_) | ErrorKind::BadMpAttribute { .. })
}

fn peer_index_table(body: &[u8]) -> R<PeerIndexTable> {
    let mut r = Reader::new(body, 0);
    let collector_bgp_id = Ipv4Addr::from(r.array::<4>().map_err(short("collector BGP ID"))?);
    let n = r.u16().map_err(short("view name length"))? as usize;
    let view_name = String::from_utf8_lossy(r.take(n).map_err(short("view name"))?).into_owned();
    let count = r.u16().map_err(short("peer count"))? as usize;
    // Each peer takes at least 11 octets: cap the allocation by what remains.
    let mut peers = Vec::with_capacity(count.min(r.remaining() / 11));
    for _ in 0..count {
        let t = r.u8().map_err(short("peer type"))?;
        let bgp_id = Ipv4Addr::from(r.array::<4>().map_err(short("peer BGP ID"))?);
        let ip = ip(&mut r, if t & 1 != 0 { 2 } else { 1 }, "peer address")?;
        let asn =
            if t & 2 != 0 { r.u32().map_err(short("peer AS"))? } else { r.u16().map_err(short("peer AS"))? as u32 };
        peers.push(PeerEntry { bgp_id, ip, asn });
    }
    Ok(PeerIndexTable { collector_bgp_id, view_name, peers })
}

/// The NLRI of RIB_GENERIC (RFC 6396 §4.3.3): a single NLRI in MP_REACH_NLRI form. The
/// typed families are prefixes; any other is taken as a length-in-bits prefix (true of
/// labeled and VPN NLRI) and kept opaque.
fn generic_nlri(r: &mut Reader<'_>, family: AfiSafi) -> R<RibPrefix> {
    if family.is_typed() {
        return prefix(r, family.afi).map(RibPrefix::Ip);
    }
    let len = *r.rest().first().ok_or(bad(r.offset(), "NLRI missing"))? as usize;
    let raw = r.take(1 + len.div_ceil(8)).map_err(short("NLRI"))?;
    Ok(RibPrefix::Opaque(Bytes::copy_from_slice(raw)))
}

fn rib(body: &[u8], subtype: u16) -> R<RibRecord> {
    let mut r = Reader::new(body, 0);
    let sequence = r.u32().map_err(short("sequence number"))?;
    let add_path = subtype >= td2::RIB_IPV4_UNICAST_ADDPATH;
    let family = match subtype {
        td2::RIB_IPV4_UNICAST | td2::RIB_IPV4_UNICAST_ADDPATH => AfiSafi::IPV4_UNICAST,
        td2::RIB_IPV4_MULTICAST | td2::RIB_IPV4_MULTICAST_ADDPATH => AfiSafi::IPV4_MULTICAST,
        td2::RIB_IPV6_UNICAST | td2::RIB_IPV6_UNICAST_ADDPATH => AfiSafi::IPV6_UNICAST,
        td2::RIB_IPV6_MULTICAST | td2::RIB_IPV6_MULTICAST_ADDPATH => AfiSafi::IPV6_MULTICAST,
        _ => {
            let afi = r.u16().map_err(short("AFI"))?;
            let safi = r.u8().map_err(short("SAFI"))?;
            AfiSafi::new(Afi(afi), Safi(safi))
        }
    };
    let prefix = if subtype == td2::RIB_GENERIC || subtype == td2::RIB_GENERIC_ADDPATH {
        generic_nlri(&mut r, family)?
    } else {
        RibPrefix::Ip(prefix(&mut r, family.afi)?)
    };
    let count = r.u16().map_err(short("entry count"))? as usize;
    // RFC 6396 §4.3.4: attributes in RIB entries always use 4-octet ASNs.
    let ctx = DecodeCtx {
        four_octet_as: true,
        add_path: FamilySet::new(),
        extended_message: true,
        external: false,
        extended_next_hop: FamilySet::all_typed(),
    };
    // An entry takes at least 8 octets: cap the allocation by what remains.
    let mut entries = Vec::with_capacity(count.min(r.remaining() / 8));
    for _ in 0..count {
        let peer_index = r.u16().map_err(short("peer index"))?;
        let originated_time = r.u32().map_err(short("originated time"))?;
        // RFC 8050 §4: the path identifier follows the originated time.
        let path_id = if add_path { Some(r.u32().map_err(short("path identifier"))?) } else { None };
        let alen = r.u16().map_err(short("attribute length"))? as usize;
        let base = r.offset();
        let block = r.take(alen).map_err(short("attributes"))?;
        let (attributes, errors) = decode_attribute_block(block, &ctx, Some(family), base);
        entries.push(RibEntry { peer_index, peer: None, originated_time, path_id, attributes, errors });
    }
    if !r.is_empty() {
        return Err(bad(r.pos(), "octets after the last RIB entry"));
    }
    Ok(RibRecord { sequence, family, prefix, entries })
}

fn table_dump(body: &[u8], afi: u16) -> R<TableDumpEntry> {
    let mut r = Reader::new(body, 0);
    let view = r.u16().map_err(short("view number"))?;
    let sequence = r.u16().map_err(short("sequence number"))?;
    let addr = ip(&mut r, afi, "prefix")?;
    let at = r.offset();
    let len = r.u8().map_err(short("prefix length"))?;
    let prefix = IpNet::new(addr, len).map_err(|_| bad(at, "prefix length exceeds the address length"))?.trunc();
    let status = r.u8().map_err(short("status"))?;
    let originated_time = r.u32().map_err(short("originated time"))?;
    let peer_ip = ip(&mut r, afi, "peer address")?;
    let peer_as = r.u16().map_err(short("peer AS"))? as u32;
    let alen = r.u16().map_err(short("attribute length"))? as usize;
    let base = r.offset();
    let block = r.take(alen).map_err(short("attributes"))?;
    // RFC 6396 §4.2: TABLE_DUMP predates 4-octet ASNs.
    let ctx = DecodeCtx {
        four_octet_as: false,
        add_path: FamilySet::new(),
        extended_message: true,
        external: false,
        extended_next_hop: FamilySet::all_typed(),
    };
    let family = if afi == 1 { AfiSafi::IPV4_UNICAST } else { AfiSafi::IPV6_UNICAST };
    let (attributes, errors) = decode_attribute_block(block, &ctx, Some(family), base);
    Ok(TableDumpEntry { view, sequence, prefix, status, originated_time, peer_ip, peer_as, attributes, errors })
}
