//! Decode errors: where it happened, what NOTIFICATION RFC 4271 §6 prescribes, and what
//! RFC 7606 says to do about it.

use crate::types::AfiSafi;
use crate::update::Update;
use bytes::Bytes;

/// NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5, RFC 6608, RFC 4486).
pub mod code {
    /// Message Header Error.
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error.
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error.
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired.
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error.
    pub const FSM: u8 = 5;
    /// Cease.
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (RFC 7313 §5).
    pub const ROUTE_REFRESH: u8 = 7;
}

/// NOTIFICATION error subcodes, grouped by error code.
pub mod subcode {
    /// Message Header Error subcodes (RFC 4271 §6.1).
    pub mod header {
        /// Connection Not Synchronized (bad marker).
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        /// Bad Message Length.
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        /// Bad Message Type.
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492, RFC 9234).
    pub mod open {
        /// Unspecific (malformed optional parameters, RFC 9072 §3).
        pub const UNSPECIFIC: u8 = 0;
        /// Unsupported Version Number.
        pub const UNSUPPORTED_VERSION: u8 = 1;
        /// Bad Peer AS.
        pub const BAD_PEER_AS: u8 = 2;
        /// Bad BGP Identifier.
        pub const BAD_BGP_IDENTIFIER: u8 = 3;
        /// Unsupported Optional Parameter.
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        /// Unacceptable Hold Time.
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        /// Unsupported Capability (RFC 5492 §5).
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
        /// Role Mismatch (RFC 9234 §4.2).
        pub const ROLE_MISMATCH: u8 = 11;
    }
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    pub mod update {
        /// Malformed Attribute List.
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        /// Unrecognized Well-known Attribute.
        pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
        /// Missing Well-known Attribute.
        pub const MISSING_WELL_KNOWN: u8 = 3;
        /// Attribute Flags Error.
        pub const ATTRIBUTE_FLAGS: u8 = 4;
        /// Attribute Length Error.
        pub const ATTRIBUTE_LENGTH: u8 = 5;
        /// Invalid ORIGIN Attribute.
        pub const INVALID_ORIGIN: u8 = 6;
        /// Invalid NEXT_HOP Attribute.
        pub const INVALID_NEXT_HOP: u8 = 8;
        /// Optional Attribute Error.
        pub const OPTIONAL_ATTRIBUTE: u8 = 9;
        /// Invalid Network Field.
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        /// Malformed AS_PATH.
        pub const MALFORMED_AS_PATH: u8 = 11;
    }
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    pub mod route_refresh {
        /// Invalid Message Length.
        pub const INVALID_MESSAGE_LENGTH: u8 = 1;
    }
}

/// What RFC 7606 says to do with an error, ordered from mildest to worst, so that when
/// one UPDATE has several errors the worst wins (`max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// RFC 7606 §2 "attribute discard": drop the attribute, keep the route.
    AttributeDiscard,
    /// RFC 7606 §2 "treat-as-withdraw": every prefix in the UPDATE is withdrawn.
    TreatAsWithdraw,
    /// RFC 7606 §2 "AFI/SAFI disable": stop using this address family on the session.
    AfiSafiDisable,
    /// RFC 7606 §2 "session reset" (RFC 4271 behaviour): send the NOTIFICATION and close.
    SessionReset,
}

