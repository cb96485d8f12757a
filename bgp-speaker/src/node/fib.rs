//! Loc-RIB → kernel, as BIRD's kernel protocol does it on a Calico node: a blackhole
//! for each local block, `via <node>` (or `via <node> dev tunl0 onlink` per the pool's
//! IPIP mode) for each remote prefix, ECMP when several paths are equal.

use super::config::{EncapMode, NodeConfig};
use crate::rib::{BestChange, PeerId, Prefix};
use bgp_proto::NextHop as BgpNextHop;
use fib_sync::{encap_route_kind, DesiredRoute, IpipMode, RouteKind};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The remote part of the Loc-RIB: prefix → next hops of its ECMP set.
#[derive(Debug, Default, Clone)]
pub struct RemoteRoutes {
    routes: BTreeMap<IpNet, Vec<IpAddr>>,
}

fn next_hop_ip(nh: &BgpNextHop) -> Option<IpAddr> {
    match nh {
        BgpNextHop::V4(a) => Some(IpAddr::V4(*a)),
        BgpNextHop::V6 { global, .. } => Some(IpAddr::V6(*global)),
        _ => None,
    }
}

impl RemoteRoutes {
    /// Applies one Loc-RIB change; returns the prefix when its next hops changed.
    pub fn apply(&mut self, c: &BestChange) -> Option<IpNet> {
        let p: IpNet = c.prefix.into();
        let hops: Vec<IpAddr> = if c.best().is_some_and(|r| r.peer == PeerId::LOCAL) {
            Vec::new()
        } else {
            let mut v: Vec<IpAddr> = c
                .ecmp
                .iter()
                .filter(|r| r.peer != PeerId::LOCAL)
                .filter_map(|r| r.attrs.next_hop.as_ref().and_then(next_hop_ip))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let old = if hops.is_empty() { self.routes.remove(&p) } else { self.routes.insert(p, hops.clone()) };
        (old.unwrap_or_default() != hops).then_some(p)
    }

    /// Replaces everything with a full table read.
    pub fn reset(&mut self, all: impl IntoIterator<Item = BestChange>) {
        self.routes.clear();
        for c in all {
            self.apply(&c);
        }
    }

    /// Next hops of a prefix.
    pub fn get(&self, p: &IpNet) -> Option<&Vec<IpAddr>> {
        self.routes.get(p)
    }

    /// All remote prefixes.
    pub fn prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.routes.keys()
    }
}

fn ipip(mode: EncapMode) -> IpipMode {
    match mode {
        EncapMode::Never => IpipMode::Never,
        EncapMode::Always => IpipMode::Always,
        EncapMode::CrossSubnet => IpipMode::CrossSubnet,
    }
}

/// The kernel route for a remote prefix, or `None` when there should be none (no next
/// hop but ourselves; a VXLAN pool, whose routes Felix programs; a disabled pool).
pub fn remote_route(cfg: &NodeConfig, p: IpNet, hops: &[IpAddr]) -> Option<DesiredRoute> {
    if cfg.blocks.contains(&p) {
        return None;
    }
    let own = cfg.node_addrs();
    let hops: Vec<IpAddr> =
        hops.iter().copied().filter(|h| !own.contains(h) && h.is_ipv4() == p.addr().is_ipv4()).collect();
    if hops.is_empty() {
        return None;
    }
    let mode = match cfg.pool_of(p) {
        Some(pool) if pool.disabled || pool.vxlan_mode != EncapMode::Never => return None,
        Some(pool) => ipip(pool.ipip_mode),
        None => IpipMode::Never,
    };
    let subnets = cfg.node_subnets();
    let mut nhs: Vec<fib_sync::NextHop> = hops
        .iter()
        .map(|h| match encap_route_kind(mode, &subnets, *h, &cfg.node.tunnel_device) {
            RouteKind::Via(n) => n,
            _ => unreachable!("encap_route_kind returns Via"),
        })
        .collect();
    let kind = if nhs.len() == 1 { RouteKind::Via(nhs.remove(0)) } else { RouteKind::Multipath(nhs) };
    Some(DesiredRoute::new(p, kind))
}

/// Every route the node wants in the kernel.
pub fn desired(cfg: &NodeConfig, remote: &RemoteRoutes) -> Vec<DesiredRoute> {
    let mut out: Vec<DesiredRoute> = cfg.blocks.iter().map(|b| DesiredRoute::new(*b, RouteKind::Blackhole)).collect();
    for p in remote.prefixes() {
        if let Some(r) = remote_route(cfg, *p, &remote.routes[p]) {
            out.push(r);
        }
    }
    out
}

/// The prefix as a [`Prefix`].
pub fn prefix(n: IpNet) -> Prefix {
    n.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fib_sync::NextHop;
    use std::path::Path;

    fn cfg(mode: &str) -> NodeConfig {
        let src = format!(
            "blocks = [\"10.244.0.0/26\"]\n[node]\nname = \"a\"\nipv4 = \"198.18.0.1/24\"\n[[pools]]\ncidr = \"10.244.0.0/16\"\nipip-mode = \"{mode}\"\n"
        );
        NodeConfig::parse(&src, Path::new("t")).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cross_subnet_and_ecmp() {
        let c = cfg("CrossSubnet");
        let p: IpNet = "10.244.1.0/26".parse().unwrap();
        let r = remote_route(&c, p, &[ip("198.18.0.2")]).unwrap();
        assert_eq!(r.kind, RouteKind::Via(NextHop::via(ip("198.18.0.2"))));
        let r = remote_route(&c, p, &[ip("198.19.0.2")]).unwrap();
        assert_eq!(r.kind, RouteKind::Via(NextHop::onlink(ip("198.19.0.2"), "tunl0")));
        let r = remote_route(&c, p, &[ip("198.18.0.2"), ip("198.18.0.3")]).unwrap();
        assert!(matches!(r.kind, RouteKind::Multipath(ref v) if v.len() == 2));
        assert!(remote_route(&c, p, &[ip("198.18.0.1")]).is_none(), "own next hop");
        assert!(remote_route(&c, "10.244.0.0/26".parse().unwrap(), &[ip("198.18.0.2")]).is_none(), "own block");
        let always = cfg("Always");
        let r = remote_route(&always, p, &[ip("198.18.0.2")]).unwrap();
        assert_eq!(r.kind, RouteKind::Via(NextHop::onlink(ip("198.18.0.2"), "tunl0")));
    }
}
