//! A circuit's flow telemetry for its page: RTT per side (now and as a 5-minute series),
//! retransmits with their gate, QoO, queue statistics (now and per second while the page is
//! open) and its flows. The dashboard's and the tree's telemetry are in
//! [`telemetry_picture`](super::telemetry_picture) (computed once a second).

use super::auth::Viewer;
use super::error::{ApiError, QueryArgs};
use super::telemetry_picture::{Gate, GATE};
use super::WebState;
use crate::telemetry::classes::Owner;
use crate::telemetry::queues::{QueueDir, QueueSample};
use crate::telemetry::TelemetryHub;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lqos_telemetry::view::{CircuitTelemetry, FlowView, QueueView, RttSeriesPoint, RttSeriesSide};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds of queue history the first request of a page gets (the chart's window).
pub const QUEUE_HISTORY_SECS: f64 = 300.0;
/// Flows a request lists by default, and at most.
const DEFAULT_FLOWS: usize = 50;
const MAX_FLOWS: usize = 1000;
/// A watched circuit's watch is renewed (a write lock) at most this often per circuit.
const REWATCH: Duration = Duration::from_secs(1);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A typed answer serialized straight to bytes.
fn json_bytes(v: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(v).map_err(|e| ApiError::internal("writing JSON", e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The RTT histogram index of a circuit: the data plane's own index, or (while an apply holds
/// it) the last second's picture.
fn index_of(s: &WebState, hub: &TelemetryHub, id: &str) -> Option<u32> {
    match hub.circuits.try_lock() {
        Ok(ix) => ix.index_of(id),
        Err(_) => s.telemetry_picture().index_of(id),
    }
}

fn known_circuit(s: &WebState, id: &str) -> Result<(), ApiError> {
    if s.catalog().circuit(id).is_none() {
        return Err(ApiError::NotFound(format!(
            "no circuit {id:?} in ShapedDevices.csv"
        )));
    }
    Ok(())
}

/// One point of the RTT chart: a 10-s slot, at its last second.
#[derive(Debug, Serialize)]
pub struct RttPoint {
    pub t_unix: f64,
    pub internet: RttSeriesSide,
    pub subscriber: RttSeriesSide,
}

/// One direction's queue over one second: counters as deltas since the sample before,
/// gauges as read.
#[derive(Debug, PartialEq)]
struct QueueDelta {
    drops: u64,
    ecn_marks: Option<u64>,
    ack_drops: Option<u64>,
    overlimits: u64,
    sent_bps: u64,
    backlog_bytes: u64,
    qlen: u64,
    peak_delay_us: Option<u64>,
    base_delay_us: Option<u64>,
}

fn delta(before: &QueueDir, now: &QueueDir, secs: f64) -> QueueDelta {
    // A counter that went back is a re-created queue: its value counts from zero.
    let d = |a: u64, b: u64| if b >= a { b - a } else { b };
    let od = |a: Option<u64>, b: Option<u64>| b.map(|b| d(a.unwrap_or(0), b));
    QueueDelta {
        drops: d(before.drops, now.drops),
        ecn_marks: od(before.ecn_marks, now.ecn_marks),
        ack_drops: od(before.ack_drops, now.ack_drops),
        overlimits: d(before.overlimits, now.overlimits),
        sent_bps: (d(before.sent_bytes, now.sent_bytes) as f64 * 8.0 / secs) as u64,
        backlog_bytes: now.backlog_bytes,
        qlen: now.qlen,
        peak_delay_us: now.peak_delay_us,
        base_delay_us: now.base_delay_us,
    }
}

/// A column of a figure the leaf qdisc may not have: left out when no point has it.
fn absent(column: &[Option<u64>]) -> bool {
    column.iter().all(Option::is_none)
}

/// One direction's queue, one entry per point in each column: counters as deltas since the
/// point before, gauges as read. `ecn_marks` (CAKE, fq_codel), `ack_drops` and the delays
/// (CAKE) are left out when the leaf has no such figure.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct DirSeries {
    pub drops: Vec<u64>,
    #[serde(skip_serializing_if = "absent")]
    pub ecn_marks: Vec<Option<u64>>,
    #[serde(skip_serializing_if = "absent")]
    pub ack_drops: Vec<Option<u64>>,
    pub overlimits: Vec<u64>,
    pub sent_bps: Vec<u64>,
    pub backlog_bytes: Vec<u64>,
    pub qlen: Vec<u64>,
    #[serde(skip_serializing_if = "absent")]
    pub peak_delay_us: Vec<Option<u64>>,
    #[serde(skip_serializing_if = "absent")]
    pub base_delay_us: Vec<Option<u64>>,
}

impl DirSeries {
    fn reserve(&mut self, n: usize) {
        self.drops.reserve(n);
        self.ecn_marks.reserve(n);
        self.ack_drops.reserve(n);
        self.overlimits.reserve(n);
        self.sent_bps.reserve(n);
        self.backlog_bytes.reserve(n);
        self.qlen.reserve(n);
        self.peak_delay_us.reserve(n);
        self.base_delay_us.reserve(n);
    }

    fn push(&mut self, d: QueueDelta) {
        self.drops.push(d.drops);
        self.ecn_marks.push(d.ecn_marks);
        self.ack_drops.push(d.ack_drops);
        self.overlimits.push(d.overlimits);
        self.sent_bps.push(d.sent_bps);
        self.backlog_bytes.push(d.backlog_bytes);
        self.qlen.push(d.qlen);
        self.peak_delay_us.push(d.peak_delay_us);
        self.base_delay_us.push(d.base_delay_us);
    }
}

/// A circuit's queue points by column (a page's first load has 300 of them: rows would repeat
/// every key 300 times).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct QueueSeries {
    pub t_unix: Vec<f64>,
    pub down: DirSeries,
    pub up: DirSeries,
}

impl QueueSeries {
    fn reserve(&mut self, n: usize) {
        self.t_unix.reserve(n);
        self.down.reserve(n);
        self.up.reserve(n);
    }
}

/// Per-second points of a watched circuit's queue samples (cumulative, oldest first), newer
/// than `since` (Unix seconds).
pub fn queue_points<'a>(
    history: impl ExactSizeIterator<Item = &'a QueueSample>,
    since: f64,
) -> QueueSeries {
    let mut out = QueueSeries::default();
    out.reserve(history.len());
    let mut before: Option<&QueueSample> = None;
    for b in history {
        if let Some(a) = before {
            let t_unix = b.unix_ms as f64 / 1000.0;
            let secs = b.unix_ms.saturating_sub(a.unix_ms) as f64 / 1000.0;
            if t_unix > since && secs > 0.0 {
                out.t_unix.push(t_unix);
                out.down.push(delta(&a.down, &b.down, secs));
                out.up.push(delta(&a.up, &b.up, secs));
            }
        }
        before = Some(b);
    }
    out
}

/// The RTT series with Unix times: a slot's `end_s` is on the telemetry's clock, whose
/// latest second (`now_s`) is about now.
pub fn rtt_points(series: Vec<RttSeriesPoint>, now_s: u64, now_unix: f64) -> Vec<RttPoint> {
    series
        .into_iter()
        .map(|p| RttPoint {
            t_unix: now_unix - now_s.saturating_sub(p.end_s.saturating_sub(1)) as f64,
            internet: p.internet,
            subscriber: p.subscriber,
        })
        .collect()
}

#[derive(Serialize)]
struct CircuitTelemetryAnswer<'a> {
    circuit_id: &'a str,
    /// The circuit has an RTT histogram index (its prefixes are mapped in the data plane).
    measured: bool,
    t_unix: f64,
    rtt: &'a lqos_telemetry::view::RttView,
    retransmits: &'a lqos_telemetry::view::RetransmitView,
    gate: Gate,
    flows: u64,
    qoo: &'a lqos_telemetry::view::QooView,
    queue: &'a QueueView,
    rtt_series: Vec<RttPoint>,
    queue_history: QueueSeries,
}

