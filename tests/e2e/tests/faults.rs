//! Faults (docs/reliability.md, "Faults"): lqosd killed mid-apply, the scheduler killed
//! mid-integration, a full or read-only state directory, a corrupt saved plan, an input file
//! rewritten in place while it is read, the bus socket deleted, the clock stepped back, two
//! lqosd at once. Each test states the expected outcome it checks.

use anyhow::{bail, ensure, Result};
use lqos_e2e::bed::*;
use lqos_e2e::kernel_state::KernelState;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};
use std::time::{Duration, Instant};

fn live_state(tb: &Testbed) -> Result<KernelState> {
    KernelState::live(
        &tb.shaper,
        &["lqi", "lqn"],
        &tb.bpffs.join("pins").join(lqos_ebpf::MAP_IP),
    )
}

fn ensure_same(want: &KernelState, got: &KernelState, what: &str) -> Result<()> {
    let d = want.differences(got, 10);
    ensure!(d.is_empty(), "{what}:\n{}", d.join("\n"));
    Ok(())
}

fn rows(rates: &[(&str, &str, f64)]) -> String {
    let body: String = rates
        .iter()
        .map(|(id, ip, down)| device_row(id, "Site", ip, "", *down, 5.0))
        .collect();
    format!("{CSV_HEADER}{body}")
}

fn submit(
    socket: &std::path::Path,
    generation: u64,
    plan: &lqos_plan::QueuePlan,
) -> Result<lqos_bus::Response> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let request = lqos_bus::Request::SubmitPlan {
        generation,
        plan: plan.clone(),
    };
    Ok(rt.block_on(async {
        let mut c = lqos_bus::Client::connect(socket, Duration::from_secs(5)).await?;
        c.request_with_timeout(&request, Duration::from_secs(300))
            .await
    })?)
}

/// Fault 1: SIGKILL at a random point of an apply. Expected: the restarted lqosd is on one
/// consistent plan, the old or the new one (classes, leaf qdiscs and IP map equal to it).
#[test]
fn lqosd_killed_mid_apply_restarts_on_the_old_or_the_new_plan() -> Result<()> {
    use lqos_scheduler::plan::{plan, AssignOptions};
    require_root();
    let mut tb = Testbed::new("sigkill")?;
    tb.write_inputs(NET, CSV_HEADER, "")?;
    let (config, _) = lqos_config::Config::load(&tb.config())?;
    let mut inputs = lqos_gen::inputs(&lqos_gen::GenSpec {
        seed: 3,
        ..lqos_gen::GenSpec::new(3000)
    })
    .map_err(|d| anyhow::anyhow!("inputs: {d}"))?;
    for c in &mut inputs.circuits {
        c.sqm = None;
    }
    let opts = AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let old = plan(&inputs, &config, 2, None, opts)?;
    // Every circuit re-rated, a quarter removed: thousands of tc operations.
    let mut changed = inputs.clone();
    for c in &mut changed.circuits {
        c.download_max *= 0.5;
        c.download_min = c.download_min.min(c.download_max);
    }
    let keep = changed.circuits.len() * 3 / 4;
    changed.circuits.truncate(keep);
    let new = plan(&changed, &config, 2, Some(&old.state), opts)?;
    let (want_old, want_new) = (
        KernelState::of_plan(&old.plan)?,
        KernelState::of_plan(&new.plan)?,
    );
    tb.start_lqosd()?;
    let socket = tb.dir.join("bus");
    let timed = |generation, plan| -> Result<(Duration, Duration)> {
        let started = Instant::now();
        match submit(&socket, generation, plan)? {
            lqos_bus::Response::Applied { summary, .. } => Ok((
                started.elapsed(),
                Duration::from_millis(summary.duration_ms),
            )),
            other => bail!("{other:?}"),
        }
    };
    timed(1, &old.plan)?;
    ensure_same(&want_old, &live_state(&tb)?, "the old plan applied")?;
    // How long the change takes, and when lqosd starts on it after the request is sent.
    let (round_trip, apply) = timed(2, &new.plan)?;
    ensure_same(&want_new, &live_state(&tb)?, "the new plan applied")?;
    timed(3, &old.plan)?;
    let lead = round_trip.saturating_sub(apply);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos() as u64;
    eprintln!("the change applies in {apply:?}, starting {lead:?} after the request; kill delays from seed {seed}");
    let mut generation = 3;
    let mut outcomes = Vec::new();
    for round in 0..3u64 {
        // Somewhere in the middle 80% of the apply.
        let frac = ((seed / (round + 1)).wrapping_mul(7919) % 800 + 100) as u32;
        let delay = lead + apply * frac / 1000;
        generation += 1;
        let (g, p, bus) = (generation, new.plan.clone(), socket.clone());
        let submitting = std::thread::spawn(move || submit(&bus, g, &p));
        std::thread::sleep(delay);
        let marker = tb.dir.join("state/lqosd/apply-in-progress").exists();
        tb.kill_lqosd()?;
        let _ = submitting.join();
        tb.start_lqosd()?;
        let live = live_state(&tb)?;
        let outcome = if want_old.differences(&live, 1).is_empty() {
            "old"
        } else if want_new.differences(&live, 1).is_empty() {
            "new"
        } else {
            bail!(
                "after a kill {delay:?} into the apply the kernel holds neither plan:\nvs old: {}\nvs new: {}",
                want_old.differences(&live, 5).join("\n"),
                want_new.differences(&live, 5).join("\n")
            );
        };
        eprintln!("round {round}: killed {delay:?} into the apply (mid-apply: {marker}): restarted on the {outcome} plan");
        outcomes.push((marker, outcome));
        // Back to the old plan for the next round.
        generation += 1;
        if outcome == "new" {
            submit(&socket, generation, &old.plan)?;
        }
    }
    ensure!(
        outcomes.iter().any(|(mid, _)| *mid),
        "at least one kill landed mid-apply: {outcomes:?}"
    );
    Ok(())
}

