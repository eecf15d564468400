//! Applying plans: diff the submitted plan against the live one, run only the difference, and
//! undo it step by step when the kernel refuses part of it, so the shaper is always either on
//! the previous plan or entirely on the new one.
//!
//! Everything here is logic over the [`Kernel`] seam: unit tests run it against a model of HTB
//! ([`fake`]); lqosd runs it against `tc` and the eBPF IP map ([`crate::dataplane`]).

#[cfg(test)]
mod fake;
mod handles;

pub use handles::{LeafHandles, NoHandle};
#[cfg(test)]
mod tests;

use ipnet::IpNet;
use lqos_bus::ApplySummary;
use lqos_plan::{
    diff, diff_patched, rollback, steps, IpMapping, PlanDelta, PlanHashes, QueuePlan, TcOp,
};
use std::collections::HashMap;
use std::time::Instant;
use tracing::{info, warn};

/// The kernel as the applier sees it.
pub trait Kernel {
    /// Runs `ops` in order and stops at the first that fails.
    fn run_tc(&mut self, ops: &[TcOp]) -> Result<(), TcFailure>;
    /// Inserts or overwrites these prefixes in the IP map.
    fn upsert_mappings(&mut self, mappings: &[IpMapping]) -> Result<(), MapFailure>;
    /// Deletes these prefixes from the IP map (absent ones are not an error).
    fn remove_mappings(&mut self, prefixes: &[IpNet]) -> Result<(), MapFailure>;
}

/// `tc` refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tc refused `{op}`: {message}")]
pub struct TcFailure {
    /// Index of the failed operation in the slice given to [`Kernel::run_tc`]; the ones before
    /// it took effect, the ones after it were not run.
    pub index: usize,
    /// The operation as a `tc` command line.
    pub op: String,
    /// What tc said.
    pub message: String,
}

/// The IP map refused an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IP map update of {prefix} failed: {message}")]
pub struct MapFailure {
    pub prefix: IpNet,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    NoHandle(#[from] NoHandle),
    #[error("the plan needs {needed} IP map entries but the map holds {capacity} ([lqosd] ip_map_capacity)")]
    MapTooSmall { needed: usize, capacity: u32 },
    #[error("{cause}; the previous plan was restored")]
    RolledBack {
        #[source]
        cause: ApplyFailure,
    },
    #[error("{cause}; restoring the previous plan also failed ({restore}): the shaper is inconsistent until the next successful apply")]
    Inconsistent {
        #[source]
        cause: ApplyFailure,
        restore: ApplyFailure,
    },
}

/// What went wrong in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyFailure {
    #[error(transparent)]
    Tc(#[from] TcFailure),
    #[error(transparent)]
    Map(#[from] MapFailure),
}

/// The plan that is live, and who submitted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub generation: u64,
    /// `plan`'s hashes (a delta's result is hashed again by the lists it changed only).
    pub hashes: PlanHashes,
    pub plan: QueuePlan,
}

impl Live {
    pub fn new(generation: u64, plan: QueuePlan) -> Self {
        Self {
            generation,
            hashes: PlanHashes::of(&plan),
            plan,
        }
    }

    /// [`plan_hash`] of the plan.
    pub fn hash(&self) -> u64 {
        self.hashes.plan()
    }
}

pub use lqos_plan::plan_hash;

/// What [`patch_live`] made of the live plan.
pub struct Patched<R> {
    pub plan: QueuePlan,
    pub hashes: PlanHashes,
    /// What `beside` returned.
    pub beside: R,
    pub way_back: WayBack,
}

/// How to make the live plan whole again when a patched plan is not applied: a patch in place
/// left the live plan empty and holds what it replaced.
#[must_use = "a plan patched in place must be given back when it is not applied"]
pub struct WayBack(Option<lqos_plan::Replaced>);

impl WayBack {
    /// The plan was patched where it lay.
    pub fn in_place(&self) -> bool {
        self.0.is_some()
    }

    /// What the patch in place replaced.
    pub fn replaced(&self) -> Option<&lqos_plan::Replaced> {
        self.0.as_ref()
    }

