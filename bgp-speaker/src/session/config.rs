//! Session configuration and the local OPEN built from it (RFC 4271 §4.2, RFC 5492).

use bgp_proto::capability::LlgrFamily;
use bgp_proto::capability::{AddPathFamily, AddPathMode, ExtendedNextHop, GracefulRestart, GracefulRestartFamily};
use bgp_proto::{Afi, AfiSafi, Capability, Open};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Which peer ASNs an OPEN may carry (RFC 4271 §6.2: otherwise 2/2 Bad Peer AS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PeerAs {
    /// Accept any ASN (dynamic peers without a constraint).
    #[default]
    Any,
    /// Exactly this ASN.
    Exact(u32),
    /// Any ASN in this set.
    Set(Vec<u32>),
    /// Any ASN in this range.
    Range(RangeInclusive<u32>),
}

impl PeerAs {
    /// Whether `asn` is acceptable.
    pub fn accepts(&self, asn: u32) -> bool {
        match self {
            PeerAs::Any => true,
            PeerAs::Exact(a) => *a == asn,
            PeerAs::Set(s) => s.contains(&asn),
            PeerAs::Range(r) => r.contains(&asn),
        }
    }
}

/// BGP Role (RFC 9234 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 0: Provider.
    Provider,
    /// 1: Route Server.
    RouteServer,
    /// 2: Route Server Client.
    RouteServerClient,
    /// 3: Customer.
    Customer,
    /// 4: Peer (lateral).
    Peer,
}

impl Role {
    /// The capability value.
    pub fn code(self) -> u8 {
        match self {
            Role::Provider => 0,
            Role::RouteServer => 1,
            Role::RouteServerClient => 2,
            Role::Customer => 3,
            Role::Peer => 4,
        }
    }

    /// The role the peer must have for the pair to be consistent (RFC 9234 §4.2 table 2).
    pub fn expected_peer_role(self) -> Role {
        match self {
            Role::Provider => Role::Customer,
            Role::Customer => Role::Provider,
            Role::RouteServer => Role::RouteServerClient,
            Role::RouteServerClient => Role::RouteServer,
            Role::Peer => Role::Peer,
        }
    }
}

/// One address family to negotiate, with its ADD-PATH mode (RFC 7911).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyConfig {
    /// The family.
    pub family: AfiSafi,
    /// ADD-PATH mode to advertise, if any.
    pub add_path: Option<AddPathMode>,
}

impl FamilyConfig {
    /// A family without ADD-PATH.
    pub fn new(family: AfiSafi) -> Self {
        FamilyConfig { family, add_path: None }
    }
}

/// Graceful Restart as this speaker advertises it (RFC 4724 §3, RFC 8538).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart Time advertised, seconds (12 bits).
    pub restart_time: u16,
    /// We are restarting: set the R bit in the first OPEN (cleared after the first
    /// Established).
    pub restarting: bool,
    /// Set the F bit for every advertised family (forwarding state preserved).
    pub forwarding_preserved: bool,
    /// Advertise the N bit (RFC 8538: GR also after a NOTIFICATION other than Hard Reset).
    pub notification: bool,
    /// How long to keep stale routes after re-establishment while waiting for the peer's
    /// End-of-RIB (RFC 4724 §4.2 "stale routes"; FRR's stalepath-time).
    pub stale_time: Duration,
    /// Long-Lived GR stale time to advertise (RFC 9494), `None` = no LLGR capability.
    pub llgr_stale_time: Option<u32>,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        GracefulRestartConfig {
            restart_time: 120,
            restarting: false,
            forwarding_preserved: true,
            notification: false,
            stale_time: Duration::from_secs(360),
            llgr_stale_time: None,
        }
    }
}

