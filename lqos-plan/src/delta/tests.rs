use super::*;
use crate::{ClassId, ClassOwner, Direction, HtbQueue};
use std::sync::Arc;

fn class(major: u16, minor: u16, rate: u64) -> HtbClass {
    HtbClass {
        id: ClassId::new(major, minor),
        parent: (minor > 1).then_some(ClassId::new(major, 1)),
        rate_bps: rate,
        ceil_bps: rate,
        burst: 6_056,
        cburst: 6_056,
        quantum: 1_514,
        owner: ClassOwner::Circuit(Arc::from(format!("c{minor}"))),
        leaf: Some(Arc::from("pfifo")),
    }
}

fn mapping(i: u32, major: u16) -> IpMapping {
    IpMapping {
        prefix: ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
            0x6440_0000 + i,
        ))),
        cpu: u32::from(major) - 1,
        download: ClassId::new(major, (i + 2) as u16),
        upload: ClassId::new(major + 2, (i + 2) as u16),
        circuit_id: Arc::from(format!("c{}", i + 2)),
    }
}

/// Two interfaces of two HTBs each, `n` circuits per HTB.
fn plan(n: u16) -> QueuePlan {
    let iface = |name: &str, first: u16, direction| InterfacePlan {
        name: name.into(),
        htbs: (0..2)
            .map(|q| HtbQueue {
                major: first + q,
                mq_minor: q + 1,
                direction,
                cpu: u32::from(q),
                classes: (1..=n + 1)
                    .map(|m| class(first + q, m, 1_000_000 * u64::from(m)))
                    .collect(),
            })
            .collect(),
    };
    QueuePlan {
        queues: 2,
        interfaces: vec![
            iface("down", 1, Direction::Download),
            iface("up", 3, Direction::Upload),
        ],
        mappings: (0..u32::from(n) * 2)
            .map(|i| mapping(i, 1 + (i % 2) as u16))
            .collect(),
    }
}

fn round_trip(old: &QueuePlan, new: &QueuePlan) -> PlanDelta {
    let d = PlanDelta::between(7, old, new);
    let bytes = postcard::to_stdvec(&d).expect("encode");
    let d: PlanDelta = postcard::from_bytes(&bytes).expect("decode");
    d.check_base(7, plan_hash(old)).expect("base");
    let (patched, hash) = d.patch(old).expect("patch");
    assert_eq!(&patched, new);
    assert_eq!(hash, plan_hash(new));
    // The diff that skips the copies in place finds what the whole diff finds.
    assert_eq!(crate::diff_patched(old, new, &d), crate::diff(old, new));
    // In place, where the delta has that shape: the same plan, and the base back.
    let mut in_place = old.clone();
    if let Some(replaced) = d.patch_in_place(&mut in_place) {
        assert_eq!(&in_place, new);
        // Hashed again by the lists the delta changed only, from the base's hashes.
        let hashes = d.verify(&in_place, &PlanHashes::of(old)).expect("verify");
        assert_eq!(hashes, PlanHashes::of(new));
        replaced.restore(&mut in_place);
    }
    assert_eq!(&in_place, old);
    d
}

/// Whether `new`'s delta against `old` patches in place.
fn in_place(old: &QueuePlan, new: &QueuePlan) -> bool {
    let d = round_trip(old, new);
    d.patch_in_place(&mut old.clone()).is_some()
}

#[test]
fn changes_in_one_stretch_per_list_patch_in_place_and_others_do_not() {
    let old = plan(30);
    assert!(in_place(&old, &old));
    let mut new = old.clone();
    new.interfaces[0].htbs[1].classes[17].ceil_bps /= 2;
    new.interfaces[1].htbs[0].classes[3].rate_bps /= 2;
    new.mappings[5].cpu = 1;
    assert!(in_place(&old, &new), "re-rated in three lists");
    let mut new = old.clone();
    new.mappings.remove(3);
    new.interfaces[1].htbs[0].classes.push(class(3, 400, 5));
    assert!(in_place(&old, &new), "one removed, one added");
    new.mappings.insert(10, mapping(900, 1));
    assert!(!in_place(&old, &new), "two stretches of mappings");
    let mut new = old.clone();
    new.mappings.swap(1, 20);
    assert!(!in_place(&old, &new), "moved");
    assert!(in_place(&old, &plan(0)), "everything removed");
    assert!(in_place(&plan(0), &old), "everything added");
    let mut new = old.clone();
    new.interfaces.swap(0, 1);
    assert!(!in_place(&old, &new), "interfaces reordered");
    new = old.clone();
    new.queues = 4;
    new.interfaces[0].htbs[0].cpu = 3;
    assert!(!in_place(&old, &new), "an interface sent whole");
}

