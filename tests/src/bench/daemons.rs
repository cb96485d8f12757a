//! The reflectors under test, each configured as an RFC 4456 route reflector for every
//! client of 198.18.0.0/16 (iBGP AS 64512, cluster ID 198.18.0.1, IPv4 unicast,
//! ADD-PATH off), started in the `rr` namespace with the flags `peers/*.rs` found to work.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::netns::Netns;
use crate::proc::Proc;
use crate::WorkDir;

use super::topo::RR_ADDR;

/// Which reflector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Our `route-reflector`.
    Ours,
    /// BIRD 2.
    Bird,
    /// FRR bgpd (without zebra).
    Frr,
    /// GoBGP.
    GoBgp,
}

impl Kind {
    /// All kinds, ours first.
    pub const ALL: [Kind; 4] = [Kind::Ours, Kind::Bird, Kind::Frr, Kind::GoBgp];

    /// Parses `ours`, `bird`, `frr`, `gobgp`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ours" | "rr" | "route-reflector" => Some(Kind::Ours),
            "bird" => Some(Kind::Bird),
            "frr" => Some(Kind::Frr),
            "gobgp" => Some(Kind::GoBgp),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ours => "ours",
            Kind::Bird => "BIRD",
            Kind::Frr => "FRR",
            Kind::GoBgp => "GoBGP",
        })
    }
}

/// Path of FRR's bgpd on Debian.
const FRR_BGPD: &str = "/usr/lib/frr/bgpd";

fn in_path(prog: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file())).unwrap_or(false)
}

/// Whether `kind` can run here (`None`), or why not.
pub fn missing(kind: Kind, ours: &Path) -> Option<String> {
    let ok = match kind {
        Kind::Ours => ours.is_file(),
        Kind::Bird => in_path("bird") && in_path("birdc"),
        Kind::Frr => Path::new(FRR_BGPD).is_file(),
        Kind::GoBgp => in_path("gobgpd"),
    };
    (!ok).then(|| match kind {
        Kind::Ours => format!("{} not found (cargo build --release -p route-reflector)", ours.display()),
        k => format!("{k} is not installed"),
    })
}

