//! Node-speaker mesh benchmark (`mesh-bench`, issue 6): full meshes of N nodes running
//! our `bgp-speaker`, then the same mesh running BIRD 2 configured as Calico's confd
//! renders it ([`crate::lab::bird::config`]), measured the same way in the same run.
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target-node
//! cargo build --release -p bgp-speaker -p tests --bin mesh-bench --bin bgp-speaker
//! cargo build --profile node -p bgp-speaker --bin bgp-speaker   # the shipped build, used when present
//! $CARGO_TARGET_DIR/release/mesh-bench --nodes 25,50,100 --out /tmp/mesh.md   # as root
//! ```
//!
//! Per size N (nodes 198.18.0.i/24 on one bridge with pinned neighbours, block
//! 10.244.i.0/26, IPIP Never, no pods; [`topo`]) and per speaker:
//!
//! 1. **start**: every node's process is forked and stops itself before exec; then all
//!    are released at once (SIGCONT, see [`topo`]); *converge* = from just before the
//!    first release until every node's kernel main table
//!    holds exactly its blackhole plus the N-1 `via` routes (`proto bird`), seen by an
//!    rtnetlink watcher per namespace ([`watch`]), not by polling `ip`;
//! 2. **RSS and CPU**: right then, `VmRSS` and `VmHWM` of every node process (mean, max)
//!    and the sum of their CPU time (scheduler run time of every thread, ns); after that every node is asked over its control
//!    socket until all report N-1 Established sessions, then `--settle` seconds pass;
//! 3. **restart**: the node chosen by `--restart-node` (default: the middle one in
//!    Calico's string order, so it both dials and accepts) gets SIGKILL, `--restart-gap`
//!    seconds pass, it is started again; *re-converge* = from that start until the
//!    restarted node reports all N-1 sessions Established (polled every 10 ms over its
//!    socket) and every kernel table is complete. Route deletions and replacements seen
//!    in any kernel meanwhile (graceful restart should leave forwarding alone) are
//!    counted through `--settle` seconds more, and a table that dips and recovers in that
//!    window moves the end to its recovery.
//!
//! Everything runs in namespaces `bgpt-mesh*-<pid>-<n>`; processes are stopped by pid
//! and namespaces deleted on return, on error and on Ctrl-C (the wait loops check
//! [`INTERRUPTED`] and unwind through the guards).

pub mod sessions;
pub mod topo;
pub mod watch;

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::bench::stats;
pub use topo::Impl;
use topo::Mesh;
use watch::Watch;

pub use crate::bench::{check_interrupt, stop_on_signals, INTERRUPTED};

/// What BIRD runs with (from `lab::bird::config`, Calico's confd template); its start-up
/// and restart figures are dominated by these.
pub const BIRD_TIMERS: &str = "BIRD 2 as Calico's confd renders bird.cfg: kernel `scan time 2`, `learn`, `persist`, \
     `graceful restart`, `merge paths on`; device `scan time 2`; BGP `connect delay time 2`, `connect retry time 5`, \
     `error wait time 5,30`, `graceful restart` (restart time 120 s), `add paths on`, hold 240 / keepalive 80 \
     (defaults), passive toward string-greater addresses; started with `bird -f -R` as calico-node does";

/// Benchmark options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Mesh sizes.
    pub sizes: Vec<usize>,
    /// Speakers to run, in order.
    pub impls: Vec<Impl>,
    /// Our `bgp-speaker` binary.
    pub bin: PathBuf,
    /// Per-phase timeout.
    pub timeout: Duration,
    /// Pause after all sessions are up (before the restart) and after re-convergence.
    pub settle: Duration,
    /// Between SIGKILL and the restart.
    pub restart_gap: Duration,
    /// Node to restart (1-based); None: the middle one in string order.
    pub restart_node: Option<usize>,
    /// Keep the work directory (configs, logs) here instead of a temporary one.
    pub keep: Option<PathBuf>,
}

pub use crate::bench::Timing;

