//! The node speaker's TOML configuration, in Calico's vocabulary (BGPConfiguration,
//! Node, IPPool, BGPPeer, BGPFilter), with errors that name the file, line, field and
//! reason.
//!
//! See `bgp-speaker/src/node/node.example.toml` for a complete example.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node (Calico's Node resource and the BGPConfiguration defaults).
    pub node: Node,
    /// Control socket and logging.
    #[serde(default)]
    pub control: Control,
    /// Local IPAM blocks (affine to this node).
    #[serde(default)]
    pub blocks: Vec<IpNet>,
    /// IP pools.
    #[serde(default)]
    pub pools: Vec<Pool>,
    /// Node-to-node mesh.
    #[serde(default)]
    pub mesh: Mesh,
    /// Global and node-specific peers (BGPPeer).
    #[serde(default)]
    pub peers: Vec<Peer>,
    /// What to advertise besides the blocks.
    #[serde(default)]
    pub advertise: Advertise,
    /// Named filters (BGPFilter), referenced by peers.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// This node.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Node {
    /// Node name, as in the mesh membership list.
    pub name: String,
    /// AS number (BGPConfiguration asNumber), 64512 by default.
    #[serde(default = "default_as", rename = "as")]
    pub asn: u32,
    /// Router ID; default the node's IPv4 address.
    pub router_id: Option<Ipv4Addr>,
    /// The node's IPv4 address with its subnet (Node spec.bgp.ipv4Address).
    pub ipv4: Option<IpNet>,
    /// The node's IPv6 address with its subnet (spec.bgp.ipv6Address).
    pub ipv6: Option<IpNet>,
    /// BGP listen port (listenPort), 179.
    #[serde(default = "default_port")]
    pub listen_port: u16,
    /// bindMode: "None" listens on every address, "NodeIP" only on the node's addresses.
    #[serde(default)]
    pub bind_mode: BindMode,
    /// Interfaces whose routes are never learned or exported (ignoredInterfaces).
    #[serde(default)]
    pub ignored_interfaces: Vec<String>,
    /// Route reflector cluster ID (spec.bgp.routeReflectorClusterID): this node reflects
    /// and leaves the mesh.
    pub route_reflector_cluster_id: Option<Ipv4Addr>,
    /// The IPIP tunnel device, `tunl0`.
    #[serde(default = "default_tunnel")]
    pub tunnel_device: String,
}

fn default_as() -> u32 {
    64512
}
fn default_port() -> u16 {
    179
}
fn default_tunnel() -> String {
    "tunl0".into()
}
fn default_true() -> bool {
    true
}
fn default_block_size() -> u8 {
    26
}
fn default_restart() -> u16 {
    120
}
fn default_ready_after() -> u64 {
    30
}

/// bindMode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum BindMode {
    /// Listen on every address.
    #[default]
    None,
    /// Listen on the node's IPv4 and IPv6 addresses only.
    NodeIP,
}

/// Control socket and logs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Control {
    /// Unix socket path (created with mode 0600).
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Log format: "text" or "json".
    #[serde(default)]
    pub log_format: LogFormat,
    /// Readiness: every peer must be Established this many seconds after start; after
    /// that, at least one (calico-node's -bird-ready).
    #[serde(default = "default_ready_after")]
    pub ready_after: u64,
}

fn default_socket() -> PathBuf {
    "/run/bgp-speaker/bgp-speaker.ctl".into()
}

impl Default for Control {
    fn default() -> Self {
        Control { socket: default_socket(), log_format: LogFormat::Text, ready_after: default_ready_after() }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// An IP pool.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Pool {
    /// The pool's CIDR.
    pub cidr: IpNet,
    /// Block size (26 for IPv4, 122 for IPv6 by default).
    #[serde(default = "default_block_size")]
    pub block_size: u8,
    /// ipipMode.
    #[serde(default)]
    pub ipip_mode: EncapMode,
    /// vxlanMode (VXLAN is Felix's business; a VXLAN pool's routes are not programmed
    /// by BGP).
    #[serde(default)]
    pub vxlan_mode: EncapMode,
    /// disableBGPExport: the pool's routes are not advertised.
    #[serde(default)]
    pub disable_bgp_export: bool,
    /// disabled: no exports, no routes.
    #[serde(default)]
    pub disabled: bool,
}

/// ipipMode / vxlanMode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum EncapMode {
    /// No encapsulation.
    #[default]
    Never,
    /// Always encapsulate.
    Always,
    /// Only to next hops outside this node's subnets.
    CrossSubnet,
}

