//! The shaper: the data plane plus the plan that is live on it. Startup adopts what a previous
//! lqosd left in the kernel (or rebuilds it from the saved plan); every submitted plan is
//! checked, applied as a difference, and saved.

use crate::apply::Kernel;
use crate::apply::{apply, empty_plan, ApplyError, LeafHandles, Live};
use crate::dataplane::{self, Dataplane, DataplaneError, Shaped};
use crate::lazy::Lazy;
use crate::state::StateDir;
use lqos_bus::{ApplySummary, IssueSeverity, QueueClasses, StatusReport};
use lqos_config::Config;
use lqos_plan::{PlanHashes, QueuePlan};
use std::sync::Arc;
use tracing::{debug, error, info, warn};

mod adopt;
mod lazy_pass;

pub use lazy_pass::LazyChange;

/// How a plan came: as a delta (saved as such when the saved plan is its base), and what its
/// patch in place replaced.
type Came<'a> = (
    Option<&'a lqos_plan::PlanDelta>,
    Option<&'a lqos_plan::Replaced>,
);

/// The answer to a submitted plan.
#[derive(Debug)]
pub enum Outcome {
    Applied(ApplySummary),
    Unchanged(u64),
    Rejected(Vec<String>),
}

pub struct Shaper {
    dataplane: Dataplane,
    shaped: Shaped,
    state: StateDir,
    ip_map_capacity: u32,
    live: Live,
    /// The kernel matches neither plan (a restore failed): the next plan is built from scratch.
    needs_rebuild: bool,
    /// Handles of the live leaf qdiscs.
    handles: LeafHandles,
    /// Found at start, raised as urgent issues once the bus is up.
    startup_issues: Vec<lqos_bus::UrgentIssue>,
    /// Lazy queues: the kernel holds `lazy.kernel`, derived from `live.plan`.
    lazy: Option<Lazy>,
}

