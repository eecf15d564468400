use super::*;
use crate::{diff, Direction, HtbQueue, InterfacePlan};
use std::sync::Arc;

fn class(
    major: u16,
    minor: u16,
    parent: Option<u16>,
    rate: u64,
    ceil: u64,
    owner: ClassOwner,
) -> HtbClass {
    let leaf = matches!(owner, ClassOwner::Circuit(_)).then(|| Arc::from("cake diffserv4"));
    HtbClass {
        id: ClassId::new(major, minor),
        parent: parent.map(|p| ClassId::new(major, p)),
        rate_bps: rate,
        ceil_bps: ceil,
        burst: 6056,
        cburst: 7000,
        quantum: 1514,
        owner,
        leaf,
    }
}

fn circuit(id: &str) -> ClassOwner {
    ClassOwner::Circuit(id.into())
}

/// Root 1:1, node 1:2 (100/200 Mbit) with circuits C1 (1:3) and C2 (1:4), and C3 (1:5)
/// directly under the root; the same on major 2 for upload.
fn plan() -> QueuePlan {
    let queue = |major: u16, direction| HtbQueue {
        major,
        mq_minor: 1,
        direction,
        cpu: 0,
        classes: vec![
            class(
                major,
                1,
                None,
                1_000_000_000,
                1_000_000_000,
                ClassOwner::QueueRoot,
            ),
            class(
                major,
                2,
                Some(1),
                100_000_000,
                200_000_000,
                ClassOwner::Node("N".into()),
            ),
            class(major, 3, Some(2), 10_000_000, 20_000_000, circuit("C1")),
            class(major, 4, Some(2), 5_000_000, 50_000_000, circuit("C2")),
            class(major, 5, Some(1), 1_000_000, 2_000_000, circuit("C3")),
        ],
    };
    let mapping = |prefix: &str, minor: u16, id: &str| IpMapping {
        prefix: prefix.parse().expect("prefix"),
        cpu: 0,
        download: ClassId::new(1, minor),
        upload: ClassId::new(2, minor),
        circuit_id: id.into(),
    };
    QueuePlan {
        queues: 1,
        interfaces: vec![
            InterfacePlan {
                name: "down".into(),
                htbs: vec![queue(1, Direction::Download)],
            },
            InterfacePlan {
                name: "up".into(),
                htbs: vec![queue(2, Direction::Upload)],
            },
        ],
        mappings: vec![
            mapping("100.64.0.1/32", 3, "C1"),
            mapping("100.64.0.2/32", 4, "C2"),
            mapping("fd00::/64", 4, "C2"),
            mapping("100.64.0.3/32", 5, "C3"),
        ],
    }
}

fn active(ids: &[&str]) -> HashSet<Arc<str>> {
    ids.iter().map(|s| Arc::from(*s)).collect()
}

fn ids(p: &QueuePlan, major: u16) -> Vec<u16> {
    p.classes()
        .filter(|(_, q, _)| q.major == major)
        .map(|(_, _, c)| c.id.minor)
        .collect()
}

fn mapped(p: &QueuePlan, prefix: &str) -> (ClassId, ClassId) {
    let m = p
        .mappings
        .iter()
        .find(|m| m.prefix.to_string() == prefix)
        .expect("mapping");
    (m.download, m.upload)
}

#[test]
fn htb_mode_builds_every_class_and_only_active_circuits_leaves() {
    let p = materialise(&plan(), Laziness::Htb, &active(&["C2"]));
    assert_eq!(ids(&p, 1), ids(&plan(), 1));
    let leaf = |id: &str| {
        p.classes()
            .find(|(_, _, c)| c.owner == circuit(id))
            .and_then(|(_, _, c)| c.leaf.clone())
    };
    assert_eq!(leaf("C1"), None);
    assert_eq!(leaf("C2").as_deref(), Some("cake diffserv4"));
    assert_eq!(p.mappings, plan().mappings);
}

