//! `dump --mrt`: the RIB (every path, rejected ones excepted) as MRT TABLE_DUMP_V2
//! (RFC 6396 §4.3), with the RFC 8050 ADD-PATH subtypes so several paths of a peer fit.

use crate::daemon::Daemon;
use bgp_proto::attr::{AttrValue, Attribute, MpNlri, MpReach, NextHop};
use bgp_proto::mrt::{MrtWriter, PeerEntry, PeerIndexTable, RibEntry, RibPrefix, RibRecord};
use bgp_proto::EncodeCtx;
use bgp_speaker::rib::PeerId;
use std::collections::HashMap;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Writes the dump to `path` (through a temporary file, renamed when complete).
pub async fn dump(d: &Daemon, path: &Path) -> Result<String, String> {
    if !path.is_absolute() {
        return Err(format!("{}: the path must be absolute", path.display()));
    }
    let peers = d.handle.peers().await.map_err(|e| e.to_string())?;
    let routes = d.handle.routes(None).await.map_err(|e| e.to_string())?;
    let (asn, router_id) = {
        let c = d.config.lock().await;
        (c.asn, c.router_id)
    };
    let mut index: HashMap<PeerId, u16> = HashMap::new();
    let mut table = PeerIndexTable { collector_bgp_id: router_id, view_name: String::new(), peers: Vec::new() };
    table.peers.push(PeerEntry { bgp_id: router_id, ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), asn });
    index.insert(PeerId::LOCAL, 0);
    for p in &peers {
        if let Some(id) = p.rib_id {
            index.insert(id, table.peers.len() as u16);
            // RFC 6396 §4.3.1: the peer's BGP identifier, from its last OPEN.
            let bgp_id = p.bgp_id.unwrap_or(Ipv4Addr::UNSPECIFIED);
            table.peers.push(PeerEntry { bgp_id, ip: p.address, asn: p.asn.unwrap_or(0) });
        }
    }
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0);
    let tmp = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = MrtWriter::new(BufWriter::new(f));
    w.write_peer_index_table(now, &table).map_err(|e| e.to_string())?;
    let ctx = EncodeCtx::default();
    let mut n = 0u32;
    for (prefix, paths) in &routes {
        let entries: Vec<RibEntry> = paths
            .iter()
            .filter(|r| !r.rejected)
            .filter_map(|r| {
                let v4 = prefix.is_v4();
                let mut attributes = r.route.attrs.to_attributes(&ctx, v4);
                if !v4 {
                    let next_hop = r.route.attrs.next_hop.clone().unwrap_or(NextHop::Raw(Default::default()));
                    let family = prefix.family();
                    let m = MpReach { family, next_hop, nlri: MpNlri::Ipv6(Vec::new()) };
                    attributes.insert(0, Attribute::new(AttrValue::MpReach(Box::new(m))));
                }
                Some(RibEntry {
                    peer_index: *index.get(&r.route.peer)?,
                    peer: None,
                    originated_time: now,
                    path_id: Some(r.route.path_id),
                    attributes,
                    errors: Vec::new(),
                })
            })
            .collect();
        if entries.is_empty() {
            continue;
        }
        let rec = RibRecord { sequence: n, family: prefix.family(), prefix: RibPrefix::Ip((*prefix).into()), entries };
        w.write_rib(now, &rec, true).map_err(|e| format!("{prefix}: {e}"))?;
        n += 1;
    }
    w.flush().map_err(|e| e.to_string())?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("{n} prefixes written to {}", path.display()))
}
