//! Launchers for real BGP daemons inside a namespace, all driven by one [`PeerSpec`].
//!
//! Each launcher writes its config into a [`WorkDir`](crate::WorkDir), starts the daemon
//! in the foreground under a [`Proc`](crate::proc::Proc) guard and talks to it through
//! its own CLI: `birdc`, `vtysh`, `gobgp`, or (ExaBGP, which has no CLI here) an API
//! process that logs ExaBGP's JSON events to a file and reads commands from another.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

mod bird;
mod exabgp;
mod frr;
mod gobgp;

pub use bird::Bird;
pub use exabgp::ExaBgp;
pub use frr::{bgpd_args, Frr};
pub use gobgp::GoBgp;

/// A route a daemon originates, with the attributes it should carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The prefix (IPv4 or IPv6).
    pub prefix: IpNet,
    /// Standard communities (RFC 1997), as (AS, value).
    pub communities: Vec<(u16, u16)>,
    /// Large communities (RFC 8092), as (global admin, local 1, local 2).
    pub large_communities: Vec<(u32, u32, u32)>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (only sent on iBGP sessions).
    pub local_pref: Option<u32>,
}

impl Route {
    /// A route with no optional attributes. Panics on a malformed prefix (test input).
    pub fn new(prefix: &str) -> Route {
        Route {
            prefix: prefix.parse().expect("prefix"),
            communities: vec![],
            large_communities: vec![],
            med: None,
            local_pref: None,
        }
    }

    /// Adds a standard community.
    pub fn community(mut self, asn: u16, value: u16) -> Route {
        self.communities.push((asn, value));
        self
    }

    /// Adds a large community.
    pub fn large(mut self, global: u32, l1: u32, l2: u32) -> Route {
        self.large_communities.push((global, l1, l2));
        self
    }

    /// Sets the MED.
    pub fn med(mut self, med: u32) -> Route {
        self.med = Some(med);
        self
    }

    /// Sets LOCAL_PREF.
    pub fn local_pref(mut self, lp: u32) -> Route {
        self.local_pref = Some(lp);
        self
    }

    /// True for an IPv4 prefix.
    pub fn is_v4(&self) -> bool {
        matches!(self.prefix, IpNet::V4(_))
    }
}

/// Which ADD-PATH directions (RFC 7911) a daemon offers to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddPath {
    /// No ADD-PATH capability (where the daemon allows turning it off).
    #[default]
    Off,
    /// Receive only.
    Receive,
    /// Send only.
    Send,
    /// Send and receive.
    Both,
}

impl AddPath {
    /// Offers to send.
    pub fn send(self) -> bool {
        matches!(self, AddPath::Send | AddPath::Both)
    }
    /// Offers to receive.
    pub fn receive(self) -> bool {
        matches!(self, AddPath::Receive | AddPath::Both)
    }
}

/// One BGP neighbor of a daemon.
#[derive(Debug, Clone)]
pub struct Neighbor {
    /// The neighbor's address (the session's transport address).
    pub address: IpAddr,
    /// The neighbor's AS.
    pub remote_as: u32,
    /// Wait for the neighbor to connect instead of dialling.
    pub passive: bool,
    /// ADD-PATH directions to offer for both IPv4 and IPv6 unicast.
    pub add_path: AddPath,
    /// Negotiate IPv4 unicast.
    pub ipv4: bool,
    /// Negotiate IPv6 unicast.
    pub ipv6: bool,
    /// Hold time to offer, seconds.
    pub hold_time: u16,
    /// TCP MD5 password (RFC 2385).
    pub md5: Option<String>,
    /// Treat the neighbor as a route-reflector client (RFC 4456).
    pub rr_client: bool,
    /// Force next hop self towards this neighbor.
    pub next_hop_self: bool,
}

impl Neighbor {
    /// An active neighbor for IPv4 and IPv6 unicast, hold 90 s, no ADD-PATH.
    pub fn new(address: IpAddr, remote_as: u32) -> Neighbor {
        Neighbor {
            address,
            remote_as,
            passive: false,
            add_path: AddPath::Off,
            ipv4: true,
            ipv6: true,
            hold_time: 90,
            md5: None,
            rr_client: false,
            next_hop_self: false,
        }
    }

    /// Sets passive mode.
    pub fn passive(mut self, on: bool) -> Neighbor {
        self.passive = on;
        self
    }

    /// Sets the ADD-PATH directions.
    pub fn add_path(mut self, ap: AddPath) -> Neighbor {
        self.add_path = ap;
        self
    }

