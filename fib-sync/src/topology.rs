//! What the sync knows of the node's network: interfaces, addresses and the routes of
//! other protocols in the main table. Used for gateway resolution ("gateway recursive"),
//! the node's subnets and learning (sans-IO).

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::types::{LearnedRoute, RT_TABLE_MAIN};
use crate::wire::{KAddr, KLink, KRoute};

/// A route of another protocol in the main table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Foreign {
    metric: u32,
    protocol: u8,
    gw: Option<IpAddr>,
    oif: u32,
}

/// Which routes of other protocols to report (see [`crate::FibEvent::Learned`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LearnFilter {
    /// Interface name patterns; a trailing `*` matches any suffix (`cali*`).
    /// Empty: learn nothing.
    pub interfaces: Vec<String>,
    /// Only host routes (/32, /128), as the agent's workload routes are.
    pub host_routes_only: bool,
    /// Prefixes inside any of these (the node's own IPAM blocks) are not reported.
    pub exclude: Vec<IpNet>,
}

impl LearnFilter {
    /// The usual Calico filter: `cali*` host routes outside the node's blocks.
    pub fn calico(node_blocks: Vec<IpNet>) -> Self {
        LearnFilter { interfaces: vec!["cali*".into()], host_routes_only: true, exclude: node_blocks }
    }

    fn matches_iface(&self, name: &str) -> bool {
        self.interfaces.iter().any(|p| match p.strip_suffix('*') {
            Some(stem) => name.starts_with(stem),
            None => name == p,
        })
    }
}

/// Interfaces, addresses and foreign main-table routes.
#[derive(Debug)]
pub(crate) struct Topology {
    links: HashMap<u32, KLink>,
    names: HashMap<String, u32>,
    addrs: HashSet<KAddr>,
    foreign: HashMap<IpNet, Vec<Foreign>>,
    /// How many foreign prefixes of each length exist, per family, so that a longest
    /// prefix match only probes lengths that are present.
    lens_v4: [u32; 33],
    lens_v6: [u32; 129],
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            links: HashMap::new(),
            names: HashMap::new(),
            addrs: HashSet::new(),
            foreign: HashMap::new(),
            lens_v4: [0; 33],
            lens_v6: [0; 129],
        }
    }
}

impl Topology {
    fn lens_mut(&mut self, p: &IpNet) -> &mut u32 {
        match p {
            IpNet::V4(_) => &mut self.lens_v4[p.prefix_len() as usize],
            IpNet::V6(_) => &mut self.lens_v6[p.prefix_len() as usize],
        }
    }

    /// Forget the interfaces and addresses (before a re-dump).
    pub fn clear_links(&mut self) {
        self.links.clear();
        self.names.clear();
        self.addrs.clear();
    }

    /// Forget the foreign routes (before a re-dump).
    pub fn clear_routes(&mut self) {
        self.foreign.clear();
        self.lens_v4 = [0; 33];
        self.lens_v6 = [0; 129];
    }

    /// Interface index by name.
    pub fn index(&self, name: &str) -> Option<u32> {
        self.names.get(name).copied()
    }

    /// Interface name by index.
    pub fn name(&self, index: u32) -> Option<&str> {
        self.links.get(&index).map(|l| l.name.as_str())
    }

    /// Add or update an interface; returns (whether it is new or its state or name
    /// changed, whether it went from up to down).
    pub fn link(&mut self, l: KLink) -> (bool, bool) {
        let (changed, went_down) = match self.links.get(&l.index) {
            Some(old) => (old.up != l.up || old.name != l.name, old.up && !l.up),
            None => (true, false),
        };
        if let Some(old) = self.links.get(&l.index) {
            if old.name != l.name {
                self.names.remove(&old.name);
            }
        }
        self.names.insert(l.name.clone(), l.index);
        self.links.insert(l.index, l);
        (changed, went_down)
    }

    /// Remove an interface; returns whether it was up.
    pub fn del_link(&mut self, index: u32) -> bool {
        let was_up = match self.links.remove(&index) {
            Some(old) => {
                self.names.remove(&old.name);
                old.up
            }
            None => false,
        };
        self.addrs.retain(|a| a.index != index);
        was_up
    }

