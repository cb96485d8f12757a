//! GoBGP: `gobgpd -f CONF.toml --api-hosts 127.0.0.1:PORT`, queried with `gobgp -p PORT`.
//!
//! GoBGP's config file has no static routes, so routes are added through the CLI
//! (`gobgp global rib add`) right after start; the CLI runs inside the namespace, where
//! the loopback (and so the API port) is private.

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
use crate::WorkDir;

/// The gRPC API port used inside every namespace (the loopback is per namespace).
pub const API_PORT: u16 = 50051;

/// A running gobgpd.
#[derive(Debug)]
pub struct GoBgp {
    spec: PeerSpec,
    ns: String,
    proc: Proc,
    conf: PathBuf,
    dir: WorkDir,
}

impl GoBgp {
    /// Writes the config, starts gobgpd in `ns`, waits for its API, then adds the
    /// spec's routes through the CLI.
    pub fn start(ns: &Netns, spec: PeerSpec) -> io::Result<GoBgp> {
        let dir = WorkDir::new(&format!("gobgp-{}", spec.name))?;
        let conf = dir.path().join("gobgpd.toml");
        std::fs::write(&conf, render(&spec))?;
        let args = [
            "-f".to_string(),
            conf.display().to_string(),
            "--api-hosts".into(),
            format!("127.0.0.1:{API_PORT}"),
            "--log-plain".into(),
            "--pprof-disable".into(),
        ];
        let proc = Proc::spawn_in(ns, "gobgpd", &args, &dir.path().join("gobgpd.log"))?;
        let mut g = GoBgp { spec, ns: ns.name().to_string(), proc, conf, dir };
        crate::poll("gobgpd API", Duration::from_secs(10), Duration::from_millis(100), || {
            g.proc.check_alive()?;
            Ok(g.gobgp(&["global"]).ok())
        })?;
        for r in g.spec.routes.clone() {
            g.add(&r)?;
        }
        Ok(g)
    }

    /// Runs `gobgp -p PORT args...` inside the namespace and returns its output.
    pub fn gobgp(&self, args: &[&str]) -> io::Result<String> {
        let port = API_PORT.to_string();
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, "gobgp", "-p", &port]);
        cmd.args(args);
        crate::run(&mut cmd)
    }

    /// The config file's path.
    pub fn config_path(&self) -> &std::path::Path {
        &self.conf
    }

    /// The working directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn add(&self, r: &Route) -> io::Result<()> {
        let mut args: Vec<String> = vec!["global".into(), "rib".into(), "add".into()];
        args.push("-a".into());
        args.push(if r.is_v4() { "ipv4" } else { "ipv6" }.into());
        args.push(r.prefix.to_string());
        args.push("nexthop".into());
        args.push(self.spec.next_hop(r)?.to_string());
        args.push("origin".into());
        args.push("igp".into());
        if !r.communities.is_empty() {
            args.push("community".into());
            let list: Vec<String> = r.communities.iter().map(|(a, v)| format!("{a}:{v}")).collect();
            args.push(list.join(","));
        }
        if !r.large_communities.is_empty() {
            args.push("large-community".into());
            let list: Vec<String> = r.large_communities.iter().map(|(g, a, b)| format!("{g}:{a}:{b}")).collect();
            args.push(list.join(","));
        }
        if let Some(m) = r.med {
            args.push("med".into());
            args.push(m.to_string());
        }
        if let Some(lp) = r.local_pref {
            args.push("local-pref".into());
            args.push(lp.to_string());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&refs).map(drop)
    }
}

