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
