//! A child process inside a namespace, with its output in a log file, killed on drop.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::netns::Netns;

/// A running child process. Its stdout and stderr both go to one log file. On drop it
/// gets SIGTERM, up to 3 s to exit, then SIGKILL, and is reaped.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    log: PathBuf,
    label: String,
}

impl Proc {
    /// Starts `program args...` inside `ns` (through `ip netns exec`, which execs in
    /// place so the pid is the program's), logging to `log`.
    pub fn spawn_in<S: AsRef<std::ffi::OsStr>>(ns: &Netns, program: &str, args: &[S], log: &Path) -> io::Result<Proc> {
        let mut cmd = ns.command(program);
        cmd.args(args);
        Self::spawn(cmd, log)
    }

    /// Starts a prepared command (environment, working directory already set), logging
    /// to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> io::Result<Proc> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let label = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {label}: {e}")))?;
        Ok(Proc { child: Some(child), log: log.to_path_buf(), label })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log so far (lossy UTF-8; empty if unreadable).
    pub fn log(&self) -> String {
        std::fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Errors with the log's tail if the process has exited.
    pub fn check_alive(&mut self) -> io::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(io::Error::other(format!(
                    "{} exited with {status}; log tail:\n{}",
                    self.label,
                    tail.join("\n")
                )));
            }
        }
        Ok(())
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the child.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        let pid = self.pid() as i32;
        if pid <= 0 {
            return Ok(());
        }
        // SAFETY: kill(2) on our own child's pid (not yet reaped, so not reused).
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops the child now (SIGTERM, grace period, SIGKILL) and reaps it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: our own unreaped child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        for _ in 0..60 {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}
