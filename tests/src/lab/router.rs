//! BIRD 2 as a top-of-rack router in the lab's router namespace: eBGP (its own AS)
//! with every node on the node's subnet, everything imported, everything exported, and
//! the learned routes programmed into the router's kernel so it forwards pod traffic
//! between the subnets without any tunnel.

use super::LabSpec;
use crate::netns::Netns;
use crate::proc::Proc;
use crate::{poll, run};
use ipnet::Ipv4Net;
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The router's BIRD configuration: one eBGP protocol `node_N` per node.
pub fn config(spec: &LabSpec, asn: u32) -> String {
    let id = spec.router.first().map(|a| a.addr()).unwrap_or(Ipv4Addr::new(198, 18, 0, 254));
    let mut s = format!(
        r#"router id {id};
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol kernel {{
  merge paths on;
  ipv4 {{ import none; export where source = RTS_BGP; }};
}}
template bgp node {{
  local as {asn};
  connect delay time 1;
  connect retry time 3;
  error wait time 5,30;
  ipv4 {{ import all; export where source = RTS_BGP; }};{password}
}}
"#,
        password = spec.tor_password.as_ref().map(|p| format!("\n  password \"{p}\";")).unwrap_or_default()
    );
    for (i, n) in spec.nodes.iter().enumerate() {
        s += &format!("protocol bgp node_{} from node {{ neighbor {} as 64512; }}\n", i + 1, n.addr.addr());
    }
    s
}

/// Writes the configuration and starts BIRD in `ns`; waits for its socket.
pub fn start(spec: &LabSpec, asn: u32, ns: &Netns, dir: &Path) -> io::Result<Proc> {
    let conf = dir.join("router.bird.conf");
    let sock = dir.join("router.ctl");
    std::fs::write(&conf, config(spec, asn))?;
    let log = dir.join("router.log");
    let (c, s) = (conf.to_string_lossy().into_owned(), sock.to_string_lossy().into_owned());
    let p = Proc::spawn_in(ns, "bird", &["-f", "-c", &c, "-s", &s], &log)?;
    poll("router BIRD socket", Duration::from_secs(10), Duration::from_millis(50), || Ok(sock.exists().then_some(())))?;
    Ok(p)
}

/// `birdc ARGS` against the router's BIRD.
pub fn birdc(dir: &Path, args: &[&str]) -> io::Result<String> {
    run(Command::new("birdc").arg("-s").arg(dir.join("router.ctl")).args(args))
}

/// The router's BGP protocols: (name, Established).
pub fn sessions(dir: &Path) -> io::Result<Vec<(String, bool)>> {
    let out = birdc(dir, &["show", "protocols"])?;
    Ok(out
        .lines()
        .filter(|l| l.starts_with("node_"))
        .map(|l| (l.split_whitespace().next().unwrap_or_default().to_string(), l.contains("Established")))
        .collect())
}

/// The router's routes inside `pool`: (prefix, next hop) per path, sorted, parsed from
/// `birdc show route`.
pub fn routes(dir: &Path, pool: Ipv4Net) -> io::Result<Vec<(Ipv4Net, Ipv4Addr)>> {
    let out = birdc(dir, &["show", "route"])?;
    let mut cur: Option<Ipv4Net> = None;
    let mut v = Vec::new();
    for l in out.lines() {
        let t = l.trim_start();
        if l.starts_with(|c: char| c.is_ascii_digit()) {
            cur = t.split_whitespace().next().and_then(|p| p.parse().ok());
        } else if let Some(rest) = t.strip_prefix("via ") {
            let nh = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            if let (Some(p), Some(nh)) = (cur, nh) {
                if pool.contains(&p) {
                    v.push((p, nh));
                }
            }
        }
    }
    v.sort();
    Ok(v)
}
