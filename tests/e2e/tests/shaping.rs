//! Real shaping, end to end: the real lqosd and lqos-scheduler on a bridged shaper in network
//! namespaces, iperf3 TCP flows through it, throughput compared with the plans.
//!
//! Throughput tests run one at a time (a global lock): two iperf3 runs at once on a 2-core
//! machine would measure the CPU, not the shaper. Rates are compared on the wire (HTB meters
//! Ethernet frames; iperf3 reports TCP payload, see `WIRE_PER_PAYLOAD`).

use anyhow::{ensure, Context, Result};
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

fn class_id_of(tb: &Testbed, circuit: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(tb.dir.join("state/classids.json"))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(v["circuits"][circuit].clone())
}

#[test]
fn re_rating_one_circuit_leaves_another_flow_alone() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = |a: f64| [device_row("A", "Site", "100.64.4.1", "", a, 5.0), device_row("B", "Site", "100.64.4.2", "", 30.0, 5.0)];
    let tb = shaped("rerate", &rows(20.0), &["100.64.4.1/16", "100.64.4.2/16"])?;
    let before = tb.measure("100.64.4.1", false)?.wire_mbps();
    ensure!(within(before, 20.0, 0.05), "A before: {before:.2}");
    let b_id = class_id_of(&tb, "B")?;
    let flow = tb.start_flow("100.64.4.2", false, 8)?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    tb.dir.write("ShapedDevices.csv", format!("{CSV_HEADER}{}", rows(60.0).concat()))?;
    let out = tb.refresh()?;
    ensure!(out.contains("classes +0 ~"), "a re-rate adds no class: {out}");
    let b = flow.finish()?;
    let slowest = b.intervals_bps.iter().cloned().fold(f64::MAX, f64::min) * lqos_e2e::testbed::WIRE_PER_PAYLOAD / 1e6;
    eprintln!("B while A was re-rated: mean {:.2} Mbit/s, slowest 0.5 s interval {slowest:.2}", b.wire_mbps());
    ensure!(within(b.wire_mbps(), 30.0, 0.05), "B kept its rate: {:.2}", b.wire_mbps());
    ensure!(slowest > 30.0 * 0.7, "B did not stall: slowest interval {slowest:.2} Mbit/s");
    ensure!(class_id_of(&tb, "B")? == b_id, "B keeps its class id");
    let after = tb.measure("100.64.4.1", false)?.wire_mbps();
    eprintln!("A: {before:.2} -> {after:.2} Mbit/s (plan 20 -> 60)");
    ensure!(within(after, 60.0, 0.05), "A after: {after:.2}, plan 60");
    Ok(())
}

#[test]
fn restarting_lqosd_keeps_a_running_flow_shaped() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = [device_row("R", "Site", "100.64.5.1", "", 20.0, 5.0)];
    let mut tb = shaped("restart", &rows, &["100.64.5.1/16"])?;
    let flow = tb.start_flow("100.64.5.1", false, 9)?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    tb.stop_lqosd()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    tb.start_lqosd()?;
    let t = flow.finish()?;
    // 1 s windows (0.5 s ones alias with TCP's bursts); the first is still ramping up.
    let wire: Vec<f64> = t.intervals_bps.chunks_exact(2).skip(1).map(|p| (p[0] + p[1]) / 2.0 * lqos_e2e::testbed::WIRE_PER_PAYLOAD / 1e6).collect();
    eprintln!("flow across a restart, Mbit/s per 1 s: {wire:.1?}");
    ensure!(wire.iter().all(|&w| w < 20.0 * 1.10), "never unshaped: {wire:.1?}");
    ensure!(wire.iter().all(|&w| w > 20.0 * 0.7), "never stalled: {wire:.1?}");
    let log = tb.lqosd_log();
    ensure!(log.contains("adopted the live plan") && log.contains("swapped in place"), "the restarted lqosd adopted the live plan and swapped its programs in:\n{log}");
    let out = tb.refresh()?;
    ensure!(out.contains("unchanged"), "the same inputs are unchanged after a restart: {out}");
    Ok(())
}

