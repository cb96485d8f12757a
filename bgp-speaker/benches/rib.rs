//! RIB benchmarks: insert + best path per path, and bytes per path.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-rib cargo bench -p bgp-speaker --bench rib
//! ```
//!
//! Before the criterion groups run, the bytes per path are measured with a counting
//! global allocator and printed: 1M prefixes from 10 peers sharing 100 attribute sets
//! per peer.
//!
//! On a loaded machine the wall-clock figures swing by 2×; `RIB_CPU=N` instead runs
//! each insert case N times, prints the best and median thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`, setup excluded) as paths/s, and skips criterion:
//!
//! ```text
//! RIB_CPU=7 CARGO_TARGET_DIR=/work/target-rib cargo bench -p bgp-speaker --bench rib
//! ```

use bgp_proto::{AsPath, AttrValue, Attribute, Community, Nlri, Origin, Update};
use bgp_speaker::rib::{PeerConfig, PeerId, PeerKind, Rib, RibConfig};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ipnet::Ipv4Net;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const SETS: usize = 100;
const PER_UPDATE: usize = 500;

/// UPDATEs from peer number `p` (0-based) announcing `n` /24s starting at 1.0.0.0,
/// `PER_UPDATE` per message, rotating through `SETS` attribute sets.
fn updates(p: u32, n: usize) -> Vec<Update> {
    let mut out = Vec::with_capacity(n / PER_UPDATE + 1);
    let mut i = 0;
    while i < n {
        let set = (i / PER_UPDATE) % SETS;
        let end = (i + PER_UPDATE).min(n);
        let mut path = vec![65000 + p];
        path.extend((0..(set % 3)).map(|k| 64600 + k as u32));
        path.push(4200000000 + set as u32);
        let nlri = (i..end)
            .map(|j| {
                let a = Ipv4Addr::from(0x0100_0000u32 + ((j as u32) << 8));
                Nlri::new(Ipv4Net::new(a, 24).unwrap())
            })
            .collect();
        out.push(Update {
            withdrawn: Default::default(),
            attributes: bgp_proto::smallvec::smallvec![
                Attribute::new(AttrValue::Origin(Origin::Igp)),
                Attribute::new(AttrValue::AsPath(AsPath::from_sequence(path))),
                Attribute::new(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1 + p as u8))),
                Attribute::new(AttrValue::Med(set as u32 % 7)),
                Attribute::new(AttrValue::Communities(vec![Community::new(65000, set as u16)])),
            ],
            nlri,
        });
        i = end;
    }
    out
}

fn rib_with_peers(n: u32) -> (Rib, Vec<PeerId>) {
    let mut rib = Rib::new(RibConfig::new(64512, Ipv4Addr::new(10, 0, 0, 1)));
    let peers = (0..n)
        .map(|p| {
            let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + p as u8));
            let id =
                rib.add_peer(PeerConfig::new(addr, 65000 + p, Ipv4Addr::new(10, 1, 0, 1 + p as u8), PeerKind::Ebgp));
            rib.peer_up(id, None);
            id
        })
        .collect();
    (rib, peers)
}

fn memory() {
    const N: usize = 1_000_000;
    const PEERS: u32 = 10;
    let (mut rib, peers) = rib_with_peers(PEERS);
    let mut per_peer = Vec::new();
    let base = live();
    for (p, &id) in peers.iter().enumerate() {
        let ups = updates(p as u32, N);
        let before = live();
        for u in &ups {
            rib.apply_update(id, u);
        }
        drop(rib.drain_changes());
        per_peer.push(live() - before);
    }
    let total = live() - base;
    let first = per_peer[0];
    let extra = (total - first) as f64 / ((PEERS as usize - 1) * N) as f64;
    println!(
        "memory: {N} prefixes x {PEERS} peers, {} attribute sets: total {:.1} MB, first peer {:.1} B/path, \
         each extra path {:.1} B, overall {:.1} B/path",
        rib.attr_set_count(),
        total as f64 / 1e6,
        first as f64 / N as f64,
        extra,
        total as f64 / (PEERS as usize * N) as f64
    );
    black_box(rib);
}

fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `RIB_CPU=N`: each insert case N times on thread CPU time (see the module docs).
fn cpu_mode(runs: usize) {
    let ups1 = updates(0, 1_000_000);
    let ups10: Vec<Vec<Update>> = (0..10).map(|p| updates(p, 100_000)).collect();
    type Case<'a> = (&'a str, u32, usize, Box<dyn Fn(&mut Rib, &[PeerId]) + 'a>);
    let cases: Vec<Case> = vec![
        (
            "insert_1M_prefixes_1_peer",
            1,
            1_000_000,
            Box::new(|rib, peers| ups1.iter().for_each(|u| rib.apply_update(peers[0], u))),
        ),
        (
            "insert_100k_prefixes_10_peers",
            10,
            1_000_000,
            Box::new(|rib, peers| {
                for (p, ups) in ups10.iter().enumerate() {
                    ups.iter().for_each(|u| rib.apply_update(peers[p], u));
                }
            }),
        ),
    ];
    for (name, npeers, paths, f) in &cases {
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let (mut rib, peers) = rib_with_peers(*npeers);
                let start = thread_cpu();
                f(&mut rib, &peers);
                let d = thread_cpu() - start;
                black_box(rib);
                d.as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        let rate = |s: f64| *paths as f64 / s / 1e6;
        println!(
            "{name}: best {:.1} ms ({:.2} M paths/s), median {:.1} ms ({:.2} M paths/s), {runs} runs, thread CPU time",
            t[0] * 1e3,
            rate(t[0]),
            t[runs / 2] * 1e3,
            rate(t[runs / 2])
        );
    }
}

fn bench(c: &mut Criterion) {
    memory();
    if let Some(n) = std::env::var("RIB_CPU").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0) {
        cpu_mode(n);
        std::process::exit(0);
    }
    let mut g = c.benchmark_group("rib");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(10));

    const N1: usize = 1_000_000;
    let ups = updates(0, N1);
    g.throughput(Throughput::Elements(N1 as u64));
    g.bench_function("insert_1M_prefixes_1_peer", |b| {
        b.iter_batched(
            || rib_with_peers(1),
            |(mut rib, peers)| {
                for u in &ups {
                    rib.apply_update(peers[0], u);
                }
                rib
            },
            BatchSize::PerIteration,
        )
    });

    g.bench_function("insert_1M_prefixes_1_peer_reserved", |b| {
        b.iter_batched(
            || {
                let (mut rib, peers) = rib_with_peers(1);
                rib.reserve(N1, 0);
                (rib, peers)
            },
            |(mut rib, peers)| {
                for u in &ups {
                    rib.apply_update(peers[0], u);
                }
                rib
            },
            BatchSize::PerIteration,
        )
    });

    const N10: usize = 100_000;
    let ups10: Vec<Vec<Update>> = (0..10).map(|p| updates(p, N10)).collect();
    g.throughput(Throughput::Elements(10 * N10 as u64));
    g.bench_function("insert_100k_prefixes_10_peers", |b| {
        b.iter_batched(
            || rib_with_peers(10),
            |(mut rib, peers)| {
                for (p, ups) in ups10.iter().enumerate() {
                    for u in ups {
                        rib.apply_update(peers[p], u);
                    }
                }
                rib
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("insert_100k_prefixes_10_peers_with_drain", |b| {
        b.iter_batched(
            || rib_with_peers(10),
            |(mut rib, peers)| {
                for (p, ups) in ups10.iter().enumerate() {
                    for u in ups {
                        rib.apply_update(peers[p], u);
                    }
                }
                black_box(rib.drain_changes());
                rib
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
