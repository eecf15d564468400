//! The kernel's part of a plan change that only re-rated classes (the common one-circuit
//! change): with lazy queues, materialising the whole plan again and diffing it against the
//! kernel's (300k mappings at 100k circuits) finds nothing outside the HTBs whose classes
//! changed, so only those are materialised again.
//!
//! A pool's id depends only on the minors in use, its parent and the kinds of its HTB's
//! classes in order, none of which a re-rate changes: every idle circuit's mapping stays where
//! it is, and the mappings are not looked at.

use super::{htb_classes, CircuitState, Laziness};
use crate::{HtbClass, HtbQueue, InterfacePlan, QueuePlan, Replaced};

/// The touched HTBs' kernel classes before and after, in the kernel plan's layout (every
/// other HTB empty, no mappings): apply the difference of `before` and `after`, then
/// [`KernelPatch::apply_to`] the kernel's plan.
#[derive(Debug)]
pub struct KernelPatch {
    pub before: QueuePlan,
    pub after: QueuePlan,
    /// (interface, HTB) of each touched HTB.
    touched: Vec<(usize, usize)>,
}

impl KernelPatch {
    /// Puts the touched HTBs' new classes into `kernel`, the plan `before` was taken from.
    pub fn apply_to(mut self, kernel: &mut QueuePlan) {
        for (i, q) in self.touched {
            let after = &mut self.after.interfaces[i].htbs[q].classes;
            kernel.interfaces[i].htbs[q].classes = std::mem::take(after);
        }
    }
}

/// The change in the kernel's plan `kernel` (materialised with `mode` and `state` from the
/// plan before the patch) for `plan`, patched in place from it with `replaced`; `None` when
/// the patch did more than re-rate classes or change their leaves (a class added, removed,
/// renumbered or moved, a mapping changed): then materialise the whole plan.
pub fn rematerialise(
    kernel: &QueuePlan,
    plan: &QueuePlan,
    replaced: &Replaced,
    mode: Laziness,
    state: &dyn CircuitState,
) -> Option<KernelPatch> {
    if replaced.beyond_classes(plan) || !same_layout(kernel, plan) {
        return None;
    }
    let mut touched = Vec::new();
    for (i, q, range, removed) in replaced.class_stretches() {
        let now = plan.interfaces[i].htbs[q].classes.get(range)?;
        let same =
            |n: &HtbClass, o: &HtbClass| (n.id, n.parent) == (o.id, o.parent) && n.owner == o.owner;
        if now.len() != removed.len() || !now.iter().zip(removed).all(|(n, o)| same(n, o)) {
            return None;
        }
        touched.push((i, q));
    }
    let mut before = layout(kernel);
    let mut after = layout(kernel);
    for &(i, q) in &touched {
        let old = &kernel.interfaces[i].htbs[q].classes;
        let new = htb_classes(&plan.interfaces[i].htbs[q], mode, state, None);
        before.interfaces[i].htbs[q].classes = old.clone();
        after.interfaces[i].htbs[q].classes = new;
    }
    Some(KernelPatch {
        before,
        after,
        touched,
    })
}

/// The same interfaces and HTBs (names, majors, tx queues, directions, CPUs).
fn same_layout(a: &QueuePlan, b: &QueuePlan) -> bool {
    let header = |q: &HtbQueue| (q.major, q.mq_minor, q.direction, q.cpu);
    a.queues == b.queues
        && a.interfaces.len() == b.interfaces.len()
        && a.interfaces.iter().zip(&b.interfaces).all(|(x, y)| {
            x.name == y.name
                && x.htbs.len() == y.htbs.len()
                && x.htbs
                    .iter()
                    .zip(&y.htbs)
                    .all(|(p, q)| header(p) == header(q))
        })
}

/// `plan`'s layout without classes or mappings.
fn layout(plan: &QueuePlan) -> QueuePlan {
    QueuePlan {
        queues: plan.queues,
        interfaces: (plan.interfaces.iter())
            .map(|i| InterfacePlan {
                name: i.name.clone(),
                htbs: (i.htbs.iter())
                    .map(|q| HtbQueue {
                        classes: Vec::new(),
                        ..*q
                    })
                    .collect(),
            })
            .collect(),
        mappings: Vec::new(),
    }
}
