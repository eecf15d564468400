//! Passive RTT and retransmits against known truths: delay lines (the kernel has no netem)
//! put a fixed delay on each side of the shaper, iperf3 runs through a circuit well below its
//! ceiling, and the shaper's figures (`lqos circuit ID --json`) must match the configured
//! round trips within ±10%, each on its own side; data dropped on one side shows up as
//! retransmits in that direction only.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::{lqos, serial};
use lqos_e2e::delay::{shaped_with_delays, DataDrop, DelayOptions, Side, Toward, CPE_V4, CPE_V6};
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed};
use serde_json::Value;
use std::time::Duration;

fn circuit(tb: &Testbed) -> Result<Value> {
    let text = lqos(tb, &["circuit", "CPE", "--json"])?;
    serde_json::from_str(&text).with_context(|| text)
}

fn p50(c: &Value, side: &str) -> Option<f64> {
    c["rtt"][side]["p50_ms"].as_f64()
}

#[test]
fn internet_and_subscriber_rtt_match_the_delay_lines_each_on_its_side() -> Result<()> {
    require_root();
    let _one = serial();
    let options = DelayOptions {
        internet_one_way: Duration::from_millis(20),
        subscriber_one_way: Duration::from_millis(8),
        drop: None,
    };
    let rows = [device_row("CPE", "Site", CPE_V4, CPE_V6, 100.0, 100.0)];
    let (tb, bed) = shaped_with_delays("rtt-sides", &rows, options)?;
    let (internet, subscriber) = (
        bed.internet_rtt().as_secs_f64() * 1e3,
        bed.subscriber_rtt().as_secs_f64() * 1e3,
    );
    // Download: data goes down, the subscriber's ACKs come back: the subscriber side.
    bed.iperf3(5, "20M", true)?;
    let c = circuit(&tb)?;
    let s = p50(&c, "subscriber").context(format!("no subscriber RTT after a download: {c:#}"))?;
    eprintln!(
        "download: subscriber p50 {s:.2} ms (configured {subscriber} ms, {} samples), internet {:?}",
        c["rtt"]["subscriber"]["samples"], c["rtt"]["internet"]
    );
    ensure!(
        (s - subscriber).abs() <= subscriber * 0.1,
        "subscriber RTT p50 {s:.2} ms, configured round trip {subscriber} ms (±10%): {c:#}"
    );
    ensure!(
        c["rtt"]["subscriber"]["samples"].as_u64().unwrap_or(0) >= 10,
        "{c:#}"
    );
    // Upload: data goes up, the remote end's ACKs come back: the internet side.
    bed.iperf3(5, "20M", false)?;
    let c = circuit(&tb)?;
    let i = p50(&c, "internet").context(format!("no internet RTT after an upload: {c:#}"))?;
    eprintln!("upload: internet p50 {i:.2} ms (configured {internet} ms)");
    ensure!(
        (i - internet).abs() <= internet * 0.1,
        "internet RTT p50 {i:.2} ms, configured round trip {internet} ms (±10%): {c:#}"
    );
    // The two are never mixed: the subscriber side still reads the subscriber's round trip.
    if let Some(s) = c["rtt"]["subscriber"]["p50_5m_ms"].as_f64() {
        ensure!((s - subscriber).abs() <= subscriber * 0.1, "{c:#}");
    }
    drop(bed);
    Ok(())
}

#[test]
fn data_dropped_toward_the_subscriber_shows_as_download_retransmits_only() -> Result<()> {
    require_root();
    let _one = serial();
    let options = DelayOptions {
        internet_one_way: Duration::from_millis(10),
        subscriber_one_way: Duration::from_millis(5),
        drop: Some(DataDrop {
            every: 40,
            side: Side::Subscriber,
            toward: Toward::Subscriber,
        }),
    };
    let rows = [device_row("CPE", "Site", CPE_V4, CPE_V6, 100.0, 100.0)];
    let (tb, bed) = shaped_with_delays("rtt-retx", &rows, options)?;
    let run = bed.iperf3(5, "20M", true)?;
    ensure!(
        run.retransmits > 0,
        "iperf3 saw no retransmits: the line dropped nothing?"
    );
    let c = circuit(&tb)?;
    let r = &c["retransmits"];
    eprintln!("iperf3 retransmits {}; shaper: {r}", run.retransmits);
    let (down, up) = (
        r["down"].as_f64().unwrap_or(0.0),
        r["up"].as_f64().unwrap_or(0.0),
    );
    ensure!(down > 0.5, "download retransmit % {down}: {c:#}");
    ensure!(r["significant_down"] == true, "{c:#}");
    ensure!(
        up == 0.0,
        "upload retransmit % {up} though nothing was dropped upward: {c:#}"
    );
    let flows: Value = serde_json::from_str(&lqos(&tb, &["flows", "--circuit", "CPE", "--json"])?)?;
    eprintln!("{flows:#}");
    drop(bed);
    Ok(())
}