    /// Puts `plan`, the patched plan given back unapplied, back into `live` as the base.
    pub fn give_back(self, mut plan: QueuePlan, live: &mut Live) {
        if let Some(replaced) = self.0 {
            replaced.restore(&mut plan);
            live.plan = plan;
        }
    }
}

/// The plan `delta` makes of the live one, with its hash; refused (nothing is touched) when
/// the live plan is not the delta's base or the delta does not rebuild the plan it promises.
/// The message starts with [`lqos_bus::BASE_MISMATCH`]: the scheduler then sends the full plan.
///
/// `in_place`: the live plan is not needed beside the result (with lazy queues the kernel's
/// plan is kept apart), so a delta that changes one stretch of each list patches it where it
/// lies instead of copying it (at 100k circuits, 500k classes and mappings).
///
/// `beside` runs on this thread with the new plan while its hash is checked on another (by
/// the lists the delta changed only: the others keep the live plan's hashes); its result comes
/// back with the plan (lqosd's checks go there).
pub fn patch_live<R>(
    live: &mut Live,
    delta: &PlanDelta,
    in_place: bool,
    beside: impl FnOnce(&QueuePlan) -> R,
) -> Result<Patched<R>, String> {
    let refused =
        |e: lqos_plan::DeltaError| format!("{}: {e}; send the full plan", lqos_bus::BASE_MISMATCH);
    delta
        .check_base(live.generation, live.hash())
        .map_err(refused)?;
    let replaced = in_place
        .then(|| delta.patch_in_place(&mut live.plan))
        .flatten();
    let plan = match replaced {
        Some(_) => std::mem::replace(&mut live.plan, empty_plan()),
        None => delta.patch_unverified(&live.plan).map_err(refused)?,
    };
    let (hash, beside) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| delta.verify(&plan, &live.hashes));
        let beside = beside(&plan);
        // A hashing thread that panicked: hash here.
        (
            hashing
                .join()
                .unwrap_or_else(|_| delta.verify(&plan, &live.hashes)),
            beside,
        )
    });
    match hash {
        Ok(hashes) => Ok(Patched {
            plan,
            hashes,
            beside,
            way_back: WayBack(replaced),
        }),
        Err(e) => {
            WayBack(replaced).give_back(plan, live);
            Err(refused(e))
        }
    }
}

/// What in `plan` would not stay within its `tc -batch` lines ([`lqos_plan::is_batch_text`]):
/// lqosd refuses such a plan from the bus, since a newline in a leaf spec would have `tc` run
/// a command of the sender's choosing as root.
pub fn unsafe_text(plan: &QueuePlan) -> Vec<String> {
    let mut problems = Vec::new();
    for iface in &plan.interfaces {
        if !lqos_plan::is_batch_text(&iface.name) {
            problems.push(format!("interface name {:?}: not a tc word", iface.name));
        }
        let leaves = iface.htbs.iter().flat_map(|q| &q.classes).filter_map(|c| {
            let leaf = c.leaf.as_deref()?;
            (!lqos_plan::is_batch_text(leaf)).then_some((c.id, leaf))
        });
        for (class, leaf) in leaves {
            problems.push(format!(
                "{} class {class}: leaf qdisc {leaf:?} holds characters tc would not take as \
                 part of one command (letters, digits, spaces and _.:/-+% only)",
                iface.name
            ));
        }
    }
    problems
}

/// An empty plan: nothing shaped.
pub fn empty_plan() -> QueuePlan {
    QueuePlan {
        queues: 0,
        interfaces: Vec::new(),
        mappings: Vec::new(),
    }
}

