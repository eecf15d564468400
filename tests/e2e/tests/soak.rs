//! The soak, short (CI: 20 cycles of ~1% churn on 1,000 circuits, one flow): after every cycle
//! the kernel holds exactly the plan, the flow was never unshaped nor stalled, and lqosd's
//! memory does not grow. `scripts/soak.sh` runs the long one and prints its figures
//! (`LQOS_SOAK_CIRCUITS`, `LQOS_SOAK_CYCLES`, `LQOS_SOAK_FLOWS` set the size).

use anyhow::{ensure, Result};
use lqos_e2e::bed::serial;
use lqos_e2e::require_root;
use lqos_e2e::soak::{run, SoakSpec};

#[test]
fn churn_keeps_the_kernel_equal_to_the_plan_and_the_flows_shaped() -> Result<()> {
    require_root();
    let _one = serial();
    let spec = SoakSpec::from_env(1000, 20, 1);
    let started = std::time::Instant::now();
    let report = run(&spec)?;
    report.print(&spec, started.elapsed());
    ensure!(report.checked == spec.cycles, "every cycle checked");
    let c = report.changes;
    ensure!(
        c.added > 0 && c.removed > 0 && c.rerated > 0 && c.readdressed > 0 && c.moved > 0,
        "every kind of change exercised: {c:?}"
    );
    ensure!(
        spec.flows == 0 || !report.flow_windows.is_empty(),
        "the flows were measured"
    );
    ensure!(
        report.violations.is_empty(),
        "flows unshaped or stalled: {:#?}",
        report.violations
    );
    // Memory: after a warm-up, no growth beyond allocator noise.
    let warm = report.rss_mib[report.rss_mib.len() / 4];
    let end = *report.rss_mib.last().unwrap_or(&0.0);
    ensure!(
        end <= warm * 1.25 + 4.0,
        "lqosd's RSS grew from {warm:.1} to {end:.1} MiB: {:?}",
        report.rss_mib
    );
    Ok(())
}
