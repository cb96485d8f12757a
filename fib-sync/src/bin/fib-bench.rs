//! fib-sync benchmark: install and delete N IPv4 routes in a fresh network namespace
//! with fib-sync, with `ip -batch` and with BIRD 2's kernel protocol, and measure the
//! idle cost with the routes installed. Needs root; run it in release mode:
//!
//! ```text
//! cargo run --release -p fib-sync --bin fib-bench -- [--routes 100000,1000000] [--idle-secs 60] [--no-bird]
//! ```
//!
//! Routes are `10.a.b.c/32` blackholes inside namespaces this program creates (no packet
//! is sent anywhere). Every namespace and process it starts is removed on exit, also
//! after a panic.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fib_sync::{Config, DesiredRoute, FibSync, RouteKind};
use ipnet::IpNet;

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("fsb-{}-{tag}-{k}", std::process::id());
        sh("ip", &["netns", "add", &name]);
        sh("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.0))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A child killed (by pid) and reaped on drop.
struct Proc(Option<Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().expect("spawn");
    assert!(o.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[derive(Clone, Copy, Default, Debug)]
struct Cpu {
    user: f64,
    sys: f64,
}

fn rusage(who: libc::c_int) -> Cpu {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Cpu { user: t(ru.ru_utime), sys: t(ru.ru_stime) }
}

fn diff(a: Cpu, b: Cpu) -> Cpu {
    Cpu { user: b.user - a.user, sys: b.sys - a.sys }
}

fn vm_hwm_kib(pid: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime+stime of a process, from /proc/PID/stat.
fn proc_cpu(pid: u32) -> Cpu {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let g = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / hz;
    Cpu { user: g(11), sys: g(12) }
}

/// Main-table prefix count of the namespace `pid` lives in (cheap; no route dump).
fn fib_prefixes(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/net/fib_triestat")).unwrap_or_default();
    s.split("Main:")
        .nth(1)
        .and_then(|m| m.lines().find_map(|l| l.trim().strip_prefix("Prefixes:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8)
}

/// Run `ip -n NS -batch FILE` and return (wall, cpu) of the child (wait4 rusage).
fn ip_batch(ns: &Netns, file: &str) -> (f64, Cpu) {
    let t = Instant::now();
    let child = Command::new("ip").args(["-n", &ns.0, "-batch", file]).spawn().expect("ip");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child; fills `ru`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t.elapsed().as_secs_f64();
    std::mem::forget(child); // reaped by wait4
    assert!(status == 0, "ip -batch failed");
    let tv = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (wall, Cpu { user: tv(ru.ru_utime), sys: tv(ru.ru_stime) })
}

struct Row {
    what: String,
    wall: f64,
    cpu: Cpu,
    rss_mib: f64,
    n: usize,
}

/// One line per run kind: the fastest repetition (its CPU and RSS) and the median wall.
fn print_rows(rows: &[Row], floor: f64) {
    println!(
        "| {:<40} | {:>9} | {:>9} | {:>9} | {:>7} | {:>7} | {:>10} | {:>10} |",
        "run", "best s", "median s", "routes/s", "user s", "sys s", "peak RSS", "best/floor"
    );
    println!("|{}|", "-".repeat(126));
    let mut kinds: Vec<&str> = Vec::new();
    for r in rows {
        if !kinds.contains(&r.what.as_str()) {
            kinds.push(&r.what);
        }
    }
    for k in kinds {
        let mut v: Vec<&Row> = rows.iter().filter(|r| r.what == k).collect();
        v.sort_by(|a, b| a.wall.total_cmp(&b.wall));
        let (best, median) = (v[0], v[v.len() / 2].wall);
        println!(
            "| {:<40} | {:>9.3} | {:>9.3} | {:>9.0} | {:>7.3} | {:>7.3} | {:>6.1} MiB | {:>10.2} |",
            format!("{k} (x{})", v.len()),
            best.wall,
            median,
            best.n as f64 / best.wall,
            best.cpu.user,
            best.cpu.sys,
            best.rss_mib,
            best.wall / floor
        );
    }
}

/// Total time this process's threads spent runnable but waiting for a CPU, from
/// /proc/self/task/*/schedstat (second field, ns): how much of a wall time is
/// contention from other work on the machine rather than our own.
fn runqueue_wait() -> f64 {
    let mut total = 0u64;
    if let Ok(dir) = fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let s = fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total as f64 / 1e9
}

fn bench_ours(n: usize, idle: u64, rows: &mut Vec<Row>) -> Option<Cpu> {
    let ns = Netns::new(&format!("ours-{n}"));
    let (fib, mut events) = FibSync::start(Config { netns: Some(ns.path()), ..Config::default() }).expect("start");
    fib.flush_blocking().unwrap();
    fib.converged();
    while events.try_recv().is_ok() {}
    let routes: Vec<DesiredRoute> =
        (0..n).map(|i| DesiredRoute::new(IpNet::new(IpAddr::V4(addr(i)), 32).unwrap(), RouteKind::Blackhole)).collect();
    let (c0, t0, q0) = (rusage(libc::RUSAGE_SELF), Instant::now(), runqueue_wait());
    fib.replace_all(routes);
    let st = fib.flush_blocking().unwrap();
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), diff(c0, rusage(libc::RUSAGE_SELF)));
    let waited = runqueue_wait() - q0;
    assert_eq!((st.installed, st.failed), (n, 0), "{st:?}");
    // Our own notifications are filtered in the kernel, so the event socket must not
    // have overflowed (an overflow would show as a Resynced event and a full re-dump).
    let mut resyncs = 0;
    while let Ok(e) = events.try_recv() {
        if e == fib_sync::FibEvent::Resynced {
            resyncs += 1;
        }
    }
    println!(
        "fib-sync add {n}: wall {wall:.3} s, cpu {:.3} s, waiting for a CPU {waited:.3} s, event-socket overflows (re-dumps): {resyncs}",
        cpu.user + cpu.sys
    );
    let me = std::process::id();
    // The namespace's count, read through a child in it, confirms the kernel agrees.
    let count = sh("ip", &["-n", &ns.0, "route", "show", "proto", "bird"]).lines().count();
    assert_eq!(count, n, "kernel has {count} proto bird routes, wanted {n}");
    rows.push(Row {
        what: format!("fib-sync add {n}"),
        wall,
        cpu,
        rss_mib: vm_hwm_kib(&me.to_string()) as f64 / 1024.0,
        n,
    });
    let mut idle_cpu = None;
    if idle > 0 {
        let c0 = rusage(libc::RUSAGE_SELF);
        std::thread::sleep(Duration::from_secs(idle));
        idle_cpu = Some(diff(c0, rusage(libc::RUSAGE_SELF)));
    }
    let (c0, t0) = (rusage(libc::RUSAGE_SELF), Instant::now());
    fib.replace_all(Vec::new());
    fib.flush_blocking().unwrap();
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), diff(c0, rusage(libc::RUSAGE_SELF)));
    rows.push(Row {
        what: format!("fib-sync delete {n}"),
        wall,
        cpu,
        rss_mib: vm_hwm_kib(&me.to_string()) as f64 / 1024.0,
        n,
    });
    drop(fib);
    idle_cpu
}

/// Delete every `proto bird` route of `ns` (with fib-sync itself: stale routes are
/// removed on `converged()`), so that deleting the namespace does not leave the kernel
/// freeing a million routes in a worker while the next measurement runs.
fn purge(ns: &Netns) {
    let (fib, _ev) = FibSync::start(Config { netns: Some(ns.path()), ..Config::default() }).expect("start");
    fib.converged();
    let st = fib.flush_blocking().unwrap();
    assert_eq!(st.stale, 0, "{st:?}");
}

/// The high-level rtnetlink handle, with 1024 requests in flight (`buffer_unordered`),
/// each with its own ACK: the baseline the batched driver is compared with.
fn bench_rtnetlink(n: usize, rows: &mut Vec<Row>) {
    use futures::{StreamExt, TryStreamExt};
    use rtnetlink::packet_route::route::{RouteProtocol, RouteType};
    use rtnetlink::RouteMessageBuilder;

    let ns = Netns::new(&format!("rtnl-{n}"));
    let path = ns.path();
    let (wall, cpu) = std::thread::spawn(move || {
        let f = fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a descriptor we own; affects only this thread.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (conn, handle, _) = rtnetlink::new_connection().unwrap();
            tokio::spawn(conn);
            let (c0, t0) = (rusage(libc::RUSAGE_SELF), Instant::now());
            futures::stream::iter(0..n)
                .map(|i| {
                    let m = RouteMessageBuilder::<Ipv4Addr>::new()
                        .destination_prefix(addr(i), 32)
                        .kind(RouteType::BlackHole)
                        .protocol(RouteProtocol::Bird)
                        .build();
                    handle.route().add(m).replace().execute()
                })
                .buffer_unordered(1024)
                .try_collect::<Vec<()>>()
                .await
                .unwrap();
            (t0.elapsed().as_secs_f64(), diff(c0, rusage(libc::RUSAGE_SELF)))
        })
    })
    .join()
    .unwrap();
    rows.push(Row { what: format!("rtnetlink handle add {n}"), wall, cpu, rss_mib: 0.0, n });
    purge(&ns);
}

fn bench_ip(n: usize, dir: &std::path::Path, rows: &mut Vec<Row>) -> f64 {
    let ns = Netns::new(&format!("ip-{n}"));
    let add = dir.join(format!("add-{n}.txt"));
    let del = dir.join(format!("del-{n}.txt"));
    let mut a = String::with_capacity(n * 48);
    let mut d = String::with_capacity(n * 48);
    for i in 0..n {
        a.push_str(&format!("route add blackhole {}/32 proto bird\n", addr(i)));
        d.push_str(&format!("route del blackhole {}/32 proto bird\n", addr(i)));
    }
    fs::write(&add, a).unwrap();
    fs::write(&del, d).unwrap();
    let (wall, cpu) = ip_batch(&ns, add.to_str().unwrap());
    rows.push(Row { what: format!("ip -batch add {n}"), wall, cpu, rss_mib: 0.0, n });
    let floor = cpu.sys;
    let (wall, cpu) = ip_batch(&ns, del.to_str().unwrap());
    rows.push(Row { what: format!("ip -batch delete {n}"), wall, cpu, rss_mib: 0.0, n });
    floor
}

fn bench_bird(n: usize, idle: u64, dir: &std::path::Path, rows: &mut Vec<Row>) -> Option<Cpu> {
    let ns = Netns::new(&format!("bird-{n}"));
    let conf = dir.join(format!("bird-{n}.conf"));
    let mut c = String::with_capacity(n * 40 + 512);
    c.push_str("router id 198.18.0.1;\nprotocol device { scan time 10; }\n");
    c.push_str("protocol kernel k4 { ipv4 { export all; import none; }; scan time 2; }\n");
    c.push_str("protocol static s4 { ipv4;\n");
    for i in 0..n {
        c.push_str(&format!("  route {}/32 blackhole;\n", addr(i)));
    }
    c.push_str("}\n");
    fs::write(&conf, c).unwrap();
    let sock = dir.join(format!("bird-{n}.ctl"));
    let pidf = dir.join(format!("bird-{n}.pid"));
    let t0 = Instant::now();
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.0, "bird", "-f", "-c"])
        .arg(&conf)
        .arg("-s")
        .arg(&sock)
        .arg("-P")
        .arg(&pidf)
        .stdout(Stdio::null())
        .spawn()
        .expect("bird");
    let pid = child.id(); // `ip netns exec` execs bird in place: same pid
    let mut guard = Proc(Some(child));
    std::thread::sleep(Duration::from_millis(5));
    let base = 3; // lo's local routes seen in the merged main trie of a fresh namespace
    let deadline = Instant::now() + Duration::from_secs(600);
    while fib_prefixes(pid) < (n as u64 + base) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = proc_cpu(pid);
    rows.push(Row {
        what: format!("BIRD 2 kernel export {n} (start incl.)"),
        wall,
        cpu,
        rss_mib: vm_hwm_kib(&pid.to_string()) as f64 / 1024.0,
        n,
    });
    let mut idle_cpu = None;
    if idle > 0 {
        let c0 = proc_cpu(pid);
        std::thread::sleep(Duration::from_secs(idle));
        idle_cpu = Some(diff(c0, proc_cpu(pid)));
    }
    if let Some(c) = &mut guard.0 {
        let _ = c.kill();
        let _ = c.wait();
    }
    guard.0 = None;
    purge(&ns);
    idle_cpu
}

