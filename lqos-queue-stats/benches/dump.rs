//! Time of one `QueueReader::dump` of an interface with N HTB classes (default 10,000), each
//! with a pfifo leaf, against the same statistics read by forking `tc -s -j qdisc show`
//! (serde_json, LibreQoS's way) plus `tc -s class show` (text: iproute2 6.1 has no class JSON),
//! in the same run. Median of 9 runs each. Needs root (namespaces, tc).
//!
//! `cargo bench -p lqos-queue-stats --bench dump`; `LQOS_BENCH_CLASSES=N` (at most 60,000),
//! `LQOS_BENCH_RUNS=R` (default 9), `LQOS_BENCH_BASELINE=0` skips the tc baseline (profiling).

#[allow(dead_code)] // the tests use more of the helpers
#[path = "../tests/support/mod.rs"]
mod support;

use anyhow::{bail, ensure, Context, Result};
use lqos_queue_stats::QueueReader;
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};
use support::netns::NetNs;
use support::tc_output::{parse_classes, parse_qdiscs};

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

/// CPU time (user, system) of this thread, and of the waited-for children of the process.
#[derive(Clone, Copy, Default)]
struct Cpu {
    user: Duration,
    sys: Duration,
}

fn rusage(who: libc::c_int) -> Cpu {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut r) };
    let d = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Cpu {
        user: d(r.ru_utime),
        sys: d(r.ru_stime),
    }
}

/// This thread's CPU time plus the children's: what a measured section cost in CPU, however
/// loaded the machine is.
fn cpu_now() -> Cpu {
    let t = rusage(libc::RUSAGE_THREAD);
    let c = rusage(libc::RUSAGE_CHILDREN);
    Cpu {
        user: t.user + c.user,
        sys: t.sys + c.sys,
    }
}

fn cpu_since(start: Cpu) -> Cpu {
    let now = cpu_now();
    Cpu {
        user: now.user.saturating_sub(start.user),
        sys: now.sys.saturating_sub(start.sys),
    }
}

/// Median wall time, and the user and system CPU of the run with the median total CPU.
struct Runs {
    wall: Vec<Duration>,
    cpu: Vec<Cpu>,
}

impl Runs {
    fn new() -> Self {
        Runs {
            wall: Vec::new(),
            cpu: Vec::new(),
        }
    }

    fn time<T>(&mut self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let c = cpu_now();
        let t = Instant::now();
        let r = f()?;
        self.wall.push(t.elapsed());
        self.cpu.push(cpu_since(c));
        Ok(r)
    }

    fn wall_median(&self) -> Duration {
        median(self.wall.clone())
    }

    fn cpu_median(&self) -> Cpu {
        let mut v = self.cpu.clone();
        v.sort_by_key(|c| c.user + c.sys);
        v[v.len() / 2]
    }

