//! The records an MRT file holds (RFC 6396 §4), and the errors reading them.

use super::{subtype_name, type_name};
use crate::attr::Attribute;
use crate::error::{Action, DecodeError};
use crate::message::Message;
use crate::types::{hex_bytes, AfiSafi};
use crate::update::Update;
use bytes::Bytes;
use ipnet::IpNet;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// The common MRT header (RFC 6396 §2), with the BGP4MP_ET microseconds (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MrtHeader {
    /// Seconds since the epoch.
    pub timestamp: u32,
    /// Microseconds, for the `_ET` types (RFC 6396 §3).
    pub microseconds: Option<u32>,
    /// MRT type.
    pub mrt_type: u16,
    /// MRT subtype.
    pub subtype: u16,
    /// Length of the record body, as in the header (microseconds included).
    pub length: u32,
}

fn code_or_name<M: SerializeMap>(m: &mut M, key: &str, name: Option<&'static str>, code: u16) -> Result<(), M::Error> {
    match name {
        Some(n) => m.serialize_entry(key, n),
        None => m.serialize_entry(key, &code.to_string()),
    }
}

impl Serialize for MrtHeader {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(us) = self.microseconds {
            m.serialize_entry("microseconds", &us)?;
        }
        code_or_name(&mut m, "type", type_name(self.mrt_type), self.mrt_type)?;
        code_or_name(&mut m, "subtype", subtype_name(self.mrt_type, self.subtype), self.subtype)?;
        m.serialize_entry("length", &self.length)?;
        m.end()
    }
}

/// One MRT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrtRecord {
    /// Byte offset of the record's header in the (decompressed) input.
    pub offset: u64,
    /// The header.
    #[serde(flatten)]
    pub header: MrtHeader,
    /// The decoded body.
    #[serde(flatten)]
    pub body: MrtBody,
}

/// The body of an MRT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum MrtBody {
    /// BGP4MP / BGP4MP_ET MESSAGE* subtypes (RFC 6396 §4.4.2-§4.4.6, RFC 8050 §3).
    /// Boxed: it holds a `Message`, whose `Update` keeps its vectors inline (~350
    /// octets), and every record (a RIB dump's too) would otherwise be that large.
    Bgp4mpMessage(Box<Bgp4mpMessage>),
    /// BGP4MP / BGP4MP_ET STATE_CHANGE and STATE_CHANGE_AS4 (RFC 6396 §4.4.1, §4.4.4).
    Bgp4mpStateChange(Bgp4mpStateChange),
    /// TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1).
    PeerIndexTable(PeerIndexTable),
    /// TABLE_DUMP_V2 RIB_* records (RFC 6396 §4.3.2-§4.3.3, RFC 8050 §4).
    Rib(RibRecord),
    /// Legacy TABLE_DUMP (RFC 6396 §4.2).
    TableDump(TableDumpEntry),
    /// A type or subtype this crate does not decode (deprecated BGP records, IGP
    /// records, unknown codes), kept raw.
    Unsupported {
        /// Why it was not decoded.
        reason: &'static str,
        /// The record body.
        #[serde(serialize_with = "hex_bytes")]
        raw: Bytes,
    },
}

/// A BGP message logged by a BGP4MP record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bgp4mpMessage {
    /// Peer AS (2-octet in the non-AS4 subtypes).
    pub peer_as: u32,
    /// Local AS.
    pub local_as: u32,
    /// Interface index.
    pub interface_index: u16,
    /// Peer address.
    pub peer_ip: IpAddr,
    /// Local address.
    pub local_ip: IpAddr,
    /// The record's subtype is not an ADDPATH one, but the NLRI only parse with path
    /// identifiers (BIRD wrote such records before RFC 8050), so they were read with them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub add_path_inferred: bool,
    /// The decoded message, when it decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// Why the message did not decode (with the salvaged UPDATE for RFC 7606's
    /// non-fatal actions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<MessageError>>,
}

/// A BGP FSM state change logged by a BGP4MP record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bgp4mpStateChange {
    /// Peer AS.
    pub peer_as: u32,
    /// Local AS.
    pub local_as: u32,
    /// Interface index.
    pub interface_index: u16,
    /// Peer address.
    pub peer_ip: IpAddr,
    /// Local address.
    pub local_ip: IpAddr,
    /// Old state (1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established).
    pub old_state: u16,
    /// New state.
    pub new_state: u16,
}

/// One peer of a PEER_INDEX_TABLE (RFC 6396 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PeerEntry {
    /// The peer's BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// The peer's address.
    pub ip: IpAddr,
    /// The peer's AS.
    pub asn: u32,
}

/// TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerIndexTable {
    /// The collector's BGP identifier.
    pub collector_bgp_id: Ipv4Addr,
    /// The view name (lossy UTF-8).
    pub view_name: String,
    /// The peers; RIB entries refer to them by index.
    pub peers: Vec<PeerEntry>,
}

