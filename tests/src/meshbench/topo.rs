//! The benchmark's cluster: the lab's mesh ([`LabSpec::mesh`], no pods) on one fabric
//! bridge with pinned neighbours and FDB entries (NETNS-NOTES scale traps), and the node
//! processes, started all at once: each is forked straight into its namespace with
//! `setns(2)` as `sh -c 'kill -STOP $$; exec PROG ARGS'`, so it stops itself before it
//! execs the speaker; once all N are stopped, one SIGCONT each releases them within a
//! millisecond (forking 100 processes one by one takes about a second on this machine,
//! which would otherwise be part of the figure).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::lab::{self, LabSpec};
use crate::netns::{Attachment, Fabric, Netns};
use crate::proc::Proc;

/// Which speaker runs on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impl {
    /// Our `bgp-speaker`.
    Ours,
    /// BIRD 2 with Calico's configuration ([`lab::bird::config`]).
    Bird,
}

impl std::fmt::Display for Impl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Impl::Ours => "ours",
            Impl::Bird => "bird",
        })
    }
}

/// One node: its namespace (and an open handle for `setns`), files and process.
pub struct MeshNode {
    /// Namespace.
    pub ns: Netns,
    nsfile: File,
    /// Fabric attachment.
    pub att: Attachment,
    /// The running speaker (None while stopped).
    pub proc: Option<Proc>,
    /// Control socket (ours) or BIRD socket.
    pub socket: PathBuf,
}

/// The built mesh. Dropping it stops every process (SIGTERM to all, then each is
/// reaped) and deletes every namespace.
pub struct Mesh {
    /// The lab spec the configurations come from.
    pub spec: LabSpec,
    /// Nodes (processes are dropped before namespaces: field order).
    pub nodes: Vec<MeshNode>,
    /// The fabric bridge.
    pub fabric: Fabric,
    /// Configs and logs.
    pub dir: PathBuf,
    /// The control sockets, on a tmpfs as on a node (calico-node keeps BIRD's in
    /// /var/run/calico): creating 100 socket inodes on this machine's ext4 /tmp at once
    /// showed up as ~2 % of the nodes' CPU during the start (journal), for either speaker.
    _sockets: tempfile::TempDir,
}

/// A directory for the control sockets on a tmpfs (/dev/shm), else in the temp dir.
fn socket_dir() -> io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    match tempfile::Builder::new().prefix("mesh-bench-sock-").tempdir_in(shm) {
        Ok(d) => Ok(d),
        Err(_) => tempfile::Builder::new().prefix("mesh-bench-sock-").tempdir(),
    }
}

/// IPv6 off in `ns`, for interfaces created from now on.
fn no_ipv6(ns: &Netns) -> io::Result<()> {
    ns.exec(
        "sh",
        &["-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"],
    )
    .map(|_| ())
}

impl Mesh {
    /// Builds `n` nodes (198.18.0.i/24, block 10.244.i.0/26, IPIP Never, no pods).
    pub fn build(n: usize, dir: &Path) -> io::Result<Mesh> {
        let mut spec = LabSpec::mesh(n);
        for s in &mut spec.nodes {
            s.pods = 0;
        }
        let mut fabric = Fabric::new("mesh-fabric")?;
        // The mesh is IPv4 only. With IPv6 on, every new interface (two per node) starts
        // with DAD, MLD reports and router solicitations, multicast the bridge floods to
        // every node, for seconds after the build: that landed on whichever speaker ran
        // first. Off before the links exist, in every namespace, for both speakers.
        no_ipv6(fabric.ns())?;
        let sockets = socket_dir()?;
        let mut nodes = Vec::with_capacity(n);
        for s in &spec.nodes {
            crate::meshbench::check_interrupt()?;
            let ns = Netns::new("mesh")?;
            no_ipv6(&ns)?;
            let att = fabric.attach(&ns, "eth0", &[ipnet::IpNet::V4(s.addr)])?;
            // As the lab: no ipip link type on this kernel, tunl0 is a tun device.
            ns.ip_batch("tuntap add dev tunl0 mode tun\nlink set tunl0 up\n")?;
            let nsfile = File::open(format!("/run/netns/{}", ns.name()))?;
            let socket = sockets.path().join(format!("{}.ctl", s.name));
            nodes.push(MeshNode { ns, nsfile, att, proc: None, socket });
        }
        let pins: Vec<(&Netns, &Attachment)> = nodes.iter().map(|n| (&n.ns, &n.att)).collect();
        fabric.pin(&pins)?;
        Ok(Mesh { spec, nodes, fabric, dir: dir.to_path_buf(), _sockets: sockets })
    }

    /// Node `i`'s exact `proto bird` table (as [`super::watch`] renders routes): its
    /// blackhole and `via` every other node on `eth0`.
    pub fn expected(&self, i: usize) -> std::collections::BTreeSet<String> {
        let me = &self.spec.nodes[i];
        let mut v = std::collections::BTreeSet::from([format!("blackhole {}", me.block)]);
        for (j, o) in self.spec.nodes.iter().enumerate() {
            if j != i {
                v.insert(format!("{} via {} dev eth0", o.block, o.addr.addr()));
            }
        }
        v
    }