/// The node-to-node mesh.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Mesh {
    /// nodeToNodeMeshEnabled.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Graceful-restart time advertised to mesh peers, seconds.
    #[serde(default = "default_restart")]
    pub restart_time: u16,
    /// Mesh password (nodeMeshPassword).
    pub password: Option<String>,
    /// Keepalive seconds (BIRD default 80).
    pub keepalive_time: Option<u16>,
    /// Hold seconds (BIRD default 240).
    pub hold_time: Option<u16>,
    /// Membership: node name → address (IPv4 or IPv6). This node may be listed.
    #[serde(default)]
    pub members: BTreeMap<String, IpAddr>,
}

impl Default for Mesh {
    fn default() -> Self {
        Mesh {
            enabled: true,
            restart_time: 120,
            password: None,
            keepalive_time: None,
            hold_time: None,
            members: BTreeMap::new(),
        }
    }
}

/// A BGPPeer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Peer {
    /// Name.
    pub name: String,
    /// Node-specific: only the node of this name uses the peer. Absent: global.
    pub node: Option<String>,
    /// peerIP.
    pub address: IpAddr,
    /// Port, 179.
    #[serde(default = "default_port")]
    pub port: u16,
    /// asNumber.
    #[serde(rename = "as")]
    pub asn: u32,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// sourceAddress: a literal address, or "UseNodeIP" (the default).
    pub source_address: Option<String>,
    /// ttlSecurity: GTSM hop count.
    pub ttl_security: Option<u8>,
    /// eBGP multihop TTL.
    pub ttl: Option<u8>,
    /// keepaliveTime, seconds.
    pub keepalive_time: Option<u16>,
    /// holdTime (BIRD default 240 s).
    pub hold_time: Option<u16>,
    /// maxRestartTime: graceful-restart time, seconds (120).
    pub restart_time: Option<u16>,
    /// nextHopMode: Auto, Self, Keep.
    #[serde(default)]
    pub next_hop_mode: NextHopSetting,
    /// numAllowedLocalASNumbers.
    #[serde(default)]
    pub num_allowed_local_as_numbers: u8,
    /// The peer is a route reflector client of this node (this node must have a
    /// cluster ID).
    #[serde(default)]
    pub rr_client: bool,
    /// BGPFilter names, applied in order before the default export rules.
    #[serde(default)]
    pub filters: Vec<String>,
}

/// nextHopMode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum NextHopSetting {
    /// Self for eBGP, keep for iBGP.
    #[default]
    Auto,
    /// Always this node.
    #[serde(rename = "Self")]
    SelfAddr,
    /// Never change.
    Keep,
}

/// Advertisement settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Advertise {
    /// Named communities (BGPConfiguration communities): name → "a:b" or "a:b:c".
    #[serde(default)]
    pub communities: BTreeMap<String, String>,
    /// prefixAdvertisements: communities attached to prefixes inside a CIDR.
    #[serde(default)]
    pub prefix_advertisements: Vec<PrefixAdvertisement>,
    /// serviceClusterIPs to advertise.
    #[serde(default)]
    pub service_cluster_ips: Vec<IpNet>,
    /// serviceExternalIPs to advertise.
    #[serde(default)]
    pub service_external_ips: Vec<IpNet>,
    /// serviceLoadBalancerIPs to advertise.
    #[serde(default)]
    pub service_loadbalancer_ips: Vec<IpNet>,
}

/// One prefixAdvertisements entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrefixAdvertisement {
    /// Prefixes inside this CIDR get the communities.
    pub cidr: IpNet,
    /// Community names or literal values.
    pub communities: Vec<String>,
}

/// A BGPFilter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Filter {
    /// Name, referenced from `peers[].filters`.
    pub name: String,
    /// exportV4 rules.
    #[serde(default)]
    pub export_v4: Vec<FilterRule>,
    /// importV4 rules.
    #[serde(default)]
    pub import_v4: Vec<FilterRule>,
    /// exportV6 rules.
    #[serde(default)]
    pub export_v6: Vec<FilterRule>,
    /// importV6 rules.
    #[serde(default)]
    pub import_v6: Vec<FilterRule>,
}

