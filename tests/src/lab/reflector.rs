//! Lab route reflectors: the real `route-reflector` binary, each in its own namespace on
//! the fabric, all with one cluster ID (RFC 4456 §7: redundant reflectors of one
//! cluster), the nodes as dynamic clients (one range per node subnet). The nodes peer
//! with every reflector as global BGPPeers and run without the mesh.

use super::LabSpec;
use crate::netns::{Attachment, Fabric, Netns};
use crate::poll;
use crate::proc::Proc;
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The cluster ID every lab reflector shares (Calico's documentation uses 244.0.0.1).
pub const CLUSTER_ID: &str = "244.0.0.1";

/// A lab reflector.
pub struct Reflector {
    /// Its name, `rr-1`, `rr-2`, ...
    pub name: String,
    /// Its fabric address.
    pub addr: Ipv4Net,
    /// Its namespace.
    pub ns: Netns,
    /// Its fabric attachment.
    pub att: Attachment,
    /// The process (None while stopped).
    pub proc: Option<Proc>,
    /// Configuration file.
    pub config: PathBuf,
    /// Control socket.
    pub socket: PathBuf,
    /// Log file (a symlink to the current run's log).
    pub log: PathBuf,
}

/// The TOML configuration of reflector `k` (from 0).
pub fn config(spec: &LabSpec, k: usize, socket: &Path) -> String {
    let addr = spec.reflector_addr(k).addr();
    let subnets: BTreeSet<Ipv4Net> = spec.nodes.iter().map(|n| n.addr.trunc()).collect();
    let ranges: Vec<String> = subnets.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "asn = 64512\nrouter_id = \"{addr}\"\ncluster_id = \"{CLUSTER_ID}\"\nlisten = [\"{addr}\"]\nport = 179\n\
         control_socket = \"{}\"\n\n[[group]]\nname = \"nodes\"\ntype = \"client\"\nranges = [{}]\n\
         families = [\"ipv4\"]\nhold_time = 240\n",
        socket.display(),
        ranges.join(", ")
    )
}

impl Reflector {
    /// Creates reflector `k`'s namespace, joins it to the fabric and writes its config.
    pub fn create(spec: &LabSpec, k: usize, fabric: &mut Fabric, dir: &Path) -> io::Result<Reflector> {
        let name = format!("rr-{}", k + 1);
        let addr = spec.reflector_addr(k);
        let ns = Netns::new(&format!("lab-{name}"))?;
        let att = fabric.attach(&ns, "eth0", &[ipnet::IpNet::V4(addr)])?;
        let config = dir.join(format!("{name}.toml"));
        let socket = dir.join(format!("{name}.ctl"));
        let log = dir.join(format!("{name}.log"));
        std::fs::write(&config, self::config(spec, k, &socket))?;
        Ok(Reflector { name, addr, ns, att, proc: None, config, socket, log })
    }

    /// Starts (or restarts) the daemon and waits for its control socket.
    pub fn start(&mut self, bin: &Path, dir: &Path) -> io::Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        let ms = std::time::UNIX_EPOCH.elapsed().unwrap_or_default().as_millis();
        let log = dir.join(format!("{}-{ms}.log", self.name));
        let cfg = self.config.to_string_lossy().into_owned();
        let p = Proc::spawn_in(&self.ns, &bin.to_string_lossy(), &["--config", &cfg, "run"], &log)?;
        let _ = std::fs::remove_file(&self.log);
        let _ = std::os::unix::fs::symlink(&log, &self.log);
        self.proc = Some(p);
        let sock = self.socket.clone();
        poll("reflector control socket", Duration::from_secs(10), Duration::from_millis(50), || {
            Ok(sock.exists().then_some(()))
        })
    }

    /// Kills the daemon with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(p) = self.proc.take() {
            let _ = p.signal(libc::SIGKILL);
            drop(p);
        }
    }

    /// Runs the CLI against this reflector: (exit success, stdout + stderr).
    pub fn ctl(&self, bin: &Path, args: &[&str]) -> io::Result<(bool, String)> {
        let out = Command::new(bin).arg("--config").arg(&self.config).args(args).output()?;
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s += &String::from_utf8_lossy(&out.stderr);
        Ok((out.status.success(), s))
    }

    /// (peer address, state) per peer, from `status --json`.
    pub fn peer_states(&self, bin: &Path) -> io::Result<Vec<(String, String)>> {
        let (ok, out) = self.ctl(bin, &["status", "--json"])?;
        if !ok {
            return Err(io::Error::other(out));
        }
        let v: serde_json::Value = serde_json::from_str(&out).map_err(io::Error::other)?;
        let rows = v.as_array().or_else(|| v["peers"].as_array()).cloned().unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                (s("address"), s("state"))
            })
            .collect())
    }
}
