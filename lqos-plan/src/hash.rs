//! A content hash of a plan, to tell "unchanged" and "same base" cheaply: FxHash (no random
//! seed, so the same plan hashes the same in every process of one build) over the plan's
//! fields, without serializing it. Compare only hashes computed by builds of the same source:
//! a scheduler and an lqosd that hash differently never agree on a base and fall back to full
//! plans, which is slower but correct.
//!
//! Each HTB's classes and the mappings hash as lists of their own, which the plan's hash
//! combines: a delta hashes the new plan's lists in the pass that compares them, and lqosd,
//! which keeps the live plan's list hashes ([`PlanHashes`]), hashes again only the lists a
//! delta changed.

use crate::QueuePlan;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// The plan's hash: see the module docs.
pub fn plan_hash(plan: &QueuePlan) -> u64 {
    PlanHashes::of(plan).plan()
}

/// A plan's hash with the list hashes it combines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanHashes {
    /// By interface, by HTB: its classes.
    classes: Vec<Vec<ListHash>>,
    mappings: ListHash,
    plan: u64,
}

/// The hash and the length of one list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ListHash {
    pub hash: u64,
    pub len: usize,
}

impl ListHash {
    pub(crate) fn of<T: Hash>(items: &[T]) -> Self {
        let mut h = Self::hasher(items.len());
        for item in items {
            item.hash(&mut h);
        }
        Self {
            hash: h.finish(),
            len: items.len(),
        }
    }

    /// The hasher of a list of `len` elements, to be given each of them in order: the same
    /// hash as [`ListHash::of`].
    pub(crate) fn hasher(len: usize) -> FxHasher {
        let mut h = FxHasher::default();
        h.write_usize(len);
        h
    }
}

impl PlanHashes {
    pub fn of(plan: &QueuePlan) -> Self {
        Self::from_lists(
            plan,
            |i, q| ListHash::of(&plan.interfaces[i].htbs[q].classes),
            ListHash::of(&plan.mappings),
        )
    }

    /// [`plan_hash`] of the plan.
    pub fn plan(&self) -> u64 {
        self.plan
    }

    /// The hash of class list `htb` of interface `interface`, if the plan has it.
    pub(crate) fn classes(&self, interface: usize, htb: usize) -> Option<ListHash> {
        self.classes.get(interface)?.get(htb).copied()
    }

    pub(crate) fn mappings(&self) -> ListHash {
        self.mappings
    }

    /// `plan`'s hashes from those of its lists: `classes(interface, htb)` and `mappings`.
    pub(crate) fn from_lists(
        plan: &QueuePlan,
        classes: impl Fn(usize, usize) -> ListHash,
        mappings: ListHash,
    ) -> Self {
        let classes: Vec<Vec<ListHash>> = (plan.interfaces.iter().enumerate())
            .map(|(i, iface)| (0..iface.htbs.len()).map(|q| classes(i, q)).collect())
            .collect();
        let mut h = FxHasher::default();
        plan.queues.hash(&mut h);
        h.write_usize(plan.interfaces.len());
        for (iface, lists) in plan.interfaces.iter().zip(&classes) {
            iface.name.hash(&mut h);
            h.write_usize(iface.htbs.len());
            for (htb, list) in iface.htbs.iter().zip(lists) {
                (htb.major, htb.mq_minor, htb.direction, htb.cpu).hash(&mut h);
                h.write_u64(list.hash);
            }
        }
        h.write_u64(mappings.hash);
        Self {
            classes,
            mappings,
            plan: h.finish(),
        }
    }
}
