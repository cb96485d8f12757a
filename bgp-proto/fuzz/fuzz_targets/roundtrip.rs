//! decode -> encode -> decode: whatever decodes must encode (or be refused as too long)
//! and decode again to the same message.
#![no_main]

use bgp_proto::Message;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((dctx, ectx, msg)) = common::split(data) else { return };
    let Ok(m) = Message::decode(msg, &dctx) else { return };
    let mut out = BytesMut::new();
    if m.encode(&ectx, &mut out).is_err() {
        return;
    }
    let again = Message::decode(&out, &dctx)
        .unwrap_or_else(|e| panic!("re-encoded message does not decode: {e}\nfirst: {m:?}\nbytes: {out:02x?}"));
    assert_eq!(m, again, "round trip changed the message; bytes: {out:02x?}");
});
