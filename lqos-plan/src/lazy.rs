//! Lazy queues: the part of a plan the kernel holds while some circuits are idle.
//!
//! The plan itself never changes: every circuit keeps its class id whether or not its class
//! exists. [`materialise`] derives, from the plan and the set of circuits that carry traffic,
//! the plan lqosd puts in the kernel, so the usual diff, rollback and adoption apply to it
//! unchanged, and a plan change to an idle circuit costs no tc operation.
//!
//! - [`Laziness::Htb`]: every class exists; an idle circuit's class has no leaf qdisc (HTB's
//!   default one), so its CAKE or fq_codel instance is created when it becomes active.
//! - [`Laziness::Full`]: an idle circuit has no class. HTB enqueues only to leaf classes, so its
//!   packets go to a *pool* class under the circuit's parent: one per parent with circuits,
//!   capped at the parent's ceiling, with the leaf qdisc of the parent's first circuit. Idle
//!   circuits' traffic is therefore held within the parent node's limits, never unshaped,
//!   until their own class exists. Pools depend on their parent only and keep their minors
//!   when circuits come and go.

use crate::{ClassId, ClassOwner, HtbClass, HtbQueue, IpMapping, QueuePlan, MAX_MINOR};
use rustc_hash::FxHashMap;
use std::collections::HashSet;

/// What lqosd leaves out of the kernel for idle circuits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Laziness {
    /// Their leaf qdiscs.
    Htb,
    /// Their classes (and leaves); their packets use their parent's pool class.
    Full,
}

/// Which circuits have what in the kernel.
pub trait CircuitState {
    /// The circuit's class (and leaf qdisc) exist.
    fn built(&self, circuit_id: &str) -> bool;
    /// Its prefixes point at its own class (only ever true when built: when a circuit
    /// collapses, its prefixes move to the pool before its class goes).
    fn routed(&self, circuit_id: &str) -> bool;
}

/// Every built circuit is routed.
impl CircuitState for HashSet<std::sync::Arc<str>> {
    fn built(&self, circuit_id: &str) -> bool {
        self.contains(circuit_id)
    }
    fn routed(&self, circuit_id: &str) -> bool {
        self.contains(circuit_id)
    }
}

/// The plan the kernel holds for `plan` with `mode` when `state` says which circuits are
/// active.
pub fn materialise(plan: &QueuePlan, mode: Laziness, state: &dyn CircuitState) -> QueuePlan {
    // Circuit class -> the pool class of its parent (`Full`).
    let mut pool_of = PoolIndex::default();
    let interfaces = plan
        .interfaces
        .iter()
        .map(|iface| crate::InterfacePlan {
            name: iface.name.clone(),
            htbs: (iface.htbs.iter())
                .map(|q| HtbQueue {
                    classes: htb_classes(q, mode, state, Some(&mut pool_of)),
                    ..*q
                })
                .collect(),
        })
        .collect();
    let mappings = match mode {
        Laziness::Htb => plan.mappings.clone(),
        Laziness::Full => pooled_mappings(&plan.mappings, &pool_of, state),
    };
    QueuePlan {
        queues: plan.queues,
        interfaces,
        mappings,
    }
}

/// One HTB's classes as the kernel holds them; with `Full`, its circuits' pools go in
/// `pool_of`.
pub(crate) fn htb_classes(
    q: &HtbQueue,
    mode: Laziness,
    state: &dyn CircuitState,
    mut pool_of: Option<&mut PoolIndex>,
) -> Vec<HtbClass> {
    let mut classes = Vec::new();
    if mode == Laziness::Htb {
        classes.extend(q.classes.iter().map(|c| match &c.owner {
            ClassOwner::Circuit(id) if !state.built(id) => HtbClass {
                leaf: None,
                ..c.clone()
            },
            _ => c.clone(),
        }));
    } else {
        let pools = pools(&q.classes);
        for c in &q.classes {
            match &c.owner {
                ClassOwner::Circuit(id) => {
                    let pool = c.parent.and_then(|p| pools.get(&p));
                    if let (Some(pool), Some(pool_of)) = (pool, pool_of.as_deref_mut()) {
                        pool_of.insert(c.id, pool.id.minor);
                    }
                    if pool.is_none() || state.built(id) {
                        classes.push(c.clone());
                    }
                }
                _ => {
                    classes.push(c.clone());
                    // A parent's pool right after it (parents before children).
                    if let Some(pool) = pools.get(&c.id) {
                        classes.push(pool.clone());
                    }
                }
            }
        }
    }
    classes
}

