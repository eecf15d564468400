//! Network namespaces owned by a test: created uniquely named, deleted on drop.

use crate::{run_checked, run_output};
use anyhow::{bail, Context, Result};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

/// A network namespace named `lqt-<pid>-<counter>`, deleted (with everything in it) on drop,
/// also when the test panics. Run commands in it with [`NetNs::exec`] / [`NetNs::run`].
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a new namespace with `lo` up. A stale namespace of the same name (left by a
    /// crashed process that had this pid) is deleted first.
    pub fn new() -> Result<NetNs> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("lqt-{}-{n}", std::process::id());
        if std::path::Path::new("/run/netns").join(&name).exists() {
            // Ignore the result: the `add` below reports any real problem.
            let _ = run_output(Command::new("ip").args(["netns", "del", &name]), None);
        }
        run_checked(Command::new("ip").args(["netns", "add", &name]), None)
            .with_context(|| format!("cannot create network namespace {name}"))?;
        let ns = NetNs { name };
        ns.run("ip", &["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` running `cmd args` inside the namespace (`ip netns exec`).
    pub fn command(&self, cmd: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, cmd]).args(args);
        c
    }

    /// Runs `cmd args` inside the namespace and returns its output, whatever its status.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Result<Output> {
        run_output(&mut self.command(cmd, args), None)
    }

    /// Like [`NetNs::exec`] with `stdin` fed to the command.
    pub fn exec_stdin(&self, cmd: &str, args: &[&str], stdin: &[u8]) -> Result<Output> {
        run_output(&mut self.command(cmd, args), Some(stdin))
    }

    /// Runs `cmd args` inside the namespace; fails unless it succeeds. Returns its stdout.
    pub fn run(&self, cmd: &str, args: &[&str]) -> Result<String> {
        let out = run_checked(&mut self.command(cmd, args), None)
            .with_context(|| format!("in namespace {}", self.name))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a veth pair with both ends in this namespace, each with `queues` tx and rx
    /// queues (so `mq` gets that many classes). Both ends stay down; see [`NetNs::set_up`].
    pub fn add_veth(&self, a: &str, b: &str, queues: u32) -> Result<()> {
        check_ifname(a)?;
        check_ifname(b)?;
        let q = queues.to_string();
        self.run(
            "ip",
            &[
                "link",
                "add",
                a,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
                "type",
                "veth",
                "peer",
                "name",
                b,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
            ],
        )
        .map(drop)
        .with_context(|| format!("cannot create veth pair {a}/{b}"))
    }

    /// Creates a veth pair between namespaces: `a` here, `b` in `peer`, each with `queues`
    /// tx and rx queues. Both ends stay down.
    pub fn add_veth_to(&self, a: &str, peer: &NetNs, b: &str, queues: u32) -> Result<()> {
        check_ifname(a)?;
        check_ifname(b)?;
        let q = queues.to_string();
        self.run(
            "ip",
            &[
                "link",
                "add",
                a,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
                "type",
                "veth",
                "peer",
                "name",
                b,
                "netns",
                &peer.name,
                "numtxqueues",
                &q,
                "numrxqueues",
                &q,
            ],
        )
        .map(drop)
        .with_context(|| format!("cannot create veth pair {a} -> {}/{b}", peer.name))
    }

    /// Brings an interface up.
    pub fn set_up(&self, ifname: &str) -> Result<()> {
        self.run("ip", &["link", "set", ifname, "up"]).map(drop)
    }

    /// Adds an address such as `10.0.0.1/24` or `fd00::1/64` to an interface (IPv6 without
    /// duplicate address detection, so it is usable at once).
    pub fn add_addr(&self, ifname: &str, cidr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", cidr, "dev", ifname];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.run("ip", &args).map(drop)
    }

    /// Number of tx queues of an interface, read from sysfs inside the namespace.
    pub fn tx_queues(&self, ifname: &str) -> Result<usize> {
        let out = self.run("ls", &[&format!("/sys/class/net/{ifname}/queues")])?;
        Ok(out
            .split_whitespace()
            .filter(|q| q.starts_with("tx-"))
            .count())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        match run_output(Command::new("ip").args(["netns", "del", &self.name]), None) {
            Ok(out) if out.status.success() => {}
            other => eprintln!(
                "lqos-e2e: could not delete network namespace {}: {other:?}",
                self.name
            ),
        }
    }
}

/// Fails unless `name` is a usable Linux interface name.
pub fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_IFNAME {
        bail!("interface name {name:?} must have 1 to {MAX_IFNAME} characters");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        bail!("interface name {name:?} must not contain '/', ':' or whitespace");
    }
    Ok(())
}
