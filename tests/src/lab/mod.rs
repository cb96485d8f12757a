//! A Calico-like cluster out of network namespaces, running the real `bgp-speaker`
//! binary on every node (or BIRD with a Calico-like configuration): a fabric bridge,
//! nodes with 198.18.x.y addresses, two pods per node wired as Felix wires them, an
//! optional router between two node subnets (seed 000), optionally running BIRD as a
//! top-of-rack eBGP router ([`router`]), optionally route reflectors instead of the mesh
//! ([`reflector`]). Used by `lab up` and the e2e tests.
//!
//! The node speaker binary is found next to the running executable (`target/release/`
//! for `lab`, `target/release/` above `deps/` for tests) or in `$BGP_SPEAKER_BIN`;
//! [`speaker_binary`] builds it with `cargo build --release -p bgp-speaker` first, so
//! it is never stale. The `route-reflector` binary is found the same way
//! ([`reflector_binary`], `$ROUTE_REFLECTOR_BIN`).
//!
//! This kernel has no `ipip` link type, so `tunl0` is a tun device
//! (`ip tuntap add dev tunl0 mode tun`): the routes that point at it are exactly what
//! BIRD programs, but the IPIP data path itself does not carry packets here.

pub mod bird;
pub mod reflector;
pub mod router;

use crate::netns::{self, Attachment, Fabric, Netns, Pod};
use crate::proc::Proc;
use crate::{poll, run_args};
use ipnet::Ipv4Net;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One node to build.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Fabric address with its subnet.
    pub addr: Ipv4Net,
    /// Router address for the other node subnets (seed 000), if any.
    pub gateway: Option<Ipv4Addr>,
    /// The node's IPAM block.
    pub block: Ipv4Net,
    /// Pods to wire (addresses .1, .2, … of the block).
    pub pods: usize,
    /// Run BIRD with a Calico-like configuration instead of our speaker.
    pub bird: bool,
}

/// The cluster to build.
#[derive(Debug, Clone)]
pub struct LabSpec {
    /// Nodes.
    pub nodes: Vec<NodeSpec>,
    /// The pool (10.244.0.0/16).
    pub pool: Ipv4Net,
    /// The pool's ipipMode: Never, Always, CrossSubnet.
    pub ipip: String,
    /// A router between the node subnets, with one address per subnet.
    pub router: Vec<Ipv4Net>,
    /// Extra TOML appended to every node's configuration.
    pub extra: String,
    /// Route reflectors (`route-reflector`) to run: with any, the mesh is off and every
    /// node peers with every reflector.
    pub reflectors: usize,
    /// Run BIRD on the router as a top-of-rack eBGP router of this AS: the mesh is off
    /// and every node peers with the router's address on its subnet.
    pub tor_as: Option<u32>,
    /// TCP MD5 password (RFC 2385) on the sessions with the top-of-rack router.
    pub tor_password: Option<String>,
}

fn net(s: &str) -> Ipv4Net {
    s.parse().expect("valid prefix")
}

impl LabSpec {
    /// `n` nodes on one subnet 198.18.0.0/24, node i (from 1) at 198.18.0.i with block
    /// 10.244.i.0/26 and two pods, full mesh, IPIP Never.
    pub fn mesh(n: usize) -> LabSpec {
        let nodes = (1..=n)
            .map(|i| NodeSpec {
                name: format!("node-{i}"),
                addr: net(&format!("198.18.0.{i}/24")),
                gateway: None,
                block: net(&format!("10.244.{i}.0/26")),
                pods: 2,
                bird: false,
            })
            .collect();
        LabSpec {
            nodes,
            pool: net("10.244.0.0/16"),
            ipip: "Never".into(),
            router: Vec::new(),
            extra: String::new(),
            reflectors: 0,
            tor_as: None,
            tor_password: None,
        }
    }

    /// [`LabSpec::mesh`] without the mesh: `r` route reflectors at 198.18.0.201, … with
    /// one cluster ID, every node peering with every one of them.
    pub fn reflected(n: usize, r: usize) -> LabSpec {
        LabSpec { reflectors: r, ..LabSpec::mesh(n) }
    }

