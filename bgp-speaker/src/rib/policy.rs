//! Import and export policy: ordered rules of matches and actions, configurable from
//! TOML through serde.
//!
//! ```toml
//! name = "calico-export"
//! default = "reject"
//!
//! [[rule]]
//! match = { prefix = [{ prefix = "10.244.0.0/16", ge = 26, le = 26 }] }
//! then = [{ add-community = "65000:100" }, "accept"]
//! ```
//!
//! Every condition of a rule's `match` must hold (an empty match always holds; a list
//! of prefixes matches when any entry does). The actions of a matching rule run in
//! order; the first terminal action (`accept`, `reject`) ends the evaluation, otherwise
//! evaluation continues with the next rule, and the policy's `default` applies at the end.

use crate::rib::attrs::PathAttrs;
use crate::rib::peer::PeerKind;
use crate::rib::Prefix;
use bgp_proto::{Community, LargeCommunity};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Index of a policy registered with [`crate::rib::Rib::add_policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyId(pub u32);

/// A policy: ordered rules and a default action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Name, for logs and configuration references.
    pub name: String,
    /// What happens when no rule reached a terminal action.
    #[serde(default)]
    pub default: Terminal,
    /// The rules, in order.
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// A terminal decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Terminal {
    /// Accept the route.
    #[default]
    Accept,
    /// Reject the route.
    Reject,
}

/// One rule: conditions and actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Optional name, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions, all of which must hold.
    #[serde(default, rename = "match")]
    pub matches: Match,
    /// Actions, run in order when the conditions hold.
    #[serde(default)]
    pub then: Vec<Action>,
}

/// The conditions of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Match {
    /// The prefix matches any of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix: Vec<PrefixMatch>,
    /// COMMUNITIES holds this community.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<CommunityValue>,
    /// LARGE_COMMUNITY holds this large community.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community: Option<LargeCommunityValue>,
    /// The AS_PATH contains this AS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_contains: Option<u32>,
    /// The AS_PATH starts with this AS (the neighbour AS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_starts_with: Option<u32>,
    /// The peer (the sender on import, the receiver on export) is of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_type: Option<PeerType>,
    /// Where the route came from: originated here, or learned from a peer (Calico
    /// BGPFilter `source: RemotePeers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RouteSource>,
}

/// The origin of a route, for [`Match::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteSource {
    /// Originated by this speaker (blocks, service IPs, `originate`).
    Local,
    /// Learned from a BGP peer.
    RemotePeers,
}

/// A prefix with an optional length range (`ge` <= length <= `le`); exact without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixMatch {
    /// The covering prefix.
    pub prefix: IpNet,
    /// Minimum length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<u8>,
    /// Maximum length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<u8>,
}

impl PrefixMatch {
    /// Whether `p` matches.
    pub fn matches(&self, p: Prefix) -> bool {
        let net: IpNet = p.into();
        let base = self.prefix.trunc();
        if self.ge.is_none() && self.le.is_none() {
            return net == base;
        }
        let len = net.prefix_len();
        let ge = self.ge.unwrap_or(base.prefix_len());
        let le = self.le.unwrap_or(net.max_prefix_len());
        base.contains(&net) && len >= ge && len <= le
    }
}

/// Peer types a rule can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerType {
    /// Any internal peer (client or not).
    Ibgp,
    /// An external peer.
    Ebgp,
    /// A route-reflector client.
    Client,
    /// The local pseudo-peer (originated routes, on export).
    Local,
}

impl PeerType {
    fn matches(self, k: PeerKind) -> bool {
        match self {
            PeerType::Ibgp => k.is_internal(),
            PeerType::Ebgp => k == PeerKind::Ebgp,
            PeerType::Client => k == PeerKind::RrClient,
            PeerType::Local => k == PeerKind::Local,
        }
    }
}

/// An action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Accept (terminal).
    Accept,
    /// Reject (terminal).
    Reject,
    /// Add a community (RFC 1997).
    AddCommunity(CommunityValue),
    /// Remove a community.
    RemoveCommunity(CommunityValue),
    /// Add a large community (RFC 8092).
    AddLargeCommunity(LargeCommunityValue),
    /// Remove a large community.
    RemoveLargeCommunity(LargeCommunityValue),
    /// Prepend our AS this many times.
    Prepend(u8),
    /// Set LOCAL_PREF.
    SetLocalPref(u32),
    /// Set MULTI_EXIT_DISC.
    SetMed(u32),
    /// Send our address as NEXT_HOP (export).
    NextHopSelf,
    /// Keep the NEXT_HOP (export).
    NextHopKeep,
}

/// A standard community written `asn:value` or as a well-known name (`no-export`,
/// `no-advertise`, `no-export-subconfed`, `no-peer`, `blackhole`, `graceful-shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommunityValue(pub Community);

const WELL_KNOWN: [(&str, Community); 6] = [
    ("no-export", Community::NO_EXPORT),
    ("no-advertise", Community::NO_ADVERTISE),
    ("no-export-subconfed", Community::NO_EXPORT_SUBCONFED),
    ("no-peer", Community::NO_PEER),
    ("blackhole", Community::BLACKHOLE),
    ("graceful-shutdown", Community::GRACEFUL_SHUTDOWN),
];

