//! Reads an MRT stream to the end, printing every record and error as JSON.
#![no_main]

use bgp_proto::mrt::MrtReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = MrtReader::new(data);
    for item in r.by_ref() {
        match item {
            Ok(rec) => {
                let _ = format!("{rec:?}");
                let _ = serde_json::to_string(&rec).expect("record serializes");
            }
            Err(e) => {
                let _ = format!("{e:?}");
            }
        }
    }
    let _ = r.peer_index().map(|p| p.len());
});
