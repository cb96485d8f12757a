//! ExaBGP 4.2: config file plus environment variables, no CLI.
//!
//! Environment that works as root in a namespace: `exabgp.daemon.user=root`,
//! `exabgp.daemon.drop=false`, `exabgp.daemon.daemonize=false`,
//! `exabgp.daemon.pid=DIR/exabgp.pid`, `exabgp.log.destination=stdout`,
//! `exabgp.api.cli=false` (no named pipes), `exabgp.tcp.bind=<local v4>` (needed to
//! listen for passive neighbors). ExaBGP has no query CLI without its pipes, so the
//! launcher configures an API process `/usr/bin/python3 -u DIR/api.py DIR` that appends ExaBGP's JSON
//! events (neighbor state, parsed updates) to `DIR/events.json` and forwards the
//! lines of `DIR/commands` (`announce route ...`, `withdraw route ...`) to ExaBGP.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::{BgpDaemon, PeerSpec, Route};
use crate::netns::Netns;
use crate::proc::Proc;
use crate::WorkDir;

/// The API process: appends ExaBGP's JSON events (its stdin) to `DIR/events.json` and
/// forwards new lines of `DIR/commands` to ExaBGP (its stdout). A shell `cat &` helper
/// does not work here (ExaBGP's events never reached the file), this does.
const API_HELPER: &str = r#"import sys, threading, time
d = sys.argv[1]
def pump():
    with open(d + "/events.json", "a") as f:
        for line in sys.stdin:
            f.write(line)
            f.flush()
threading.Thread(target=pump, daemon=True).start()
pos = 0
while True:
    with open(d + "/commands") as c:
        c.seek(pos)
        data = c.read()
        pos = c.tell()
    for line in data.splitlines():
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    time.sleep(0.1)
"#;

/// A running ExaBGP.
#[derive(Debug)]
pub struct ExaBgp {
    spec: PeerSpec,
    proc: Proc,
    conf: PathBuf,
    dir: WorkDir,
}

impl ExaBgp {
    /// Writes the config and helper script and starts ExaBGP in `ns`.
    pub fn start(ns: &Netns, spec: PeerSpec) -> io::Result<ExaBgp> {
        let dir = WorkDir::new(&format!("exabgp-{}", spec.name))?;
        let conf = dir.path().join("exabgp.conf");
        std::fs::write(dir.path().join("commands"), "")?;
        std::fs::write(dir.path().join("events.json"), "")?;
        std::fs::write(dir.path().join("api.py"), API_HELPER)?;
        std::fs::write(&conf, render(&spec, dir.path()))?;
        let mut cmd = ns.command("exabgp");
        cmd.arg(&conf).current_dir(dir.path());
        for (k, v) in env(&spec, dir.path()) {
            cmd.env(k, v);
        }
        let proc = Proc::spawn(cmd, &dir.path().join("exabgp.log"))?;
        let mut e = ExaBgp { spec, proc, conf, dir };
        let log_ok = |e: &mut ExaBgp| -> io::Result<Option<()>> {
            e.proc.check_alive()?;
            Ok(e.proc.log().contains("loaded new configuration").then_some(()))
        };
        crate::poll("ExaBGP to load its config", Duration::from_secs(15), Duration::from_millis(100), || {
            log_ok(&mut e)
        })?;
        Ok(e)
    }

    /// The config file's path.
    pub fn config_path(&self) -> &std::path::Path {
        &self.conf
    }