#[test]
fn full_mode_sends_idle_circuits_to_a_pool_under_their_parent() {
    let p = materialise(&plan(), Laziness::Full, &active(&[]));
    // No circuit class; one pool under the node (0xffff - 2) and one under the root.
    assert_eq!(ids(&p, 1), vec![1, 0xfffe, 2, 0xfffd]);
    let pool = p
        .classes()
        .find(|(_, _, c)| c.id == ClassId::new(1, 0xfffd))
        .expect("pool")
        .2;
    assert_eq!(pool.parent, Some(ClassId::new(1, 2)));
    assert_eq!(pool.owner, ClassOwner::LazyPool);
    // Within the node's limits, with the circuits' leaf qdisc.
    assert_eq!(
        (pool.ceil_bps, pool.rate_bps),
        (200_000_000, 100_000_000 / 64)
    );
    assert_eq!(pool.leaf.as_deref(), Some("cake diffserv4"));
    assert_eq!(
        mapped(&p, "100.64.0.1/32"),
        (ClassId::new(1, 0xfffd), ClassId::new(2, 0xfffd))
    );
    assert_eq!(
        mapped(&p, "100.64.0.3/32"),
        (ClassId::new(1, 0xfffe), ClassId::new(2, 0xfffe))
    );
}

#[test]
fn a_circuit_becoming_active_costs_its_class_leaf_and_mappings_only() {
    let idle = materialise(&plan(), Laziness::Full, &active(&[]));
    let one = materialise(&plan(), Laziness::Full, &active(&["C2"]));
    let d = diff(&idle, &one);
    let added: Vec<ClassId> = d.add_classes.iter().map(|(_, c)| c.id).collect();
    assert_eq!(added, vec![ClassId::new(1, 4), ClassId::new(2, 4)]);
    assert!(d.add_classes.iter().all(|(_, c)| c.leaf.is_some()));
    assert!(d.remove_classes.is_empty() && d.change_classes.is_empty() && d.rebuild.is_empty());
    let moved: Vec<String> = d
        .upsert_mappings
        .iter()
        .map(|m| m.prefix.to_string())
        .collect();
    assert_eq!(moved, vec!["100.64.0.2/32", "fd00::/64"]);
    assert_eq!(
        mapped(&one, "fd00::/64"),
        (ClassId::new(1, 4), ClassId::new(2, 4))
    );
}

#[test]
fn collapsing_moves_the_prefixes_to_the_pool_before_the_class_goes() {
    struct Collapsing;
    impl CircuitState for Collapsing {
        fn built(&self, id: &str) -> bool {
            id == "C1"
        }
        fn routed(&self, _: &str) -> bool {
            false
        }
    }
    let built = materialise(&plan(), Laziness::Full, &active(&["C1"]));
    let first = materialise(&plan(), Laziness::Full, &Collapsing);
    let d = diff(&built, &first);
    assert!(d.class_operations() == 0, "{d:?}");
    assert_eq!(d.upsert_mappings.len(), 1);
    assert_eq!(mapped(&first, "100.64.0.1/32").0, ClassId::new(1, 0xfffd));
    let then = diff(&first, &materialise(&plan(), Laziness::Full, &active(&[])));
    assert_eq!(then.remove_classes.len(), 2);
    assert!(then.upsert_mappings.is_empty());
}

#[test]
fn re_rating_an_idle_circuit_changes_nothing_in_the_kernel() {
    let mut faster = plan();
    for iface in &mut faster.interfaces {
        for c in iface.htbs.iter_mut().flat_map(|q| &mut q.classes) {
            if c.owner == circuit("C2") {
                c.ceil_bps *= 3;
                c.rate_bps *= 3;
            }
        }
    }
    let before = materialise(&plan(), Laziness::Full, &active(&["C1"]));
    let after = materialise(&faster, Laziness::Full, &active(&["C1"]));
    assert!(diff(&before, &after).is_empty());
}

