//! The configuration file: TOML read with serde (`deny_unknown_fields`, spans for line
//! numbers), then checked as a whole. See `route-reflector/examples/reflector.toml` for
//! an annotated example and README.md for every key.
//!
//! Errors name the file, the line, the group or policy, the field and the reason:
//!
//! ```text
//! reflector.toml:12: group "clients": hold_time: must be 0 or at least 3
//! ```

use crate::check;
use bgp_speaker::rib::Policy;
use ipnet::IpNet;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The configuration used when no `--config` is given: loopback only, on an
/// unprivileged port, every 127.0.0.0/8 source accepted as a dynamic client.
pub const DEFAULT_CONFIG: &str = r#"# Embedded default: safe on any host (loopback only).
asn = 64512
router_id = "127.0.0.1"
listen = ["127.0.0.1"]
port = 1179

[[group]]
name = "loopback-clients"
type = "client"
ranges = ["127.0.0.0/8"]
"#;

/// The default control socket.
pub const DEFAULT_SOCKET: &str = "/run/route-reflector.sock";

/// The default listen port when `port` is not set (BGP's).
pub const DEFAULT_PORT: u16 = 179;

/// A configuration error with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// `group "x"` or `policy "x"`, when the error is inside one.
    pub context: Option<String>,
    /// The key.
    pub field: Option<String>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ":")?;
        if let Some(c) = &self.context {
            write!(f, " {c}:")?;
        }
        if let Some(k) = &self.field {
            write!(f, " {k}:")?;
        }
        write!(f, " {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Route-reflector client (RFC 4456) or ordinary iBGP/eBGP peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupType {
    /// Reflector clients: routes from non-clients and other clients are reflected to them.
    Client,
    /// Other reflectors and upstream routers.
    NonClient,
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

/// ADD-PATH (RFC 7911) mode to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddPath {
    /// No ADD-PATH.
    Off,
    /// Send every ECMP path (clients can install ECMP routes).
    Send,
    /// Receive several paths.
    Receive,
    /// Both.
    Both,
}

/// The file as written (before checks).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Local AS.
    pub asn: Spanned<u64>,
    /// BGP identifier.
    pub router_id: Spanned<String>,
    /// Cluster ID (RFC 4456); the router ID when absent.
    pub cluster_id: Option<Spanned<String>>,
    /// Addresses to listen on.
    #[serde(default)]
    pub listen: Option<Spanned<Vec<Spanned<IpAddr>>>>,
    /// Listen port.
    pub port: Option<Spanned<u16>>,
    /// Control socket path.
    pub control_socket: Option<Spanned<PathBuf>>,
    /// Prometheus metrics address.
    pub metrics: Option<Spanned<String>>,
    /// Install routes in the kernel (not supported yet).
    pub fib_sync: Option<Spanned<bool>>,
    /// Per-peer send queue bound, bytes.
    pub max_queued_bytes: Option<Spanned<u64>>,
    /// Neighbour groups.
    #[serde(default)]
    pub group: Vec<RawGroup>,
    /// Named policies.
    #[serde(default)]
    pub policy: Vec<Spanned<Policy>>,
}

/// A `[[group]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Name.
    pub name: Spanned<String>,
    /// Client or non-client.
    #[serde(rename = "type")]
    pub kind: Spanned<GroupType>,
    /// The peers' AS (default: ours, iBGP).
    pub peer_as: Option<Spanned<u64>>,
    /// Static peers.
    #[serde(default)]
    pub peers: Vec<Spanned<IpAddr>>,
    /// Dynamic ranges.
    #[serde(default)]
    pub ranges: Vec<Spanned<IpNet>>,
    /// At most this many dynamic peers per range.
    pub limit: Option<Spanned<u64>>,
    /// The peers' port.
    pub peer_port: Option<Spanned<u16>>,
    /// Never connect to static peers; wait for them.
    pub passive: Option<bool>,
    /// Hold time, seconds.
    pub hold_time: Option<Spanned<u64>>,
    /// Keepalive interval, seconds.
    pub keepalive: Option<Spanned<u64>>,
    /// ConnectRetry, seconds.
    pub connect_retry: Option<Spanned<u64>>,
    /// TCP MD5 password.
    pub md5_password: Option<Spanned<String>>,
    /// GTSM hops.
    pub gtsm_hops: Option<Spanned<u64>>,
    /// Outgoing TTL.
    pub ttl: Option<Spanned<u64>>,
    /// Source address for connections.
    pub source: Option<Spanned<IpAddr>>,
    /// Families.
    pub families: Option<Spanned<Vec<Family>>>,
    /// ADD-PATH.
    pub add_path: Option<Spanned<AddPath>>,
    /// Max prefixes per family.
    pub max_prefix: Option<Spanned<u64>>,
    /// Restart after a max-prefix reset, seconds.
    pub max_prefix_restart: Option<Spanned<u64>>,
    /// Graceful restart.
    pub graceful_restart: Option<bool>,
    /// GR restart time, seconds.
    pub restart_time: Option<Spanned<u64>>,
    /// Import policy name.
    pub import: Option<Spanned<String>>,
    /// Export policy name.
    pub export: Option<Spanned<String>>,
    /// Free text.
    pub description: Option<String>,
}

