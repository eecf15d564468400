//! Real shaping, end to end: the real lqosd and lqos-scheduler on a shaper in network
//! namespaces, iperf3 TCP flows through it, throughput compared with the plans.
//!
//! Throughput tests run one at a time (`serial()`). Rates are compared on the wire (HTB meters
//! Ethernet frames; iperf3 reports TCP payload, see `WIRE_PER_PAYLOAD`).

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};

#[test]
fn three_plans_each_shaped_to_their_ceiling_both_ways() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [
        device_row("C10", "Site", "100.64.1.10", "", 10.0, 2.0),
        device_row("C50", "Site", "100.64.1.50", "", 50.0, 10.0),
        device_row("C200", "Site", "100.64.1.200", "", 200.0, 20.0),
    ];
    let tb = shaped(
        "plans",
        &rows,
        &["100.64.1.10/16", "100.64.1.50/16", "100.64.1.200/16"],
    )?;
    for (addr, down, up) in [
        ("100.64.1.10", 10.0, 2.0),
        ("100.64.1.50", 50.0, 10.0),
        ("100.64.1.200", 200.0, 20.0),
    ] {
        let d = tb.measure_plan(addr, false, down)?;
        let u = tb.measure_plan(addr, true, up)?;
        eprintln!("{addr}: download {d:.2} Mbit/s (plan {down}), upload {u:.2} Mbit/s (plan {up})");
        ensure!(
            within(d, down, 0.05),
            "{addr} download {d:.2} Mbit/s, plan {down} (±5%)"
        );
        ensure!(
            within(u, up, 0.05),
            "{addr} upload {u:.2} Mbit/s, plan {up} (±5%)"
        );
    }
    Ok(())
}

#[test]
fn a_node_caps_the_sum_of_its_circuits() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [
        device_row("A", "Capped", "100.64.2.1", "", 50.0, 25.0),
        device_row("B", "Capped", "100.64.2.2", "", 50.0, 25.0),
    ];
    let tb = shaped("node", &rows, &["100.64.2.1/16", "100.64.2.2/16"])?;
    let (a, b) = (
        tb.start_flow("100.64.2.1", false, 5)?,
        tb.start_flow("100.64.2.2", false, 5)?,
    );
    let (a, b) = (a.finish()?.wire_mbps(), b.finish()?.wire_mbps());
    eprintln!(
        "two circuits of 50 under a 60 Mbit/s node: {a:.2} + {b:.2} = {:.2}",
        a + b
    );
    ensure!(
        within(a + b, 60.0, 0.05),
        "sum {:.2} Mbit/s, node cap 60 (±5%)",
        a + b
    );
    ensure!(
        a > 15.0 && b > 15.0,
        "both circuits get a share: {a:.2}, {b:.2}"
    );
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
    ensure!(
        d > 400.0 && u > 400.0,
        "an unmapped address is not shaped: {d:.0}/{u:.0} Mbit/s (plans are at most 10)"
    );
    Ok(())
}

#[test]
fn a_circuit_given_by_prefix_shapes_every_address_in_it() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [device_row(
        "P",
        "Site",
        "100.64.8.0/29",
        "fd00:65::/64",
        20.0,
        5.0,
    )];
    let tb = shaped(
        "prefix",
        &rows,
        &["100.64.8.1/16", "100.64.8.6/16", "fd00:65::10/64"],
    )?;
    for addr in ["100.64.8.1", "100.64.8.6", "fd00:65::10"] {
        let d = tb.measure_plan(addr, false, 20.0)?;
        let u = tb.measure_plan(addr, true, 5.0)?;
        // IPv6 frames carry 20 more header bytes per segment than IPv4 ones: a little less payload.
        eprintln!("{addr}: download {d:.2} (plan 20), upload {u:.2} (plan 5)");
        ensure!(
            within(d, 20.0, 0.05) && within(u, 5.0, 0.05),
            "{addr}: {d:.2}/{u:.2} Mbit/s, plan 20/5 (±5%)"
        );
    }
    Ok(())
}

#[test]
fn re_rating_one_circuit_leaves_another_flow_alone() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = |a: f64| {
        [
            device_row("A", "Site", "100.64.4.1", "", a, 5.0),
            device_row("B", "Site", "100.64.4.2", "", 30.0, 5.0),
        ]
    };
    let tb = shaped("rerate", &rows(20.0), &["100.64.4.1/16", "100.64.4.2/16"])?;
    let before = tb.measure_plan("100.64.4.1", false, 20.0)?;
    ensure!(within(before, 20.0, 0.05), "A before: {before:.2}");
    let b_id = class_id_of(&tb, "B")?;
    let flow = tb.start_flow("100.64.4.2", false, 8)?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    tb.dir.write(
        "ShapedDevices.csv",
        format!("{CSV_HEADER}{}", rows(60.0).concat()),
    )?;
    let out = tb.refresh()?;
    ensure!(
        out.contains("classes +0 ~"),
        "a re-rate adds no class: {out}"
    );
    let b = flow.finish()?;
    // The re-rate comes two seconds after the flow started.
    let windows = one_second_windows(&b);
    let slowest = windows.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!(
        "B while A was re-rated: mean {:.2} Mbit/s, per second {windows:.1?}",
        b.wire_mbps()
    );
    ensure!(
        within(b.wire_mbps(), 30.0, 0.05),
        "B kept its rate: {:.2}",
        b.wire_mbps()
    );
    ensure!(
        slowest > 30.0 * 0.7,
        "B did not stall: slowest interval {slowest:.2} Mbit/s"
    );
    ensure!(class_id_of(&tb, "B")? == b_id, "B keeps its class id");
    let after = tb.measure_plan("100.64.4.1", false, 60.0)?;
    eprintln!("A: {before:.2} -> {after:.2} Mbit/s (plan 20 -> 60)");
    ensure!(within(after, 60.0, 0.05), "A after: {after:.2}, plan 60");
    Ok(())
}