fn main() {
    let mut sizes = vec![100_000usize, 1_000_000];
    let mut idle = 60u64;
    let mut bird = true;
    let mut repeat = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--routes" => {
                sizes = args.next().expect("--routes N,M").split(',').map(|s| s.parse().expect("number")).collect()
            }
            "--idle-secs" => idle = args.next().expect("secs").parse().expect("number"),
            "--no-bird" => bird = false,
            "--repeat" => repeat = args.next().expect("count").parse().expect("number"),
            _ => panic!("usage: fib-bench [--routes N,M] [--idle-secs S] [--repeat K] [--no-bird]"),
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("fib-bench needs root (network namespaces)");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("fib-bench-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let idle_n = sizes[0];
    for &n in &sizes {
        let mut rows = Vec::new();
        let i = if n == idle_n { idle } else { 0 };
        let (mut ours_idle, mut bird_idle, mut floor) = (None, None, f64::MAX);
        // Interleaved repetitions, so that a burst of load from elsewhere hits all kinds.
        for r in 0..repeat.max(1) {
            let i = if r == 0 { i } else { 0 };
            let o = bench_ours(n, i, &mut rows);
            ours_idle = ours_idle.or(o);
            bench_rtnetlink(n, &mut rows);
            floor = floor.min(bench_ip(n, &dir, &mut rows));
            if bird {
                let b = bench_bird(n, i, &dir, &mut rows);
                bird_idle = bird_idle.or(b);
            }
        }
        println!("\n## {n} routes (floor = lowest ip -batch system time {floor:.3} s)\n");
        print_rows(&rows, floor);
        if let Some(o) = ours_idle {
            println!("\nidle {i} s with {n} routes: fib-sync user {:.3} s sys {:.3} s", o.user, o.sys);
        }
        if let Some(b) = bird_idle {
            println!("idle {i} s with {n} routes: BIRD (scan time 2) user {:.3} s sys {:.3} s", b.user, b.sys);
            if let Some(o) = ours_idle {
                let ours = (o.user + o.sys).max(0.001);
                println!("BIRD / fib-sync idle CPU: {:.0}x", (b.user + b.sys) / ours);
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