/// A file system of the test's own at `path` (tmpfs), unmounted on drop.
struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(path: &std::path::Path, size: &str) -> Result<Mount> {
        std::fs::create_dir_all(path)?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()?
            .success();
        ensure!(ok, "cannot mount a tmpfs at {}", path.display());
        Ok(Mount(path.to_path_buf()))
    }

    fn remount(&self, opts: &str) -> Result<()> {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()?
            .success();
        ensure!(ok, "cannot remount {} {opts}", self.0.display());
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fault 3: `state_directory` full, then read-only. Expected: the plan is refused with the
/// OS's reason before the kernel is touched, the previous plan stays live and saved
/// byte for byte, and once space (or write access) returns the next refresh applies.
#[test]
fn a_full_or_read_only_state_directory_refuses_plans_and_recovers() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("statefull")?;
    let state = Mount::tmpfs(&tb.dir.join("state"), "512k")?;
    tb.write_inputs(NET, &rows(&[("S", "100.64.20.1", 20.0)]), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let saved = tb.dir.join("state/lqosd/live-plan.bin");

    let filler = tb.dir.join("state/filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler)?;
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).and_then(|()| f.sync_all()).is_ok() {}
    }
    for (fault, rate, reason) in [
        ("full", 40.0, "No space left on device"),
        ("read-only", 30.0, "Read-only file system"),
    ] {
        let saved_bytes = std::fs::read(&saved)?;
        let before = live_state(&tb)?;
        if fault == "read-only" {
            state.remount("ro")?;
        }
        tb.dir
            .write("ShapedDevices.csv", rows(&[("S", "100.64.20.1", rate)]))?;
        let out = tb.scheduler(&["refresh"])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{fault}: {stderr}");
        ensure!(!out.status.success(), "{fault}: the refresh must fail");
        ensure!(
            stderr.contains("lqosd rejected the plan") && stderr.contains(reason),
            "{fault}: lqosd refuses and says why: {stderr}"
        );
        ensure_same(&before, &live_state(&tb)?, "the previous plan stays live")?;
        ensure!(
            std::fs::read(&saved)? == saved_bytes,
            "{fault}: the last good saved plan is intact"
        );
        if fault == "full" {
            std::fs::remove_file(&filler)?;
        } else {
            state.remount("rw")?;
        }
        let out = tb.refresh()?;
        ensure!(
            out.contains("applied generation"),
            "{fault}: recovered: {out}"
        );
        let live = live_tree(&tb)?;
        ensure!(
            live.iter().any(|l| l.contains(&format!("ceil {rate}Mbit"))),
            "{fault}: the new rate is live after recovery: {live:#?}"
        );
    }
    Ok(())
}

