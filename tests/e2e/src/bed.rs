//! Helpers shared by the end-to-end test files: the serial lock for throughput tests, the
//! network used by most tests, comparing rates, and asking the test bed's tools.

use crate::testbed::{Testbed, CSV_HEADER};
use anyhow::{ensure, Result};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

/// Throughput tests take this: two iperf3 runs at once on 2 cores measure the CPU.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub const NET: &str = r#"{"Site": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000, "children": {
    "Capped": {"downloadBandwidthMbps": 60, "uploadBandwidthMbps": 30}}}}"#;

pub fn within(measured: f64, planned: f64, tolerance: f64) -> bool {
    (measured - planned).abs() <= planned * tolerance
}

/// Shaped testbed with these circuit rows, lqosd running and one refresh applied.
pub fn shaped(label: &str, rows: &[String], addrs: &[&str]) -> Result<Testbed> {
    let mut tb = Testbed::new(label)?;
    for a in addrs {
        tb.add_subscriber_addr(a)?;
    }
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", rows.concat()), "")?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    Ok(tb)
}

pub fn class_id_of(tb: &Testbed, circuit: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(tb.dir.join("state/classids.json"))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(v["circuits"][circuit].clone())
}

/// `class htb` lines of `tc class show` on the shaper's two interfaces, sorted, for comparing
/// the live trees before and after.
pub fn live_tree(tb: &Testbed) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for dev in ["lqi", "lqn"] {
        let out = tb.shaper.run("tc", &["class", "show", "dev", dev])?;
        lines.extend(
            out.lines()
                .filter(|l| l.starts_with("class htb"))
                .map(|l| format!("{dev} {}", l.trim())),
        );
    }
    lines.sort();
    Ok(lines)
}

/// `lqos <args>` against the test bed's lqosd; its stdout.
pub fn lqos(tb: &Testbed, args: &[&str]) -> Result<String> {
    let config = tb.config();
    let mut full = vec!["--config", config.to_str().unwrap_or("")];
    full.extend_from_slice(args);
    let out = tb
        .shaper
        .exec(crate::bin_path("lqos").to_str().unwrap_or("lqos"), &full)?;
    ensure!(
        out.status.success() || out.status.code() == Some(3),
        "lqos {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `ready` every 200 ms until it says yes (`Ok(true)`) or `timeout` passes (`Ok(false)`).
pub fn wait_until(
    timeout: std::time::Duration,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if ready()? {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A flow's rate per 1 s window in Mbit/s on the wire, without the first (still ramping up):
/// 0.5 s windows alias with TCP's bursts and with a refresh's CPU use on 2 cores.
pub fn one_second_windows(flow: &crate::testbed::Throughput) -> Vec<f64> {
    flow.intervals_bps
        .chunks_exact(2)
        .skip(1)
        .map(|p| (p[0] + p[1]) / 2.0 * crate::testbed::WIRE_PER_PAYLOAD / 1e6)
        .collect()
}

/// lqosd's `/metrics` (Prometheus text), fetched in the shaper's namespace.
pub fn metrics(tb: &Testbed) -> Result<String> {
    tb.shaper.run(
        "curl",
        &["-sS", "--max-time", "5", "http://127.0.0.1:9123/metrics"],
    )
}
