//! A plan as the difference from the one before it: what the scheduler sends lqosd when lqosd
//! already holds the plan it last submitted, so that a one-circuit change costs kilobytes on
//! the bus instead of the whole plan.
//!
//! A [`PlanDelta`] rebuilds the new plan **exactly** (same order, same values, same
//! [`plan_hash`]) from the old one: every list is a sequence of runs copied from the old list
//! and of new elements. It names its base (generation and hash) and the hash of its result;
//! lqosd patches only a live plan that is that base, and refuses a result whose hash differs,
//! so a delta can never produce a plan the scheduler did not compute.

use crate::hash::{plan_hash, ListHash, PlanHashes};
use crate::{HtbClass, InterfacePlan, IpMapping, QueuePlan};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

mod in_place;
pub use in_place::Replaced;

/// The plan after `base`: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDelta {
    /// Generation of the plan this delta applies to.
    pub base_generation: u64,
    /// [`plan_hash`] of that plan.
    pub base_hash: u64,
    /// [`plan_hash`] of the plan the delta produces.
    pub result_hash: u64,
    pub queues: u16,
    /// The new plan's interfaces, in order.
    pub interfaces: Vec<InterfaceDelta>,
    pub mappings: ListDelta<IpMapping>,
}

/// One interface of the new plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InterfaceDelta {
    /// The old interface at index `base`, with the same name and the same HTB layout; each of
    /// its HTBs' class lists patched in order.
    Patched {
        base: u32,
        classes: Vec<ListDelta<HtbClass>>,
    },
    /// A new interface, or one whose name or HTB layout changed: sent whole.
    Whole(InterfacePlan),
}

/// A list as runs of the old list and new elements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListDelta<T> {
    pub runs: Vec<Run<T>>,
}

/// Part of a [`ListDelta`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Run<T> {
    /// `len` elements of the old list from index `from`.
    Copy { from: u32, len: u32 },
    /// Elements that are not in the old list as they are.
    New(Vec<T>),
}

/// Why a delta does not produce a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("the delta is against generation {delta_generation} (hash {delta_hash:016x}), the live plan is generation {live_generation} (hash {live_hash:016x})")]
    BaseMismatch {
        delta_generation: u64,
        delta_hash: u64,
        live_generation: u64,
        live_hash: u64,
    },
    #[error("the delta refers to {what} {index} of the base plan, which has {len}")]
    OutOfRange {
        what: &'static str,
        index: u64,
        len: usize,
    },
    #[error("the patched plan hashes to {got:016x}, the delta promised {expected:016x}")]
    ResultMismatch { expected: u64, got: u64 },
}

impl PlanDelta {
    /// The delta that turns `old` (live as `base_generation`) into `new`.
    pub fn between(base_generation: u64, old: &QueuePlan, new: &QueuePlan) -> Self {
        Self::against(base_generation, plan_hash(old), old, new)
    }

    /// [`PlanDelta::between`] with the base's hash already known; the result's hash is
    /// computed in the pass that compares the plans (at 100k circuits, that pass and the
    /// hash of the new plan each cost milliseconds over 500k classes and mappings).
    pub fn against(base_generation: u64, base_hash: u64, old: &QueuePlan, new: &QueuePlan) -> Self {
        // The mappings (300k at 100k circuits) on a second thread, beside the classes.
        let ((interfaces, class_hashes), (mappings, mappings_hash)) = beside(
            || ListDelta::between(&old.mappings, &new.mappings, |m| m.prefix),
            || Self::interface_deltas(old, new),
        );
        let class_hash = |i: usize, q: usize| ListHash {
            hash: class_hashes[i][q],
            len: new.interfaces[i].htbs[q].classes.len(),
        };
        let mappings_hash = ListHash {
            hash: mappings_hash,
            len: new.mappings.len(),
        };
        Self {
            base_generation,
            base_hash,
            result_hash: PlanHashes::from_lists(new, class_hash, mappings_hash).plan(),
            queues: new.queues,
            interfaces,
            mappings,
        }
    }

    /// The interfaces' deltas, and the hash of each HTB's new classes.
    fn interface_deltas(old: &QueuePlan, new: &QueuePlan) -> (Vec<InterfaceDelta>, Vec<Vec<u64>>) {
        new.interfaces
            .iter()
            .map(|n| {
                let same_layout = old.interfaces.iter().enumerate().find(|(_, o)| {
                    o.name == n.name
                        && o.htbs.len() == n.htbs.len()
                        && o.htbs.iter().zip(&n.htbs).all(|(a, b)| {
                            (a.major, a.mq_minor, a.direction, a.cpu)
                                == (b.major, b.mq_minor, b.direction, b.cpu)
                        })
                });
                match same_layout {
                    Some((i, o)) => {
                        let (classes, hashes) = o
                            .htbs
                            .iter()
                            .zip(&n.htbs)
                            .map(|(a, b)| ListDelta::between(&a.classes, &b.classes, |c| c.id))
                            .unzip();
                        let base = i as u32;
                        (InterfaceDelta::Patched { base, classes }, hashes)
                    }
                    None => {
                        let hashes = n
                            .htbs
                            .iter()
                            .map(|q| ListHash::of(&q.classes).hash)
                            .collect();
                        (InterfaceDelta::Whole(n.clone()), hashes)
                    }
                }
            })
            .unzip()
    }