/// Fault 4: a corrupt or truncated saved plan at start. Expected: lqosd starts, logs that it
/// ignores the saved plan (naming the file and the cause), leaves the kernel as it was (the
/// IP map keeps shaping: no half-applied garbage), and the next refresh rebuilds the plan.
#[test]
fn a_corrupt_or_truncated_saved_plan_is_reported_and_the_next_refresh_rebuilds() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("corrupt")?;
    tb.write_inputs(
        NET,
        &rows(&[("C1", "100.64.21.1", 20.0), ("C2", "100.64.21.2", 30.0)]),
        "",
    )?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let saved = tb.dir.join("state/lqosd/live-plan.bin");
    let good = std::fs::read(&saved)?;
    let before = live_state(&tb)?;
    let garbage: Vec<u8> = (0..good.len() as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", garbage),
    ] {
        tb.stop_lqosd()?;
        std::fs::write(&saved, &bytes)?;
        tb.start_lqosd()?;
        let log = tb.lqosd_log();
        ensure!(
            log.contains("ignoring the saved plan") && log.contains("live-plan.bin is corrupt"),
            "{what}: lqosd says it ignores the corrupt file:\n{log}"
        );
        ensure!(!log.contains("panicked"), "{what}: no panic:\n{log}");
        ensure_same(&before, &live_state(&tb)?, "the kernel is left as it was")?;
        let out = tb.refresh()?;
        ensure!(out.contains("applied generation"), "{what}: {out}");
        ensure_same(&before, &live_state(&tb)?, "the refresh rebuilt the plan")?;
        ensure!(
            lqos(&tb, &["status"])?.contains("shaper: 2 circuits"),
            "{what}: status after the rebuild"
        );
    }
    Ok(())
}

