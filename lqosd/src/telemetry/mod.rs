//! Flow, RTT and queue telemetry: lqosd's glue between the kernel (the flow table
//! `lqos_flows`, the per-circuit RTT histograms `lqos_rtt`, the counters `lqos_flow_stats`,
//! the qdisc statistics over netlink) and [`lqos_telemetry`], which keeps the state and makes
//! the views. Two threads feed it: the flow reader (every second) and the queue reader (every
//! 2 s, every second while a circuit is watched). The bus and the WebUI read views under a
//! read lock; nothing here waits for an apply.

pub mod classes;
pub mod flow_reader;
pub mod queues;
pub mod sizes;

use crate::circuit_index::CircuitIndex;
use classes::{ClassIndex, Owner};
use lqos_bus::{CircuitReport, FlowsReport};
use lqos_telemetry::view::{CircuitTelemetry, QueueView};
use queues::QueueState;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

/// What the flow reader counted, for /metrics and the dashboard.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelFlowCounters {
    /// Flows created by the kernel (cumulative).
    pub inserts: u64,
    /// New flows not tracked because the kernel table was full (cumulative).
    pub insert_failed: u64,
    /// RTT samples taken (cumulative).
    pub rtt_samples: u64,
    /// RTT samples of circuits without a histogram index (cumulative).
    pub rtt_no_circuit: u64,
    /// Entries in the kernel table at the last pass, and its size.
    pub entries: u64,
    pub capacity: u64,
    /// Flows lqosd deleted from the kernel table (ended or idle; cumulative).
    pub deleted: u64,
    /// The last pass: CPU time of the reading thread and wall time, microseconds.
    pub pass_cpu_us: u64,
    pub pass_wall_us: u64,
    pub passes: u64,
}

/// Everything the readers write and the views read.
#[derive(Debug)]
pub struct State {
    pub telemetry: lqos_telemetry::Telemetry,
    pub kernel: KernelFlowCounters,
    pub last_error: Option<String>,
}

/// The shared telemetry of one lqosd. The flow state and the queue state have a lock each, so
/// neither reader's pass holds up the other's readers; both readers build what they can
/// before they take their write lock.
#[derive(Debug)]
pub struct TelemetryHub {
    state: RwLock<State>,
    queues: RwLock<QueueState>,
    /// The live plan's classes (replaced after every apply).
    classes: RwLock<Arc<ClassIndex>>,
    /// Which circuit owns each RTT histogram index (the data plane's, shared).
    pub circuits: Arc<Mutex<CircuitIndex>>,
    pub config: lqos_config::flows::Flows,
    /// Flow passes finished, announced after each (the WebUI computes its per-second picture
    /// then, in the reader's idle time, so that its long read never holds up the next pass
    /// and every request queued behind it).
    passes: tokio::sync::watch::Sender<u64>,
}

impl TelemetryHub {
    pub fn new(
        config: lqos_config::flows::Flows,
        circuits: Arc<Mutex<CircuitIndex>>,
    ) -> Result<Self, lqos_telemetry::TelemetryError> {
        let qoo = lqos_telemetry::qoo::Qoo::new(&config.qoo_profile, [])?;
        let limits = lqos_telemetry::FlowLimits {
            idle_timeout: config.idle_timeout,
            finished_keep: config.finished_keep,
            max_tracked: config.max_tracked,
            ..lqos_telemetry::FlowLimits::default()
        };
        Ok(Self {
            state: RwLock::new(State {
                telemetry: lqos_telemetry::Telemetry::new(limits, qoo),
                kernel: KernelFlowCounters::default(),
                last_error: None,
            }),
            queues: RwLock::new(QueueState::default()),
            classes: RwLock::new(Arc::new(ClassIndex::default())),
            circuits,
            config,
            passes: tokio::sync::watch::Sender::new(0),
        })
    }

    /// A hub without a data plane (no circuit has an index): for tests of the WebUI and bus.
    pub fn unattached() -> Self {
        let circuits = Arc::new(Mutex::new(CircuitIndex::new(0)));
        match Self::new(lqos_config::flows::Flows::default(), circuits.clone()) {
            Ok(hub) => hub,
            // The default profile exists; keep a hub with the default QoO if it ever did not.
            Err(_) => Self {
                state: RwLock::new(State {
                    telemetry: lqos_telemetry::Telemetry::new(
                        lqos_telemetry::FlowLimits::default(),
                        lqos_telemetry::qoo::Qoo::default(),
                    ),
                    kernel: KernelFlowCounters::default(),
                    last_error: None,
                }),
                queues: RwLock::new(QueueState::default()),
                classes: RwLock::new(Arc::new(ClassIndex::default())),
                circuits,
                config: lqos_config::flows::Flows::default(),
                passes: tokio::sync::watch::Sender::new(0),
            },
        }
    }

