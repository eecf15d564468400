//! Lazy queues (`[queues] lazy_queues`): a circuit's queue is built when it first carries
//! traffic, its packets are held within its parent's limits until then, idle circuits
//! collapse again, and a restart adopts what was built.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER, WIRE_PER_PAYLOAD};
use std::time::{Duration, Instant};

/// A test bed with two 20/5 circuits under the 60/30 node `Capped` and lazy queues on.
fn lazy_bed(label: &str, mode: &str, expire_secs: u32, third_octet: u8) -> Result<Testbed> {
    let mut tb = Testbed::new(label)?;
    let (a, b) = (
        format!("100.64.{third_octet}.1"),
        format!("100.64.{third_octet}.2"),
    );
    for addr in [&a, &b] {
        tb.add_subscriber_addr(&format!("{addr}/16"))?;
    }
    let rows = [
        device_row("LA", "Capped", &a, "", 20.0, 5.0),
        device_row("LB", "Capped", &b, "", 20.0, 5.0),
    ];
    tb.queues_conf = format!("lazy_queues = \"{mode}\"\nlazy_expire_seconds = {expire_secs}\n");
    tb.write_inputs(NET, &format!("{CSV_HEADER}{}", rows.concat()), "")?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    Ok(tb)
}

/// Rewrites ShapedDevices.csv with LA and LB (at `100.64.<third_octet>.1` and `.2`) at these
/// download rates, `la`'s upload 5 and `lb`'s 7 Mbit/s.
fn write_rates(tb: &Testbed, third_octet: u8, la: f64, lb: f64) -> Result<()> {
    let rows = [
        device_row(
            "LA",
            "Capped",
            &format!("100.64.{third_octet}.1"),
            "",
            la,
            5.0,
        ),
        device_row(
            "LB",
            "Capped",
            &format!("100.64.{third_octet}.2"),
            "",
            lb,
            7.0,
        ),
    ];
    tb.dir.write(
        "ShapedDevices.csv",
        format!("{CSV_HEADER}{}", rows.concat()),
    )?;
    Ok(())
}

/// The download class a circuit's address is planned in (`lqos lookup`).
fn planned_class(tb: &Testbed, addr: &str) -> Result<String> {
    let out = lqos(tb, &["lookup", addr])?;
    out.split("download class ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .map(str::to_owned)
        .with_context(|| format!("no class in {out:?}"))
}

fn class_exists(tb: &Testbed, classid: &str) -> Result<bool> {
    let out = tb
        .shaper
        .run("tc", &["class", "show", "dev", "lqn", "classid", classid])?;
    Ok(out.contains(&format!("class htb {classid} ")))
}

fn leaf_exists(tb: &Testbed, classid: &str) -> Result<bool> {
    let out = tb.shaper.run("tc", &["qdisc", "show", "dev", "lqn"])?;
    Ok(out
        .lines()
        .any(|l| l.contains(&format!("parent {classid} "))))
}

/// Bytes sent by the lazy pool classes of `lqn` (minors from 0xf000 up, see lqos_plan::lazy).
fn pool_sent_bytes(tb: &Testbed) -> Result<u64> {
    let out = tb
        .shaper
        .run("tc", &["-s", "class", "show", "dev", "lqn"])?;
    let mut total = 0;
    let mut in_pool = false;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("class htb ") {
            let minor = rest
                .split_whitespace()
                .next()
                .and_then(|id| id.split_once(':'))
                .and_then(|(_, m)| u16::from_str_radix(m, 16).ok());
            in_pool = minor.is_some_and(|m| m >= 0xf000);
        } else if in_pool {
            if let Some(sent) = line.trim().strip_prefix("Sent ") {
                total += sent
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                in_pool = false;
            }
        }
    }
    Ok(total)
}

