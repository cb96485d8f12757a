//! MRT (RFC 6396): reading and writing routing table dumps and message logs.
//!
//! - [`MrtReader`] streams [`MrtRecord`]s out of any [`std::io::Read`]; [`open`] and
//!   [`decompress`] detect gzip and bzip2 by their magic bytes. A malformed record is an
//!   `Err` item carrying its offset, and the reader moves on to the next record; only an
//!   unreadable header (truncated, or a length over [`MAX_RECORD_LEN`]) ends the stream.
//! - [`MrtWriter`] writes BGP4MP(_ET) MESSAGE_AS4 (+ADDPATH) and TABLE_DUMP_V2
//!   PEER_INDEX_TABLE and RIB_IPV4/IPV6_UNICAST (+ADDPATH) records.
//! - [`decode_attribute_block`] decodes a bare path attribute block, as TABLE_DUMP and
//!   TABLE_DUMP_V2 RIB entries carry it (no UPDATE around it).
//!
//! # What is decoded
//!
//! | type | subtypes |
//! |---|---|
//! | 12 TABLE_DUMP (§4.2) | AFI 1 and 2 |
//! | 13 TABLE_DUMP_V2 (§4.3, RFC 8050) | 1 PEER_INDEX_TABLE, 2-5 RIB_IPV4/IPV6_UNICAST/MULTICAST, 6 RIB_GENERIC, 8-12 their ADDPATH forms |
//! | 16 BGP4MP, 17 BGP4MP_ET (§4.4, §4.5, RFC 8050) | 0 STATE_CHANGE, 1 MESSAGE, 4 MESSAGE_AS4, 5 STATE_CHANGE_AS4, 6 MESSAGE_LOCAL, 7 MESSAGE_AS4_LOCAL, 8-11 the ADDPATH forms |
//!
//! Anything else (the deprecated type 5 BGP records, OSPF, IS-IS, unknown types and
//! subtypes) becomes [`MrtBody::Unsupported`] with the raw record body.
//!
//! BGP messages in BGP4MP records are decoded by [`crate::Message::decode`] with the
//! context the subtype implies: `four_octet_as` for the AS4 subtypes, ADD-PATH in every
//! typed family for the ADDPATH subtypes (RFC 8050 §3), extended messages always (a
//! collector may log messages over 4096 octets), and `external: false` so that a
//! LOCAL_PREF is shown as it was received. RIB entry attributes always use 4-octet ASNs
//! in TABLE_DUMP_V2 (RFC 6396 §4.3.4) and 2-octet ASNs in TABLE_DUMP (§4.2).
//!
//! # JSON schema (`bgp-decode`, one object per line)
//!
//! Every MRT record serializes as one object:
//!
//! ```text
//! common:   "offset": byte offset of the record in the (decompressed) file,
//!           "timestamp": seconds, "microseconds": (BGP4MP_ET only),
//!           "type": "BGP4MP" | "BGP4MP_ET" | "TABLE_DUMP" | "TABLE_DUMP_V2" | "<number>",
//!           "subtype": "MESSAGE_AS4" | "RIB_IPV4_UNICAST" | ... | "<number>",
//!           "length": record length, "record": one of the kinds below
//! "bgp4mp-message":      peer_as, local_as, interface_index, peer_ip, local_ip,
//!                        "message": {"type": "open|update|notification|keepalive|route-refresh", "body": {...}}
//!                        or "error": <error object> (see below)
//! "bgp4mp-state-change": peer_as, local_as, interface_index, peer_ip, local_ip,
//!                        old_state, new_state (1 Idle … 6 Established, RFC 6396 §4.4.1)
//! "peer-index-table":    collector_bgp_id, view_name, peers: [{bgp_id, ip, asn}]
//! "rib":                 sequence, family {afi, safi}, prefix ("10.0.0.0/8", or hex for
//!                        non-IP families), entries: [{peer_index, peer {bgp_id, ip, asn},
//!                        originated_time, path_id?, attributes: [...], errors?: [...]}]
//! "table-dump":          view, sequence, prefix, status, originated_time, peer_ip, peer_as,
//!                        attributes, errors?
//! "unsupported":         reason, raw (hex of the record body)
//! ```
//!
//! An attribute is `{"flags": 64, "type": "as-path", "value": ...}` (see
//! [`crate::AttrValue`]; unknown ones carry `type_code` and hex `data`). Prefixes are
//! strings, with `path_id` beside them under ADD-PATH.
//!
//! An error object (a BGP message that does not decode, see [`MessageError`]) is
//! `{"kind": "...", "offset": n, "code": c, "subcode": s, "action": "session-reset" |
//! "afi-safi-disable" | "treat-as-withdraw" | "attribute-discard", "data": hex,
//! "salvaged": <update body, when RFC 7606 lets the rest be used>, "others": [...]}`.
//! A malformed MRT record prints `{"error": {"offset": n, "kind": "...", "header": {...}}}`.