    /// Add or remove an address.
    pub fn addr(&mut self, a: KAddr, present: bool) {
        if present {
            self.addrs.insert(a);
        } else {
            self.addrs.remove(&a);
        }
    }

    /// The node's connected subnets: every address's subnet, except loopback and IPv6
    /// link-local (never a BGP next hop's subnet).
    pub fn node_subnets(&self) -> Vec<IpNet> {
        let set: BTreeSet<IpNet> = self
            .addrs
            .iter()
            .map(|a| a.net)
            .filter(|n| match n {
                IpNet::V4(n) => !n.addr().is_loopback(),
                IpNet::V6(n) => !n.addr().is_loopback() && (n.addr().segments()[0] & 0xffc0) != 0xfe80,
            })
            .collect();
        set.into_iter().collect()
    }

    /// Track a route of another protocol (only main-table unicast routes matter).
    pub fn foreign_route(&mut self, r: &KRoute, present: bool) {
        if r.table != RT_TABLE_MAIN || r.rtype != crate::wire::RTN_UNICAST {
            return;
        }
        let gw = match &r.spec {
            crate::spec::Spec::Unicast(h) => Some(h[0].gw),
            _ if r.device_route => None,
            _ => return,
        };
        let f = Foreign { metric: r.metric, protocol: r.protocol, gw, oif: r.oif };
        let v = self.foreign.entry(r.prefix).or_default();
        // The kernel keys a route by prefix and metric within a table (TOS is unused here).
        let before = v.len();
        v.retain(|o| o.metric != f.metric);
        if present {
            v.push(f);
        }
        let after = v.len();
        if after == 0 {
            self.foreign.remove(&r.prefix);
        }
        match (before > 0, after > 0) {
            (false, true) => *self.lens_mut(&r.prefix) += 1,
            (true, false) => *self.lens_mut(&r.prefix) -= 1,
            _ => {}
        }
    }

    /// Forget another protocol's route in a slot that our replace has just taken.
    pub fn forget_foreign(&mut self, prefix: &IpNet, metric: u32) {
        let Some(v) = self.foreign.get_mut(prefix) else {
            return;
        };
        v.retain(|o| o.metric != metric);
        if v.is_empty() {
            self.foreign.remove(prefix);
            *self.lens_mut(prefix) -= 1;
        }
    }

    fn connected(&self, a: IpAddr) -> bool {
        self.addrs.iter().any(|x| x.net.contains(&a) && self.links.get(&x.index).map(|l| l.up).unwrap_or(false))
    }

    fn lpm(&self, a: IpAddr) -> Option<Foreign> {
        let (max, lens): (u8, &[u32]) = match a {
            IpAddr::V4(_) => (32, &self.lens_v4),
            IpAddr::V6(_) => (128, &self.lens_v6),
        };
        for len in (0..=max).rev() {
            if lens[len as usize] == 0 {
                continue;
            }
            let net = IpNet::new(a, len).ok()?.trunc();
            if let Some(v) = self.foreign.get(&net) {
                if let Some(best) = v.iter().min_by_key(|f| f.metric) {
                    return Some(*best);
                }
            }
        }
        None
    }

    /// BIRD's "gateway recursive": the gateway to install for next hop `nh`.
    ///
    /// A next hop on a connected subnet (or covered by a device route) is used as is.
    /// Otherwise the kernel would refuse it (`Nexthop has invalid gateway`), so we use
    /// the gateway of the route the kernel would take to reach it, recursively (up to
    /// four levels, against loops). Only other protocols' main-table routes are used,
    /// never our own, so that our routes cannot resolve through each other.
    pub fn resolve(&self, nh: IpAddr) -> IpAddr {
        let mut cur = nh;
        for _ in 0..4 {
            if self.connected(cur) {
                return cur;
            }
            match self.lpm(cur) {
                Some(Foreign { gw: Some(g), .. }) if g != cur => cur = g,
                _ => return cur,
            }
        }
        cur
    }

