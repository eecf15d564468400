//! What rebuilding a plan from nothing costs (after a reboot or a crash mid-apply), so that
//! `validate` and `refresh` can tell the operator before it hurts. Adding a class to an HTB
//! qdisc costs the kernel time proportional to the classes already there, so a full build is
//! quadratic per HTB queue (docs/dataplane.md); until it is done, traffic passes unshaped.

use lqos_config::LazyMode;
use lqos_plan::QueuePlan;

/// Seconds per (classes in one HTB)², measured on the project's 2-vCPU machines: 50,000
/// circuits on 2 queues per direction (four HTBs of about 25,400 classes) took 433 s to build,
/// with lqosd and with `tc -batch` alike (docs/benchmarks.md).
pub const SECONDS_PER_CLASS_SQUARED: f64 = 433.0 / (4.0 * 25_421.0 * 25_421.0);

/// A full build longer than this gets a warning.
pub const SLOW_BUILD_SECONDS: f64 = 60.0;

/// The estimated full build: seconds, and the classes of the fullest HTB.
pub fn full_build_seconds(plan: &QueuePlan) -> (f64, usize) {
    let sizes = plan
        .interfaces
        .iter()
        .flat_map(|i| &i.htbs)
        .map(|q| q.classes.len());
    let seconds = sizes
        .clone()
        .map(|n| (n * n) as f64 * SECONDS_PER_CLASS_SQUARED)
        .sum();
    (seconds, sizes.max().unwrap_or(0))
}

/// A warning when rebuilding `plan` after a reboot would leave traffic unshaped for long:
/// with `lazy_queues = "Full"` only the nodes are built at start, so there is none.
pub fn slow_build_advice(plan: &QueuePlan, lazy: LazyMode) -> Option<String> {
    let (seconds, fullest) = full_build_seconds(plan);
    if lazy == LazyMode::Full || seconds < SLOW_BUILD_SECONDS {
        return None;
    }
    Some(format!(
        "building this plan from nothing (after a reboot or a crash mid-apply) takes about {:.0} s on a \
         small machine, and traffic passes unshaped meanwhile: the kernel's cost grows with the square \
         of the classes per HTB queue (the fullest holds {fullest}). More queues (CPUs with their tx \
         queues) divide it; lazy_queues = \"Full\" in [queues] builds only the nodes at start and each \
         circuit on its first packet (docs/planning.md, \"Lazy queues\")",
        seconds.round()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_plan::{ClassId, ClassOwner, Direction, HtbClass, HtbQueue, InterfacePlan};

    fn plan(classes_per_htb: usize, htbs: usize) -> QueuePlan {
        let class = |minor: usize| HtbClass {
            id: ClassId::new(1, minor as u16),
            parent: None,
            rate_bps: 1,
            ceil_bps: 1,
            burst: 1,
            cburst: 1,
            quantum: 1,
            owner: ClassOwner::QueueRoot,
            leaf: None,
        };
        let htb = |major: usize| HtbQueue {
            major: major as u16,
            mq_minor: 1,
            direction: Direction::Download,
            cpu: 0,
            classes: (1..=classes_per_htb).map(class).collect(),
        };
        QueuePlan {
            queues: htbs as u16,
            interfaces: vec![InterfacePlan {
                name: "eth0".into(),
                htbs: (1..=htbs).map(htb).collect(),
            }],
            mappings: Vec::new(),
        }
    }

    #[test]
    fn the_estimate_reproduces_the_measured_builds() {
        // 50k circuits on 2 queues: 433 s measured.
        let (s, fullest) = full_build_seconds(&plan(25_421, 4));
        assert!((s - 433.0).abs() < 1.0, "{s}");
        assert_eq!(fullest, 25_421);
        // Twice the HTBs for the same classes: half the time.
        let (half, _) = full_build_seconds(&plan(25_421 / 2, 8));
        assert!((half - 216.5).abs() < 1.0, "{half}");
    }

    #[test]
    fn slow_layouts_are_told_to_add_queues_or_use_lazy_queues() {
        let big = plan(25_000, 4);
        let advice = slow_build_advice(&big, LazyMode::No).expect("warned");
        assert!(
            advice.contains("lazy_queues = \"Full\"") && advice.contains("25000"),
            "{advice}"
        );
        assert!(slow_build_advice(&big, LazyMode::Htb).is_some());
        assert!(slow_build_advice(&big, LazyMode::Full).is_none());
        // 10k circuits on 2 queues (about 5,100 per HTB): seconds, no warning.
        assert!(slow_build_advice(&plan(5_100, 4), LazyMode::No).is_none());
    }
}
