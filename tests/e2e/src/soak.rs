//! The soak: lqosd and repeated `lqos-scheduler refresh` on a generated network, each cycle
//! changing about 1% of the circuits (added, removed, re-rated, re-addressed, devices moved
//! between circuits), with iperf3 flows through a few circuits of their own the whole time.
//! After every cycle the kernel must hold exactly the plan (classes, leaf qdiscs, IP map);
//! lqosd's resident memory is sampled after every cycle.
//!
//! Run by `tests/soak.rs` (short, in CI) and `scripts/soak.sh` (long, prints the figures).

use crate::dry_run::split_output;
use crate::kernel_state::KernelState;
use crate::testbed::{Flow, Testbed, Throughput, WIRE_PER_PAYLOAD};
use anyhow::{ensure, Context, Result};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakSpec {
    pub circuits: usize,
    pub cycles: usize,
    /// Circuits with an iperf3 flow through them (download, `FLOW_MBPS` each).
    pub flows: usize,
    pub seed: u64,
}

impl SoakSpec {
    /// From `LQOS_SOAK_CIRCUITS`, `LQOS_SOAK_CYCLES`, `LQOS_SOAK_FLOWS`, `LQOS_SOAK_SEED`,
    /// with the given defaults.
    pub fn from_env(circuits: usize, cycles: usize, flows: usize) -> SoakSpec {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        SoakSpec {
            circuits: var("LQOS_SOAK_CIRCUITS", circuits as u64) as usize,
            cycles: var("LQOS_SOAK_CYCLES", cycles as u64) as usize,
            flows: var("LQOS_SOAK_FLOWS", flows as u64) as usize,
            seed: var("LQOS_SOAK_SEED", 1),
        }
    }
}

/// Download rate of the flow circuits, Mbit/s.
pub const FLOW_MBPS: f64 = 20.0;
/// Seconds per iperf3 run; a flow is restarted when its run ends.
const FLOW_SECS: u32 = 20;

/// What a soak measured.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// lqosd's VmRSS (MiB) after each cycle.
    pub rss_mib: Vec<f64>,
    /// lqosd's own apply time (ms) of each cycle.
    pub apply_ms: Vec<u64>,
    /// Wall time of each refresh (ms).
    pub refresh_ms: Vec<u64>,
    /// 1 s windows of every flow, wire Mbit/s.
    pub flow_windows: Vec<f64>,
    /// Cycles after which the kernel was checked equal to the plan.
    pub checked: usize,
    /// Size of the plan at the end.
    pub final_state: String,
    pub changes: Changes,
    /// Flows that went unshaped or stalled.
    pub violations: Vec<String>,
}

/// Churn applied, by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Changes {
    pub added: usize,
    pub removed: usize,
    pub rerated: usize,
    pub readdressed: usize,
    pub moved: usize,
}

impl SoakReport {
    /// Least-squares slope of the RSS after the first `warmup` samples, in MiB per 100 cycles.
    pub fn rss_slope(&self, warmup: usize) -> f64 {
        slope(self.rss_mib.get(warmup..).unwrap_or_default()) * 100.0
    }

    pub fn print(&self, spec: &SoakSpec, took: Duration) {
        let warmup = self.rss_mib.len() / 10;
        let pct = |v: &[u64], p: f64| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.get(((v.len() as f64 - 1.0) * p) as usize)
                .copied()
                .unwrap_or(0)
        };
        let (lo, hi) = self
            .flow_windows
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &w| (lo.min(w), hi.max(w)));
        println!(
            "soak: {} circuits, {} cycles, {} flows, seed {}, {:.0} s",
            spec.circuits,
            self.checked,
            spec.flows,
            spec.seed,
            took.as_secs_f64()
        );
        println!("  changes: {:?}", self.changes);
        println!("  final plan: {}", self.final_state);
        println!(
            "  kernel equal to the plan after all {} cycles (classes, leaf qdiscs, IP map)",
            self.checked
        );
        println!(
            "  refresh wall ms: median {}, p95 {}, max {}; lqosd apply ms: median {}, p95 {}, max {}",
            pct(&self.refresh_ms, 0.5),
            pct(&self.refresh_ms, 0.95),
            pct(&self.refresh_ms, 1.0),
            pct(&self.apply_ms, 0.5),
            pct(&self.apply_ms, 0.95),
            pct(&self.apply_ms, 1.0)
        );
        let at = |i: usize| self.rss_mib.get(i).copied().unwrap_or(f64::NAN);
        println!(
            "  lqosd RSS MiB: after cycle 1 {:.1}, after warm-up ({warmup} cycles) {:.1}, end {:.1}, max {:.1}; slope after warm-up {:+.3} MiB per 100 cycles",
            at(0),
            at(warmup),
            at(self.rss_mib.len().saturating_sub(1)),
            self.rss_mib.iter().copied().fold(0.0, f64::max),
            self.rss_slope(warmup)
        );
        let step = (self.rss_mib.len() / 10).max(1);
        let series: Vec<String> = self
            .rss_mib
            .iter()
            .enumerate()
            .step_by(step)
            .map(|(i, r)| format!("{}:{r:.1}", i + 1))
            .collect();
        println!("  RSS over time (cycle:MiB): {}", series.join(" "));
        println!(
            "  flows: {} windows of 1 s, {lo:.1} to {hi:.1} Mbit/s on the wire (plan {FLOW_MBPS})",
            self.flow_windows.len()
        );
        for v in &self.violations {
            println!("  VIOLATION: {v}");
        }
    }
}

fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    if ys.len() < 2 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        num += (i as f64 - mx) * (y - my);
        den += (i as f64 - mx).powi(2);
    }
    num / den
}

/// splitmix64: reproducible choices from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// ShapedDevices.csv as rows of cells, with the column indices the churn needs.
struct Devices {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    col: Cols,
    next_addr: u32,
    next_id: usize,
}

struct Cols {
    circuit_id: usize,
    circuit_name: usize,
    device_id: usize,
    device_name: usize,
    parent: usize,
    parent_id: usize,
    ipv4: usize,
    ipv6: usize,
    rates: [usize; 4],
}

/// Columns that belong to the circuit (all its device rows carry the same values).
fn circuit_columns(c: &Cols) -> Vec<usize> {
    let mut v = vec![c.circuit_id, c.circuit_name, c.parent, c.parent_id];
    v.extend(c.rates);
    v
}

const FLOW_PREFIX: &str = "soak-flow-";

impl Devices {
    fn parse(text: &str) -> Result<Devices> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header: Vec<String> = records
            .next()
            .context("no header")??
            .iter()
            .map(str::to_owned)
            .collect();
        let norm = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let find = |name: &str| {
            header
                .iter()
                .position(|h| norm(h) == norm(name))
                .with_context(|| format!("no {name} column"))
        };
        let col = Cols {
            circuit_id: find("Circuit ID")?,
            circuit_name: find("Circuit Name")?,
            device_id: find("Device ID")?,
            device_name: find("Device Name")?,
            parent: find("Parent Node")?,
            parent_id: find("Parent Node ID")?,
            ipv4: find("IPv4")?,
            ipv6: find("IPv6")?,
            rates: [
                find("Download Min Mbps")?,
                find("Upload Min Mbps")?,
                find("Download Max Mbps")?,
                find("Upload Max Mbps")?,
            ],
        };
        // This kernel has neither cake nor fq_codel: leaves come from default_sqm.
        let sqm = header.iter().position(|h| norm(h) == "sqm");
        let mut rows = Vec::new();
        for r in records {
            let mut row: Vec<String> = r?.iter().map(str::to_owned).collect();
            row.resize(header.len(), String::new());
            if let Some(i) = sqm {
                row[i].clear();
            }
            rows.push(row);
        }
        Ok(Devices {
            header,
            rows,
            col,
            next_addr: 0,
            next_id: 0,
        })
    }

    fn render(&self) -> Result<String> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(&self.header)?;
        for r in &self.rows {
            w.write_record(r)?;
        }
        Ok(String::from_utf8(
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
        )?)
    }

    /// A fresh subscriber address from 10.240.0.0/12 (lqos-gen uses it only past millions).
    fn fresh_addr(&mut self) -> String {
        loop {
            let a = 0x0AF0_0000u32 + self.next_addr;
            self.next_addr += 1;
            let last = a & 0xff;
            if last != 0 && last != 255 {
                return std::net::Ipv4Addr::from(a).to_string();
            }
        }
    }

    /// A random row that belongs to a churnable circuit (not one carrying a flow).
    fn pick(&self, rng: &mut Rng) -> Option<usize> {
        for _ in 0..100 {
            let i = rng.below(self.rows.len());
            if !self.rows[i][self.col.circuit_id].starts_with(FLOW_PREFIX) {
                return Some(i);
            }
        }
        None
    }

    fn rows_of(&self, circuit: &str) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&i| self.rows[i][self.col.circuit_id] == circuit)
            .collect()
    }

    /// One change of a random kind.
    fn churn_one(&mut self, rng: &mut Rng, changes: &mut Changes) {
        let Some(i) = self.pick(rng) else { return };
        let id = self.rows[i][self.col.circuit_id].clone();
        let c = &self.col;
        match rng.below(5) {
            0 => {
                self.rows.retain(|r| r[c.circuit_id] != id);
                changes.removed += 1;
            }
            1 => {
                let mut row = self.rows[i].clone();
                self.next_id += 1;
                let new = format!("soak-new-{}", self.next_id);
                row[c.circuit_id] = new.clone();
                row[c.circuit_name] = format!("Soak {new}");
                row[c.device_id] = format!("{new}-d");
                row[c.device_name] = format!("{new}-d");
                row[c.ipv6] = format!("2001:db8:ffff:{:x}::/64", self.next_id);
                let addr = self.fresh_addr();
                row[self.col.ipv4] = addr;
                self.rows.push(row);
                changes.added += 1;
            }
            2 => {
                let down = [10, 25, 50, 100][rng.below(4)] as f64;
                let up = [5, 10, 20][rng.below(3)] as f64;
                let rates = [down / 2.0, up / 2.0, down, up].map(|r| r.to_string());
                for k in self.rows_of(&id) {
                    for (col, v) in self.col.rates.iter().zip(&rates) {
                        self.rows[k][*col] = v.clone();
                    }
                }
                changes.rerated += 1;
            }
            3 => {
                let addr = self.fresh_addr();
                self.rows[i][self.col.ipv4] = addr;
                changes.readdressed += 1;
            }
            _ => {
                // The device (and its addresses) goes to another circuit; only from circuits
                // with more than one, so that the number of circuits stays put.
                let Some(j) = self.pick(rng) else { return };
                if self.rows[j][c.circuit_id] == id || self.rows_of(&id).len() < 2 {
                    return;
                }
                for col in circuit_columns(&self.col) {
                    self.rows[i][col] = self.rows[j][col].clone();
                }
                changes.moved += 1;
            }
        }
    }
}

