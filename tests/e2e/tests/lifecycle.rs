//! lqosd's life: restarts under traffic, a plan the kernel refuses half-way, a missing
//! interface, systemd notifications, teardown.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Options, Testbed, CSV_HEADER};

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
    let wire: Vec<f64> = t
        .intervals_bps
        .chunks_exact(2)
        .skip(1)
        .map(|p| (p[0] + p[1]) / 2.0 * lqos_e2e::testbed::WIRE_PER_PAYLOAD / 1e6)
        .collect();
    eprintln!("flow across a restart, Mbit/s per 1 s: {wire:.1?}");
    // Unshaped, even for a tenth of a second, this veth path carries Gbit/s: a window would
    // show hundreds of Mbit/s. HTB's burst and TCP make single windows wobble by ~15%.
    ensure!(
        wire.iter().all(|&w| w < 20.0 * 1.5),
        "never unshaped: {wire:.1?}"
    );
    ensure!(
        within(t.wire_mbps(), 20.0, 0.05),
        "shaped to the plan across the restart: {:.2}",
        t.wire_mbps()
    );
    ensure!(
        wire.iter().all(|&w| w > 20.0 * 0.7),
        "never stalled: {wire:.1?}"
    );
    let log = tb.lqosd_log();
    ensure!(
        log.contains("adopted the live plan") && log.contains("swapped in place"),
        "the restarted lqosd adopted the live plan and swapped its programs in:\n{log}"
    );
    let out = tb.refresh()?;
    ensure!(
        out.contains("unchanged"),
        "the same inputs are unchanged after a restart: {out}"
    );
    Ok(())
}

/// Bytes the mq root of `dev` has sent: it only grows while the tree lives.
fn mq_sent_bytes(tb: &Testbed, dev: &str) -> Result<u64> {
    let out = tb.shaper.run("tc", &["-s", "qdisc", "show", "dev", dev])?;
    let mut lines = out.lines().skip_while(|l| !l.starts_with("qdisc mq 7fff:"));
    lines.next().context("no mq root")?;
    let sent = lines.next().context("no stats")?;
    sent.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no byte count in {sent:?}"))
}

#[test]
fn a_restart_that_lost_the_pins_adopts_the_live_tree() -> Result<()> {
    // Issue 13, bug 3: under `ip netns exec` (a fresh /sys) lqosd mounts its own bpffs at
    // /sys/fs/bpf, so its pins die with it. The next lqosd must refill the maps before it
    // attaches and keep the live tree, not rebuild every class from the saved plan.
    require_root();
    let _one = serial();
    let mut tb = Testbed::with(
        "lostpins",
        Options {
            pin_dir: Some("/sys/fs/bpf/lqos".into()),
            ..Options::default()
        },
    )?;
    tb.add_subscriber_addr("100.64.5.9/16")?;
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("L", "Site", "100.64.5.9", "", 20.0, 5.0)
        ),
        "",
    )?;
    tb.start_lqosd()?;
    tb.refresh()?;
    ensure!(
        tb.lqosd_log()
            .contains("pins (/sys/fs/bpf/lqos) die with it"),
        "lqosd warns that its pins will not outlive it:\n{}",
        tb.lqosd_log()
    );
    let issues = lqos(&tb, &["issues"])?;
    ensure!(
        issues.contains("pins_not_persistent"),
        "and raises an urgent issue:\n{issues}"
    );
    let tree = live_tree(&tb)?;
    let flow = tb.start_flow("100.64.5.9", false, 9)?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    let before = mq_sent_bytes(&tb, "lqn")?;
    // The private bpffs dies with this lqosd: its links detach, its maps go.
    tb.stop_lqosd()?;
    tb.start_lqosd()?;
    let after = mq_sent_bytes(&tb, "lqn")?;
    let t = flow.finish()?;
    let log = tb.lqosd_log();
    ensure!(
        log.contains("IP map refilled before attaching, nothing rebuilt")
            && !log.contains("rebuilding the saved plan"),
        "the restarted lqosd refilled the fresh maps and kept the tree:\n{log}"
    );
    ensure!(live_tree(&tb)? == tree, "the same classes are live");
    ensure!(
        after > before,
        "the qdisc tree was not rebuilt: its counters went on ({before} -> {after} bytes)"
    );
    ensure!(
        lqos(&tb, &["lookup", "100.64.5.9"])?.contains("L"),
        "the refilled IP map classifies the circuit"
    );
    // 1 s windows. Between the old lqosd's exit and the new one's attach no program runs
    // (the pins died), so one window is unshaped; after it, TCP drains the queue it built
    // and windows wobble, but the flow is back on its plan. The last window is cut short.
    let wire: Vec<f64> = t
        .intervals_bps
        .chunks_exact(2)
        .map(|p| (p[0] + p[1]) / 2.0 * lqos_e2e::testbed::WIRE_PER_PAYLOAD / 1e6)
        .collect();
    eprintln!("flow across a restart without pins, Mbit/s per 1 s: {wire:.1?}");
    let settled = &wire[wire.len().saturating_sub(5)..wire.len().saturating_sub(1)];
    let mean = settled.iter().sum::<f64>() / settled.len().max(1) as f64;
    ensure!(
        settled.len() == 4 && within(mean, 20.0, 0.15),
        "shaped again after the restart: {wire:.1?}"
    );
    let out = tb.refresh()?;
    ensure!(
        out.contains("unchanged"),
        "the same inputs are unchanged: {out}"
    );
    Ok(())
}

