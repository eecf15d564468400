//! The difference between the live plan and a new one, as the smallest set of operations that
//! turns one into the other without touching anything else: unrelated circuits keep their
//! classes, their queues and their traffic.
//!
//! HTB rules the order follows: a class is added only under an existing parent, deleted only
//! without children, and never re-parented (a moved class is deleted and added again, with its
//! whole subtree). An interface whose queue layout changed (queue count, majors) is rebuilt.

use crate::{ClassId, HtbClass, InterfaceDelta, InterfacePlan, IpMapping, PlanDelta, QueuePlan};
use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What to do to go from one plan to the next.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanDiff {
    /// Interfaces to build from scratch (new, or their queue layout changed).
    pub rebuild: Vec<InterfacePlan>,
    /// Interfaces that are no longer shaped: their root qdisc goes.
    pub remove_interfaces: Vec<String>,
    /// Classes to delete, children before parents.
    pub remove_classes: Vec<(String, ClassId)>,
    /// Classes whose rates, burst or quantum changed (same parent).
    pub change_classes: Vec<(String, HtbClass)>,
    /// Classes to add, parents before children (with their leaf qdisc).
    pub add_classes: Vec<(String, HtbClass)>,
    /// Existing classes whose leaf qdisc changes (`None`: back to HTB's default).
    pub change_leaves: Vec<(String, ClassId, Option<Arc<str>>)>,
    /// Prefixes to insert or update in the IP map.
    pub upsert_mappings: Vec<IpMapping>,
    /// Prefixes to delete from the IP map.
    pub remove_mappings: Vec<IpNet>,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self == &PlanDiff::default()
    }

    /// Class operations, counting a rebuilt interface's classes.
    pub fn class_operations(&self) -> usize {
        let rebuilt: usize = self
            .rebuild
            .iter()
            .flat_map(|i| &i.htbs)
            .map(|q| q.classes.len())
            .sum();
        rebuilt
            + self.remove_classes.len()
            + self.change_classes.len()
            + self.add_classes.len()
            + self.change_leaves.len()
    }
}

/// The layout of an interface: which HTBs hang where. A change means a rebuild.
fn layout(i: &InterfacePlan) -> Vec<(u16, u16, u32)> {
    i.htbs
        .iter()
        .map(|q| (q.major, q.mq_minor, q.cpu))
        .collect()
}

/// Computes the operations that turn `old` into `new`.
pub fn diff(old: &QueuePlan, new: &QueuePlan) -> PlanDiff {
    diff_known(old, new, &KnownEnds::default())
}

/// [`diff`] of `old` and `new` when `new` is `delta`'s patch of `old` (checked by its hash):
/// the same result, without comparing what the delta copied to the same place (at 100k
/// circuits, 500k classes and mappings for a one-circuit change).
pub fn diff_patched(old: &QueuePlan, new: &QueuePlan, delta: &PlanDelta) -> PlanDiff {
    diff_known(old, new, &KnownEnds::of(delta, old, new))
}

/// How much of each list's start and end is known to be the same in both plans (the rest is
/// compared as usual): by (interface name, HTB index), and for the mappings.
#[derive(Default)]
struct KnownEnds<'a> {
    classes: HashMap<(&'a str, usize), (usize, usize)>,
    mappings: (usize, usize),
}

impl<'a> KnownEnds<'a> {
    fn of(delta: &PlanDelta, old: &QueuePlan, new: &'a QueuePlan) -> Self {
        let mut classes = HashMap::new();
        for (n, d) in new.interfaces.iter().zip(&delta.interfaces) {
            let InterfaceDelta::Patched {
                base,
                classes: lists,
            } = d
            else {
                continue;
            };
            let Some(o) = old.interfaces.get(*base as usize) else {
                continue;
            };
            for (q, (list, htb)) in lists.iter().zip(&o.htbs).enumerate() {
                classes.insert(
                    (n.name.as_str(), q),
                    list.copied_in_place(htb.classes.len()),
                );
            }
        }
        Self {
            classes,
            mappings: delta.mappings.copied_in_place(old.mappings.len()),
        }
    }

    fn classes(&self, interface: &str, htb: usize) -> (usize, usize) {
        self.classes
            .get(&(interface, htb))
            .copied()
            .unwrap_or_default()
    }
}

fn diff_known(old: &QueuePlan, new: &QueuePlan, known: &KnownEnds) -> PlanDiff {
    let mut d = PlanDiff::default();
    let old_ifaces: HashMap<&str, &InterfacePlan> = old
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let new_names: HashSet<&str> = new.interfaces.iter().map(|i| i.name.as_str()).collect();
    for o in &old.interfaces {
        if !new_names.contains(o.name.as_str()) {
            d.remove_interfaces.push(o.name.clone());
        }
    }
    for n in &new.interfaces {
        match old_ifaces.get(n.name.as_str()) {
            Some(o) if layout(o) == layout(n) => diff_interface(o, n, known, &mut d),
            _ => d.rebuild.push(n.clone()),
        }
    }
    diff_mappings(&old.mappings, &new.mappings, known.mappings, &mut d);
    d
}

