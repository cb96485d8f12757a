//! `lab`: a Calico-like cluster out of network namespaces, running the real
//! `bgp-speaker` binary on every node.
//!
//! ```text
//! cargo build --release -p bgp-speaker -p route-reflector   # lab looks for them next to itself
//! cargo run --release -p tests --bin lab -- up [--nodes 3] [--ipip Never|Always|CrossSubnet]
//!                                              [--seed000 [--tor]] [--bird-node N] [--reflectors R]
//! cargo run --release -p tests --bin lab -- down
//! ```
//!
//! `up` builds the cluster, waits for the mesh, prints every node's status, its `ip
//! route`, every reflector's `route-reflector status`, the top-of-rack router's BIRD
//! protocols and routes, and a pod-to-pod ping matrix, and leaves it running; the namespaces and pids
//! go to a state file (`/run/bgpt-lab.json` by default) that `down` reads. Configs,
//! sockets and logs stay in the printed directory. Note: a test run's
//! `netns::cleanup_stale()` removes a lab left up (its creating process is gone).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tests::lab::{self, Lab, LabSpec};

#[derive(Parser)]
struct Cli {
    /// State file shared by up and down.
    #[arg(long, default_value = "/run/bgpt-lab.json")]
    state: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build and start a cluster, print its state, leave it running.
    Up {
        /// Number of nodes (one subnet, full mesh).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The pool's IPIP mode.
        #[arg(long, default_value = "Never")]
        ipip: String,
        /// Seed 000's topology instead: two subnets, a router, CrossSubnet.
        #[arg(long)]
        seed000: bool,
        /// With --seed000: IPIP Never, BIRD on the router as a top-of-rack eBGP router
        /// (AS 64513) that every node peers with instead of the mesh.
        #[arg(long, requires = "seed000")]
        tor: bool,
        /// Run BIRD (Calico-like config) on this node (1-based) instead of bgp-speaker.
        #[arg(long)]
        bird_node: Vec<usize>,
        /// Turn the mesh off and run this many `route-reflector`s (one cluster ID) that
        /// every node peers with.
        #[arg(long, default_value_t = 0)]
        reflectors: usize,
    },
    /// Remove the cluster: processes by pid, namespaces by name.
    Down,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Up { nodes, ipip, seed000, tor, bird_node, reflectors } => {
            if cli.state.exists() {
                eprintln!("lab: {} exists; run `lab down` first", cli.state.display());
                return ExitCode::FAILURE;
            }
            let mut spec = match (seed000, tor) {
                (true, true) => LabSpec::seed000_tor(),
                (true, false) => LabSpec::seed000(),
                (false, _) => LabSpec::mesh(nodes),
            };
            if !seed000 {
                spec.ipip = ipip;
            }
            if reflectors > 50 || (reflectors > 0 && spec.nodes.len() > 200) {
                eprintln!(
                    "lab up: --reflectors: at most 50, with at most 200 nodes (reflectors use 198.18.0.201 to .250)"
                );
                return ExitCode::FAILURE;
            }
            spec.reflectors = reflectors;
            if !bird_node.is_empty() && !spec.mesh_enabled() {
                eprintln!("lab up: --bird-node: BIRD nodes speak only the mesh (no --reflectors, no --tor)");
                return ExitCode::FAILURE;
            }
            for b in bird_node {
                if let Some(n) = spec.nodes.get_mut(b.wrapping_sub(1)) {
                    n.bird = true;
                }
            }
            let dir = std::env::temp_dir().join(format!("bgpt-lab-{}", std::process::id()));
            let r = std::fs::create_dir_all(&dir).and_then(|()| Lab::up(spec, &dir));
            let lab = match r {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("lab up: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = lab.wait_mesh(Duration::from_secs(30)) {
                eprintln!("lab up: {e}");
            }
            std::thread::sleep(Duration::from_millis(500));
            print!("{}", lab.report());
            println!("configs, sockets, logs: {}", dir.display());
            println!("control: {} -s {}/node-1.ctl status", lab.bin.display(), dir.display());
            match lab.persist(&cli.state) {
                Ok(()) => {
                    println!("state: {} (remove with `lab down`)", cli.state.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("lab up: cannot write state: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Down => match lab::down(&cli.state) {
            Ok((pids, ns)) => {
                println!("lab down: {pids} processes stopped, {ns} namespaces removed");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lab down: {}: {e}", cli.state.display());
                ExitCode::FAILURE
            }
        },
    }
}
