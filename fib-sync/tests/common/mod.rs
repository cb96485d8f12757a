//! Network-namespace fixtures for the kernel tests (root only).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether the kernel tests can run; prints why not.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: fib-sync kernel tests need root (network namespaces)");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIP: iproute2 `ip` not found");
        return false;
    }
    true
}

/// A uniquely named network namespace, deleted on drop (also when the test panics).
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create `fs-<pid>-<n>` with `lo` up and a veth pair `veth0` (198.18.0.1/24) <->
    /// `veth0p`, both up, so that 198.18.0.0/24 is a connected subnet.
    pub fn new() -> Netns {
        let name = format!("fs-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth0p"]);
        ns.ip(&["addr", "add", "198.18.0.1/24", "dev", "veth0"]);
        ns.ip(&["addr", "add", "2001:db8:1::1/64", "dev", "veth0", "nodad"]);
        ns.ip(&["link", "set", "veth0", "up"]);
        ns.ip(&["link", "set", "veth0p", "up"]);
        ns
    }

    /// Path for [`fib_sync::Config::netns`].
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.name))
    }

    /// `ip -n NS ARGS...`, panicking on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        run("ip", &a)
    }

    /// Create `tunl0`. This kernel has no ipip module, so it is a tun device here: for
    /// routing, all that matters is a device that accepts `onlink` next hops.
    pub fn add_tunl0(&self) {
        self.ip(&["tuntap", "add", "dev", "tunl0", "mode", "tun"]);
        self.ip(&["link", "set", "tunl0", "up"]);
    }

    /// `ip route show proto bird` for IPv4 and IPv6, all tables, one normalised line per
    /// route (state flags such as `linkdown` removed), sorted.
    pub fn bird_routes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for fam in ["-4", "-6"] {
            let s = self.ip(&[fam, "route", "show", "proto", "bird", "table", "all"]);
            out.extend(normalise(&s));
        }
        out.sort();
        out
    }

    /// All routes of the main table (any protocol), normalised.
    pub fn all_routes(&self, fam: &str) -> Vec<String> {
        let mut v = normalise(&self.ip(&[fam, "route", "show"]));
        v.sort();
        v
    }
}

/// Join ECMP continuation lines and drop state flags.
pub fn normalise(s: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for l in s.lines() {
        if l.starts_with(char::is_whitespace) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(l.trim());
            }
        } else if !l.trim().is_empty() {
            lines.push(l.trim().to_string());
        }
    }
    lines
        .into_iter()
        .map(|l| {
            l.split_whitespace().filter(|w| !matches!(*w, "linkdown" | "pref" | "medium")).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Run a command, panicking with its stderr on failure.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().expect("spawn");
    assert!(o.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Poll `f` every 10 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sorted owned strings.
pub fn set(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