/// Applies `new` over `old` (what the kernel holds now). On failure the kernel is put back
/// on `old`, and the error says whether that worked. `handles` holds the live leaf qdisc
/// handles and is kept in step with the kernel. `made_by`: the delta whose (hash-checked)
/// patch of `old` is `new`, if one is: the diff then skips what it copied in place.
pub fn apply(
    kernel: &mut dyn Kernel,
    old: &QueuePlan,
    new: &QueuePlan,
    made_by: Option<&PlanDelta>,
    ip_map_capacity: u32,
    handles: &mut LeafHandles,
) -> Result<ApplySummary, ApplyError> {
    if new.mappings.len() > ip_map_capacity as usize {
        return Err(ApplyError::MapTooSmall {
            needed: new.mappings.len(),
            capacity: ip_map_capacity,
        });
    }
    let started = Instant::now();
    let d = match made_by {
        Some(delta) => diff_patched(old, new, delta),
        None => diff(old, new),
    };
    let plan_steps = steps(&d, old);
    let mut after = handles.clone();
    let ops = plan_steps
        .iter()
        .flat_map(|s| &s.forward)
        .map(|op| after.annotate(op))
        .collect::<Result<Vec<TcOp>, NoHandle>>()?;
    let planned = started.elapsed();
    // Only prefixes that change need their old mapping (to count moves and to undo).
    let old_maps: HashMap<IpNet, &IpMapping> =
        if d.upsert_mappings.is_empty() && d.remove_mappings.is_empty() {
            HashMap::new()
        } else {
            old.mappings.iter().map(|m| (m.prefix, m)).collect()
        };

    // Prefixes that go are unmapped first (they pass unshaped from now on); then the classes
    // change; then prefixes point at their (now existing) new classes.
    let mut undo = Undo {
        removed: &d.remove_mappings,
        upserted: &[],
        old_maps: &old_maps,
        tc_done: 0,
    };
    let mut result = kernel
        .remove_mappings(&d.remove_mappings)
        .map_err(ApplyFailure::from);
    if result.is_ok() {
        result = match kernel.run_tc(&ops) {
            Ok(()) => {
                undo.tc_done = ops.len();
                *handles = after;
                Ok(())
            }
            Err(f) => {
                undo.tc_done = f.index;
                for op in &ops[..f.index] {
                    handles.record(op);
                }
                Err(f.into())
            }
        };
    }
    if result.is_ok() {
        undo.upserted = &d.upsert_mappings;
        result = kernel
            .upsert_mappings(&d.upsert_mappings)
            .map_err(ApplyFailure::from);
    }
    if let Err(cause) = result {
        warn!(error = %cause, "apply failed; restoring the previous plan");
        return match undo.run(kernel, &plan_steps, handles) {
            Ok(()) => Err(ApplyError::RolledBack { cause }),
            Err(restore) => Err(ApplyError::Inconsistent { cause, restore }),
        };
    }
    let moved = d
        .upsert_mappings
        .iter()
        .filter(|m| old_maps.contains_key(&m.prefix))
        .count();
    let summary = ApplySummary {
        classes_added: count(&ops, |o| matches!(o, TcOp::AddClass { .. })),
        classes_changed: count(&ops, |o| {
            matches!(
                o,
                TcOp::ChangeClass { .. } | TcOp::ReplaceLeaf { .. } | TcOp::DelLeaf { .. }
            )
        }),
        classes_removed: d.remove_classes.len() as u64,
        mappings_added: (d.upsert_mappings.len() - moved) as u64,
        mappings_changed: moved as u64,
        mappings_removed: d.remove_mappings.len() as u64,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    info!(
        ?summary,
        tc_ops = ops.len(),
        diff_ms = planned.as_secs_f64() * 1e3,
        "plan applied"
    );
    Ok(summary)
}

fn count(ops: &[TcOp], f: impl Fn(&TcOp) -> bool) -> u64 {
    ops.iter().filter(|o| f(o)).count() as u64
}

/// What an apply did so far, to undo it.
struct Undo<'a> {
    removed: &'a [IpNet],
    upserted: &'a [IpMapping],
    old_maps: &'a HashMap<IpNet, &'a IpMapping>,
    /// Forward tc operations that took effect (a step cut after its first op is undone whole).
    tc_done: usize,
}

impl Undo<'_> {
    /// Mappings first back to their old classes (which still exist until the tc rollback,
    /// or exist again after it), then the tc steps in reverse, then removed prefixes back.
    fn run(
        &self,
        kernel: &mut dyn Kernel,
        plan_steps: &[lqos_plan::Step],
        handles: &mut LeafHandles,
    ) -> Result<(), ApplyFailure> {
        let (restore, drop): (Vec<IpMapping>, Vec<IpNet>) =
            self.upserted
                .iter()
                .fold((Vec::new(), Vec::new()), |(mut restore, mut drop), m| {
                    match self.old_maps.get(&m.prefix) {
                        Some(old) => restore.push((*old).clone()),
                        None => drop.push(m.prefix),
                    }
                    (restore, drop)
                });
        kernel.remove_mappings(&drop)?;
        // Leaves put back get fresh handles. Should this fail, the next apply rebuilds
        // everything (ClearRoot resets the handles), so `handles` may run ahead of the kernel.
        let back_ops = rollback(plan_steps, self.tc_done)
            .iter()
            .map(|op| handles.annotate(op))
            .collect::<Result<Vec<TcOp>, NoHandle>>()
            .map_err(|e| TcFailure {
                index: 0,
                op: String::new(),
                message: e.to_string(),
            })?;
        kernel.run_tc(&back_ops)?;
        kernel.upsert_mappings(&restore)?;
        let back: Vec<IpMapping> = self
            .removed
            .iter()
            .filter_map(|p| self.old_maps.get(p).map(|m| (*m).clone()))
            .collect();
        kernel.upsert_mappings(&back)?;
        Ok(())
    }
}
