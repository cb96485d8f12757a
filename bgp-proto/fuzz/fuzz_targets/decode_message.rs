//! Decodes any message under any session context and walks the result, including the
//! UPDATE salvaged from an RFC 7606 error.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((ctx, _, msg)) = common::split(data) else { return };
    let _ = bgp_proto::frame(msg, ctx.max_message_len());
    match bgp_proto::Message::decode(msg, &ctx) {
        Ok(m) => common::walk_message(&m),
        Err(e) => {
            let _ = format!("{e:?} {e}");
            let _ = (e.offset, e.code, e.subcode, e.action);
            if let Some(u) = &e.salvaged {
                common::walk_update(u);
            }
            for o in &e.others {
                let _ = format!("{o}");
            }
        }
    }
});