    /// The ASN and country tables: new flows are tagged from them (once each).
    pub fn set_geo(&self, geo: Arc<lqos_telemetry::geo::GeoTables>) {
        self.write().telemetry.set_geo(Some(geo));
    }

    /// The ASN and country tables in use (`None` before [`set_geo`](Self::set_geo)).
    pub fn geo(&self) -> Option<Arc<lqos_telemetry::geo::GeoTables>> {
        self.read().telemetry.flows().geo().cloned()
    }

    /// Announces a finished flow pass (the flow reader, after each).
    pub fn pass_finished(&self) {
        self.passes.send_modify(|n| *n += 1);
    }

    /// Flow passes finished so far (0: no flow reader has run).
    pub fn passes_finished(&self) -> u64 {
        *self.passes.borrow()
    }

    /// Wakes on each finished flow pass.
    pub fn subscribe_passes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.passes.subscribe()
    }

    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn queues(&self) -> RwLockReadGuard<'_, QueueState> {
        self.queues.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn queues_mut(&self) -> RwLockWriteGuard<'_, QueueState> {
        self.queues.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn classes(&self) -> Arc<ClassIndex> {
        self.classes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn circuit_indexes(&self) -> std::sync::MutexGuard<'_, CircuitIndex> {
        self.circuits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After an apply: the new plan's classes, and the QoO exclusions by index (indexes are
    /// given out as circuits are mapped).
    pub fn plan_applied(&self, plan: &lqos_plan::QueuePlan) {
        let classes = Arc::new(ClassIndex::new(plan));
        *self.classes.write().unwrap_or_else(|p| p.into_inner()) = classes;
        let excluded: Vec<u32> = {
            let ix = self.circuit_indexes();
            self.config
                .qoo_exclude_circuits
                .iter()
                .filter_map(|id| ix.index_of(id))
                .collect()
        };
        let mut s = self.write();
        let mut qoo = s.telemetry.qoo().clone();
        qoo.set_excluded(excluded);
        s.telemetry.set_qoo(qoo);
    }

    /// A circuit's telemetry with its queue statistics; marks it as watched.
    pub fn circuit(&self, circuit_id: &str) -> CircuitTelemetry {
        let index = self.circuit_indexes().index_of(circuit_id);
        let id: Arc<str> = circuit_id.into();
        let mut view = {
            let s = self.read();
            let mut v = match index {
                Some(i) => s
                    .telemetry
                    .circuit_view(i, lqos_telemetry::DEFAULT_TOP_FLOWS),
                None => CircuitTelemetry::default(),
            };
            v.qoo.profile = s.telemetry.qoo().profile().name.to_string();
            v
        };
        if let Some([down, up]) = self.queues().of(&Owner::Circuit(id.clone())) {
            view.queue = QueueView {
                down: down.view(),
                up: up.view(),
            };
        }
        if index.is_none() {
            view.qoo.excluded = self
                .config
                .qoo_exclude_circuits
                .iter()
                .any(|c| c == circuit_id);
        }
        self.queues_mut().watch(&id, Instant::now());
        view
    }

    /// The bus's `Circuit` answer: plan, live rate and telemetry.
    pub fn circuit_report(
        &self,
        circuit_id: &str,
        rate: Option<(u64, u64)>,
        prefixes: Vec<String>,
    ) -> Option<CircuitReport> {
        let classes = self.classes();
        let c = classes.circuit(circuit_id)?;
        let (down_bps, up_bps) = rate.unwrap_or((0, 0));
        Some(CircuitReport {
            circuit_id: circuit_id.to_owned(),
            prefixes,
            cpu: c.cpu,
            download: c.download.clone(),
            upload: c.upload.clone(),
            down_bps,
            up_bps,
            telemetry: self.circuit(circuit_id),
        })
    }

    /// Active flows of a circuit (or all), busiest first.
    pub fn flows(&self, circuit_id: Option<&str>, limit: usize) -> Option<FlowsReport> {
        let s = self.read();
        let table = s.telemetry.flows();
        match circuit_id {
            Some(id) => {
                let index = self.circuit_indexes().index_of(id)?;
                Some(FlowsReport {
                    total: table.active_flows(index),
                    flows: table.top_flows(index, limit),
                })
            }
            None => Some(FlowsReport {
                total: table.len() as u64,
                flows: table.all_flows(limit),
            }),
        }
    }
}
