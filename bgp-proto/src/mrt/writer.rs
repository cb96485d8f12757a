//! Writing MRT: BGP4MP(_ET) MESSAGE_AS4 (+ADDPATH) and TABLE_DUMP_V2 PEER_INDEX_TABLE and
//! RIB_IPV4/IPV6 (+ADDPATH) records (RFC 6396 §4.3-§4.5, RFC 8050).

use super::attrs::encode_attribute_block;
use super::types::*;
use super::{bgp4mp, mrt_type, td2};
use crate::ctx::EncodeCtx;
use crate::error::EncodeError;
use crate::types::{Afi, AfiSafi, FamilySet};
use bytes::{BufMut, BytesMut};
use ipnet::IpNet;
use std::io::{self, Write};
use std::net::IpAddr;

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MrtWriteError {
    /// The output failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The BGP message or an attribute could not be encoded.
    #[error("encode error: {0}")]
    Encode(#[from] EncodeError),
    /// The record cannot be written by this writer.
    #[error("cannot write: {0}")]
    Unsupported(&'static str),
}

/// Writes MRT records to `W`. Each record is built in a reused buffer and written with
/// one `write_all`; wrap files in a `BufWriter`.
pub struct MrtWriter<W: Write> {
    out: W,
    buf: BytesMut,
}

fn put_ip(out: &mut BytesMut, a: &IpAddr) {
    match a {
        IpAddr::V4(x) => out.put_slice(&x.octets()),
        IpAddr::V6(x) => out.put_slice(&x.octets()),
    }
}

impl<W: Write> MrtWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        MrtWriter { out, buf: BytesMut::with_capacity(4096) }
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Starts a record in the buffer: the header with a zero length (RFC 6396 §2), and
    /// the microseconds for BGP4MP_ET (§3).
    fn start(&mut self, timestamp: u32, t: u16, sub: u16, microseconds: Option<u32>) {
        self.buf.clear();
        self.buf.put_u32(timestamp);
        self.buf.put_u16(t);
        self.buf.put_u16(sub);
        self.buf.put_u32(0);
        if let Some(us) = microseconds {
            self.buf.put_u32(us);
        }
    }

    fn finish(&mut self) -> Result<(), MrtWriteError> {
        let len = self.buf.len() - 12;
        let len = u32::try_from(len).map_err(|_| EncodeError::FieldOverflow("MRT record length"))?;
        self.buf[8..12].copy_from_slice(&len.to_be_bytes());
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    /// Writes a BGP4MP MESSAGE_AS4 (or MESSAGE_AS4_ADDPATH when `add_path`, RFC 8050 §3)
    /// record; BGP4MP_ET when `microseconds` is given. The message is encoded with
    /// 4-octet ASNs, extended messages, and path identifiers in every typed family when
    /// `add_path`.
    pub fn write_bgp4mp_message(
        &mut self,
        timestamp: u32,
        microseconds: Option<u32>,
        m: &Bgp4mpMessage,
        add_path: bool,
    ) -> Result<(), MrtWriteError> {
        let msg = m.message.as_ref().ok_or(MrtWriteError::Unsupported("BGP4MP record without a decoded message"))?;
        let afi = match (m.peer_ip, m.local_ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Afi::IPV4,
            (IpAddr::V6(_), IpAddr::V6(_)) => Afi::IPV6,
            _ => return Err(MrtWriteError::Unsupported("peer and local addresses of different families")),
        };
        let t = if microseconds.is_some() { mrt_type::BGP4MP_ET } else { mrt_type::BGP4MP };
        let sub = if add_path { bgp4mp::MESSAGE_AS4_ADDPATH } else { bgp4mp::MESSAGE_AS4 };
        self.start(timestamp, t, sub, microseconds);
        // RFC 6396 §4.4.3: peer AS, local AS, interface index, AFI, addresses, message.
        self.buf.put_u32(m.peer_as);
        self.buf.put_u32(m.local_as);
        self.buf.put_u16(m.interface_index);
        self.buf.put_u16(afi.0);
        put_ip(&mut self.buf, &m.peer_ip);
        put_ip(&mut self.buf, &m.local_ip);
        let ctx = EncodeCtx {
            four_octet_as: true,
            add_path: if add_path { FamilySet::all_typed() } else { FamilySet::new() },
            extended_message: true,
            extended_next_hop: true,
        };
        msg.encode(&ctx, &mut self.buf)?;
        self.finish()
    }

    /// Writes a TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1). Peers get the 4-octet
    /// AS form when their ASN needs it.
    pub fn write_peer_index_table(&mut self, timestamp: u32, t: &PeerIndexTable) -> Result<(), MrtWriteError> {
        let name = t.view_name.as_bytes();
        if name.len() > u16::MAX as usize || t.peers.len() > u16::MAX as usize {
            return Err(EncodeError::FieldOverflow("PEER_INDEX_TABLE").into());
        }
        self.start(timestamp, mrt_type::TABLE_DUMP_V2, td2::PEER_INDEX_TABLE, None);
        self.buf.put_slice(&t.collector_bgp_id.octets());
        self.buf.put_u16(name.len() as u16);
        self.buf.put_slice(name);
        self.buf.put_u16(t.peers.len() as u16);
        for p in &t.peers {
            let as4 = p.asn > u16::MAX as u32;
            self.buf.put_u8(u8::from(p.ip.is_ipv6()) | if as4 { 2 } else { 0 });
            self.buf.put_slice(&p.bgp_id.octets());
            put_ip(&mut self.buf, &p.ip);
            if as4 {
                self.buf.put_u32(p.asn);
            } else {
                self.buf.put_u16(p.asn as u16);
            }
        }
        self.finish()
    }

    /// Writes a TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST/MULTICAST record, or its ADDPATH
    /// form when `add_path` (RFC 6396 §4.3.2, RFC 8050 §4). Attributes are encoded with
    /// 4-octet ASNs and MP_REACH_NLRI holds only the next hop (§4.3.4).
    pub fn write_rib(&mut self, timestamp: u32, rib: &RibRecord, add_path: bool) -> Result<(), MrtWriteError> {
        let base = match rib.family {
            AfiSafi::IPV4_UNICAST => td2::RIB_IPV4_UNICAST,
            AfiSafi::IPV4_MULTICAST => td2::RIB_IPV4_MULTICAST,
            AfiSafi::IPV6_UNICAST => td2::RIB_IPV6_UNICAST,
            AfiSafi::IPV6_MULTICAST => td2::RIB_IPV6_MULTICAST,
            _ => return Err(MrtWriteError::Unsupported("RIB family other than IPv4/IPv6 unicast/multicast")),
        };
        let prefix = match (&rib.prefix, rib.family.afi) {
            (RibPrefix::Ip(p @ IpNet::V4(_)), Afi::IPV4) | (RibPrefix::Ip(p @ IpNet::V6(_)), Afi::IPV6) => *p,
            _ => return Err(MrtWriteError::Unsupported("RIB prefix does not match its family")),
        };
        if rib.entries.len() > u16::MAX as usize {
            return Err(EncodeError::FieldOverflow("RIB entry count").into());
        }
        let sub = if add_path { base + (td2::RIB_IPV4_UNICAST_ADDPATH - td2::RIB_IPV4_UNICAST) } else { base };
        self.start(timestamp, mrt_type::TABLE_DUMP_V2, sub, None);
        self.buf.put_u32(rib.sequence);
        let plen = prefix.prefix_len();
        self.buf.put_u8(plen);
        let n = (plen as usize).div_ceil(8);
        match prefix {
            IpNet::V4(p) => self.buf.put_slice(&p.network().octets()[..n]),
            IpNet::V6(p) => self.buf.put_slice(&p.network().octets()[..n]),
        }
        self.buf.put_u16(rib.entries.len() as u16);
        for e in &rib.entries {
            self.buf.put_u16(e.peer_index);
            self.buf.put_u32(e.originated_time);
            if add_path {
                self.buf.put_u32(e.path_id.unwrap_or(0));
            }
            let at = self.buf.len();
            self.buf.put_u16(0);
            encode_attribute_block(&e.attributes, &mut self.buf)?;
            let alen = self.buf.len() - at - 2;
            let alen = u16::try_from(alen).map_err(|_| EncodeError::FieldOverflow("RIB entry attribute length"))?;
            self.buf[at..at + 2].copy_from_slice(&alen.to_be_bytes());
        }
        self.finish()
    }

    /// Writes a record this writer supports: a BGP4MP message (as MESSAGE_AS4, or
    /// MESSAGE_AS4_ADDPATH when the record's subtype is an ADDPATH one or path
    /// identifiers were inferred), a
    /// PEER_INDEX_TABLE, or an IPv4/IPv6 RIB record (ADDPATH when the record's subtype
    /// is). The header's timestamp and microseconds are kept; the length is recomputed.
    pub fn write_record(&mut self, r: &MrtRecord) -> Result<(), MrtWriteError> {
        let h = &r.header;
        match &r.body {
            MrtBody::Bgp4mpMessage(m) => {
                let add_path = h.subtype >= bgp4mp::MESSAGE_ADDPATH || m.add_path_inferred;
                self.write_bgp4mp_message(h.timestamp, h.microseconds, m, add_path)
            }
            MrtBody::PeerIndexTable(t) => self.write_peer_index_table(h.timestamp, t),
            MrtBody::Rib(rib) => self.write_rib(h.timestamp, rib, h.subtype >= td2::RIB_IPV4_UNICAST_ADDPATH),
            _ => Err(MrtWriteError::Unsupported("record kind not supported by the writer")),
        }
    }
}