/// A BGPFilter rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilterRule {
    /// The CIDR the operator compares against; absent: any prefix.
    pub cidr: Option<IpNet>,
    /// matchOperator.
    #[serde(default)]
    pub match_operator: MatchOperator,
    /// prefixLength {min, max}.
    pub prefix_length: Option<PrefixLength>,
    /// source: "RemotePeers" (routes learned from peers, not local ones).
    pub source: Option<String>,
    /// Peer type: "ibgp", "ebgp", "client".
    pub peer_type: Option<String>,
    /// The route carries this community.
    pub community: Option<String>,
    /// Operations: add these communities (names or values).
    #[serde(default)]
    pub add_communities: Vec<String>,
    /// Operations: prepend our AS this many times.
    pub prepend: Option<u8>,
    /// Operations: set the priority (mapped onto LOCAL_PREF).
    pub set_priority: Option<u32>,
    /// Accept or Reject.
    pub action: FilterAction,
}

/// matchOperator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum MatchOperator {
    /// The prefix is the CIDR.
    Equal,
    /// The prefix is not the CIDR.
    NotEqual,
    /// The prefix lies inside the CIDR.
    #[default]
    In,
    /// The prefix lies outside the CIDR.
    NotIn,
}

/// prefixLength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixLength {
    /// Minimum length.
    pub min: Option<u8>,
    /// Maximum length.
    pub max: Option<u8>,
}

/// action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum FilterAction {
    /// Accept.
    Accept,
    /// Reject.
    Reject,
}

/// A configuration error with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field, as a dotted path (`pools[1].cidr`).
    pub field: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// One path segment for locating a field.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn path_str(path: &[Seg]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k)
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The line of a field, walking the spanned document.
fn locate(src: &str, path: &[Seg]) -> Option<usize> {
    let root = toml::de::DeTable::parse(src).ok()?;
    let Some(Seg::Key(first)) = path.first() else { return None };
    let mut cur = root.get_ref().iter().find(|(k, _)| k.get_ref().as_ref() == first.as_str())?.1;
    let mut best = Some(cur.span().start);
    for seg in &path[1..] {
        let next = match seg {
            Seg::Key(k) => cur.get_ref().get(k.as_str()),
            Seg::Idx(i) => cur.get_ref().get(*i),
        };
        match next {
            Some(n) => {
                cur = n;
                best = Some(n.span().start);
            }
            None => break,
        }
    }
    best.map(|o| line_of(src, o))
}

fn k(s: &str) -> Seg {
    Seg::Key(s.into())
}