#[test]
fn on_a_stick_shapes_download_and_upload() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::on_a_stick("stick")?;
    tb.add_subscriber_addr("100.64.7.1/16")?;
    tb.add_subscriber_addr("100.64.7.2/16")?;
    let rows = [
        device_row("S1", "Site", "100.64.7.1", "", 30.0, 8.0),
        device_row("S2", "Site", "100.64.7.2", "", 12.0, 3.0),
    ];
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", rows.concat()), "")?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    for (addr, down, up) in [("100.64.7.1", 30.0, 8.0), ("100.64.7.2", 12.0, 3.0)] {
        let d = tb.measure(addr, false)?.wire_mbps();
        let u = tb.measure(addr, true)?.wire_mbps();
        // On the trunk each frame carries a 4-byte VLAN tag that HTB meters too.
        let (d, u) = (d * 1518.0 / 1514.0, u * 1518.0 / 1514.0);
        eprintln!("on a stick {addr}: download {d:.2} (plan {down}), upload {u:.2} (plan {up})");
        // LQOS_E2E_DEBUG=1 shows the shaper's qdiscs and maps (how the first stick bug was found).
        if std::env::var_os("LQOS_E2E_DEBUG").is_some() {
            for cmd in [
                &["tc", "-s", "qdisc", "show", "dev", "lqs"][..],
                &["ip", "-d", "link", "show", "dev", "lqs"],
                &["bpftool", "map", "dump", "name", "lqos_unknown"],
                &["bpftool", "map", "dump", "name", "lqos_config"],
            ] {
                eprintln!(
                    "$ {cmd:?}\n{}",
                    tb.shaper
                        .run(cmd[0], &cmd[1..])
                        .unwrap_or_else(|e| e.to_string())
                );
            }
            eprintln!("{}", tb.lqosd_log());
        }
        ensure!(
            within(d, down, 0.05) && within(u, up, 0.05),
            "{addr}: {d:.2}/{u:.2} Mbit/s, plan {down}/{up} (±5%)"
        );
    }
    // A host without a mapping crosses the stick unshaped.
    tb.add_subscriber_addr("100.64.7.9/16")?;
    let free = tb.measure("100.64.7.9", false)?.wire_mbps();
    ensure!(
        free > 200.0,
        "unknown address unshaped on a stick: {free:.0} Mbit/s"
    );
    Ok(())
}

#[test]
fn live_throughput_shows_the_busy_host_and_its_circuit() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [
        device_row("T", "Site", "100.64.15.1", "", 20.0, 5.0),
        device_row("Q", "Site", "100.64.15.2", "", 20.0, 5.0),
    ];
    let tb = shaped("top", &rows, &["100.64.15.1/16", "100.64.15.2/16"])?;
    let flow = tb.start_flow("100.64.15.1", false, 6)?;
    std::thread::sleep(std::time::Duration::from_secs(4));
    let top = lqos(&tb, &["top", "-n", "3"])?;
    let one = lqos(&tb, &["top", "--circuit", "T"])?;
    flow.finish()?;
    let rate: f64 = one
        .split_whitespace()
        .nth(3)
        .context("circuit rate")?
        .parse()?;
    ensure!(
        one.starts_with("circuit T: down") && (16.0..=22.0).contains(&rate),
        "{one}"
    );
    eprintln!("{top}");
    let line = top
        .lines()
        .skip_while(|l| !l.starts_with("top hosts by download"))
        .nth(1)
        .context("a busy host")?;
    ensure!(line.contains("100.64.15.1 (circuit T)"), "{top}");
    let rate: f64 = line.split_whitespace().next().context("rate")?.parse()?;
    ensure!(
        (16.0..=22.0).contains(&rate),
        "the busy host's download on the wire is near its 20 Mbit/s plan: {rate}\n{top}"
    );
    let circuit = top
        .lines()
        .skip_while(|l| !l.starts_with("top circuits by download"))
        .nth(1)
        .context("a busy circuit")?;
    ensure!(circuit.trim_end().ends_with(" T"), "{top}");
    Ok(())
}
