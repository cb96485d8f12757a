//! The IPIP encapsulation rule of Calico IP pools (sans-IO).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::types::{NextHop, RouteKind};

/// An IP pool's `ipipMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpipMode {
    /// Never tunnel: `via NH`.
    Never,
    /// Always tunnel: `via NH dev tunl0 onlink`.
    Always,
    /// Tunnel only to next hops outside every subnet of this node.
    CrossSubnet,
}

/// How to reach a next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// `via NH`: plain routing, the next hop is a neighbour (or resolved recursively).
    Direct,
    /// `via NH dev tunl0 onlink`: IPIP through the tunnel device.
    Tunnel,
}

/// Decide between `via NH` and `via NH dev tunl0 onlink` for a pool's mode.
///
/// CrossSubnet tunnels only when `next_hop` is outside every one of `node_subnets`:
/// peers on a shared L2 subnet are reached natively, which is the point of the mode
/// (no encapsulation overhead inside a subnet, encapsulation across routers that would
/// drop pod source addresses).
/// IPIP carries IPv4 only, so an IPv6 next hop is always [`Encap::Direct`].
pub fn encap_decision(mode: IpipMode, node_subnets: &[IpNet], next_hop: IpAddr) -> Encap {
    if next_hop.is_ipv6() {
        return Encap::Direct;
    }
    match mode {
        IpipMode::Never => Encap::Direct,
        IpipMode::Always => Encap::Tunnel,
        IpipMode::CrossSubnet => {
            if node_subnets.iter().any(|s| s.contains(&next_hop)) {
                Encap::Direct
            } else {
                Encap::Tunnel
            }
        }
    }
}

/// The [`RouteKind`] for a next hop under a pool's mode; `tunnel_dev` is usually `tunl0`.
pub fn encap_route_kind(mode: IpipMode, node_subnets: &[IpNet], next_hop: IpAddr, tunnel_dev: &str) -> RouteKind {
    match encap_decision(mode, node_subnets, next_hop) {
        Encap::Direct => RouteKind::Via(NextHop::via(next_hop)),
        Encap::Tunnel => RouteKind::Via(NextHop::onlink(next_hop, tunnel_dev)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn never_and_always() {
        let subnets: Vec<IpNet> = vec!["198.18.0.0/24".parse().unwrap()];
        assert_eq!(encap_decision(IpipMode::Never, &subnets, ip("198.19.0.1")), Encap::Direct);
        assert_eq!(encap_decision(IpipMode::Always, &subnets, ip("198.18.0.5")), Encap::Tunnel);
    }

    #[test]
    fn cross_subnet_in_and_out() {
        let subnets: Vec<IpNet> = vec!["198.18.0.0/24".parse().unwrap(), "198.18.8.0/22".parse().unwrap()];
        let m = IpipMode::CrossSubnet;
        assert_eq!(encap_decision(m, &subnets, ip("198.18.0.7")), Encap::Direct);
        assert_eq!(encap_decision(m, &subnets, ip("198.18.10.1")), Encap::Direct);
        assert_eq!(encap_decision(m, &subnets, ip("198.18.1.7")), Encap::Tunnel);
        assert_eq!(encap_decision(m, &[], ip("198.18.0.7")), Encap::Tunnel);
        assert_eq!(
            encap_route_kind(m, &subnets, ip("198.18.1.7"), "tunl0"),
            RouteKind::Via(NextHop::onlink(ip("198.18.1.7"), "tunl0"))
        );
        assert_eq!(
            encap_route_kind(m, &subnets, ip("198.18.0.7"), "tunl0"),
            RouteKind::Via(NextHop::via(ip("198.18.0.7")))
        );
    }

    #[test]
    fn ipv6_never_tunnelled() {
        assert_eq!(encap_decision(IpipMode::Always, &[], ip("2001:db8::1")), Encap::Direct);
    }
}
