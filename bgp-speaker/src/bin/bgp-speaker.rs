//! `bgp-speaker`: the node speaker that replaces BIRD on a Calico node, and its CLI.
//!
//! ```text
//! bgp-speaker run -c /etc/bgp-speaker/node.toml          # the daemon
//! bgp-speaker -c FILE status [--json]                    # calicoctl node status
//! bgp-speaker -s SOCKET routes [PREFIX] [--json]
//! bgp-speaker -s SOCKET ready | live                     # probes: exit 0 / 1
//! bgp-speaker -s SOCKET blocks add|del CIDR
//! bgp-speaker -s SOCKET peers add|del NAME ADDRESS
//! bgp-speaker -s SOCKET reload                           # also: kill -HUP
//! bgp-speaker check -c FILE                              # validate a file
//! ```

use bgp_speaker::node::config::LogFormat;
use bgp_speaker::node::control::{self, Request};
use bgp_speaker::node::{NodeConfig, NodeSpeaker, StartOptions};
use clap::{Parser, Subcommand};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "bgp-speaker", about = "BGP node speaker for Calico-style clusters (replaces BIRD)")]
struct Cli {
    /// Configuration file (the control socket path is read from it).
    #[arg(short, long, global = true)]
    config: Option<PathBuf>,
    /// Control socket (overrides the file's control.socket).
    #[arg(short, long, global = true)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the speaker.
    Run {
        /// Log as JSON lines (overrides control.log-format).
        #[arg(long)]
        log_json: bool,
        /// Do not program kernel routes.
        #[arg(long)]
        no_fib: bool,
    },
    /// Validate the configuration file and exit.
    Check,
    /// The peer table, as `calicoctl node status` prints it.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Routes in the RIB.
    Routes {
        /// Only this prefix.
        prefix: Option<IpNet>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Readiness probe (exit 0 ready, 1 not).
    Ready,
    /// Liveness probe (exit 0 live, 1 not).
    Live,
    /// Local IPAM blocks.
    Blocks {
        /// add or del.
        #[arg(value_parser = ["add", "del"])]
        op: String,
        /// The block.
        cidr: IpNet,
    },
    /// Mesh members.
    Peers {
        /// add or del.
        #[arg(value_parser = ["add", "del"])]
        op: String,
        /// Node name.
        name: String,
        /// Address (required for add).
        address: Option<IpAddr>,
    },
    /// Re-read the configuration file.
    Reload,
}

fn load(cli: &Cli) -> Result<NodeConfig, String> {
    let path = cli.config.as_ref().ok_or("--config FILE is required")?;
    NodeConfig::load(path).map_err(|e| e.to_string())
}

fn socket(cli: &Cli) -> Result<PathBuf, String> {
    if let Some(s) = &cli.socket {
        return Ok(s.clone());
    }
    if cli.config.is_some() {
        return Ok(load(cli)?.control.socket);
    }
    Ok(bgp_speaker::node::config::Control::default().socket)
}

fn init_logs(json: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // RUST_LOG as `level` or `target=level,...` (tracing's `Targets`, no regex engine in
    // the binary: every node pays for its code pages in RSS). A bad value: info, and say so.
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) => match v.parse::<Targets>() {
            Ok(t) => (t, None),
            Err(e) => (Targets::new().with_default(LevelFilter::INFO), Some(format!("RUST_LOG={v:?}: {e}"))),
        },
        Err(_) => (Targets::new().with_default(LevelFilter::INFO), None),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        tracing_subscriber::registry().with(fmt.json()).with(filter).init();
    } else {
        tracing_subscriber::registry().with(fmt).with(filter).init();
    }
    if let Some(b) = bad {
        tracing::warn!("{b}; logging at info");
    }
}

