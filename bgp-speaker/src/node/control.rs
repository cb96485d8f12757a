//! The control socket: a Unix socket with mode 0600 (only root opens it), one JSON
//! request line in, one JSON response line out.

use super::NodeSpeaker;
use crate::rib::Prefix;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::IpAddr;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Peer table.
    Status,
    /// Routes, all or one prefix.
    Routes {
        /// Only this prefix.
        prefix: Option<IpNet>,
    },
    /// Readiness probe.
    Ready,
    /// Liveness probe.
    Live,
    /// Add a local block.
    BlockAdd {
        /// The block.
        cidr: IpNet,
    },
    /// Remove a local block.
    BlockDel {
        /// The block.
        cidr: IpNet,
    },
    /// Add a mesh member.
    PeerAdd {
        /// Node name.
        name: String,
        /// Address.
        address: IpAddr,
    },
    /// Remove a mesh member.
    PeerDel {
        /// Node name.
        name: String,
        /// Address (checked when given).
        address: Option<IpAddr>,
    },
    /// Re-read the configuration file.
    Reload,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Success (for probes: the probe's verdict).
    pub ok: bool,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
    /// Structured data.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Response {
    fn ok(message: impl Into<String>) -> Self {
        Response { ok: true, message: message.into(), data: serde_json::Value::Null }
    }
    fn err(e: impl ToString) -> Self {
        Response { ok: false, message: e.to_string(), data: serde_json::Value::Null }
    }
}

/// One route as `routes` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    /// Prefix.
    pub prefix: IpNet,
    /// Next hop ("local" for originated routes).
    pub next_hop: String,
    /// From which neighbour (address), "local" for originated.
    pub from: String,
    /// Best path.
    pub best: bool,
    /// In the ECMP set.
    pub ecmp: bool,
    /// Stale (graceful restart).
    pub stale: bool,
    /// AS path.
    pub as_path: String,
    /// Communities.
    pub communities: Vec<String>,
}

async fn routes(node: &NodeSpeaker, prefix: Option<IpNet>) -> Response {
    let h = node.handle();
    let all = match h.routes(prefix.map(Prefix::from)).await {
        Ok(r) => r,
        Err(e) => return Response::err(e),
    };
    let peers = h.peers().await.unwrap_or_default();
    let mut rows = Vec::new();
    let mut text = String::new();
    for (p, infos) in all {
        for i in infos {
            let a = &i.route.attrs;
            let nh = match &a.next_hop {
                Some(bgp_proto::NextHop::V4(x)) => x.to_string(),
                Some(bgp_proto::NextHop::V6 { global, .. }) => global.to_string(),
                Some(other) => format!("{other:?}"),
                None => "local".into(),
            };
            let from = if i.route.peer == crate::rib::PeerId::LOCAL {
                "local".to_string()
            } else {
                // The peer whose Adj-RIB-In holds the path (a reflector or router may
                // pass on another node's next hop, so the next hop does not tell).
                peers
                    .iter()
                    .find(|s| s.rib_id == Some(i.route.peer))
                    .map(|s| s.address.to_string())
                    .unwrap_or_else(|| format!("peer#{}", i.route.peer.0))
            };
            let row = RouteRow {
                prefix: p.into(),
                next_hop: nh,
                from,
                best: i.best,
                ecmp: i.ecmp,
                stale: i.stale,
                as_path: a
                    .as_path
                    .segments
                    .iter()
                    .flat_map(|s| s.asns.iter().map(u32::to_string))
                    .collect::<Vec<_>>()
                    .join(" "),
                communities: a.communities.iter().map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff)).collect(),
            };
            text += &format!(
                "{:<20} via {:<16} from {:<16} {}{}{} [{}]\n",
                row.prefix.to_string(),
                row.next_hop,
                row.from,
                if row.best { "*" } else { " " },
                if row.ecmp { "=" } else { " " },
                if row.stale { " stale" } else { "" },
                row.as_path
            );
            rows.push(row);
        }
    }
    Response { ok: true, message: text, data: serde_json::to_value(rows).unwrap_or_default() }
}

/// Answers one request.
pub async fn handle(node: &NodeSpeaker, req: Request) -> Response {
    let done = |r: Result<(), super::NodeError>, what: String| match r {
        Ok(()) => Response::ok(what),
        Err(e) => Response::err(e),
    };
    match req {
        Request::Status => match node.status().await {
            Ok(s) => Response { ok: true, message: s.render(), data: serde_json::to_value(&s).unwrap_or_default() },
            Err(e) => Response::err(e),
        },
        Request::Routes { prefix } => routes(node, prefix).await,
        Request::Ready => match node.ready().await {
            Ok((ok, m)) => Response { ok, message: m, data: serde_json::Value::Null },
            Err(e) => Response::err(e),
        },
        Request::Live => {
            if node.live().await {
                Response::ok("live")
            } else {
                Response::err("the speaker core does not answer")
            }
        }
        Request::BlockAdd { cidr } => done(node.add_block(cidr).await, format!("block {cidr} added")),
        Request::BlockDel { cidr } => done(node.del_block(cidr).await, format!("block {cidr} removed")),
        Request::PeerAdd { name, address } => {
            done(node.add_member(&name, address).await, format!("member {name} ({address}) added"))
        }
        Request::PeerDel { name, address } => {
            done(node.del_member(&name, address).await, format!("member {name} removed"))
        }
        Request::Reload => done(node.reload().await, "configuration reloaded".into()),
    }
}

/// Binds the socket with mode 0600 (umask around the bind, so it is never wider).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    // SAFETY: umask only changes the process's file mode mask.
    let old = unsafe { libc::umask(0o177) };
    let l = UnixListener::bind(path);
    // SAFETY: restores the previous mask.
    unsafe { libc::umask(old) };
    let l = l?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves requests until the listener fails.
pub async fn serve(node: NodeSpeaker, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let node = node.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let resp = match serde_json::from_str::<Request>(&line) {
                    Ok(req) => handle(&node, req).await,
                    Err(e) => Response::err(format!("bad request: {e}")),
                };
                let mut out = serde_json::to_string(&resp).unwrap_or_default();
                out.push('\n');
                if w.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Sends one request and reads the response (the CLI's side).
pub async fn request(path: &Path, req: &Request) -> io::Result<Response> {
    let s = UnixStream::connect(path).await?;
    let (r, mut w) = s.into_split();
    let mut line = serde_json::to_string(req).map_err(io::Error::other)?;
    line.push('\n');
    w.write_all(line.as_bytes()).await?;
    let mut lines = BufReader::new(r).lines();
    let resp = lines.next_line().await?.ok_or_else(|| io::Error::other("the speaker closed the socket"))?;
    serde_json::from_str(&resp).map_err(io::Error::other)
}
