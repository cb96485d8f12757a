//! How many of a node's mesh sessions are Established, asked over its control socket
//! directly (no CLI process per question): our speaker's JSON line protocol
//! (`{"cmd":"status"}`), BIRD's CLI protocol (`show protocols`, reply ends with `0000`).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::topo::Impl;

/// Established mesh sessions of the speaker behind `socket`.
pub fn established(imp: Impl, socket: &Path) -> io::Result<usize> {
    let s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    match imp {
        Impl::Ours => {
            w.write_all(b"{\"cmd\":\"status\"}\n")?;
            r.read_line(&mut line)?;
            let v: serde_json::Value = serde_json::from_str(&line).map_err(io::Error::other)?;
            Ok(v["data"]["ipv4"].as_array().into_iter().flatten().filter(|p| p["state"] == "up").count())
        }
        Impl::Bird => {
            r.read_line(&mut line)?; // 0001 BIRD 2.0.12 ready.
            w.write_all(b"show protocols\n")?;
            let mut up = 0;
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    return Err(io::Error::other("BIRD closed the CLI socket"));
                }
                if line.starts_with("0000") || line.starts_with("8") || line.starts_with("9") {
                    break;
                }
                if line.contains("Mesh_") && line.contains("Established") {
                    up += 1;
                }
            }
            Ok(up)
        }
    }
}