    /// The working directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Sends one API command line (e.g. `withdraw route 10.0.0.0/24 next-hop self`).
    pub fn command(&self, line: &str) -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).open(self.dir.path().join("commands"))?;
        writeln!(f, "{line}")
    }

    /// All JSON events ExaBGP has sent to the API process so far.
    pub fn events(&self) -> io::Result<Vec<serde_json::Value>> {
        let text = std::fs::read_to_string(self.dir.path().join("events.json"))?;
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

/// The environment ExaBGP needs (see the module docs).
pub fn env(spec: &PeerSpec, dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("exabgp.daemon.user", "root".to_string()),
        ("exabgp.daemon.drop", "false".into()),
        ("exabgp.daemon.daemonize", "false".into()),
        ("exabgp.daemon.pid", dir.join("exabgp.pid").display().to_string()),
        ("exabgp.log.destination", "stdout".into()),
        ("exabgp.log.level", "INFO".into()),
        ("exabgp.api.cli", "false".into()),
        ("exabgp.api.ack", "false".into()),
        ("exabgp.tcp.bind", spec.local_v4.to_string()),
        ("exabgp.tcp.port", "179".into()),
    ]
    .into_iter()
    .chain(
        std::env::var_os("BGPT_EXABGP_DEBUG")
            .map(|_| [("exabgp.log.all", "true".into()), ("exabgp.log.level", "DEBUG".into())])
            .into_iter()
            .flatten(),
    )
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn route_cmd(spec: &PeerSpec, r: &Route) -> io::Result<String> {
    let mut s = format!("route {} next-hop {} origin igp", r.prefix, spec.next_hop(r)?);
    if let Some(m) = r.med {
        let _ = write!(s, " med {m}");
    }
    if let Some(lp) = r.local_pref {
        let _ = write!(s, " local-preference {lp}");
    }
    if !r.communities.is_empty() {
        let list: Vec<String> = r.communities.iter().map(|(a, v)| format!("{a}:{v}")).collect();
        let _ = write!(s, " community [ {} ]", list.join(" "));
    }
    if !r.large_communities.is_empty() {
        let list: Vec<String> = r.large_communities.iter().map(|(g, a, b)| format!("{g}:{a}:{b}")).collect();
        let _ = write!(s, " large-community [ {} ]", list.join(" "));
    }
    Ok(s)
}

/// Renders an ExaBGP 4 config for `spec`; routes go into each neighbor's `static` block.
pub fn render(spec: &PeerSpec, dir: &std::path::Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "process api {{\n  run /usr/bin/python3 -u {d}/api.py {d};\n  encoder json;\n}}\n",
        d = dir.display()
    );
    for n in &spec.neighbors {
        let local = match n.address {
            IpAddr::V4(_) => IpAddr::V4(spec.local_v4),
            IpAddr::V6(_) => spec.local_v6.map(IpAddr::V6).unwrap_or(IpAddr::V4(spec.local_v4)),
        };
        let _ = writeln!(c, "neighbor {} {{", n.address);
        let _ = writeln!(c, "  router-id {};", spec.router_id);
        let _ = writeln!(c, "  local-address {local};");
        let _ = writeln!(c, "  local-as {};", spec.local_as);
        let _ = writeln!(c, "  peer-as {};", n.remote_as);
        let _ = writeln!(c, "  hold-time {};", n.hold_time);
        // ExaBGP 4.2 dials a neighbour unless it is passive (the default is active).
        let _ = writeln!(c, "  passive {};", n.passive);
        if let Some(pw) = &n.md5 {
            let _ = writeln!(c, "  md5-password \"{pw}\";");
        }
        c.push_str("  family {\n");
        if n.ipv4 {
            c.push_str("    ipv4 unicast;\n");
        }
        if n.ipv6 {
            c.push_str("    ipv6 unicast;\n");
        }
        c.push_str("  }\n  capability {\n    route-refresh;\n");
        if spec.graceful_restart {
            c.push_str("    graceful-restart 120;\n");
        }
        let ap = match (n.add_path.send(), n.add_path.receive()) {
            (true, true) => Some("send/receive"),
            (true, false) => Some("send"),
            (false, true) => Some("receive"),
            (false, false) => None,
        };
        if let Some(ap) = ap {
            let _ = writeln!(c, "    add-path {ap};");
        }
        c.push_str("  }\n");
        c.push_str("  api {\n    processes [ api ];\n    neighbor-changes;\n");
        c.push_str("    receive { parsed; update; refresh; }\n  }\n");
        c.push_str("  static {\n");
        for r in &spec.routes {
            if (r.is_v4() && !n.ipv4) || (!r.is_v4() && !n.ipv6) {
                continue;
            }
            if let Ok(line) = route_cmd(spec, r) {
                let _ = writeln!(c, "    {line};");
            }
        }
        c.push_str("  }\n}\n");
    }
    c
}

/// Collects every `"nlri"` string under `v` into `out`.
fn collect_nlri(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "nlri" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_nlri(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_nlri(x, out)),
        _ => {}
    }
}

impl BgpDaemon for ExaBgp {
    fn kind(&self) -> &'static str {
        "exabgp"
    }

    fn version(&self) -> io::Result<String> {
        let v = super::version_line("exabgp", &["--version"])?;
        Ok(v.replace(" : ", " "))
    }

    fn is_established(&mut self, neighbor: IpAddr) -> io::Result<bool> {
        self.proc.check_alive()?;
        let addr = neighbor.to_string();
        let mut up = false;
        for ev in self.events()? {
            if ev["type"] == "state" && ev["neighbor"]["address"]["peer"] == addr.as_str() {
                up = ev["neighbor"]["state"] == "up";
            }
        }
        Ok(up)
    }

    fn received_prefixes(&mut self) -> io::Result<BTreeSet<IpNet>> {
        self.proc.check_alive()?;
        let mut set = BTreeSet::new();
        for ev in self.events()? {
            if ev["type"] == "state" && ev["neighbor"]["state"] == "down" {
                set.clear();
            }
            let upd = &ev["neighbor"]["message"]["update"];
            let (mut ann, mut wd) = (vec![], vec![]);
            collect_nlri(&upd["announce"], &mut ann);
            collect_nlri(&upd["withdraw"], &mut wd);
            for p in ann {
                if let Ok(n) = p.parse() {
                    set.insert(n);
                }
            }
            for p in wd {
                if let Ok(n) = p.parse::<IpNet>() {
                    set.remove(&n);
                }
            }
        }
        Ok(set)
    }

    fn announce(&mut self, route: &Route) -> io::Result<()> {
        self.command(&format!("announce {}", route_cmd(&self.spec, route)?))?;
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> io::Result<()> {
        let Some(route) = self.spec.routes.iter().find(|r| r.prefix == prefix).cloned() else {
            return Err(io::Error::other(format!("{prefix} is not announced")));
        };
        self.command(&format!("withdraw {}", route_cmd(&self.spec, &route)?))?;
        self.spec.routes.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn log(&self) -> String {
        self.proc.log()
    }
}
