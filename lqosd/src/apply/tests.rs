//! The applier against the HTB model: every apply lands on the new plan, and a failure at any
//! operation leaves exactly the previous plan.

use super::fake::FakeKernel;
use super::*;
use lqos_config::{Config, Inputs, SqmKind, SqmOverride};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::path::Path;

fn config() -> Config {
    let text = "[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\n";
    Config::parse(text, "lqos.conf", Path::new("/"))
        .0
        .expect("config")
}

fn generated(circuits: usize, seed: u64) -> Inputs {
    lqos_gen::inputs(&lqos_gen::GenSpec {
        seed,
        ..lqos_gen::GenSpec::new(circuits)
    })
    .expect("inputs")
}

/// An old plan and a new one that re-rates, adds, removes, re-parents, swaps a leaf and
/// (with `requeue`) changes the queue count so interfaces are rebuilt.
fn pair(requeue: bool) -> (QueuePlan, QueuePlan) {
    let config = config();
    let opts = AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let before = generated(40, 3);
    let old = plan(&before, &config, 2, None, opts).expect("old plan");
    let mut after = before.clone();
    after.circuits[3].download_max *= 2.0;
    after.circuits.remove(7);
    let mut added = after.circuits[1].clone();
    added.id = "ADDED".into();
    added.devices.truncate(1);
    added.devices[0].ips = vec!["203.0.113.9/32".parse().expect("ip")];
    after.circuits.push(added);
    let nodes = after.network.nodes.len();
    after.circuits[11].parent = Some((after.circuits[11].parent.unwrap_or(0) + 1) % nodes);
    after.circuits[5].sqm = Some(SqmOverride {
        download: Some(SqmKind::FqCodel),
        upload: None,
    });
    after.network.nodes[0].download_mbps *= 0.5;
    let new = plan(
        &after,
        &config,
        if requeue { 3 } else { 2 },
        Some(&old.state),
        opts,
    )
    .expect("new plan");
    (old.plan, new.plan)
}

/// A model kernel holding `p`, and the leaf handles lqosd would keep for it.
fn kernel_on(p: &QueuePlan) -> (FakeKernel, LeafHandles) {
    let mut k = FakeKernel::default();
    let mut h = LeafHandles::default();
    apply(&mut k, &empty_plan(), p, None, u32::MAX, &mut h).expect("first apply");
    (k, h)
}

/// lqosd's handle table says what the kernel has: every leaf with the handle it was given.
fn handles_match(k: &FakeKernel, h: &LeafHandles) {
    for ((dev, handle), class) in &k.leaf_handles {
        assert_eq!(h.get(dev, *class), Some(*handle), "{dev} {class}");
    }
}

#[test]
fn first_apply_then_diff_lands_on_the_new_plan() {
    for requeue in [false, true] {
        let (old, new) = pair(requeue);
        let (mut k, mut h) = kernel_on(&old);
        let summary = apply(&mut k, &old, &new, None, u32::MAX, &mut h).expect("apply");
        assert_eq!(k.state(), kernel_on(&new).0.state(), "requeue {requeue}");
        handles_match(&k, &h);
        assert!(
            summary.classes_added > 0
                && summary.mappings_added >= 1
                && summary.mappings_removed >= 1,
            "{summary:?}"
        );
        if !requeue {
            assert!(
                summary.classes_removed > 0 && summary.classes_changed > 0,
                "{summary:?}"
            );
        }
    }
}

#[test]
fn a_failure_at_any_tc_operation_restores_the_previous_plan() {
    for requeue in [false, true] {
        let (old, new) = pair(requeue);
        let before = kernel_on(&old).0.state();
        let d = diff(&old, &new);
        let total: usize = steps(&d, &old).iter().map(|s| s.forward.len()).sum();
        assert!(total > 10, "a diff worth testing: {total} ops");
        for at in 0..total {
            let (mut k, mut h) = kernel_on(&old);
            k.fail_tc_at = Some(k.tc_ops_run + at);
            match apply(&mut k, &old, &new, None, u32::MAX, &mut h) {
                Err(ApplyError::RolledBack {
                    cause: ApplyFailure::Tc(f),
                }) => assert_eq!(f.message, "injected failure"),
                other => panic!("failure at op {at}: {other:?}"),
            }
            assert_eq!(
                k.state(),
                before,
                "failure at op {at} of {total} (requeue {requeue})"
            );
            handles_match(&k, &h);
        }
    }
}

#[test]
fn a_failed_ip_map_update_restores_the_previous_plan() {
    let (old, new) = pair(false);
    let before = kernel_on(&old).0.state();
    let d = diff(&old, &new);
    let victim = d.upsert_mappings.last().expect("an upsert").prefix;
    let (mut k, mut h) = kernel_on(&old);
    k.fail_upsert = Some(victim);
    let err = apply(&mut k, &old, &new, None, u32::MAX, &mut h).expect_err("injected");
    assert!(
        matches!(
            err,
            ApplyError::RolledBack {
                cause: ApplyFailure::Map(_)
            }
        ),
        "{err}"
    );
    assert_eq!(k.state(), before);
}

