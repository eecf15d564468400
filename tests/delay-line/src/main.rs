//! `lqos-delay-line`: a delay line for tests on kernels without netem. It moves packets
//! between two TUN devices, usually in two network namespaces, holding each direction for a
//! fixed one-way delay, and can drop every Nth TCP data packet of one direction (never a pure
//! ACK, so TCP recovers by retransmitting).
//!
//! ```text
//! lqos-delay-line --ns-a inet --dev-a dl0 --addr-a 100.65.0.2/30 \
//!                 --ns-b far  --dev-b dl1 --addr-b 100.65.0.1/30 \
//!                 --delay-ms-a2b 20 --delay-ms-b2a 20 [--drop-every 50 --drop-dir a2b]
//! ```
//!
//! It prints `ready` on stdout once both devices are up (routes are the caller's business:
//! `ip route add ... dev dl0`), its counters on SIGUSR1, and on SIGTERM or SIGINT its
//! counters again before exiting 0. The devices vanish with the process.

mod clock;
mod line;
mod packet;
mod tun;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Moves packets between two TUN devices after a fixed one-way delay per direction.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Network namespace of device A (a name under /run/netns or a path); default: this one.
    #[arg(long)]
    ns_a: Option<String>,
    /// Name of device A.
    #[arg(long)]
    dev_a: String,
    /// An address for device A (CIDR; repeat for more).
    #[arg(long)]
    addr_a: Vec<String>,
    /// Network namespace of device B (a name under /run/netns or a path); default: this one.
    #[arg(long)]
    ns_b: Option<String>,
    /// Name of device B.
    #[arg(long)]
    dev_b: String,
    /// An address for device B (CIDR; repeat for more).
    #[arg(long)]
    addr_b: Vec<String>,
    /// One-way delay from A to B, in milliseconds (fractions allowed: 0.25 is 250 us).
    #[arg(long, default_value = "0", value_parser = delay_ms)]
    delay_ms_a2b: Duration,
    /// One-way delay from B to A, in milliseconds.
    #[arg(long, default_value = "0", value_parser = delay_ms)]
    delay_ms_b2a: Duration,
    /// Drop every Nth packet carrying TCP payload in the direction --drop-dir.
    #[arg(long, requires = "drop_dir", value_parser = clap::value_parser!(u64).range(1..))]
    drop_every: Option<u64>,
    /// The direction whose TCP data --drop-every drops.
    #[arg(long, requires = "drop_every")]
    drop_dir: Option<Dir>,
    /// MTU of both devices (equal to the links around them, so nothing fragments).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u32).range(68..=65535))]
    mtu: u32,
    /// Packets held per direction at most; more are dropped and counted as overflow.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    queue_limit: u64,
    /// Drop arriving packets (counted as overflow) while the line is more than this many
    /// milliseconds behind its schedule: its buffer when the machine cannot keep up.
    #[arg(long, default_value = "50", value_parser = delay_ms)]
    max_backlog_ms: Duration,
    /// SCHED_FIFO priority of the threads moving packets, so that a busy machine does not make
    /// them late (0: the normal scheduler).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=99))]
    priority: i32,
    /// Exit (as on SIGTERM) when the process that started this one ends.
    #[arg(long)]
    exit_with_parent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Dir {
    A2b,
    B2a,
}

