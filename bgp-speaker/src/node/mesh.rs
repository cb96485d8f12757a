//! The node's neighbours: the node-to-node mesh (one-directional as Calico renders
//! it), global and node-specific peers, as driver [`NeighborConfig`]s.

use super::advertise::{export_policy, import_policy};
use super::config::{NextHopSetting, NodeConfig, Peer};
use crate::rib::NextHopMode;
use crate::session::{FamilyConfig, GracefulRestartConfig, PeerAs};
use crate::NeighborConfig;
use bgp_proto::AfiSafi;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// The PEER TYPE column of `calicoctl node status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PeerType {
    /// A mesh member.
    #[serde(rename = "node-to-node mesh")]
    Mesh,
    /// A global BGPPeer.
    #[serde(rename = "global")]
    Global,
    /// A BGPPeer for this node only.
    #[serde(rename = "node specific")]
    NodeSpecific,
}

impl PeerType {
    /// As `calicoctl node status` prints it.
    pub fn label(self) -> &'static str {
        match self {
            PeerType::Mesh => "node-to-node mesh",
            PeerType::Global => "global",
            PeerType::NodeSpecific => "node specific",
        }
    }
}

/// A neighbour the node wants, with its name and type.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Member or BGPPeer name.
    pub name: String,
    /// Type.
    pub kind: PeerType,
    /// Driver configuration.
    pub config: NeighborConfig,
}

impl Wanted {
    /// A fingerprint: equal fingerprints mean the session can stay up across a reload.
    pub fn fingerprint(&self) -> String {
        format!("{:?}/{:?}", self.kind, self.config)
    }
}

/// Whether this node waits for `peer` to connect: it is passive toward every peer whose
/// address is greater, compared as strings (so "198.18.0.9" > "198.18.0.10"); the
/// greater side dials. This is Calico's rule, which avoids a graceful-restart race.
pub fn mesh_passive(me: IpAddr, peer: IpAddr) -> bool {
    peer.to_string() > me.to_string()
}

fn family_of(a: IpAddr) -> FamilyConfig {
    FamilyConfig::new(if a.is_ipv4() { AfiSafi::IPV4_UNICAST } else { AfiSafi::IPV6_UNICAST })
}

fn own_addr(cfg: &NodeConfig, peer: IpAddr) -> Option<IpAddr> {
    cfg.node_addrs().into_iter().find(|a| a.is_ipv4() == peer.is_ipv4())
}

fn base(cfg: &NodeConfig, addr: IpAddr, asn: u32, restarting: bool, restart_time: u16) -> NeighborConfig {
    let mut n = NeighborConfig::new(cfg.node.asn, cfg.router_id(), addr, PeerAs::Exact(asn));
    // Calico's template: BIRD's hold 240 / keepalive 80, connect retry 3 s.
    n.session.hold_time = 240;
    n.session.connect_retry = Duration::from_secs(3);
    // A peer that refuses or drops us before its OPEN is starting (not listening yet, or
    // not knowing us yet): try again after 25 ms, 50 ms, 75 ms... up to the 3 s above,
    // instead of the IdleHold back-off; each refusal used to cost 1-3 s (mesh-bench). A
    // node whose speaker starts a little after its peers (all nodes booting at once)
    // is reached within ~25 ms of listening; a refused SYN costs next to nothing.
    n.session.connect_retry_fast = Some(Duration::from_millis(25));
    n.session.idle_hold = Duration::from_secs(1);
    n.session.idle_hold_max = Duration::from_secs(60);
    n.session.families = vec![family_of(addr)];
    n.session.graceful_restart = Some(GracefulRestartConfig { restart_time, restarting, ..Default::default() });
    n.transport.connect_timeout = Some(Duration::from_secs(5));
    n
}

/// The mesh neighbour for member `name` at `addr`.
pub fn mesh_neighbor(cfg: &NodeConfig, name: &str, addr: IpAddr, restarting: bool) -> Option<Wanted> {
    mesh_neighbor_with(cfg, name, addr, restarting, &std::sync::Arc::new(export_policy(cfg, &[])))
}

/// [`mesh_neighbor`] with the mesh's export policy built once by the caller.
fn mesh_neighbor_with(
    cfg: &NodeConfig,
    name: &str,
    addr: IpAddr,
    restarting: bool,
    export: &std::sync::Arc<crate::rib::Policy>,
) -> Option<Wanted> {
    let me = own_addr(cfg, addr)?;
    if me == addr || name == cfg.node.name {
        return None;
    }
    let m = &cfg.mesh;
    let mut n = base(cfg, addr, cfg.node.asn, restarting, m.restart_time);
    n.session.passive = mesh_passive(me, addr);
    if let Some(h) = m.hold_time {
        n.session.hold_time = h;
    }
    n.session.keepalive = m.keepalive_time;
    n.transport.source = Some(me);
    n.transport.md5_key = m.password.as_ref().map(|p| p.as_bytes().to_vec());
    n.export = Some(export.clone());
    n.description = name.to_string();
    Some(Wanted { name: name.to_string(), kind: PeerType::Mesh, config: n })
}

