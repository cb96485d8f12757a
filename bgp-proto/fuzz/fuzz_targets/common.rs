//! Shared by the targets: the session context taken from the first input octet.
#![allow(dead_code)]

use bgp_proto::{DecodeCtx, EncodeCtx, FamilySet, Message, Update};

/// Splits the input into a decode context (first octet: bit 0 four-octet AS, bit 1
/// ADD-PATH in every typed family, bit 2 extended messages, bit 3 external peer, bit 4
/// IPv6 next hops for IPv4 NLRI) and the message bytes.
pub fn split(data: &[u8]) -> Option<(DecodeCtx, EncodeCtx, &[u8])> {
    let (&b, msg) = data.split_first()?;
    let add_path = if b & 2 != 0 { FamilySet::all_typed() } else { FamilySet::new() };
    let d = DecodeCtx {
        four_octet_as: b & 1 != 0,
        add_path: add_path.clone(),
        extended_message: b & 4 != 0,
        external: b & 8 != 0,
        extended_next_hop: if b & 16 != 0 { FamilySet::all_typed() } else { FamilySet::new() },
    };
    let e = EncodeCtx {
        four_octet_as: d.four_octet_as,
        add_path,
        extended_message: d.extended_message,
        extended_next_hop: b & 16 != 0,
    };
    Some((d, e, msg))
}

/// Touches everything a caller might look at in an UPDATE.
pub fn walk_update(u: &Update) {
    let _ = u.announced_v4().count();
    let _ = u.announced_v6().count();
    let _ = u.withdrawn_v4().count();
    let _ = u.withdrawn_v6().count();
    let _ = u.effective_as_path().map(|p| (p.path_len(), p.first_as(), p.origin_as()));
    let _ = u.as_end_of_rib();
    let _ = u.has_reachable();
    let _ = u.next_hop_v4_field();
    let _ = u.mp_next_hop();
    let _ = serde_json::to_string(u).expect("UPDATE serializes");
}

pub fn walk_message(m: &Message) {
    let _ = format!("{m:?}");
    let _ = serde_json::to_string(m).expect("message serializes");
    if let Message::Update(u) = m {
        walk_update(u);
    }
}