    /// The routes the filter selects.
    pub fn learned(&self, filter: &LearnFilter) -> HashMap<IpNet, LearnedRoute> {
        let mut out = HashMap::new();
        if filter.interfaces.is_empty() {
            return out;
        }
        for (prefix, v) in &self.foreign {
            if filter.host_routes_only && prefix.prefix_len() != prefix.max_prefix_len() {
                continue;
            }
            if filter.exclude.iter().any(|b| b.contains(prefix)) {
                continue;
            }
            let Some(f) = v.iter().min_by_key(|f| f.metric) else {
                continue;
            };
            let Some(name) = self.name(f.oif) else {
                continue;
            };
            if filter.matches_iface(name) {
                out.insert(*prefix, LearnedRoute { prefix: *prefix, dev: name.to_string(), protocol: f.protocol });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Hop, Spec};

    fn link(i: u32, name: &str, up: bool) -> KLink {
        KLink { index: i, name: name.into(), up }
    }

    fn route(p: &str, gw: Option<&str>, oif: u32, proto: u8) -> KRoute {
        KRoute {
            table: RT_TABLE_MAIN,
            prefix: p.parse().unwrap(),
            metric: 0,
            protocol: proto,
            rtype: crate::wire::RTN_UNICAST,
            spec: match gw {
                Some(g) => Spec::unicast(vec![Hop { gw: g.parse().unwrap(), oif, onlink: false, weight: 1 }]),
                None => Spec::Other,
            },
            oif,
            device_route: gw.is_none(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn topo() -> Topology {
        let mut t = Topology::default();
        t.link(link(1, "lo", true));
        t.link(link(2, "eth0", true));
        t.addr(KAddr { index: 1, net: "127.0.0.0/8".parse().unwrap() }, true);
        t.addr(KAddr { index: 2, net: "198.18.0.0/24".parse().unwrap() }, true);
        t
    }

    #[test]
    fn connected_next_hop_is_used_as_is() {
        let t = topo();
        assert_eq!(t.resolve(ip("198.18.0.9")), ip("198.18.0.9"));
        assert_eq!(t.node_subnets(), vec!["198.18.0.0/24".parse().unwrap()]);
    }

    #[test]
    fn two_hops_away_resolves_and_follows() {
        let mut t = topo();
        t.foreign_route(&route("198.19.5.0/24", Some("198.18.0.2"), 2, 4), true);
        assert_eq!(t.resolve(ip("198.19.5.1")), ip("198.18.0.2"));
        // A more specific route wins.
        t.foreign_route(&route("198.19.5.0/28", Some("198.18.0.3"), 2, 4), true);
        assert_eq!(t.resolve(ip("198.19.5.1")), ip("198.18.0.3"));
        t.foreign_route(&route("198.19.5.0/28", Some("198.18.0.3"), 2, 4), false);
        assert_eq!(t.resolve(ip("198.19.5.1")), ip("198.18.0.2"));
        // Recursion through two levels.
        t.foreign_route(&route("198.19.9.0/24", Some("198.19.5.7"), 2, 4), true);
        assert_eq!(t.resolve(ip("198.19.9.1")), ip("198.18.0.2"));
        // Unknown: left to the kernel, which reports the error.
        assert_eq!(t.resolve(ip("198.19.200.1")), ip("198.19.200.1"));
    }

    #[test]
    fn down_link_is_not_connected() {
        let mut t = topo();
        t.link(link(2, "eth0", false));
        t.foreign_route(&route("0.0.0.0/0", Some("198.18.0.1"), 2, 3), true);
        // Not connected any more, so the default route's gateway is used.
        assert_eq!(t.resolve(ip("198.18.0.9")), ip("198.18.0.1"));
    }

    #[test]
    fn learning_filter() {
        let mut t = topo();
        t.link(link(7, "cali12345", true));
        t.link(link(8, "veth9", true));
        t.foreign_route(&route("198.19.0.5/32", None, 7, 80), true);
        t.foreign_route(&route("198.18.64.5/32", None, 7, 80), true); // own block
        t.foreign_route(&route("198.19.0.6/32", None, 8, 80), true); // other iface
        t.foreign_route(&route("198.19.1.0/24", None, 7, 80), true); // not a host route
        let f = LearnFilter::calico(vec!["198.18.64.0/26".parse().unwrap()]);
        let got = t.learned(&f);
        assert_eq!(got.len(), 1);
        let l = &got[&"198.19.0.5/32".parse().unwrap()];
        assert_eq!((l.dev.as_str(), l.protocol), ("cali12345", 80));
        assert!(t.learned(&LearnFilter::default()).is_empty());
    }
}