#[test]
fn teardown_removes_everything_lqosd_put_in_the_kernel() -> Result<()> {
    require_root();
    let rows = [device_row("T", "Site", "100.64.6.1", "", 20.0, 5.0)];
    let mut tb = shaped("teardown", &rows, &["100.64.6.1/16"])?;
    let pins = tb.bpffs.join("pins");
    ensure!(std::fs::read_dir(&pins)?.count() >= 9, "5 maps and 4 links pinned");
    let refused = tb.shaper.exec(lqos_e2e::bin_path("lqosd").to_str().unwrap_or("lqosd"), &["--config", tb.config().to_str().unwrap_or(""), "teardown"])?;
    ensure!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("stop it first"), "teardown refuses while lqosd runs");
    tb.stop_lqosd()?;
    let qdiscs = tb.shaper.run("tc", &["qdisc", "show", "dev", "lqn"])?;
    ensure!(qdiscs.contains("mq 7fff:"), "shaping stays after SIGTERM: {qdiscs}");
    let link = tb.shaper.run("ip", &["link", "show", "dev", "lqn"])?;
    ensure!(link.contains("xdp"), "XDP stays attached after SIGTERM: {link}");
    let out = tb.shaper.exec(lqos_e2e::bin_path("lqosd").to_str().unwrap_or("lqosd"), &["--config", tb.config().to_str().unwrap_or(""), "teardown"])?;
    ensure!(out.status.success(), "teardown: {}", String::from_utf8_lossy(&out.stderr));
    ensure!(!pins.exists(), "the pin directory is gone");
    for dev in ["lqi", "lqn"] {
        let q = tb.shaper.run("tc", &["qdisc", "show", "dev", dev])?;
        ensure!(!q.contains("mq 7fff:") && !q.contains("htb"), "{dev} qdiscs: {q}");
        let link = tb.shaper.run("ip", &["link", "show", "dev", dev])?;
        ensure!(!link.contains("xdp"), "{dev} has no XDP program: {link}");
    }
    ensure!(!tb.dir.join("state/lqosd/live-plan.bin").exists(), "the saved plan is forgotten");
    Ok(())
}

#[test]
fn on_a_stick_shapes_download_and_upload() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::on_a_stick("stick")?;
    tb.add_subscriber_addr("100.64.7.1/16")?;
    tb.add_subscriber_addr("100.64.7.2/16")?;
    let rows = [device_row("S1", "Site", "100.64.7.1", "", 30.0, 8.0), device_row("S2", "Site", "100.64.7.2", "", 12.0, 3.0)];
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
            for cmd in [&["tc", "-s", "qdisc", "show", "dev", "lqs"][..], &["ip", "-d", "link", "show", "dev", "lqs"], &["bpftool", "map", "dump", "name", "lqos_unknown"], &["bpftool", "map", "dump", "name", "lqos_config"]] {
                eprintln!("$ {cmd:?}\n{}", tb.shaper.run(cmd[0], &cmd[1..]).unwrap_or_else(|e| e.to_string()));
            }
            eprintln!("{}", tb.lqosd_log());
        }
        ensure!(within(d, down, 0.05) && within(u, up, 0.05), "{addr}: {d:.2}/{u:.2} Mbit/s, plan {down}/{up} (±5%)");
    }
    // A host without a mapping crosses the stick unshaped.
    tb.add_subscriber_addr("100.64.7.9/16")?;
    let free = tb.measure("100.64.7.9", false)?.wire_mbps();
    ensure!(free > 200.0, "unknown address unshaped on a stick: {free:.0} Mbit/s");
    Ok(())
}

/// `class htb` lines of `tc class show` on the shaper's two interfaces, sorted, for comparing
/// the live trees before and after.
fn live_tree(tb: &Testbed) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for dev in ["lqi", "lqn"] {
        let out = tb.shaper.run("tc", &["class", "show", "dev", dev])?;
        lines.extend(out.lines().filter(|l| l.starts_with("class htb")).map(|l| format!("{dev} {}", l.trim())));
    }
    lines.sort();
    Ok(lines)
}

#[test]
fn a_plan_the_kernel_refuses_half_way_leaves_the_previous_plan_live() -> Result<()> {
    require_root();
    let _one = serial();
    let header = CSV_HEADER.trim_end().to_owned() + ",sqm\n";
    let row = |id: &str, ip: &str, down: f64, sqm: &str| format!("{id},{id},{id}-d,{id}-d,Site,,,,\"{ip}\",\"\",1,1,{down},5,,{sqm}\n");
    let mut tb = Testbed::new("refused")?;
    tb.add_subscriber_addr("100.64.9.1/16")?;
    tb.add_subscriber_addr("100.64.9.2/16")?;
    tb.write_inputs(NET, &format!("{header}{}{}", row("F", "100.64.9.1", 20.0, ""), row("G", "100.64.9.2", 30.0, "")), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let before = live_tree(&tb)?;
    // F re-rated (applied first), then G asks for CAKE, which this kernel does not have: tc
    // refuses the second change and lqosd must undo the first.
    tb.dir.write("ShapedDevices.csv", format!("{header}{}{}", row("F", "100.64.9.1", 40.0, ""), row("G", "100.64.9.2", 30.0, "cake")))?;
    let out = tb.scheduler(&["refresh"])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "the refresh must fail: {stderr}");
    ensure!(stderr.contains("lqosd rejected the plan") && stderr.contains("cake") && stderr.contains("previous plan was restored"), "{stderr}");
    ensure!(live_tree(&tb)? == before, "the live tree is the previous plan's:\nbefore {before:#?}\nafter {:#?}", live_tree(&tb)?);
    let f = tb.measure("100.64.9.1", false)?.wire_mbps();
    ensure!(within(f, 20.0, 0.05), "F still shaped at its old rate: {f:.2}");
    Ok(())
}

