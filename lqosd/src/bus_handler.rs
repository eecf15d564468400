//! lqosd's side of the bus: answers pings and status, applies submitted plans one at a time on
//! a blocking thread (an apply runs tc and map syscalls for up to seconds).

use crate::fence::{FenceCheck, FenceStore};
use crate::prefix_index::PrefixIndex;
use crate::shaper::{Outcome, Shaper};
use crate::shared::Shared;
use crate::throughput;
use lqos_bus::{Handler, Request, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct BusHandler {
    shaper: Arc<Mutex<Shaper>>,
    /// Reports, prefixes and counters: served without the shaper's lock, during applies too.
    pub shared: Arc<Shared>,
    /// Milliseconds since `shared.started` at which the running apply began; 0 when none runs.
    applying_since: Arc<AtomicU64>,
    /// The last applied fleet fence (docs/fleet.md).
    pub fences: Arc<Mutex<FenceStore>>,
    /// Work that follows an applied plan (the address index, the telemetry's and the
    /// WebUI's views of it), started once the answer is written: on two cores it would
    /// otherwise delay the answer by milliseconds.
    after_answer: Arc<Mutex<Vec<AfterAnswer>>>,
}

type AfterAnswer = Box<dyn FnOnce() + Send>;

impl BusHandler {
    pub fn new(
        mut shaper: Shaper,
        state_directory: &std::path::Path,
        telemetry: Arc<crate::telemetry::TelemetryHub>,
    ) -> Self {
        telemetry.plan_applied(shaper.plan());
        let shared = Shared::new(PrefixIndex::new(shaper.mappings()), shaper.status(0))
            .with_telemetry(telemetry);
        for issue in shaper.take_startup_issues() {
            shared.reports().raise(issue);
        }
        let (fences, warning) = FenceStore::open(state_directory);
        if let Some(why) = warning {
            tracing::warn!("{why}");
            shared.reports().raise(lqos_bus::UrgentIssue {
                source: "lqosd".into(),
                severity: lqos_bus::IssueSeverity::Warning,
                code: "fence_unreadable".into(),
                message: format!("{why}: the next fleet plan is accepted whatever its fence"),
                context: String::new(),
            });
        }
        // The live plan by CPU queue, for the WebUI's CPU pages.
        shared.set_layout(shaper.queue_layout());
        Self {
            shaper: Arc::new(Mutex::new(shaper)),
            shared: Arc::new(shared),
            applying_since: Arc::new(AtomicU64::new(0)),
            fences: Arc::new(Mutex::new(fences)),
            after_answer: Arc::default(),
        }
    }

    /// How long the running apply has taken so far, if one runs (for the watchdog).
    pub fn applying_for(&self) -> Option<Duration> {
        match self.applying_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(
                self.shared
                    .started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(since)),
            ),
        }
    }

    /// Lazy queues' threshold, when they are on.
    pub fn lazy_threshold(&self) -> Option<u64> {
        self.shaper
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lazy_threshold()
    }

    /// Lazy queues, forever: after every counter sample, the circuits whose hosts carried more
    /// than `threshold` bytes get their queue built, and idle ones collapse.
    pub async fn drive_lazy_queues(self: Arc<Self>, threshold: u64) {
        let mut samples = self.shared.subscribe_samples();
        while samples.changed().await.is_ok() {
            let sample = self.shared.sample();
            let index = self.shared.index();
            let secs = sample.interval_ms as f64 / 1e3;
            let mut active: Vec<Arc<str>> = sample
                .hosts
                .iter()
                .filter(|(_, d, u)| ((d + u) as f64 * secs / 8.0) as u64 > threshold)
                .filter_map(|(addr, _, _)| index.lookup(*addr).map(|m| m.circuit_id.clone()))
                .collect();
            active.sort_unstable();
            active.dedup();
            let (shaper, shared) = (self.shaper.clone(), self.shared.clone());
            let uptime = shared.uptime_secs();
            let pass = tokio::task::spawn_blocking(move || {
                let mut shaper = shaper.lock().unwrap_or_else(|p| p.into_inner());
                let change = shaper.observe(&active, std::time::Instant::now());
                if change.is_some() {
                    shared.lazy_changed(shaper.status(uptime));
                }
                change
            })
            .await;
            match pass {
                Ok(Some(Ok(c))) => tracing::info!(
                    built = c.built,
                    collapsed = c.collapsed,
                    ms = c.duration.as_secs_f64() * 1e3,
                    "lazy queues: circuits built and collapsed"
                ),
                Ok(Some(Err(e))) => {
                    tracing::error!(error = %e, "lazy queues: the change was refused; the previous tree stays")
                }
                Ok(None) => {}
                Err(e) => return tracing::error!(error = %e, "lazy queues stopped"),
            }
        }
    }

    /// One line for systemd's `STATUS=`.
    pub fn status_line(&self) -> String {
        let s = &self.shared.applied().status;
        match s.applied_generation {
            Some(g) => format!(
                "shaping {} circuits, {} prefixes (generation {g})",
                s.circuits, s.mapped_ips
            ),
            None => "attached; waiting for the first plan".to_owned(),
        }
    }
}

