//! What lqosd's bus and its WebUI both read: reports and issues, the live plan's prefixes, the
//! latest counter sample and what the last apply did. None of it sits behind the shaper's
//! lock, so the WebUI and the bus answer during a long apply.

use crate::prefix_index::PrefixIndex;
use crate::queue_layout::QueueLayout;
use crate::reports::Reports;
use crate::throughput::Sample;
use lqos_bus::StatusReport;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

/// The live plan as the WebUI and metrics see it, updated after every apply.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub status: StatusReport,
    /// Plans applied since lqosd started (unchanged and rejected ones not counted).
    pub applies: u64,
    pub last_apply_ms: Option<u64>,
}

/// lqosd's state outside the shaper: one per process, behind an `Arc`.
#[derive(Debug)]
pub struct Shared {
    pub started: Instant,
    reports: Mutex<Reports>,
    index: RwLock<Arc<PrefixIndex>>,
    /// The live plan by CPU queue (the WebUI's CPU pages).
    layout: RwLock<Arc<QueueLayout>>,
    sample: RwLock<Arc<Sample>>,
    /// Counts samples, for whoever waits for the next one.
    samples: tokio::sync::watch::Sender<u64>,
    applied: RwLock<Applied>,
    /// Flows, RTT, retransmits, QoO and queue statistics.
    pub telemetry: Arc<crate::telemetry::TelemetryHub>,
}

impl Shared {
    /// The state for the live plan lqosd starts with.
    pub fn new(index: PrefixIndex, status: StatusReport) -> Self {
        Self {
            started: Instant::now(),
            reports: Mutex::new(Reports::default()),
            index: RwLock::new(Arc::new(index)),
            layout: RwLock::new(Arc::new(QueueLayout::default())),
            sample: RwLock::new(Arc::new(Sample::default())),
            samples: tokio::sync::watch::Sender::new(0),
            applied: RwLock::new(Applied {
                status,
                ..Applied::default()
            }),
            telemetry: Arc::new(crate::telemetry::TelemetryHub::unattached()),
        }
    }

    /// The same with the data plane's telemetry.
    pub fn with_telemetry(mut self, telemetry: Arc<crate::telemetry::TelemetryHub>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The reports; a panic elsewhere while holding them leaves them consistent (every method
    /// of [`Reports`] is a single update), so a poisoned lock is taken over.
    pub fn reports(&self) -> MutexGuard<'_, Reports> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live plan's prefixes.
    pub fn index(&self) -> Arc<PrefixIndex> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The live plan by CPU queue.
    pub fn layout(&self) -> Arc<QueueLayout> {
        self.layout
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The live plan by CPU queue, after it changed (at start and after every apply).
    pub fn set_layout(&self, layout: QueueLayout) {
        *self.layout.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(layout);
    }

    /// The latest counter sample.
    pub fn sample(&self) -> Arc<Sample> {
        self.sample
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A new counter sample (every [`crate::throughput::interval`]).
    pub fn set_sample(&self, sample: Sample) {
        *self.sample.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(sample);
        self.samples.send_modify(|n| *n += 1);
    }

    /// Changes with every new counter sample.
    pub fn subscribe_samples(&self) -> tokio::sync::watch::Receiver<u64> {
        self.samples.subscribe()
    }

    /// What the last apply left live.
    pub fn applied(&self) -> RwLockReadGuard<'_, Applied> {
        self.applied.read().unwrap_or_else(|p| p.into_inner())
    }

    /// After an apply: the new prefixes and status; `apply_ms` when the kernel was changed.
    pub fn plan_applied(&self, index: PrefixIndex, status: StatusReport, apply_ms: Option<u64>) {
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        let mut a = self.applied.write().unwrap_or_else(|p| p.into_inner());
        a.status = status;
        if let Some(ms) = apply_ms {
            a.applies += 1;
            a.last_apply_ms = Some(ms);
        }
    }

    /// After lazy queues built or collapsed circuits: the live plan is the same, its status
    /// is not.
    pub fn lazy_changed(&self, status: StatusReport) {
        self.applied
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .status = status;
    }

    /// Seconds since lqosd started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
