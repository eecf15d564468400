//! The WebUI's per-second picture of the flow telemetry: what walks every circuit is done here,
//! once a second (right after each flow pass; by
//! [`WebState::refresh_live`](super::WebState::refresh_live) while no flow reader runs), never
//! per request:
//! - the dashboard's telemetry (RTT histogram, worst circuits, flow-table fill, queue drops);
//! - each tree node's roll-up of the circuits below it: their RTT histograms and retransmit
//!   counts **merged** (percentiles over all their samples, never averaged percentiles);
//! - which circuit holds each RTT histogram index with telemetry (so requests need not wait
//!   for the data plane's index while an apply holds it).

use super::catalog::Catalog;
use crate::telemetry::TelemetryHub;
use lqos_telemetry::view::{RetransmitView, RttHistogramView, RttView};
use lqos_telemetry::{
    retransmit_view, rtt_view, Dense, RetxTotals, Window, RETX_MIN_PACKETS, RETX_MIN_RETRANSMITS,
};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::sync::Arc;

/// Entries of each "worst circuits" list.
pub const WORST: usize = 10;

/// The retransmit gate, as the pages show it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Gate {
    pub min_packets: u64,
    pub min_retransmits: u64,
}

/// The gate of [`lqos_telemetry`] (a direction's percentage counts from this many TCP packets
/// and retransmits in the 10-s window).
pub const GATE: Gate = Gate {
    min_packets: RETX_MIN_PACKETS,
    min_retransmits: RETX_MIN_RETRANSMITS,
};

/// The RTT and retransmits of the circuits below a node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeTelemetry {
    pub rtt: RttView,
    pub retransmits: RetransmitView,
    /// Active flows of those circuits.
    pub flows: u64,
    /// Circuits below the node with any telemetry in the last 5 minutes.
    pub circuits_measured: u64,
}

/// A circuit in a "worst by RTT" list.
#[derive(Debug, Clone, Serialize)]
pub struct WorstRttRow {
    pub circuit_id: Arc<str>,
    pub name: String,
    pub p90_ms: f64,
    pub samples: u64,
}

/// A circuit in the "worst by retransmits" list.
#[derive(Debug, Clone, Serialize)]
pub struct WorstRetxRow {
    pub circuit_id: Arc<str>,
    pub name: String,
    pub worst_percent: f64,
    pub retransmits: RetransmitView,
}

/// The flow table's state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowCounts {
    /// Live flows lqosd tracks.
    pub tracked: u64,
    /// Ended flows kept for 60 s.
    pub finished: u64,
    /// Entries in the kernel's table at the last pass, and its size.
    pub kernel_entries: u64,
    pub kernel_capacity: u64,
    /// New flows the kernel could not insert (table full; cumulative).
    pub insert_failed: u64,
    /// Kernel flows lqosd did not track (its own cap; summed over passes).
    pub dropped: u64,
    /// Passes of the flow reader since start (0: no telemetry read yet).
    pub passes: u64,
}

/// Every circuit queue's drops and backlog, per direction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueTotals {
    /// Cumulative drops (the counters of the queues that exist now).
    pub drops_down: u64,
    pub drops_up: u64,
    /// Drops per second since the previous picture (`null` on the first).
    pub drops_per_s_down: Option<f64>,
    pub drops_per_s_up: Option<f64>,
    pub backlog_bytes_down: u64,
    pub backlog_bytes_up: u64,
}

/// The dashboard's `telemetry` member.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DashboardTelemetry {
    pub rtt_histogram: RttHistogramView,
    pub worst_internet_rtt: Vec<WorstRttRow>,
    pub worst_subscriber_rtt: Vec<WorstRttRow>,
    pub worst_retransmits: Vec<WorstRetxRow>,
    pub flows: FlowCounts,
    pub queues: QueueTotals,
    pub gate: Option<Gate>,
    /// The flow reader's last error (`null` when its last pass worked).
    pub last_error: Option<String>,
}