#[test]
fn a_plan_larger_than_the_ip_map_is_refused_before_touching_anything() {
    let (old, new) = pair(false);
    let (mut k, mut h) = kernel_on(&old);
    let before = k.state();
    let err = apply(&mut k, &old, &new, None, 3, &mut h).expect_err("too big");
    assert!(err.to_string().contains("ip_map_capacity"), "{err}");
    assert_eq!(k.state(), before);
}

#[test]
fn an_unchanged_plan_runs_nothing() {
    let (old, _) = pair(false);
    let (mut k, mut h) = kernel_on(&old);
    let ran = k.tc_ops_run;
    let s = apply(&mut k, &old, &old.clone(), None, u32::MAX, &mut h).expect("apply");
    assert_eq!(k.tc_ops_run, ran);
    assert_eq!(
        s.classes_added + s.classes_changed + s.classes_removed + s.mappings_added,
        0
    );
}

#[test]
fn the_hash_tells_plans_apart() {
    let (old, new) = pair(false);
    assert_eq!(plan_hash(&old), plan_hash(&old.clone()));
    assert_ne!(plan_hash(&old), plan_hash(&new));
}

/// What lqosd does with a delta, over the model: patch the live plan (where it lies with
/// `in_place`), then the same apply; the live plan is given back when the kernel refuses.
fn submit_delta(
    k: &mut FakeKernel,
    h: &mut LeafHandles,
    live: &mut Live,
    delta: &PlanDelta,
    in_place: bool,
) -> Result<QueuePlan, String> {
    let base = live.plan.clone();
    let p = patch_live(live, delta, in_place, |_| ())?;
    assert_eq!(p.hashes, PlanHashes::of(&p.plan));
    if let Err(e) = apply(k, &base, &p.plan, Some(delta), u32::MAX, h) {
        p.way_back.give_back(p.plan, live);
        return Err(e.to_string());
    }
    Ok(p.plan)
}

/// A plan and the same with one circuit re-rated.
fn rerated() -> (QueuePlan, QueuePlan) {
    let opts = AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let before = generated(40, 3);
    let old = plan(&before, &config(), 2, None, opts).expect("old plan");
    let mut after = before.clone();
    after.circuits[3].download_max *= 2.0;
    let new = plan(&after, &config(), 2, Some(&old.state), opts).expect("new plan");
    (old.plan, new.plan)
}

#[test]
fn a_delta_patched_in_place_gives_the_live_plan_back_when_the_kernel_refuses_it() {
    let (old, new) = rerated();
    let mut live = Live::new(5, old.clone());
    let (mut k, mut h) = kernel_on(&old);
    let delta = PlanDelta::between(5, &old, &new);
    let p = patch_live(&mut live, &delta, true, |_| ()).expect("patched");
    assert!(
        p.way_back.in_place(),
        "one circuit re-rated patches in place"
    );
    assert!(
        live.plan.interfaces.is_empty(),
        "the live plan was patched where it lay"
    );
    p.way_back.give_back(p.plan, &mut live);
    assert_eq!(live.plan, old);
    // The same through the kernel, which refuses the class change.
    k.fail_tc_at = Some(k.tc_ops_run);
    let err = submit_delta(&mut k, &mut h, &mut live, &delta, true).expect_err("refused");
    assert!(err.contains("restored"), "{err}");
    assert_eq!(live.plan, old);
    assert_eq!(k.state(), kernel_on(&old).0.state());
}

#[test]
fn a_delta_on_its_base_lands_on_the_new_plan_and_any_other_base_is_refused_untouched() {
    for ((old, new), in_place) in [(pair(false), false), (pair(false), true), (rerated(), true)] {
        let mut live = Live::new(5, old.clone());
        let (mut k, mut h) = kernel_on(&old);
        let (before, ran) = (k.state(), k.tc_ops_run);
        for wrong in [
            PlanDelta::between(4, &old, &new),
            PlanDelta::against(5, plan_hash(&new), &old, &new),
            // The right base but a result that is not the one promised.
            PlanDelta {
                result_hash: plan_hash(&old),
                ..PlanDelta::between(5, &old, &new)
            },
        ] {
            let err =
                submit_delta(&mut k, &mut h, &mut live, &wrong, in_place).expect_err("wrong base");
            assert!(err.starts_with(lqos_bus::BASE_MISMATCH), "{err}");
            assert!(err.contains("send the full plan"), "{err}");
            assert_eq!((k.state(), k.tc_ops_run), (before.clone(), ran));
            assert_eq!(live.plan, old, "the live plan is whole again");
        }
        let delta = PlanDelta::between(5, &old, &new);
        let plan = submit_delta(&mut k, &mut h, &mut live, &delta, in_place).expect("on its base");
        assert_eq!(plan, new);
        assert_eq!(k.state(), kernel_on(&new).0.state());
        handles_match(&k, &h);
    }
}