#[derive(Deserialize)]
pub struct TelemetryArgs {
    /// Only queue points after this Unix time (the page's last one); default: the last 300 s.
    queue_since: Option<f64>,
}

/// `GET /api/circuits/{id}/telemetry`; marks the circuit as watched (queue statistics every
/// second, with history).
pub async fn circuit_telemetry(
    State(s): State<WebState>,
    _v: Viewer,
    Path(id): Path<String>,
    QueryArgs(args): QueryArgs<TelemetryArgs>,
) -> Result<Response, ApiError> {
    known_circuit(&s, &id)?;
    let hub = s.inner.shared.telemetry.clone();
    let index = index_of(&s, &hub, &id);
    let now_unix = unix_now();
    let since = match args.queue_since {
        Some(t) if t.is_finite() => t,
        Some(_) => {
            return Err(ApiError::BadRequest {
                status: StatusCode::BAD_REQUEST,
                message: "queue_since: expected Unix seconds".into(),
            })
        }
        None => now_unix - QUEUE_HISTORY_SECS,
    };
    let circuit: Arc<str> = Arc::from(id.as_str());
    let owner = Owner::Circuit(circuit.clone());
    let (mut view, series, now_s) = {
        let st = hub.read();
        let t = &st.telemetry;
        let mut view = match index {
            Some(i) => t.circuit_view(i, 0),
            None => CircuitTelemetry::default(),
        };
        view.qoo.profile = t.qoo().profile().name.to_string();
        let series = index.map(|i| t.rtt_series(i)).unwrap_or_default();
        (view, series, t.rtt().now_s())
    };
    // The points straight from the kept samples (no copy of them), under the queues' lock.
    let (history, watched) = {
        let q = hub.queues();
        if let Some([down, up]) = q.of(&owner) {
            view.queue = QueueView {
                down: down.view(),
                up: up.view(),
            };
        }
        (queue_points(q.history(&id), since), q.watched_at(&id))
    };
    if index.is_none() {
        view.qoo.excluded = hub.config.qoo_exclude_circuits.contains(&id);
    }
    let now = Instant::now();
    if watched.is_none_or(|at| now.duration_since(at) >= REWATCH) {
        hub.queues_mut().watch(&circuit, now);
    }
    json_bytes(&CircuitTelemetryAnswer {
        circuit_id: &id,
        measured: index.is_some(),
        t_unix: now_unix,
        rtt: &view.rtt,
        retransmits: &view.retransmits,
        gate: GATE,
        flows: view.flows,
        qoo: &view.qoo,
        queue: &view.queue,
        rtt_series: rtt_points(series, now_s, now_unix),
        queue_history: history,
    })
}

