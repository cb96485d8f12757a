//! FRR bgpd without zebra, queried with `vtysh --vty_socket DIR`.
//!
//! Command line that works with FRR 8.4 (found by experiment):
//! `/usr/lib/frr/bgpd -f CONF -Z -S -i PIDFILE -z ZSOCK --vty_socket DIR -P 0`.
//! `-Z` (`--no_zebra`) runs without zebra, `-S` skips the user/group switch (`-u root -g
//! root` fails with "user(root) is not part of vty group specified(frrvty)"), `-P 0`
//! turns the TCP vty off, and `--vty_socket DIR` puts `bgpd.vty` in our own directory,
//! where `vtysh --vty_socket DIR` finds it. No `-N` pathspace is needed. Without zebra
//! bgpd logs harmless `sendmsg_nexthop: zclient_send_message() failed` lines.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::{BgpDaemon, PeerSpec, Route};
use crate::netns::Netns;
use crate::proc::Proc;
use crate::{run_args, WorkDir};

/// Path of FRR's bgpd on Debian.
pub const BGPD: &str = "/usr/lib/frr/bgpd";

/// A running FRR bgpd (no zebra). Routes are originated with `network` statements, each
/// with a route-map setting its attributes.
#[derive(Debug)]
pub struct Frr {
    spec: PeerSpec,
    proc: Proc,
    conf: PathBuf,
    dir: WorkDir,
}

/// bgpd's arguments to run alone from `dir`: config `dir/bgpd.conf`, no zebra (`-Z`),
/// no kernel routes (`-S`), pid file and vty socket in `dir`, no vty TCP port.
pub fn bgpd_args(dir: &std::path::Path) -> Vec<String> {
    let p = |f: &str| dir.join(f).display().to_string();
    vec![
        "-f".to_string(),
        p("bgpd.conf"),
        "-Z".into(),
        "-S".into(),
        "-i".into(),
        p("bgpd.pid"),
        "-z".into(),
        p("zserv.api"),
        "--vty_socket".into(),
        dir.display().to_string(),
        "-P".into(),
        "0".into(),
    ]
}

impl Frr {
    /// Writes the config and starts bgpd in `ns`; waits until vtysh answers.
    pub fn start(ns: &Netns, spec: PeerSpec) -> io::Result<Frr> {
        let dir = WorkDir::new(&format!("frr-{}", spec.name))?;
        let conf = dir.path().join("bgpd.conf");
        std::fs::write(&conf, render(&spec))?;
        let args = bgpd_args(dir.path());
        let proc = Proc::spawn_in(ns, BGPD, &args, &dir.path().join("bgpd.log"))?;
        let mut frr = Frr { spec, proc, conf, dir };
        crate::poll("FRR vty socket", Duration::from_secs(10), Duration::from_millis(100), || {
            frr.proc.check_alive()?;
            Ok(frr.vtysh(&["show bgp summary json"]).ok())
        })?;
        Ok(frr)
    }

    /// Runs `vtysh --vty_socket DIR -c CMD1 -c CMD2 ...` and returns its output.
    pub fn vtysh(&self, cmds: &[&str]) -> io::Result<String> {
        let mut args = vec!["--vty_socket".to_string(), self.dir.path().display().to_string()];
        for c in cmds {
            args.push("-c".into());
            args.push((*c).into());
        }
        let out = run_args("vtysh", &args)?;
        if out.contains("% Unknown command") || out.contains("% Invalid") {
            return Err(io::Error::other(format!("vtysh {cmds:?}: {out}")));
        }
        Ok(out)
    }

    /// The config file's path.
    pub fn config_path(&self) -> &std::path::Path {
        &self.conf
    }

    /// The working directory (config, vty socket, log).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn network_cmd(&self, route: &Route, no: bool) -> io::Result<()> {
        let af = if route.is_v4() { "ipv4" } else { "ipv6" };
        let i = self.spec.routes.iter().position(|r| r.prefix == route.prefix).unwrap_or(0);
        let rm = route_map(i, route);
        let mut cmds: Vec<String> = vec!["configure terminal".into()];
        if !no {
            cmds.extend(rm.lines().map(|l| l.trim().to_string()));
            cmds.push("exit".into());
        }
        cmds.push(format!("router bgp {}", self.spec.local_as));
        cmds.push(format!("address-family {af} unicast"));
        cmds.push(if no {
            format!("no network {}", route.prefix)
        } else {
            format!("network {} route-map RM-{i}", route.prefix)
        });
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        self.vtysh(&refs).map(drop)
    }

    fn json(&self, cmd: &str) -> io::Result<serde_json::Value> {
        let out = self.vtysh(&[cmd])?;
        serde_json::from_str(&out).map_err(|e| io::Error::other(format!("vtysh {cmd}: bad JSON ({e}): {out}")))
    }
}

