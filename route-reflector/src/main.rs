//! The `route-reflector` command: the daemon, and the CLI that talks to it.

use clap::{Parser, Subcommand, ValueEnum};
use route_reflector::config::{Config, DEFAULT_SOCKET};
use route_reflector::control::{self, Request};
use route_reflector::{daemon, status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A BGP route reflector for Kubernetes clusters.
#[derive(Parser, Debug)]
#[command(name = "route-reflector", version, about)]
struct Cli {
    /// Configuration file (TOML). Without it the daemon runs on the embedded default:
    /// loopback only, port 1179, 127.0.0.0/8 as dynamic clients.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Control socket (default: the config's `control_socket`, else /run/route-reflector.sock).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the daemon (the default).
    Run,
    /// Check a configuration and exit: 0 when valid.
    Check,
    /// Ask the daemon to re-read its configuration (same as SIGHUP).
    Reload,
    /// Peers: address, AS, type, state, since, prefixes received and advertised.
    Status {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Routes in the RIB, of one prefix or all.
    Routes {
        /// A prefix, e.g. 10.244.1.0/26.
        prefix: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the RIB as MRT TABLE_DUMP_V2 (the daemon writes the file).
    Dump {
        /// Output file.
        #[arg(long)]
        mrt: PathBuf,
    },
}

fn load(path: Option<&Path>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p).map_err(|e| e.to_string()),
        None => Ok(Config::embedded()),
    }
}

fn init_logs(f: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match f {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

fn socket(cli: &Cli) -> Result<PathBuf, String> {
    if let Some(s) = &cli.socket {
        return Ok(s.clone());
    }
    match &cli.config {
        Some(p) => Ok(load(Some(p))?.control_socket),
        None => Ok(PathBuf::from(DEFAULT_SOCKET)),
    }
}

async fn call(cli: &Cli, req: Request) -> Result<serde_json::Value, String> {
    control::call(&socket(cli)?, &req).await
}

async fn main_inner(cli: Cli) -> Result<(), String> {
    match &cli.cmd {
        None | Some(Cmd::Run) => {
            let mut cfg = load(cli.config.as_deref())?;
            if let Some(s) = &cli.socket {
                cfg.control_socket = s.clone();
            }
            init_logs(cli.log_format);
            daemon::run(cfg).await
        }
        Some(Cmd::Check) => {
            let c = load(cli.config.as_deref())?;
            let peers: usize = c.groups.iter().map(|g| g.peers.len()).sum();
            let ranges: usize = c.groups.iter().map(|g| g.ranges.len()).sum();
            let name = cli.config.as_ref().map(|p| p.display().to_string()).unwrap_or("embedded default".into());
            println!("{name}: ok ({} groups, {peers} static peers, {ranges} dynamic ranges)", c.groups.len());
            Ok(())
        }
        Some(Cmd::Reload) => {
            let v = call(&cli, Request::Reload).await?;
            println!("{}", v.as_str().unwrap_or("reloaded"));
            Ok(())
        }
        Some(Cmd::Status { json }) => {
            let v = call(&cli, Request::Status).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?);
            } else {
                let rows: Vec<status::PeerRow> = serde_json::from_value(v).map_err(|e| e.to_string())?;
                print!("{}", status::peer_table(&rows));
            }
            Ok(())
        }
        Some(Cmd::Routes { prefix, json }) => {
            let v = call(&cli, Request::Routes { prefix: prefix.clone() }).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?);
            } else {
                print!("{}", status::routes_table(&v));
            }
            Ok(())
        }
        Some(Cmd::Dump { mrt }) => {
            let path = std::path::absolute(mrt).map_err(|e| e.to_string())?;
            let v = call(&cli, Request::Dump { path }).await?;
            println!("{}", v.as_str().unwrap_or("written"));
            Ok(())
        }
    }
}

/// glibc malloc: a fixed mmap threshold. By default glibc raises the threshold to the
/// size of each mmapped block freed (up to 32 MiB), so once a prefix table has grown
/// past a resize, the next tables and resize buffers come from the heap and their space
/// stays resident after they are freed. With a fixed 256 KiB threshold every large table
/// is its own mapping, returned at once when freed: in rr-bench 20 x 50000 peak RSS went
/// from 201-212 MiB to 174-179 MiB (same binary, `MALLOC_MMAP_THRESHOLD_=262144`).
///
/// And one arena: by default each tokio worker thread allocates from an arena of its
/// own, and a block freed by another thread (a decoded UPDATE freed by the core, an
/// encoded one by a writer) returns to its owner's free lists, so each arena keeps its
/// own free space resident. rr-bench 10 x 10000: 21.1-21.9 -> 20.1-20.7 MiB
/// (`MALLOC_ARENA_MAX=1`, same binary); the reflector's threads allocate little
/// besides that, so the shared lock costs nothing visible.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(main_inner(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