/// Fault 5: ShapedDevices.csv rewritten in place (truncated, then written slowly) while
/// refreshes run. Expected: no refresh ever plans a half file: each waits for the file to go
/// quiet (or reads it again when it changed during the read), so every plan has all circuits.
#[test]
fn a_csv_rewritten_in_place_is_never_planned_half_written() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("inplace")?;
    let circuits = 300;
    let table = |down: f64| {
        let r: Vec<(String, String, f64)> = (0..circuits)
            .map(|i| {
                (
                    format!("P{i}"),
                    format!("100.64.{}.{}", 30 + i / 200, 1 + i % 200),
                    down,
                )
            })
            .collect();
        let refs: Vec<(&str, &str, f64)> = r
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
            .collect();
        rows(&refs)
    };
    tb.write_inputs(NET, &table(20.0), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let path = tb.dir.join("ShapedDevices.csv");
    let text = table(25.0);
    let writer = std::thread::spawn(move || -> Result<()> {
        use std::io::Write;
        // An editor that does not write atomically: truncate, then 1 KiB every 100 ms.
        let mut f = std::fs::File::create(&path)?;
        for chunk in text.as_bytes().chunks(1024) {
            std::thread::sleep(Duration::from_millis(100));
            f.write_all(chunk)?;
        }
        Ok(())
    });
    let mut planned = Vec::new();
    let mut during = 0;
    while !writer.is_finished() || planned.is_empty() {
        let writing = !writer.is_finished();
        let out = tb.scheduler(&["refresh"])?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let n = stderr
            .lines()
            .find_map(|l| l.strip_prefix("plan: "))
            .and_then(|l| l.split_whitespace().next()?.parse::<usize>().ok());
        if writing {
            during += 1;
        }
        planned.push((writing, n, out.status.success()));
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    eprintln!("refreshes (started while writing, circuits planned, ok): {planned:?}");
    ensure!(
        during > 0,
        "a refresh started while the file was being written"
    );
    ensure!(
        planned
            .iter()
            .all(|(_, n, _)| n.is_none_or(|n| n == circuits)),
        "a refresh planned a half-written file: {planned:?}"
    );
    let live = live_tree(&tb)?;
    ensure!(
        live.iter().filter(|l| l.contains("ceil 25Mbit")).count() == circuits,
        "the whole new file is live"
    );
    Ok(())
}

/// Fault 6: the bus socket deleted while lqosd runs. Expected: within a few seconds lqosd
/// notices, binds a new socket at the same path, logs it and raises an urgent issue; the CLI
/// and refreshes work again.
#[test]
fn a_deleted_bus_socket_is_re_created() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("socket")?;
    tb.write_inputs(NET, &rows(&[("B", "100.64.22.1", 20.0)]), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    std::fs::remove_file(tb.dir.join("bus"))?;
    let gone = Instant::now();
    let back = wait_until(Duration::from_secs(10), || {
        Ok(std::os::unix::net::UnixStream::connect(tb.dir.join("bus")).is_ok())
    })?;
    ensure!(back, "the socket was not re-created:\n{}", tb.lqosd_log());
    eprintln!(
        "socket back {:.1} s after it was deleted",
        gone.elapsed().as_secs_f64()
    );
    let issues = lqos(&tb, &["issues"])?;
    ensure!(issues.contains("bus_socket_recreated"), "{issues}");
    ensure!(lqos(&tb, &["status"])?.contains("shaper: 1 circuits"));
    tb.dir
        .write("ShapedDevices.csv", rows(&[("B", "100.64.22.1", 35.0)]))?;
    ensure!(tb.refresh()?.contains("applied generation"));
    Ok(())
}

/// Fault 7: the wall clock stepped back an hour (libfaketime on lqosd and the scheduler; the
/// monotonic clock, which never steps, is left alone). Expected: an edit made after the step
/// is applied within seconds (plan generations stay ahead of the live one), and lqosd keeps
/// answering with sane rates.
#[test]
fn the_clock_stepped_back_an_hour_stalls_nothing() -> Result<()> {
    require_root();
    let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    ensure!(
        std::path::Path::new(lib).exists(),
        "{lib} is missing: install Debian's faketime (scripts/setup.sh does)"
    );
    let mut tb = Testbed::new("clock")?;
    let offset = tb.dir.write("faketime", "+0\n")?;
    for (k, v) in [
        ("LD_PRELOAD", lib),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap_or("")),
        ("FAKETIME_NO_CACHE", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ] {
        tb.env.push((k.into(), v.into()));
    }
    tb.add_subscriber_addr("100.64.23.1/16")?;
    tb.write_inputs(NET, &rows(&[("K", "100.64.23.1", 20.0)]), "")?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    tb.wait_for_applies(1, Duration::from_secs(30))?;
    std::fs::write(&offset, "-3600\n")?;
    std::thread::sleep(Duration::from_secs(1));
    tb.dir
        .write("ShapedDevices.csv", rows(&[("K", "100.64.23.1", 40.0)]))?;
    tb.wait_for_applies(2, Duration::from_secs(20))?;
    let live = live_tree(&tb)?;
    ensure!(
        live.iter().any(|l| l.contains("ceil 40Mbit")),
        "the edit is live: {live:#?}"
    );
    let flow = tb.start_flow("100.64.23.1", false, 4)?;
    std::thread::sleep(Duration::from_secs(3));
    let top = lqos(&tb, &["top"])?;
    let t = flow.finish()?;
    eprintln!(
        "after the step: iperf3 {:.1} Mbit/s; lqos top:\n{top}",
        t.wire_mbps()
    );
    ensure!(
        t.wire_mbps() > 10.0 && t.wire_mbps() < 44.0,
        "shaped by the new plan: {:.1}",
        t.wire_mbps()
    );
    ensure!(
        top.contains("100.64.23.1") && !top.contains('-'),
        "lqosd's rates show the flow, none negative: {top}"
    );
    let log = tb.lqosd_log() + &tb.scheduler_log();
    ensure!(!log.contains("panicked"), "{log}");
    Ok(())
}

/// Fault 8: a second lqosd on the same configuration. Expected: it exits at once with a message
/// naming the running one, before touching the kernel; the first goes on unchanged.
#[test]
fn a_second_lqosd_on_the_same_config_refuses_to_start() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("twice")?;
    tb.write_inputs(NET, &rows(&[("T", "100.64.24.1", 20.0)]), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let before = live_state(&tb)?;
    let started = Instant::now();
    let out = tb.shaper.exec(
        lqos_e2e::bin_path("lqosd").to_str().unwrap_or("lqosd"),
        &["--config", tb.config().to_str().unwrap_or("")],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success(),
        "the second lqosd must exit: {stderr}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "it refuses at once"
    );
    let pid = tb.lqosd_pid().unwrap_or(0).to_string();
    ensure!(
        stderr.contains("another lqosd") && stderr.contains(&pid),
        "the refusal names the running lqosd (pid {pid}): {stderr}"
    );
    ensure!(
        !stderr.contains("data plane attached"),
        "it touched nothing: {stderr}"
    );
    ensure_same(
        &before,
        &live_state(&tb)?,
        "the first lqosd's plan is intact",
    )?;
    ensure!(lqos(&tb, &["status"])?.contains("shaper: 1 circuits"));
    Ok(())
}

/// An HTTP export in the shaper's namespace serving `body`; while `slow` is set it sends the
/// headers and then one byte a second (a fetch that is under way for as long as the test
/// wants). `started` counts the requests begun.
struct Export {
    port: u16,
    body: std::sync::Arc<std::sync::Mutex<String>>,
    slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Export {
    fn start(tb: &Testbed, body: String) -> Result<Export> {
        use std::io::{BufRead, Write};
        use std::sync::atomic::Ordering;
        let listener = lqos_e2e::in_namespace(tb.shaper.name(), || {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?)
        })?;
        let export = Export {
            port: listener.local_addr()?.port(),
            body: std::sync::Arc::new(std::sync::Mutex::new(body)),
            slow: Default::default(),
            started: Default::default(),
        };
        let (body, slow, started) = (
            export.body.clone(),
            export.slow.clone(),
            export.started.clone(),
        );
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let body = body.lock().map(|b| b.clone()).unwrap_or_default();
                let slow = slow.load(Ordering::Relaxed);
                started.fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || {
                    let Ok(read) = stream.try_clone() else { return };
                    let mut reader = std::io::BufReader::new(read);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                        line.clear();
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).is_err() {
                        return;
                    }
                    if slow {
                        for b in body.as_bytes() {
                            std::thread::sleep(Duration::from_secs(1));
                            if stream.write_all(&[*b]).is_err() {
                                return;
                            }
                        }
                    } else {
                        let _ = stream.write_all(body.as_bytes());
                    }
                });
            }
        });
        Ok(export)
    }
}

