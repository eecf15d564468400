#![allow(dead_code)]
pub mod edits;
use lqos_plan::{ClassOwner, HtbClass, QueuePlan};
use std::collections::HashMap;

/// Every class's parent exists earlier in its queue with a ceiling at least as high; children's
/// guarantees never oversubscribe their parent; every mapping's classes exist and are its circuit's.
pub fn check_structure(p: &QueuePlan) {
    for iface in &p.interfaces {
        for q in &iface.htbs {
            let mut seen: HashMap<_, &HtbClass> = HashMap::new();
            let mut sums: HashMap<_, (u64, u64)> = HashMap::new();
            for c in &q.classes {
                if let Some(parent) = c.parent {
                    let pc = seen
                        .get(&parent)
                        .unwrap_or_else(|| panic!("{} before its parent {parent}", c.id));
                    assert!(c.ceil_bps <= pc.ceil_bps, "{}: ceil above parent", c.id);
                    let s = sums.entry(parent).or_default();
                    s.0 += c.rate_bps;
                    s.1 += 1;
                }
                assert!(c.rate_bps <= c.ceil_bps);
                assert!((1_000..=200_000).contains(&c.quantum));
                assert!(seen.insert(c.id, c).is_none(), "duplicate class {}", c.id);
            }
            for (parent, (sum, n)) in sums {
                // Rounding and the 8 kbit floor may add a little per child.
                let have = seen[&parent].rate_bps;
                assert!(
                    sum <= have + n * 8_001,
                    "children of {parent} guarantee {sum} > {have}"
                );
            }
        }
    }
    let classes: HashMap<_, _> = p
        .classes()
        .map(|(i, _, c)| ((i.name.clone(), c.id), c))
        .collect();
    let names: Vec<String> = p.interfaces.iter().map(|i| i.name.clone()).collect();
    for m in &p.mappings {
        let (down, up) = (names[0].clone(), names.last().cloned().unwrap_or_default());
        for (iface, id) in [(down, m.download), (up, m.upload)] {
            let c = classes
                .get(&(iface.clone(), id))
                .unwrap_or_else(|| panic!("mapping {} -> {iface} {id} missing", m.prefix));
            assert_eq!(c.owner, ClassOwner::Circuit(m.circuit_id.clone()));
        }
    }
}
