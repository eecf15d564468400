//! Lazy queues in lqosd (`[queues] lazy_queues`): which circuits have their queue built and
//! when they last carried traffic; the plan the kernel holds is derived from the live plan
//! with [`lqos_plan::materialise`], so building or collapsing a circuit is an ordinary diffed,
//! rolled-back apply.

use lqos_config::{LazyMode, LazyQueues};
use lqos_plan::{materialise, CircuitState, Laziness, QueuePlan};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Lazy {
    pub mode: Laziness,
    expire: Option<Duration>,
    pub threshold_bytes: u64,
    /// Circuits whose class (`Full`) or leaf qdisc (`Htb`) exists, and when they last carried
    /// traffic.
    /// FxHash: looked up for every circuit of the plan at every apply.
    built: FxHashMap<Arc<str>, Instant>,
    /// What the kernel holds: the live plan materialised for `built`.
    pub kernel: QueuePlan,
    /// `kernel` is exactly [`Lazy::realise`] of the live plan (not half-way through a
    /// collapse that failed).
    settled: bool,
    /// The built set changed since it was last saved.
    unsaved: bool,
    /// Circuits built and collapsed since lqosd started.
    pub activations: u64,
    pub collapses: u64,
}

/// Built circuits, some of them on their way out (routed to their pool already).
struct Split<'a> {
    built: &'a FxHashMap<Arc<str>, Instant>,
    leaving: &'a HashSet<Arc<str>>,
}

impl CircuitState for Split<'_> {
    fn built(&self, circuit_id: &str) -> bool {
        self.built.contains_key(circuit_id)
    }
    fn routed(&self, circuit_id: &str) -> bool {
        self.built.contains_key(circuit_id) && !self.leaving.contains(circuit_id)
    }
}

/// What one pass over the counters asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Due {
    /// Active circuits without their queue.
    pub build: Vec<Arc<str>>,
    /// Built circuits idle for longer than `lazy_expire_seconds`.
    pub collapse: HashSet<Arc<str>>,
}

impl Due {
    pub fn is_empty(&self) -> bool {
        self.build.is_empty() && self.collapse.is_empty()
    }
}

impl Lazy {
    /// `None` when lazy queues are off.
    pub fn new(config: LazyQueues) -> Option<Self> {
        let mode = match config.mode {
            LazyMode::No => return None,
            LazyMode::Htb => Laziness::Htb,
            LazyMode::Full => Laziness::Full,
        };
        Some(Self {
            mode,
            expire: config.expire,
            threshold_bytes: config.threshold_bytes,
            built: FxHashMap::default(),
            unsaved: false,
            kernel: crate::apply::empty_plan(),
            settled: true,
            activations: 0,
            collapses: 0,
        })
    }

    /// `plan` as the kernel holds it with the circuits built now.
    pub fn realise(&self, plan: &QueuePlan) -> QueuePlan {
        self.realise_leaving(plan, &HashSet::new())
    }

    /// `plan` with `leaving` still built but routed to their pools (the first half of a
    /// collapse: prefixes move before the class goes, so no packet meets a missing class).
    pub fn realise_leaving(&self, plan: &QueuePlan, leaving: &HashSet<Arc<str>>) -> QueuePlan {
        let state = Split {
            built: &self.built,
            leaving,
        };
        materialise(plan, self.mode, &state)
    }

    /// The kernel's plan is now `kernel`; `settled`: it is [`Lazy::realise`] of the live
    /// plan (not [`Lazy::realise_leaving`] with circuits leaving).
    pub fn set_kernel(&mut self, kernel: QueuePlan, settled: bool) {
        self.kernel = kernel;
        self.settled = settled;
    }

    /// The change to the kernel's plan for `plan`, patched in place from the live plan with
    /// `replaced`, when the patch only re-rated classes ([`lqos_plan::rematerialise`]).
    pub fn rematerialise(
        &self,
        plan: &QueuePlan,
        replaced: &lqos_plan::Replaced,
    ) -> Option<lqos_plan::KernelPatch> {
        let state = Split {
            built: &self.built,
            leaving: &HashSet::new(),
        };
        let settled = self.settled.then_some(&self.kernel)?;
        lqos_plan::rematerialise(settled, plan, replaced, self.mode, &state)
    }

