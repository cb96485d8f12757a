//! A lab node running BIRD 2 with a configuration shaped like calico-node's `bird.cfg`
//! template: a static blackhole per block, a kernel protocol that programs `proto
//! bird` routes (graceful restart, persist, ECMP merge), mesh sessions with Calico's
//! timers and the string-order passive rule, Calico's export filter on the pool.
//!
//! The timers are the ones confd renders (projectcalico/calico
//! `confd/etc/calico/confd/templates/bird.cfg.template`, e.g. the compiled
//! `confd/tests/compiled_templates/bgpfilter/node_mesh/bird.cfg`): kernel and device
//! `scan time 2`; `connect delay time 2`, `connect retry time 5`, `error wait time
//! 5,30`, `add paths on`, `graceful restart` (restart time: BIRD's default 120 s) in
//! the BGP template; hold and keepalive left at BIRD's defaults (240 / 80 s).

use super::{LabNode, LabSpec};
use crate::netns::Netns;
use crate::proc::Proc;
use crate::{poll, run};
use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The BIRD configuration of node `i`.
pub fn config(spec: &LabSpec, i: usize) -> String {
    let n = &spec.nodes[i];
    let me = n.addr.addr();
    let mut s = format!(
        r#"router id {me};
protocol device {{ scan time 2; }}
protocol direct {{ ipv4; interface "eth0"; }}
filter calico_export_to_bgp_peers {{
  if ( net ~ {pool} ) then accept;
  reject;
}}
protocol kernel {{
  learn;
  persist;
  metric 0;
  scan time 2;
  graceful restart;
  merge paths on;
  ipv4 {{ import none; export where source != RTS_DEVICE; }};
}}
protocol static {{
  ipv4;
  route {block} blackhole;
}}
template bgp bgp_template {{
  local {me} as 64512;
  multihop;
  graceful restart;
  connect delay time 2;
  connect retry time 5;
  error wait time 5,30;
  ipv4 {{ gateway recursive; import all; export filter calico_export_to_bgp_peers; add paths on; next hop self; }};
}}
"#,
        pool = spec.pool,
        block = n.block
    );
    for m in &spec.nodes {
        let a = m.addr.addr();
        if a == me {
            continue;
        }
        let passive = if a.to_string() > me.to_string() { "  passive on;\n" } else { "" };
        let name = a.to_string().replace('.', "_");
        s += &format!("protocol bgp Mesh_{name} from bgp_template {{\n  neighbor {a} as 64512;\n{passive}}}\n");
    }
    s
}

/// Starts BIRD on node `i` (with `-R`, as calico-node does) and waits for its socket.
pub fn start(spec: &LabSpec, i: usize, ns: &Netns, dir: &Path) -> io::Result<Proc> {
    let n = &spec.nodes[i];
    let conf = dir.join(format!("{}.bird.conf", n.name));
    let sock = dir.join(format!("{}.ctl", n.name));
    std::fs::write(&conf, config(spec, i))?;
    let log = dir.join(format!("{}.log", n.name));
    let (c, s) = (conf.to_string_lossy().into_owned(), sock.to_string_lossy().into_owned());
    let p = Proc::spawn_in(ns, "bird", &["-f", "-R", "-c", &c, "-s", &s], &log)?;
    poll("BIRD socket", Duration::from_secs(10), Duration::from_millis(50), || Ok(sock.exists().then_some(())))?;
    Ok(p)
}

/// `birdc show protocols`.
pub fn show_protocols(n: &LabNode) -> io::Result<String> {
    run(Command::new("birdc").arg("-s").arg(&n.socket).args(["show", "protocols"]))
}

/// (address, "node-to-node mesh", "up"/"start") per mesh protocol.
pub fn peer_states(n: &LabNode) -> io::Result<Vec<(String, String, String)>> {
    let out = show_protocols(n)?;
    Ok(out
        .lines()
        .filter(|l| l.starts_with("Mesh_"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = f[0].trim_start_matches("Mesh_").replace('_', ".");
            let up = l.contains("Established");
            (addr, "node-to-node mesh".to_string(), if up { "up" } else { "start" }.to_string())
        })
        .collect())
}