/// One speaker's figures for one mesh size.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which speaker.
    pub imp: Impl,
    /// Its version.
    pub version: String,
    /// Seconds it took to fork all N processes (stopped; before the start).
    pub spawn: f64,
    /// Start → every kernel complete.
    pub converge: Timing,
    /// Start → the first node's kernel complete, and the median node's.
    pub first_median: Option<(f64, f64)>,
    /// Start → every node reported N-1 Established sessions (polled over the sockets).
    pub sessions_up: Timing,
    /// Restart → restarted node's sessions all up and every kernel complete.
    pub restart: Timing,
    /// Restart → the restarted node's sessions all up (the part of `restart` they took).
    pub restart_sessions: Option<f64>,
    /// Route replacements and deletions in all kernels during the restart phase, and
    /// nodes whose table was incomplete at some point in it.
    pub restart_churn: (u64, u64, usize),
    /// Per node (VmRSS, VmHWM) KiB at convergence.
    pub mem: Vec<(u64, u64)>,
    /// CPU seconds of all node processes: start → convergence, and the whole run.
    pub cpu: (f64, f64),
    /// The restarted node (1-based).
    pub restarted: usize,
    /// Why the run stopped early.
    pub note: Option<String>,
}

impl Row {
    fn new(imp: Impl, version: String) -> Row {
        Row {
            imp,
            version,
            spawn: 0.0,
            converge: Timing::Skipped,
            first_median: None,
            sessions_up: Timing::Skipped,
            restart: Timing::Skipped,
            restart_sessions: None,
            restart_churn: (0, 0, 0),
            mem: Vec::new(),
            cpu: (0.0, 0.0),
            restarted: 0,
            note: None,
        }
    }

    /// (mean, max) of VmRSS (`rss` true) or VmHWM, KiB.
    pub fn mem_stat(&self, rss: bool) -> Option<(f64, u64)> {
        if self.mem.is_empty() {
            return None;
        }
        let v: Vec<u64> = self.mem.iter().map(|m| if rss { m.0 } else { m.1 }).collect();
        Some((v.iter().sum::<u64>() as f64 / v.len() as f64, *v.iter().max().unwrap_or(&0)))
    }
}

/// The version line of a speaker.
pub fn version(imp: Impl) -> String {
    match imp {
        Impl::Ours => format!("bgp-speaker {}", env!("CARGO_PKG_VERSION")),
        Impl::Bird => std::process::Command::new("bird")
            .arg("--version")
            .output()
            .map(|o| {
                let s = String::from_utf8_lossy(&o.stderr).trim().to_string();
                if s.is_empty() {
                    String::from_utf8_lossy(&o.stdout).trim().to_string()
                } else {
                    s
                }
            })
            .unwrap_or_else(|e| format!("bird: {e}")),
    }
}

/// The node restarted by default: the middle one when the addresses are sorted as
/// strings (Calico's passive rule compares strings), 0-based.
pub fn middle_node(mesh: &Mesh) -> usize {
    let mut v: Vec<(String, usize)> =
        mesh.spec.nodes.iter().enumerate().map(|(i, n)| (n.addr.addr().to_string(), i)).collect();
    v.sort();
    v[v.len() / 2].1
}

/// CPU seconds of a process: the scheduler's nanosecond run time of each of its threads
/// (`/proc/PID/task/*/schedstat`); `/proc/PID/stat` counts 10 ms ticks, too coarse for
/// a node that converges in a few milliseconds of CPU. Falls back to the ticks.
fn cpu_secs(pid: u32) -> f64 {
    let ns: Option<u64> = std::fs::read_dir(format!("/proc/{pid}/task")).ok().map(|d| {
        d.flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    });
    match ns {
        Some(n) if n > 0 => n as f64 / 1e9,
        _ => stats::cpu_secs(pid).unwrap_or(0.0),
    }
}

fn cpu_of(pids: &[(usize, u32)]) -> f64 {
    pids.iter().map(|(_, p)| cpu_secs(*p)).sum()
}

/// Waits until `done` returns Some; checks Ctrl-C, the watcher and the node processes.
fn wait_for<T>(
    mesh: &mut Mesh,
    watch: &Watch,
    t0: Instant,
    timeout: Duration,
    every: Duration,
    mut done: impl FnMut(&mut Mesh) -> Option<T>,
) -> io::Result<Option<T>> {
    let mut last_alive = Instant::now();
    loop {
        if let Some(v) = done(mesh) {
            return Ok(Some(v));
        }
        check_interrupt()?;
        if let Some(e) = watch.seen.lock().unwrap().error.clone() {
            return Err(io::Error::other(format!("route watcher: {e}")));
        }
        if last_alive.elapsed() >= Duration::from_millis(200) {
            mesh.check_alive()?;
            last_alive = Instant::now();
        }
        if t0.elapsed() >= timeout {
            return Ok(None);
        }
        std::thread::sleep(every);
    }
}

