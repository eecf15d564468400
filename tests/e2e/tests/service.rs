//! The scheduler as a service with the real lqosd: edits applied within seconds, broken
//! inputs and integrations that leave shaping alone and raise urgent issues, a killed
//! scheduler, lqosd restarting under it.

use anyhow::{ensure, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};

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
    let before = tb.measure_plan("100.64.10.1", false, 20.0)?;
    ensure!(within(before, 20.0, 0.05), "first plan: {before:.2}");
    tb.dir.write(
        "ShapedDevices.csv",
        format!("{CSV_HEADER}{}", rows(50.0).concat()),
    )?;
    let edited = std::time::Instant::now();
    tb.wait_for_applies(2, std::time::Duration::from_secs(10))?;
    eprintln!(
        "edit applied {:.1} s after it was saved",
        edited.elapsed().as_secs_f64()
    );
    let after = tb.measure_plan("100.64.10.1", false, 50.0)?;
    eprintln!("service: 20 -> 50 Mbit/s plan, measured {before:.2} -> {after:.2}");
    ensure!(
        within(after, 50.0, 0.05),
        "after the edit: {after:.2}, plan 50"
    );
    Ok(())
}

#[test]
fn a_broken_edit_keeps_shaping_and_raises_an_urgent_issue() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::new("urgent")?;
    tb.add_subscriber_addr("100.64.11.1/16")?;
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("U", "Site", "100.64.11.1", "", 20.0, 5.0)
        ),
        "",
    )?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    tb.wait_for_applies(1, std::time::Duration::from_secs(20))?;
    ensure!(lqos(&tb, &["issues"])?.contains("no urgent issues"));
    tb.dir.write(
        "network.json",
        "{ \"Site\": { \"downloadBandwidthMbps\": \"fast\" } }",
    )?;
    let mut issues = String::new();
    let appeared = wait_until(std::time::Duration::from_secs(15), || {
        issues = lqos(&tb, &["issues"])?;
        Ok(issues.contains("scheduler/"))
    })?;
    ensure!(
        appeared,
        "no urgent issue appeared:\n{issues}\n{}",
        tb.scheduler_log()
    );
    eprintln!("{issues}");
    ensure!(
        issues.contains("ERROR")
            && issues.contains("network.json")
            && issues.contains("last good plan stays live"),
        "{issues}"
    );
    let rate = tb.measure_plan("100.64.11.1", false, 20.0)?;
    ensure!(
        within(rate, 20.0, 0.05),
        "the last good plan still shapes: {rate:.2}"
    );
    let status = lqos(&tb, &["status"])?;
    ensure!(
        status.contains("shaper: 1 circuits")
            && status.contains("last refresh FAILED (1 in a row)"),
        "{status}"
    );
    let found = lqos(&tb, &["lookup", "100.64.11.1"])?;
    ensure!(found.contains("circuit U via 100.64.11.1/32"), "{found}");
    ensure!(lqos(&tb, &["lookup", "100.64.99.99"])?.contains("passes unshaped"));
    let id = issues
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .unwrap_or("0")
        .to_owned();
    lqos(&tb, &["ack", &id])?;
    ensure!(lqos(&tb, &["issues"])?.contains("(acknowledged)"));
    Ok(())
}

/// An HTTP export inside the shaper's namespace: `mode` 0 serves content that does not
/// validate, 1 hangs for 30 s.
fn export_server(tb: &Testbed, mode: std::sync::Arc<std::sync::atomic::AtomicU8>) -> Result<u16> {
    use std::io::{BufRead, Write};
    let listener = lqos_e2e::in_namespace(tb.shaper.name(), || {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?)
    })?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mode = mode.load(std::sync::atomic::Ordering::Relaxed);
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                if mode == 1 {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                }
                let body = "<html>maintenance</html>\n";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
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
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("I", "Site", "100.64.12.1", "", 20.0, 5.0)
        ),
        &import,
    )?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    // The export does not validate: the last good files are planned, and an issue says so.
    tb.wait_for_applies(1, std::time::Duration::from_secs(20))?;
    let raised = wait_until(std::time::Duration::from_secs(15), || {
        Ok(lqos(&tb, &["issues"])?.contains("http_import/integration_failed"))
    })?;
    ensure!(raised, "no integration issue:\n{}", tb.scheduler_log());
    let rate = tb.measure_plan("100.64.12.1", false, 20.0)?;
    ensure!(
        within(rate, 20.0, 0.05),
        "shaped from the last good inputs: {rate:.2}"
    );
    let before = live_tree(&tb)?;

    // Now the export hangs; an edit starts a refresh, and the scheduler is killed in the middle.
    mode.store(1, std::sync::atomic::Ordering::Relaxed);
    tb.dir.write(
        "ShapedDevices.csv",
        format!(
            "{CSV_HEADER}{}",
            device_row("I", "Site", "100.64.12.1", "", 60.0, 5.0)
        ),
    )?;
    let started = wait_until(std::time::Duration::from_secs(15), || {
        Ok(lqos(&tb, &["status"])?.contains("scheduler: refreshing"))
    })?;
    ensure!(
        started,
        "the refresh did not start:\n{}",
        tb.scheduler_log()
    );
    tb.kill_scheduler()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let config = tb.config().display().to_string();
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("{config} refresh")])
        .output()?;
    ensure!(
        left.stdout.is_empty(),
        "the refresh died with the scheduler: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    ensure!(
        live_tree(&tb)? == before,
        "the shaper is on the last good plan"
    );
    let rate = tb.measure_plan("100.64.12.1", false, 20.0)?;
    ensure!(
        within(rate, 20.0, 0.05),
        "still shaped by the last good plan: {rate:.2}"
    );
    Ok(())
}

#[test]
fn when_lqosd_restarts_the_scheduler_waits_and_submits_again() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("reconnect")?;
    tb.add_subscriber_addr("100.64.13.1/16")?;
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("R", "Site", "100.64.13.1", "", 20.0, 5.0)
        ),
        "",
    )?;
    // The scheduler first, lqosd later: it waits instead of failing.
    tb.start_scheduler_service()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    tb.start_lqosd()?;
    tb.wait_for_applies(1, std::time::Duration::from_secs(40))?;
    tb.stop_lqosd()?;
    std::thread::sleep(std::time::Duration::from_secs(6));
    tb.start_lqosd()?;
    let resubmitted = wait_until(std::time::Duration::from_secs(30), || {
        let log = tb.scheduler_log();
        Ok(log.contains("lqosd is back: submitting the plan again")
            && log.contains("unchanged: generation"))
    })?;
    ensure!(resubmitted, "no re-submission:\n{}", tb.scheduler_log());
    ensure!(
        tb.lqosd_log().contains("adopted the live plan"),
        "lqosd kept shaping across its restart"
    );
    Ok(())
}