    /// Seed 000 with IPIP Never and the router running BIRD as a top-of-rack router in
    /// AS 64513: the mesh is off, each node peers (eBGP, node-specific BGPPeer) with
    /// the router's address on its subnet and accepts its own AS once in a path
    /// (numAllowedLocalASNumbers = 1, since every node is in AS 64512). The sessions
    /// with the router are signed with TCP MD5 (a BGPPeer `password`, BIRD `password`).
    pub fn seed000_tor() -> LabSpec {
        let mut s = LabSpec::seed000();
        s.ipip = "Never".into();
        s.tor_as = Some(64513);
        s.tor_password = Some("tor-md5-secret".into());
        s
    }

    /// Whether the node-to-node mesh runs (no reflectors, no top-of-rack router).
    pub fn mesh_enabled(&self) -> bool {
        self.reflectors == 0 && self.tor_as.is_none()
    }

    /// Reflector `k`'s (from 0) address: 198.18.0.201/24, 198.18.0.202/24, … (so at
    /// most 50 reflectors, and nodes below .201).
    pub fn reflector_addr(&self, k: usize) -> Ipv4Net {
        let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 201)).wrapping_add(k as u32));
        Ipv4Net::new(a, 24).expect("valid prefix length")
    }

    /// Seed 000: node-1 and node-2 on 198.18.0.0/24, node-3 on 198.18.1.0/24, a router
    /// (198.18.0.254, 198.18.1.254) between them that has no pod routes, IPIP CrossSubnet.
    pub fn seed000() -> LabSpec {
        let mut s = LabSpec::mesh(3);
        s.ipip = "CrossSubnet".into();
        s.nodes[0].gateway = Some("198.18.0.254".parse().unwrap());
        s.nodes[1].gateway = Some("198.18.0.254".parse().unwrap());
        s.nodes[2].addr = net("198.18.1.3/24");
        s.nodes[2].gateway = Some("198.18.1.254".parse().unwrap());
        s.router = vec![net("198.18.0.254/24"), net("198.18.1.254/24")];
        s
    }
}

/// A built node.
pub struct LabNode {
    /// Its spec.
    pub spec: NodeSpec,
    /// Its namespace.
    pub ns: Netns,
    /// Its fabric attachment.
    pub att: Attachment,
    /// Its pods.
    pub pods: Vec<Pod>,
    /// The speaker process (None while stopped).
    pub proc: Option<Proc>,
    /// Configuration file.
    pub config: PathBuf,
    /// Control socket (our speaker) or BIRD socket.
    pub socket: PathBuf,
    /// Log file.
    pub log: PathBuf,
}

/// A built cluster.
pub struct Lab {
    /// Its spec.
    pub spec: LabSpec,
    /// The fabric.
    pub fabric: Fabric,
    /// Nodes.
    pub nodes: Vec<LabNode>,
    /// The router namespace, when there is one.
    pub router: Option<Netns>,
    /// BIRD on the router, when it is a top-of-rack router ([`LabSpec::tor_as`]).
    pub router_bird: Option<Proc>,
    /// Route reflectors.
    pub reflectors: Vec<reflector::Reflector>,
    /// Where configs, sockets and logs live.
    pub dir: PathBuf,
    /// The node speaker binary.
    pub bin: PathBuf,
    /// The `route-reflector` binary (when there are reflectors).
    pub rr_bin: PathBuf,
}

/// Finds (and with `build`, first builds) the `bgp-speaker` binary.
pub fn speaker_binary(build: bool) -> io::Result<PathBuf> {
    workspace_binary("bgp-speaker", "BGP_SPEAKER_BIN", build)
}

/// Finds (and with `build`, first builds) the `route-reflector` binary.
pub fn reflector_binary(build: bool) -> io::Result<PathBuf> {
    workspace_binary("route-reflector", "ROUTE_REFLECTOR_BIN", build)
}

/// The binary `name` of package `name`: `$env` if set, else next to the running
/// executable; with `build`, `cargo build` (same profile and target directory) first.
fn workspace_binary(name: &str, env: &str, build: bool) -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(name);
    if build {
        // target/<profile>/ → the target directory; build the release binary there.
        let profile = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let target = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", name, "--bin", name]).env("CARGO_TARGET_DIR", &target);
        if profile == "release" {
            cmd.arg("--release");
        }
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        let st = cmd.status()?;
        if !st.success() {
            return Err(io::Error::other(format!("cargo build -p {name} failed")));
        }
    }
    if !bin.exists() {
        return Err(io::Error::other(format!(
            "{} not found: run `cargo build --release -p {name}` first (or set {env})",
            bin.display()
        )));
    }
    Ok(bin)
}

