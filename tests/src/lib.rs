//! Topology builder for end-to-end, interop and benchmark work on the BGP stack.
//!
//! Everything here is made of real parts: Linux network namespaces, veth pairs,
//! bridges and real daemon processes (BIRD 2, FRR bgpd, GoBGP, ExaBGP). Every resource
//! is owned by a guard that removes it on `Drop`, also when a test panics:
//!
//! - [`netns::Netns`]: a uniquely named namespace; its processes are killed and the
//!   namespace deleted on drop.
//! - [`netns::Fabric`]: a namespace with a Linux bridge that many nodes join.
//! - [`proc::Proc`]: a child process inside a namespace, logging to a file, killed by pid.
//! - [`peers`]: launchers for BIRD, FRR, GoBGP and ExaBGP from one [`peers::PeerSpec`].
//! - [`wire`]: hand-built BGP messages and a frame walker (no codec), used by the
//!   recorder in `src/bin/record-peers.rs`.
//! - [`rawpeer::RawPeer`]: a raw iBGP session over the `bgp_proto` codec that records every
//!   UPDATE it receives, decoded and timestamped.
//! - [`responder::Responder`]: a raw-TCP BGP speaker that records both directions.
//! - [`pcap`]: extracts per-direction TCP payload from a `tcpdump -w` capture.
//! - [`speaker::NsSpeaker`]: our own `bgp_speaker::Speaker` running inside a namespace.
//!
//! Traffic rule: the helpers only ever address 127.0.0.0/8 or addresses inside
//! namespaces they created (198.18.0.0/15 links, fd00::/8 IPv6, 10.244.0.0/16 pods).
#![warn(missing_docs)]

pub mod bench;
pub mod lab;
pub mod meshbench;
pub mod netns;
pub mod pcap;
pub mod peers;
pub mod proc;
pub mod rawpeer;
pub mod responder;
pub mod speaker;
pub mod wire;

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion and returns its stdout; a non-zero exit becomes an error
/// that carries the command line and its stderr.
pub fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd.output().map_err(|e| io::Error::new(e.kind(), format!("cannot run {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `program args...` to completion, see [`run`].
pub fn run_args<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> io::Result<String> {
    run(Command::new(program).args(args))
}

/// Polls `f` every `interval` until it returns `Ok(Some(v))` or `timeout` passes.
/// An `Err` from `f` stops the polling at once and is returned (use `.ok()` inside `f`
/// for errors that should be retried).
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut f: impl FnMut() -> io::Result<Option<T>>,
) -> io::Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out after {timeout:?} waiting for {what}"),
            ));
        }
        std::thread::sleep(interval);
    }
}

/// A working directory for configs, sockets and logs. Removed on drop unless the
/// environment variable `BGPT_KEEP` is set (then its path is printed to stderr).
#[derive(Debug)]
pub struct WorkDir {
    dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl WorkDir {
    /// Creates `/tmp/bgpt-<tag>-XXXXXX`.
    pub fn new(tag: &str) -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix(&format!("bgpt-{tag}-")).tempdir()?;
        let path = dir.path().to_path_buf();
        Ok(WorkDir { dir: Some(dir), path })
    }

    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os("BGPT_KEEP").is_some() {
            if let Some(d) = self.dir.take() {
                eprintln!("BGPT_KEEP: keeping {}", d.keep().display());
            }
        }
    }
}