/// Renders a gobgpd TOML config for `spec`.
pub fn render(spec: &PeerSpec) -> String {
    let mut c = String::new();
    c.push_str("[global.config]\n");
    let _ = writeln!(c, "  as = {}", spec.local_as);
    let _ = writeln!(c, "  router-id = \"{}\"", spec.router_id);
    c.push_str("  port = 179\n");
    let mut locals = vec![format!("\"{}\"", spec.local_v4)];
    if let Some(v6) = spec.local_v6 {
        locals.push(format!("\"{v6}\""));
    }
    let _ = writeln!(c, "  local-address-list = [{}]", locals.join(", "));
    for n in &spec.neighbors {
        c.push_str("\n[[neighbors]]\n  [neighbors.config]\n");
        let _ = writeln!(c, "    neighbor-address = \"{}\"", n.address);
        let _ = writeln!(c, "    peer-as = {}", n.remote_as);
        if let Some(pw) = &n.md5 {
            let _ = writeln!(c, "    auth-password = \"{pw}\"");
        }
        c.push_str("  [neighbors.timers.config]\n");
        let _ = writeln!(c, "    hold-time = {}", n.hold_time);
        let _ = writeln!(c, "    keepalive-interval = {}", (n.hold_time / 3).max(1));
        c.push_str("    connect-retry = 2\n");
        c.push_str("  [neighbors.transport.config]\n");
        let local = match n.address {
            IpAddr::V4(_) => Some(IpAddr::V4(spec.local_v4)),
            IpAddr::V6(_) => spec.local_v6.map(IpAddr::V6),
        };
        if let Some(l) = local {
            let _ = writeln!(c, "    local-address = \"{l}\"");
        }
        if n.passive {
            c.push_str("    passive-mode = true\n");
        }
        if n.rr_client {
            c.push_str("  [neighbors.route-reflector.config]\n");
            c.push_str("    route-reflector-client = true\n");
            let _ = writeln!(c, "    route-reflector-cluster-id = \"{}\"", spec.router_id);
        }
        if spec.graceful_restart {
            c.push_str("  [neighbors.graceful-restart.config]\n");
            c.push_str("    enabled = true\n    restart-time = 120\n");
        }
        for (on, fam) in [(n.ipv4, "ipv4-unicast"), (n.ipv6, "ipv6-unicast")] {
            if !on {
                continue;
            }
            c.push_str("  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n");
            let _ = writeln!(c, "      afi-safi-name = \"{fam}\"");
            if spec.graceful_restart {
                c.push_str("    [neighbors.afi-safis.mp-graceful-restart.config]\n");
                c.push_str("      enabled = true\n");
            }
            if n.add_path != super::AddPath::Off {
                c.push_str("    [neighbors.afi-safis.add-paths.config]\n");
                let _ = writeln!(c, "      receive = {}", n.add_path.receive());
                if n.add_path.send() {
                    c.push_str("      send-max = 8\n");
                }
            }
        }
    }
    c
}

impl BgpDaemon for GoBgp {
    fn kind(&self) -> &'static str {
        "gobgp"
    }

    fn version(&self) -> io::Result<String> {
        super::version_line("gobgpd", &["--version"])
    }

    fn is_established(&mut self, neighbor: IpAddr) -> io::Result<bool> {
        self.proc.check_alive()?;
        let out = self.gobgp(&["neighbor"])?;
        let addr = neighbor.to_string();
        Ok(out.lines().any(|l| l.split_whitespace().next() == Some(addr.as_str()) && l.contains("Establ")))
    }

    fn received_prefixes(&mut self) -> io::Result<BTreeSet<IpNet>> {
        self.proc.check_alive()?;
        let mut set = BTreeSet::new();
        for n in self.spec.neighbors.clone() {
            for af in ["ipv4", "ipv6"] {
                let out = self.gobgp(&["neighbor", &n.address.to_string(), "adj-in", "-a", af])?;
                for l in out.lines() {
                    // Lines look like "   0 10.244.1.0/26  198.18.0.1  ..." (ID first).
                    for tok in l.split_whitespace().take(3) {
                        if tok.contains('/') {
                            if let Ok(net) = tok.parse() {
                                set.insert(net);
                            }
                        }
                    }
                }
            }
        }
        Ok(set)
    }

    fn announce(&mut self, route: &Route) -> io::Result<()> {
        self.add(route)?;
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> io::Result<()> {
        let af = match prefix {
            IpNet::V4(_) => "ipv4",
            IpNet::V6(_) => "ipv6",
        };
        self.gobgp(&["global", "rib", "del", "-a", af, &prefix.to_string()])?;
        self.spec.routes.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn log(&self) -> String {
        self.proc.log()
    }
}
