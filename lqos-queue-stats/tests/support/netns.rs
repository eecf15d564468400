//! A minimal network namespace for these tests and the bench: created with `ip netns add`,
//! deleted on drop (also when a test panics), commands run in it with `ip netns exec`, and
//! closures run in it on a thread that `setns`ed into it.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A namespace named `lqqs-<tag>-<pid>-<n>`, deleted with everything in it on drop.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace with `lo` up and IPv6 off (no router solicitations or MLD
    /// reports to disturb the counters).
    pub fn new(tag: &str) -> Result<NetNs> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("lqqs-{tag}-{}-{n}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(Command::new("ip").args(["netns", "add", &name]))
            .with_context(|| format!("cannot create namespace {name} (root needed)"))?;
        let ns = NetNs { name };
        ns.run("ip", &["link", "set", "lo", "up"])?;
        ns.run("sysctl", &["-qw", "net.ipv6.conf.all.disable_ipv6=1"])?;
        ns.run("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file, for `setns` / `QueueReader::new_in_netns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs `cmd args` in the namespace; fails unless it succeeds; returns stdout.
    pub fn run(&self, cmd: &str, args: &[&str]) -> Result<String> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.name, cmd])
            .args(args))
    }

    /// Runs `tc -batch -` in the namespace with `script` on stdin.
    pub fn tc_batch(&self, script: &str) -> Result<()> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "tc", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start tc -batch")?;
        child
            .stdin
            .take()
            .context("tc stdin")?
            .write_all(script.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("tc -batch failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Runs `f` on a new thread that entered this namespace with `setns` first.
    pub fn in_ns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let file = std::fs::File::open(self.path())?;
        let handle = std::thread::spawn(move || {
            // SAFETY: a valid namespace fd; only this thread changes namespace.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(f())
        });
        match handle.join() {
            Ok(r) => Ok(r.context("setns")?),
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs `cmd`; fails with its stderr unless it succeeds; returns stdout.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
