//! Semantic checks of a parsed configuration, and its translation into
//! [`bgp_speaker::NeighborConfig`] templates.

use crate::config::{AddPath, Config, ConfigError, Family, Group, GroupType, Locator, RawConfig, RawGroup};
use crate::config::{DEFAULT_PORT, DEFAULT_SOCKET};
use bgp_proto::capability::AddPathMode;
use bgp_proto::AfiSafi;
use bgp_speaker::rib::Policy;
use bgp_speaker::session::{FamilyConfig, GracefulRestartConfig, MaxPrefix, PeerAs};
use bgp_speaker::NeighborConfig;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// Default bound on dynamic peers per range.
pub const DEFAULT_LIMIT: usize = 10_000;

/// Checks everything and builds the [`Config`].
pub(crate) fn check(raw: &RawConfig, loc: &Locator<'_>) -> Result<Config, ConfigError> {
    let top = |s: std::ops::Range<usize>, field: &str, reason: String| loc.at(Some(s), None, field, reason);
    let asn = check_asn(&raw.asn).map_err(|r| top(raw.asn.span(), "asn", r))?;
    let router_id = router_id(&raw.router_id).map_err(|r| top(raw.router_id.span(), "router_id", r))?;
    let cluster_id = match &raw.cluster_id {
        Some(c) => Some(router_id_like(c).map_err(|r| top(c.span(), "cluster_id", r))?),
        None => None,
    };
    if let Some(f) = raw.fib_sync.as_ref().filter(|f| *f.get_ref()) {
        return Err(top(f.span(), "fib_sync", "not supported yet (the reflector installs no kernel routes)".into()));
    }
    let port = match &raw.port {
        Some(p) if *p.get_ref() == 0 => return Err(top(p.span(), "port", "must be 1-65535".into())),
        Some(p) => *p.get_ref(),
        None => DEFAULT_PORT,
    };
    let listen: Vec<SocketAddr> = match &raw.listen {
        Some(l) => l.get_ref().iter().map(|a| SocketAddr::new(*a.get_ref(), port)).collect(),
        None => vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)],
    };
    if let Some(l) = &raw.listen {
        let mut seen = Vec::new();
        for a in l.get_ref() {
            if seen.contains(a.get_ref()) {
                return Err(top(a.span(), "listen", format!("{} is listed twice", a.get_ref())));
            }
            seen.push(*a.get_ref());
        }
    }
    let metrics = match &raw.metrics {
        Some(m) => Some(
            m.get_ref()
                .parse::<SocketAddr>()
                .map_err(|_| top(m.span(), "metrics", format!("{:?} is not ADDRESS:PORT", m.get_ref())))?,
        ),
        None => None,
    };
    let control_socket = match &raw.control_socket {
        Some(p) if p.get_ref().as_os_str().is_empty() => {
            return Err(top(p.span(), "control_socket", "must not be empty".into()))
        }
        Some(p) => p.get_ref().clone(),
        None => PathBuf::from(DEFAULT_SOCKET),
    };
    let max_queued_bytes = match &raw.max_queued_bytes {
        Some(m) if *m.get_ref() < 65536 => {
            return Err(top(m.span(), "max_queued_bytes", "must be at least 65536".into()))
        }
        Some(m) => *m.get_ref() as usize,
        None => 64 << 20,
    };

    // Policies by name.
    let mut policies: HashMap<&str, &Policy> = HashMap::new();
    for p in &raw.policy {
        let ctx = Some(format!("policy \"{}\"", p.get_ref().name));
        if p.get_ref().name.is_empty() {
            return Err(loc.at(Some(p.span()), ctx, "name", "must not be empty".into()));
        }
        if policies.insert(&p.get_ref().name, p.get_ref()).is_some() {
            return Err(loc.at(Some(p.span()), ctx, "name", "another policy has this name".into()));
        }
    }

    let mut groups = Vec::new();
    let mut names: HashMap<&str, ()> = HashMap::new();
    let mut static_peers: BTreeMap<IpAddr, &str> = BTreeMap::new();
    let mut ranges: Vec<(IpNet, &str)> = Vec::new();
    for g in &raw.group {
        let gname = g.name.get_ref().as_str();
        let ctx = || Some(format!("group \"{gname}\""));
        let err = |s: std::ops::Range<usize>, field: &str, r: String| loc.at(Some(s), ctx(), field, r);
        if gname.is_empty() {
            return Err(err(g.name.span(), "name", "must not be empty".into()));
        }
        if names.insert(gname, ()).is_some() {
            return Err(err(g.name.span(), "name", "another group has this name".into()));
        }
        if g.peers.is_empty() && g.ranges.is_empty() {
            return Err(err(g.name.span(), "", "has neither peers nor ranges".into()));
        }
        for p in &g.peers {
            if let Some(other) = static_peers.insert(*p.get_ref(), gname) {
                return Err(err(p.span(), "peers", format!("{} is also a peer of group \"{other}\"", p.get_ref())));
            }
        }
        for r in &g.ranges {
            let net = *r.get_ref();
            if net != net.trunc() {
                return Err(err(
                    r.span(),
                    "ranges",
                    format!("{net} has host bits set (did you mean {}?)", net.trunc()),
                ));
            }
            if let Some((o, og)) = ranges.iter().find(|(o, _)| o.contains(&net) || net.contains(o)) {
                return Err(err(r.span(), "ranges", format!("{net} overlaps {o} of group \"{og}\"")));
            }
            ranges.push((net, gname));
        }
        if !g.ranges.is_empty() && listen.is_empty() {
            let s = g.ranges[0].span();
            return Err(err(s, "ranges", "dynamic ranges need a listen address".into()));
        }
        let template = template(g, asn, router_id, &policies, &err)?;
        let limit = match &g.limit {
            Some(l) if *l.get_ref() == 0 => return Err(err(l.span(), "limit", "must be at least 1".into())),
            Some(l) => *l.get_ref() as usize,
            None => DEFAULT_LIMIT,
        };
        groups.push(Group {
            name: gname.to_string(),
            kind: *g.kind.get_ref(),
            peers: g.peers.iter().map(|p| *p.get_ref()).collect(),
            ranges: g.ranges.iter().map(|r| *r.get_ref()).collect(),
            limit,
            template,
        });
    }
    Ok(Config { path: None, asn, router_id, cluster_id, listen, control_socket, metrics, max_queued_bytes, groups })
}

