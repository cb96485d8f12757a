//! Route-reflector convergence benchmark (issue 5): ours against BIRD 2, FRR bgpd and
//! GoBGP, same load generator, same run. Needs root (network namespaces).
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target-rrbench
//! cargo build --release -p route-reflector
//! cargo run --release -p tests --bin rr-bench -- --shape 10x10000 --only ours,bird,frr,gobgp
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tests::bench::{self, daemons::Kind, Options, Shape};

/// Convergence of N injector clients x M prefixes through a route reflector, measured
/// by a monitor client; ours vs BIRD 2, FRR and GoBGP.
#[derive(Parser, Debug)]
#[command(name = "rr-bench")]
struct Cli {
    /// Shapes `NxM` (N injectors, M prefixes each); repeatable. Default: 10x10000,
    /// 100x1000, 20x50000, 1000x1.
    #[arg(long = "shape")]
    shapes: Vec<String>,
    /// Reflectors to run, comma-separated or repeated: ours, bird, frr, gobgp.
    #[arg(long, value_delimiter = ',', default_value = "ours,bird,frr,gobgp")]
    only: Vec<String>,
    /// Our reflector's binary (default: $CARGO_TARGET_DIR/release/route-reflector, else
    /// target/release/route-reflector).
    #[arg(long)]
    reflector: Option<PathBuf>,
    /// Per-phase timeout in seconds (sessions up, convergence, withdrawal); a phase that
    /// does not finish is reported as "> T".
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Seconds after the last session came up before the settled round.
    #[arg(long, default_value_t = 12)]
    settle: u64,
    /// Load-generator threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Profile our reflector: `perf record -g` into FILE.NxM for each shape.
    #[arg(long)]
    perf: Option<PathBuf>,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let shapes: Vec<String> = if cli.shapes.is_empty() {
        ["10x10000", "100x1000", "20x50000", "1000x1"].map(String::from).to_vec()
    } else {
        cli.shapes.clone()
    };
    let mut parsed = Vec::new();
    for s in &shapes {
        match Shape::parse(s) {
            Some(sh) => parsed.push(sh),
            None => {
                eprintln!("error: bad shape {s:?} (want NxM, e.g. 10x10000)");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut kinds = Vec::new();
    for k in &cli.only {
        match Kind::parse(k) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => {
                eprintln!("error: unknown reflector {k:?} (ours, bird, frr, gobgp)");
                return ExitCode::FAILURE;
            }
        }
    }
    kinds.sort();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("error: rr-bench needs root (network namespaces)");
        return ExitCode::FAILURE;
    }
    bench::stop_on_signals();
    let opts = Options {
        shapes: parsed,
        kinds,
        ours: cli.reflector.clone().unwrap_or_else(bench::daemons::default_ours),
        timeout: Duration::from_secs(cli.timeout),
        settle: Duration::from_secs(cli.settle),
        threads: cli.threads,
        perf: cli.perf.clone(),
    };
    let results = match bench::run(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = bench::report(&results, opts.timeout);
    tests::bench::emit_report(&report, cli.out.as_deref())
}