/// Maximum number of prefixes for one family (RFC 4486 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPrefix {
    /// The family.
    pub family: AfiSafi,
    /// Above this many prefixes the session is closed with Cease/1.
    pub limit: u32,
    /// Warn when the count reaches this percentage of `limit` (0 = no warning).
    pub warning_percent: u8,
    /// Restart automatically after this long; `None` = stay Idle until an admin Start.
    pub restart_after: Option<Duration>,
}

/// Everything a session needs to know about itself and its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our ASN.
    pub local_asn: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// The ASNs the peer may have.
    pub peer_as: PeerAs,
    /// Hold time to propose, seconds (0 or >= 3).
    pub hold_time: u16,
    /// Keepalive interval; `None` = negotiated hold / 3. Capped at hold / 3.
    pub keepalive: Option<u16>,
    /// ConnectRetry time (RFC 4271 §10 suggests 120 s).
    pub connect_retry: Duration,
    /// First wait after a connection that failed before the peer's OPEN arrived
    /// (refused or unreachable, or closed by the peer before its OPEN: its speaker is
    /// not listening yet, or does not know us yet); each such failure in a row adds
    /// this much (linear: a peer that comes up late is not left waiting for a doubled
    /// timer), up to `connect_retry`, and it starts over once an OPEN arrives. `None`:
    /// these failures wait the IdleHold back-off (TcpConnectionFails in Connect/Active)
    /// or `connect_retry` (closed in OpenSent), RFC 4271 §8.2.2.
    pub connect_retry_fast: Option<Duration>,
    /// Hold timer while waiting for the peer's OPEN (RFC 4271 §8.2.2 "large value", 4 min).
    pub open_hold_time: Duration,
    /// DelayOpen time (RFC 4271 §8.1.1); `None` = send OPEN at once.
    pub delay_open: Option<Duration>,
    /// Passive: never initiate TCP; wait in Active for the peer to connect.
    pub passive: bool,
    /// Restart automatically after an error (AutomaticStart with DampPeerOscillations).
    pub auto_restart: bool,
    /// First IdleHold time after a failure (RFC 4271 §8.1.1).
    pub idle_hold: Duration,
    /// Cap for the doubling IdleHold time.
    pub idle_hold_max: Duration,
    /// After this long in Established the back-off resets to `idle_hold`.
    pub stable_period: Duration,
    /// Families to negotiate.
    pub families: Vec<FamilyConfig>,
    /// Advertise Route Refresh (RFC 2918).
    pub route_refresh: bool,
    /// Advertise Enhanced Route Refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Advertise Extended Messages (RFC 8654).
    pub extended_message: bool,
    /// Advertise that we accept IPv4 unicast with an IPv6 next hop (RFC 8950).
    pub extended_next_hop: bool,
    /// Graceful Restart, if enabled.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// FQDN capability (host name, domain name).
    pub fqdn: Option<(String, String)>,
    /// BGP Role (RFC 9234).
    pub role: Option<Role>,
    /// Strict role mode: a peer without the Role capability is refused with 2/11.
    pub strict_role: bool,
    /// Capability codes the peer must advertise, else 2/7 (RFC 5492 §5); e.g. 65 to
    /// require 4-octet AS support.
    pub required_capabilities: Vec<u8>,
    /// Per-family maximum prefix limits.
    pub max_prefix: Vec<MaxPrefix>,
    /// Keep the set of received prefixes (for [`Stats::prefixes`](super::Stats)) also
    /// in families without a max-prefix limit; families with a limit are always counted.
    /// Default true. The tokio driver turns it off: its RIB counts received prefixes, and
    /// the set is a second copy of every prefix (22 MiB for 1M prefixes).
    pub count_prefixes: bool,
}