    /// Checks that the live plan is this delta's base.
    pub fn check_base(&self, live_generation: u64, live_hash: u64) -> Result<(), DeltaError> {
        if (self.base_generation, self.base_hash) == (live_generation, live_hash) {
            return Ok(());
        }
        Err(DeltaError::BaseMismatch {
            delta_generation: self.base_generation,
            delta_hash: self.base_hash,
            live_generation,
            live_hash,
        })
    }

    /// The new plan from `base` (which the caller checked with [`PlanDelta::check_base`]),
    /// and its hash, checked against the one the delta promised.
    pub fn patch(&self, base: &QueuePlan) -> Result<(QueuePlan, u64), DeltaError> {
        let plan = self.patch_unverified(base)?;
        let hashes = self.verify(&plan, &PlanHashes::default())?;
        Ok((plan, hashes.plan()))
    }

    /// The hashes of `plan` (made by [`PlanDelta::patch_unverified`] or
    /// [`PlanDelta::patch_in_place`]), if its hash is the one the delta promised. Split from
    /// the patch so that a caller can hash on another thread. `base`: the base plan's hashes,
    /// if known (else [`PlanHashes::default`]): a list the delta copies whole keeps its hash.
    pub fn verify(&self, plan: &QueuePlan, base: &PlanHashes) -> Result<PlanHashes, DeltaError> {
        let hashes = PlanHashes::from_lists(
            plan,
            |i, q| {
                let list = &plan.interfaces[i].htbs[q].classes;
                let kept = match self.interfaces.get(i) {
                    Some(InterfaceDelta::Patched { base: at, classes }) => classes
                        .get(q)
                        .zip(base.classes(*at as usize, q))
                        .and_then(|(d, h)| d.copied_whole(h, list.len())),
                    _ => None,
                };
                kept.unwrap_or_else(|| ListHash::of(list))
            },
            (self.mappings)
                .copied_whole(base.mappings(), plan.mappings.len())
                .unwrap_or_else(|| ListHash::of(&plan.mappings)),
        );
        if hashes.plan() != self.result_hash {
            return Err(DeltaError::ResultMismatch {
                expected: self.result_hash,
                got: hashes.plan(),
            });
        }
        Ok(hashes)
    }

    /// The new plan from `base`, not yet checked against the promised hash: pass it through
    /// [`PlanDelta::verify`] before using it.
    pub fn patch_unverified(&self, base: &QueuePlan) -> Result<QueuePlan, DeltaError> {
        // The mappings on a second thread, beside the classes.
        let (interfaces, mappings) = beside(
            || self.mappings.patch(&base.mappings, "mapping"),
            || self.patch_interfaces(base),
        );
        Ok(QueuePlan {
            queues: self.queues,
            interfaces: interfaces?,
            mappings: mappings?,
        })
    }

    fn patch_interfaces(&self, base: &QueuePlan) -> Result<Vec<InterfacePlan>, DeltaError> {
        let mut interfaces = Vec::with_capacity(self.interfaces.len());
        for i in &self.interfaces {
            interfaces.push(match i {
                InterfaceDelta::Whole(plan) => plan.clone(),
                InterfaceDelta::Patched { base: at, classes } => {
                    let old = base
                        .interfaces
                        .get(*at as usize)
                        .ok_or(DeltaError::OutOfRange {
                            what: "interface",
                            index: u64::from(*at),
                            len: base.interfaces.len(),
                        })?;
                    if classes.len() != old.htbs.len() {
                        return Err(DeltaError::OutOfRange {
                            what: "HTB",
                            index: classes.len() as u64,
                            len: old.htbs.len(),
                        });
                    }
                    let htbs = old
                        .htbs
                        .iter()
                        .zip(classes)
                        .map(|(q, d)| {
                            Ok(crate::HtbQueue {
                                major: q.major,
                                mq_minor: q.mq_minor,
                                direction: q.direction,
                                cpu: q.cpu,
                                classes: d.patch(&q.classes, "class")?,
                            })
                        })
                        .collect::<Result<Vec<_>, DeltaError>>()?;
                    InterfacePlan {
                        name: old.name.clone(),
                        htbs,
                    }
                }
            });
        }
        Ok(interfaces)
    }

    /// New elements the delta carries (classes of whole interfaces included), for logs.
    pub fn new_elements(&self) -> usize {
        let classes: usize = self
            .interfaces
            .iter()
            .map(|i| match i {
                InterfaceDelta::Whole(p) => p.htbs.iter().map(|q| q.classes.len()).sum::<usize>(),
                InterfaceDelta::Patched { classes, .. } => {
                    classes.iter().map(ListDelta::new_elements).sum()
                }
            })
            .sum();
        classes + self.mappings.new_elements()
    }
}