#[test]
fn the_hash_check_reuses_the_hashes_of_the_lists_copied_whole() {
    let old = plan(20);
    let mut new = old.clone();
    new.interfaces[0].htbs[1].classes[7].rate_bps += 1;
    let d = PlanDelta::between(1, &old, &new);
    let base = PlanHashes::of(&old);
    assert_eq!(d.verify(&new, &base), Ok(PlanHashes::of(&new)));
    // Base hashes that are not the base's: reused for the lists copied whole, so the
    // result no longer hashes as promised (which shows they were not computed again).
    let mut other = old.clone();
    for c in other
        .interfaces
        .iter_mut()
        .flat_map(|i| &mut i.htbs)
        .flat_map(|q| &mut q.classes)
    {
        c.ceil_bps += 1;
    }
    other.mappings[0].cpu += 1;
    let other = PlanHashes::of(&other);
    let e = d.verify(&new, &other).expect_err("other base's hashes");
    assert!(matches!(e, DeltaError::ResultMismatch { .. }), "{e}");
}

#[test]
fn a_delta_that_does_not_fit_the_plan_leaves_it_untouched() {
    let old = plan(10);
    let mut new = old.clone();
    new.interfaces[0].htbs[0].classes[4].rate_bps += 1;
    let d = PlanDelta::between(1, &old, &new);
    // A base shorter than the delta's copies: refused before anything moves.
    let mut short = plan(3);
    assert!(d.patch_in_place(&mut short).is_none());
    assert_eq!(short, plan(3));
}

#[test]
fn an_unchanged_plan_is_one_copy_per_list() {
    let p = plan(50);
    let d = round_trip(&p, &p);
    assert_eq!(d.new_elements(), 0);
    assert_eq!(d.mappings.runs, vec![Run::Copy { from: 0, len: 100 }]);
    assert!(postcard::to_stdvec(&d).expect("encode").len() < 100);
}

#[test]
fn one_rerated_circuit_carries_only_its_class() {
    let old = plan(500);
    let mut new = old.clone();
    new.interfaces[0].htbs[1].classes[17].ceil_bps /= 2;
    let d = round_trip(&old, &new);
    assert_eq!(d.new_elements(), 1);
    let InterfaceDelta::Patched { classes, .. } = &d.interfaces[0] else {
        panic!("patched expected: {d:?}")
    };
    assert_eq!(classes[1].runs.len(), 3, "{:?}", classes[1]);
    let size = postcard::to_stdvec(&d).expect("encode").len();
    let whole = postcard::to_stdvec(&new).expect("encode").len();
    assert!(size < 200 && whole > 50 * size, "{size} vs {whole}");
}

#[test]
fn added_removed_moved_and_reordered_elements_are_rebuilt_exactly() {
    let old = plan(40);
    let mut new = old.clone();
    // Removed, added, changed mappings, and two swapped.
    new.mappings.remove(3);
    new.mappings.insert(10, mapping(900, 1));
    new.mappings[20].cpu = 1;
    new.mappings.swap(30, 31);
    new.mappings.push(mapping(901, 2));
    // A class gone, one added at the end, one added in the middle.
    let q = &mut new.interfaces[1].htbs[0].classes;
    q.remove(5);
    q.push(class(3, 400, 5));
    q.insert(2, class(3, 401, 6));
    round_trip(&old, &new);
    // Everything new, and nothing at all.
    round_trip(&old, &plan(0));
    round_trip(&plan(0), &old);
}

#[test]
fn an_interface_whose_layout_changed_is_sent_whole() {
    let old = plan(10);
    let mut new = old.clone();
    new.interfaces[1].htbs[1].cpu = 5;
    new.interfaces.push(InterfacePlan {
        name: "extra".into(),
        htbs: Vec::new(),
    });
    new.interfaces.swap(0, 1);
    let d = round_trip(&old, &new);
    assert!(matches!(d.interfaces[0], InterfaceDelta::Whole(_)));
    assert!(matches!(
        d.interfaces[1],
        InterfaceDelta::Patched { base: 0, .. }
    ));
    assert!(matches!(d.interfaces[2], InterfaceDelta::Whole(_)));
}

#[test]
fn a_delta_refuses_another_base_and_a_wrong_result() {
    let old = plan(10);
    let mut new = old.clone();
    new.mappings[0].cpu = 1;
    let d = PlanDelta::between(7, &old, &new);
    let e = d
        .check_base(8, plan_hash(&old))
        .expect_err("other generation");
    assert!(
        matches!(
            e,
            DeltaError::BaseMismatch {
                live_generation: 8,
                ..
            }
        ),
        "{e}"
    );
    assert!(d.check_base(7, plan_hash(&new)).is_err(), "other hash");
    // Patched onto another plan (a caller that skipped the base check): the result's hash
    // tells.
    let e = d.patch(&plan(9)).expect_err("wrong base");
    assert!(
        matches!(
            e,
            DeltaError::ResultMismatch { .. } | DeltaError::OutOfRange { .. }
        ),
        "{e}"
    );
    let e = d.patch(&plan(0)).expect_err("short base");
    assert!(e.to_string().contains("of the base plan, which has"), "{e}");
}