    fn report(&self, what: &str, reference: Option<&Runs>) {
        let w = self.wall_median();
        let c = self.cpu_median();
        let mut line = format!(
            "{what}: wall median {:.2} ms (min {:.2}, max {:.2}); CPU median {:.2} ms (user {:.2}, sys {:.2})",
            ms(w),
            ms(*self.wall.iter().min().unwrap_or(&w)),
            ms(*self.wall.iter().max().unwrap_or(&w)),
            ms(c.user + c.sys),
            ms(c.user),
            ms(c.sys),
        );
        if let Some(r) = reference {
            let rc = r.cpu_median();
            let _ = write!(
                line,
                "; ratio vs netlink: wall {:.1}x, CPU {:.1}x",
                w.as_secs_f64() / r.wall_median().as_secs_f64(),
                (c.user + c.sys).as_secs_f64() / (rc.user + rc.sys).as_secs_f64().max(1e-9)
            );
        }
        println!("{line}");
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The tc -batch script: root HTB 1:, parent class 1:1, `n` leaf classes 1:<i+2> with pfifo
/// leaves <i+0x100>:.
fn script(n: usize) -> String {
    let mut s = String::with_capacity(n * 120);
    s.push_str("qdisc add dev qa0 root handle 1: htb default 0\n");
    s.push_str("class add dev qa0 parent 1: classid 1:1 htb rate 10gbit\n");
    for i in 0..n {
        let minor = i + 2;
        let major = i + 0x100;
        let _ = writeln!(
            s,
            "class add dev qa0 parent 1:1 classid 1:{minor:x} htb rate 1mbit ceil 10mbit"
        );
        let _ = writeln!(
            s,
            "qdisc add dev qa0 parent 1:{minor:x} handle {major:x}: pfifo limit 100"
        );
    }
    s
}

/// Forks tc twice and parses its output; returns (classes, qdiscs) found.
fn baseline() -> Result<(usize, usize)> {
    let out = Command::new("tc")
        .args(["-s", "-j", "qdisc", "show", "dev", "qa0"])
        .output()?;
    ensure!(out.status.success(), "tc qdisc show failed");
    let qdiscs = parse_qdiscs(std::str::from_utf8(&out.stdout)?)?;
    let out = Command::new("tc")
        .args(["-s", "class", "show", "dev", "qa0"])
        .output()?;
    ensure!(out.status.success(), "tc class show failed");
    let classes = parse_classes(std::str::from_utf8(&out.stdout)?)?;
    Ok((classes.len(), qdiscs.len()))
}

/// Only the qdisc JSON, which is all LibreQoS reads.
fn baseline_qdiscs_only() -> Result<usize> {
    let out = Command::new("tc")
        .args(["-s", "-j", "qdisc", "show", "dev", "qa0"])
        .output()?;
    ensure!(out.status.success(), "tc qdisc show failed");
    Ok(parse_qdiscs(std::str::from_utf8(&out.stdout)?)?.len())
}

fn main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("this benchmark needs root (network namespaces and tc)");
    }
    let n = env_usize("LQOS_BENCH_CLASSES", 10_000)?;
    let runs = env_usize("LQOS_BENCH_RUNS", 9)?.max(1);
    ensure!(
        (1..=60_000).contains(&n),
        "LQOS_BENCH_CLASSES must be 1..=60000"
    );

    let ns = NetNs::new("bench")?;
    ns.run(
        "ip",
        &["link", "add", "qa0", "type", "veth", "peer", "name", "qb0"],
    )?;
    ns.run("ip", &["link", "set", "qa0", "up"])?;
    ns.run("ip", &["link", "set", "qb0", "up"])?;
    let t = Instant::now();
    ns.tc_batch(&script(n))?;
    println!(
        "built {n} HTB classes with pfifo leaves (tc -batch) in {:.0} ms",
        ms(t.elapsed())
    );

    let mut reader = QueueReader::new_in_netns(ns.path())?;
    let ifindex = reader.ifindex("qa0")?;
    let warm = reader.dump(ifindex)?;
    ensure!(
        warm.classes.len() == n + 1 && warm.qdiscs.len() == n + 1,
        "dump found {} classes, {} qdiscs",
        warm.classes.len(),
        warm.qdiscs.len()
    );
    let mut netlink = Runs::new();
    for _ in 0..runs {
        let q = netlink.time(|| Ok(reader.dump(ifindex)?))?;
        ensure!(q.classes.len() == n + 1, "short dump");
    }

    let mut classes_only = Runs::new();
    for _ in 0..runs {
        let q = classes_only.time(|| Ok(reader.dump_classes_only(ifindex)?))?;
        ensure!(q.classes.len() == n + 1, "short class dump");
    }
    if env_usize("LQOS_BENCH_BASELINE", 1)? == 0 {
        netlink.report("netlink dump, classes + qdiscs", None);
        return Ok(());
    }
    let (both, qdiscs_only) = ns.in_ns(move || -> Result<_> {
        ensure!(baseline()? == (n + 1, n + 1), "tc found other counts");
        let mut both = Runs::new();
        let mut qdiscs_only = Runs::new();
        for _ in 0..runs {
            both.time(baseline)?;
            qdiscs_only.time(baseline_qdiscs_only)?;
        }
        Ok((both, qdiscs_only))
    })??;

    println!("classes {n}, runs {runs} (CPU: this thread plus the tc children)");
    netlink.report("netlink dump, classes + qdiscs", None);
    classes_only.report("netlink dump_classes_only", None);
    both.report(
        "fork tc -s class show + tc -s -j qdisc show, parse",
        Some(&netlink),
    );
    qdiscs_only.report(
        "fork tc -s -j qdisc show alone (LibreQoS), parse",
        Some(&netlink),
    );
    Ok(())
}
