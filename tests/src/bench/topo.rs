//! The benchmark's two namespaces: `rr` (the reflector under test, 198.18.0.1/16 on
//! `r0`) and `load` (the load generator, one address per client on `l0`), joined by
//! one veth. Both ends have permanent neighbour entries for every address of the other
//! end, so there is no ARP at all (NETNS-NOTES: the host-wide ARP table holds 1024).

use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;

use ipnet::IpNet;

use crate::netns::{self, Netns};

/// The reflector's address.
pub const RR_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const RR_MAC: &str = "02:42:c6:12:00:01";
const LOAD_MAC: &str = "02:42:c6:12:00:02";

/// Address of client `i` (0-based): 198.18.(1 + i/250).(1 + i%250).
pub fn client_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, (1 + i / 250) as u8, (1 + i % 250) as u8)
}

/// The two namespaces and the client addresses. Dropping it kills every process left
/// in them (by pid) and deletes them.
#[derive(Debug)]
pub struct Topo {
    /// The reflector's namespace.
    pub rr: Netns,
    /// The load generator's namespace.
    pub load: Netns,
    /// Client addresses on the load side.
    pub clients: Vec<Ipv4Addr>,
}

impl Topo {
    /// Builds the namespaces with `n` client addresses.
    pub fn new(n: usize) -> io::Result<Topo> {
        assert!(n <= 250 * 200, "too many clients");
        let rr = Netns::new("rr")?;
        let load = Netns::new("load")?;
        let clients: Vec<Ipv4Addr> = (0..n).map(client_addr).collect();
        let rr_net: IpNet = format!("{RR_ADDR}/16").parse().expect("valid");
        let first: IpNet = format!("{}/16", clients[0]).parse().expect("valid");
        netns::veth_with_macs(&rr, "r0", Some(RR_MAC), &[rr_net], &load, "l0", Some(LOAD_MAC), &[first])?;
        let mut batch = String::new();
        for c in &clients[1..] {
            let _ = writeln!(batch, "address add {c}/32 dev l0");
        }
        let _ = writeln!(batch, "neigh replace {RR_ADDR} lladdr {RR_MAC} dev l0 nud permanent");
        load.ip_batch(&batch)?;
        let mut batch = String::new();
        for c in &clients {
            let _ = writeln!(batch, "neigh replace {c} lladdr {LOAD_MAC} dev r0 nud permanent");
        }
        rr.ip_batch(&batch)?;
        // Room for a burst of connects on the reflector side (the daemons' own listen
        // backlog still applies).
        rr.sysctl("net.core.somaxconn", "4096")?;
        rr.sysctl("net.ipv4.tcp_max_syn_backlog", "4096")?;
        Ok(Topo { rr, load, clients })
    }
}