    /// Circuits built, by id.
    pub fn built_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.built.keys().map(|k| &**k).collect();
        ids.sort_unstable();
        ids
    }

    pub fn built_count(&self) -> usize {
        self.built.len()
    }

    /// Marks `ids` as built (after a restart that adopted them), active as of `now`.
    pub fn restore(&mut self, ids: impl IntoIterator<Item = Arc<str>>, now: Instant) {
        self.built.extend(ids.into_iter().map(|id| (id, now)));
        self.unsaved = true;
    }

    /// Forgets every built circuit (a rebuild after a reboot or a crash starts cold).
    pub fn forget(&mut self) {
        self.built.clear();
        self.unsaved = true;
    }

    /// Keeps only the circuits `plan` still has.
    pub fn prune(&mut self, plan: &QueuePlan) {
        if self.built.is_empty() {
            return;
        }
        let ids: FxHashSet<&str> = plan.mappings.iter().map(|m| &*m.circuit_id).collect();
        let before = self.built.len();
        self.built.retain(|id, _| ids.contains(&**id));
        self.unsaved |= self.built.len() != before;
    }

    /// Records which circuits carried traffic (`active`, from one counter sample) and says
    /// which to build and which to collapse.
    pub fn due(&mut self, active: &[Arc<str>], now: Instant) -> Due {
        let mut due = Due::default();
        for id in active {
            match self.built.get_mut(id) {
                Some(last) => *last = now,
                None if !due.build.contains(id) => due.build.push(id.clone()),
                None => {}
            }
        }
        if let Some(expire) = self.expire {
            due.collapse = self
                .built
                .iter()
                .filter(|(_, last)| now.saturating_duration_since(**last) > expire)
                .map(|(id, _)| id.clone())
                .collect();
        }
        due
    }

    /// Adds circuits to the built set.
    pub fn build(&mut self, ids: &[Arc<str>], now: Instant) {
        self.built.extend(ids.iter().map(|id| (id.clone(), now)));
        self.unsaved |= !ids.is_empty();
    }

    /// Takes circuits out of the built set.
    pub fn unbuild<'a>(&mut self, ids: impl IntoIterator<Item = &'a Arc<str>>) {
        for id in ids {
            self.unsaved |= self.built.remove(id).is_some();
        }
    }

    /// Whether the built set changed since the last call (to save it only then: the save
    /// is an fsynced write, and most applies do not change the set).
    pub fn take_unsaved(&mut self) -> bool {
        std::mem::take(&mut self.unsaved)
    }

    /// The last save failed: try again at the next apply.
    pub fn mark_unsaved(&mut self) {
        self.unsaved = true;
    }

    pub fn status(&self) -> lqos_bus::LazyStatus {
        lqos_bus::LazyStatus {
            mode: match self.mode {
                Laziness::Htb => "Htb",
                Laziness::Full => "Full",
            }
            .into(),
            built: self.built.len() as u64,
            activations: self.activations,
            collapses: self.collapses,
            expire_secs: self.expire.map(|d| d.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lazy(expire: u64) -> Lazy {
        Lazy::new(LazyQueues {
            mode: LazyMode::Full,
            expire: Some(Duration::from_secs(expire)),
            threshold_bytes: 0,
        })
        .expect("on")
    }

    #[test]
    fn off_means_no_lazy_state() {
        assert!(Lazy::new(LazyQueues::default()).is_none());
    }

    #[test]
    fn active_circuits_are_built_once_and_idle_ones_collapse_after_the_expiry() {
        let mut l = lazy(10);
        let t0 = Instant::now();
        let (a, b): (Arc<str>, Arc<str>) = ("A".into(), "B".into());
        let due = l.due(&[a.clone(), a.clone()], t0);
        assert_eq!(due.build, vec![a.clone()]);
        l.build(&due.build, t0);
        assert!(l.due(std::slice::from_ref(&a), t0).is_empty());
        l.build(std::slice::from_ref(&b), t0 + Duration::from_secs(5));
        // A kept busy, B idle since 5 s: at 16 s only B is past 10 s of silence.
        l.due(std::slice::from_ref(&a), t0 + Duration::from_secs(8));
        let due = l.due(&[], t0 + Duration::from_secs(16));
        assert_eq!(due.collapse, [b.clone()].into_iter().collect());
        l.unbuild(&due.collapse);
        assert_eq!(l.built_ids(), vec!["A"]);
    }

    #[test]
    fn the_built_set_is_unsaved_only_after_it_changed() {
        let mut l = lazy(10);
        let t0 = Instant::now();
        let (a, b): (Arc<str>, Arc<str>) = ("A".into(), "B".into());
        assert!(!l.take_unsaved(), "nothing built yet");
        l.build(std::slice::from_ref(&a), t0);
        assert!(l.take_unsaved());
        assert!(!l.take_unsaved(), "taken");
        // Traffic only moves timestamps; an absent circuit unbuilt changes nothing.
        l.due(std::slice::from_ref(&a), t0 + Duration::from_secs(1));
        l.unbuild(std::slice::from_ref(&b));
        l.prune(&QueuePlan {
            queues: 1,
            interfaces: Vec::new(),
            mappings: vec![lqos_plan::IpMapping {
                prefix: "100.64.0.1/32".parse().unwrap(),
                cpu: 0,
                download: lqos_plan::ClassId::new(1, 2),
                upload: lqos_plan::ClassId::new(2, 2),
                circuit_id: a.clone(),
            }],
        });
        assert!(!l.take_unsaved());
        l.prune(&crate::apply::empty_plan());
        assert!(l.take_unsaved(), "A left the plan");
        l.mark_unsaved();
        assert!(l.take_unsaved(), "a failed save is retried");
    }
}