#[test]
fn pools_avoid_minors_the_plan_uses() {
    let mut p = plan();
    // The node's preferred pool minor (0xfffd) belongs to a circuit now.
    p.interfaces[0].htbs[0].classes[3].id.minor = 0xfffd;
    p.mappings[1].download.minor = 0xfffd;
    p.mappings[2].download.minor = 0xfffd;
    let m = materialise(&p, Laziness::Full, &active(&[]));
    let mut minors = ids(&m, 1);
    minors.sort_unstable();
    assert_eq!(minors, vec![1, 2, 0xfffe, 0xffff]);
    assert_eq!(mapped(&m, "100.64.0.2/32").0, ClassId::new(1, 0xffff));
    assert_eq!(mapped(&m, "100.64.0.3/32").0, ClassId::new(1, 0xfffe));
}

/// `new`, patched in place from `old`, rematerialised over the kernel's plan for `old`: the
/// result when it is `Some` (checked to be exactly the whole plan materialised afresh).
fn rematerialised(old: &QueuePlan, new: &QueuePlan, mode: Laziness, built: &[&str]) -> bool {
    let state = active(built);
    let mut kernel = materialise(old, mode, &state);
    let mut patched = old.clone();
    let delta = crate::PlanDelta::between(1, old, new);
    let replaced = delta.patch_in_place(&mut patched).expect("one stretch");
    assert_eq!(&patched, new);
    let Some(change) = rematerialise(&kernel, &patched, &replaced, mode, &state) else {
        return false;
    };
    // The difference holds exactly the kernel's difference, mappings none.
    let whole = materialise(new, mode, &state);
    assert_eq!(
        diff(&change.before, &change.after),
        diff(&kernel, &whole),
        "{mode:?} {built:?}"
    );
    change.apply_to(&mut kernel);
    assert_eq!(kernel, whole, "{mode:?} {built:?}");
    true
}

#[test]
fn a_re_rate_materialises_only_the_htbs_it_touched_and_the_same_kernel_plan() {
    let with = |f: &dyn Fn(&mut QueuePlan)| {
        let mut p = plan();
        f(&mut p);
        p
    };
    let c1_ceil = with(&|p| p.interfaces[0].htbs[0].classes[2].ceil_bps *= 2);
    let c2_leaf = with(&|p| p.interfaces[1].htbs[0].classes[3].leaf = Some("fq_codel".into()));
    let node = with(&|p| p.interfaces[0].htbs[0].classes[1].rate_bps /= 2);
    for mode in [Laziness::Htb, Laziness::Full] {
        for built in [&[][..], &["C1"], &["C1", "C2", "C3"]] {
            for new in [&c1_ceil, &c2_leaf, &node, &plan()] {
                assert!(
                    rematerialised(&plan(), new, mode, built),
                    "{mode:?} {built:?}"
                );
            }
        }
    }
}

#[test]
fn anything_but_a_re_rate_materialises_the_whole_plan() {
    let with = |f: &dyn Fn(&mut QueuePlan)| {
        let mut p = plan();
        f(&mut p);
        p
    };
    let moved = with(&|p| p.interfaces[0].htbs[0].classes[4].parent = Some(ClassId::new(1, 2)));
    let removed = with(&|p| {
        p.interfaces[0].htbs[0].classes.remove(4);
        p.mappings.remove(3);
    });
    let remapped = with(&|p| p.mappings[0].cpu = 1);
    // C3 renumbered to the minor the node's pool has: the pool would move.
    let renumbered = with(&|p| {
        p.interfaces[0].htbs[0].classes[4].id = ClassId::new(1, MAX_MINOR - 2);
    });
    for mode in [Laziness::Htb, Laziness::Full] {
        for new in [&moved, &removed, &remapped, &renumbered] {
            assert!(!rematerialised(&plan(), new, mode, &["C1"]), "{mode:?}");
        }
    }
}