/// Runs `there` on a second thread while `here` runs on this one: the two halves of a plan
/// (class lists, mappings) are independent, and at 100k circuits each takes milliseconds.
fn beside<A: Send, B>(there: impl FnOnce() -> A + Send, here: impl FnOnce() -> B) -> (B, A) {
    std::thread::scope(|scope| {
        let other = scope.spawn(there);
        let mine = here();
        let theirs = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (mine, theirs)
    })
}

impl<T: Clone + PartialEq + Hash> ListDelta<T> {
    /// Runs that turn `old` into `new`, and the hash of `new` (as a list of the plan's hash).
    /// An element of `new` equal to the old element with the same key is copied (each old
    /// element at most once); runs of consecutive old elements become one [`Run::Copy`]. The
    /// keys of `old` are indexed only when the lists stop running in step.
    pub fn between<K: Hash + Eq>(old: &[T], new: &[T], key: impl Fn(&T) -> K) -> (Self, u64) {
        let mut hash = ListHash::hasher(new.len());
        let mut runs: Vec<Run<T>> = Vec::new();
        let mut index: Option<FxHashMap<K, usize>> = None;
        let mut copied = vec![false; old.len()];
        // The old index expected next: after the last copied element.
        let mut next = 0usize;
        for n in new {
            n.hash(&mut hash);
            let found = match old.get(next) {
                Some(o) if o == n => Some(next),
                // Changed in place (the common case): new, and the lists stay in step.
                Some(o) if key(o) == key(n) => {
                    next += 1;
                    None
                }
                _ => {
                    let index = index.get_or_insert_with(|| {
                        old.iter().enumerate().map(|(i, o)| (key(o), i)).collect()
                    });
                    index.get(&key(n)).copied().filter(|&i| old[i] == *n)
                }
            }
            .filter(|&i| !copied[i]);
            match (found, runs.last_mut()) {
                (Some(i), Some(Run::Copy { from, len })) if *from as usize + *len as usize == i => {
                    *len += 1
                }
                (Some(i), _) => runs.push(Run::Copy {
                    from: i as u32,
                    len: 1,
                }),
                (None, Some(Run::New(items))) => items.push(n.clone()),
                (None, _) => runs.push(Run::New(vec![n.clone()])),
            }
            if let Some(i) = found {
                copied[i] = true;
                next = i + 1;
            }
        }
        (Self { runs }, hash.finish())
    }

    /// The new list from `old`. Copies may not add up to more than `old` holds (each old
    /// element is copied at most once), which bounds what a delta can make lqosd allocate.
    pub fn patch(&self, old: &[T], what: &'static str) -> Result<Vec<T>, DeltaError> {
        let (mut copies, mut news) = (0usize, 0usize);
        for r in &self.runs {
            match r {
                Run::Copy { len, .. } => copies = copies.saturating_add(*len as usize),
                Run::New(items) => news += items.len(),
            }
        }
        if copies > old.len() {
            return Err(DeltaError::OutOfRange {
                what,
                index: copies as u64,
                len: old.len(),
            });
        }
        let mut out = Vec::with_capacity(copies + news);
        for r in &self.runs {
            match r {
                Run::Copy { from, len } => {
                    let (from, end) = (*from as usize, *from as usize + *len as usize);
                    let part = old.get(from..end).ok_or(DeltaError::OutOfRange {
                        what,
                        index: end as u64,
                        len: old.len(),
                    })?;
                    out.extend_from_slice(part);
                }
                Run::New(items) => out.extend_from_slice(items),
            }
        }
        Ok(out)
    }

    /// `old`, the old list's hash, when this delta copies the old list whole into a list of
    /// `new_len`.
    fn copied_whole(&self, old: ListHash, new_len: usize) -> Option<ListHash> {
        let whole = match self.runs.as_slice() {
            [] => old.len == 0,
            [Run::Copy { from: 0, len }] => *len as usize == old.len,
            _ => false,
        };
        (whole && new_len == old.len).then_some(old)
    }

    /// How many elements at the start and at the end of the new list are copies of the old
    /// list's (of `old_len`) at the same place: known equal, so a diff need not compare them.
    pub(crate) fn copied_in_place(&self, old_len: usize) -> (usize, usize) {
        let start = match self.runs.first() {
            Some(Run::Copy { from: 0, len }) => *len as usize,
            _ => 0,
        };
        let end = match self.runs.as_slice() {
            [_, .., Run::Copy { from, len }] if *from as usize + *len as usize == old_len => {
                *len as usize
            }
            _ => 0,
        };
        (start, end)
    }

    fn new_elements(&self) -> usize {
        self.runs
            .iter()
            .map(|r| match r {
                Run::New(items) => items.len(),
                Run::Copy { .. } => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests;