/// Parses a delay in milliseconds: finite, not negative, at most a minute.
fn delay_ms(s: &str) -> Result<Duration, String> {
    let ms: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of milliseconds"))?;
    if !ms.is_finite() || !(0.0..=60_000.0).contains(&ms) {
        return Err(format!("delay {s} ms must be between 0 and 60000"));
    }
    Ok(Duration::from_nanos((ms * 1e6).round() as u64))
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lqos-delay-line: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    // The signals are taken by sigtimedwait below; blocked before any thread starts, so
    // every thread inherits the mask and none of them is interrupted.
    let signals = signal_set(&[libc::SIGTERM, libc::SIGINT, libc::SIGUSR1]);
    // SAFETY: a valid signal set; changes only this thread's mask (inherited by new threads).
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };
    if args.exit_with_parent {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            )
        };
    }
    let spec = |netns: &Option<String>, dev: &String, addrs: &Vec<String>| tun::Spec {
        netns: netns.clone(),
        dev: dev.clone(),
        addrs: addrs.clone(),
        mtu: args.mtu,
    };
    let a = Arc::new(
        tun::create(&spec(&args.ns_a, &args.dev_a, &args.addr_a))
            .with_context(|| format!("device A ({})", args.dev_a))?,
    );
    let b = Arc::new(
        tun::create(&spec(&args.ns_b, &args.dev_b, &args.addr_b))
            .with_context(|| format!("device B ({})", args.dev_b))?,
    );
    let priority = if args.priority > 0 {
        match clock::wake_on_time(args.priority) {
            Ok(()) => args.priority,
            Err(e) => {
                eprintln!(
                    "lqos-delay-line: no real-time priority ({e}): packets may be late on a busy machine"
                );
                0
            }
        }
    } else {
        0
    };
    let direction = |name, delay: Duration, dir| line::Direction {
        name,
        delay_ns: delay.as_nanos() as u64,
        drop_every: args.drop_every.filter(|_| args.drop_dir == Some(dir)),
        queue_limit: args.queue_limit as usize,
        max_backlog_ns: args.max_backlog_ms.as_nanos() as u64,
        priority,
    };
    let (a2b, b2a) = (
        Arc::new(line::Stats::default()),
        Arc::new(line::Stats::default()),
    );
    let mut threads = Vec::new();
    threads.extend(line::spawn(
        &direction("a2b", args.delay_ms_a2b, Dir::A2b),
        a.clone(),
        b.clone(),
        a2b.clone(),
    )?);
    threads.extend(line::spawn(
        &direction("b2a", args.delay_ms_b2a, Dir::B2a),
        b,
        a,
        b2a.clone(),
    )?);
    let summary = || format!("{} {}", a2b.summary("a2b"), b2a.summary("b2a"));
    println!("ready");
    std::io::stdout().flush()?;
    loop {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        // SAFETY: a valid set and timeout; no siginfo is asked for.
        let sig = unsafe { libc::sigtimedwait(&signals, std::ptr::null_mut(), &timeout) };
        match sig {
            libc::SIGUSR1 => println!("{}", summary()),
            libc::SIGTERM | libc::SIGINT => {
                println!("{}", summary());
                return Ok(());
            }
            _ => {
                if let Some(t) = threads.iter().find(|t| t.is_finished()) {
                    println!("{}", summary());
                    bail!(
                        "thread {} ended: the line is broken",
                        t.thread().name().unwrap_or("?")
                    );
                }
            }
        }
        std::io::stdout().flush()?;
    }
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid sigset_t and valid signal numbers.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_parse_to_microseconds_and_bad_ones_are_refused() {
        assert_eq!(delay_ms("20").unwrap(), Duration::from_millis(20));
        assert_eq!(delay_ms("0.25").unwrap(), Duration::from_micros(250));
        assert_eq!(delay_ms("0").unwrap(), Duration::ZERO);
        for bad in ["-1", "NaN", "inf", "x", "60001", ""] {
            assert!(delay_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_needs_both_devices_and_a_drop_rule_needs_a_direction() {
        let ok = Args::try_parse_from([
            "lqos-delay-line",
            "--dev-a",
            "dl0",
            "--dev-b",
            "dl1",
            "--delay-ms-a2b",
            "1.5",
            "--drop-every",
            "50",
            "--drop-dir",
            "b2a",
        ])
        .unwrap();
        assert_eq!(ok.delay_ms_a2b, Duration::from_micros(1500));
        assert_eq!(ok.delay_ms_b2a, Duration::ZERO);
        assert_eq!((ok.drop_every, ok.drop_dir), (Some(50), Some(Dir::B2a)));
        for bad in [
            &["lqos-delay-line", "--dev-a", "dl0"][..],
            &[
                "lqos-delay-line",
                "--dev-a",
                "a",
                "--dev-b",
                "b",
                "--drop-every",
                "5",
            ],
            &[
                "lqos-delay-line",
                "--dev-a",
                "a",
                "--dev-b",
                "b",
                "--drop-dir",
                "a2b",
            ],
            &[
                "lqos-delay-line",
                "--dev-a",
                "a",
                "--dev-b",
                "b",
                "--drop-every",
                "0",
                "--drop-dir",
                "a2b",
            ],
            &[
                "lqos-delay-line",
                "--dev-a",
                "a",
                "--dev-b",
                "b",
                "--drop-every",
                "5",
                "--drop-dir",
                "up",
            ],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
