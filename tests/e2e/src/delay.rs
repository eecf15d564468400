//! Known delays on both sides of the shaper, with `lqos-delay-line` (this kernel has no netem):
//! a remote server `far` behind the Internet host and a subscriber's `cpe` behind the
//! subscribers' host, each through a delay line of its own, so that a flow between `cpe` and
//! `far` crosses the subscriber-side delay, the shaper and the Internet-side delay.
//!
//! ```text
//!  far ns              inet ns                shaper ns     subs ns               cpe ns
//!  dlf1 <-[Internet]-> dlf0  eth0 <--veth--> lqi br0 lqn <--> eth0  dlc0 <-[subscriber]-> dlc1
//!  100.65.0.1/30       100.65.0.2/30          (lqosd)             100.66.0.2/30   100.66.0.1/30
//!  fd00:1:65::1/64     (routes 100.66.0.0/30 via subs)      (routes 100.65.0.0/30 via inet)
//! ```
//!
//! `inet` and `subs` route (forwarding on); the shaper stays a transparent bridge. The cpe
//! address ([`CPE_V4`], [`CPE_V6`]) is what ShapedDevices.csv must map to a circuit for the
//! flows to be shaped and tracked. Every address is CGNAT or ULA space.

use crate::testbed::Testbed;
use crate::{bin_path, NetNs};
use anyhow::{bail, ensure, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// The remote server's address (in `far`).
pub const FAR_V4: &str = "100.65.0.1";
/// The remote server's IPv6 address (in `far`).
pub const FAR_V6: &str = "fd00:1:65::1";
/// The subscriber's address (in `cpe`): map it to a circuit in ShapedDevices.csv.
pub const CPE_V4: &str = "100.66.0.1";
/// The subscriber's IPv6 address (in `cpe`).
pub const CPE_V6: &str = "fd00:1:66::1";

/// Which delay line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Between `inet` and `far`.
    Internet,
    /// Between `subs` and `cpe`.
    Subscriber,
}

/// Which way data travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// Download: from `far` to `cpe`.
    Subscriber,
    /// Upload: from `cpe` to `far`.
    Internet,
}

/// Drop every `every`th TCP data packet (never a pure ACK) travelling `toward` on the line of
/// `side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataDrop {
    pub every: u64,
    pub side: Side,
    pub toward: Toward,
}

/// The delays (one way, the same both ways on a line) and the drop rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayOptions {
    pub internet_one_way: Duration,
    pub subscriber_one_way: Duration,
    pub drop: Option<DataDrop>,
}

impl Default for DelayOptions {
    /// 20 ms one way on the Internet side, 10 ms on the subscriber side, no drops.
    fn default() -> Self {
        Self {
            internet_one_way: Duration::from_millis(20),
            subscriber_one_way: Duration::from_millis(10),
            drop: None,
        }
    }
}

/// One running `lqos-delay-line`: stopped (SIGKILL) on drop; [`DelayLine::stop`] stops it
/// cleanly and returns its counters.
pub struct DelayLine {
    child: Option<Child>,
    lines: Receiver<String>,
    what: String,
}

/// A delay line's counters (`a2b_packets`, `b2a_dropped`, `a2b_late_p99_us`, ...).
#[derive(Debug, Clone, Default)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// Parses the `key=value ...` line the delay line prints.
    pub fn parse(line: &str) -> Result<Counters> {
        let mut map = BTreeMap::new();
        for pair in line.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("not key=value: {pair:?} in {line:?}"))?;
            map.insert(
                k.to_owned(),
                v.parse().with_context(|| format!("{pair:?}"))?,
            );
        }
        ensure!(map.contains_key("a2b_packets"), "no counters in {line:?}");
        Ok(Counters(map))
    }

    /// A counter; 0 when absent.
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }
}

impl DelayLine {
    /// Starts `lqos-delay-line` with `args` (see its `--help`) and waits for its `ready`.
    /// It exits when the calling thread ends (`--exit-with-parent`): start it from the
    /// thread that owns it (a test's own thread).
    pub fn start(args: &[&str]) -> Result<DelayLine> {
        let what = format!("lqos-delay-line {}", args.join(" "));
        let mut child = Command::new(bin_path("lqos-delay-line"))
            .args(args)
            .arg("--exit-with-parent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let (tx, lines) = channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut line = DelayLine {
            child: Some(child),
            lines,
            what,
        };
        line.expect_line(Duration::from_secs(10), |l| l == "ready")?;
        Ok(line)
    }