/// The neighbour for a BGPPeer, or `None` when it is for another node.
pub fn peer_neighbor(cfg: &NodeConfig, p: &Peer, restarting: bool) -> Option<Wanted> {
    let kind = match &p.node {
        Some(n) if *n != cfg.node.name => return None,
        Some(_) => PeerType::NodeSpecific,
        None => PeerType::Global,
    };
    if cfg.node_addrs().contains(&p.address) {
        return None;
    }
    let mut n = base(cfg, p.address, p.asn, restarting, p.restart_time.unwrap_or(120));
    n.port = p.port;
    if let Some(h) = p.hold_time {
        n.session.hold_time = h;
    }
    n.session.keepalive = p.keepalive_time;
    n.transport.source = match p.source_address.as_deref() {
        None | Some("UseNodeIP") => own_addr(cfg, p.address),
        Some("None") => None,
        Some(s) => s.parse().ok(),
    };
    n.transport.md5_key = p.password.as_ref().map(|s| s.as_bytes().to_vec());
    n.transport.gtsm_hops = p.ttl_security;
    n.transport.ttl = p.ttl;
    n.rr_client = p.rr_client;
    n.allow_own_as = p.num_allowed_local_as_numbers;
    let ebgp = p.asn != cfg.node.asn;
    // Toward a top-of-rack eBGP router: next hop self (the cluster's prefixes only,
    // through the export policy).
    n.next_hop = match p.next_hop_mode {
        NextHopSetting::Auto if ebgp => NextHopMode::SelfAddr,
        NextHopSetting::Auto => NextHopMode::Auto,
        NextHopSetting::SelfAddr => NextHopMode::SelfAddr,
        NextHopSetting::Keep => NextHopMode::Keep,
    };
    n.export = Some(std::sync::Arc::new(export_policy(cfg, &p.filters)));
    n.import = import_policy(cfg, &p.filters).map(std::sync::Arc::new);
    n.description = p.name.clone();
    Some(Wanted { name: p.name.clone(), kind, config: n })
}

/// Every neighbour the configuration asks for, by address. Explicit peers win over a
/// mesh member at the same address; a route reflector has no mesh.
pub fn wanted(cfg: &NodeConfig, restarting: bool) -> BTreeMap<IpAddr, Wanted> {
    let mut out = BTreeMap::new();
    if cfg.mesh.enabled && !cfg.is_reflector() {
        let export = std::sync::Arc::new(export_policy(cfg, &[]));
        for (name, addr) in &cfg.mesh.members {
            if let Some(w) = mesh_neighbor_with(cfg, name, *addr, restarting, &export) {
                out.insert(*addr, w);
            }
        }
    }
    for p in &cfg.peers {
        if let Some(w) = peer_neighbor(cfg, p, restarting) {
            out.insert(p.address, w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn string_order_decides_who_dials() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(mesh_passive(ip("198.18.0.1"), ip("198.18.0.2")));
        assert!(!mesh_passive(ip("198.18.0.2"), ip("198.18.0.1")));
        // As strings, "198.18.0.9" > "198.18.0.10": .10 is passive toward .9.
        assert!(mesh_passive(ip("198.18.0.10"), ip("198.18.0.9")));
        assert!(!mesh_passive(ip("198.18.0.9"), ip("198.18.0.10")));
        assert!(mesh_passive(ip("fd00::1"), ip("fd00::2")));
    }

    /// Node n1 of a mesh n1..=n3 at 198.18.0.1..=3, then `rest`.
    fn n1_of_three(rest: &str) -> NodeConfig {
        let head = "[node]\nname = \"n1\"\nipv4 = \"198.18.0.1/24\"\n[mesh.members]\n";
        let members = (1..=3).map(|i| format!("n{i} = \"198.18.0.{i}\"\n")).collect::<String>();
        NodeConfig::parse(&format!("{head}{members}{rest}"), Path::new("t")).unwrap()
    }

    #[test]
    fn mesh_and_peers() {
        let cfg = n1_of_three(
            r#"
[[peers]]
name = "tor"
address = "198.18.0.254"
as = 65001
[[peers]]
name = "other"
node = "n2"
address = "198.18.0.253"
as = 65001
"#,
        );
        let w = wanted(&cfg, false);
        assert_eq!(w.len(), 3);
        let m = &w[&"198.18.0.2".parse::<IpAddr>().unwrap()];
        assert_eq!(m.kind, PeerType::Mesh);
        assert!(m.config.session.passive);
        assert_eq!(m.config.session.graceful_restart.as_ref().unwrap().restart_time, 120);
        let t = &w[&"198.18.0.254".parse::<IpAddr>().unwrap()];
        assert_eq!(t.kind, PeerType::Global);
        assert_eq!(t.config.next_hop, NextHopMode::SelfAddr);
    }

    /// Mesh members get equal export policies (named by their filters, not by the
    /// member), so the RIB interns them to one and they share one update group.
    #[test]
    fn mesh_members_share_one_export_policy() {
        let cfg = n1_of_three(
            r#"
[[filters]]
name = "f"
[[filters.export-v4]]
cidr = "10.0.0.0/8"
match-operator = "In"
action = "Reject"
[[peers]]
name = "tor"
address = "198.18.0.254"
as = 65001
filters = ["f"]
"#,
        );
        let w = wanted(&cfg, false);
        let export = |a: &str| w[&a.parse::<IpAddr>().unwrap()].config.export.clone().unwrap();
        assert_eq!(export("198.18.0.2"), export("198.18.0.3"));
        assert_eq!(export("198.18.0.2").name, "export");
        assert_eq!(export("198.18.0.254").name, "export[f]");
        assert_ne!(export("198.18.0.2"), export("198.18.0.254"));
    }
}