/// The TOML configuration of node `i`.
pub fn node_config(spec: &LabSpec, i: usize, socket: &Path) -> String {
    let n = &spec.nodes[i];
    let mut s = format!(
        "blocks = [\"{}\"]\n\n[node]\nname = \"{}\"\nipv4 = \"{}\"\n\n[control]\nsocket = \"{}\"\nready-after = 10\n\n\
         [[pools]]\ncidr = \"{}\"\nipip-mode = \"{}\"\n\n[mesh]\nenabled = {}\n\n[mesh.members]\n",
        n.block,
        n.name,
        n.addr,
        socket.display(),
        spec.pool,
        spec.ipip,
        spec.mesh_enabled()
    );
    for m in &spec.nodes {
        s += &format!("\"{}\" = \"{}\"\n", m.name, m.addr.addr());
    }
    s += "\n";
    // Global BGPPeers: every reflector.
    for k in 0..spec.reflectors {
        s += &format!(
            "[[peers]]\nname = \"rr-{}\"\naddress = \"{}\"\nas = 64512\n\n",
            k + 1,
            spec.reflector_addr(k).addr()
        );
    }
    // A node-specific BGPPeer: the top-of-rack router's address on this node's subnet.
    if let (Some(asn), Some(gw)) = (spec.tor_as, n.gateway) {
        s += &format!(
            "[[peers]]\nname = \"tor\"\nnode = \"{}\"\naddress = \"{gw}\"\nas = {asn}\nnum-allowed-local-as-numbers = 1\n",
            n.name
        );
        if let Some(pw) = &spec.tor_password {
            s += &format!("password = \"{pw}\"\n");
        }
        s += "\n";
    }
    s += &spec.extra;
    s
}

impl Lab {
    /// Builds the cluster in `dir` and starts every node's speaker.
    pub fn up(spec: LabSpec, dir: &Path) -> io::Result<Lab> {
        let bin = speaker_binary(false)?;
        let rr_bin = if spec.reflectors > 0 { reflector_binary(false)? } else { PathBuf::new() };
        let mut fabric = Fabric::new("lab-fabric")?;
        let mut nodes = Vec::new();
        for (i, n) in spec.nodes.iter().enumerate() {
            let ns = Netns::new(&format!("lab-{}", n.name))?;
            let att = fabric.attach(&ns, "eth0", &[ipnet::IpNet::V4(n.addr)])?;
            ns.sysctl("net.ipv4.ip_forward", "1")?;
            // No ipip link type on this kernel: tunl0 is a tun device (routes only).
            ns.ip(&["tuntap", "add", "dev", "tunl0", "mode", "tun"])?;
            ns.ip(&["link", "set", "tunl0", "up"])?;
            let config = dir.join(format!("{}.toml", n.name));
            let socket = dir.join(format!("{}.ctl", n.name));
            let log = dir.join(format!("{}.log", n.name));
            std::fs::write(&config, node_config(&spec, i, &socket))?;
            nodes.push(LabNode { spec: n.clone(), ns, att, pods: Vec::new(), proc: None, config, socket, log });
        }
        let router = if spec.router.is_empty() {
            None
        } else {
            let r = Netns::new("lab-router")?;
            Some(r)
        };
        let router_att = match &router {
            Some(r) => {
                let addrs: Vec<ipnet::IpNet> = spec.router.iter().map(|a| ipnet::IpNet::V4(*a)).collect();
                let att = fabric.attach(r, "eth0", &addrs)?;
                r.sysctl("net.ipv4.ip_forward", "1")?;
                Some(att)
            }
            None => None,
        };
        let mut reflectors = Vec::new();
        for k in 0..spec.reflectors {
            reflectors.push(reflector::Reflector::create(&spec, k, &mut fabric, dir)?);
        }
        let mut pins: Vec<(&Netns, &Attachment)> = nodes.iter().map(|n| (&n.ns, &n.att)).collect();
        if let (Some(r), Some(a)) = (&router, &router_att) {
            pins.push((r, a));
        }
        pins.extend(reflectors.iter().map(|r| (&r.ns, &r.att)));
        fabric.pin(&pins)?;
        for n in &nodes {
            if let Some(gw) = n.spec.gateway {
                for other in &spec.nodes {
                    let sub = other.addr.trunc();
                    if sub != n.spec.addr.trunc() {
                        let _ = n.ns.ip(&["route", "replace", &sub.to_string(), "via", &gw.to_string()]);
                    }
                }
            }
        }
        let router_bird = match (&router, spec.tor_as) {
            (Some(r), Some(asn)) => Some(router::start(&spec, asn, r, dir)?),
            _ => None,
        };
        let mut lab = Lab { spec, fabric, nodes, router, router_bird, reflectors, dir: dir.to_path_buf(), bin, rr_bin };
        for k in 0..lab.reflectors.len() {
            lab.reflectors[k].start(&lab.rr_bin, &lab.dir)?;
        }
        for i in 0..lab.nodes.len() {
            lab.start_node(i)?;
        }
        for n in &mut lab.nodes {
            for k in 0..n.spec.pods {
                let ip = Ipv4Addr::from(u32::from(n.spec.block.network()) + 1 + k as u32);
                n.pods.push(netns::wire_pod(&n.ns, "eth0", ip)?);
            }
        }
        Ok(lab)
    }