/// Milliseconds since lqosd started, at least 1 (0 means "no apply runs").
fn since(shared: &Shared) -> u64 {
    (shared.started.elapsed().as_millis() as u64).max(1)
}

impl Handler for BusHandler {
    fn answered(&self) {
        let due = std::mem::take(&mut *self.after_answer.lock().unwrap_or_else(|p| p.into_inner()));
        for work in due {
            tokio::task::spawn_blocking(work);
        }
    }

    async fn handle(&self, request: Request) -> Response {
        // Reports and issues: quick, and never behind an apply.
        let shared = &self.shared;
        let reports = || shared.reports();
        let request = match request {
            // Answered without the shaper: the watchdog pings through the bus during applies.
            Request::Ping => {
                return Response::Pong {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                }
            }
            Request::SchedulerReport(r) => {
                reports().scheduler_report(r);
                return Response::Ack;
            }
            Request::SchedulerStatus => return Response::Scheduler(reports().scheduler()),
            Request::RaiseIssue(issue) => {
                tracing::warn!(source = %issue.source, code = %issue.code, "urgent issue: {}", issue.message);
                reports().raise(issue);
                return Response::Ack;
            }
            Request::ListIssues => return Response::Issues(reports().list()),
            Request::AckIssue { id } => {
                return if reports().ack(id) {
                    Response::Ack
                } else {
                    Response::Error {
                        message: format!("no urgent issue {id}"),
                    }
                };
            }
            Request::LookupIp { addr } => {
                return Response::IpLookup(shared.index().lookup(addr).map(|m| {
                    lqos_bus::IpLookup {
                        prefix: m.prefix.to_string(),
                        circuit_id: m.circuit_id.to_string(),
                        cpu: m.cpu,
                        download: m.download,
                        upload: m.upload,
                    }
                }));
            }
            Request::Throughput { top } => {
                return Response::Throughput(throughput::report(
                    &shared.sample(),
                    &shared.index(),
                    usize::from(top),
                ));
            }
            Request::CircuitRate { circuit_id } => {
                return Response::CircuitRate(throughput::circuit_rate(
                    &shared.sample(),
                    &shared.index(),
                    &circuit_id,
                ));
            }
            Request::QueueLoad => {
                return Response::QueueLoad(throughput::queue_load(
                    &shared.sample(),
                    &shared.index(),
                ));
            }
            Request::Circuit { circuit_id } => {
                let index = shared.index();
                let prefixes = index.prefixes_of(&circuit_id);
                let rate = throughput::circuit_rate(&shared.sample(), &index, &circuit_id)
                    .map(|r| (r.down_bps, r.up_bps));
                return Response::Circuit(
                    shared
                        .telemetry
                        .circuit_report(&circuit_id, rate, prefixes)
                        .map(Box::new),
                );
            }
            Request::Flows { circuit_id, limit } => {
                return match shared
                    .telemetry
                    .flows(circuit_id.as_deref(), limit as usize)
                {
                    Some(report) => Response::Flows(report),
                    None => Response::Error {
                        message: format!(
                            "no circuit {} with flows in the live plan",
                            circuit_id.unwrap_or_default()
                        ),
                    },
                };
            }
            other => other,
        };
        let (shaper, locked) = (self.shaper.clone(), self.shaper.clone());
        let uptime = self.shared.uptime_secs();
        let (applying, shared) = (self.applying_since.clone(), self.shared.clone());
        let (fences, after_answer) = (self.fences.clone(), self.after_answer.clone());
        let answer = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            // A panic in an earlier apply poisoned the lock; the shaper's state is still the
            // last consistent one (applies restore it before returning), so go on.
            let mut shaper = shaper.lock().unwrap_or_else(|p| p.into_inner());
            let locked_at = started.elapsed();
            let (generation, outcome) = match request {
                Request::Status => return Response::Status(shaper.status(uptime)),
                Request::SubmitPlan { generation, plan } => {
                    applying.store(since(&shared), Ordering::Relaxed);
                    (generation, shaper.submit(generation, plan))
                }
                Request::SubmitFencedPlan {
                    generation,
                    plan,
                    fence,
                } => {
                    let mut fences = fences.lock().unwrap_or_else(|p| p.into_inner());
                    let outcome = submit_fenced(&mut fences, fence, &mut shaper, uptime, |s| {
                        applying.store(since(&shared), Ordering::Relaxed);
                        s.submit(generation, plan)
                    });
                    (generation, outcome)
                }
                Request::SubmitDelta { generation, delta } => {
                    applying.store(since(&shared), Ordering::Relaxed);
                    (generation, shaper.submit_delta(generation, &delta))
                }
                // Answered above, without the shaper.
                Request::Ping
                | Request::SchedulerReport(_)
                | Request::SchedulerStatus
                | Request::RaiseIssue(_)
                | Request::ListIssues
                | Request::AckIssue { .. }
                | Request::LookupIp { .. }
                | Request::Throughput { .. }
                | Request::CircuitRate { .. }
                | Request::QueueLoad
                | Request::Circuit { .. }
                | Request::Flows { .. } => {
                    return Response::Error {
                        message: "internal: misrouted request".into(),
                    }
                }
            };
            applying.store(0, Ordering::Relaxed);
            let s = shaper.status(uptime);
            if let Outcome::Applied(summary) = &outcome {
                // The address index (70 ms at 100k circuits) is rebuilt after the answer, under
                // the shaper's lock, so it always indexes the live plan of its time.
                let (shaper, shared, ms) = (locked.clone(), shared.clone(), summary.duration_ms);
                let work: AfterAnswer = Box::new(move || {
                    let shaper = shaper.lock().unwrap_or_else(|p| p.into_inner());
                    shared.telemetry.plan_applied(shaper.plan());
                    shared.plan_applied(
                        PrefixIndex::new(shaper.mappings()),
                        shaper.status(uptime),
                        Some(ms),
                    );
                    // The CPU pages' view of the same plan (a request in between sees the
                    // old layout with the new index for a moment: the next second fixes it).
                    shared.set_layout(shaper.queue_layout());
                });
                (after_answer.lock().unwrap_or_else(|p| p.into_inner())).push(work);
            }
            let status = match &outcome {
                Outcome::Rejected(reasons) => {
                    format!("last plan rejected: {}", reasons.join("; "))
                }
                _ => format!(
                    "shaping {} circuits, {} prefixes (generation {})",
                    s.circuits,
                    s.mapped_ips,
                    s.applied_generation.unwrap_or(0)
                ),
            };
            crate::notify(&[sd_notify::NotifyState::Status(&status)]);
            tracing::debug!(
                lock_wait_ms = locked_at.as_secs_f64() * 1e3,
                handled_ms = started.elapsed().as_secs_f64() * 1e3,
                "plan request handled"
            );
            match outcome {
                Outcome::Applied(summary) => Response::Applied {
                    generation,
                    summary,
                },
                Outcome::Unchanged(generation) => Response::Unchanged { generation },
                Outcome::Rejected(reasons) => Response::Rejected { reasons },
            }
        })
        .await;
        answer.unwrap_or_else(|e| Response::Error {
            message: format!("lqosd failed while handling the request: {e}"),
        })
    }
}

