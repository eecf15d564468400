//! Lazy queues' pass over the counters: circuits that start carrying traffic are built, idle
//! ones collapse, each as an ordinary diffed apply of the live plan materialised again.

use super::Shaper;
use crate::apply::{apply, ApplyError};
use lqos_bus::ApplySummary;
use lqos_plan::QueuePlan;
use std::sync::Arc;
use std::time::Instant;
use tracing::{error, warn};

/// What one lazy pass did.
#[derive(Debug)]
pub struct LazyChange {
    pub built: usize,
    pub collapsed: usize,
    pub duration: std::time::Duration,
}

impl Shaper {
    /// The lazy queues' threshold, when they are on.
    pub fn lazy_threshold(&self) -> Option<u64> {
        self.lazy.as_ref().map(|l| l.threshold_bytes)
    }

    /// Lazy queues: builds the circuits in `active` that have no queue yet and collapses
    /// those idle past `lazy_expire_seconds`, as two applies of the materialised plan (the
    /// second takes the collapsed classes away once their prefixes point at the pools).
    /// `None` when nothing changed.
    pub fn observe(
        &mut self,
        active: &[Arc<str>],
        now: Instant,
    ) -> Option<Result<LazyChange, String>> {
        if self.needs_rebuild || self.live.generation == 0 {
            return None;
        }
        let lazy = self.lazy.as_mut()?;
        let due = lazy.due(active, now);
        if due.is_empty() {
            return None;
        }
        let started = Instant::now();
        lazy.build(&due.build, now);
        let first = lazy.realise_leaving(&self.live.plan, &due.collapse);
        let settled = due.collapse.is_empty();
        if let Err(e) = self.apply_kernel(first, settled) {
            if let Some(l) = &mut self.lazy {
                l.unbuild(&due.build);
            }
            return Some(Err(e));
        }
        if !due.collapse.is_empty() {
            let lazy = self.lazy.as_mut()?;
            lazy.unbuild(&due.collapse);
            let second = lazy.realise(&self.live.plan);
            if let Err(e) = self.apply_kernel(second, true) {
                // The collapsing circuits stay built (and routed to their pools) until the
                // next pass tries again.
                if let Some(l) = &mut self.lazy {
                    l.build(&due.collapse.iter().cloned().collect::<Vec<_>>(), now);
                }
                return Some(Err(e));
            }
        }
        let lazy = self.lazy.as_mut()?;
        lazy.activations += due.build.len() as u64;
        lazy.collapses += due.collapse.len() as u64;
        self.save_built();
        Some(Ok(LazyChange {
            built: due.build.len(),
            collapsed: due.collapse.len(),
            duration: started.elapsed(),
        }))
    }

    /// Applies `target` over the lazy kernel plan; on success it becomes the kernel plan
    /// (`settled`: see [`Lazy::set_kernel`]).
    fn apply_kernel(&mut self, target: QueuePlan, settled: bool) -> Result<ApplySummary, String> {
        let Some(lazy) = &mut self.lazy else {
            return Err("lazy queues are off".into());
        };
        let result = apply(
            &mut self.dataplane,
            &lazy.kernel,
            &target,
            None,
            self.ip_map_capacity,
            &mut self.handles,
        );
        match result {
            Ok(summary) => {
                lazy.set_kernel(target, settled);
                Ok(summary)
            }
            Err(e) => {
                if matches!(e, ApplyError::Inconsistent { .. }) {
                    error!(error = %e, "lazy queues: the kernel matches neither plan; the next plan is built from scratch");
                    self.needs_rebuild = true;
                }
                Err(e.to_string())
            }
        }
    }

    /// Saves the built circuits (lazy queues), logging a failure: a restart that cannot read
    /// them rebuilds the tree cold, which is safe.
    pub(super) fn save_built(&mut self) {
        if let Some(l) = &mut self.lazy {
            if !l.take_unsaved() {
                return;
            }
            if let Err(e) = self.state.save_built(&l.built_ids()) {
                warn!(error = %crate::state::with_causes(&e), "cannot save the lazy queues' built circuits");
                l.mark_unsaved();
            }
        }
    }
}
