//! Route-reflector convergence benchmark (`rr-bench`, issue 5).
//!
//! For each shape `N x M` and each reflector (ours, BIRD 2, FRR bgpd, GoBGP), in two
//! namespaces (`rr` for the reflector, `load` for the load generator, see [`topo`]):
//! N injector sessions and one monitor session connect at once as route-reflector
//! clients ([`load`]); then
//!
//! 1. **cold** round: right after every session is Established, all injectors send
//!    their pre-encoded UPDATEs; convergence = first UPDATE sent until the monitor holds
//!    all N*M prefixes; then everything is withdrawn until the monitor holds none;
//! 2. **settled** round: the same again once `settle` seconds have passed since the
//!    last session came up (FRR's start-up coalesce timer is 1 s + 50 ms per peer, up
//!    to 10 s).
//!
//! The reflector's CPU (utime+stime from `/proc/PID/stat`) is taken before the clients
//! connect and after the last withdrawal, its peak RSS is `VmHWM`, and the load
//! generator's own CPU comes from `getrusage`.

pub mod daemons;
pub mod load;
pub mod stats;
pub mod topo;

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use daemons::Kind;
use load::LoadGen;
use topo::Topo;

/// Set by SIGINT/SIGTERM; every wait loop checks it and unwinds (guards clean up).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Prints a benchmark's Markdown report and, with `out`, writes it there too.
pub fn emit_report(report: &str, out: Option<&std::path::Path>) -> std::process::ExitCode {
    println!("{report}");
    if let Some(p) = out {
        if let Err(e) = std::fs::write(p, report) {
            eprintln!("error: cannot write {}: {e}", p.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Makes SIGINT and SIGTERM set [`INTERRUPTED`] instead of killing the benchmark, so its
/// guards remove the namespaces and processes it made.
pub fn stop_on_signals() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// A benchmark shape: `injectors x prefixes per injector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Injector sessions.
    pub injectors: usize,
    /// Prefixes per injector.
    pub prefixes: usize,
}

impl Shape {
    /// Parses `10x10000` (also `10x10k`).
    pub fn parse(s: &str) -> Option<Shape> {
        let (a, b) = s.trim().split_once(['x', 'X'])?;
        let num = |v: &str| -> Option<usize> {
            let v = v.trim().replace(['_', ','], "");
            match v.strip_suffix(['k', 'K']) {
                Some(k) => k.parse::<usize>().ok().map(|n| n * 1000),
                None => v.parse().ok(),
            }
        };
        let sh = Shape { injectors: num(a)?, prefixes: num(b)? };
        (sh.injectors >= 1 && sh.prefixes >= 1).then_some(sh)
    }

    /// Total prefixes.
    pub fn total(&self) -> u64 {
        (self.injectors * self.prefixes) as u64
    }

    /// Prefix length: /26 (Calico blocks), or /28 when N*M /26s do not fit in 10/8.
    pub fn prefix_len(&self) -> u8 {
        if self.total() <= 1 << 18 {
            26
        } else {
            28
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} x {}", self.injectors, self.prefixes)
    }
}

/// Benchmark options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shapes to run.
    pub shapes: Vec<Shape>,
    /// Reflectors to run.
    pub kinds: Vec<Kind>,
    /// Our reflector's binary.
    pub ours: PathBuf,
    /// Per-phase timeout.
    pub timeout: Duration,
    /// Settle time after the last session came up, before the settled round.
    pub settle: Duration,
    /// Load-generator threads.
    pub threads: usize,
    /// Record our reflector with `perf record -g` into this file (per run: `.SHAPE` appended).
    pub perf: Option<PathBuf>,
}

/// A timed phase: seconds, or timed out after the limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// Completed in this many seconds.
    Secs(f64),
    /// Did not complete within this many seconds.
    Timeout(f64),
    /// Not run (an earlier phase failed or timed out).
    Skipped,
}

impl Timing {
    /// The seconds, when completed.
    pub fn secs(&self) -> Option<f64> {
        match self {
            Timing::Secs(s) => Some(*s),
            _ => None,
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timing::Secs(s) => write!(f, "{s:.3}"),
            Timing::Timeout(t) => write!(f, "> {t:.0}"),
            Timing::Skipped => f.write_str("–"),
        }
    }
}

/// One reflector's figures for one shape.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which reflector.
    pub kind: Kind,
    /// Its version line.
    pub version: String,
    /// All sessions Established (from the connects).
    pub established: Timing,
    /// Cold convergence and withdrawal.
    pub cold: (Timing, Timing),
    /// Settled convergence and withdrawal.
    pub settled: (Timing, Timing),
    /// Peak RSS, KiB.
    pub rss_kib: Option<u64>,
    /// Reflector CPU seconds over the whole run, and over the settled round.
    pub cpu: Option<(f64, f64)>,
    /// Load generator CPU seconds over the whole run.
    pub loadgen_cpu: f64,
    /// UPDATE messages the monitor received (cold + settled).
    pub monitor_updates: u64,
    /// Connections the load generator dialled again (no OPEN within 5 s, or reset).
    pub redials: usize,
    /// Why the run stopped early, or why the reflector was not run.
    pub note: Option<String>,
}