fn route_map(i: usize, r: &Route) -> String {
    let mut m = format!("route-map RM-{i} permit 10\n");
    if !r.communities.is_empty() {
        let list: Vec<String> = r.communities.iter().map(|(a, v)| format!("{a}:{v}")).collect();
        let _ = writeln!(m, " set community {}", list.join(" "));
    }
    if !r.large_communities.is_empty() {
        let list: Vec<String> = r.large_communities.iter().map(|(g, a, b)| format!("{g}:{a}:{b}")).collect();
        let _ = writeln!(m, " set large-community {}", list.join(" "));
    }
    if let Some(med) = r.med {
        let _ = writeln!(m, " set metric {med}");
    }
    if let Some(lp) = r.local_pref {
        let _ = writeln!(m, " set local-preference {lp}");
    }
    m
}

/// Renders a bgpd config for `spec`.
pub fn render(spec: &PeerSpec) -> String {
    let mut c = String::new();
    c.push_str("frr defaults traditional\n");
    let _ = writeln!(c, "hostname {}", spec.name);
    c.push_str("log stdout informational\n!\n");
    for (i, r) in spec.routes.iter().enumerate() {
        c.push_str(&route_map(i, r));
        c.push_str("!\n");
    }
    if let Some(v6) = spec.local_v6 {
        let _ = writeln!(c, "route-map NH6 permit 10\n set ipv6 next-hop global {v6}\n!");
    }
    let _ = writeln!(c, "router bgp {}", spec.local_as);
    let _ = writeln!(c, " bgp router-id {}", spec.router_id);
    c.push_str(" no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n");
    c.push_str(" no bgp network import-check\n");
    if spec.graceful_restart {
        c.push_str(" bgp graceful-restart\n bgp graceful-restart restart-time 120\n");
    }
    for n in &spec.neighbors {
        let a = n.address;
        let _ = writeln!(c, " neighbor {a} remote-as {}", n.remote_as);
        let local = match a {
            IpAddr::V4(_) => Some(IpAddr::V4(spec.local_v4)),
            IpAddr::V6(_) => spec.local_v6.map(IpAddr::V6),
        };
        if let Some(l) = local {
            let _ = writeln!(c, " neighbor {a} update-source {l}");
        }
        let _ = writeln!(c, " neighbor {a} timers {} {}", (n.hold_time / 3).max(1), n.hold_time);
        c.push_str(&format!(" neighbor {a} timers connect 2\n"));
        if n.passive {
            let _ = writeln!(c, " neighbor {a} passive");
        }
        if let Some(pw) = &n.md5 {
            let _ = writeln!(c, " neighbor {a} password {pw}");
        }
    }
    for (v4, af) in [(true, "ipv4"), (false, "ipv6")] {
        let _ = writeln!(c, " address-family {af} unicast");
        for (i, r) in spec.routes.iter().enumerate() {
            if r.is_v4() == v4 {
                let _ = writeln!(c, "  network {} route-map RM-{i}", r.prefix);
            }
        }
        for n in &spec.neighbors {
            let a = n.address;
            if (v4 && !n.ipv4) || (!v4 && !n.ipv6) {
                continue;
            }
            let _ = writeln!(c, "  neighbor {a} activate");
            if n.add_path.send() {
                let _ = writeln!(c, "  neighbor {a} addpath-tx-all-paths");
            }
            if !n.add_path.receive() {
                let _ = writeln!(c, "  neighbor {a} disable-addpath-rx");
            }
            if n.rr_client {
                let _ = writeln!(c, "  neighbor {a} route-reflector-client");
            }
            if n.next_hop_self {
                let _ = writeln!(c, "  neighbor {a} next-hop-self");
            }
            if !v4 && a.is_ipv4() && spec.local_v6.is_some() {
                let _ = writeln!(c, "  neighbor {a} route-map NH6 out");
            }
        }
        c.push_str(" exit-address-family\n");
    }
    c.push_str("!\n");
    c
}

impl BgpDaemon for Frr {
    fn kind(&self) -> &'static str {
        "frr"
    }

    fn version(&self) -> io::Result<String> {
        super::version_line(BGPD, &["-v"])
    }

    fn is_established(&mut self, neighbor: IpAddr) -> io::Result<bool> {
        self.proc.check_alive()?;
        let v = self.json(&format!("show bgp neighbors {neighbor} json"))?;
        Ok(v[neighbor.to_string()]["bgpState"] == "Established")
    }

    fn received_prefixes(&mut self) -> io::Result<BTreeSet<IpNet>> {
        self.proc.check_alive()?;
        let mut set = BTreeSet::new();
        for af in ["ipv4", "ipv6"] {
            let v = self.json(&format!("show bgp {af} unicast json"))?;
            let Some(routes) = v["routes"].as_object() else {
                continue;
            };
            for (prefix, paths) in routes {
                let learned = paths
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["peerId"].as_str().is_some_and(|id| id != "(unspec)")));
                if learned {
                    if let Ok(net) = prefix.parse() {
                        set.insert(net);
                    }
                }
            }
        }
        Ok(set)
    }

    fn announce(&mut self, route: &Route) -> io::Result<()> {
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        self.network_cmd(route, false)
    }

    fn withdraw(&mut self, prefix: IpNet) -> io::Result<()> {
        let Some(route) = self.spec.routes.iter().find(|r| r.prefix == prefix).cloned() else {
            return Err(io::Error::other(format!("{prefix} is not announced")));
        };
        self.network_cmd(&route, true)?;
        self.spec.routes.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn log(&self) -> String {
        self.proc.log()
    }
}