fn check_asn(a: &Spanned<u64>) -> Result<u32, String> {
    match *a.get_ref() {
        0 | 65535 | 4294967295 => Err(format!("{} is reserved (RFC 7607, RFC 7300)", a.get_ref())),
        23456 => Err("23456 is AS_TRANS (RFC 6793), not a real AS".into()),
        n if n > u32::MAX as u64 => Err(format!("{n} is larger than 4294967295")),
        n => Ok(n as u32),
    }
}

fn router_id_like(s: &Spanned<String>) -> Result<Ipv4Addr, String> {
    let a: Ipv4Addr = s.get_ref().parse().map_err(|_| format!("{:?} is not an IPv4 address", s.get_ref()))?;
    if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
        return Err(format!("{a} cannot be a BGP identifier"));
    }
    Ok(a)
}

fn router_id(s: &Spanned<String>) -> Result<Ipv4Addr, String> {
    router_id_like(s)
}

type ErrFn<'a> = dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError + 'a;

fn template(
    g: &RawGroup,
    asn: u32,
    router_id: Ipv4Addr,
    policies: &HashMap<&str, &Policy>,
    err: &ErrFn<'_>,
) -> Result<NeighborConfig, ConfigError> {
    let peer_as = match &g.peer_as {
        Some(p) => check_asn(p).map_err(|r| err(p.span(), "peer_as", r))?,
        None => asn,
    };
    if *g.kind.get_ref() == GroupType::Client && peer_as != asn {
        let s = g.peer_as.as_ref().map(|p| p.span()).unwrap_or(g.kind.span());
        return Err(err(s, "peer_as", format!("clients must be in our AS {asn} (route reflection is iBGP)")));
    }
    let mut n = NeighborConfig::new(asn, router_id, IpAddr::V4(Ipv4Addr::UNSPECIFIED), PeerAs::Exact(peer_as));
    n.rr_client = *g.kind.get_ref() == GroupType::Client;
    n.description = g.description.clone().unwrap_or_else(|| g.name.get_ref().clone());
    if let Some(p) = &g.peer_port {
        if *p.get_ref() == 0 {
            return Err(err(p.span(), "peer_port", "must be 1-65535".into()));
        }
        n.port = *p.get_ref();
    }
    n.session.passive = g.passive.unwrap_or(false);
    let s = &mut n.session;
    if let Some(h) = &g.hold_time {
        match *h.get_ref() {
            1 | 2 => return Err(err(h.span(), "hold_time", "must be 0 or at least 3".into())),
            v if v > 65535 => return Err(err(h.span(), "hold_time", "must be at most 65535".into())),
            v => s.hold_time = v as u16,
        }
    }
    if let Some(k) = &g.keepalive {
        let v = *k.get_ref();
        if v == 0 || (s.hold_time != 0 && v > u64::from(s.hold_time / 3)) {
            let r = format!("must be 1 to hold_time / 3 ({})", s.hold_time / 3);
            return Err(err(k.span(), "keepalive", r));
        }
        s.keepalive = Some(v as u16);
    }
    if let Some(c) = &g.connect_retry {
        if !(1..=65535).contains(c.get_ref()) {
            return Err(err(c.span(), "connect_retry", "must be 1-65535 seconds".into()));
        }
        s.connect_retry = Duration::from_secs(*c.get_ref());
    }
    let families = match &g.families {
        Some(f) => {
            if f.get_ref().is_empty() {
                return Err(err(f.span(), "families", "must name at least one of \"ipv4\", \"ipv6\"".into()));
            }
            if f.get_ref().len() == 2 && f.get_ref()[0] == f.get_ref()[1] {
                return Err(err(f.span(), "families", "lists a family twice".into()));
            }
            f.get_ref().clone()
        }
        None => vec![Family::Ipv4, Family::Ipv6],
    };
    let mode = match g.add_path.as_ref().map(|a| *a.get_ref()) {
        None | Some(AddPath::Off) => None,
        Some(AddPath::Send) => Some(AddPathMode::Send),
        Some(AddPath::Receive) => Some(AddPathMode::Receive),
        Some(AddPath::Both) => Some(AddPathMode::Both),
    };
    let afis: Vec<AfiSafi> = families
        .iter()
        .map(|f| match f {
            Family::Ipv4 => AfiSafi::IPV4_UNICAST,
            Family::Ipv6 => AfiSafi::IPV6_UNICAST,
        })
        .collect();
    s.families = afis.iter().map(|&family| FamilyConfig { family, add_path: mode }).collect();
    if let Some(m) = &g.max_prefix {
        if !(1..=u32::MAX as u64).contains(m.get_ref()) {
            return Err(err(m.span(), "max_prefix", "must be 1-4294967295".into()));
        }
        let restart_after = g.max_prefix_restart.as_ref().map(|r| Duration::from_secs(*r.get_ref()));
        s.max_prefix = afis
            .iter()
            .map(|&family| MaxPrefix { family, limit: *m.get_ref() as u32, warning_percent: 90, restart_after })
            .collect();
    } else if let Some(r) = &g.max_prefix_restart {
        return Err(err(r.span(), "max_prefix_restart", "needs max_prefix".into()));
    }
    let restart_time = match &g.restart_time {
        Some(r) if *r.get_ref() > 4095 => {
            return Err(err(r.span(), "restart_time", "must be at most 4095 seconds (12 bits)".into()))
        }
        Some(r) => Some(*r.get_ref() as u16),
        None => None,
    };
    if g.graceful_restart.unwrap_or(false) {
        let mut gr = GracefulRestartConfig { forwarding_preserved: false, ..Default::default() };
        if let Some(r) = restart_time {
            gr.restart_time = r;
        }
        s.graceful_restart = Some(gr);
    } else if let (Some(r), Some(_)) = (&g.restart_time, restart_time) {
        return Err(err(r.span(), "restart_time", "needs graceful_restart = true".into()));
    }
    let t = &mut n.transport;
    if let Some(m) = &g.md5_password {
        let len = m.get_ref().len();
        if len == 0 || len > 80 {
            return Err(err(m.span(), "md5_password", format!("must be 1-80 bytes long (is {len}; RFC 2385)")));
        }
        t.md5_key = Some(m.get_ref().as_bytes().to_vec());
    }
    if let Some(h) = &g.gtsm_hops {
        if !(1..=254).contains(h.get_ref()) {
            return Err(err(h.span(), "gtsm_hops", "must be 1-254".into()));
        }
        t.gtsm_hops = Some(*h.get_ref() as u8);
    }
    if let Some(x) = &g.ttl {
        if g.gtsm_hops.is_some() {
            return Err(err(x.span(), "ttl", "cannot be combined with gtsm_hops (GTSM sends TTL 255)".into()));
        }
        if !(1..=255).contains(x.get_ref()) {
            return Err(err(x.span(), "ttl", "must be 1-255".into()));
        }
        t.ttl = Some(*x.get_ref() as u8);
    }
    t.source = g.source.as_ref().map(|s| *s.get_ref());
    t.connect_timeout = Some(Duration::from_secs(10));
    let lookup = |p: &Option<Spanned<String>>, field: &str| -> Result<Option<std::sync::Arc<Policy>>, ConfigError> {
        match p {
            None => Ok(None),
            Some(name) => match policies.get(name.get_ref().as_str()) {
                Some(pol) => Ok(Some(std::sync::Arc::new((*pol).clone()))),
                None => Err(err(name.span(), field, format!("no policy named {:?}", name.get_ref()))),
            },
        }
    };
    n.import = lookup(&g.import, "import")?;
    n.export = lookup(&g.export, "export")?;
    Ok(n)
}