impl SessionConfig {
    /// A configuration with the defaults below for everything but the identities.
    ///
    /// Defaults: hold 90 s, ConnectRetry 120 s, OpenSent hold 240 s, no DelayOpen,
    /// active, automatic restart with IdleHold 5 s doubling to 120 s, reset after 60 s
    /// stable, IPv4 and IPv6 unicast, route refresh and enhanced route refresh, no
    /// extended message/next hop, no GR, no role, no limits.
    pub fn new(local_asn: u32, router_id: Ipv4Addr, peer_as: PeerAs) -> Self {
        SessionConfig {
            local_asn,
            router_id,
            peer_as,
            hold_time: 90,
            keepalive: None,
            connect_retry: Duration::from_secs(120),
            connect_retry_fast: None,
            open_hold_time: Duration::from_secs(240),
            delay_open: None,
            passive: false,
            auto_restart: true,
            idle_hold: Duration::from_secs(5),
            idle_hold_max: Duration::from_secs(120),
            stable_period: Duration::from_secs(60),
            families: vec![FamilyConfig::new(AfiSafi::IPV4_UNICAST), FamilyConfig::new(AfiSafi::IPV6_UNICAST)],
            route_refresh: true,
            enhanced_route_refresh: true,
            extended_message: false,
            extended_next_hop: false,
            graceful_restart: None,
            fqdn: None,
            role: None,
            strict_role: false,
            required_capabilities: Vec::new(),
            max_prefix: Vec::new(),
            count_prefixes: true,
        }
    }

    /// Whether the peer is internal, given its ASN.
    pub fn is_internal(&self, peer_asn: u32) -> bool {
        peer_asn == self.local_asn
    }

    /// The capabilities of our OPEN, in a fixed order. `restarting` sets the GR R bit.
    pub fn capabilities(&self, restarting: bool) -> Vec<Capability> {
        let mut caps: Vec<Capability> =
            self.families.iter().map(|f| Capability::Multiprotocol { family: f.family, reserved: 0 }).collect();
        if self.route_refresh {
            caps.push(Capability::RouteRefresh);
        }
        if self.enhanced_route_refresh {
            caps.push(Capability::EnhancedRouteRefresh);
        }
        if self.extended_next_hop {
            // RFC 8950 §3: IPv4 unicast NLRI with an IPv6 next hop.
            caps.push(Capability::ExtendedNextHop(vec![ExtendedNextHop {
                nlri: AfiSafi::IPV4_UNICAST,
                next_hop_afi: Afi::IPV6,
            }]));
        }
        if self.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        if let Some(r) = self.role {
            caps.push(Capability::Role(r.code()));
        }
        if let Some(gr) = &self.graceful_restart {
            caps.push(Capability::GracefulRestart(GracefulRestart {
                restarting,
                notification: gr.notification,
                reserved_flags: 0,
                restart_time: gr.restart_time.min(0x0fff),
                families: self
                    .families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        family: f.family,
                        forwarding_preserved: gr.forwarding_preserved,
                        other_flags: 0,
                    })
                    .collect(),
            }));
        }
        caps.push(Capability::FourOctetAs(self.local_asn));
        let ap: Vec<AddPathFamily> = self
            .families
            .iter()
            .filter_map(|f| f.add_path.map(|mode| AddPathFamily { family: f.family, mode }))
            .collect();
        if !ap.is_empty() {
            caps.push(Capability::AddPath(ap));
        }
        if let Some(stale) = self.graceful_restart.as_ref().and_then(|g| g.llgr_stale_time) {
            caps.push(Capability::LongLivedGracefulRestart(
                self.families.iter().map(|f| LlgrFamily { family: f.family, flags: 0, stale_time: stale }).collect(),
            ));
        }
        if let Some((h, d)) = &self.fqdn {
            caps.push(Capability::Fqdn { hostname: h.clone(), domain: d.clone() });
        }
        caps
    }

    /// Our OPEN (RFC 4271 §4.2): My AS is AS_TRANS for a 4-octet ASN (RFC 6793 §4.1).
    pub fn local_open(&self, restarting: bool) -> Open {
        Open::new(self.local_asn, self.hold_time, self.router_id, self.capabilities(restarting))
    }
}
