//! BIRD 2: `bird -f -c CONF -s SOCK -P PID` inside a namespace, queried with `birdc -s SOCK`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::{AddPath, BgpDaemon, PeerSpec, Route};
use crate::netns::Netns;
use crate::proc::Proc;
use crate::{run_args, WorkDir};

/// A running BIRD 2 daemon. Routes are originated by static protocols (blackhole routes
/// with BGP attributes set per route); [`BgpDaemon::announce`]/[`BgpDaemon::withdraw`]
/// rewrite the config and run `birdc configure`.
#[derive(Debug)]
pub struct Bird {
    spec: PeerSpec,
    proc: Proc,
    conf: PathBuf,
    sock: PathBuf,
    // Keep the directory alive as long as the daemon (dropped after `proc`).
    dir: WorkDir,
}

impl Bird {
    /// Writes the config and starts BIRD in `ns`; waits until its control socket answers.
    pub fn start(ns: &Netns, spec: PeerSpec) -> io::Result<Bird> {
        let dir = WorkDir::new(&format!("bird-{}", spec.name))?;
        let conf = dir.path().join("bird.conf");
        let sock = dir.path().join("bird.ctl");
        std::fs::write(&conf, render(&spec))?;
        let args = [
            "-f".to_string(),
            "-c".into(),
            conf.display().to_string(),
            "-s".into(),
            sock.display().to_string(),
            "-P".into(),
            dir.path().join("bird.pid").display().to_string(),
        ];
        let proc = Proc::spawn_in(ns, "bird", &args, &dir.path().join("bird.log"))?;
        let mut bird = Bird { spec, proc, conf, sock, dir };
        crate::poll("BIRD control socket", Duration::from_secs(10), Duration::from_millis(100), || {
            bird.proc.check_alive()?;
            Ok(bird.birdc(&["show", "status"]).ok())
        })?;
        Ok(bird)
    }

    /// Runs `birdc -s SOCK args...` and returns its output.
    pub fn birdc(&self, args: &[&str]) -> io::Result<String> {
        let mut full = vec!["-s", self.sock.to_str().unwrap_or_default()];
        full.extend_from_slice(args);
        run_args("birdc", &full)
    }

    /// The config file's path.
    pub fn config_path(&self) -> &std::path::Path {
        &self.conf
    }

    /// The working directory (config, socket, log).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The current spec (routes change with announce/withdraw).
    pub fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    fn reconfigure(&self) -> io::Result<()> {
        std::fs::write(&self.conf, render(&self.spec))?;
        let out = self.birdc(&["configure"])?;
        if !out.contains("Reconfigur") {
            return Err(io::Error::other(format!("birdc configure: {out}")));
        }
        Ok(())
    }
}

/// The BIRD protocol name of neighbor number `i`.
fn proto_name(i: usize) -> String {
    format!("n{i}")
}

fn route_line(r: &Route) -> String {
    let mut body = String::new();
    for (a, v) in &r.communities {
        let _ = write!(body, " bgp_community.add(({a},{v}));");
    }
    for (g, l1, l2) in &r.large_communities {
        let _ = write!(body, " bgp_large_community.add(({g},{l1},{l2}));");
    }
    if let Some(m) = r.med {
        let _ = write!(body, " bgp_med = {m};");
    }
    if let Some(lp) = r.local_pref {
        let _ = write!(body, " bgp_local_pref = {lp};");
    }
    if body.is_empty() {
        format!("  route {} blackhole;\n", r.prefix)
    } else {
        format!("  route {} blackhole {{{body} }};\n", r.prefix)
    }
}

