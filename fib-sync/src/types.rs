//! Public data types: desired routes, events and errors.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

/// rtnetlink protocol number that BIRD uses (`proto bird` in `ip route`).
///
/// Calico's agent and operators recognise the BGP speaker's routes by it, so we keep it.
pub const RTPROT_BIRD: u8 = 12;

/// The kernel's main routing table.
pub const RT_TABLE_MAIN: u32 = 254;

/// Metric the kernel gives an IPv6 route added with metric 0 (`IP6_RT_PRIO_USER`).
///
/// We normalise to it so that what we read back compares equal to what we asked for.
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

/// One next hop of a unicast route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Gateway address; must be of the same family as the prefix.
    pub gateway: IpAddr,
    /// Output interface name; `None` lets the kernel (or gateway resolution) choose.
    pub dev: Option<String>,
    /// `onlink`: the gateway is reachable on `dev` even without a connected subnet
    /// (needed for `tunl0`, whose peers are in no subnet of the node).
    pub onlink: bool,
    /// ECMP weight, 1..=256 (1 when unused).
    pub weight: u16,
}

impl NextHop {
    /// A plain `via GATEWAY` next hop, resolved recursively when not directly connected.
    pub fn via(gateway: IpAddr) -> Self {
        NextHop { gateway, dev: None, onlink: false, weight: 1 }
    }

    /// `via GATEWAY dev DEV onlink`, as used for IPIP tunnelling through `tunl0`.
    pub fn onlink(gateway: IpAddr, dev: &str) -> Self {
        NextHop { gateway, dev: Some(dev.to_string()), onlink: true, weight: 1 }
    }
}

/// What the kernel should do with packets for a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// Drop silently (`blackhole`); Calico uses it for the node's own IPAM blocks.
    Blackhole,
    /// Drop with ICMP unreachable (`unreachable`).
    Unreachable,
    /// A single next hop.
    Via(NextHop),
    /// Several next hops (ECMP, `RTA_MULTIPATH`). A list of one is installed as `Via`.
    Multipath(Vec<NextHop>),
}

/// A route the speaker wants in the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DesiredRoute {
    /// Destination prefix (IPv4 or IPv6); host bits are cleared before use.
    pub prefix: IpNet,
    /// Forwarding behaviour.
    pub kind: RouteKind,
    /// Route metric (`RTA_PRIORITY`). For IPv6, 0 means the kernel default 1024.
    pub metric: u32,
    /// Routing table; [`RT_TABLE_MAIN`] by default.
    pub table: u32,
}

impl DesiredRoute {
    /// A route in the main table with metric 0.
    pub fn new(prefix: IpNet, kind: RouteKind) -> Self {
        DesiredRoute { prefix: prefix.trunc(), kind, metric: 0, table: RT_TABLE_MAIN }
    }

    /// Builder: set the metric.
    pub fn with_metric(mut self, metric: u32) -> Self {
        self.metric = metric;
        self
    }

    /// Builder: set the table.
    pub fn with_table(mut self, table: u32) -> Self {
        self.table = table;
        self
    }
}

/// Identifies a desired route: one route per prefix and table, as BIRD's kernel protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    /// Routing table.
    pub table: u32,
    /// Destination prefix.
    pub prefix: IpNet,
}

/// Why the kernel refused a route.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The kernel answered the request with an error.
    #[error("kernel rejected {prefix} (table {table}): {reason} (errno {errno})")]
    Kernel {
        /// Destination prefix.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// Positive errno, e.g. `libc::ENETUNREACH`.
        errno: i32,
        /// The kernel's extended-ack message if it gave one, else `strerror(errno)`.
        reason: String,
    },
    /// A next hop names an interface that does not exist (yet).
    #[error("route {prefix} (table {table}): no such device {dev}")]
    NoSuchDevice {
        /// Destination prefix.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// The missing interface name.
        dev: String,
    },
    /// Another writer keeps changing the route back: repairs now wait for the back-off.
    #[error("route {prefix} (table {table}) is being changed by another writer ({repairs} repairs in a row)")]
    Contended {
        /// Destination prefix.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// Repairs within the window.
        repairs: u32,
    },
    /// The route cannot be expressed (e.g. an IPv4 gateway for an IPv6 prefix, empty ECMP).
    #[error("route {prefix} (table {table}) is invalid: {reason}")]
    Invalid {
        /// Destination prefix.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// What is wrong.
        reason: String,
    },
}

impl RouteError {
    /// The prefix the error is about.
    pub fn prefix(&self) -> IpNet {
        match self {
            RouteError::Kernel { prefix, .. }
            | RouteError::NoSuchDevice { prefix, .. }
            | RouteError::Contended { prefix, .. }
            | RouteError::Invalid { prefix, .. } => *prefix,
        }
    }
}

/// A route another protocol put on an interface that matches the learning filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LearnedRoute {
    /// Destination prefix (e.g. a borrowed workload /32).
    pub prefix: IpNet,
    /// Interface name, e.g. `cali1234abcd`.
    pub dev: String,
    /// The route's rtnetlink protocol (e.g. 3 = boot, 4 = static, 80 = Calico's agent).
    pub protocol: u8,
}

/// What the sync reports to the speaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FibEvent {
    /// A route could not be installed; it is retried after `retry_in`.
    RouteFailed {
        /// What went wrong, with the prefix and the kernel's reason.
        error: RouteError,
        /// How many attempts failed in a row.
        attempt: u32,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// A route that had failed is now installed.
    RouteRecovered(RouteKey),
    /// A route of ours was changed or deleted by someone else and has been queued for repair.
    Repairing(RouteKey),
    /// A route matching the learning filter appeared.
    Learned(LearnedRoute),
    /// A learned route disappeared.
    Unlearned(LearnedRoute),
    /// The node's connected subnets changed (input to [`crate::encap_decision`]).
    NodeSubnets(Vec<IpNet>),
    /// Stale `proto bird` routes from a previous run were deleted (after the grace period).
    StaleRemoved(usize),
    /// The event socket overflowed (ENOBUFS); the kernel state was re-read.
    Resynced,
}

/// Counters answered by [`crate::FibSync::flush`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Desired routes.
    pub desired: usize,
    /// Desired routes known to be in the kernel as wanted.
    pub installed: usize,
    /// Desired routes waiting for a retry after a kernel error.
    pub failed: usize,
    /// `proto bird` routes from a previous run still waiting for the grace period.
    pub stale: usize,
    /// Whether the stale grace period is still running.
    pub in_grace: bool,
}