/// The mappings of idle circuits moved to their pools (`Full`).
fn pooled_mappings(
    mappings: &[IpMapping],
    pool_of: &PoolIndex,
    state: &dyn CircuitState,
) -> Vec<IpMapping> {
    let pooled = |class: ClassId| pool_of.get(class).unwrap_or(class);
    mappings
        .iter()
        .map(|m| {
            if state.routed(&m.circuit_id) {
                m.clone()
            } else {
                IpMapping {
                    download: pooled(m.download),
                    upload: pooled(m.upload),
                    ..m.clone()
                }
            }
        })
        .collect()
}

/// Circuit class -> its pool, as one table of minors per HTB major: looked up twice for
/// each of 300k mappings at 100k circuits, where hashing class ids costs more than the rest.
#[derive(Default)]
pub(crate) struct PoolIndex {
    /// (major, pool minor by circuit minor; 0: none).
    by_major: Vec<(u16, Vec<u16>)>,
}

impl PoolIndex {
    fn insert(&mut self, class: ClassId, pool_minor: u16) {
        let at = match self.by_major.iter().position(|(m, _)| *m == class.major) {
            Some(at) => at,
            None => {
                let table = vec![0; usize::from(MAX_MINOR) + 1];
                self.by_major.push((class.major, table));
                self.by_major.len() - 1
            }
        };
        self.by_major[at].1[usize::from(class.minor)] = pool_minor;
    }

    fn get(&self, class: ClassId) -> Option<ClassId> {
        let (_, table) = self.by_major.iter().find(|(m, _)| *m == class.major)?;
        match table[usize::from(class.minor)] {
            0 => None,
            minor => Some(ClassId::new(class.major, minor)),
        }
    }
}

/// The pool class of every parent with circuit children in one HTB, keyed by the parent.
///
/// A pool depends on its parent only (rate 1/64 of the parent's, its ceiling, the leaf qdisc
/// of the parent's first circuit), so re-rating an idle circuit changes nothing in the kernel.
/// Its minor is `0xffff - parent minor` when the plan leaves it free (stable whatever else
/// changes), else the highest free one.
fn pools(classes: &[HtbClass]) -> FxHashMap<ClassId, HtbClass> {
    // Minors in use, as a bitmap (65,536 bits): a hash set of 100k minors costs more than
    // the rest of the materialisation.
    let mut used = vec![0u64; (usize::from(MAX_MINOR) + 1) / 64];
    let mut mark = |m: u16| used[usize::from(m) / 64] |= 1 << (m % 64);
    for c in classes {
        mark(c.id.minor);
    }
    // Parents are nodes (few): index only classes that are not circuits.
    let by_id: FxHashMap<ClassId, &HtbClass> = classes
        .iter()
        .filter(|c| !matches!(c.owner, ClassOwner::Circuit(_)))
        .map(|c| (c.id, c))
        .collect();
    let mut pools: FxHashMap<ClassId, HtbClass> = FxHashMap::default();
    for c in classes {
        let (ClassOwner::Circuit(_), Some(parent)) = (&c.owner, c.parent) else {
            continue;
        };
        if pools.contains_key(&parent) {
            continue;
        }
        let Some(p) = by_id.get(&parent) else {
            continue;
        };
        let free = |m: &u16| *m != 0 && used[usize::from(*m) / 64] & (1 << (m % 64)) == 0;
        let preferred = MAX_MINOR - parent.minor;
        // Without a free minor (65,534 classes in one HTB) there is no pool, and the parent's
        // circuits are built whether active or not.
        let Some(minor) = Some(preferred)
            .filter(free)
            .or_else(|| (1..=MAX_MINOR).rev().find(free))
        else {
            continue;
        };
        used[usize::from(minor) / 64] |= 1 << (minor % 64);
        pools.insert(parent, pool_under(p, c, ClassId::new(parent.major, minor)));
    }
    pools
}

/// The pool class `id` under `parent`, with the leaf qdisc of circuit class `first`.
fn pool_under(parent: &HtbClass, first: &HtbClass, id: ClassId) -> HtbClass {
    let rate = (parent.rate_bps / 64).clamp(8_000, parent.ceil_bps.max(8_000));
    HtbClass {
        id,
        parent: Some(parent.id),
        rate_bps: rate,
        ceil_bps: parent.ceil_bps,
        burst: crate::burst_bytes(rate),
        cburst: parent.cburst,
        quantum: crate::quantum_bytes(rate),
        owner: ClassOwner::LazyPool,
        leaf: first.leaf.clone(),
    }
}

mod rerated;
pub use rerated::{rematerialise, KernelPatch};

#[cfg(test)]
mod tests;