/// A flow with its circuit's id (the view carries the histogram index only).
#[derive(Serialize)]
pub struct FlowRow<'a> {
    pub circuit_id: &'a str,
    #[serde(flatten)]
    pub flow: &'a FlowView,
}

#[derive(Serialize)]
struct FlowsAnswer<'a> {
    circuit_id: &'a str,
    /// Live flows of the circuit (all of them, not only those listed).
    total: u64,
    flows: Vec<FlowRow<'a>>,
}

#[derive(Deserialize)]
pub struct FlowsArgs {
    limit: Option<usize>,
}

/// `GET /api/circuits/{id}/flows?limit=50`: the circuit's live flows, busiest first.
pub async fn circuit_flows(
    State(s): State<WebState>,
    _v: Viewer,
    Path(id): Path<String>,
    QueryArgs(args): QueryArgs<FlowsArgs>,
) -> Result<Response, ApiError> {
    known_circuit(&s, &id)?;
    let limit = args.limit.unwrap_or(DEFAULT_FLOWS);
    if limit == 0 || limit > MAX_FLOWS {
        return Err(ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: format!("limit = {limit}: expected 1 to {MAX_FLOWS}"),
        });
    }
    let hub = s.inner.shared.telemetry.clone();
    let (total, flows) = match index_of(&s, &hub, &id) {
        Some(i) => {
            let st = hub.read();
            let table = st.telemetry.flows();
            (table.active_flows(i), table.top_flows(i, limit))
        }
        None => (0, Vec::new()),
    };
    json_bytes(&FlowsAnswer {
        circuit_id: &id,
        total,
        flows: flows
            .iter()
            .map(|flow| FlowRow {
                circuit_id: &id,
                flow,
            })
            .collect(),
    })
}