impl FromStr for CommunityValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((_, c)) = WELL_KNOWN.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Ok(CommunityValue(*c));
        }
        let (a, v) = s.split_once(':').ok_or_else(|| format!("community {s:?}: expected ASN:VALUE"))?;
        let a: u16 = a.trim().parse().map_err(|e| format!("community {s:?}: {e}"))?;
        let v: u16 = v.trim().parse().map_err(|e| format!("community {s:?}: {e}"))?;
        Ok(CommunityValue(Community::new(a, v)))
    }
}

impl fmt::Display for CommunityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match WELL_KNOWN.iter().find(|(_, c)| *c == self.0) {
            Some((n, _)) => f.write_str(n),
            None => write!(f, "{}:{}", self.0 .0 >> 16, self.0 .0 & 0xffff),
        }
    }
}

impl Serialize for CommunityValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CommunityValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A large community written `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LargeCommunityValue(pub LargeCommunity);

impl FromStr for LargeCommunityValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [g, l1, l2] = parts.as_slice() else {
            return Err(format!("large community {s:?}: expected GLOBAL:LOCAL1:LOCAL2"));
        };
        let p = |x: &str| x.trim().parse::<u32>().map_err(|e| format!("large community {s:?}: {e}"));
        Ok(LargeCommunityValue(LargeCommunity::new(p(g)?, p(l1)?, p(l2)?)))
    }
}

impl fmt::Display for LargeCommunityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for LargeCommunityValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LargeCommunityValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a policy is evaluated against besides the attributes.
#[derive(Debug, Clone, Copy)]
pub struct PolicyCtx {
    /// The prefix.
    pub prefix: Prefix,
    /// The peer: the sender on import, the receiver on export.
    pub peer_kind: PeerKind,
    /// Our AS (for `prepend`).
    pub local_as: u32,
    /// The route was originated here (on import always false).
    pub from_local: bool,
}

/// A next-hop instruction from an export policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHopAction {
    /// Our address.
    SelfAddr,
    /// Unchanged.
    Keep,
}

/// The outcome of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Accepted.
    pub accept: bool,
    /// The modified attributes, when an action changed them.
    pub modified: Option<PathAttrs>,
    /// A next-hop instruction.
    pub next_hop: Option<NextHopAction>,
}

impl Match {
    /// Whether every condition holds.
    pub fn matches(&self, ctx: &PolicyCtx, a: &PathAttrs) -> bool {
        (self.prefix.is_empty() || self.prefix.iter().any(|m| m.matches(ctx.prefix)))
            && self.community.is_none_or(|c| a.communities.contains(&c.0))
            && self.large_community.is_none_or(|c| a.large_communities.contains(&c.0))
            && self.as_path_contains.is_none_or(|asn| a.as_path.count(asn) > 0)
            && self.as_path_starts_with.is_none_or(|asn| a.as_path.first_as() == Some(asn))
            && self.peer_type.is_none_or(|t| t.matches(ctx.peer_kind))
            && self.source.is_none_or(|s| (s == RouteSource::Local) == ctx.from_local)
    }
}

impl Policy {
    /// A policy with no rules.
    pub fn new(name: impl Into<String>, default: Terminal) -> Self {
        Policy { name: name.into(), default, rules: Vec::new() }
    }

    /// Parses a policy from TOML.
    pub fn from_toml(s: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(s)
    }

    /// Evaluates the policy on `attrs`.
    pub fn evaluate(&self, ctx: &PolicyCtx, attrs: &PathAttrs) -> Verdict {
        let mut modified: Option<PathAttrs> = None;
        let mut next_hop = None;
        for rule in &self.rules {
            if !rule.matches.matches(ctx, modified.as_ref().unwrap_or(attrs)) {
                continue;
            }
            for act in &rule.then {
                let m = || modified.clone().unwrap_or_else(|| attrs.clone());
                match *act {
                    Action::Accept => return Verdict { accept: true, modified, next_hop },
                    Action::Reject => return Verdict { accept: false, modified: None, next_hop: None },
                    Action::NextHopSelf => next_hop = Some(NextHopAction::SelfAddr),
                    Action::NextHopKeep => next_hop = Some(NextHopAction::Keep),
                    _ => {
                        let mut a = m();
                        match *act {
                            Action::AddCommunity(c) if !a.communities.contains(&c.0) => a.communities.push(c.0),
                            Action::RemoveCommunity(c) => a.communities.retain(|x| *x != c.0),
                            Action::AddLargeCommunity(c) if !a.large_communities.contains(&c.0) => {
                                a.large_communities.push(c.0)
                            }
                            Action::RemoveLargeCommunity(c) => a.large_communities.retain(|x| *x != c.0),
                            Action::Prepend(n) => a.as_path.prepend(ctx.local_as, n as usize),
                            Action::SetLocalPref(v) => a.local_pref = Some(v),
                            Action::SetMed(v) => a.med = Some(v),
                            _ => {}
                        }
                        modified = Some(a);
                    }
                }
            }
        }
        match self.default {
            Terminal::Accept => Verdict { accept: true, modified, next_hop },
            Terminal::Reject => Verdict { accept: false, modified: None, next_hop: None },
        }
    }
}
