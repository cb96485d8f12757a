//! Checks on the peer's OPEN (RFC 4271 §6.2, RFC 5492 §5, RFC 6286 §2.2, RFC 9234 §4.2).
//! The codec already rejected a bad version (2/1) and malformed parameters (2/0).

use super::config::SessionConfig;
use bgp_proto::error::{code, subcode::open as sub};
use bgp_proto::{Capability, Notification, Open, OptionalParameter};
use bytes::BytesMut;
use std::net::Ipv4Addr;

fn open_error(subcode: u8, data: impl Into<bytes::Bytes>) -> Notification {
    Notification::new(code::OPEN_MESSAGE, subcode, data)
}

/// Checks `peer` against the configuration and our OPEN; the error is the
/// NOTIFICATION to send.
pub fn check_open(cfg: &SessionConfig, local: &Open, peer: &Open) -> Result<(), Notification> {
    // RFC 5492 §5 / RFC 4271 §6.2: an optional parameter we do not recognize.
    if peer.params.iter().any(|p| matches!(p, OptionalParameter::Unknown { .. })) {
        return Err(open_error(sub::UNSUPPORTED_OPTIONAL_PARAMETER, bytes::Bytes::new()));
    }
    // RFC 4271 §6.2: Bad Peer AS (the 4-octet capability's ASN when present, RFC 6793 §4.1).
    let asn = peer.asn();
    if !cfg.peer_as.accepts(asn) {
        return Err(open_error(sub::BAD_PEER_AS, bytes::Bytes::new()));
    }
    // RFC 4271 §6.2: hold time must be 0 or at least 3 seconds. The data field is
    // unspecified; we send none.
    if peer.hold_time == 1 || peer.hold_time == 2 {
        return Err(open_error(sub::UNACCEPTABLE_HOLD_TIME, bytes::Bytes::new()));
    }
    // RFC 6286 §2.2: non-zero, and unique within the AS for iBGP.
    if peer.bgp_id == Ipv4Addr::UNSPECIFIED || (cfg.is_internal(asn) && peer.bgp_id == cfg.router_id) {
        return Err(open_error(sub::BAD_BGP_IDENTIFIER, bytes::Bytes::new()));
    }
    // RFC 5492 §5: Unsupported Capability, listing the capabilities we require that the
    // peer did not advertise, as they appear in our OPEN.
    let mut missing = BytesMut::new();
    for &c in &cfg.required_capabilities {
        if !peer.has_capability(|p| p.code() == c) {
            match local.capabilities().find(|l| l.code() == c) {
                Some(l) => {
                    let _ = l.encode(&mut missing);
                }
                None => missing.extend_from_slice(&[c, 0]),
            }
        }
    }
    if !missing.is_empty() {
        return Err(open_error(sub::UNSUPPORTED_CAPABILITY, missing.freeze()));
    }
    // RFC 9234 §4.2: roles apply to eBGP only.
    if let (Some(role), false) = (cfg.role, cfg.is_internal(asn)) {
        let roles: Vec<u8> = peer
            .capabilities()
            .filter_map(|c| match c {
                Capability::Role(r) => Some(*r),
                _ => None,
            })
            .collect();
        let mismatch = match roles.first() {
            None => cfg.strict_role,
            // Several Role capabilities with different values are a mismatch too.
            Some(&r) => r != role.expected_peer_role().code() || roles.iter().any(|&x| x != r),
        };
        if mismatch {
            return Err(open_error(sub::ROLE_MISMATCH, bytes::Bytes::new()));
        }
    }
    Ok(())
}