/// Renders a BIRD 2 config for `spec`. `protocol direct` feeds connected prefixes into
/// the tables (to resolve iBGP next hops); BGP exports only static and BGP routes, so
/// link prefixes are not advertised.
pub fn render(spec: &PeerSpec) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "router id {};", spec.router_id);
    c.push_str("log stderr all;\n");
    c.push_str("protocol device { scan time 10; }\n");
    c.push_str("protocol direct { ipv4; ipv6; }\n");
    for (v4, name) in [(true, "static4"), (false, "static6")] {
        let routes: Vec<&Route> = spec.routes.iter().filter(|r| r.is_v4() == v4).collect();
        let _ = writeln!(c, "protocol static {name} {{\n  {};", if v4 { "ipv4" } else { "ipv6" });
        for r in routes {
            c.push_str(&route_line(r));
        }
        c.push_str("}\n");
    }
    for (i, n) in spec.neighbors.iter().enumerate() {
        let _ = writeln!(c, "protocol bgp {} {{", proto_name(i));
        let local = match n.address {
            IpAddr::V4(_) => IpAddr::V4(spec.local_v4),
            IpAddr::V6(_) => spec.local_v6.map(IpAddr::V6).unwrap_or(IpAddr::V4(spec.local_v4)),
        };
        let _ = writeln!(c, "  local {local} as {};", spec.local_as);
        let _ = writeln!(c, "  neighbor {} as {};", n.address, n.remote_as);
        let _ = writeln!(c, "  hold time {};", n.hold_time);
        c.push_str("  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 10;\n");
        if n.passive {
            c.push_str("  passive on;\n");
        }
        if spec.graceful_restart {
            c.push_str("  graceful restart on;\n  graceful restart time 120;\n");
        } else {
            c.push_str("  graceful restart off;\n");
        }
        if let Some(pw) = &n.md5 {
            let _ = writeln!(c, "  password \"{pw}\";");
        }
        if n.rr_client {
            c.push_str("  rr client;\n");
        }
        let add_paths = match n.add_path {
            AddPath::Off => "off",
            AddPath::Receive => "rx",
            AddPath::Send => "tx",
            AddPath::Both => "on",
        };
        for (on, fam) in [(n.ipv4, "ipv4"), (n.ipv6, "ipv6")] {
            if !on {
                continue;
            }
            let _ =
                write!(c, "  {fam} {{ import all; export where source ~ [RTS_STATIC, RTS_BGP]; add paths {add_paths};");
            if n.next_hop_self {
                c.push_str(" next hop self;");
            }
            if fam == "ipv6" && n.address.is_ipv4() {
                if let Some(v6) = spec.local_v6 {
                    let _ = write!(c, " next hop address {v6};");
                }
            }
            c.push_str(" };\n");
        }
        c.push_str("}\n");
    }
    c
}

impl BgpDaemon for Bird {
    fn kind(&self) -> &'static str {
        "bird"
    }

    fn version(&self) -> io::Result<String> {
        super::version_line("bird", &["--version"])
    }

    fn is_established(&mut self, neighbor: IpAddr) -> io::Result<bool> {
        self.proc.check_alive()?;
        let Some(i) = self.spec.neighbors.iter().position(|n| n.address == neighbor) else {
            return Err(io::Error::other(format!("{neighbor} is not a neighbor")));
        };
        let out = self.birdc(&["show", "protocols", &proto_name(i)])?;
        Ok(out.lines().any(|l| l.split_whitespace().next() == Some(&proto_name(i)) && l.contains("Established")))
    }

    fn received_prefixes(&mut self) -> io::Result<BTreeSet<IpNet>> {
        self.proc.check_alive()?;
        let out = self.birdc(&["show", "route", "where", "source", "=", "RTS_BGP"])?;
        Ok(out
            .lines()
            .filter(|l| !l.starts_with(char::is_whitespace))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect())
    }

    fn announce(&mut self, route: &Route) -> io::Result<()> {
        self.spec.routes.retain(|r| r.prefix != route.prefix);
        self.spec.routes.push(route.clone());
        self.reconfigure()
    }

    fn withdraw(&mut self, prefix: IpNet) -> io::Result<()> {
        self.spec.routes.retain(|r| r.prefix != prefix);
        self.reconfigure()
    }

    fn log(&self) -> String {
        self.proc.log()
    }
}
