//! The in-process cost of each step of a one-circuit change sent as a plan delta, at 10k and
//! 100k circuits (lqos-gen inputs, 2 queues per direction, no leaf qdiscs): what the
//! scheduler does after planning (hash of the new plan, the delta), what lqosd does before
//! the kernel (patch with the result's hash check, steering check, lazy queues' `Full`
//! materialisation) and the diff and steps. `LQOS_BENCH_SIZES` picks the sizes.
//!
//! ```text
//! cargo bench -p lqos-scheduler --bench delta_steps
//! ```

use lqos_config::{load_inputs, Config, Inputs};
use lqos_plan::{
    diff, diff_patched, materialise, plan_hash, steering_problems, steps, Laziness, PlanDelta,
    PlanHashes, QueuePlan, Steering,
};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::collections::HashSet;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median of `RUNS` timings of `f`.
fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn plan_of(
    config: &Config,
    inputs: &Inputs,
    previous: Option<&lqos_plan::ClassIdState>,
) -> (QueuePlan, lqos_plan::ClassIdState) {
    let p = plan(
        inputs,
        config,
        2,
        previous,
        AssignOptions {
            binpacking: true,
            rebalance: false,
        },
    )
    .expect("plan");
    (p.plan, p.state)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("LQOS_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("LQOS_BENCH_SIZES: numbers"))
        .collect();
    println!("one-circuit change as a delta, in process (medians of {RUNS}; ms)\n");
    println!(
        "| step | {} |",
        sizes
            .iter()
            .map(|n| format!("{n} circuits"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---:|".repeat(sizes.len()));
    let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        lqos_gen::write_to_dir(&lqos_gen::GenSpec::new(n), dir.path()).expect("generate");
        let conf = format!(
            "lqos_directory = {:?}\nstate_directory = \"state\"\n[bridge]\nto_internet = \"lqi\"\nto_network = \"lqn\"\n\
             [queues]\ndefault_sqm = \"none\"\ndownlink_bandwidth_mbps = 100000\nuplink_bandwidth_mbps = 100000\n",
            dir.path().display().to_string()
        );
        let (config, _) = Config::parse(&conf, "lqos.conf", Path::new("/"));
        let config = config.expect("config");
        let inputs = load_inputs(&config).expect("inputs").inputs;
        let (old, state) = plan_of(&config, &inputs, None);
        let mut changed = inputs.clone();
        changed.circuits[n / 2].download_max *= 0.5;
        let (new, _) = plan_of(&config, &changed, Some(&state));
        let old_hash = plan_hash(&old);
        let delta = PlanDelta::between(1, &old, &new);
        let machine = Steering {
            online_cpus: vec![0, 1],
            cpumap_entries: 2,
            on_a_stick: false,
        };
        let idle: HashSet<Arc<str>> = HashSet::new();
        let kernel_old = materialise(&old, Laziness::Full, &idle);
        let kernel_new = materialise(&new, Laziness::Full, &idle);
        let d = diff(&old, &new);
        let mut work = old.clone();
        // lqosd keeps the live plan's list hashes: the check hashes the changed lists only.
        let base = PlanHashes::of(&old);
        let timings = [
            ("`plan_hash` of the new plan", time(|| plan_hash(&new))),
            (
                "scheduler: `PlanDelta` against the old plan, with the new plan's hash",
                time(|| PlanDelta::against(1, old_hash, &old, &new)),
            ),
            (
                "lqosd: patch (a copy) with the result's hash check",
                time(|| {
                    let patched = delta.patch_unverified(&old).expect("patch");
                    delta.verify(&patched, &base).expect("hash")
                }),
            ),
            (
                "lqosd: patch in place with the result's hash check",
                time(|| {
                    let replaced = delta.patch_in_place(&mut work).expect("one stretch");
                    let hash = delta.verify(&work, &base).expect("hash");
                    replaced.restore(&mut work);
                    hash
                }),
            ),
            (
                "lqosd: steering check",
                time(|| steering_problems(&new, &machine)),
            ),
            ("lqosd: diff of the plans", time(|| diff(&old, &new))),
            (
                "lqosd: diff of the plans, past the delta's copies in place",
                time(|| diff_patched(&old, &new, &delta)),
            ),
            ("lqosd: steps of that diff", time(|| steps(&d, &old))),
            (
                "lqosd, lazy `Full`: materialise the new plan",
                time(|| materialise(&new, Laziness::Full, &idle)),
            ),
            (
                "lqosd, lazy `Full`: diff of the materialised plans",
                time(|| diff(&kernel_old, &kernel_new)),
            ),
        ];
        for (i, (name, t)) in timings.into_iter().enumerate() {
            if rows.len() <= i {
                rows.push((name, Vec::new()));
            }
            rows[i].1.push(t);
        }
    }
    for (name, ts) in rows {
        let cells: Vec<String> = ts
            .iter()
            .map(|t| format!("{:.1}", t.as_secs_f64() * 1e3))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
