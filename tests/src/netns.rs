//! Network namespaces, veth pairs, bridge fabrics, static neighbours and pod wiring.
//!
//! All commands go through `ip -n NAME ...` or `ip netns exec NAME ...`; sockets can be
//! opened inside a namespace with [`Netns::enter`] (a helper thread calls `setns(2)`; a
//! socket stays in the namespace it was created in).

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ipnet::IpNet;

use crate::{run, run_args};

/// Prefix of every namespace this crate creates: `bgpt-<tag>-<pid>-<n>`.
pub const NS_PREFIX: &str = "bgpt-";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace owned by this process. Created with its loopback up; on drop every
/// process inside it is killed (by pid, from `ip netns pids`) and the namespace deleted,
/// which also removes its interfaces (and so the far ends of its veth pairs).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `bgpt-<tag>-<pid>-<n>`, unique across parallel tests and processes.
    /// `tag` should be short (letters, digits, `-`).
    pub fn new(tag: &str) -> io::Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NS_PREFIX}{tag}-{}-{n}", std::process::id());
        run_args("ip", &["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...` and returns its stdout.
    pub fn ip<S: AsRef<str>>(&self, args: &[S]) -> io::Result<String> {
        let mut cmd = Command::new("ip");
        cmd.arg("-n").arg(&self.name);
        cmd.args(args.iter().map(|a| a.as_ref()));
        run(&mut cmd)
    }

    /// Feeds `lines` to `ip -n NAME -batch -` (one `ip` command per line, without `ip`).
    pub fn ip_batch(&self, lines: &str) -> io::Result<()> {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["-n", &self.name, "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().expect("piped stdin").write_all(lines.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ip -n {} -batch failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// A [`Command`] that runs `program` inside the namespace (`ip netns exec NAME program`).
    /// `ip netns exec` execs the program in place, so the child's pid is the program's.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program args...` inside the namespace to completion and returns its stdout.
    pub fn exec<S: AsRef<std::ffi::OsStr>>(&self, program: &str, args: &[S]) -> io::Result<String> {
        run(self.command(program).args(args))
    }

    /// Sets sysctl `key` (e.g. `net.ipv4.ip_forward`) to `value` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        self.exec("sysctl", &["-qw", &format!("{key}={value}")]).map(drop)
    }

    /// Adds an address (`198.18.0.1/30`, `fd00::1/64`) to `dev`. IPv6 addresses are added
    /// with `nodad` so they are usable at once.
    pub fn add_addr(&self, dev: &str, addr: IpNet) -> io::Result<()> {
        let a = addr.to_string();
        match addr {
            IpNet::V4(_) => self.ip(&["addr", "add", &a, "dev", dev]),
            IpNet::V6(_) => self.ip(&["addr", "add", &a, "dev", dev, "nodad"]),
        }
        .map(drop)
    }

    /// Pids of all processes in the namespace (`ip netns pids NAME`).
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        Ok(run_args("ip", &["netns", "pids", &self.name])?.split_whitespace().filter_map(|p| p.parse().ok()).collect())
    }

    /// Kills every process in the namespace: SIGTERM, up to 2 s grace, then SIGKILL.
    pub fn kill_all(&self) {
        kill_ns_pids(&self.name);
    }

    /// Runs `f` on a helper thread that has joined this namespace, and returns its result.
    /// Sockets created inside `f` belong to the namespace and may be used from any thread.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let file = File::open(format!("/run/netns/{}", self.name))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on a valid fd; affects only this helper thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other("namespace helper thread panicked"))?
        })
    }

    /// Binds a TCP listener inside the namespace.
    pub fn tcp_listen(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        self.enter(|| TcpListener::bind(addr))?
    }

    /// Connects a TCP stream from inside the namespace.
    pub fn tcp_connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        self.enter(|| TcpStream::connect_timeout(&addr, timeout))?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_ns_pids(&self.name);
        if let Err(e) = run_args("ip", &["netns", "del", &self.name]) {
            eprintln!("warning: cannot delete namespace {}: {e}", self.name);
        }
    }
}