mod attrs;
mod decode;
mod reader;
mod types;
mod writer;

pub use attrs::{decode_attribute_block, encode_attribute_block};
pub use decode::decode_record;
pub use reader::{decompress, open, MrtReader, MAX_RECORD_LEN};
pub use types::{
    Bgp4mpMessage, Bgp4mpStateChange, MessageError, MrtBody, MrtError, MrtErrorKind, MrtHeader, MrtRecord, PeerEntry,
    PeerIndexTable, RibEntry, RibPrefix, RibRecord, TableDumpEntry,
};
pub use writer::{MrtWriteError, MrtWriter};

/// MRT type codes (RFC 6396 §4, IANA "MRT Types").
pub mod mrt_type {
    /// Deprecated BGP (RFC 6396 §B.2.1).
    pub const BGP: u16 = 5;
    /// OSPFv2.
    pub const OSPF2: u16 = 11;
    /// TABLE_DUMP (§4.2).
    pub const TABLE_DUMP: u16 = 12;
    /// TABLE_DUMP_V2 (§4.3).
    pub const TABLE_DUMP_V2: u16 = 13;
    /// BGP4MP (§4.4).
    pub const BGP4MP: u16 = 16;
    /// BGP4MP_ET (§4.5): BGP4MP with a microsecond timestamp.
    pub const BGP4MP_ET: u16 = 17;
    /// IS-IS.
    pub const ISIS: u16 = 32;
    /// IS-IS with microseconds.
    pub const ISIS_ET: u16 = 33;
    /// OSPFv3.
    pub const OSPF3: u16 = 48;
    /// OSPFv3 with microseconds.
    pub const OSPF3_ET: u16 = 49;
}

/// TABLE_DUMP_V2 subtypes (RFC 6396 §4.3, RFC 8050 §4).
pub mod td2 {
    /// PEER_INDEX_TABLE.
    pub const PEER_INDEX_TABLE: u16 = 1;
    /// RIB_IPV4_UNICAST.
    pub const RIB_IPV4_UNICAST: u16 = 2;
    /// RIB_IPV4_MULTICAST.
    pub const RIB_IPV4_MULTICAST: u16 = 3;
    /// RIB_IPV6_UNICAST.
    pub const RIB_IPV6_UNICAST: u16 = 4;
    /// RIB_IPV6_MULTICAST.
    pub const RIB_IPV6_MULTICAST: u16 = 5;
    /// RIB_GENERIC.
    pub const RIB_GENERIC: u16 = 6;
    /// RIB_IPV4_UNICAST_ADDPATH (RFC 8050).
    pub const RIB_IPV4_UNICAST_ADDPATH: u16 = 8;
    /// RIB_IPV4_MULTICAST_ADDPATH (RFC 8050).
    pub const RIB_IPV4_MULTICAST_ADDPATH: u16 = 9;
    /// RIB_IPV6_UNICAST_ADDPATH (RFC 8050).
    pub const RIB_IPV6_UNICAST_ADDPATH: u16 = 10;
    /// RIB_IPV6_MULTICAST_ADDPATH (RFC 8050).
    pub const RIB_IPV6_MULTICAST_ADDPATH: u16 = 11;
    /// RIB_GENERIC_ADDPATH (RFC 8050).
    pub const RIB_GENERIC_ADDPATH: u16 = 12;
}