    /// Starts (or restarts) node `i`'s speaker.
    pub fn start_node(&mut self, i: usize) -> io::Result<()> {
        let n = &mut self.nodes[i];
        if n.spec.bird {
            n.proc = Some(bird::start(&self.spec, i, &n.ns, &self.dir)?);
            return Ok(());
        }
        let cfg = n.config.to_string_lossy().into_owned();
        let log = self.dir.join(format!(
            "{}-{}.log",
            n.spec.name,
            std::time::UNIX_EPOCH.elapsed().unwrap_or_default().as_millis()
        ));
        let p = Proc::spawn_in(&n.ns, &self.bin.to_string_lossy(), &["run", "-c", &cfg], &log)?;
        let _ = std::fs::remove_file(&n.log);
        let _ = std::os::unix::fs::symlink(&log, &n.log);
        n.proc = Some(p);
        let sock = n.socket.clone();
        poll("control socket", Duration::from_secs(10), Duration::from_millis(50), || Ok(sock.exists().then_some(())))
    }

    /// Reflector `k`'s (from 0) peers: (address, state), from `route-reflector status --json`.
    pub fn reflector_states(&self, k: usize) -> io::Result<Vec<(String, String)>> {
        self.reflectors[k].peer_states(&self.rr_bin)
    }

    /// Runs the `route-reflector` CLI against reflector `k`: (exit success, output).
    pub fn rr_ctl(&self, k: usize, args: &[&str]) -> io::Result<(bool, String)> {
        self.reflectors[k].ctl(&self.rr_bin, args)
    }

    /// Kills node `i`'s speaker with SIGKILL (kernel routes stay).
    pub fn kill9(&mut self, i: usize) {
        if let Some(p) = self.nodes[i].proc.take() {
            let _ = p.signal(libc::SIGKILL);
            drop(p);
        }
        let _ = std::fs::remove_file(&self.nodes[i].socket);
    }

    /// Runs the CLI against node `i`: (exit success, stdout + stderr).
    pub fn ctl(&self, i: usize, args: &[&str]) -> io::Result<(bool, String)> {
        let out = Command::new(&self.bin).arg("-s").arg(&self.nodes[i].socket).args(args).output()?;
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s += &String::from_utf8_lossy(&out.stderr);
        Ok((out.status.success(), s))
    }

    /// Node `i`'s peers and their state ("up"/"start"), from `status --json`.
    pub fn peer_states(&self, i: usize) -> io::Result<Vec<(String, String, String)>> {
        if self.nodes[i].spec.bird {
            return bird::peer_states(&self.nodes[i]);
        }
        let (ok, out) = self.ctl(i, &["status", "--json"])?;
        if !ok {
            return Err(io::Error::other(out));
        }
        let v: serde_json::Value = serde_json::from_str(&out).map_err(io::Error::other)?;
        let mut rows = Vec::new();
        for fam in ["ipv4", "ipv6"] {
            for r in v[fam].as_array().into_iter().flatten() {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                rows.push((s("address"), s("peer_type"), s("state")));
            }
        }
        Ok(rows)
    }