fn kill_ns_pids(name: &str) {
    let pids = || -> Vec<i32> {
        run_args("ip", &["netns", "pids", name])
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let first = pids();
    if first.is_empty() {
        return;
    }
    for &pid in &first {
        // SAFETY: plain kill(2) on a pid listed as living in our namespace.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    for _ in 0..40 {
        if pids().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids() {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for _ in 0..40 {
        if pids().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes namespaces named `bgpt-*-<pid>-<n>` whose creating process `<pid>` is gone
/// (left behind by a test run that was SIGKILLed), killing their processes first.
/// Returns how many were removed. Never touches namespaces of live processes.
pub fn cleanup_stale() -> io::Result<usize> {
    let mut removed = 0;
    for line in run_args("ip", &["netns", "list"])?.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let parts: Vec<&str> = rest.rsplitn(3, '-').collect();
        if parts.len() != 3 || parts[0].parse::<u32>().is_err() {
            continue;
        }
        let Ok(pid) = parts[1].parse::<u32>() else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        kill_ns_pids(name);
        if run_args("ip", &["netns", "del", name]).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// One end of a link: interface name, MAC address and addresses.
#[derive(Debug, Clone)]
pub struct LinkEnd {
    /// Interface name inside its namespace.
    pub dev: String,
    /// MAC address, as `ip` prints it.
    pub mac: String,
    /// Addresses configured on the interface.
    pub addrs: Vec<IpNet>,
}

impl LinkEnd {
    /// The first IPv4 address, if any.
    pub fn v4(&self) -> Option<Ipv4Addr> {
        self.addrs.iter().find_map(|a| match a.addr() {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        })
    }

    /// The first IPv6 address, if any.
    pub fn v6(&self) -> Option<std::net::Ipv6Addr> {
        self.addrs.iter().find_map(|a| match a.addr() {
            IpAddr::V6(v) => Some(v),
            IpAddr::V4(_) => None,
        })
    }
}

/// Reads the MAC address of `dev` inside `ns`.
pub fn mac_of(ns: &Netns, dev: &str) -> io::Result<String> {
    let out = ns.ip(&["-br", "link", "show", "dev", dev])?;
    out.split_whitespace().nth(2).map(str::to_owned).ok_or_else(|| io::Error::other(format!("no MAC for {dev}: {out}")))
}

/// Creates a veth pair `a_dev` (in `a`) <-> `b_dev` (in `b`), assigns the addresses and
/// brings both ends up. Interface names must be at most 15 characters.
pub fn veth(
    a: &Netns,
    a_dev: &str,
    a_addrs: &[IpNet],
    b: &Netns,
    b_dev: &str,
    b_addrs: &[IpNet],
) -> io::Result<(LinkEnd, LinkEnd)> {
    veth_with_macs(a, a_dev, None, a_addrs, b, b_dev, None, b_addrs)
}

/// Like [`veth`], with fixed MAC addresses (set before the link comes up, so the IPv6
/// link-local addresses derived from them are fixed too: recordings stay byte-identical).
#[allow(clippy::too_many_arguments)]
pub fn veth_with_macs(
    a: &Netns,
    a_dev: &str,
    a_mac: Option<&str>,
    a_addrs: &[IpNet],
    b: &Netns,
    b_dev: &str,
    b_mac: Option<&str>,
    b_addrs: &[IpNet],
) -> io::Result<(LinkEnd, LinkEnd)> {
    let mut args = vec!["link", "add", a_dev];
    if let Some(m) = a_mac {
        args.extend(["address", m]);
    }
    args.extend(["type", "veth", "peer", "name", b_dev]);
    if let Some(m) = b_mac {
        args.extend(["address", m]);
    }
    args.extend(["netns", &b.name]);
    a.ip(&args)?;
    for (ns, dev, addrs) in [(a, a_dev, a_addrs), (b, b_dev, b_addrs)] {
        for addr in addrs {
            ns.add_addr(dev, *addr)?;
        }
        ns.ip(&["link", "set", dev, "up"])?;
    }
    Ok((
        LinkEnd { dev: a_dev.into(), mac: mac_of(a, a_dev)?, addrs: a_addrs.to_vec() },
        LinkEnd { dev: b_dev.into(), mac: mac_of(b, b_dev)?, addrs: b_addrs.to_vec() },
    ))
}

/// A node's attachment to a [`Fabric`].
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The node-side interface (name, fixed MAC, addresses).
    pub node: LinkEnd,
    /// The bridge port's name inside the fabric namespace.
    pub port: String,
}

/// A namespace holding one Linux bridge (`br0`) that many node namespaces join by veth:
/// the lab's L2 segment. Nodes get fixed MACs `02:42:c6:12:HH:LL` by attachment index so
/// that [`Fabric::pin`] can install static neighbours and FDB entries (see NETNS-NOTES:
/// past ~45 nodes dynamic ARP overflows the host-wide neighbour table).
#[derive(Debug)]
pub struct Fabric {
    ns: Netns,
    next_port: u32,
}

impl Fabric {
    /// Creates the fabric namespace and its bridge.
    pub fn new(tag: &str) -> io::Result<Fabric> {
        let ns = Netns::new(tag)?;
        ns.ip(&["link", "add", "br0", "type", "bridge"])?;
        ns.ip(&["link", "set", "br0", "up"])?;
        // A fabric stands for a switch: no bridge netfilter (br_netfilter, when loaded,
        // runs iptables hooks on every bridged packet, per namespace, on by default).
        // Absent files mean the module is not loaded, which is the same.
        let _ = ns.exec(
            "sh",
            &["-c", "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true"],
        );
        Ok(Fabric { ns, next_port: 0 })
    }

    /// The fabric's namespace.
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// Joins `node` to the bridge through a veth named `dev` on the node side, with the
    /// given addresses and a fixed MAC derived from the attachment's index.
    pub fn attach(&mut self, node: &Netns, dev: &str, addrs: &[IpNet]) -> io::Result<Attachment> {
        let idx = self.next_port;
        self.next_port += 1;
        let port = format!("p{idx}");
        let mac = format!("02:42:c6:12:{:02x}:{:02x}", (idx >> 8) & 0xff, idx & 0xff);
        self.ns.ip(&["link", "add", &port, "type", "veth", "peer", "name", dev, "netns", node.name()])?;
        node.ip(&["link", "set", dev, "address", &mac])?;
        for addr in addrs {
            node.add_addr(dev, *addr)?;
        }
        node.ip(&["link", "set", dev, "up"])?;
        self.ns.ip(&["link", "set", &port, "master", "br0"])?;
        self.ns.ip(&["link", "set", &port, "up"])?;
        Ok(Attachment { node: LinkEnd { dev: dev.into(), mac, addrs: addrs.to_vec() }, port })
    }

    /// Installs permanent neighbour entries on every node for every other node's
    /// addresses, and a static FDB entry per bridge port, so the fabric needs no ARP/ND
    /// and no flooding.
    pub fn pin(&self, nodes: &[(&Netns, &Attachment)]) -> io::Result<()> {
        let mut fdb = String::new();
        for (_, att) in nodes {
            fdb.push_str(&format!("fdb replace {} dev {} master static\n", att.node.mac, att.port));
        }
        run_bridge_batch(&self.ns, &fdb)?;
        for (ns, att) in nodes {
            let mut lines = String::new();
            for (_, other) in nodes {
                if other.port == att.port {
                    continue;
                }
                for a in &other.node.addrs {
                    lines.push_str(&format!(
                        "neigh replace {} lladdr {} dev {} nud permanent\n",
                        a.addr(),
                        other.node.mac,
                        att.node.dev
                    ));
                }
            }
            if !lines.is_empty() {
                ns.ip_batch(&lines)?;
            }
        }
        Ok(())
    }
}

fn run_bridge_batch(ns: &Netns, lines: &str) -> io::Result<()> {
    use std::io::Write;
    let mut child = Command::new("bridge")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped stdin").write_all(lines.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!("bridge -batch failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// A pod: its own namespace with `eth0`, wired to a node the way Calico's CNI plugin and
/// Felix do it. Dropping the pod deletes its namespace, which removes the cali veth and
/// the node's /32 route with it.
#[derive(Debug)]
pub struct Pod {
    /// The pod's namespace.
    pub ns: Netns,
    /// The host-side interface, `cali` + 11 hex characters.
    pub cali: String,
    /// The pod's address (a /32 on `eth0`).
    pub ip: Ipv4Addr,
}

/// Wires a pod with address `ip` to `node` exactly as NETNS-NOTES.md shows: host-side
/// `caliXXXXXXXXXXX` with MAC ee:ee:ee:ee:ee:ee and proxy ARP, a /32 route to the pod,
/// `169.254.1.1/32 dev <uplink>` on the node (so proxy ARP answers), and in the pod
/// `default via 169.254.1.1 dev eth0 onlink`. `uplink` is the node's fabric interface.
pub fn wire_pod(node: &Netns, uplink: &str, ip: Ipv4Addr) -> io::Result<Pod> {
    let ns = Netns::new("pod")?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let cali = format!("cali{:011x}", (u64::from(u32::from(ip)) << 12 ^ u64::from(n)) & 0xfff_ffff_ffff);
    let ip_s = ip.to_string();
    node.ip(&["link", "add", &cali, "type", "veth", "peer", "name", "eth0", "netns", ns.name()])?;
    node.ip(&["link", "set", &cali, "address", "ee:ee:ee:ee:ee:ee"])?;
    node.ip(&["link", "set", &cali, "up"])?;
    node.exec(
        "sysctl",
        &[
            "-qw",
            "net.ipv4.ip_forward=1",
            &format!("net.ipv4.conf.{cali}.proxy_arp=1"),
            &format!("net.ipv4.neigh.{cali}.proxy_delay=0"),
            &format!("net.ipv4.conf.{cali}.forwarding=1"),
        ],
    )?;
    node.ip(&["route", "add", &format!("{ip_s}/32"), "dev", &cali, "scope", "link"])?;
    node.ip(&["route", "replace", "169.254.1.1/32", "dev", uplink, "scope", "link"])?;
    ns.ip(&["addr", "add", &format!("{ip_s}/32"), "dev", "eth0"])?;
    ns.ip(&["link", "set", "eth0", "up"])?;
    ns.ip(&["route", "add", "default", "via", "169.254.1.1", "dev", "eth0", "onlink"])?;
    Ok(Pod { ns, cali, ip })
}

/// Pings `dst` from inside `ns` (`count` packets, 1 s timeout each); true when any reply.
pub fn ping(ns: &Netns, dst: IpAddr, count: u32) -> bool {
    ns.command("ping")
        .args(["-n", "-q", "-c", &count.to_string(), "-W", "1", "-i", "0.2"])
        .arg(dst.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