/// BGP4MP and BGP4MP_ET subtypes (RFC 6396 §4.4, RFC 8050 §3).
pub mod bgp4mp {
    /// STATE_CHANGE.
    pub const STATE_CHANGE: u16 = 0;
    /// MESSAGE.
    pub const MESSAGE: u16 = 1;
    /// MESSAGE_AS4.
    pub const MESSAGE_AS4: u16 = 4;
    /// STATE_CHANGE_AS4.
    pub const STATE_CHANGE_AS4: u16 = 5;
    /// MESSAGE_LOCAL.
    pub const MESSAGE_LOCAL: u16 = 6;
    /// MESSAGE_AS4_LOCAL.
    pub const MESSAGE_AS4_LOCAL: u16 = 7;
    /// MESSAGE_ADDPATH (RFC 8050).
    pub const MESSAGE_ADDPATH: u16 = 8;
    /// MESSAGE_AS4_ADDPATH (RFC 8050).
    pub const MESSAGE_AS4_ADDPATH: u16 = 9;
    /// MESSAGE_LOCAL_ADDPATH (RFC 8050).
    pub const MESSAGE_LOCAL_ADDPATH: u16 = 10;
    /// MESSAGE_AS4_LOCAL_ADDPATH (RFC 8050).
    pub const MESSAGE_AS4_LOCAL_ADDPATH: u16 = 11;
}

/// The name of an MRT type, if known.
pub fn type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        mrt_type::BGP => "BGP",
        mrt_type::OSPF2 => "OSPFv2",
        mrt_type::TABLE_DUMP => "TABLE_DUMP",
        mrt_type::TABLE_DUMP_V2 => "TABLE_DUMP_V2",
        mrt_type::BGP4MP => "BGP4MP",
        mrt_type::BGP4MP_ET => "BGP4MP_ET",
        mrt_type::ISIS => "ISIS",
        mrt_type::ISIS_ET => "ISIS_ET",
        mrt_type::OSPF3 => "OSPFv3",
        mrt_type::OSPF3_ET => "OSPFv3_ET",
        _ => return None,
    })
}

/// The name of a subtype of MRT type `t`, if known.
pub fn subtype_name(t: u16, s: u16) -> Option<&'static str> {
    Some(match t {
        mrt_type::TABLE_DUMP => match s {
            1 => "AFI_IPv4",
            2 => "AFI_IPv6",
            _ => return None,
        },
        mrt_type::TABLE_DUMP_V2 => match s {
            td2::PEER_INDEX_TABLE => "PEER_INDEX_TABLE",
            td2::RIB_IPV4_UNICAST => "RIB_IPV4_UNICAST",
            td2::RIB_IPV4_MULTICAST => "RIB_IPV4_MULTICAST",
            td2::RIB_IPV6_UNICAST => "RIB_IPV6_UNICAST",
            td2::RIB_IPV6_MULTICAST => "RIB_IPV6_MULTICAST",
            td2::RIB_GENERIC => "RIB_GENERIC",
            td2::RIB_IPV4_UNICAST_ADDPATH => "RIB_IPV4_UNICAST_ADDPATH",
            td2::RIB_IPV4_MULTICAST_ADDPATH => "RIB_IPV4_MULTICAST_ADDPATH",
            td2::RIB_IPV6_UNICAST_ADDPATH => "RIB_IPV6_UNICAST_ADDPATH",
            td2::RIB_IPV6_MULTICAST_ADDPATH => "RIB_IPV6_MULTICAST_ADDPATH",
            td2::RIB_GENERIC_ADDPATH => "RIB_GENERIC_ADDPATH",
            _ => return None,
        },
        mrt_type::BGP4MP | mrt_type::BGP4MP_ET => match s {
            bgp4mp::STATE_CHANGE => "STATE_CHANGE",
            bgp4mp::MESSAGE => "MESSAGE",
            bgp4mp::MESSAGE_AS4 => "MESSAGE_AS4",
            bgp4mp::STATE_CHANGE_AS4 => "STATE_CHANGE_AS4",
            bgp4mp::MESSAGE_LOCAL => "MESSAGE_LOCAL",
            bgp4mp::MESSAGE_AS4_LOCAL => "MESSAGE_AS4_LOCAL",
            bgp4mp::MESSAGE_ADDPATH => "MESSAGE_ADDPATH",
            bgp4mp::MESSAGE_AS4_ADDPATH => "MESSAGE_AS4_ADDPATH",
            bgp4mp::MESSAGE_LOCAL_ADDPATH => "MESSAGE_LOCAL_ADDPATH",
            bgp4mp::MESSAGE_AS4_LOCAL_ADDPATH => "MESSAGE_AS4_LOCAL_ADDPATH",
            _ => return None,
        },
        _ => return None,
    })
}
