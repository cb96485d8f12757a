//! Node-speaker mesh benchmark (issue 6): full meshes of N nodes running our
//! `bgp-speaker`, then BIRD 2 configured as Calico configures it, same run, same
//! measurements (see `tests::meshbench`). Needs root (network namespaces).
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target-node
//! cargo build --release -p bgp-speaker -p tests --bin mesh-bench --bin bgp-speaker
//! cargo build --profile node -p bgp-speaker --bin bgp-speaker   # the shipped build, used when present
//! $CARGO_TARGET_DIR/release/mesh-bench --nodes 25,50,100 --out /tmp/mesh.md
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tests::meshbench::{self, Impl, Options};

/// Full-mesh convergence, restart re-convergence, RSS and CPU per node: our node
/// speaker vs BIRD 2 with Calico's configuration.
#[derive(Parser, Debug)]
#[command(name = "mesh-bench")]
struct Cli {
    /// Mesh sizes, comma-separated (2..=250).
    #[arg(long, value_delimiter = ',', default_value = "25,50,100")]
    nodes: Vec<usize>,
    /// Speakers to run, in order: ours, bird.
    #[arg(long, value_delimiter = ',', default_value = "ours,bird")]
    only: Vec<String>,
    /// Our node speaker's binary (default: $BGP_SPEAKER_BIN, else the shipped build
    /// `target/node/bgp-speaker` (`cargo build --profile node`) when it exists, else
    /// `bgp-speaker` next to this executable).
    #[arg(long)]
    speaker: Option<PathBuf>,
    /// Per-phase timeout, seconds; a phase that does not finish is reported as "> T".
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Seconds to wait once every session is up (before the restart), and to keep
    /// watching the kernels after re-convergence.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    /// Seconds between the SIGKILL and the restart of the restarted node.
    #[arg(long, default_value_t = 1.0)]
    restart_gap: f64,
    /// The node to restart (1-based; default: the middle one in string order).
    #[arg(long)]
    restart_node: Option<usize>,
    /// Keep configs and logs in this directory (default: a temporary one, removed).
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn default_speaker() -> std::io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("BGP_SPEAKER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    if let Some(target) = exe.parent().and_then(|d| d.parent()) {
        let node = target.join("node").join("bgp-speaker");
        if node.exists() {
            return Ok(node);
        }
    }
    tests::lab::speaker_binary(false)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.nodes.iter().find(|n| !(2..=250).contains(*n)) {
        eprintln!("error: --nodes {n}: a mesh has 2 to 250 nodes (198.18.0.0/24)");
        return ExitCode::FAILURE;
    }
    let mut impls = Vec::new();
    for k in &cli.only {
        let imp = match k.as_str() {
            "ours" => Impl::Ours,
            "bird" => Impl::Bird,
            _ => {
                eprintln!("error: --only {k:?}: ours or bird");
                return ExitCode::FAILURE;
            }
        };
        if !impls.contains(&imp) {
            impls.push(imp);
        }
    }
    if !(cli.settle >= 0.0 && cli.restart_gap >= 0.0) {
        eprintln!("error: --settle and --restart-gap are seconds >= 0");
        return ExitCode::FAILURE;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("error: mesh-bench needs root (network namespaces)");
        return ExitCode::FAILURE;
    }
    let bin = match cli.speaker.clone().map(Ok).unwrap_or_else(default_speaker) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    meshbench::stop_on_signals();
    let opts = Options {
        sizes: cli.nodes.clone(),
        impls,
        bin,
        timeout: Duration::from_secs(cli.timeout),
        settle: Duration::from_secs_f64(cli.settle),
        restart_gap: Duration::from_secs_f64(cli.restart_gap),
        restart_node: cli.restart_node,
        keep: cli.keep.clone(),
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let header = format!(
        "Our binary: `{}`. Load average at start: {}.\n\n",
        opts.bin.display(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    eprint!("{header}");
    let results = match meshbench::run(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = header + &meshbench::report(&results);
    tests::bench::emit_report(&report, cli.out.as_deref())
}
