//! What the node advertises, and Calico's export filter and BGPFilter rules as
//! [`rib::Policy`](crate::rib::Policy).

use super::config::{FilterAction, FilterRule, MatchOperator, NodeConfig};
use crate::rib::policy::{
    Action, CommunityValue, LargeCommunityValue, Match, PeerType, PrefixMatch, RouteSource, Rule, Terminal,
};
use crate::rib::{PathAttrs, Policy};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A standard or large community.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comm {
    /// `a:b` (RFC 1997).
    Std(CommunityValue),
    /// `a:b:c` (RFC 8092).
    Large(LargeCommunityValue),
}

/// Parses a community name (looked up in `named`) or a literal `a:b` / `a:b:c`.
pub fn parse_community(s: &str, named: &BTreeMap<String, String>) -> Result<Comm, String> {
    let v = named.get(s).map(String::as_str).unwrap_or(s);
    if v.matches(':').count() == 2 {
        v.parse().map(Comm::Large)
    } else {
        v.parse().map(Comm::Std).map_err(|e| format!("{e} (and no community is named {s:?})"))
    }
}

/// The attributes of a locally originated prefix: the communities of every
/// prefixAdvertisement whose CIDR contains it.
pub fn local_attrs(cfg: &NodeConfig, p: IpNet) -> PathAttrs {
    let mut a = PathAttrs::default();
    for pa in &cfg.advertise.prefix_advertisements {
        if pa.cidr.contains(&p) {
            for c in &pa.communities {
                match parse_community(c, &cfg.advertise.communities) {
                    Ok(Comm::Std(v)) if !a.communities.contains(&v.0) => a.communities.push(v.0),
                    Ok(Comm::Large(v)) if !a.large_communities.contains(&v.0) => a.large_communities.push(v.0),
                    _ => {}
                }
            }
        }
    }
    a
}

/// Service addresses to originate.
pub fn service_prefixes(cfg: &NodeConfig) -> Vec<IpNet> {
    let a = &cfg.advertise;
    a.service_cluster_ips
        .iter()
        .chain(&a.service_external_ips)
        .chain(&a.service_loadbalancer_ips)
        .map(|n| n.trunc())
        .collect()
}

fn max_len(n: &IpNet) -> u8 {
    n.max_prefix_len()
}

fn covering(n: IpNet) -> PrefixMatch {
    PrefixMatch { prefix: n.trunc(), ge: Some(n.prefix_len()), le: Some(max_len(&n)) }
}

/// Calico's export rules: prefixes in disabled or disableBGPExport pools are rejected,
/// prefixes in enabled pools and service ranges accepted, everything else rejected.
pub fn calico_export_rules(cfg: &NodeConfig) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut pools: Vec<_> = cfg.pools.iter().collect();
    // Most specific pool first, so a disabled sub-pool wins over an enabled super-pool.
    pools.sort_by_key(|p| std::cmp::Reverse(p.cidr.prefix_len()));
    for p in pools {
        let ok = !p.disabled && !p.disable_bgp_export;
        rules.push(Rule {
            name: Some(format!("pool {}", p.cidr)),
            matches: Match { prefix: vec![covering(p.cidr)], ..Default::default() },
            then: vec![if ok { Action::Accept } else { Action::Reject }],
        });
    }
    let services = service_prefixes(cfg);
    if !services.is_empty() {
        rules.push(Rule {
            name: Some("services".into()),
            matches: Match { prefix: services.into_iter().map(covering).collect(), ..Default::default() },
            then: vec![Action::Accept],
        });
    }
    rules
}

/// The name of a peer policy: named by what it is made of (the BGPFilters), not by the
/// peer, so that peers with the same filters get one interned policy and so share one
/// update group (a mesh node's 99 peers: one export run and one encoding per change,
/// not 99).
fn policy_name(dir: &str, filters: &[String]) -> String {
    if filters.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}[{}]", filters.join(","))
    }
}

/// The export policy for a peer with these BGPFilters: their export rules in order, then
/// Calico's export rules, default reject.
pub fn export_policy(cfg: &NodeConfig, filters: &[String]) -> Policy {
    let mut rules = Vec::new();
    for name in filters {
        if let Some(f) = cfg.filters.iter().find(|f| &f.name == name) {
            for (r, v6) in f.export_v4.iter().map(|r| (r, false)).chain(f.export_v6.iter().map(|r| (r, true))) {
                rules.push(filter_rule(cfg, &f.name, r, v6));
            }
        }
    }
    rules.extend(calico_export_rules(cfg));
    Policy { name: policy_name("export", filters), default: Terminal::Reject, rules }
}