#[test]
fn lqosd_refuses_to_start_on_a_missing_interface_and_says_which() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("preflight")?;
    tb.write_inputs(NET, CSV_HEADER, "")?;
    let conf = std::fs::read_to_string(tb.config())?.replace("to_network = \"lqn\"", "to_network = \"lqx9\"");
    tb.dir.write("lqos.conf", conf)?;
    let err = tb.start_lqosd().expect_err("lqosd must not start").to_string();
    ensure!(err.contains("interface lqx9 does not exist"), "{err}");
    Ok(())
}

#[test]
fn the_scheduler_service_applies_an_edit_within_seconds() -> Result<()> {
    require_root();
    let _one = serial();
    let rows = |down: f64| [device_row("E", "Site", "100.64.10.1", "", down, 5.0)];
    let mut tb = Testbed::new("service")?;
    tb.add_subscriber_addr("100.64.10.1/16")?;
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", rows(20.0).concat()), "")?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    tb.wait_for_applies(1, std::time::Duration::from_secs(20))?;
    let before = tb.measure("100.64.10.1", false)?.wire_mbps();
    ensure!(within(before, 20.0, 0.05), "first plan: {before:.2}");
    tb.dir.write("ShapedDevices.csv", format!("{CSV_HEADER}{}", rows(50.0).concat()))?;
    let edited = std::time::Instant::now();
    tb.wait_for_applies(2, std::time::Duration::from_secs(10))?;
    eprintln!("edit applied {:.1} s after it was saved", edited.elapsed().as_secs_f64());
    let after = tb.measure("100.64.10.1", false)?.wire_mbps();
    eprintln!("service: 20 -> 50 Mbit/s plan, measured {before:.2} -> {after:.2}");
    ensure!(within(after, 50.0, 0.05), "after the edit: {after:.2}, plan 50");
    Ok(())
}

/// `lqos <args>` against the test bed's lqosd; its stdout.
fn lqos(tb: &Testbed, args: &[&str]) -> Result<String> {
    let config = tb.config();
    let mut full = vec!["--config", config.to_str().unwrap_or("")];
    full.extend_from_slice(args);
    let out = tb.shaper.exec(lqos_e2e::bin_path("lqos").to_str().unwrap_or("lqos"), &full)?;
    ensure!(out.status.success() || out.status.code() == Some(3), "lqos {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_broken_edit_keeps_shaping_and_raises_an_urgent_issue() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::new("urgent")?;
    tb.add_subscriber_addr("100.64.11.1/16")?;
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", device_row("U", "Site", "100.64.11.1", "", 20.0, 5.0)), "")?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    tb.wait_for_applies(1, std::time::Duration::from_secs(20))?;
    ensure!(lqos(&tb, &["issues"])?.contains("no urgent issues"));
    tb.dir.write("network.json", "{ \"Site\": { \"downloadBandwidthMbps\": \"fast\" } }")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let issues = loop {
        let text = lqos(&tb, &["issues"])?;
        if text.contains("scheduler/") {
            break text;
        }
        ensure!(std::time::Instant::now() < deadline, "no urgent issue appeared:\n{text}\n{}", tb.scheduler_log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    eprintln!("{issues}");
    ensure!(issues.contains("ERROR") && issues.contains("network.json") && issues.contains("last good plan stays live"), "{issues}");
    let rate = tb.measure("100.64.11.1", false)?.wire_mbps();
    ensure!(within(rate, 20.0, 0.05), "the last good plan still shapes: {rate:.2}");
    let status = lqos(&tb, &["status"])?;
    ensure!(status.contains("shaper: 1 circuits") && status.contains("last refresh FAILED (1 in a row)"), "{status}");
    let found = lqos(&tb, &["lookup", "100.64.11.1"])?;
    ensure!(found.contains("circuit U via 100.64.11.1/32"), "{found}");
    ensure!(lqos(&tb, &["lookup", "100.64.99.99"])?.contains("passes unshaped"));
    let id = issues.trim_start_matches('#').split_whitespace().next().unwrap_or("0").to_owned();
    lqos(&tb, &["ack", &id])?;
    ensure!(lqos(&tb, &["issues"])?.contains("(acknowledged)"));
    Ok(())
}

/// An HTTP export inside the shaper's namespace: `mode` 0 serves content that does not
/// validate, 1 hangs for 30 s.
fn export_server(tb: &Testbed, mode: std::sync::Arc<std::sync::atomic::AtomicU8>) -> Result<u16> {
    use std::io::{BufRead, Write};
    let listener = lqos_e2e::in_namespace(tb.shaper.name(), || Ok(std::net::TcpListener::bind("127.0.0.1:0")?))?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mode = mode.load(std::sync::atomic::Ordering::Relaxed);
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).map_or(false, |n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                if mode == 1 {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                }
                let body = "<html>maintenance</html>\n";
                let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            });
        }
    });
    Ok(port)
}