/// Writes `text` to `path` atomically (as the integrations do), dated 2 s ago: the soak is
/// not about half-written files, so the scheduler need not wait for the file to go quiet.
fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("soak-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::File::options()
        .write(true)
        .open(&tmp)?
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(2))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// lqosd's VmRSS in MiB.
pub fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

/// The kernel against the scheduler's dry run of the same inputs and class ids.
pub fn check_kernel(tb: &Testbed) -> Result<KernelState> {
    let out = tb.scheduler(&["refresh", "--dry-run"])?;
    ensure!(
        out.status.success(),
        "dry run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned = KernelState::planned(&split_output(&String::from_utf8_lossy(&out.stdout))?)?;
    let live = KernelState::live(
        &tb.shaper,
        &["lqi", "lqn"],
        &tb.bpffs.join("pins").join(lqos_ebpf::MAP_IP),
    )?;
    let diff = planned.differences(&live, 20);
    ensure!(
        diff.is_empty(),
        "the kernel differs from the plan ({}):\n{}",
        planned.summary(),
        diff.join("\n")
    );
    Ok(planned)
}

/// 1 s windows (pairs of iperf3's 0.5 s intervals) of a flow, wire Mbit/s.
fn windows(t: &Throughput) -> Vec<f64> {
    t.intervals_bps
        .chunks_exact(2)
        .map(|p| (p[0] + p[1]) / 2.0 * WIRE_PER_PAYLOAD / 1e6)
        .collect()
}

/// Checks and keeps the windows of a finished flow: never unshaped (no second above 1.5x the
/// plan), never stalled (no second under a tenth of it). The first second of each run is
/// left out: iperf3 counts at the sender, and TCP filling its socket buffer shows there as a
/// burst that never reached the wire (as in the restart test).
fn collect(flow: Flow, addr: &str, cycle: usize, report: &mut SoakReport) -> Result<()> {
    let w = windows(&flow.finish()?);
    let w = w.get(1..).unwrap_or_default();
    if let Some(bad) = w.iter().find(|&&x| x > FLOW_MBPS * 1.5) {
        report.violations.push(format!("by cycle {cycle}, the flow to {addr} went unshaped: {bad:.1} Mbit/s in one second, plan {FLOW_MBPS}: {w:.1?}"));
    }
    if let Some(bad) = w.iter().find(|&&x| x < FLOW_MBPS * 0.1) {
        report.violations.push(format!(
            "by cycle {cycle}, the flow to {addr} stalled: {bad:.1} Mbit/s in one second: {w:.1?}"
        ));
    }
    report.flow_windows.extend(w);
    Ok(())
}

/// Runs the soak; fails at the first cycle whose kernel state differs from the plan, or when a
/// flow went unshaped or stalled.
pub fn run(spec: &SoakSpec) -> Result<SoakReport> {
    let g = lqos_gen::generate(&lqos_gen::GenSpec {
        seed: spec.seed,
        ..lqos_gen::GenSpec::new(spec.circuits)
    });
    let mut devices = Devices::parse(&g.shaped_devices_csv)?;
    let mut tb = Testbed::new("soak")?;
    let flow_addrs: Vec<String> = (1..=spec.flows)
        .map(|k| format!("100.64.250.{k}"))
        .collect();
    // The flows' addresses are theirs alone.
    let v4 = devices.col.ipv4;
    devices.rows.retain(|r| {
        !r[v4]
            .split(',')
            .any(|a| a.trim().starts_with("100.64.250."))
    });
    for (k, addr) in flow_addrs.iter().enumerate() {
        tb.add_subscriber_addr(&format!("{addr}/16"))?;
        let id = format!("{FLOW_PREFIX}{}", k + 1);
        let mut row = vec![String::new(); devices.header.len()];
        let c = &devices.col;
        row[c.circuit_id] = id.clone();
        row[c.circuit_name] = id.clone();
        row[c.device_id] = format!("{id}-d");
        row[c.device_name] = format!("{id}-d");
        row[c.ipv4] = addr.clone();
        for (col, v) in c.rates.iter().zip([FLOW_MBPS / 2.0, 5.0, FLOW_MBPS, 10.0]) {
            row[*col] = v.to_string();
        }
        devices.rows.push(row);
    }
    tb.write_inputs(&g.network_json, &devices.render()?, "")?;
    let csv_path = tb.dir.join("ShapedDevices.csv");
    tb.start_lqosd()?;
    let first = tb.refresh()?;
    ensure!(first.contains("applied generation"), "{first}");
    check_kernel(&tb).context("after the first full apply")?;
    let pid = tb.lqosd_pid().context("lqosd pid")?;

    let mut report = SoakReport::default();
    let mut rng = Rng(spec.seed);
    let mut flows: Vec<Option<Flow>> = Vec::new();
    for a in &flow_addrs {
        flows.push(Some(tb.start_flow(a, false, FLOW_SECS)?));
    }
    let per_cycle = (spec.circuits / 100).max(1);
    for cycle in 1..=spec.cycles {
        for _ in 0..per_cycle {
            devices.churn_one(&mut rng, &mut report.changes);
        }
        write_atomic(&csv_path, &devices.render()?)?;
        let started = Instant::now();
        let out = tb.refresh().with_context(|| format!("cycle {cycle}"))?;
        report.refresh_ms.push(started.elapsed().as_millis() as u64);
        let lqosd_ms = out
            .lines()
            .find(|l| l.starts_with("applied generation"))
            .and_then(|l| l.split("(lqosd ").nth(1)?.split(' ').next()?.parse().ok());
        report.apply_ms.push(lqosd_ms.unwrap_or(0));
        let state = check_kernel(&tb).with_context(|| format!("after cycle {cycle}"))?;
        report.checked = cycle;
        report.final_state = state.summary();
        report.rss_mib.push(rss_mib(pid)?);
        for (slot, addr) in flows.iter_mut().zip(&flow_addrs) {
            if slot.as_mut().is_some_and(Flow::done) {
                if let Some(f) = slot.take() {
                    collect(f, addr, cycle, &mut report)?;
                }
                *slot = Some(tb.start_flow(addr, false, FLOW_SECS)?);
            }
        }
        if cycle % 25 == 0 {
            eprintln!(
                "soak: cycle {cycle}/{}: {}, lqosd RSS {:.1} MiB",
                spec.cycles,
                report.final_state,
                report.rss_mib.last().unwrap_or(&0.0)
            );
        }
    }
    for (slot, addr) in flows.iter_mut().zip(&flow_addrs) {
        if let Some(f) = slot.take() {
            collect(f, addr, spec.cycles, &mut report)?;
        }
    }
    Ok(report)
}