    /// Waits for an output line that `want` accepts; other lines (warnings) are printed.
    fn expect_line(&mut self, limit: Duration, want: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + limit;
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return Ok(line),
                Ok(line) => {
                    eprintln!("{line}");
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(_) => {
                    let status = self.child.as_mut().map(|c| c.try_wait());
                    bail!(
                        "{}: no answer within {limit:?} ({status:?}):\n{seen}",
                        self.what
                    )
                }
            }
        }
    }

    /// The counters now (SIGUSR1), while it keeps running.
    pub fn counters(&mut self) -> Result<Counters> {
        self.signal("-USR1")?;
        let line = self.expect_line(Duration::from_secs(5), |l| l.starts_with("a2b_"))?;
        Counters::parse(&line)
    }

    /// Stops it with SIGTERM; it must exit 0. Its last counters.
    pub fn stop(mut self) -> Result<Counters> {
        self.signal("-TERM")?;
        let line = self.expect_line(Duration::from_secs(5), |l| l.starts_with("a2b_"))?;
        let mut child = self.child.take().context("already stopped")?;
        let status = child.wait()?;
        ensure!(status.success(), "{} exited with {status}", self.what);
        Counters::parse(&line)
    }

    fn signal(&self, sig: &str) -> Result<()> {
        let child = self.child.as_ref().context("already stopped")?;
        let ok = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()?
            .success();
        ensure!(ok, "kill {sig} {} failed", self.what);
        Ok(())
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The two delay lines around a [`Testbed`], their namespaces and the routes through them.
/// Dropping it stops the lines and deletes `far` and `cpe` (routes in `inet` and `subs` go
/// with their namespaces).
pub struct DelayedBed {
    /// The remote server's namespace.
    pub far: NetNs,
    /// The subscriber's namespace.
    pub cpe: NetNs,
    pub options: DelayOptions,
    internet_line: Option<DelayLine>,
    subscriber_line: Option<DelayLine>,
    port: std::sync::atomic::AtomicU16,
}

/// What `ping` measured, in milliseconds.
#[derive(Debug, Clone)]
pub struct PingStats {
    /// Every reply's round trip, in the order received.
    pub rtts_ms: Vec<f64>,
    /// Requests sent.
    pub sent: usize,
}

impl PingStats {
    /// The `q` quantile (0..=1, nearest rank) of the round trips.
    pub fn quantile(&self, q: f64) -> f64 {
        let mut v = self.rtts_ms.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    pub fn min(&self) -> f64 {
        self.quantile(0.0)
    }

    pub fn max(&self) -> f64 {
        self.quantile(1.0)
    }
}

/// What an iperf3 run between `cpe` and `far` reported.
#[derive(Debug, Clone)]
pub struct TcpRun {
    /// The sender's retransmits (`end.sum_sent.retransmits`).
    pub retransmits: u64,
    /// TCP payload received, in bit/s.
    pub received_bps: f64,
    /// The whole JSON report.
    pub json: serde_json::Value,
}

impl Testbed {
    /// Adds `far` behind the Internet host and `cpe` behind the subscribers' host, each through
    /// a delay line (see [`crate::delay`]). The shaper must map [`CPE_V4`] (and [`CPE_V6`] for
    /// IPv6) to a circuit for the path to be shaped.
    pub fn add_delay_lines(&self, options: DelayOptions) -> Result<DelayedBed> {
        let dual_stack = self.switch.is_none();
        let (far, cpe) = (NetNs::new()?, NetNs::new()?);
        let ms = |d: Duration| format!("{}", d.as_secs_f64() * 1000.0);
        let (i, s) = (ms(options.internet_one_way), ms(options.subscriber_one_way));
        // A line's A end is toward the shaper (inet, subs), its B end the far host or the cpe.
        let drop_args = |side: Side| -> Vec<String> {
            match options.drop {
                Some(d) if d.side == side => {
                    let dir = match (side, d.toward) {
                        (Side::Internet, Toward::Subscriber) => "b2a",
                        (Side::Internet, Toward::Internet) => "a2b",
                        (Side::Subscriber, Toward::Subscriber) => "a2b",
                        (Side::Subscriber, Toward::Internet) => "b2a",
                    };
                    vec![
                        "--drop-every".into(),
                        d.every.to_string(),
                        "--drop-dir".into(),
                        dir.into(),
                    ]
                }
                _ => Vec::new(),
            }
        };
        let line = |a: &NetNs,
                    dev_a,
                    addr_a: [&str; 2],
                    b: &NetNs,
                    dev_b,
                    addr_b: [&str; 2],
                    delay: &str,
                    side| {
            let mut args: Vec<String> = [
                "--ns-a",
                a.name(),
                "--dev-a",
                dev_a,
                "--addr-a",
                addr_a[0],
                "--ns-b",
                b.name(),
                "--dev-b",
                dev_b,
                "--addr-b",
                addr_b[0],
                "--delay-ms-a2b",
                delay,
                "--delay-ms-b2a",
                delay,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if dual_stack {
                args.extend(["--addr-a", addr_a[1], "--addr-b", addr_b[1]].map(String::from));
            }
            args.extend(drop_args(side));
            DelayLine::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let internet_line = line(
            &self.inet,
            "dlf0",
            ["100.65.0.2/30", "fd00:1:65::2/64"],
            &far,
            "dlf1",
            ["100.65.0.1/30", "fd00:1:65::1/64"],
            &i,
            Side::Internet,
        )?;
        let subscriber_line = line(
            &self.subs,
            "dlc0",
            ["100.66.0.2/30", "fd00:1:66::2/64"],
            &cpe,
            "dlc1",
            ["100.66.0.1/30", "fd00:1:66::1/64"],
            &s,
            Side::Subscriber,
        )?;
        // far and cpe send everything into their line; inet and subs route between the line
        // and the shaper's link.
        far.run("ip", &["route", "add", "default", "dev", "dlf1"])?;
        cpe.run("ip", &["route", "add", "default", "dev", "dlc1"])?;
        self.inet.run(
            "ip",
            &["route", "replace", "100.66.0.0/30", "via", "100.64.0.2"],
        )?;
        self.subs.run(
            "ip",
            &["route", "replace", "100.65.0.0/30", "via", "100.64.0.1"],
        )?;
        for ns in [&self.inet, &self.subs] {
            ns.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        }
        if dual_stack {
            far.run("ip", &["-6", "route", "add", "default", "dev", "dlf1"])?;
            cpe.run("ip", &["-6", "route", "add", "default", "dev", "dlc1"])?;
            self.inet.run(
                "ip",
                &[
                    "-6",
                    "route",
                    "replace",
                    "fd00:1:66::/64",
                    "via",
                    "fd00:64::2",
                ],
            )?;
            self.subs.run(
                "ip",
                &[
                    "-6",
                    "route",
                    "replace",
                    "fd00:1:65::/64",
                    "via",
                    "fd00:64::1",
                ],
            )?;
            for ns in [&self.inet, &self.subs] {
                ns.run("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"])?;
            }
        }
        Ok(DelayedBed {
            far,
            cpe,
            options,
            internet_line: Some(internet_line),
            subscriber_line: Some(subscriber_line),
            port: std::sync::atomic::AtomicU16::new(0),
        })
    }
}

impl DelayedBed {
    /// The remote server's IPv4 address.
    pub fn far_addr(&self) -> &'static str {
        FAR_V4
    }

    /// The subscriber's IPv4 address.
    pub fn cpe_addr(&self) -> &'static str {
        CPE_V4
    }

    /// The configured round trip between `cpe` and `far`: twice both one-way delays.
    pub fn round_trip(&self) -> Duration {
        self.internet_rtt() + self.subscriber_rtt()
    }

    /// The configured round trip on the Internet side (the shaper to `far` and back).
    pub fn internet_rtt(&self) -> Duration {
        self.options.internet_one_way * 2
    }

    /// The configured round trip on the subscriber side (the shaper to `cpe` and back).
    pub fn subscriber_rtt(&self) -> Duration {
        self.options.subscriber_one_way * 2
    }

    fn line_mut(&mut self, side: Side) -> Result<&mut DelayLine> {
        match side {
            Side::Internet => self.internet_line.as_mut(),
            Side::Subscriber => self.subscriber_line.as_mut(),
        }
        .context("that delay line was stopped")
    }

    /// A line's counters now. Its A end is toward the shaper: on the Internet line `a2b` is
    /// upload and `b2a` download, on the subscriber line the other way round.
    pub fn counters(&mut self, side: Side) -> Result<Counters> {
        self.line_mut(side)?.counters()
    }

    /// Stops a line cleanly (it must exit 0); its last counters.
    pub fn stop_line(&mut self, side: Side) -> Result<Counters> {
        let line = match side {
            Side::Internet => self.internet_line.take(),
            Side::Subscriber => self.subscriber_line.take(),
        };
        line.context("that delay line was stopped")?.stop()
    }

    /// `ping -c count -i interval` from `cpe` to `to` (an address in `far`, or any other).
    pub fn ping(&self, to: &str, count: u32, interval: Duration) -> Result<PingStats> {
        let out = self.cpe.exec(
            "ping",
            &[
                "-n",
                "-c",
                &count.to_string(),
                "-i",
                &format!("{}", interval.as_secs_f64()),
                "-W",
                "2",
                to,
            ],
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        let rtts_ms: Vec<f64> = text
            .lines()
            .filter_map(|l| {
                l.split_once("time=")?
                    .1
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        ensure!(
            !rtts_ms.is_empty(),
            "ping {to} from cpe: no reply ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(PingStats {
            rtts_ms,
            sent: count as usize,
        })
    }

    /// An iperf3 TCP run of `secs` seconds between `cpe` (client) and an iperf3 server on
    /// `far` at `rate` (iperf3's `-b`, e.g. `20M`): data from `cpe` to `far` (upload), or
    /// with `download` from `far` to `cpe`. Fails unless iperf3 succeeds.
    pub fn iperf3(&self, secs: u32, rate: &str, download: bool) -> Result<TcpRun> {
        let port =
            (5301 + self.port.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).to_string();
        let mut server = ServerGuard(
            self.far
                .command("iperf3", &["-s", "-1", "-B", FAR_V4, "-p", &port])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start iperf3 -s in far")?,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while self
            .far
            .run("ss", &["-Hltn", "sport", "=", &format!(":{port}")])?
            .trim()
            .is_empty()
        {
            ensure!(
                Instant::now() < deadline,
                "iperf3 server in far did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let t = secs.to_string();
        let mut args = vec!["-c", FAR_V4, "-p", &port, "-t", &t, "-b", rate, "-J"];
        if download {
            args.push("-R");
        }
        let out = self.cpe.exec("iperf3", &args)?;
        let _ = server.0.wait();
        ensure!(
            out.status.success(),
            "iperf3 {args:?} from cpe failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("iperf3's JSON")?;
        let retransmits = json["end"]["sum_sent"]["retransmits"]
            .as_u64()
            .context("no end.sum_sent.retransmits in iperf3's report")?;
        let received_bps = json["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .context("no end.sum_received.bits_per_second in iperf3's report")?;
        Ok(TcpRun {
            retransmits,
            received_bps,
            json,
        })
    }
}

/// A shaped test bed ([`crate::bed::shaped`]: lqosd running, one refresh applied) whose
/// ShapedDevices.csv holds `rows` (one of them should map [`CPE_V4`]), with delay lines
/// around it. Drop the pair as a whole.
pub fn shaped_with_delays(
    label: &str,
    rows: &[String],
    options: DelayOptions,
) -> Result<(Testbed, DelayedBed)> {
    let tb = crate::bed::shaped(label, rows, &[])?;
    let delayed = tb.add_delay_lines(options)?;
    Ok((tb, delayed))
}

/// Kills an iperf3 server left behind by a failed run.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for DelayedBed {
    fn drop(&mut self) {
        // The lines first (their devices hold references to far and cpe), then the
        // namespaces with their own drops.
        self.internet_line.take();
        self.subscriber_line.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_and_bad_lines_are_refused() {
        let c = Counters::parse("a2b_packets=3 a2b_dropped=1 b2a_packets=7").unwrap();
        assert_eq!((c.get("a2b_packets"), c.get("b2a_packets")), (3, 7));
        assert_eq!(c.get("nope"), 0);
        assert!(Counters::parse("ready").is_err());
        assert!(Counters::parse("a2b_packets=x").is_err());
        assert!(Counters::parse("b2a_packets=1").is_err());
    }

    #[test]
    fn ping_quantiles_are_nearest_rank() {
        let p = PingStats {
            rtts_ms: vec![5.0, 1.0, 3.0, 2.0, 4.0],
            sent: 5,
        };
        assert_eq!((p.min(), p.quantile(0.5), p.max()), (1.0, 3.0, 5.0));
        assert_eq!(p.quantile(0.9), 5.0);
    }
}