impl NodeConfig {
    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.into(),
            line: None,
            field: String::new(),
            reason: e.to_string(),
        })?;
        Self::parse(&src, path)
    }

    /// Parses and validates text; `path` names it in errors.
    pub fn parse(src: &str, path: &Path) -> Result<NodeConfig, ConfigError> {
        let cfg: NodeConfig = toml::from_str(src).map_err(|e| ConfigError {
            file: path.into(),
            line: e.span().map(|s| line_of(src, s.start)),
            field: String::new(),
            reason: e.message().trim().to_string(),
        })?;
        cfg.validate().map_err(|(p, reason)| ConfigError {
            file: path.into(),
            line: locate(src, &p),
            field: path_str(&p),
            reason,
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), (Vec<Seg>, String)> {
        let n = &self.node;
        if n.name.is_empty() {
            return Err((vec![k("node"), k("name")], "must not be empty".into()));
        }
        if n.asn == 0 {
            return Err((vec![k("node"), k("as")], "AS 0 is reserved".into()));
        }
        if !matches!(n.ipv4, None | Some(IpNet::V4(_))) {
            return Err((vec![k("node"), k("ipv4")], "not an IPv4 address".into()));
        }
        if !matches!(n.ipv6, None | Some(IpNet::V6(_))) {
            return Err((vec![k("node"), k("ipv6")], "not an IPv6 address".into()));
        }
        if n.ipv4.is_none() && n.ipv6.is_none() {
            return Err((vec![k("node")], "set ipv4 or ipv6 (the node's address with its subnet)".into()));
        }
        if n.router_id.is_none() && n.ipv4.is_none() {
            return Err((vec![k("node"), k("router-id")], "required when the node has no IPv4 address".into()));
        }
        for (i, p) in self.pools.iter().enumerate() {
            let at = |f: &str| vec![k("pools"), Seg::Idx(i), k(f)];
            if p.cidr != p.cidr.trunc() {
                return Err((at("cidr"), format!("host bits set (did you mean {}?)", p.cidr.trunc())));
            }
            if p.block_size < p.cidr.prefix_len() || p.block_size > p.cidr.max_prefix_len() {
                return Err((
                    at("block-size"),
                    format!("must be between {} and {}", p.cidr.prefix_len(), p.cidr.max_prefix_len()),
                ));
            }
            if p.ipip_mode != EncapMode::Never && p.cidr.addr().is_ipv6() {
                return Err((at("ipip-mode"), "IPIP carries IPv4 only".into()));
            }
            if p.ipip_mode != EncapMode::Never && p.vxlan_mode != EncapMode::Never {
                return Err((at("vxlan-mode"), "a pool uses IPIP or VXLAN, not both".into()));
            }
        }
        for (i, b) in self.blocks.iter().enumerate() {
            if *b != b.trunc() {
                return Err((vec![k("blocks"), Seg::Idx(i)], format!("host bits set (did you mean {}?)", b.trunc())));
            }
        }
        if self.mesh.hold_time.is_some_and(|h| h != 0 && h < 3) {
            return Err((vec![k("mesh"), k("hold-time")], "must be 0 or at least 3".into()));
        }
        let names: Vec<&str> = self.filters.iter().map(|f| f.name.as_str()).collect();
        for (i, p) in self.peers.iter().enumerate() {
            let at = |f: &str| vec![k("peers"), Seg::Idx(i), k(f)];
            if p.asn == 0 {
                return Err((at("as"), "AS 0 is reserved".into()));
            }
            if p.hold_time.is_some_and(|h| h != 0 && h < 3) {
                return Err((at("hold-time"), "must be 0 or at least 3".into()));
            }
            if let Some(s) = &p.source_address {
                if s != "UseNodeIP" && s != "None" && s.parse::<IpAddr>().is_err() {
                    return Err((at("source-address"), "an address, \"UseNodeIP\" or \"None\"".into()));
                }
            }
            if p.password.as_ref().is_some_and(|pw| pw.len() > 80) {
                return Err((at("password"), "TCP MD5 keys are at most 80 bytes".into()));
            }
            if p.rr_client && n.route_reflector_cluster_id.is_none() {
                return Err((at("rr-client"), "needs node.route-reflector-cluster-id".into()));
            }
            for (j, f) in p.filters.iter().enumerate() {
                if !names.contains(&f.as_str()) {
                    return Err((
                        vec![k("peers"), Seg::Idx(i), k("filters"), Seg::Idx(j)],
                        format!("no filter named {f:?}"),
                    ));
                }
            }
        }
        for (i, c) in self.advertise.communities.iter() {
            if super::advertise::parse_community(c, &BTreeMap::new()).is_err() {
                return Err((vec![k("advertise"), k("communities"), k(i)], format!("{c:?}: expected a:b or a:b:c")));
            }
        }
        for (i, pa) in self.advertise.prefix_advertisements.iter().enumerate() {
            for (j, c) in pa.communities.iter().enumerate() {
                if let Err(e) = super::advertise::parse_community(c, &self.advertise.communities) {
                    let p =
                        vec![k("advertise"), k("prefix-advertisements"), Seg::Idx(i), k("communities"), Seg::Idx(j)];
                    return Err((p, e));
                }
            }
        }
        for (i, f) in self.filters.iter().enumerate() {
            for (name, rules) in [
                ("export-v4", &f.export_v4),
                ("import-v4", &f.import_v4),
                ("export-v6", &f.export_v6),
                ("import-v6", &f.import_v6),
            ] {
                for (j, r) in rules.iter().enumerate() {
                    let at = |fld: &str| vec![k("filters"), Seg::Idx(i), k(name), Seg::Idx(j), k(fld)];
                    let v6 = name.ends_with("v6");
                    if let Some(c) = r.cidr {
                        if c.addr().is_ipv6() != v6 {
                            return Err((at("cidr"), format!("wrong family for {name}")));
                        }
                    }
                    if let Some(pl) = r.prefix_length {
                        let max = if v6 { 128 } else { 32 };
                        if pl.min.is_some_and(|m| m > max)
                            || pl.max.is_some_and(|m| m > max)
                            || pl.min > pl.max && pl.max.is_some()
                        {
                            return Err((at("prefix-length"), format!("min <= max <= {max}")));
                        }
                    }
                    if r.source.as_deref().is_some_and(|s| s != "RemotePeers") {
                        // Calico's BGPFilter knows one source value.
                        return Err((at("source"), "\"RemotePeers\" is the only source".into()));
                    }
                    if r.peer_type.as_deref().is_some_and(|s| !["ibgp", "ebgp", "client"].contains(&s)) {
                        return Err((at("peer-type"), "one of ibgp, ebgp, client".into()));
                    }
                    for c in r.community.iter().chain(&r.add_communities) {
                        if let Err(e) = super::advertise::parse_community(c, &self.advertise.communities) {
                            return Err((at("community"), e));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The router ID.
    pub fn router_id(&self) -> Ipv4Addr {
        self.node.router_id.unwrap_or_else(|| match self.node.ipv4.map(|n| n.addr()) {
            Some(IpAddr::V4(a)) => a,
            _ => Ipv4Addr::UNSPECIFIED,
        })
    }

    /// This node's addresses.
    pub fn node_addrs(&self) -> Vec<IpAddr> {
        self.node.ipv4.iter().chain(&self.node.ipv6).map(|n| n.addr()).collect()
    }

    /// This node's subnets (for CrossSubnet).
    pub fn node_subnets(&self) -> Vec<IpNet> {
        self.node.ipv4.iter().chain(&self.node.ipv6).map(|n| n.trunc()).collect()
    }

    /// Whether this node is a route reflector (and so outside the mesh).
    pub fn is_reflector(&self) -> bool {
        self.node.route_reflector_cluster_id.is_some()
    }

    /// The pool containing `p`, most specific first.
    pub fn pool_of(&self, p: IpNet) -> Option<&Pool> {
        self.pools.iter().filter(|pool| pool.cidr.contains(&p)).max_by_key(|pool| pool.cidr.prefix_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[node]
name = "node-1"
ipv4 = "198.18.0.1/24"

blocks = ["10.244.0.0/26"]
"#;

    #[test]
    fn minimal_with_defaults() {
        let src = GOOD.replace("blocks = [\"10.244.0.0/26\"]\n", "");
        let src = format!("blocks = [\"10.244.0.0/26\"]\n{src}");
        let c = NodeConfig::parse(&src, Path::new("n.toml")).unwrap();
        assert_eq!(c.node.asn, 64512);
        assert_eq!(c.router_id(), Ipv4Addr::new(198, 18, 0, 1));
        assert!(c.mesh.enabled);
        assert_eq!(c.node.listen_port, 179);
    }

    #[test]
    fn unknown_field_has_line() {
        let src = "[node]\nname = \"a\"\nipv4 = \"198.18.0.1/24\"\nbogus = 1\n";
        let e = NodeConfig::parse(src, Path::new("n.toml")).unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.reason.contains("bogus"), "{e}");
    }

    #[test]
    fn validation_names_field_and_line() {
        let src = "[node]\nname = \"a\"\nipv4 = \"198.18.0.1/24\"\n\n[[pools]]\ncidr = \"10.244.0.0/16\"\n\n[[pools]]\ncidr = \"10.245.0.1/16\"\n";
        let e = NodeConfig::parse(src, Path::new("n.toml")).unwrap_err();
        assert_eq!(e.field, "pools[1].cidr");
        assert_eq!(e.line, Some(9), "{e}");
        assert!(e.to_string().starts_with("n.toml:9: pools[1].cidr: host bits set"), "{e}");
    }

    #[test]
    fn unknown_filter_reference() {
        let src = "[node]\nname = \"a\"\nipv4 = \"198.18.0.1/24\"\n[[peers]]\nname = \"tor\"\naddress = \"198.18.0.254\"\nas = 65000\nfilters = [\"nope\"]\n";
        let e = NodeConfig::parse(src, Path::new("n.toml")).unwrap_err();
        assert_eq!(e.field, "peers[0].filters[0]");
        assert_eq!(e.line, Some(8), "{e}");
    }
}