async fn run(cli: &Cli, log_json: bool, no_fib: bool) -> Result<(), String> {
    let mut cfg = load(cli)?;
    if let Some(s) = &cli.socket {
        cfg.control.socket = s.clone();
    }
    init_logs(log_json || cfg.control.log_format == LogFormat::Json);
    let sock = cfg.control.socket.clone();
    let opts = StartOptions { path: cli.config.clone(), program_fib: !no_fib };
    // Signal handlers before anything a supervisor can see: an early SIGHUP reloads
    // rather than killing the process (SIGHUP's default action).
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tracing::info!(node = %cfg.node.name, asn = cfg.node.asn, router_id = %cfg.router_id(), "starting");
    let node = NodeSpeaker::start(cfg, opts).await.map_err(|e| e.to_string())?;
    let listener = control::bind(&sock).map_err(|e| format!("control socket {}: {e}", sock.display()))?;
    tokio::spawn(control::serve(node.clone(), listener));
    loop {
        tokio::select! {
            _ = hup.recv() => match node.reload().await {
                Ok(()) => tracing::info!("configuration reloaded (SIGHUP)"),
                Err(e) => tracing::error!(error = %e, "reload failed; keeping the running configuration"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("planned stop: sending the shutdown communication; kernel routes stay");
    node.shutdown("node speaker stopping (planned restart or shutdown)").await;
    let _ = std::fs::remove_file(&sock);
    Ok(())
}

async fn client(cli: &Cli) -> Result<ExitCode, String> {
    let sock = socket(cli)?;
    let (req, json) = match &cli.cmd {
        Cmd::Status { json } => (Request::Status, *json),
        Cmd::Routes { prefix, json } => (Request::Routes { prefix: *prefix }, *json),
        Cmd::Ready => (Request::Ready, false),
        Cmd::Live => (Request::Live, false),
        Cmd::Blocks { op, cidr } if op == "add" => (Request::BlockAdd { cidr: *cidr }, false),
        Cmd::Blocks { cidr, .. } => (Request::BlockDel { cidr: *cidr }, false),
        Cmd::Peers { op, name, address } if op == "add" => {
            let address = address.ok_or("peers add NAME ADDRESS")?;
            (Request::PeerAdd { name: name.clone(), address }, false)
        }
        Cmd::Peers { name, address, .. } => (Request::PeerDel { name: name.clone(), address: *address }, false),
        Cmd::Reload => (Request::Reload, false),
        Cmd::Run { .. } | Cmd::Check => unreachable!(),
    };
    let probe = matches!(req, Request::Ready | Request::Live);
    let resp = match control::request(&sock, &req).await {
        Ok(r) => r,
        Err(e) if probe => {
            eprintln!("{}: {e}", sock.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(format!("{}: {e}", sock.display())),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&resp.data).unwrap_or_default());
    } else if resp.ok {
        print!("{}", resp.message);
        if !resp.message.ends_with('\n') && !resp.message.is_empty() {
            println!();
        }
    } else {
        eprintln!("{}", resp.message);
    }
    Ok(if resp.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One malloc arena for the process (the speaker's thread and fib-sync's): glibc gives
/// the second thread its own arena otherwise, a second heap to fault in and keep
/// resident on every node for a few hundred small allocations.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    // One thread, as BIRD: a node speaker's work (a mesh of 100: 99 sessions, a few
    // hundred routes) is far below a core, and on a node every thread costs its stack
    // and malloc arena in RSS and wake-ups in CPU (mesh-bench, 100 nodes on 2 cores).
    // fib-sync runs on its own thread.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bgp-speaker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async {
        match &cli.cmd {
            Cmd::Run { log_json, no_fib } => run(&cli, *log_json, *no_fib).await.map(|()| ExitCode::SUCCESS),
            Cmd::Check => load(&cli).map(|c| {
                println!(
                    "{}: ok (node {}, {} blocks, {} pools)",
                    cli.config.as_ref().unwrap().display(),
                    c.node.name,
                    c.blocks.len(),
                    c.pools.len()
                );
                ExitCode::SUCCESS
            }),
            _ => client(&cli).await,
        }
    });
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bgp-speaker: {e}");
            ExitCode::from(2)
        }
    }
}
