//! Real shaping, end to end: the real lqosd and lqos-scheduler on a bridged shaper in network
//! namespaces, iperf3 TCP flows through it, throughput compared with the plans.
//!
//! Throughput tests run one at a time (a global lock): two iperf3 runs at once on a 2-core
//! machine would measure the CPU, not the shaper. Rates are compared on the wire (HTB meters
//! Ethernet frames; iperf3 reports TCP payload, see `WIRE_PER_PAYLOAD`).

use anyhow::{ensure, Result};
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const NET: &str = r#"{"Site": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000, "children": {
    "Capped": {"downloadBandwidthMbps": 60, "uploadBandwidthMbps": 30}}}}"#;

fn within(measured: f64, planned: f64, tolerance: f64) -> bool {
    (measured - planned).abs() <= planned * tolerance
}

/// Shaped testbed with these circuit rows, lqosd running and one refresh applied.
fn shaped(label: &str, rows: &[String], addrs: &[&str]) -> Result<Testbed> {
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

#[test]
fn three_plans_each_shaped_to_their_ceiling_both_ways() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [
        device_row("C10", "Site", "100.64.1.10", "", 10.0, 2.0),
        device_row("C50", "Site", "100.64.1.50", "", 50.0, 10.0),
        device_row("C200", "Site", "100.64.1.200", "", 200.0, 20.0),
    ];
    let tb = shaped("plans", &rows, &["100.64.1.10/16", "100.64.1.50/16", "100.64.1.200/16"])?;
    for (addr, down, up) in [("100.64.1.10", 10.0, 2.0), ("100.64.1.50", 50.0, 10.0), ("100.64.1.200", 200.0, 20.0)] {
        let d = tb.measure(addr, false)?.wire_mbps();
        let u = tb.measure(addr, true)?.wire_mbps();
        eprintln!("{addr}: download {d:.2} Mbit/s (plan {down}), upload {u:.2} Mbit/s (plan {up})");
        ensure!(within(d, down, 0.05), "{addr} download {d:.2} Mbit/s, plan {down} (±5%)");
        ensure!(within(u, up, 0.05), "{addr} upload {u:.2} Mbit/s, plan {up} (±5%)");
    }
    Ok(())
}

#[test]
fn a_node_caps_the_sum_of_its_circuits() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [device_row("A", "Capped", "100.64.2.1", "", 50.0, 25.0), device_row("B", "Capped", "100.64.2.2", "", 50.0, 25.0)];
    let tb = shaped("node", &rows, &["100.64.2.1/16", "100.64.2.2/16"])?;
    let (a, b) = (tb.start_flow("100.64.2.1", false, 5)?, tb.start_flow("100.64.2.2", false, 5)?);
    let (a, b) = (a.finish()?.wire_mbps(), b.finish()?.wire_mbps());
    eprintln!("two circuits of 50 under a 60 Mbit/s node: {a:.2} + {b:.2} = {:.2}", a + b);
    ensure!(within(a + b, 60.0, 0.05), "sum {:.2} Mbit/s, node cap 60 (±5%)", a + b);
    ensure!(a > 15.0 && b > 15.0, "both circuits get a share: {a:.2}, {b:.2}");
    Ok(())
}

#[test]
fn an_unknown_address_passes_unshaped() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [device_row("C10", "Site", "100.64.1.10", "", 10.0, 2.0)];
    let tb = shaped("unknown", &rows, &["100.64.1.10/16", "100.64.3.3/16"])?;
    let d = tb.measure("100.64.3.3", false)?.wire_mbps();
    let u = tb.measure("100.64.3.3", true)?.wire_mbps();
    eprintln!("unknown 100.64.3.3: download {d:.0} Mbit/s, upload {u:.0} Mbit/s");
    ensure!(d > 400.0 && u > 400.0, "an unmapped address is not shaped: {d:.0}/{u:.0} Mbit/s (plans are at most 10)");
    Ok(())
}

#[test]
fn a_circuit_given_by_prefix_shapes_every_address_in_it() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [device_row("P", "Site", "100.64.8.0/29", "fd00:65::/64", 20.0, 5.0)];
    let tb = shaped("prefix", &rows, &["100.64.8.1/16", "100.64.8.6/16", "fd00:65::10/64"])?;
    for addr in ["100.64.8.1", "100.64.8.6", "fd00:65::10"] {
        let d = tb.measure(addr, false)?.wire_mbps();
        let u = tb.measure(addr, true)?.wire_mbps();
        // IPv6 frames carry 20 more header bytes per segment than IPv4 ones: a little less payload.
        eprintln!("{addr}: download {d:.2} (plan 20), upload {u:.2} (plan 5)");
        ensure!(within(d, 20.0, 0.05) && within(u, 5.0, 0.05), "{addr}: {d:.2}/{u:.2} Mbit/s, plan 20/5 (±5%)");
    }
    Ok(())
}
