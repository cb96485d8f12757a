//! BGP-4 wire codec (RFC 4271 and its extensions), free of any I/O.
//!
//! - [`frame`] cuts a byte stream into messages; [`Message::decode`] and
//!   [`Message::encode`] convert one message, under a [`DecodeCtx`] / [`EncodeCtx`]
//!   that carry what the OPEN exchange negotiated ([`negotiate`]).
//! - Errors ([`DecodeError`]) carry the byte offset, the NOTIFICATION RFC 4271 §6
//!   prescribes, and the RFC 7606 [`Action`]; for the non-fatal actions they also carry
//!   the salvaged UPDATE.
//! - [`UpdateBuilder`] packs prefixes into as few UPDATEs as the size limit allows.
//! - [`mrt`] reads and writes MRT (RFC 6396).
//!
//! ```
//! use bgp_proto::{Message, DecodeCtx, EncodeCtx, Update, Attribute, AttrValue, Origin, AsPath, Nlri};
//! let u = Update {
//!     attributes: bgp_proto::smallvec::smallvec![
//!         Attribute::new(AttrValue::Origin(Origin::Igp)),
//!         Attribute::new(AttrValue::AsPath(AsPath::from_sequence([64512]))),
//!         Attribute::new(AttrValue::NextHop("198.18.0.1".parse().unwrap())),
//!     ],
//!     nlri: bgp_proto::smallvec::smallvec![Nlri::new("10.244.1.0/26".parse().unwrap())],
//!     ..Default::default()
//! };
//! let bytes = Message::Update(u.clone()).to_bytes(&EncodeCtx::default()).unwrap();
//! let len = bgp_proto::frame(&bytes, 4096).unwrap().unwrap();
//! assert_eq!(Message::decode(&bytes[..len], &DecodeCtx::default()).unwrap(), Message::Update(u));
//! ```
#![warn(missing_docs)]

pub mod as4;
pub mod attr;
mod builder;
pub mod capability;
mod ctx;
pub mod error;
pub mod header;
mod message;
pub mod mrt;
pub mod nlri;
pub mod notification;
mod open;
mod reader;
mod route_refresh;
pub mod types;
mod update;
mod update_small;

pub use attr::{
    AsPath, AsSegment, AttrValue, Attribute, Community, ExtendedCommunity, LargeCommunity, MpNlri, MpReach, MpUnreach,
    NextHop, Origin, SegmentKind,
};
pub use builder::{Prefixes, UpdateBuilder};
pub use capability::Capability;
pub use ctx::{negotiate, DecodeCtx, EncodeCtx, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
pub use error::{Action, DecodeError, EncodeError, ErrorKind};
pub use header::{frame, HEADER_LEN};
pub use message::Message;
pub use nlri::Nlri;
pub use notification::Notification;
pub use open::{Open, OptionalParameter, AS_TRANS};
pub use route_refresh::{RefreshSubtype, RouteRefresh};
/// The inline vector type of [`Update`]'s fields, re-exported for its `smallvec!` macro.
pub use smallvec;
pub use types::{Afi, AfiSafi, FamilySet, Safi};
pub use update::{Attributes, NlriList, Update, INLINE_ATTRIBUTES};