impl Row {
    fn empty(kind: Kind, version: String) -> Row {
        Row {
            kind,
            version,
            established: Timing::Skipped,
            cold: (Timing::Skipped, Timing::Skipped),
            settled: (Timing::Skipped, Timing::Skipped),
            rss_kib: None,
            cpu: None,
            loadgen_cpu: 0.0,
            monitor_updates: 0,
            redials: 0,
            note: None,
        }
    }
}

/// Errors with `Interrupted` once SIGINT/SIGTERM arrived (see [`stop_on_signals`]).
pub fn check_interrupt() -> io::Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    Ok(())
}

/// Waits until `done` returns an instant (the phase's end) or `timeout` passes; checks
/// the daemon, the sessions and Ctrl-C every 5 ms.
fn wait_phase(
    t0: Instant,
    timeout: Duration,
    daemon: &mut daemons::Running,
    lg: &LoadGen,
    mut done: impl FnMut() -> Option<Instant>,
) -> io::Result<Timing> {
    loop {
        if let Some(t) = done() {
            return Ok(Timing::Secs(t.saturating_duration_since(t0).as_secs_f64()));
        }
        check_interrupt()?;
        if let Some(e) = lg.shared.first_error() {
            return Err(io::Error::other(e));
        }
        if t0.elapsed() >= timeout {
            return Ok(Timing::Timeout(timeout.as_secs_f64()));
        }
        daemon.check_alive()?;
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs one reflector on one shape, filling `row` as far as it gets.
fn run_one(opts: &Options, topo: &Topo, shape: Shape, injectors: &[load::Injector], row: &mut Row) -> io::Result<()> {
    let n = shape.injectors;
    let mut daemon = daemons::start(row.kind, &topo.rr, &opts.ours, n + 1)?;
    let pid = daemon.pid();
    let mut perf = match (&opts.perf, row.kind) {
        (Some(base), Kind::Ours) => {
            let out = format!("{}.{}x{}", base.display(), shape.injectors, shape.prefixes);
            let child = std::process::Command::new("perf")
                .args(["record", "-g", "-F", "999", "-o", &out, "-p", &pid.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            std::thread::sleep(Duration::from_millis(500));
            eprintln!("   perf record -> {out}");
            Some(child)
        }
        _ => None,
    };
    let result = (|| -> io::Result<()> {
        let mut lg = LoadGen::new(topo.load.name(), opts.threads)?;
        let cpu0 = stats::cpu_secs(pid)?;
        let lg0 = stats::self_cpu();
        let redials0 = load::REDIALS.load(Ordering::Relaxed);
        let remote = SocketAddrV4::new(topo::RR_ADDR, 179);
        let t_conn = Instant::now();
        lg.connect(injectors, topo.clients[n], remote, t_conn + opts.timeout);
        let sessions = lg.sessions();
        let shared = lg.shared.clone();
        let mut up_at = None;
        row.established = wait_phase(t_conn, opts.timeout, &mut daemon, &lg, || {
            if shared.established.load(Ordering::SeqCst) >= sessions {
                up_at = Some(*up_at.get_or_insert_with(Instant::now));
            }
            up_at
        })?;
        let finish = |row: &mut Row, lg: &LoadGen| {
            row.loadgen_cpu = stats::self_cpu() - lg0;
            row.monitor_updates = lg.shared.monitor_updates.load(Ordering::Relaxed);
            row.redials = load::REDIALS.load(Ordering::Relaxed) - redials0;
        };
        let Some(up) = up_at else {
            finish(row, &lg);
            row.note =
                Some(format!("{} of {sessions} sessions Established", shared.established.load(Ordering::SeqCst)));
            return Ok(());
        };
        let target = shape.total();
        let round = |r: u32, row_slot: &mut (Timing, Timing), daemon: &mut daemons::Running| -> io::Result<bool> {
            let t0 = lg.announce(r, target);
            let shared = lg.shared.clone();
            row_slot.0 = wait_phase(t0, opts.timeout, daemon, &lg, || *shared.full_at.lock().unwrap())?;
            if row_slot.0.secs().is_none() {
                return Ok(false);
            }
            let t0 = lg.withdraw(r);
            row_slot.1 = wait_phase(t0, opts.timeout, daemon, &lg, || *shared.empty_at.lock().unwrap())?;
            Ok(row_slot.1.secs().is_some())
        };
        let mut cold = (Timing::Skipped, Timing::Skipped);
        let ok = round(1, &mut cold, &mut daemon)?;
        row.cold = cold;
        if ok {
            while up.elapsed() < opts.settle {
                check_interrupt()?;
                std::thread::sleep(Duration::from_millis(20));
            }
            let cpu_a = stats::cpu_secs(pid)?;
            let mut settled = (Timing::Skipped, Timing::Skipped);
            round(2, &mut settled, &mut daemon)?;
            row.settled = settled;
            let cpu_b = stats::cpu_secs(pid)?;
            row.cpu = Some((cpu_b - cpu0, cpu_b - cpu_a));
        } else {
            row.cpu = Some((stats::cpu_secs(pid)? - cpu0, f64::NAN));
        }
        finish(row, &lg);
        lg.quiesce();
        if !ok {
            row.note = Some(format!(
                "monitor held {} of {target} prefixes at the timeout",
                shared.count.load(Ordering::SeqCst)
            ));
        }
        Ok(())
    })();
    row.rss_kib = stats::status_kib(pid, "VmHWM").ok();
    if row.cpu.is_none() {
        row.cpu = stats::cpu_secs(pid).ok().map(|c| (c, f64::NAN));
    }
    if let Err(e) = &result {
        let log = std::fs::read_to_string(daemon.dir().join("daemon.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        eprintln!(
            "  {}: {e}; daemon log tail:\n    {}",
            row.kind,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
        );
    }
    if let Some(mut p) = perf.take() {
        // SAFETY: SIGINT to our own unreaped child: perf writes its file and exits.
        unsafe { libc::kill(p.id() as i32, libc::SIGINT) };
        let _ = p.wait();
    }
    daemon.stop();
    result
}

/// Runs every shape against every reflector; prints progress on stderr and returns the
/// rows per shape.
pub fn run(opts: &Options) -> io::Result<Vec<(Shape, Vec<Row>)>> {
    let _ = crate::netns::cleanup_stale();
    let mut all = Vec::new();
    for &shape in &opts.shapes {
        check_interrupt()?;
        let len = shape.prefix_len();
        eprintln!("== shape {shape} (/{len} prefixes, {} in all)", shape.total());
        let topo = Topo::new(shape.injectors + 1)?;
        let injectors = load::build_injectors(&topo.clients[..shape.injectors], shape.prefixes, len)?;
        let mut rows = Vec::new();
        for &kind in &opts.kinds {
            check_interrupt()?;
            let mut row = Row::empty(kind, daemons::version(kind, &opts.ours));
            if let Some(why) = daemons::missing(kind, &opts.ours) {
                row.note = Some(why);
                rows.push(row);
                continue;
            }
            eprintln!("-- {kind} ({})", row.version);
            if let Err(e) = run_one(opts, &topo, shape, &injectors, &mut row) {
                if e.kind() == io::ErrorKind::Interrupted {
                    return Err(e);
                }
                row.note = Some(format!("error: {e}"));
            }
            eprintln!(
                "   up {} | cold {} / {} | settled {} / {} | RSS {} | CPU {} | load-gen CPU {:.2}{}",
                row.established,
                row.cold.0,
                row.cold.1,
                row.settled.0,
                row.settled.1,
                fmt_rss(row.rss_kib),
                row.cpu.map(|c| format!("{:.2}", c.0)).unwrap_or_default(),
                row.loadgen_cpu,
                row.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            );
            rows.push(row);
        }
        all.push((shape, rows));
    }
    Ok(all)
}

fn fmt_rss(k: Option<u64>) -> String {
    k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "–".into())
}

fn best(t: &(Timing, Timing)) -> Option<f64> {
    t.0.secs()
}

/// The results as Markdown: one table per shape, then ratios and targets.
pub fn report(results: &[(Shape, Vec<Row>)], timeout: Duration) -> String {
    let mut s = String::new();
    for (shape, rows) in results {
        let _ = writeln!(s, "### {shape} ({} prefixes, /{})\n", shape.total(), shape.prefix_len());
        s.push_str(
            "| reflector | sessions up s | conv cold s | withdraw cold s | conv settled s | withdraw settled s | peak RSS | CPU s (all) | CPU s (settled round) | load-gen CPU s | monitor UPDATEs | redials |\n",
        );
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in rows {
            let (ca, cs) = match r.cpu {
                Some((a, b)) => (format!("{a:.2}"), if b.is_nan() { "–".into() } else { format!("{b:.2}") }),
                None => ("–".into(), "–".into()),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {ca} | {cs} | {:.2} | {} | {} |",
                r.kind,
                r.established,
                r.cold.0,
                r.cold.1,
                r.settled.0,
                r.settled.1,
                fmt_rss(r.rss_kib),
                r.loadgen_cpu,
                r.monitor_updates,
                r.redials
            );
        }
        let notes: Vec<String> =
            rows.iter().filter_map(|r| r.note.as_ref().map(|n| format!("- {}: {n}", r.kind))).collect();
        if !notes.is_empty() {
            let _ = writeln!(s, "\n{}", notes.join("\n"));
        }
        let Some(ours) = rows.iter().find(|r| r.kind == Kind::Ours) else {
            s.push('\n');
            continue;
        };
        s.push_str("\nRatios (theirs / ours: > 1 means we are faster or smaller):\n\n");
        s.push_str("| vs | conv cold | conv settled | withdraw settled | peak RSS | CPU (all) |\n|---|---:|---:|---:|---:|---:|\n");
        let ratio = |theirs: Timing, our: Timing| -> String {
            match (theirs, our) {
                (Timing::Secs(t), Timing::Secs(o)) if o > 0.0 => format!("{:.2}x", t / o),
                (Timing::Timeout(t), Timing::Secs(o)) if o > 0.0 => format!("> {:.0}x", t / o),
                _ => "–".into(),
            }
        };
        for r in rows.iter().filter(|r| r.kind != Kind::Ours) {
            let rss = match (r.rss_kib, ours.rss_kib) {
                (Some(t), Some(o)) if o > 0 && r.established.secs().is_some() => format!("{:.2}x", t as f64 / o as f64),
                _ => "–".into(),
            };
            let cpu = match (r.cpu, ours.cpu) {
                (Some(t), Some(o)) if o.0 > 0.0 && r.established.secs().is_some() => format!("{:.2}x", t.0 / o.0),
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {rss} | {cpu} |",
                r.kind,
                ratio(r.cold.0, ours.cold.0),
                ratio(r.settled.0, ours.settled.0),
                ratio(r.settled.1, ours.settled.1)
            );
        }
        // Targets: settled convergence >= 2x faster than the fastest other; RSS <= BIRD.
        let fastest = rows
            .iter()
            .filter(|r| r.kind != Kind::Ours)
            .filter_map(|r| best(&r.settled).map(|t| (t, r.kind)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let mut t = String::new();
        match (best(&ours.settled), fastest) {
            (Some(o), Some((f, k))) => {
                let x = f / o;
                let _ = write!(
                    t,
                    "- convergence target (>= 2x faster than the fastest other, {k} {f:.3} s): ours {o:.3} s = {x:.2}x: {}",
                    if x >= 2.0 { "**met**".to_string() } else { format!("**not met** (needs {:.3} s or less, {:.0}% faster)", f / 2.0, (o / (f / 2.0) - 1.0) * 100.0) }
                );
            }
            (None, _) => t.push_str("- convergence target: ours did not converge"),
            (Some(_), None) => {
                let _ = write!(
                    t,
                    "- convergence target: no other reflector converged within {:.0} s",
                    timeout.as_secs_f64()
                );
            }
        }
        s.push('\n');
        s.push_str(&t);
        s.push('\n');
        if let Some(b) = rows.iter().find(|r| r.kind == Kind::Bird && r.established.secs().is_some()) {
            if let (Some(o), Some(bk)) = (ours.rss_kib, b.rss_kib) {
                let _ = writeln!(
                    s,
                    "- RSS target (no higher than BIRD's {}): ours {} = {:.2}x BIRD: {}",
                    fmt_rss(Some(bk)),
                    fmt_rss(Some(o)),
                    o as f64 / bk as f64,
                    if o <= bk { "**met**" } else { "**not met**" }
                );
            }
        }
        s.push('\n');
    }
    s
}