/// One second's picture (see the module docs).
#[derive(Debug, Default)]
pub struct TelemetryPicture {
    /// The catalog `nodes` is indexed against.
    catalog: Arc<Catalog>,
    nodes: Vec<Option<NodeTelemetry>>,
    pub dashboard: DashboardTelemetry,
    /// Histogram index -> circuit, for the circuits with telemetry.
    owners: FxHashMap<u32, Arc<str>>,
    /// The reverse of `owners`.
    indexes: FxHashMap<Arc<str>, u32>,
    /// When the queue totals were taken (for the drop rate), and the queue reader's passes
    /// then.
    queues_at: Option<std::time::Instant>,
    queue_passes: u64,
}

/// A node's sums while the picture is built.
#[derive(Default)]
struct NodeAcc {
    short: Dense,
    long: Dense,
    retx_short: RetxTotals,
    retx_long: RetxTotals,
    flows: u64,
    circuits: u64,
}

impl TelemetryPicture {
    /// The telemetry of node `n` of `catalog` (looked up by name when the picture was made
    /// with another catalog: a reload in the last second).
    pub fn node(&self, catalog: &Catalog, n: usize) -> Option<&NodeTelemetry> {
        let i = if std::ptr::eq(&*self.catalog, catalog) {
            n
        } else {
            self.catalog.node(&catalog.nodes.get(n)?.name)?
        };
        self.nodes.get(i)?.as_ref()
    }

    /// The histogram index of `circuit_id`, as of the last picture (circuits with telemetry).
    pub fn index_of(&self, circuit_id: &str) -> Option<u32> {
        self.indexes.get(circuit_id).copied()
    }

    /// The circuit holding histogram index `index`, as of the last picture.
    pub fn circuit_at(&self, index: u32) -> Option<&Arc<str>> {
        self.owners.get(&index)
    }