/// Fault 2: the scheduler killed in the middle of an integration's fetch. Expected: nothing
/// is written (the inputs on disk stay as they were, no temp file) and nothing is applied;
/// the next run of the scheduler fetches again and applies the new export.
#[test]
fn a_scheduler_killed_mid_integration_applies_nothing_and_the_next_run_works() -> Result<()> {
    use std::sync::atomic::Ordering;
    require_root();
    let mut tb = Testbed::new("midimport")?;
    let first = rows(&[("M", "100.64.25.1", 20.0)]);
    let export = Export::start(&tb, first.clone())?;
    let import = format!(
        "[http_import]\nshaped_devices_url = \"http://127.0.0.1:{}/ShapedDevices.csv\"\ntimeout_secs = 120\n",
        export.port
    );
    tb.write_inputs(NET, &first, &import)?;
    tb.start_lqosd()?;
    tb.start_scheduler_service()?;
    tb.wait_for_applies(1, Duration::from_secs(30))?;
    let before = live_state(&tb)?;
    let on_disk = std::fs::read(tb.dir.join("ShapedDevices.csv"))?;

    // The export changes and becomes slow; an edit of network.json starts a refresh whose
    // fetch is under way when the scheduler dies.
    *export.body.lock().map_err(|_| anyhow::anyhow!("lock"))? =
        rows(&[("M", "100.64.25.1", 60.0), ("N", "100.64.25.2", 10.0)]);
    export.slow.store(true, Ordering::Relaxed);
    let fetches = export.started.load(Ordering::Relaxed);
    tb.dir.write("network.json", format!("{NET}\n"))?;
    let fetching = wait_until(Duration::from_secs(15), || {
        Ok(export.started.load(Ordering::Relaxed) > fetches)
    })?;
    ensure!(fetching, "no fetch started:\n{}", tb.scheduler_log());
    std::thread::sleep(Duration::from_secs(2));
    tb.kill_scheduler()?;
    std::thread::sleep(Duration::from_millis(500));
    ensure!(
        std::fs::read(tb.dir.join("ShapedDevices.csv"))? == on_disk,
        "the file on disk is the last good one"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tb.dir.path())?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .map(|e| e.file_name())
        .collect();
    ensure!(leftovers.is_empty(), "no temp files left: {leftovers:?}");
    ensure_same(&before, &live_state(&tb)?, "nothing was applied")?;

    export.slow.store(false, Ordering::Relaxed);
    tb.start_scheduler_service()?;
    tb.wait_for_applies(2, Duration::from_secs(30))?;
    let live = live_tree(&tb)?;
    ensure!(
        live.iter().any(|l| l.contains("ceil 60Mbit"))
            && lqos(&tb, &["status"])?.contains("shaper: 2 circuits"),
        "the next run applied the new export: {live:#?}"
    );
    Ok(())
}