/// What went wrong, in detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The 16-octet marker is not all ones (RFC 4271 §6.1).
    #[error("marker is not all ones")]
    BadMarker,
    /// The header's length field is out of range for the message (RFC 4271 §6.1).
    #[error("bad message length {0}")]
    BadLength(u16),
    /// Unknown message type (RFC 4271 §6.1).
    #[error("unknown message type {0}")]
    BadType(u8),
    /// The input ended before the structure did.
    #[error("truncated: {what} needs {needed} more octets")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// How many more octets it needed.
        needed: usize,
    },
    /// Bytes were left over after a structure that must fill its container.
    #[error("{0} trailing octets")]
    Trailing(usize),
    /// OPEN version is not 4.
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    /// Malformed optional parameters in an OPEN (RFC 9072 §3).
    #[error("malformed optional parameters: {0}")]
    BadOptionalParameters(&'static str),
    /// A capability whose value does not match its definition.
    #[error("malformed capability {code}: {reason}")]
    BadCapability {
        /// Capability code.
        code: u8,
        /// Why.
        reason: &'static str,
    },
    /// An optional parameter other than Capabilities (RFC 5492).
    #[error("unsupported optional parameter {0}")]
    UnsupportedOptionalParameter(u8),
    /// The OPEN's hold time is 1 or 2 (RFC 4271 §6.2).
    #[error("unacceptable hold time {0}")]
    UnacceptableHoldTime(u16),
    /// The BGP identifier is zero (RFC 6286 §2.2).
    #[error("bad BGP identifier")]
    BadBgpIdentifier,
    /// Withdrawn Routes Length or Total Path Attribute Length overruns the message
    /// (RFC 4271 §6.3, RFC 7606 §4).
    #[error("UPDATE lengths inconsistent: {0}")]
    BadUpdateLengths(&'static str),
    /// A prefix length longer than the address, or a prefix overrunning its field
    /// (RFC 7606 §5.3).
    #[error("invalid NLRI: {0}")]
    BadNlri(&'static str),
    /// An attribute header or value runs past the path attributes field (RFC 7606 §4).
    #[error("attribute overruns the path attribute field")]
    AttributeOverrun,
    /// Optional/transitive flags conflict with the attribute type (RFC 7606 §3c).
    #[error("attribute {0}: flags conflict with its type")]
    AttributeFlags(u8),
    /// An attribute's length is wrong for its type.
    #[error("attribute {type_code}: bad length {len}")]
    AttributeLength {
        /// Attribute type code.
        type_code: u8,
        /// The length found.
        len: usize,
    },
    /// ORIGIN value not 0, 1 or 2.
    #[error("invalid ORIGIN {0}")]
    InvalidOrigin(u8),
    /// AS_PATH (or AS4_PATH) segment structure is broken.
    #[error("malformed AS_PATH: {0}")]
    MalformedAsPath(&'static str),
    /// NEXT_HOP is not a usable address.
    #[error("invalid NEXT_HOP")]
    InvalidNextHop,
    /// An optional attribute whose value is malformed.
    #[error("attribute {type_code}: {reason}")]
    OptionalAttribute {
        /// Attribute type code.
        type_code: u8,
        /// Why.
        reason: &'static str,
    },
    /// An unknown attribute marked well-known (RFC 4271 §6.3).
    #[error("unrecognized well-known attribute {0}")]
    UnrecognizedWellKnown(u8),
    /// A well-known mandatory attribute is missing (RFC 7606 §3d).
    #[error("missing well-known attribute {0}")]
    MissingWellKnown(u8),
    /// An attribute appears twice (RFC 7606 §3g).
    #[error("attribute {0} appears more than once")]
    DuplicateAttribute(u8),
    /// MP_REACH_NLRI or MP_UNREACH_NLRI is malformed (RFC 7606 §7.11).
    #[error("malformed MP attribute for {afi_safi}: {reason}")]
    BadMpAttribute {
        /// The address family it announced.
        afi_safi: AfiSafi,
        /// Why.
        reason: &'static str,
    },
    /// A ROUTE-REFRESH message has the wrong length (RFC 7313 §5).
    #[error("ROUTE-REFRESH length {0}")]
    BadRouteRefreshLength(u16),
    /// A NOTIFICATION's shutdown communication is malformed (RFC 9003 §2).
    #[error("bad shutdown communication")]
    BadShutdownCommunication,
    /// An MRT record is malformed (RFC 6396).
    #[error("MRT: {0}")]
    Mrt(&'static str),
}

/// A decode error: the facts an operator and the session need.
///
/// `code`, `subcode` and `data` are what RFC 4271 §6 prescribes for the NOTIFICATION;
/// `action` is what RFC 7606 prescribes. For `AttributeDiscard` and `TreatAsWithdraw`,
/// `salvaged` holds the UPDATE with the bad attributes removed: use its prefixes as
/// announcements (discard) or as withdrawals (treat-as-withdraw).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {offset}: {kind} (NOTIFICATION {code}/{subcode}, {action:?})")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte offset of the fault from the start of the message (header included).
    pub offset: usize,
    /// NOTIFICATION error code.
    pub code: u8,
    /// NOTIFICATION error subcode.
    pub subcode: u8,
    /// NOTIFICATION data, as RFC 4271 §6 prescribes for this error.
    pub data: Bytes,
    /// The RFC 7606 action (worst across the message).
    pub action: Action,
    /// The UPDATE left after removing bad attributes, for the two non-fatal actions.
    pub salvaged: Option<Box<Update>>,
    /// Further non-fatal errors in the same UPDATE (attributes discarded, and so on).
    pub others: Vec<DecodeError>,
}

impl DecodeError {
    /// A fatal error (session reset) with the given NOTIFICATION.
    pub fn new(kind: ErrorKind, offset: usize, code: u8, subcode: u8, data: Bytes) -> Self {
        DecodeError {
            kind,
            offset,
            code,
            subcode,
            data,
            action: Action::SessionReset,
            salvaged: None,
            others: Vec::new(),
        }
    }

    /// Sets the RFC 7606 action.
    pub fn with_action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }

    /// A truncation, reported with the subcode that fits where it happened.
    pub(crate) fn truncated(what: &'static str, needed: usize, offset: usize, code: u8, sub: u8) -> Self {
        DecodeError::new(ErrorKind::Truncated { what, needed }, offset, code, sub, Bytes::new())
    }

    /// The prefixes to withdraw under treat-as-withdraw, or to install under attribute
    /// discard; `None` when the session must be reset or the family disabled.
    pub fn salvaged_update(&self) -> Option<&Update> {
        self.salvaged.as_deref()
    }
}

/// Shorthand for `Result<T, DecodeError>`.
pub type Result<T> = std::result::Result<T, DecodeError>;

/// An error while encoding: the value cannot be represented on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message would exceed the negotiated maximum length.
    #[error("message of {len} octets exceeds the maximum {max}")]
    TooLong {
        /// The length it would have.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field's value does not fit its wire field.
    #[error("{0} does not fit its field")]
    FieldOverflow(&'static str),
    /// An ASN above 65535 on a session without 4-octet AS and no AS_TRANS fallback.
    #[error("value not representable: {0}")]
    NotRepresentable(&'static str),
}
