//! The control socket: one JSON request line in, one JSON response line out, over a
//! Unix socket created with mode 0600 (only its owner, normally root, can open it).
//!
//! Requests: `{"cmd":"status"}`, `{"cmd":"routes","prefix":"10.0.0.0/24"}`,
//! `{"cmd":"reload"}`, `{"cmd":"dump","path":"/abs/file.mrt"}`. Responses:
//! `{"ok":true,"data":...}` or `{"ok":false,"error":"..."}`.

use crate::daemon::Daemon;
use serde::{Deserialize, Serialize};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// A request to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Peers and counters.
    Status,
    /// Routes, of one prefix or all.
    Routes {
        /// The prefix.
        #[serde(default)]
        prefix: Option<String>,
    },
    /// Re-read the configuration file.
    Reload,
    /// Write the RIB as MRT TABLE_DUMP_V2 to `path` (the daemon writes it).
    Dump {
        /// Absolute output path.
        path: PathBuf,
    },
}

/// A response from the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Success.
    pub ok: bool,
    /// The result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    fn from(r: Result<serde_json::Value, String>) -> Self {
        match r {
            Ok(d) => Response { ok: true, data: Some(d), error: None },
            Err(e) => Response { ok: false, data: None, error: Some(e) },
        }
    }
}

/// Binds the control socket (replacing a stale one) with mode 0600.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, "another daemon is listening on it"));
        }
        std::fs::remove_file(path)?;
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves requests until the listener fails.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let d = daemon.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, d).await {
                tracing::debug!(error = %e, "control connection failed");
            }
        });
    }
}

async fn handle(stream: UnixStream, daemon: Arc<Daemon>) -> io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    let resp = match serde_json::from_str::<Request>(&line) {
        Ok(req) => Response::from(daemon.request(req).await),
        Err(e) => Response::from(Err(format!("bad request: {e}"))),
    };
    let mut out = serde_json::to_vec(&resp).map_err(io::Error::other)?;
    out.push(b'\n');
    w.write_all(&out).await?;
    w.shutdown().await
}

/// Sends one request and returns the data, or the daemon's error.
pub async fn call(path: &Path, req: &Request) -> Result<serde_json::Value, String> {
    let mut s = UnixStream::connect(path).await.map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    s.write_all(&line).await.map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.map_err(|e| e.to_string())?;
    let r: Response = serde_json::from_str(&buf).map_err(|e| format!("bad response: {e}"))?;
    match (r.ok, r.data, r.error) {
        (true, d, _) => Ok(d.unwrap_or(serde_json::Value::Null)),
        (false, _, e) => Err(e.unwrap_or_else(|| "failed".into())),
    }
}
