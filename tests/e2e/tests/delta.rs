//! Plan deltas over the bus, end to end: a refresh that changes one circuit sends lqosd a
//! delta of a few hundred bytes, the circuit gets its new rate while a neighbour's flow goes
//! on, and the scheduler sends the full plan whenever lqosd's live plan is not the one it kept.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};

fn rows(a: f64) -> [String; 2] {
    [
        device_row("A", "Site", "100.64.5.1", "", a, 5.0),
        device_row("B", "Site", "100.64.5.2", "", 30.0, 5.0),
    ]
}

fn write_rows(tb: &Testbed, a: f64) -> Result<()> {
    tb.dir.write(
        "ShapedDevices.csv",
        format!("{CSV_HEADER}{}", rows(a).concat()),
    )?;
    Ok(())
}

/// The size the refresh reports for the delta it sent.
fn delta_bytes(out: &str) -> Option<usize> {
    let rest = out.split("sent a delta of ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn a_delta_refresh_re_rates_one_circuit_while_a_neighbour_flows() -> Result<()> {
    require_root();
    let _one = serial();
    let tb = shaped("delta", &rows(20.0), &["100.64.5.1/16", "100.64.5.2/16"])?;
    let before = tb.measure_plan("100.64.5.1", false, 20.0)?;
    ensure!(within(before, 20.0, 0.05), "A before: {before:.2}");
    let flow = tb.start_flow("100.64.5.2", false, 8)?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    write_rows(&tb, 60.0)?;
    let out = tb.refresh()?;
    eprintln!("{out}");
    let bytes = delta_bytes(&out).context(format!("the refresh sent no delta: {out}"))?;
    ensure!(bytes < 2_000, "a one-circuit delta is small: {bytes} bytes");
    ensure!(
        out.contains("applied generation") && out.contains("classes +0 ~"),
        "{out}"
    );
    let b = flow.finish()?;
    let windows = one_second_windows(&b);
    let slowest = windows.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!(
        "B during the delta: mean {:.2} Mbit/s, per second {windows:.1?}",
        b.wire_mbps()
    );
    ensure!(
        slowest > 30.0 / 10.0,
        "B stalled: slowest second {slowest:.2} Mbit/s"
    );
    ensure!(
        within(b.wire_mbps(), 30.0, 0.05),
        "B kept its rate: {:.2}",
        b.wire_mbps()
    );
    let after = tb.measure_plan("100.64.5.1", false, 60.0)?;
    eprintln!("A: {before:.2} -> {after:.2} Mbit/s (plan 20 -> 60, by delta)");
    ensure!(within(after, 60.0, 0.05), "A after: {after:.2}, plan 60");
    Ok(())
}

#[test]
fn the_full_plan_goes_when_lqosd_holds_another_plan_or_none() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = shaped(
        "delta-fallback",
        &rows(20.0),
        &["100.64.5.1/16", "100.64.5.2/16"],
    )?;
    let state = tb.dir.join("state");
    // The kept base no longer is what lqosd holds (same generation and hash on record, its
    // two mappings swapped): the delta would rebuild another plan than the scheduler's, so
    // lqosd refuses it untouched and the scheduler sends the full plan.
    let mut kept = lqos_scheduler::state::load_submitted(&state).context("kept base")?;
    ensure!(kept.plan.mappings.len() == 2, "{:?}", kept.plan.mappings);
    kept.plan.mappings.swap(0, 1);
    lqos_scheduler::state::save_submitted(&state, kept.generation, kept.hash, &kept.plan)?;
    write_rows(&tb, 40.0)?;
    let out = tb.refresh()?;
    ensure!(
        out.contains("lqosd refused the delta")
            && out.contains(lqos_bus::BASE_MISMATCH)
            && out.contains("applied generation"),
        "{out}"
    );
    let a = tb.measure_plan("100.64.5.1", false, 40.0)?;
    ensure!(
        within(a, 40.0, 0.05),
        "A after the full plan: {a:.2}, plan 40"
    );
    // lqosd restarted with its state lost and its tree gone (a reboot without state): it
    // reports no live plan, and the scheduler sends the full plan again.
    tb.stop_lqosd()?;
    std::fs::remove_dir_all(state.join("lqosd"))?;
    for dev in ["lqi", "lqn"] {
        tb.shaper.run("tc", &["qdisc", "del", "dev", dev, "root"])?;
    }
    tb.start_lqosd()?;
    write_rows(&tb, 25.0)?;
    let out = tb.refresh()?;
    ensure!(
        out.contains("sending the full plan: lqosd has no live plan")
            && out.contains("applied generation"),
        "{out}"
    );
    let a = tb.measure_plan("100.64.5.1", false, 25.0)?;
    ensure!(
        within(a, 25.0, 0.05),
        "A after the restart: {a:.2}, plan 25"
    );
    // From then on, deltas again.
    write_rows(&tb, 20.0)?;
    let out = tb.refresh()?;
    ensure!(delta_bytes(&out).is_some(), "{out}");
    Ok(())
}