    /// Sets a TCP MD5 password.
    pub fn md5(mut self, password: &str) -> Neighbor {
        self.md5 = Some(password.into());
        self
    }

    /// Marks the neighbor a route-reflector client.
    pub fn rr_client(mut self, on: bool) -> Neighbor {
        self.rr_client = on;
        self
    }
}

/// What a daemon is configured with: identity, neighbors and originated routes.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// A short label used in file names (e.g. `node1`).
    pub name: String,
    /// BGP router ID.
    pub router_id: Ipv4Addr,
    /// Local AS.
    pub local_as: u32,
    /// Local IPv4 transport address (also the IPv4 next hop).
    pub local_v4: Ipv4Addr,
    /// Local IPv6 address used as the IPv6 next hop (required for IPv6 routes).
    pub local_v6: Option<Ipv6Addr>,
    /// Advertise graceful restart (RFC 4724), restart time 120 s.
    pub graceful_restart: bool,
    /// The neighbors.
    pub neighbors: Vec<Neighbor>,
    /// Routes to originate.
    pub routes: Vec<Route>,
}

impl PeerSpec {
    /// A spec with router ID = `local_v4`, graceful restart on, no neighbors or routes.
    pub fn new(name: &str, local_as: u32, local_v4: Ipv4Addr) -> PeerSpec {
        PeerSpec {
            name: name.into(),
            router_id: local_v4,
            local_as,
            local_v4,
            local_v6: None,
            graceful_restart: true,
            neighbors: vec![],
            routes: vec![],
        }
    }

    /// Sets the local IPv6 next-hop address.
    pub fn v6(mut self, addr: Ipv6Addr) -> PeerSpec {
        self.local_v6 = Some(addr);
        self
    }

    /// Adds a neighbor.
    pub fn neighbor(mut self, n: Neighbor) -> PeerSpec {
        self.neighbors.push(n);
        self
    }

    /// Adds routes.
    pub fn routes(mut self, routes: impl IntoIterator<Item = Route>) -> PeerSpec {
        self.routes.extend(routes);
        self
    }

    /// The next hop for a route: `local_v4` or `local_v6`.
    pub fn next_hop(&self, route: &Route) -> io::Result<IpAddr> {
        if route.is_v4() {
            Ok(IpAddr::V4(self.local_v4))
        } else {
            self.local_v6
                .map(IpAddr::V6)
                .ok_or_else(|| io::Error::other(format!("{}: IPv6 route without local_v6", route.prefix)))
        }
    }
}

/// What every launcher offers.
pub trait BgpDaemon {
    /// `bird`, `frr`, `gobgp` or `exabgp`.
    fn kind(&self) -> &'static str;

    /// The daemon's version string, as it reports it.
    fn version(&self) -> io::Result<String>;

    /// Whether the session with `neighbor` is Established now.
    fn is_established(&mut self, neighbor: IpAddr) -> io::Result<bool>;

    /// Polls [`BgpDaemon::is_established`] every 200 ms until true or `timeout`.
    fn wait_established(&mut self, neighbor: IpAddr, timeout: Duration) -> io::Result<()> {
        let kind = self.kind();
        crate::poll(&format!("{kind} session with {neighbor} Established"), timeout, Duration::from_millis(200), || {
            Ok(self.is_established(neighbor)?.then_some(()))
        })
    }

    /// Prefixes the daemon has learned from its neighbors (not its own).
    fn received_prefixes(&mut self) -> io::Result<BTreeSet<IpNet>>;

    /// Polls [`BgpDaemon::received_prefixes`] until it contains all of `want`.
    fn wait_prefixes(&mut self, want: &[IpNet], timeout: Duration) -> io::Result<()> {
        let kind = self.kind();
        crate::poll(&format!("{kind} to learn {want:?}"), timeout, Duration::from_millis(250), || {
            let have = self.received_prefixes()?;
            Ok(want.iter().all(|p| have.contains(p)).then_some(()))
        })
    }

    /// Starts originating `route` (at run time).
    fn announce(&mut self, route: &Route) -> io::Result<()>;

    /// Stops originating `prefix` (at run time), so neighbors get a withdrawal.
    fn withdraw(&mut self, prefix: IpNet) -> io::Result<()>;

    /// The daemon's log so far.
    fn log(&self) -> String;
}

/// First line of a command's combined stdout+stderr (for `--version` style output).
pub(crate) fn version_line(program: &str, args: &[&str]) -> io::Result<String> {
    let out = std::process::Command::new(program).args(args).output()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned())
}