/// The prefix of a RIB record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum RibPrefix {
    /// An IPv4 or IPv6 prefix.
    Ip(IpNet),
    /// The NLRI of another family (RIB_GENERIC), byte-exact.
    Opaque(#[serde(serialize_with = "hex_bytes")] Bytes),
}

/// A TABLE_DUMP_V2 RIB record: one prefix and every peer's path to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RibRecord {
    /// Sequence number.
    pub sequence: u32,
    /// The family (implied by the subtype, or explicit in RIB_GENERIC).
    pub family: AfiSafi,
    /// The prefix.
    pub prefix: RibPrefix,
    /// The entries.
    pub entries: Vec<RibEntry>,
}

/// One RIB entry (RFC 6396 §4.3.4, RFC 8050 §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RibEntry {
    /// Index into the PEER_INDEX_TABLE.
    pub peer_index: u16,
    /// The peer, resolved by [`super::MrtReader`] from the last PEER_INDEX_TABLE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerEntry>,
    /// When the route was received.
    pub originated_time: u32,
    /// Path identifier, in the ADDPATH subtypes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_id: Option<u32>,
    /// The attributes that decoded. MP_REACH_NLRI carries only the next hop here.
    pub attributes: Vec<Attribute>,
    /// Attributes that did not decode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MessageError>,
}

/// A legacy TABLE_DUMP record (RFC 6396 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDumpEntry {
    /// View number.
    pub view: u16,
    /// Sequence number.
    pub sequence: u16,
    /// The prefix.
    pub prefix: IpNet,
    /// Status (unused, 1).
    pub status: u8,
    /// When the route was received.
    pub originated_time: u32,
    /// Peer address.
    pub peer_ip: IpAddr,
    /// Peer AS (2 octets).
    pub peer_as: u32,
    /// The attributes that decoded (2-octet AS_PATH).
    pub attributes: Vec<Attribute>,
    /// Attributes that did not decode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MessageError>,
}

/// A [`DecodeError`] in a form that serializes: what went wrong, where, which
/// NOTIFICATION and RFC 7606 action, and the salvaged UPDATE when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageError {
    /// What went wrong (human readable).
    pub kind: String,
    /// Byte offset of the fault within the message (or attribute block).
    pub offset: usize,
    /// NOTIFICATION code.
    pub code: u8,
    /// NOTIFICATION subcode.
    pub subcode: u8,
    /// RFC 7606 action.
    pub action: Action,
    /// NOTIFICATION data.
    #[serde(serialize_with = "hex_bytes")]
    pub data: Bytes,
    /// The UPDATE left after removing the bad attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salvaged: Option<Box<Update>>,
    /// Further non-fatal errors in the same message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<MessageError>,
}

impl From<&DecodeError> for MessageError {
    fn from(e: &DecodeError) -> Self {
        MessageError {
            kind: e.kind.to_string(),
            offset: e.offset,
            code: e.code,
            subcode: e.subcode,
            action: e.action,
            data: e.data.clone(),
            salvaged: e.salvaged.clone(),
            others: e.others.iter().map(MessageError::from).collect(),
        }
    }
}

/// What went wrong with an MRT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MrtErrorKind {
    /// Reading the input failed (ends the stream).
    #[error("I/O error: {message}")]
    Io {
        /// The I/O error.
        message: String,
    },
    /// The input ended inside a record header (ends the stream).
    #[error("truncated header: {got} of 12 octets")]
    TruncatedHeader {
        /// Octets present.
        got: usize,
    },
    /// The input ended inside a record body (ends the stream).
    #[error("truncated record: {got} of {length} octets")]
    TruncatedRecord {
        /// Octets present.
        got: usize,
        /// Octets announced by the header.
        length: u32,
    },
    /// The header's length is over [`super::MAX_RECORD_LEN`]: the input is garbage from
    /// here (ends the stream).
    #[error("record length {length} over the limit")]
    TooLong {
        /// The announced length.
        length: u32,
    },
    /// The record body ends inside a field; the reader skips it and goes on.
    #[error("record truncated at body offset {at}: {what} needs {needed} more octets")]
    Truncated {
        /// Offset of the field within the record body.
        at: usize,
        /// The field.
        what: &'static str,
        /// How many more octets it needed.
        needed: usize,
    },
    /// The record body is malformed; the reader skips it and goes on.
    #[error("malformed record at body offset {at}: {what}")]
    Malformed {
        /// Offset of the fault within the record body.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
}

/// An MRT record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("MRT record at offset {offset}: {kind}")]
pub struct MrtError {
    /// Byte offset of the record's header in the (decompressed) input.
    pub offset: u64,
    /// The record header, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<MrtHeader>,
    /// What went wrong.
    #[serde(flatten)]
    pub kind: MrtErrorKind,
}

impl MrtError {
    /// Whether the reader stops after this error (the following records cannot be
    /// located).
    pub fn is_fatal(&self) -> bool {
        !matches!(self.kind, MrtErrorKind::Malformed { .. } | MrtErrorKind::Truncated { .. })
    }
}