fn sleep_checked(d: Duration) -> io::Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupt()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs one speaker on a built mesh, filling `row` as far as it gets.
fn run_one(opts: &Options, mesh: &mut Mesh, row: &mut Row) -> io::Result<()> {
    let n = mesh.nodes.len();
    let expected: Vec<_> = (0..n).map(|i| mesh.expected(i)).collect();
    let nss: Vec<&crate::netns::Netns> = mesh.nodes.iter().map(|m| &m.ns).collect();
    let watch = Watch::start(&nss, expected)?;
    // Let the watcher read the (empty) tables first.
    sleep_checked(Duration::from_millis(300))?;
    let tag = row.imp.to_string();
    let (t0, forks) = mesh.start_all(row.imp, &opts.bin, &tag)?;
    row.spawn = forks;
    let all_at =
        wait_for(mesh, &watch, t0, opts.timeout, Duration::from_millis(5), |_| watch.seen.lock().unwrap().all_at)?;
    let pids = mesh.pids();
    let Some(all_at) = all_at else {
        let s = watch.seen.lock().unwrap();
        row.converge = Timing::Timeout(opts.timeout.as_secs_f64());
        row.note =
            Some(format!("{} of {n} kernels complete at the timeout", s.complete.iter().filter(|c| **c).count()));
        row.cpu = (cpu_of(&pids), cpu_of(&pids));
        return Ok(());
    };
    row.cpu.0 = cpu_of(&pids);
    let (us, sy) =
        pids.iter().filter_map(|(_, p)| stats::cpu_user_sys(*p).ok()).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let faults: u64 = pids.iter().filter_map(|(_, p)| stats::minor_faults(*p).ok()).sum();
    eprintln!(
        "   CPU to converge by ticks: user {us:.2} s, system {sy:.2} s; minor page faults per node {}",
        faults / pids.len().max(1) as u64
    );
    row.mem = pids
        .iter()
        .map(|(_, p)| (stats::status_kib(*p, "VmRSS").unwrap_or(0), stats::status_kib(*p, "VmHWM").unwrap_or(0)))
        .collect();
    row.converge = Timing::Secs((all_at - t0).as_secs_f64());
    {
        let s = watch.seen.lock().unwrap();
        let mut v: Vec<f64> = s.complete_at.iter().flatten().map(|t| (*t - t0).as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        if !v.is_empty() {
            row.first_median = Some((v[0], v[v.len() / 2]));
        }
    }
    eprintln!(
        "   converged {} (forks took {:.3} s before the start); waiting for every session",
        row.converge, row.spawn
    );
    let imp = row.imp;
    let up = wait_for(mesh, &watch, t0, opts.timeout, Duration::from_millis(20), |m| {
        m.nodes.iter().all(|nd| sessions::established(imp, &nd.socket).unwrap_or(0) == n - 1).then(Instant::now)
    })?;
    let Some(up) = up else {
        row.sessions_up = Timing::Timeout(opts.timeout.as_secs_f64());
        row.note = Some("not every session Established at the timeout".into());
        row.cpu.1 = cpu_of(&mesh.pids());
        return Ok(());
    };
    row.sessions_up = Timing::Secs((up - t0).as_secs_f64());
    sleep_checked(opts.settle)?;

    // Restart one node.
    let r = match opts.restart_node {
        Some(k) if (1..=n).contains(&k) => k - 1,
        Some(k) => return Err(io::Error::other(format!("--restart-node {k}: the mesh has nodes 1..={n}"))),
        None => middle_node(mesh),
    };
    row.restarted = r + 1;
    let cpu_killed = mesh.nodes[r].proc.as_ref().map(|p| cpu_secs(p.pid())).unwrap_or(0.0);
    mesh.kill9(r);
    sleep_checked(opts.restart_gap)?;
    watch.reset_counters();
    let t1 = mesh.restart(row.imp, &opts.bin, r, &format!("{tag}-restart"))?;
    let sock = mesh.nodes[r].socket.clone();
    let mut sessions_at = None;
    let done = wait_for(mesh, &watch, t1, opts.timeout, Duration::from_millis(10), |_| {
        if sessions_at.is_none() && sessions::established(imp, &sock).unwrap_or(0) == n - 1 {
            sessions_at = Some(Instant::now());
        }
        let all = watch.seen.lock().unwrap().all_at;
        match (sessions_at, all) {
            (Some(s), Some(a)) => Some(s.max(a).max(t1)),
            _ => None,
        }
    })?;
    let Some(mut end) = done else {
        row.restart = Timing::Timeout(opts.timeout.as_secs_f64());
        row.note = Some(format!(
            "restart of node-{}: sessions {}, kernels {}",
            r + 1,
            if sessions_at.is_some() { "up" } else { "not all up" },
            if watch.seen.lock().unwrap().all_at.is_some() { "complete" } else { "incomplete" }
        ));
        row.cpu.1 = cpu_of(&mesh.pids()) + cpu_killed;
        return Ok(());
    };
    // Late dips (stale-route sweeps after End-of-RIB) count: watch a while longer.
    let until = Instant::now() + opts.settle;
    while Instant::now() < until {
        check_interrupt()?;
        std::thread::sleep(Duration::from_millis(10));
        if let Some(a) = watch.seen.lock().unwrap().all_at {
            end = end.max(a);
        }
    }
    row.restart_sessions = sessions_at.map(|s| (s - t1).as_secs_f64());
    {
        let s = watch.seen.lock().unwrap();
        if s.all_at.is_none() {
            row.note = Some(format!("restart of node-{}: a kernel table was incomplete after the settle time", r + 1));
            row.restart = Timing::Timeout((Instant::now() - t1).as_secs_f64());
        } else {
            row.restart = Timing::Secs((end - t1).as_secs_f64());
        }
        row.restart_churn = (s.changes, s.deletions, s.dipped.len());
    }
    row.cpu.1 = cpu_of(&mesh.pids()) + cpu_killed;
    Ok(())
}

/// Runs every size with every speaker; progress on stderr; rows per size.
pub fn run(opts: &Options) -> io::Result<Vec<(usize, Vec<Row>)>> {
    let _ = crate::netns::cleanup_stale();
    let tmp;
    let dir = match &opts.keep {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("mesh-bench-").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut all = Vec::new();
    for &n in &opts.sizes {
        check_interrupt()?;
        eprintln!("== {n} nodes: building the mesh");
        let t = Instant::now();
        let sub = dir.join(format!("n{n}"));
        std::fs::create_dir_all(&sub)?;
        let mut mesh = Mesh::build(n, &sub)?;
        eprintln!("   built in {:.1} s", t.elapsed().as_secs_f64());
        let mut rows = Vec::new();
        for (k, &imp) in opts.impls.iter().enumerate() {
            check_interrupt()?;
            if k > 0 {
                mesh.flush_routes()?;
            }
            let mut row = Row::new(imp, version(imp));
            eprintln!("-- {imp} ({})", row.version);
            // The kernel's work after building (or tearing down) a mesh of namespaces
            // lands on whichever speaker starts next: start each on an idle machine.
            let waited = wait_quiet(Duration::from_secs(15))?;
            eprintln!("   machine idle after {waited:.1} s");
            if let Err(e) = run_one(opts, &mut mesh, &mut row) {
                if e.kind() == io::ErrorKind::Interrupted {
                    return Err(e);
                }
                row.note = Some(format!("error: {e}"));
            }
            mesh.stop_all();
            eprintln!(
                "   converge {} | sessions up {} | restart node-{} {} (sessions {}) | churn {:?} | RSS {} | HWM {} | CPU {:.2} / {:.2}{}",
                row.converge,
                row.sessions_up,
                row.restarted,
                row.restart,
                row.restart_sessions.map(|s| format!("{s:.3}")).unwrap_or_else(|| "–".into()),
                row.restart_churn,
                fmt_mem(row.mem_stat(true)),
                fmt_mem(row.mem_stat(false)),
                row.cpu.0,
                row.cpu.1,
                row.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            );
            rows.push(row);
        }
        all.push((n, rows));
    }
    Ok(all)
}

/// Busy and total jiffies of all CPUs (`/proc/stat`).
fn cpu_jiffies() -> io::Result<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat")?;
    let line = s.lines().next().ok_or_else(|| io::Error::other("empty /proc/stat"))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Waits until the CPUs were at least 90 % idle over a quarter of a second (at most
/// `max`); returns the seconds waited.
fn wait_quiet(max: Duration) -> io::Result<f64> {
    let t = Instant::now();
    loop {
        let (b0, t0) = cpu_jiffies()?;
        sleep_checked(Duration::from_millis(250))?;
        let (b1, t1) = cpu_jiffies()?;
        let busy = (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
        if busy < 0.10 || t.elapsed() >= max {
            return Ok(t.elapsed().as_secs_f64());
        }
    }
}

fn fmt_mem(m: Option<(f64, u64)>) -> String {
    m.map(|(mean, max)| format!("{:.1} / {:.1} MiB", mean / 1024.0, max as f64 / 1024.0)).unwrap_or_else(|| "–".into())
}

fn ratio(theirs: Timing, ours: Timing) -> String {
    match (theirs, ours) {
        (Timing::Secs(t), Timing::Secs(o)) if o > 0.0 => format!("{:.2}x", t / o),
        (Timing::Timeout(t), Timing::Secs(o)) if o > 0.0 => format!("> {:.0}x", t / o),
        _ => "–".into(),
    }
}

/// The results as Markdown: per size a table, ratios (BIRD / ours) and the targets.
pub fn report(results: &[(usize, Vec<Row>)]) -> String {
    let mut s = String::new();
    for (n, rows) in results {
        let _ = writeln!(s, "### {n} nodes ({} sessions, {} routes per kernel)\n", n * (n - 1) / 2, n);
        s.push_str(
            "| speaker | converge s | first / median node s | all sessions up s (polled) | restart: re-converge s | of which sessions s | restart churn: replaced / deleted / nodes dipped | VmRSS mean / max | VmHWM mean / max | CPU s to converge | CPU s whole run |\n",
        );
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {:.2} | {:.2} |",
                r.imp,
                r.converge,
                r.first_median.map(|(a, b)| format!("{a:.3} / {b:.3}")).unwrap_or_else(|| "–".into()),
                r.sessions_up,
                r.restart,
                r.restart_sessions.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into()),
                r.restart_churn.0,
                r.restart_churn.1,
                r.restart_churn.2,
                fmt_mem(r.mem_stat(true)),
                fmt_mem(r.mem_stat(false)),
                r.cpu.0,
                r.cpu.1
            );
        }
        let notes: Vec<String> =
            rows.iter().filter_map(|r| r.note.as_ref().map(|x| format!("- {}: {x}", r.imp))).collect();
        if !notes.is_empty() {
            let _ = writeln!(s, "\n{}", notes.join("\n"));
        }
        if let Some(r) = rows.first() {
            let _ = writeln!(s, "\nRestarted node: node-{} (SIGKILL, then started again).", r.restarted);
        }
        let (Some(o), Some(b)) = (rows.iter().find(|r| r.imp == Impl::Ours), rows.iter().find(|r| r.imp == Impl::Bird))
        else {
            s.push('\n');
            continue;
        };
        let mr = |r: &Row, rss: bool, max: bool| r.mem_stat(rss).map(|(mean, mx)| if max { mx as f64 } else { mean });
        let mratio = |rss: bool, max: bool| match (mr(b, rss, max), mr(o, rss, max)) {
            (Some(t), Some(u)) if u > 0.0 => format!("{:.2}x", t / u),
            _ => "–".into(),
        };
        let cpu = if o.cpu.0 > 0.0 { format!("{:.2}x", b.cpu.0 / o.cpu.0) } else { "–".into() };
        s.push_str("\nRatios BIRD / ours (> 1: ours is faster or smaller):\n\n");
        s.push_str("| converge | restart re-converge | VmRSS mean | VmHWM max | CPU to converge |\n|---:|---:|---:|---:|---:|\n");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {cpu} |",
            ratio(b.converge, o.converge),
            ratio(b.restart, o.restart),
            mratio(true, false),
            mratio(false, true)
        );
        match (b.converge, o.converge) {
            (Timing::Secs(t), Timing::Secs(u)) => {
                let x = t / u;
                let _ = writeln!(
                    s,
                    "\n- convergence target (>= 5x faster than BIRD's {t:.3} s): ours {u:.3} s = {x:.2}x: {}",
                    if x >= 5.0 {
                        "**met**".to_string()
                    } else {
                        format!("**not met** (needs {:.3} s or less)", t / 5.0)
                    }
                );
            }
            (Timing::Timeout(t), Timing::Secs(u)) => {
                let _ =
                    writeln!(s, "\n- convergence target: BIRD did not converge in {t:.0} s, ours {u:.3} s: **met**");
            }
            _ => s.push_str("\n- convergence target: ours did not converge\n"),
        }
        if let (Some((om, ox)), Some((bm, bx))) = (o.mem_stat(false), b.mem_stat(false)) {
            let ok = om <= bm && ox <= bx;
            let _ = writeln!(
                s,
                "- RSS target (per node no higher than BIRD's; peak VmHWM, mean and max over nodes): ours {:.1} / {:.1} MiB, BIRD {:.1} / {:.1} MiB: {}",
                om / 1024.0,
                ox as f64 / 1024.0,
                bm / 1024.0,
                bx as f64 / 1024.0,
                if ok { "**met**" } else { "**not met**" }
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "BIRD configuration: {BIRD_TIMERS}.");
    s
}