impl Shaper {
    /// Attaches the data plane and recovers the live plan.
    ///
    /// When the kernel's tree is the saved plan's (and no apply was cut short), it is adopted
    /// whatever happened to the maps: pins lost with a private bpffs leave fresh, empty maps,
    /// which are refilled from the saved plan *before* the programs attach, so no packet is
    /// ever classified against an empty IP map and no class is rebuilt.
    pub fn start(config: &Config) -> Result<Self, DataplaneError> {
        let shaped = dataplane::shaped_interfaces(config)?;
        let mut state = StateDir::new(&config.state_directory);
        let mut startup_issues = Vec::new();
        if let Some(why) = dataplane::pins_die_with_lqosd(&config.lqosd.bpf_pin_dir) {
            warn!("{why}");
            startup_issues.push(issue("pins_not_persistent", IssueSeverity::Warning, why));
        }
        // A saved plan that cannot be read still describes what is live: the kernel (and its
        // IP map) keeps shaping until the next plan replaces everything.
        let mut unreadable = false;
        let saved = state.load().unwrap_or_else(|e| {
            let why = format!(
                "ignoring the saved plan ({}): the kernel is left as it is and the next plan is built from scratch",
                crate::state::with_causes(&e)
            );
            error!("{why}");
            startup_issues.push(issue("saved_plan_unreadable", IssueSeverity::Error, why));
            unreadable = true;
            None
        });
        let queues = saved.as_ref().map_or(1, |s| s.plan.queues.max(1));
        let mut dataplane = Dataplane::load(config, shaped.clone(), queues)?;
        let interrupted = state.was_applying();
        let mut lazy = Lazy::new(config.queues.lazy);
        // With lazy queues the kernel holds the saved plan materialised for the circuits that
        // were built; without, the saved plan itself.
        let lazy_kernel = match (&mut lazy, &saved) {
            (Some(l), Some(s)) => Some(adopt::adoptable_lazy_tree(l, &state, &s.plan)),
            _ => None,
        };
        let expected = lazy_kernel.as_ref().or(saved.as_ref().map(|s| &s.plan));
        let mut live_tree = expected
            .filter(|_| !interrupted)
            .and_then(adopt::kernel_tree);
        let mut adopt = live_tree.is_some();
        match (expected, dataplane.maps_reused) {
            (Some(expected), false) if adopt => {
                // The tree outlived the pins: give the fresh IP map the saved plan's entries.
                match dataplane.upsert_mappings(&expected.mappings) {
                    Ok(()) => warn!(
                        prefixes = expected.mappings.len(),
                        "the pinned maps were gone but the live tree matches the saved plan: \
                         IP map refilled before attaching, nothing rebuilt"
                    ),
                    Err(e) => {
                        error!(error = %e, "cannot refill the IP map; rebuilding the saved plan");
                        adopt = false;
                    }
                }
            }
            // The pinned IP map holds the previous lqosd's circuit indexes: give every circuit
            // one of this process's (an overwrite per prefix, hitless) so that the telemetry
            // reader knows whose RTT histogram each index is.
            (Some(expected), true) if adopt => {
                let started = std::time::Instant::now();
                if let Err(e) = dataplane.upsert_mappings(&expected.mappings) {
                    error!(error = %e, "cannot renumber the adopted circuits; rebuilding the saved plan");
                    adopt = false;
                } else {
                    info!(prefixes = expected.mappings.len(), took = ?started.elapsed(), "circuit indexes of the adopted plan written");
                }
            }
            // Entries of a plan nobody remembers: start clean.
            (None, true) if !unreadable => match dataplane.clear_ip_map() {
                Ok(n) if n > 0 => {
                    warn!(entries = n, "cleared a pinned IP map without a saved plan")
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cannot clear the pinned IP map"),
            },
            _ => {}
        }
        for why in dataplane.attach(config.lqosd.xdp_mode)? {
            startup_issues.push(issue("xdp_generic", IssueSeverity::Warning, why));
        }
        let mut shaper = Shaper {
            live: Live::new(0, empty_plan()),
            needs_rebuild: unreadable,
            handles: LeafHandles::default(),
            ip_map_capacity: config.lqosd.ip_map_capacity,
            state,
            shaped,
            dataplane,
            startup_issues,
            lazy,
        };
        let Some(saved) = saved else {
            return Ok(shaper);
        };
        let problems = shaper.check(&saved.plan);
        if !problems.is_empty() {
            let message = "the saved plan does not fit this machine; some circuits may pass unshaped until the next refresh";
            error!(problems = ?problems, "{message}");
            shaper.startup_issues.push(lqos_bus::UrgentIssue {
                context: problems.join("\n"),
                ..issue("saved_plan_unfit", IssueSeverity::Error, message.to_owned())
            });
        }
        if adopt {
            info!(
                generation = saved.generation,
                circuits = circuits(&saved.plan),
                "adopted the live plan left by the previous lqosd: nothing re-applied"
            );
            shaper.dataplane.set_xps(&saved.plan);
            if let (Some(l), Some(k)) = (&mut shaper.lazy, lazy_kernel) {
                info!(
                    built = l.built_count(),
                    "lazy queues: adopted the built circuits"
                );
                l.set_kernel(k, true);
            }
            shaper.handles = live_tree.take().unwrap_or_default();
            shaper.live = saved;
        } else {
            info!(
                generation = saved.generation,
                interrupted, "rebuilding the saved plan"
            );
            shaper.needs_rebuild = true;
            if let Some(l) = &mut shaper.lazy {
                // After a reboot nothing is active yet: traffic builds circuits again.
                l.forget();
            }
            match shaper
                .apply_plan(saved.generation, saved.hashes, saved.plan, (None, None))
                .0
            {
                Outcome::Applied(s) => info!(?s, "saved plan rebuilt"),
                other => error!(
                    ?other,
                    "cannot rebuild the saved plan; waiting for the scheduler"
                ),
            }
        }
        Ok(shaper)
    }

    /// What lqosd found at start that the operator must know (raised as urgent issues).
    pub fn take_startup_issues(&mut self) -> Vec<lqos_bus::UrgentIssue> {
        std::mem::take(&mut self.startup_issues)
    }

    /// Handles a plan from the bus.
    pub fn submit(&mut self, generation: u64, plan: QueuePlan) -> Outcome {
        let hashes = PlanHashes::of(&plan);
        if self.unchanged(generation, hashes.plan()) {
            return Outcome::Unchanged(self.live.generation);
        }
        let checking = std::time::Instant::now();
        let problems = self.check(&plan);
        debug!(
            check_ms = checking.elapsed().as_secs_f64() * 1e3,
            "plan checked"
        );
        self.submit_checked(generation, hashes, plan, (None, None), problems)
            .0
    }

    /// Handles a delta from the bus: the plan it makes of the live one goes the way of
    /// [`Shaper::submit`]; a delta against another base is refused untouched.
    pub fn submit_delta(&mut self, generation: u64, delta: &lqos_plan::PlanDelta) -> Outcome {
        let started = std::time::Instant::now();
        // With lazy queues the kernel's plan is kept apart from the live one, which can then
        // be patched where it lies. The checks run while the result's hash is computed.
        let (shaped, cpumap_entries) = (&self.shaped, self.dataplane.cpumap_entries);
        let patched = crate::apply::patch_live(&mut self.live, delta, self.lazy.is_some(), |p| {
            crate::plan_check::problems(shaped, cpumap_entries, p)
        });
        match patched {
            Ok(p) => {
                debug!(
                    patch_ms = started.elapsed().as_secs_f64() * 1e3,
                    in_place = p.way_back.in_place(),
                    "delta patched onto the live plan and checked"
                );
                let replaced = p.way_back.replaced();
                let (outcome, unapplied) = self.submit_checked(
                    generation,
                    p.hashes,
                    p.plan,
                    (Some(delta), replaced),
                    p.beside,
                );
                if let Some(plan) = unapplied {
                    p.way_back.give_back(plan, &mut self.live);
                }
                outcome
            }
            Err(why) => {
                info!(live = self.live.generation, "{why}");
                Outcome::Rejected(vec![why])
            }
        }
    }

    /// A plan already the live one, or older than it, is not applied again (unless the
    /// kernel's tree must be rebuilt).
    fn unchanged(&self, generation: u64, hash: u64) -> bool {
        !self.needs_rebuild && (hash == self.live.hash() || generation <= self.live.generation)
    }

    /// `problems`: what [`Shaper::check`] found in `plan`. The plan comes back when it is not
    /// applied.
    fn submit_checked(
        &mut self,
        generation: u64,
        hashes: PlanHashes,
        plan: QueuePlan,
        came: Came,
        problems: Vec<String>,
    ) -> (Outcome, Option<QueuePlan>) {
        if self.unchanged(generation, hashes.plan()) {
            return (Outcome::Unchanged(self.live.generation), Some(plan));
        }
        if !problems.is_empty() {
            return (Outcome::Rejected(problems), Some(plan));
        }
        self.apply_plan(generation, hashes, plan, came)
    }

    /// Stages, applies and saves `plan`; it comes back when it is not applied.
    fn apply_plan(
        &mut self,
        generation: u64,
        hashes: PlanHashes,
        plan: QueuePlan,
        came: Came,
    ) -> (Outcome, Option<QueuePlan>) {
        let state_err = |e: crate::state::StateError| {
            let why = crate::state::with_causes(&e);
            error!(error = %why, "cannot save the plan in state_directory: refused, the previous plan stays live");
            Outcome::Rejected(vec![format!("{why}: lqosd refuses a plan it could not recover after a restart; the previous plan stays live")])
        };
        let staging = std::time::Instant::now();
        let (delta, replaced) = came;
        if let Err(e) = self.state.stage((generation, hashes.plan()), &plan, delta) {
            return (state_err(e), Some(plan));
        }
        if let Err(e) = self.state.mark_applying() {
            self.state.discard();
            return (state_err(e), Some(plan));
        }
        if self.needs_rebuild {
            if let Err(e) = self.dataplane.clear_ip_map() {
                return (Outcome::Rejected(vec![e.to_string()]), Some(plan));
            }
        }
        let started = std::time::Instant::now();
        // With lazy queues, a delta that only re-rated classes changes only their HTBs' part of
        // the kernel's plan.
        let rerated = match (&self.lazy, self.needs_rebuild, replaced) {
            (Some(l), false, Some(r)) => l.rematerialise(&plan, r),
            _ => None,
        };
        let only_rerated = rerated.is_some();
        let result = match (rerated, &mut self.lazy) {
            (Some(change), Some(l)) => {
                let result = apply(
                    &mut self.dataplane,
                    &change.before,
                    &change.after,
                    None,
                    self.ip_map_capacity,
                    &mut self.handles,
                );
                if result.is_ok() {
                    change.apply_to(&mut l.kernel);
                }
                result
            }
            _ => self.apply_whole(&plan, delta),
        };
        match result {
            Ok(summary) => {
                if let Err(e) = self.dataplane.write_config(plan.queues) {
                    error!(error = %e, "cannot update the data-plane config");
                }
                self.dataplane.set_xps(&plan);
                self.live = Live {
                    generation,
                    hashes,
                    plan,
                };
                self.needs_rebuild = false;
                self.save_built();
                let applied = started.elapsed();
                match self.state.commit() {
                    Ok(()) => self.state.clear_applying(),
                    Err(e) => {
                        error!(error = %crate::state::with_causes(&e), "plan applied but not saved: a restart rebuilds it")
                    }
                }
                debug!(
                    stage_ms = (started - staging).as_secs_f64() * 1e3,
                    apply_ms = applied.as_millis() as u64,
                    save_ms = (started.elapsed() - applied).as_millis() as u64,
                    only_rerated,
                    "plan live and saved"
                );
                (Outcome::Applied(summary), None)
            }
            Err(
                e @ (ApplyError::MapTooSmall { .. }
                | ApplyError::NoHandle(_)
                | ApplyError::RolledBack { .. }),
            ) => {
                self.state.discard();
                self.state.clear_applying();
                (Outcome::Rejected(vec![e.to_string()]), Some(plan))
            }
            Err(e @ ApplyError::Inconsistent { .. }) => {
                self.state.discard();
                error!(error = %e, "the kernel matches neither plan; the next plan is built from scratch");
                self.needs_rebuild = true;
                (Outcome::Rejected(vec![e.to_string()]), Some(plan))
            }
        }
    }

    /// Applies `plan` over what the kernel holds: the live plan, or with lazy queues the live
    /// plan materialised for the built circuits. On failure the kernel's plan stays as it was.
    /// `delta`: what `plan` came as, a patch of the live plan.
    fn apply_whole(
        &mut self,
        plan: &QueuePlan,
        delta: Option<&lqos_plan::PlanDelta>,
    ) -> Result<ApplySummary, ApplyError> {
        let kernel_now = match (&mut self.lazy, self.needs_rebuild) {
            (_, true) => empty_plan(),
            (Some(l), false) => std::mem::replace(&mut l.kernel, empty_plan()),
            (None, false) => std::mem::replace(&mut self.live.plan, empty_plan()),
        };
        // Built circuits the plan no longer has are simply not materialised.
        let lazy_target = self.lazy.as_ref().map(|l| l.realise(plan));
        // The delta relates the live plan and `plan`, not what the kernel holds otherwise.
        let made_by = delta.filter(|_| lazy_target.is_none() && !self.needs_rebuild);
        let result = apply(
            &mut self.dataplane,
            &kernel_now,
            lazy_target.as_ref().unwrap_or(plan),
            made_by,
            self.ip_map_capacity,
            &mut self.handles,
        );
        match (&mut self.lazy, lazy_target, result.is_ok()) {
            (Some(l), Some(target), true) => {
                l.set_kernel(target, true);
                l.prune(plan);
            }
            (Some(l), _, false) => l.kernel = kernel_now,
            (None, _, false) => self.live.plan = kernel_now,
            _ => {}
        }
        result
    }

    /// What lqosd refuses in `plan` before touching the kernel ([`crate::plan_check`]).
    fn check(&self, plan: &QueuePlan) -> Vec<String> {
        crate::plan_check::problems(&self.shaped, self.dataplane.cpumap_entries, plan)
    }

    /// The live plan.
    pub fn plan(&self) -> &QueuePlan {
        &self.live.plan
    }

    /// Which circuit owns each RTT histogram index (the telemetry reader's view of it).
    pub fn circuit_index(&self) -> Arc<std::sync::Mutex<crate::circuit_index::CircuitIndex>> {
        self.dataplane.circuits.clone()
    }

    /// The shaped interfaces (name -> ifindex, for the queue statistics).
    pub fn shaped(&self) -> &crate::dataplane::Shaped {
        &self.shaped
    }

    /// The live plan's mappings.
    pub fn mappings(&self) -> &[lqos_plan::IpMapping] {
        &self.live.plan.mappings
    }

    pub fn status(&self, uptime_secs: u64) -> StatusReport {
        let p = &self.live.plan;
        StatusReport {
            applied_generation: (self.live.generation > 0).then_some(self.live.generation),
            plan_hash: (self.live.generation > 0).then(|| format!("{:016x}", self.live.hash())),
            circuits: circuits(p) as u64,
            mapped_ips: p.mappings.len() as u64,
            // What the kernel holds (fewer classes than the plan with lazy queues).
            classes_per_queue: self
                .lazy
                .as_ref()
                .map_or(p, |l| &l.kernel)
                .interfaces
                .iter()
                .flat_map(|i| {
                    i.htbs.iter().map(move |q| QueueClasses {
                        interface: i.name.clone(),
                        major: q.major,
                        classes: q.classes.len() as u64,
                    })
                })
                .collect(),
            uptime_secs,
            lazy: self.lazy.as_ref().map(Lazy::status),
        }
    }

    /// The live plan by CPU queue (for the WebUI).
    pub fn queue_layout(&self) -> crate::queue_layout::QueueLayout {
        crate::queue_layout::QueueLayout::of(&self.live.plan)
    }
}

/// An urgent issue raised by lqosd itself.
fn issue(code: &str, severity: IssueSeverity, message: String) -> lqos_bus::UrgentIssue {
    lqos_bus::UrgentIssue {
        source: "lqosd".into(),
        severity,
        code: code.into(),
        message,
        context: String::new(),
    }
}

/// Circuits in a plan: one download class each (a count, no set of ids to build).
fn circuits(p: &QueuePlan) -> usize {
    p.interfaces
        .iter()
        .flat_map(|i| &i.htbs)
        .filter(|q| q.direction == lqos_plan::Direction::Download)
        .flat_map(|q| &q.classes)
        .filter(|c| matches!(c.owner, lqos_plan::ClassOwner::Circuit(_)))
        .count()
}