#[test]
fn a_broken_or_hung_integration_and_a_killed_scheduler_leave_shaping_alone() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::new("integration")?;
    tb.add_subscriber_addr("100.64.12.1/16")?;
    let mode = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
    let port = export_server(&tb, mode.clone())?;
    let import = format!("[http_import]\nshaped_devices_url = \"http://127.0.0.1:{port}/ShapedDevices.csv\"\ntimeout_secs = 120\n");
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", device_row("I", "Site", "100.64.12.1", "", 20.0, 5.0)), &import)?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    // The export does not validate: the last good files are planned, and an issue says so.
    tb.wait_for_applies(1, std::time::Duration::from_secs(20))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !lqos(&tb, &["issues"])?.contains("http_import/integration_failed") {
        ensure!(std::time::Instant::now() < deadline, "no integration issue:\n{}", tb.scheduler_log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let rate = tb.measure("100.64.12.1", false)?.wire_mbps();
    ensure!(within(rate, 20.0, 0.05), "shaped from the last good inputs: {rate:.2}");
    let before = live_tree(&tb)?;

    // Now the export hangs; an edit starts a refresh, and the scheduler is killed in the middle.
    mode.store(1, std::sync::atomic::Ordering::Relaxed);
    tb.dir.write("ShapedDevices.csv", format!("{CSV_HEADER}{}", device_row("I", "Site", "100.64.12.1", "", 60.0, 5.0)))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !lqos(&tb, &["status"])?.contains("scheduler: refreshing") {
        ensure!(std::time::Instant::now() < deadline, "the refresh did not start:\n{}", tb.scheduler_log());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    tb.kill_scheduler()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let config = tb.config().display().to_string();
    let left = std::process::Command::new("pgrep").args(["-f", &format!("{config} refresh")]).output()?;
    ensure!(left.stdout.is_empty(), "the refresh died with the scheduler: {}", String::from_utf8_lossy(&left.stdout));
    ensure!(live_tree(&tb)? == before, "the shaper is on the last good plan");
    let rate = tb.measure("100.64.12.1", false)?.wire_mbps();
    ensure!(within(rate, 20.0, 0.05), "still shaped by the last good plan: {rate:.2}");
    Ok(())
}

#[test]
fn when_lqosd_restarts_the_scheduler_waits_and_submits_again() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("reconnect")?;
    tb.add_subscriber_addr("100.64.13.1/16")?;
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", device_row("R", "Site", "100.64.13.1", "", 20.0, 5.0)), "")?;
    // The scheduler first, lqosd later: it waits instead of failing.
    tb.start_scheduler_service()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    tb.start_lqosd()?;
    tb.wait_for_applies(1, std::time::Duration::from_secs(40))?;
    tb.stop_lqosd()?;
    std::thread::sleep(std::time::Duration::from_secs(6));
    tb.start_lqosd()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !tb.scheduler_log().contains("lqosd is back: submitting the plan again") || tb.scheduler_log().matches("unchanged: generation").count() < 1 {
        ensure!(std::time::Instant::now() < deadline, "no re-submission:\n{}", tb.scheduler_log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    ensure!(tb.lqosd_log().contains("adopted the live plan"), "lqosd kept shaping across its restart");
    Ok(())
}

#[test]
fn lqosd_tells_systemd_it_is_ready_what_it_shapes_and_that_it_is_alive() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("notify")?;
    let path = tb.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path)?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    tb.notify_socket = Some(path);
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", device_row("N", "Site", "100.64.14.1", "", 20.0, 5.0)), "")?;
    tb.start_lqosd()?;
    let next = || -> Result<String> {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).context("a notification from lqosd")?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let ready = next()?;
    ensure!(ready.contains("READY=1") && ready.contains("STATUS=attached; waiting for the first plan"), "{ready}");
    tb.refresh()?;
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|m| m.contains("STATUS=shaping 1 circuits")) || seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() < 2 {
        seen.push(next().with_context(|| format!("seen so far: {seen:?}"))?);
        ensure!(seen.len() < 50, "{seen:?}");
    }
    Ok(())
}
