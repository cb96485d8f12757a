//! Prometheus metrics over a minimal HTTP/1.0 responder: every request gets the text
//! exposition format, whatever its path.

use crate::daemon::Daemon;
use crate::status::peer_rows;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves metrics until the listener fails.
pub async fn serve(l: TcpListener, d: Arc<Daemon>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let d = d.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            // Read the request head (ignored), with a bound on time.
            let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
            let body = render(&d).await;
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

/// Resident memory from /proc/self/status (VmRSS), bytes.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The exposition text.
pub async fn render(d: &Daemon) -> String {
    let mut o = String::new();
    let rows = peer_rows(d).await.unwrap_or_default();
    let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
    for s in ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"] {
        by_state.insert(s, 0);
    }
    for r in &rows {
        *by_state.entry(r.state.as_str()).or_default() += 1;
    }
    let _ = writeln!(o, "# HELP rr_sessions Neighbours by session state.\n# TYPE rr_sessions gauge");
    for (s, n) in &by_state {
        let _ = writeln!(o, "rr_sessions{{state=\"{s}\"}} {n}");
    }
    type Field = fn(&crate::status::PeerRow) -> u64;
    let per_peer: [(&str, &str, Field); 5] = [
        ("rr_peer_prefixes_received", "Paths received from the peer.", |r| r.received),
        ("rr_peer_prefixes_advertised", "Paths advertised to the peer.", |r| r.advertised),
        ("rr_peer_flaps_total", "Times the session went down.", |r| r.flaps),
        ("rr_peer_updates_received_total", "UPDATE messages received from the peer.", |r| r.updates_received),
        ("rr_peer_updates_sent_total", "UPDATE messages sent to the peer.", |r| r.updates_sent),
    ];
    for (name, help, f) in per_peer {
        let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for r in &rows {
            let g = r.group.as_deref().unwrap_or("");
            let _ = writeln!(o, "{name}{{peer=\"{}\",group=\"{g}\",type=\"{}\"}} {}", r.address, r.kind, f(r));
        }
    }
    let last = d.last_change_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    let _ = writeln!(
        o,
        "# HELP rr_last_change_timestamp_seconds Unix time of the last Loc-RIB change (converged since).\n\
         # TYPE rr_last_change_timestamp_seconds gauge\nrr_last_change_timestamp_seconds {last:.3}"
    );
    let batches = d.change_batches.load(Ordering::Relaxed);
    let _ = writeln!(
        o,
        "# HELP rr_rib_change_batches_total Loc-RIB change batches exported.\n\
         # TYPE rr_rib_change_batches_total counter\nrr_rib_change_batches_total {batches}"
    );
    if let Some(b) = rss_bytes() {
        let _ = writeln!(
            o,
            "# HELP process_resident_memory_bytes Resident memory (VmRSS).\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {b}"
        );
    }
    o
}