    /// Waits until every session is Established: with the mesh, every node with every
    /// other node; otherwise every node with every reflector and with its top-of-rack
    /// router, and every reflector with every node.
    pub fn wait_mesh(&self, timeout: Duration) -> io::Result<()> {
        let want = if self.spec.mesh_enabled() {
            self.nodes.len() - 1
        } else {
            self.reflectors.len() + usize::from(self.router_bird.is_some())
        };
        poll("every BGP session up", timeout, Duration::from_millis(200), || {
            for i in 0..self.nodes.len() {
                let up = self.peer_states(i).map(|r| r.iter().filter(|p| p.2 == "up").count()).unwrap_or(0);
                if up < want {
                    return Ok(None);
                }
            }
            for k in 0..self.reflectors.len() {
                let up = self.reflector_states(k).unwrap_or_default();
                if up.iter().filter(|p| p.1 == "Established").count() < self.nodes.len() {
                    return Ok(None);
                }
            }
            if self.router_bird.is_some() {
                let s = router::sessions(&self.dir).unwrap_or_default();
                if s.len() != self.nodes.len() || !s.iter().all(|p| p.1) {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
    }

    /// `ip route show proto bird` on node `i`, one trimmed line per route (`ip` leaves
    /// out `proto bird` there; `linkdown`, which the carrier-less tun `tunl0` causes,
    /// is dropped).
    pub fn bird_routes(&self, i: usize) -> io::Result<Vec<String>> {
        let out = self.nodes[i].ns.ip(&["route", "show", "proto", "bird"])?;
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.split_whitespace().filter(|w| *w != "linkdown").collect::<Vec<_>>().join(" "))
            .collect();
        v.sort();
        Ok(v)
    }

    /// `ip route show proto bird` that node `i` should have: a blackhole for its block
    /// and a route to every other block per the pool's IPIP mode. Without a tunnel, a
    /// block whose node is on another subnet is `via` the node's gateway: the kernel
    /// refuses a gateway that is not on a connected subnet, so the next hop is resolved
    /// through the route to it, as BIRD's `gateway recursive` does. That is also the
    /// route a top-of-rack router's next hop gives.
    pub fn expected_routes(&self, i: usize) -> Vec<String> {
        let me = &self.nodes[i].spec;
        let mut v = vec![format!("blackhole {}", me.block)];
        for (j, o) in self.nodes.iter().enumerate() {
            if j == i {
                continue;
            }
            let same = me.addr.trunc().contains(&o.spec.addr.addr());
            let tunnel = match self.spec.ipip.as_str() {
                "Always" => true,
                "CrossSubnet" => !same,
                _ => false,
            };
            let nh = o.spec.addr.addr();
            let nh = if tunnel || same { nh } else { me.gateway.unwrap_or(nh) };
            v.push(if tunnel {
                format!("{} via {nh} dev tunl0 onlink", o.spec.block)
            } else {
                format!("{} via {nh} dev eth0", o.spec.block)
            });
        }
        v.sort();
        v
    }

    /// Every pod's address and namespace.
    pub fn pods(&self) -> Vec<(&Netns, Ipv4Addr)> {
        self.nodes.iter().flat_map(|n| n.pods.iter().map(|p| (&p.ns, p.ip))).collect()
    }

    /// Pings every pod from every other pod: (from, to, reply).
    pub fn ping_matrix(&self) -> Vec<(Ipv4Addr, Ipv4Addr, bool)> {
        let pods = self.pods();
        std::thread::scope(|s| {
            let handles: Vec<_> = pods
                .iter()
                .map(|(ns, from)| {
                    let pods = &pods;
                    s.spawn(move || {
                        pods.iter()
                            .filter(|(_, to)| to != from)
                            .map(|(_, to)| (*from, *to, netns::ping(ns, IpAddr::V4(*to), 2)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    }

    /// A human-readable report: every node's status, its routes, the ping matrix.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            out += &format!("=== {} ({}, netns {}) ===\n", n.spec.name, n.spec.addr, n.ns.name());
            if n.spec.bird {
                out += &bird::show_protocols(n).unwrap_or_else(|e| e.to_string());
            } else {
                out += &self.ctl(i, &["status"]).map(|r| r.1).unwrap_or_else(|e| e.to_string());
            }
            out += &format!("\n$ ip route\n{}\n", n.ns.ip(&["route"]).unwrap_or_else(|e| e.to_string()));
        }
        for (k, r) in self.reflectors.iter().enumerate() {
            out += &format!("=== {} ({}, netns {}) ===\n$ route-reflector status\n", r.name, r.addr, r.ns.name());
            out += &self.rr_ctl(k, &["status"]).map(|r| r.1).unwrap_or_else(|e| e.to_string());
            out += "\n";
        }
        if let (Some(ns), Some(_)) = (&self.router, &self.router_bird) {
            out += &format!("=== router (BIRD, AS {}, netns {}) ===\n", self.spec.tor_as.unwrap_or(0), ns.name());
            for args in [&["show", "protocols"][..], &["show", "route"][..]] {
                out += &format!("$ birdc {}\n", args.join(" "));
                out += &router::birdc(&self.dir, args).unwrap_or_else(|e| e.to_string());
            }
            out += &format!("$ ip route\n{}\n", ns.ip(&["route"]).unwrap_or_else(|e| e.to_string()));
        }
        let m = self.ping_matrix();
        let pods: Vec<Ipv4Addr> = self.pods().iter().map(|p| p.1).collect();
        out += &format!("ping matrix ({} of {} pairs answer)\n{:>14}", m.iter().filter(|x| x.2).count(), m.len(), "");
        for p in &pods {
            out += &format!(" {:>11}", p.to_string());
        }
        out += "\n";
        for f in &pods {
            out += &format!("{:>14}", f.to_string());
            for t in &pods {
                let c = if f == t {
                    "-"
                } else if m.iter().any(|x| x.0 == *f && x.1 == *t && x.2) {
                    "ok"
                } else {
                    "FAIL"
                };
                out += &format!(" {c:>11}");
            }
            out += "\n";
        }
        out
    }

    /// Leaves everything running (for `lab up`): writes the namespaces and pids to
    /// `state` so that [`down`] can remove them, and forgets the guards.
    pub fn persist(self, state: &Path) -> io::Result<()> {
        let mut names = vec![self.fabric.ns().name().to_string()];
        let mut pids = Vec::new();
        for n in &self.nodes {
            names.push(n.ns.name().to_string());
            names.extend(n.pods.iter().map(|p| p.ns.name().to_string()));
            pids.extend(n.proc.as_ref().map(|p| p.pid()));
        }
        names.extend(self.router.as_ref().map(|r| r.name().to_string()));
        pids.extend(self.router_bird.as_ref().map(|p| p.pid()));
        for r in &self.reflectors {
            names.push(r.ns.name().to_string());
            pids.extend(r.proc.as_ref().map(|p| p.pid()));
        }
        let v = serde_json::json!({ "namespaces": names, "pids": pids, "dir": self.dir });
        std::fs::write(state, serde_json::to_vec_pretty(&v)?)?;
        std::mem::forget(self);
        Ok(())
    }
}

/// Removes a lab left by [`Lab::persist`]: kills its processes by pid (SIGTERM, then
/// SIGKILL), deletes its namespaces. Returns what was removed.
pub fn down(state: &Path) -> io::Result<(usize, usize)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state)?).map_err(io::Error::other)?;
    let pids: Vec<i32> =
        v["pids"].as_array().into_iter().flatten().filter_map(|p| p.as_i64()).map(|p| p as i32).collect();
    for p in &pids {
        // SAFETY: plain kill(2) on pids we started.
        unsafe { libc::kill(*p, libc::SIGTERM) };
    }
    std::thread::sleep(Duration::from_millis(500));
    for p in &pids {
        // SAFETY: as above.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    let mut removed = 0;
    for ns in v["namespaces"].as_array().into_iter().flatten().filter_map(|n| n.as_str()) {
        if let Ok(out) = run_args("ip", &["netns", "pids", ns]) {
            for pid in out.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                // SAFETY: processes inside a namespace this lab created.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if run_args("ip", &["netns", "del", ns]).is_ok() {
            removed += 1;
        }
    }
    let _ = std::fs::remove_file(state);
    Ok((pids.len(), removed))
}