/// Polls `check` every 20 ms for up to `limit`; how long it took to hold.
fn time_until(
    limit: Duration,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<Option<Duration>> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check()? {
            return Ok(Some(started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

/// 1 s windows of a finished flow, on the wire, in Mbit/s.
fn windows(t: &lqos_e2e::testbed::Throughput) -> Vec<f64> {
    t.intervals_bps
        .chunks_exact(2)
        .map(|p| (p[0] + p[1]) / 2.0 * WIRE_PER_PAYLOAD / 1e6)
        .collect()
}

#[test]
fn full_lazy_queues_hold_a_new_circuit_in_its_parent_build_it_within_a_second_and_collapse_it(
) -> Result<()> {
    require_root();
    let _one = serial();
    let tb = lazy_bed("lazyfull", "Full", 3, 30)?;
    let class = planned_class(&tb, "100.64.30.1")?;
    ensure!(
        !class_exists(&tb, &class)?,
        "no class for an idle circuit before traffic"
    );
    let status = lqos(&tb, &["status"])?;
    ensure!(
        status.contains("lazy queues Full: 0 of 2 circuits built"),
        "{status}"
    );
    ensure!(pool_sent_bytes(&tb)? == 0, "the pools are idle");
    // The flow's first packets go to the pool under `Capped` (60 Mbit/s).
    let flow = tb.start_flow("100.64.30.1", false, 6)?;
    let built = time_until(Duration::from_secs(3), || class_exists(&tb, &class))?;
    let t = flow.finish()?;
    let w = windows(&t);
    eprintln!("circuit class {class} built {built:?} after the flow started; 1 s windows {w:.1?}");
    let built = built.context("the circuit's class was never built")?;
    ensure!(
        built < Duration::from_secs(1),
        "first traffic to own class took {built:?} (goal under 1 s)"
    );
    let pooled = pool_sent_bytes(&tb)?;
    eprintln!("the pool sent {pooled} bytes before the class existed");
    ensure!(
        pooled > 0,
        "the first packets were held in the parent's pool"
    );
    // Never unshaped (this path carries Gbit/s): never above the parent's 60 Mbit/s.
    ensure!(
        w.iter().all(|&x| x < 60.0 * 1.15),
        "held within the parent: {w:.1?}"
    );
    // From the third second on, the circuit's own 20 Mbit/s plan.
    let settled = &w[2..];
    let mean = settled.iter().sum::<f64>() / settled.len() as f64;
    ensure!(
        within(mean, 20.0, 0.05),
        "own plan after the build: {mean:.2} ({w:.1?})"
    );
    ensure!(
        !class_exists(&tb, &planned_class(&tb, "100.64.30.2")?)?,
        "the other, idle circuit stays unbuilt"
    );
    // Idle for lazy_expire_seconds (3 s): the class goes again.
    let collapsed = time_until(Duration::from_secs(8), || Ok(!class_exists(&tb, &class)?))?;
    eprintln!("collapsed {collapsed:?} after the flow ended");
    let collapsed = collapsed.context("the idle circuit never collapsed")?;
    ensure!(
        collapsed >= Duration::from_secs(2),
        "collapsed only after lazy_expire_seconds: {collapsed:?}"
    );
    let status = lqos(&tb, &["status"])?;
    ensure!(
        status.contains("0 of 2 circuits built (1 built, 1 collapsed since start"),
        "{status}"
    );
    // Collapsed is still shaped: the next flow is held in the pool, then built again.
    let again = tb.measure("100.64.30.1", false)?.wire_mbps();
    ensure!(again < 60.0 * 1.1, "after the collapse: {again:.1} Mbit/s");
    ensure!(class_exists(&tb, &class)?, "built again by the new flow");
    // Re-rating the idle circuit LB changes the plan, not the kernel.
    write_rates(&tb, 30, 20.0, 35.0)?;
    let out = tb.refresh()?;
    ensure!(
        out.contains("applied generation")
            && out.contains("classes +0 ~0 -0, IP mappings +0 ~0 -0"),
        "a plan change to an absent circuit costs no tc operation:\n{out}"
    );
    // Sent as a delta, which lqosd patches into its live plan in place (lazy queues keep the
    // kernel's plan apart): the same inputs again find lqosd's live plan unchanged.
    ensure!(out.contains("sent a delta of"), "{out}");
    let unchanged = |tb: &Testbed| -> Result<()> {
        let again = tb.refresh()?;
        ensure!(
            again.contains("unchanged"),
            "the live plan is the patched one:\n{again}"
        );
        Ok(())
    };
    unchanged(&tb)?;
    // Re-rating LA while it carries traffic (built): its class alone changes in the kernel.
    let flow = tb.start_flow("100.64.30.1", false, 6)?;
    time_until(Duration::from_secs(3), || class_exists(&tb, &class))?.context("LA built again")?;
    write_rates(&tb, 30, 25.0, 35.0)?;
    let out = tb.refresh()?;
    flow.finish()?;
    ensure!(
        out.contains("sent a delta of") && out.contains("classes +0 ~1 -0, IP mappings +0 ~0 -0"),
        "one class changed:\n{out}"
    );
    let shown = tb
        .shaper
        .run("tc", &["class", "show", "dev", "lqn", "classid", &class])?;
    ensure!(shown.contains("ceil 25Mbit"), "{shown}");
    // The scheduler kept both deltas in its journal and replays them onto the plan it kept
    // whole: what it gets is lqosd's live plan.
    let journal = tb
        .dir
        .join("state")
        .join(lqos_scheduler::state::SUBMITTED_DELTAS_FILE);
    ensure!(journal.exists(), "no journal at {}", journal.display());
    unchanged(&tb)?;
    Ok(())
}

#[test]
fn htb_lazy_queues_build_every_class_and_a_leaf_only_for_traffic() -> Result<()> {
    require_root();
    let _one = serial();
    let tb = lazy_bed("lazyhtb", "Htb", 0, 31)?;
    let (a, b) = (
        planned_class(&tb, "100.64.31.1")?,
        planned_class(&tb, "100.64.31.2")?,
    );
    ensure!(
        class_exists(&tb, &a)? && class_exists(&tb, &b)?,
        "every class built"
    );
    ensure!(
        !leaf_exists(&tb, &a)? && !leaf_exists(&tb, &b)?,
        "no leaf qdisc before traffic"
    );
    let flow = tb.start_flow("100.64.31.1", false, 4)?;
    let leaf = time_until(Duration::from_secs(3), || leaf_exists(&tb, &a))?;
    let t = flow.finish()?;
    eprintln!(
        "leaf built {leaf:?} after the flow started; {:.2} Mbit/s",
        t.wire_mbps()
    );
    ensure!(
        leaf.is_some_and(|l| l < Duration::from_secs(1)),
        "leaf qdisc within 1 s: {leaf:?}"
    );
    let rate = tb.measure_plan("100.64.31.1", false, 20.0)?;
    ensure!(within(rate, 20.0, 0.05), "{rate:.2}");
    ensure!(!leaf_exists(&tb, &b)?, "the idle circuit has no leaf");
    // lazy_expire_seconds = 0: built circuits never collapse.
    std::thread::sleep(Duration::from_secs(2));
    ensure!(leaf_exists(&tb, &a)?, "kept with lazy_expire_seconds = 0");
    Ok(())
}

#[test]
fn a_restart_adopts_the_circuits_lazy_queues_built() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = lazy_bed("lazyrestart", "Full", 600, 32)?;
    let class = planned_class(&tb, "100.64.32.1")?;
    tb.measure("100.64.32.1", false)?;
    ensure!(class_exists(&tb, &class)?, "built by traffic");
    let before = tb.shaper.run("tc", &["class", "show", "dev", "lqn"])?;
    tb.stop_lqosd()?;
    tb.start_lqosd()?;
    let log = tb.lqosd_log();
    ensure!(
        log.contains("lazy queues: adopted the built circuits")
            && log.contains("nothing re-applied"),
        "{log}"
    );
    let after = tb.shaper.run("tc", &["class", "show", "dev", "lqn"])?;
    ensure!(
        after.lines().count() == before.lines().count() && class_exists(&tb, &class)?,
        "the same tree after the restart:\n{before}\n{after}"
    );
    let status = lqos(&tb, &["status"])?;
    ensure!(status.contains("1 of 2 circuits built"), "{status}");
    let rate = tb.measure_plan("100.64.32.1", false, 20.0)?;
    ensure!(within(rate, 20.0, 0.05), "{rate:.2}");
    Ok(())
}