/// The fence rule (docs/fleet.md): a stale fence is refused, a duplicate is a no-op, a fresh
/// one is applied through `apply` and remembered once its plan is live.
fn submit_fenced(
    fences: &mut FenceStore,
    fence: Option<lqos_bus::Fence>,
    shaper: &mut Shaper,
    uptime: u64,
    apply: impl FnOnce(&mut Shaper) -> Outcome,
) -> Outcome {
    let Some(fence) = fence else {
        return apply(shaper);
    };
    match fences.check(fence) {
        FenceCheck::Stale(last) => {
            fences.log(fence, "stale", None);
            tracing::warn!(%fence, applied = %last, "refused a stale fleet plan (from a deposed leader?)");
            return Outcome::Rejected(vec![format!(
                "stale fleet plan: {fence} is not newer than the applied {last}; the applied plan stays live"
            )]);
        }
        FenceCheck::Duplicate => {
            fences.log(fence, "duplicate", None);
            let live = shaper.status(uptime).applied_generation.unwrap_or(0);
            return Outcome::Unchanged(live);
        }
        FenceCheck::Fresh => {}
    }
    let outcome = apply(shaper);
    let what = match &outcome {
        Outcome::Applied(_) => "applied",
        Outcome::Unchanged(_) => "unchanged",
        Outcome::Rejected(_) => "rejected",
    };
    if what != "rejected" {
        if let Err(e) = fences.record(fence) {
            tracing::error!(error = %crate::state::with_causes(&e), "the plan is live but its fence was not saved");
        }
    }
    let hash = shaper.status(uptime).plan_hash;
    fences.log(fence, what, hash.as_deref());
    outcome
}