/// The import policy for a peer with these BGPFilters: their import rules, default
/// accept; `None` when they have none.
pub fn import_policy(cfg: &NodeConfig, filters: &[String]) -> Option<Policy> {
    let mut rules = Vec::new();
    for name in filters {
        if let Some(f) = cfg.filters.iter().find(|f| &f.name == name) {
            for (r, v6) in f.import_v4.iter().map(|r| (r, false)).chain(f.import_v6.iter().map(|r| (r, true))) {
                rules.push(filter_rule(cfg, &f.name, r, v6));
            }
        }
    }
    (!rules.is_empty()).then(|| Policy { name: policy_name("import", filters), default: Terminal::Accept, rules })
}

/// One BGPFilter rule as a policy rule.
pub fn filter_rule(cfg: &NodeConfig, filter: &str, r: &FilterRule, v6: bool) -> Rule {
    let any: IpNet = if v6 { "::/0".parse().unwrap() } else { "0.0.0.0/0".parse().unwrap() };
    let (op, cidr) = match r.cidr {
        Some(c) => (r.match_operator, c.trunc()),
        None => (MatchOperator::In, any),
    };
    let (min, max) = r.prefix_length.map(|p| (p.min, p.max)).unwrap_or((None, None));
    let prefix = prefix_matches(op, cidr, min, max);
    let mut m = Match { prefix, ..Default::default() };
    m.peer_type = r.peer_type.as_deref().map(|t| match t {
        "ebgp" => PeerType::Ebgp,
        "client" => PeerType::Client,
        _ => PeerType::Ibgp,
    });
    // `source: RemotePeers`: only routes learned from peers, never our own blocks.
    m.source = r.source.as_ref().map(|_| RouteSource::RemotePeers);
    if let Some(c) = &r.community {
        match parse_community(c, &cfg.advertise.communities) {
            Ok(Comm::Std(v)) => m.community = Some(v),
            Ok(Comm::Large(v)) => m.large_community = Some(v),
            Err(_) => {}
        }
    }
    let mut then = Vec::new();
    for c in &r.add_communities {
        match parse_community(c, &cfg.advertise.communities) {
            Ok(Comm::Std(v)) => then.push(Action::AddCommunity(v)),
            Ok(Comm::Large(v)) => then.push(Action::AddLargeCommunity(v)),
            Err(_) => {}
        }
    }
    if let Some(n) = r.prepend {
        then.push(Action::Prepend(n));
    }
    if let Some(p) = r.set_priority {
        then.push(Action::SetLocalPref(p));
    }
    then.push(match r.action {
        FilterAction::Accept => Action::Accept,
        FilterAction::Reject => Action::Reject,
    });
    // A rule whose prefix set is empty can never match; keep it but make it inert.
    if m.prefix.is_empty() {
        m.prefix.push(PrefixMatch { prefix: any, ge: Some(255), le: Some(0) });
    }
    Rule { name: Some(filter.to_string()), matches: m, then }
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn net_from(bits: u128, len: u8, v6: bool) -> IpNet {
    let addr = if v6 { IpAddr::V6(bits.into()) } else { IpAddr::V4((bits as u32).into()) };
    IpNet::new(addr, len).expect("length within family").trunc()
}

/// The prefix sets of a matchOperator on `cidr` with an optional length range. `NotIn`
/// and `NotEqual` become the complement: every shorter covering prefix exactly, every
/// sibling subtree along the path, and (NotEqual) the CIDR's own longer prefixes.
pub fn prefix_matches(op: MatchOperator, cidr: IpNet, min: Option<u8>, max: Option<u8>) -> Vec<PrefixMatch> {
    let full = cidr.max_prefix_len();
    let v6 = full == 128;
    let len = cidr.prefix_len();
    let base = bits(cidr.addr());
    let mut out: Vec<PrefixMatch> = Vec::new();
    match op {
        MatchOperator::Equal => out.push(PrefixMatch { prefix: cidr, ge: None, le: None }),
        MatchOperator::In => out.push(PrefixMatch { prefix: cidr, ge: Some(len), le: Some(full) }),
        MatchOperator::NotIn | MatchOperator::NotEqual => {
            for l in 0..len {
                out.push(PrefixMatch { prefix: net_from(base, l, v6), ge: None, le: None });
                let bit = 1u128 << (u32::from(full) - u32::from(l) - 1);
                out.push(PrefixMatch { prefix: net_from(base ^ bit, l + 1, v6), ge: Some(l + 1), le: Some(full) });
            }
            if op == MatchOperator::NotEqual && len < full {
                out.push(PrefixMatch { prefix: cidr, ge: Some(len + 1), le: Some(full) });
            }
        }
    }
    let (lo, hi) = (min.unwrap_or(0), max.unwrap_or(full));
    out.into_iter()
        .filter_map(|m| match (m.ge, m.le) {
            (None, None) => (m.prefix.prefix_len() >= lo && m.prefix.prefix_len() <= hi).then_some(m),
            (ge, le) => {
                let ge = ge.unwrap_or(m.prefix.prefix_len()).max(lo);
                let le = le.unwrap_or(full).min(hi);
                (ge <= le).then_some(PrefixMatch { prefix: m.prefix, ge: Some(ge), le: Some(le) })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::Prefix;

    fn hit(ms: &[PrefixMatch], p: &str) -> bool {
        let p: Prefix = p.parse().unwrap();
        ms.iter().any(|m| m.matches(p))
    }

    #[test]
    fn operators() {
        let c: IpNet = "10.244.0.0/16".parse().unwrap();
        let inn = prefix_matches(MatchOperator::In, c, None, None);
        assert!(hit(&inn, "10.244.1.0/26") && hit(&inn, "10.244.0.0/16") && !hit(&inn, "10.0.0.0/8"));
        let not_in = prefix_matches(MatchOperator::NotIn, c, None, None);
        for p in ["10.0.0.0/8", "0.0.0.0/0", "10.245.0.0/16", "192.168.0.0/24", "10.243.255.0/24"] {
            assert!(hit(&not_in, p), "{p}");
        }
        for p in ["10.244.0.0/16", "10.244.3.0/26", "10.244.255.255/32"] {
            assert!(!hit(&not_in, p), "{p}");
        }
        let ne = prefix_matches(MatchOperator::NotEqual, c, None, None);
        assert!(!hit(&ne, "10.244.0.0/16") && hit(&ne, "10.244.3.0/26") && hit(&ne, "10.0.0.0/8"));
        let eq = prefix_matches(MatchOperator::Equal, c, None, None);
        assert!(hit(&eq, "10.244.0.0/16") && !hit(&eq, "10.244.0.0/17"));
        let ranged = prefix_matches(MatchOperator::In, c, Some(24), Some(26));
        assert!(hit(&ranged, "10.244.1.0/26") && !hit(&ranged, "10.244.1.1/32") && !hit(&ranged, "10.244.0.0/16"));
        let ranged_not = prefix_matches(MatchOperator::NotIn, c, Some(32), None);
        assert!(hit(&ranged_not, "10.1.1.1/32") && !hit(&ranged_not, "10.1.1.0/24"));
    }

    #[test]
    fn communities() {
        let mut named = BTreeMap::new();
        named.insert("gold".to_string(), "64512:100".to_string());
        assert!(matches!(parse_community("gold", &named), Ok(Comm::Std(_))));
        assert!(matches!(parse_community("1:2:3", &named), Ok(Comm::Large(_))));
        assert!(parse_community("silver", &named).is_err());
    }

    #[test]
    fn source_remote_peers_spares_local_blocks() {
        let src = r#"
[node]
name = "a"
ipv4 = "198.18.0.1/24"
[[pools]]
cidr = "10.244.0.0/16"
[[peers]]
name = "tor"
address = "198.18.0.254"
as = 65000
filters = ["no-transit"]
[[filters]]
name = "no-transit"
[[filters.export-v4]]
source = "RemotePeers"
action = "Reject"
"#;
        let cfg = NodeConfig::parse(src, std::path::Path::new("n.toml")).unwrap();
        let p = export_policy(&cfg, &["no-transit".to_string()]);
        let ctx = crate::rib::policy::PolicyCtx {
            prefix: "10.244.1.0/26".parse().unwrap(),
            peer_kind: crate::rib::PeerKind::Ebgp,
            local_as: 64512,
            from_local: true,
        };
        let a = PathAttrs::default();
        assert!(p.evaluate(&ctx, &a).accept, "our own block is exported");
        let learned = crate::rib::policy::PolicyCtx { from_local: false, ..ctx };
        assert!(!p.evaluate(&learned, &a).accept, "a route learned from a peer is not");
        let bad = src.replace("source = \"RemotePeers\"", "source = \"Local\"");
        let e = NodeConfig::parse(&bad, std::path::Path::new("n.toml")).unwrap_err();
        assert_eq!(e.field, "filters[0].export-v4[0].source", "{e}");
    }
}