/// The version line of `kind`.
pub fn version(kind: Kind, ours: &Path) -> String {
    let (prog, args): (String, &[&str]) = match kind {
        Kind::Ours => (ours.display().to_string(), &["--version"]),
        Kind::Bird => ("bird".into(), &["--version"]),
        Kind::Frr => (FRR_BGPD.into(), &["--version"]),
        Kind::GoBgp => ("gobgpd".into(), &["--version"]),
    };
    let Ok(out) = std::process::Command::new(&prog).args(args).output() else {
        return "?".into();
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("?").trim().to_owned()
}

/// A running reflector.
#[derive(Debug)]
pub struct Running {
    /// Which one.
    pub kind: Kind,
    // Dropped before `dir`.
    proc: Proc,
    dir: WorkDir,
}

impl Running {
    /// Pid of the process to measure (bgpd for FRR).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Errors with the log's tail if the daemon died.
    pub fn check_alive(&mut self) -> io::Result<()> {
        self.proc.check_alive()
    }

    /// The working directory (config and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the daemon (SIGTERM, grace, SIGKILL).
    pub fn stop(&mut self) {
        self.proc.stop();
    }
}

/// Our reflector's config.
pub fn render_ours(dir: &Path, clients: usize) -> String {
    format!(
        "asn = 64512\nrouter_id = \"{RR_ADDR}\"\ncluster_id = \"{RR_ADDR}\"\nlisten = [\"{RR_ADDR}\"]\nport = 179\n\
         control_socket = \"{}\"\n\n[[group]]\nname = \"clients\"\ntype = \"client\"\nranges = [\"198.18.0.0/16\"]\n\
         limit = {}\nfamilies = [\"ipv4\"]\nadd_path = \"off\"\n",
        dir.join("rr.sock").display(),
        clients.max(100) * 2
    )
}

/// BIRD 2: one dynamic `protocol bgp` over `neighbor range 198.18.0.0/16 internal`;
/// `protocol direct` on r0 resolves the clients' next hops (iBGP is `gateway recursive`).
pub fn render_bird() -> String {
    format!(
        "log stderr {{ warning, error, fatal, bug, remote }};\nrouter id {RR_ADDR};\n\
         protocol device {{ }}\n\
         protocol direct {{ ipv4; interface \"r0\"; }}\n\
         template bgp clients {{\n  local {RR_ADDR} as 64512;\n  rr client;\n  rr cluster id {RR_ADDR};\n  \
         ipv4 {{ import all; export where source = RTS_BGP; }};\n}}\n\
         protocol bgp dyn from clients {{\n  neighbor range 198.18.0.0/16 internal;\n  dynamic name \"c\";\n}}\n"
    )
}

/// FRR: `bgp listen range` into a peer group of route-reflector clients.
pub fn render_frr() -> String {
    format!(
        "frr defaults traditional\nhostname rr\nno log unique-id\n!\nrouter bgp 64512\n bgp router-id {RR_ADDR}\n \
         bgp cluster-id {RR_ADDR}\n no bgp ebgp-requires-policy\n no bgp network import-check\n \
         bgp listen limit 5000\n neighbor CLIENTS peer-group\n neighbor CLIENTS remote-as 64512\n \
         bgp listen range 198.18.0.0/16 peer-group CLIENTS\n !\n address-family ipv4 unicast\n  \
         neighbor CLIENTS activate\n  neighbor CLIENTS route-reflector-client\n exit-address-family\n!\n"
    )
}

/// GoBGP: `dynamic-neighbors` into a peer group with `route-reflector-client = true`.
pub fn render_gobgp() -> String {
    format!(
        "[global.config]\n  as = 64512\n  router-id = \"{RR_ADDR}\"\n  port = 179\n  local-address-list = [\"{RR_ADDR}\"]\n\n\
         [[peer-groups]]\n  [peer-groups.config]\n    peer-group-name = \"clients\"\n    peer-as = 64512\n  \
         [peer-groups.route-reflector.config]\n    route-reflector-client = true\n    \
         route-reflector-cluster-id = \"{RR_ADDR}\"\n  [[peer-groups.afi-safis]]\n    [peer-groups.afi-safis.config]\n      \
         afi-safi-name = \"ipv4-unicast\"\n\n\
         [[dynamic-neighbors]]\n  [dynamic-neighbors.config]\n    prefix = \"198.18.0.0/16\"\n    peer-group = \"clients\"\n"
    )
}

fn listening(ns: &Netns) -> bool {
    ns.exec("ss", &["-Hltn", "sport = :179"]).map(|o| !o.trim().is_empty()).unwrap_or(false)
}

/// Writes the config and starts `kind` in `ns`; returns once port 179 is listening.
pub fn start(kind: Kind, ns: &Netns, ours: &Path, clients: usize) -> io::Result<Running> {
    let dir = WorkDir::new(&format!("rrbench-{}", kind.to_string().to_lowercase()))?;
    let p = |f: &str| dir.path().join(f).display().to_string();
    let (prog, args): (String, Vec<String>) = match kind {
        Kind::Ours => {
            std::fs::write(dir.path().join("rr.toml"), render_ours(dir.path(), clients))?;
            (
                ours.display().to_string(),
                vec!["--config".into(), p("rr.toml"), "--socket".into(), p("rr.sock"), "run".into()],
            )
        }
        Kind::Bird => {
            std::fs::write(dir.path().join("bird.conf"), render_bird())?;
            (
                "bird".into(),
                vec!["-f".into(), "-c".into(), p("bird.conf"), "-s".into(), p("bird.ctl"), "-P".into(), p("bird.pid")],
            )
        }
        Kind::Frr => {
            std::fs::write(dir.path().join("bgpd.conf"), render_frr())?;
            (FRR_BGPD.into(), crate::peers::bgpd_args(dir.path()))
        }
        Kind::GoBgp => {
            std::fs::write(dir.path().join("gobgpd.toml"), render_gobgp())?;
            (
                "gobgpd".into(),
                vec![
                    "-f".into(),
                    p("gobgpd.toml"),
                    "--api-hosts".into(),
                    "127.0.0.1:50051".into(),
                    "--log-plain".into(),
                    "--pprof-disable".into(),
                    "--log-level".into(),
                    "warn".into(),
                ],
            )
        }
    };
    let log = dir.path().join("daemon.log");
    let proc = Proc::spawn_in(ns, &prog, &args, &log)?;
    let mut r = Running { kind, proc, dir };
    crate::poll(&format!("{kind} listening on port 179"), Duration::from_secs(20), Duration::from_millis(50), || {
        r.proc.check_alive()?;
        Ok(listening(ns).then_some(()))
    })?;
    Ok(r)
}

/// Default path of our reflector binary: `$CARGO_TARGET_DIR/release/route-reflector`,
/// else `target/release/route-reflector`.
pub fn default_ours() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    base.join("release").join("route-reflector")
}