/// A checked group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Client or non-client.
    pub kind: GroupType,
    /// Static peers.
    pub peers: Vec<IpAddr>,
    /// Dynamic ranges.
    pub ranges: Vec<IpNet>,
    /// Dynamic peers per range.
    pub limit: usize,
    /// Settings of every peer of the group (address unset).
    pub template: bgp_speaker::NeighborConfig,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (for reload).
    pub path: Option<PathBuf>,
    /// Local AS.
    pub asn: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Cluster ID.
    pub cluster_id: Option<Ipv4Addr>,
    /// Listen sockets.
    pub listen: Vec<SocketAddr>,
    /// Control socket.
    pub control_socket: PathBuf,
    /// Metrics address.
    pub metrics: Option<SocketAddr>,
    /// Per-peer send queue bound.
    pub max_queued_bytes: usize,
    /// Groups.
    pub groups: Vec<Group>,
}

/// Where in the text an error points, and how to name it.
pub(crate) struct Locator<'a> {
    text: &'a str,
    file: String,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str, file: &str) -> Self {
        Locator { text, file: file.to_string() }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].bytes().filter(|&b| b == b'\n').count() + 1
    }

    /// An error at a span with an explicit context and field.
    pub(crate) fn at(
        &self,
        span: Option<Range<usize>>,
        ctx: Option<String>,
        field: &str,
        reason: String,
    ) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: span.map(|s| self.line_of(s.start)),
            context: ctx,
            field: (!field.is_empty()).then(|| field.to_string()),
            reason,
        }
    }

    /// A parse error: the line from its span, the context from the table the line is
    /// in, the field from the key on the line.
    fn parse_error(&self, e: &toml::de::Error) -> ConfigError {
        let Some(span) = e.span() else {
            return self.at(None, None, "", e.message().trim().to_string());
        };
        let line = self.line_of(span.start);
        let lines: Vec<&str> = self.text.lines().collect();
        let this = lines.get(line - 1).copied().unwrap_or("");
        let mut reason = e.message().trim().to_string();
        let field = this
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.starts_with('#') && !reason.contains(k.as_str()))
            .filter(|_| !reason.starts_with("missing field"));
        if let Some(r) = reason.strip_prefix("unknown field ") {
            reason = format!("unknown field {r}");
        }
        ConfigError { file: self.file.clone(), line: Some(line), context: self.context_at(line), field, reason }
    }

    /// `group "name"` or `policy "name"` when `line` is inside such a table.
    fn context_at(&self, line: usize) -> Option<String> {
        let lines: Vec<&str> = self.text.lines().collect();
        // The nearest `[[group]]` / `[[policy]]` above, skipping their sub-tables.
        let mut start = None;
        for i in (0..line.min(lines.len())).rev() {
            let h = lines[i].trim();
            if h.starts_with("[[group]]") || h.starts_with("[[policy]]") {
                start = Some(i);
                break;
            }
            let sub = ["[[group.", "[group.", "[[policy.", "[policy."].iter().any(|p| h.starts_with(p));
            if h.starts_with('[') && !sub {
                return None;
            }
        }
        let start = start?;
        let header = if lines[start].trim().starts_with("[[group]]") { "[[group]]" } else { "[[policy]]" };
        let kind = &header[2..header.len() - 2];
        let name = lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
            })
            .unwrap_or_default();
        if name.is_empty() {
            let n = lines[..=start].iter().filter(|l| l.trim_start().starts_with(header)).count();
            return Some(format!("{kind} #{n}"));
        }
        Some(format!("{kind} \"{name}\""))
    }
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            line: None,
            context: None,
            field: None,
            reason: format!("cannot read: {e}"),
        })?;
        let mut c = Config::parse(&text, &name)?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// The embedded default.
    pub fn embedded() -> Config {
        Config::parse(DEFAULT_CONFIG, "<embedded default>").expect("the embedded default is valid")
    }

    /// Parses and checks `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let loc = Locator::new(text, file);
        let raw: RawConfig = toml::from_str(text).map_err(|e| loc.parse_error(&e))?;
        check::check(&raw, &loc)
    }
}