/// Lengths of the common prefix and (of what remains) the common suffix of two lists: the
/// elements there are unchanged, so only the middles need a lookup. A one-circuit change of a
/// 10k-circuit plan compares in place instead of hashing every class and prefix. The first
/// `known.0` and last `known.1` elements are known to be equal and not compared.
fn same_ends<T: PartialEq>(old: &[T], new: &[T], known: (usize, usize)) -> (usize, usize) {
    let start = known.0.min(old.len()).min(new.len());
    let pre = start
        + old[start..]
            .iter()
            .zip(&new[start..])
            .take_while(|(a, b)| a == b)
            .count();
    let end = known.1.min(old.len() - pre).min(new.len() - pre);
    let suf = end
        + old[pre..old.len() - end]
            .iter()
            .rev()
            .zip(new[pre..new.len() - end].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
    (pre, suf)
}

/// The two plans' HTBs side by side (same layout), each with the range of its classes that
/// differs: before it both lists are equal element by element, after it too.
struct Sides<'a> {
    old: &'a [HtbClass],
    new: &'a [HtbClass],
    pre: usize,
    suf: usize,
}

impl<'a> Sides<'a> {
    fn old_mid(&self) -> &'a [HtbClass] {
        &self.old[self.pre..self.old.len() - self.suf]
    }
    fn new_mid(&self) -> &'a [HtbClass] {
        &self.new[self.pre..self.new.len() - self.suf]
    }
    fn old_suffix(&self) -> &'a [HtbClass] {
        &self.old[self.old.len() - self.suf..]
    }
    fn new_suffix(&self) -> &'a [HtbClass] {
        &self.new[self.new.len() - self.suf..]
    }
}

fn diff_interface(old: &InterfacePlan, new: &InterfacePlan, known: &KnownEnds, d: &mut PlanDiff) {
    let dev = &old.name;
    // Class ids are unique per interface, so a class of an equal prefix or suffix has no
    // counterpart in the other plan's middles, and a class there keeps its parent.
    let sides: Vec<Sides> = old
        .htbs
        .iter()
        .zip(&new.htbs)
        .enumerate()
        .map(|(q, (o, n))| {
            let (pre, suf) = same_ends(&o.classes, &n.classes, known.classes(&new.name, q));
            Sides {
                old: &o.classes,
                new: &n.classes,
                pre,
                suf,
            }
        })
        .collect();
    let old_classes: FxHashMap<ClassId, &HtbClass> = sides
        .iter()
        .flat_map(Sides::old_mid)
        .map(|c| (c.id, c))
        .collect();
    let new_classes: FxHashMap<ClassId, &HtbClass> = sides
        .iter()
        .flat_map(Sides::new_mid)
        .map(|c| (c.id, c))
        .collect();

    // A class goes when it is gone, moved to another parent, or under a class that goes.
    // Parent-first order: a parent's fate is known before its children's. Classes of the
    // equal prefix stay (so do their parents, which come before them); those of the equal
    // suffix go only with a parent.
    let mut going: FxHashSet<ClassId> = FxHashSet::default();
    for s in &sides {
        for c in s.old_mid() {
            let moved = new_classes.get(&c.id).is_none_or(|n| n.parent != c.parent);
            let parent_goes = c.parent.is_some_and(|p| going.contains(&p));
            if moved || parent_goes {
                going.insert(c.id);
            }
        }
        if !going.is_empty() {
            for c in s.old_suffix() {
                if c.parent.is_some_and(|p| going.contains(&p)) {
                    going.insert(c.id);
                }
            }
        }
    }
    if !going.is_empty() {
        for s in &sides {
            for c in s.old.iter().rev().filter(|c| going.contains(&c.id)) {
                d.remove_classes.push((dev.clone(), c.id));
            }
        }
    }
    for s in &sides {
        for c in s.new_mid() {
            match old_classes.get(&c.id) {
                Some(o) if !going.contains(&c.id) => {
                    let sized =
                        |x: &HtbClass| (x.rate_bps, x.ceil_bps, x.burst, x.cburst, x.quantum);
                    if sized(o) != sized(c) {
                        d.change_classes.push((dev.clone(), c.clone()));
                    }
                    if o.leaf != c.leaf {
                        d.change_leaves.push((dev.clone(), c.id, c.leaf.clone()));
                    }
                }
                _ => d.add_classes.push((dev.clone(), c.clone())),
            }
        }
        // An unchanged class under one that moved is added again with it.
        if !going.is_empty() {
            for c in s.new_suffix().iter().filter(|c| going.contains(&c.id)) {
                d.add_classes.push((dev.clone(), c.clone()));
            }
        }
    }
}

/// One map of the old prefixes and one pass over the new ones, both only over the middles
/// that differ (prefixes are unique per plan, so an equal start or end holds no move).
fn diff_mappings(old: &[IpMapping], new: &[IpMapping], known: (usize, usize), d: &mut PlanDiff) {
    let (pre, suf) = same_ends(old, new, known);
    let (old, new) = (&old[pre..old.len() - suf], &new[pre..new.len() - suf]);
    let mut before: FxHashMap<IpNet, usize> =
        FxHashMap::with_capacity_and_hasher(old.len(), Default::default());
    before.extend(old.iter().enumerate().map(|(i, m)| (m.prefix, i)));
    let mut kept = vec![false; old.len()];
    for m in new {
        match before.get(&m.prefix) {
            Some(&i) => {
                kept[i] = true;
                if old[i] != *m {
                    d.upsert_mappings.push(m.clone());
                }
            }
            None => d.upsert_mappings.push(m.clone()),
        }
    }
    d.remove_mappings.extend(
        old.iter()
            .zip(&kept)
            .filter(|(_, k)| !**k)
            .map(|(m, _)| m.prefix),
    );
}
