//! A plan delta rebuilds exactly the new plan from the old one (same value, same hash, the
//! same diff), copied or in place, for random edits of generated networks, and stays small for
//! a one-circuit change.

mod common;

use common::edits::{config, edit, generated, plan_pair};
use lqos_plan::{diff, diff_patched, plan_hash, PlanDelta};
use lqos_scheduler::plan::{plan, AssignOptions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn patching_the_old_plan_with_the_delta_gives_the_new_one(seed in any::<u64>(), circuits in 5usize..150, queues in 1u16..4, requeue in proptest::bool::weighted(0.1), edits in proptest::collection::vec(edit(), 0..6)) {
        let (old, new) = plan_pair(seed, circuits, queues, requeue, &edits);
        let delta = PlanDelta::between(3, &old.plan, &new.plan);
        // Through the wire format, as lqosd gets it.
        let bytes = postcard::to_stdvec(&delta).unwrap();
        let delta: PlanDelta = postcard::from_bytes(&bytes).unwrap();
        delta.check_base(3, plan_hash(&old.plan)).unwrap();
        let (patched, hash) = delta.patch(&old.plan).unwrap();
        prop_assert_eq!(&patched, &new.plan);
        prop_assert_eq!(hash, plan_hash(&new.plan));
        // The diff that skips the delta's copies in place is the whole diff.
        prop_assert_eq!(diff_patched(&old.plan, &new.plan, &delta), diff(&old.plan, &new.plan));
        // In place, where the delta's shape allows: the same plan, and the old one back.
        let mut in_place = old.plan.clone();
        if let Some(replaced) = delta.patch_in_place(&mut in_place) {
            prop_assert_eq!(&in_place, &new.plan);
            replaced.restore(&mut in_place);
        }
        prop_assert_eq!(&in_place, &old.plan);
        if edits.is_empty() && !requeue {
            prop_assert_eq!(delta.new_elements(), 0);
        }
    }
}

#[test]
fn one_rerated_circuit_of_ten_thousand_is_a_few_hundred_bytes() {
    let config = config();
    let opts = AssignOptions::default();
    let inputs = generated(10_000, 1);
    let old = plan(&inputs, &config, 2, None, opts).unwrap();
    let mut edited = inputs.clone();
    edited.circuits[17].download_max *= 0.5;
    edited.circuits[17].download_min = edited.circuits[17]
        .download_min
        .min(edited.circuits[17].download_max);
    let new = plan(&edited, &config, 2, Some(&old.state), opts).unwrap();
    let delta = PlanDelta::between(1, &old.plan, &new.plan);
    let size = postcard::to_stdvec(&delta).unwrap().len();
    let whole = postcard::to_stdvec(&new.plan).unwrap().len();
    assert_eq!(delta.new_elements(), 1, "{delta:?}");
    assert!(size < 1_000, "{size} bytes");
    assert!(whole > 1_000_000, "{whole} bytes");
    assert_eq!(delta.patch(&old.plan).unwrap().0, new.plan);
}
