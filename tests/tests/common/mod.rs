//! Helpers shared by the end-to-end test files: a lab cluster with cleanup on drop,
//! waiting for exact kernel routes, the ping matrix assertion.

#![allow(dead_code)]

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::lab::{self, Lab, LabSpec};
use tests::{poll, WorkDir};

/// A lab and its working directory; dropping it stops every process and removes every
/// namespace.
pub struct Cluster {
    /// The lab.
    pub lab: Lab,
    _dir: WorkDir,
}

/// Whether we run as root (the tests need it; they skip otherwise).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Builds the binaries the spec needs (once per test binary) and the lab; `None`
/// when not root.
pub fn up(tag: &str, spec: LabSpec) -> Option<Cluster> {
    if !is_root() {
        eprintln!("skipping {tag}: needs root");
        return None;
    }
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        lab::speaker_binary(true).expect("build bgp-speaker");
    });
    if spec.reflectors > 0 {
        static BUILD_RR: std::sync::Once = std::sync::Once::new();
        BUILD_RR.call_once(|| {
            lab::reflector_binary(true).expect("build route-reflector");
        });
    }
    let dir = WorkDir::new(tag).unwrap();
    let lab = Lab::up(spec, dir.path()).unwrap();
    Some(Cluster { lab, _dir: dir })
}

/// Waits until node `i`'s `ip route show proto bird` is exactly `want` (sorted).
pub fn wait_routes(lab: &Lab, i: usize, want: &[String], timeout: Duration) -> io::Result<()> {
    let mut last = Vec::new();
    let r =
        poll(&format!("{}'s proto bird routes", lab.nodes[i].spec.name), timeout, Duration::from_millis(100), || {
            last = lab.bird_routes(i)?;
            Ok((last == want).then_some(()))
        });
    r.map_err(|e| io::Error::other(format!("{e}\nwant {want:#?}\ngot {last:#?}\n{}", log_tail(lab, i))))
}

/// The last 30 lines of node `i`'s log.
pub fn log_tail(lab: &Lab, i: usize) -> String {
    let s = std::fs::read_to_string(&lab.nodes[i].log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Asserts that every pod answers every other pod.
pub fn assert_all_ping(lab: &Lab) {
    let m = lab.ping_matrix();
    let bad: Vec<_> = m.iter().filter(|x| !x.2).collect();
    assert!(bad.is_empty(), "pod pairs without replies: {bad:?}\n{}", lab.report());
}

/// Node `ns`'s `ip route show proto bird`, as [`Lab::bird_routes`] normalises it, by
/// namespace name (usable from a watcher thread); `None` when `ip` could not run.
pub fn routes_of(ns: &str) -> Option<Vec<String>> {
    let out = tests::run_args("ip", &["-n", ns, "route", "show", "proto", "bird"]).ok()?;
    let mut v: Vec<String> =
        out.lines().map(|l| l.split_whitespace().filter(|w| *w != "linkdown").collect::<Vec<_>>().join(" ")).collect();
    v.sort();
    Some(v)
}

/// Watches every node's `proto bird` routes in a thread until stopped: every sample
/// that differs from `want` is recorded.
pub struct RouteWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl RouteWatch {
    /// Starts watching node `i` of `lab` for `want[i]`.
    pub fn start(lab: &Lab, want: Vec<Vec<String>>) -> RouteWatch {
        let names: Vec<String> = lab.nodes.iter().map(|n| n.ns.name().to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut sweeps, mut bad) = (0, Vec::new());
            while !s.load(Ordering::Relaxed) {
                for (i, w) in want.iter().enumerate() {
                    // A failed `ip` run (fork under load) is no sample.
                    let Some(got) = routes_of(&names[i]) else { continue };
                    if &got != w {
                        bad.push(format!("node {i}: want {w:?}, got {got:?}"));
                    }
                }
                sweeps += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (sweeps, bad)
        });
        RouteWatch { stop, thread }
    }

    /// Stops watching: (sweeps over every node, samples that differed).
    pub fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Node `ns`'s `ip -6 route show proto bird`, sorted, one route per line.
#[allow(dead_code)]
pub fn v6_routes_of(ns: &str) -> Option<Vec<String>> {
    let out = tests::run_args("ip", &["-n", ns, "-6", "route", "show", "proto", "bird"]).ok()?;
    let mut v: Vec<String> = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .filter(|w| *w != "linkdown")
                .collect::<Vec<_>>()
                .join(" ")
                .replace(" metric 1024 pref medium", "")
                .replace(" pref medium", "")
        })
        .collect();
    v.sort();
    Some(v)
}