#[test]
fn a_plan_the_kernel_refuses_half_way_leaves_the_previous_plan_live() -> Result<()> {
    require_root();
    let _one = serial();
    let header = CSV_HEADER.trim_end().to_owned() + ",sqm\n";
    let row = |id: &str, ip: &str, down: f64, sqm: &str| {
        format!("{id},{id},{id}-d,{id}-d,Site,,,,\"{ip}\",\"\",1,1,{down},5,,{sqm}\n")
    };
    let mut tb = Testbed::new("refused")?;
    tb.add_subscriber_addr("100.64.9.1/16")?;
    tb.add_subscriber_addr("100.64.9.2/16")?;
    tb.write_inputs(
        NET,
        &format!(
            "{header}{}{}",
            row("F", "100.64.9.1", 20.0, ""),
            row("G", "100.64.9.2", 30.0, "")
        ),
        "",
    )?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let before = live_tree(&tb)?;
    // F re-rated (applied first), then G asks for CAKE, which this kernel does not have: tc
    // refuses the second change and lqosd must undo the first.
    tb.dir.write(
        "ShapedDevices.csv",
        format!(
            "{header}{}{}",
            row("F", "100.64.9.1", 40.0, ""),
            row("G", "100.64.9.2", 30.0, "cake")
        ),
    )?;
    let out = tb.scheduler(&["refresh"])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "the refresh must fail: {stderr}");
    ensure!(
        stderr.contains("lqosd rejected the plan")
            && stderr.contains("cake")
            && stderr.contains("previous plan was restored"),
        "{stderr}"
    );
    ensure!(
        live_tree(&tb)? == before,
        "the live tree is the previous plan's:\nbefore {before:#?}\nafter {:#?}",
        live_tree(&tb)?
    );
    let f = tb.measure_plan("100.64.9.1", false, 20.0)?;
    ensure!(
        within(f, 20.0, 0.05),
        "F still shaped at its old rate: {f:.2}"
    );
    Ok(())
}

#[test]
fn lqosd_refuses_to_start_on_a_missing_interface_and_says_which() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("preflight")?;
    tb.write_inputs(NET, CSV_HEADER, "")?;
    let conf = std::fs::read_to_string(tb.config())?
        .replace("to_network = \"lqn\"", "to_network = \"lqx9\"");
    tb.dir.write("lqos.conf", conf)?;
    let err = tb
        .start_lqosd()
        .expect_err("lqosd must not start")
        .to_string();
    ensure!(err.contains("interface lqx9 does not exist"), "{err}");
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
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("N", "Site", "100.64.14.1", "", 20.0, 5.0)
        ),
        "",
    )?;
    tb.start_lqosd()?;
    let next = || -> Result<String> {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).context("a notification from lqosd")?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let ready = next()?;
    ensure!(
        ready.contains("READY=1") && ready.contains("STATUS=attached; waiting for the first plan"),
        "{ready}"
    );
    tb.refresh()?;
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|m| m.contains("STATUS=shaping 1 circuits"))
        || seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() < 2
    {
        seen.push(next().with_context(|| format!("seen so far: {seen:?}"))?);
        ensure!(seen.len() < 50, "{seen:?}");
    }
    // Wedged (stopped), it feeds nothing; running again, it does.
    let pid = tb.lqosd_pid().context("lqosd pid")?.to_string();
    std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()?;
    sock.set_read_timeout(Some(std::time::Duration::from_millis(300)))?;
    while next().is_ok() {} // what was already queued
    sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    ensure!(next().is_err(), "no watchdog pings while lqosd is stopped");
    std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()?;
    ensure!(next()?.contains("WATCHDOG=1"), "pings resume");
    Ok(())
}

#[test]
fn teardown_removes_everything_lqosd_put_in_the_kernel() -> Result<()> {
    require_root();
    let rows = [device_row("T", "Site", "100.64.6.1", "", 20.0, 5.0)];
    let mut tb = shaped("teardown", &rows, &["100.64.6.1/16"])?;
    let pins = tb.bpffs.join("pins");
    ensure!(
        std::fs::read_dir(&pins)?.count() >= 9,
        "5 maps and 4 links pinned"
    );
    let refused = tb.shaper.exec(
        lqos_e2e::bin_path("lqosd").to_str().unwrap_or("lqosd"),
        &["--config", tb.config().to_str().unwrap_or(""), "teardown"],
    )?;
    ensure!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("stop it first"),
        "teardown refuses while lqosd runs"
    );
    tb.stop_lqosd()?;
    let qdiscs = tb.shaper.run("tc", &["qdisc", "show", "dev", "lqn"])?;
    ensure!(
        qdiscs.contains("mq 7fff:"),
        "shaping stays after SIGTERM: {qdiscs}"
    );
    let link = tb.shaper.run("ip", &["link", "show", "dev", "lqn"])?;
    ensure!(
        link.contains("xdp"),
        "XDP stays attached after SIGTERM: {link}"
    );
    let out = tb.shaper.exec(
        lqos_e2e::bin_path("lqosd").to_str().unwrap_or("lqosd"),
        &["--config", tb.config().to_str().unwrap_or(""), "teardown"],
    )?;
    ensure!(
        out.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(!pins.exists(), "the pin directory is gone");
    for dev in ["lqi", "lqn"] {
        let q = tb.shaper.run("tc", &["qdisc", "show", "dev", dev])?;
        ensure!(
            !q.contains("mq 7fff:") && !q.contains("htb"),
            "{dev} qdiscs: {q}"
        );
        let link = tb.shaper.run("ip", &["link", "show", "dev", dev])?;
        ensure!(!link.contains("xdp"), "{dev} has no XDP program: {link}");
    }
    ensure!(
        !tb.dir.join("state/lqosd/live-plan.bin").exists(),
        "the saved plan is forgotten"
    );
    Ok(())
}