    /// Builds the picture of `hub` against `catalog`; `prev` gives the index owners when the
    /// data plane's index is busy (an apply) and the previous queue totals.
    pub fn compute(catalog: Arc<Catalog>, hub: &TelemetryHub, prev: &TelemetryPicture) -> Self {
        // 1. Which indexes have telemetry, and the dashboard's own walk (one read lock).
        let (active, view, flows, last_error) = {
            let s = hub.read();
            let t = &s.telemetry;
            let mut active: FxHashSet<u32> = t.rtt().active_circuits().collect();
            active.extend(t.retransmits().active_circuits());
            active.extend(t.flows().circuit_passes().map(|(c, _)| c));
            active.remove(&0);
            let view = t.dashboard(WORST);
            let k = &s.kernel;
            let flows = FlowCounts {
                tracked: t.flows().len() as u64,
                finished: t.flows().finished_len() as u64,
                kernel_entries: k.entries,
                kernel_capacity: k.capacity,
                insert_failed: k.insert_failed,
                dropped: t.flows().dropped(),
                passes: k.passes,
            };
            (active, view, flows, s.last_error.clone())
        };
        let queues = {
            let q = hub.queues();
            (q.drops, q.backlog_bytes, q.passes)
        };
        // 2. Who holds those indexes: the data plane's index if it is free, else the last
        //    picture's (an apply holds the index while it maps prefixes).
        let mut owners: FxHashMap<u32, Arc<str>> = FxHashMap::default();
        match hub.circuits.try_lock() {
            Ok(ix) => {
                for &i in &active {
                    if let Some(id) = ix.circuit_at(i) {
                        owners.insert(i, id.clone());
                    }
                }
            }
            Err(_) => {
                for &i in &active {
                    if let Some(id) = prev.owners.get(&i) {
                        owners.insert(i, id.clone());
                    }
                }
            }
        }
        let indexes = owners.iter().map(|(i, id)| (id.clone(), *i)).collect();
        // 3. Node roll-ups: each circuit's windows merged into every node above it.
        let mut acc: Vec<Option<Box<NodeAcc>>> = Vec::new();
        acc.resize_with(catalog.nodes.len(), || None);
        {
            let s = hub.read();
            let t = &s.telemetry;
            for (&index, id) in &owners {
                let Some(parent) = catalog.circuit(id).and_then(|c| catalog.circuits[c].parent)
                else {
                    continue;
                };
                let mut short = Dense::default();
                let mut long = Dense::default();
                if t.rtt().accumulate(index, Window::FiveMinutes, &mut long) {
                    t.rtt().accumulate(index, Window::TenSeconds, &mut short);
                }
                let retx_short = t.retransmits().totals(index, Window::TenSeconds);
                let retx_long = t.retransmits().totals(index, Window::FiveMinutes);
                let flows = t.flows().active_flows(index);
                let mut up = Some(parent);
                while let Some(n) = up {
                    let a = acc[n].get_or_insert_with(Box::default);
                    a.short.merge(&short);
                    a.long.merge(&long);
                    a.retx_short.merge(&retx_short);
                    a.retx_long.merge(&retx_long);
                    a.flows += flows;
                    a.circuits += 1;
                    up = catalog.nodes[n].parent;
                }
            }
        }
        let nodes = acc
            .into_iter()
            .map(|a| {
                a.map(|a| NodeTelemetry {
                    rtt: rtt_view(&a.short, &a.long),
                    retransmits: retransmit_view(&a.retx_short, &a.retx_long),
                    flows: a.flows,
                    circuits_measured: a.circuits,
                })
            })
            .collect();
        // 4. The dashboard, in circuit ids and names.
        let name = |id: &Arc<str>| {
            catalog
                .circuit(id)
                .map(|c| catalog.circuits[c].name.clone())
                .unwrap_or_default()
        };
        let worst_rtt = |list: Vec<lqos_telemetry::view::WorstRtt>| -> Vec<WorstRttRow> {
            list.into_iter()
                .filter_map(|w| {
                    let id = owners.get(&w.circuit)?;
                    Some(WorstRttRow {
                        circuit_id: id.clone(),
                        name: name(id),
                        p90_ms: w.p90_ms,
                        samples: w.samples,
                    })
                })
                .collect()
        };
        let worst_retransmits = view
            .worst_retransmits
            .into_iter()
            .filter_map(|w| {
                let id = owners.get(&w.circuit)?;
                Some(WorstRetxRow {
                    circuit_id: id.clone(),
                    name: name(id),
                    worst_percent: w.worst_percent,
                    retransmits: w.retransmits,
                })
            })
            .collect();
        let ((drops, backlog, queue_passes), prev_q) = (queues, &prev.dashboard.queues);
        let (queues, queues_at) = if queue_passes == prev.queue_passes {
            // No queue pass since the last picture (they run every 1-2 s): the same figures.
            (prev_q.clone(), prev.queues_at)
        } else {
            let now = std::time::Instant::now();
            let rate = |now_v: u64, before: u64| -> Option<f64> {
                let secs = now.duration_since(prev.queues_at?).as_secs_f64();
                (secs > 0.0).then(|| now_v.saturating_sub(before) as f64 / secs)
            };
            let totals = QueueTotals {
                drops_down: drops[0],
                drops_up: drops[1],
                drops_per_s_down: rate(drops[0], prev_q.drops_down),
                drops_per_s_up: rate(drops[1], prev_q.drops_up),
                backlog_bytes_down: backlog[0],
                backlog_bytes_up: backlog[1],
            };
            (totals, Some(now))
        };
        let dashboard = DashboardTelemetry {
            rtt_histogram: view.rtt_histogram,
            worst_internet_rtt: worst_rtt(view.worst_internet_rtt),
            worst_subscriber_rtt: worst_rtt(view.worst_subscriber_rtt),
            worst_retransmits,
            flows,
            queues,
            gate: Some(GATE),
            last_error,
        };
        TelemetryPicture {
            catalog,
            nodes,
            dashboard,
            owners,
            indexes,
            queues_at,
            queue_passes,
        }
    }
}
