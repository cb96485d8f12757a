//! What the OPEN exchange negotiated, as the decoder and encoder need it.

use crate::capability::Capability;
use crate::open::Open;
use crate::types::{AfiSafi, FamilySet};

/// The largest BGP message without the extended message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The largest BGP message with the extended message capability (RFC 8654 §4).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Context for decoding messages received on a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DecodeCtx {
    /// Both sides advertised 4-octet AS support (RFC 6793): AS_PATH carries 4-octet ASNs.
    pub four_octet_as: bool,
    /// Families in which the peer sends path identifiers (RFC 7911 §4: we advertised
    /// receive, the peer advertised send).
    pub add_path: FamilySet,
    /// Extended messages negotiated (RFC 8654): frames up to 65535 octets.
    pub extended_message: bool,
    /// The peer is external (eBGP). Governs RFC 7606 §7.5 (LOCAL_PREF from an external
    /// peer is discarded).
    pub external: bool,
    /// IPv4 families in which the peer may send an IPv6 next hop: those we advertised
    /// the Extended Next Hop Encoding capability for (RFC 8950 §4). Elsewhere a 16- or
    /// 32-octet next hop for IPv4 NLRI is malformed (RFC 8950 §3, RFC 7606 §7.11).
    pub extended_next_hop: FamilySet,
}

impl Default for DecodeCtx {
    /// The most common modern session: 4-octet AS, no ADD-PATH, 4096-octet messages, iBGP.
    fn default() -> Self {
        DecodeCtx {
            four_octet_as: true,
            add_path: FamilySet::new(),
            extended_message: false,
            external: false,
            extended_next_hop: FamilySet::new(),
        }
    }
}

impl DecodeCtx {
    /// The largest frame accepted on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether the peer sends path identifiers in `family`.
    #[inline]
    pub fn add_path(&self, family: AfiSafi) -> bool {
        !self.add_path.is_empty() && self.add_path.contains(family)
    }

    /// Whether the peer may send IPv4 NLRI of `family` with an IPv6 next hop (RFC 8950).
    #[inline]
    pub fn extended_next_hop(&self, family: AfiSafi) -> bool {
        !self.extended_next_hop.is_empty() && self.extended_next_hop.contains(family)
    }
}

/// Context for encoding messages to send on a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodeCtx {
    /// Encode AS_PATH with 4-octet ASNs (RFC 6793). When false, ASNs above 65535 become
    /// AS_TRANS and an AS4_PATH is expected alongside.
    pub four_octet_as: bool,
    /// Families in which we send path identifiers (we advertised send, the peer receive).
    pub add_path: FamilySet,
    /// Extended messages negotiated (RFC 8654).
    pub extended_message: bool,
    /// IPv4 NLRI may be sent with an IPv6 next hop (RFC 8950).
    pub extended_next_hop: bool,
}

impl Default for EncodeCtx {
    fn default() -> Self {
        EncodeCtx { four_octet_as: true, add_path: FamilySet::new(), extended_message: false, extended_next_hop: false }
    }
}

impl EncodeCtx {
    /// The largest message we may send on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether we send path identifiers in `family`.
    #[inline]
    pub fn add_path(&self, family: AfiSafi) -> bool {
        !self.add_path.is_empty() && self.add_path.contains(family)
    }
}

/// Derives the decode and encode contexts of a session from the OPEN we sent and the
/// OPEN we received (RFC 5492 §3: a capability is in force when both sides advertise it).
pub fn negotiate(local: &Open, remote: &Open, external: bool) -> (DecodeCtx, EncodeCtx) {
    let four = local.four_octet_asn().is_some() && remote.four_octet_asn().is_some();
    let ext_msg = local.has_capability(|c| matches!(c, Capability::ExtendedMessage))
        && remote.has_capability(|c| matches!(c, Capability::ExtendedMessage));
    let mut rx = FamilySet::new();
    let mut tx = FamilySet::new();
    // RFC 7911 §4: we receive path IDs for a family when we said Receive and the peer
    // said Send; we send them when we said Send and the peer said Receive.
    for (fam, lmode) in local.add_path_modes() {
        if let Some(rmode) = remote.add_path_modes().into_iter().find(|(f, _)| *f == fam).map(|(_, m)| m) {
            if lmode.receives() && rmode.sends() {
                rx.insert(fam);
            }
            if lmode.sends() && rmode.receives() {
                tx.insert(fam);
            }
        }
    }
    // RFC 8950: we may send IPv4 NLRI with an IPv6 next hop when the peer advertised it
    // can receive them.
    let enh = remote.has_capability(
        |c| matches!(c, Capability::ExtendedNextHop(v) if v.iter().any(|e| e.nlri == AfiSafi::IPV4_UNICAST)),
    );
    // RFC 8950 §4: the peer may send IPv4 NLRI with an IPv6 next hop in the families we
    // advertised the capability for (the advertiser is the receiver).
    let mut enh_rx = FamilySet::new();
    for c in local.capabilities() {
        if let Capability::ExtendedNextHop(v) = c {
            for e in
                v.iter().filter(|e| e.nlri.afi == crate::types::Afi::IPV4 && e.next_hop_afi == crate::types::Afi::IPV6)
            {
                enh_rx.insert(e.nlri);
            }
        }
    }
    (
        DecodeCtx { four_octet_as: four, add_path: rx, extended_message: ext_msg, external, extended_next_hop: enh_rx },
        EncodeCtx { four_octet_as: four, add_path: tx, extended_message: ext_msg, extended_next_hop: enh },
    )
}