    /// Writes node `i`'s configuration for `imp`; returns (program, args).
    fn prepare(&self, imp: Impl, bin: &Path, i: usize) -> io::Result<(String, Vec<String>)> {
        let s = &self.spec.nodes[i];
        let sock = self.nodes[i].socket.to_string_lossy().into_owned();
        match imp {
            Impl::Ours => {
                let cfg = self.dir.join(format!("{}.toml", s.name));
                std::fs::write(&cfg, lab::node_config(&self.spec, i, &self.nodes[i].socket))?;
                let cfg = cfg.to_string_lossy().into_owned();
                Ok((bin.to_string_lossy().into_owned(), vec!["run".into(), "-c".into(), cfg]))
            }
            Impl::Bird => {
                let conf = self.dir.join(format!("{}.bird.conf", s.name));
                std::fs::write(&conf, lab::bird::config(&self.spec, i))?;
                let conf = conf.to_string_lossy().into_owned();
                // -R as calico-node starts BIRD (graceful restart recovery, routes kept).
                Ok(("bird".into(), vec!["-f".into(), "-R".into(), "-c".into(), conf, "-s".into(), sock]))
            }
        }
    }

    /// Forks node `i`'s process, which stops itself before it execs `prog`.
    fn spawn(&mut self, i: usize, prog: &str, args: &[String], tag: &str) -> io::Result<()> {
        let _ = std::fs::remove_file(&self.nodes[i].socket);
        let log = self.dir.join(format!("{}-{tag}.log", self.spec.nodes[i].name));
        let fd = self.nodes[i].nsfile.as_raw_fd();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "kill -STOP $$; exec \"$0\" \"$@\"", prog]).args(args);
        // SAFETY: only setns(2), which is async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.nodes[i].proc = Some(Proc::spawn(cmd, &log)?);
        Ok(())
    }

    /// Waits until node `i`'s process has stopped itself (state `T`).
    fn wait_stopped(&self, i: usize) -> io::Result<()> {
        let pid = self.nodes[i].proc.as_ref().map(|p| p.pid()).unwrap_or(0);
        let t = Instant::now();
        loop {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
            let state = st.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next());
            match state {
                Some('T') => return Ok(()),
                Some('Z') | None => return Err(io::Error::other(format!("node-{}: launcher exited", i + 1))),
                _ if t.elapsed() > std::time::Duration::from_secs(30) => {
                    return Err(io::Error::other(format!("node-{}: launcher did not stop", i + 1)))
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    }

    /// Writes every configuration, forks every node stopped, then releases them all at
    /// once. Returns the instant just before the first release and the seconds the
    /// forks took (not part of any figure).
    pub fn start_all(&mut self, imp: Impl, bin: &Path, tag: &str) -> io::Result<(Instant, f64)> {
        let t = Instant::now();
        for i in 0..self.nodes.len() {
            let (prog, args) = self.prepare(imp, bin, i)?;
            self.spawn(i, &prog, &args, tag)?;
        }
        for i in 0..self.nodes.len() {
            self.wait_stopped(i)?;
        }
        let forks = t.elapsed().as_secs_f64();
        let t0 = Instant::now();
        for n in &self.nodes {
            if let Some(p) = &n.proc {
                p.signal(libc::SIGCONT)?;
            }
        }
        Ok((t0, forks))
    }

    /// Restarts node `i` the same way. Returns the instant before its release.
    pub fn restart(&mut self, imp: Impl, bin: &Path, i: usize, tag: &str) -> io::Result<Instant> {
        let (prog, args) = self.prepare(imp, bin, i)?;
        self.spawn(i, &prog, &args, tag)?;
        self.wait_stopped(i)?;
        let t = Instant::now();
        if let Some(p) = &self.nodes[i].proc {
            p.signal(libc::SIGCONT)?;
        }
        Ok(t)
    }

    /// SIGKILLs node `i`'s process (kernel routes stay) and reaps it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(p) = self.nodes[i].proc.take() {
            let _ = p.signal(libc::SIGKILL);
            drop(p);
        }
    }

    /// Pids of the running node processes (by node index).
    pub fn pids(&self) -> Vec<(usize, u32)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| n.proc.as_ref().map(|p| (i, p.pid()))).collect()
    }

    /// Errors with the log tail if any node process has died.
    pub fn check_alive(&mut self) -> io::Result<()> {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if let Some(p) = n.proc.as_mut() {
                p.check_alive().map_err(|e| io::Error::other(format!("node-{}: {e}", i + 1)))?;
            }
        }
        Ok(())
    }

    /// Stops every node: SIGTERM to all at once, then each is reaped (SIGKILL after 3 s).
    pub fn stop_all(&mut self) {
        for n in &self.nodes {
            if let Some(p) = &n.proc {
                let _ = p.signal(libc::SIGTERM);
            }
        }
        for n in &mut self.nodes {
            n.proc.take();
        }
    }

    /// Deletes every `proto bird` route of every node (between runs on the same mesh).
    pub fn flush_routes(&self) -> io::Result<()> {
        for n in &self.nodes {
            n.ns.ip(&["route", "flush", "proto", "bird"])?;
        }
        Ok(())
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.stop_all();
    }
}
