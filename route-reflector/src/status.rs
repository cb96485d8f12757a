//! What `status` and `routes` show: JSON rows built in the daemon, tables printed by
//! the CLI.

use crate::config::GroupType;
use crate::daemon::{group_of, Daemon};
use bgp_speaker::driver::NeighborKind;
use bgp_speaker::rib::{PeerId, Prefix};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// One peer, as `status --json` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRow {
    /// Address.
    pub address: IpAddr,
    /// AS, once known.
    pub asn: Option<u32>,
    /// `client`, `non-client`, or `dynamic` (accepted from a range).
    #[serde(rename = "type")]
    pub kind: String,
    /// Route-reflector client.
    pub rr_client: bool,
    /// The configuration group.
    pub group: Option<String>,
    /// Session state (`Established`, `Active`, ...).
    pub state: String,
    /// Unix time (seconds) of the last state change.
    pub since: u64,
    /// Paths received.
    pub received: u64,
    /// Paths accepted by import policy and loop checks.
    pub accepted: u64,
    /// Paths advertised to it.
    pub advertised: u64,
    /// Times the session went down.
    pub flaps: u64,
    /// UPDATE messages received, over all its sessions.
    #[serde(default)]
    pub updates_received: u64,
    /// UPDATE messages sent to it, over all its sessions.
    #[serde(default)]
    pub updates_sent: u64,
    /// Last NOTIFICATION.
    pub last_error: Option<String>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Every peer, sorted by address.
pub async fn peer_rows(d: &Daemon) -> Result<Vec<PeerRow>, String> {
    let peers = d.handle.peers().await.map_err(|e| e.to_string())?;
    let cfg = d.config.lock().await;
    let mut rows: Vec<PeerRow> = peers
        .into_iter()
        .map(|p| {
            let g = group_of(&cfg, p.address, p.kind);
            let kind = match (p.kind, g.map(|g| g.kind)) {
                (NeighborKind::Dynamic, _) => "dynamic",
                (_, Some(GroupType::NonClient)) => "non-client",
                (_, Some(GroupType::Client)) => "client",
                (_, None) if p.rr_client => "client",
                (_, None) => "non-client",
            };
            PeerRow {
                address: p.address,
                asn: p.asn,
                kind: kind.into(),
                rr_client: p.rr_client,
                group: g.map(|g| g.name.clone()),
                state: p.state,
                since: unix(p.since),
                received: p.counts.received,
                accepted: p.counts.accepted,
                advertised: p.advertised,
                flaps: p.flaps,
                updates_received: p.updates_received,
                updates_sent: p.updates_sent,
                last_error: p.last_error,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.address);
    Ok(rows)
}

fn ago(since: u64) -> String {
    let now = unix(SystemTime::now());
    let s = now.saturating_sub(since);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// The `status` table.
pub fn peer_table(rows: &[PeerRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<39} {:>10} {:<10} {:<16} {:<12} {:>6} {:>9} {:>10} {:>5}",
        "ADDRESS", "AS", "TYPE", "GROUP", "STATE", "SINCE", "RECEIVED", "ADVERTISED", "FLAPS"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<39} {:>10} {:<10} {:<16} {:<12} {:>6} {:>9} {:>10} {:>5}",
            r.address.to_string(),
            r.asn.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            r.kind,
            r.group.as_deref().unwrap_or("-"),
            r.state,
            ago(r.since),
            r.received,
            r.advertised,
            r.flaps
        );
    }
    out
}

/// Routes as JSON: `[{prefix, paths: [{from, best, ecmp, stale, rejected, path_id, attrs}]}]`.
pub async fn routes_json(d: &Daemon, prefix: Option<Prefix>) -> Result<serde_json::Value, String> {
    let peers = d.handle.peers().await.map_err(|e| e.to_string())?;
    let names: HashMap<PeerId, IpAddr> = peers.iter().filter_map(|p| Some((p.rib_id?, p.address))).collect();
    let routes = d.handle.routes(prefix).await.map_err(|e| e.to_string())?;
    let v: Vec<serde_json::Value> = routes
        .into_iter()
        .filter(|(_, paths)| !paths.is_empty())
        .map(|(p, paths)| {
            let paths: Vec<serde_json::Value> = paths
                .iter()
                .map(|r| {
                    let from = if r.route.peer == PeerId::LOCAL {
                        "local".to_string()
                    } else {
                        names
                            .get(&r.route.peer)
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| format!("peer#{}", r.route.peer.0))
                    };
                    serde_json::json!({
                        "from": from,
                        "best": r.best,
                        "ecmp": r.ecmp,
                        "stale": r.stale,
                        "rejected": r.rejected,
                        "path_id": r.route.path_id,
                        "attrs": &*r.route.attrs,
                    })
                })
                .collect();
            serde_json::json!({ "prefix": p.to_string(), "paths": paths })
        })
        .collect();
    Ok(serde_json::Value::Array(v))
}

/// The `routes` table, from the JSON above.
pub fn routes_table(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<3} {:<43} {:<39} {:<39} {:<24} FLAGS", "", "PREFIX", "FROM", "NEXT HOP", "AS PATH");
    for r in v.as_array().into_iter().flatten() {
        let prefix = r["prefix"].as_str().unwrap_or("");
        for p in r["paths"].as_array().into_iter().flatten() {
            let mark = if p["best"] == true {
                "*>"
            } else if p["ecmp"] == true {
                "*="
            } else {
                ""
            };
            let nh = match &p["attrs"]["next_hop"] {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                x => compact(x),
            };
            let mut flags = Vec::new();
            if p["stale"] == true {
                flags.push("stale");
            }
            if p["rejected"] == true {
                flags.push("rejected");
            }
            let _ = writeln!(
                out,
                "{:<3} {:<43} {:<39} {:<39} {:<24} {}",
                mark,
                prefix,
                p["from"].as_str().unwrap_or(""),
                nh,
                compact(&p["attrs"]["as_path"]),
                flags.join(",")
            );
        }
    }
    out
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) if m.len() == 1 => compact(m.values().next().expect("one value")),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(" "),
        serde_json::Value::Null => String::new(),
        x => x.to_string(),
    }
}
