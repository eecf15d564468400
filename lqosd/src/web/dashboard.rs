//! The dashboard (rendered once per second), its live events, and `/health`.

use super::auth::Viewer;
use super::error::{ApiError, QueryArgs};
use super::live::{HostRate, LiveView};
use super::WebState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub async fn health(State(s): State<WebState>) -> Json<Value> {
    let a = s.inner.shared.applied();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": s.inner.shared.uptime_secs(),
        "applied_generation": a.status.applied_generation,
        "circuits": a.status.circuits,
    }))
}

#[derive(Serialize)]
struct CircuitRate<'a> {
    circuit_id: &'a str,
    name: &'a str,
    down_bps: u64,
    up_bps: u64,
    plan_down_mbps: f64,
    plan_up_mbps: f64,
}

fn circuit_rates<'a>(live: &'a LiveView, ids: &[usize]) -> Vec<CircuitRate<'a>> {
    ids.iter()
        .map(|&i| {
            let c = &live.catalog.circuits[i];
            CircuitRate {
                circuit_id: &c.id,
                name: &c.name,
                down_bps: live.circuits[i].0,
                up_bps: live.circuits[i].1,
                plan_down_mbps: c.download_max,
                plan_up_mbps: c.upload_max,
            }
        })
        .collect()
}

fn host_rates(live: &LiveView, hosts: &[HostRate]) -> Vec<Value> {
    hosts
        .iter()
        .map(|h| {
            let c = h.circuit.map(|i| &live.catalog.circuits[i]);
            json!({
                "ip": h.addr.to_string(),
                "circuit_id": c.map(|c| &c.id),
                "circuit_name": c.map(|c| &c.name),
                "down_bps": h.down_bps,
                "up_bps": h.up_bps,
            })
        })
        .collect()
}

/// The dashboard; `history` only for the first paint (live events append one point each).
fn dashboard_value(s: &WebState) -> Value {
    let live = s.live();
    let shared = &s.inner.shared;
    let applied = shared.applied().status.clone();
    let reports = shared.reports();
    let scheduler = reports.scheduler().map(|(r, age)| {
        json!({
            "phase": r.phase, "step": r.step, "percent": r.percent,
            "last_success_unix": r.last_success_unix, "last_error": r.last_error,
            "age_secs": age,
        })
    });
    let issues = reports.list();
    drop(reports);
    let unack = issues.iter().filter(|e| !e.acknowledged).count();
    json!({
        "sampled_unix": live.sample.sampled_unix,
        "down_bps": live.down_bps,
        "up_bps": live.up_bps,
        "unknown_down_bps": live.sample.unknown.0,
        "unknown_up_bps": live.sample.unknown.1,
        "counts": {
            "circuits": applied.circuits,
            "devices": live.catalog.devices(),
            "mapped_ips": applied.mapped_ips,
            "active_hosts": live.sample.hosts.len(),
            "unknown_hosts": live.sample.unknown_hosts.len(),
        },
        "top_circuits_down": circuit_rates(&live, &live.top_circuits_down),
        "top_circuits_up": circuit_rates(&live, &live.top_circuits_up),
        "top_hosts_down": host_rates(&live, &live.top_hosts_down),
        "top_hosts_up": host_rates(&live, &live.top_hosts_up),
        "queues": live.queues.iter().map(|q| json!({"cpu": q.cpu, "down_bps": q.down_bps, "up_bps": q.up_bps})).collect::<Vec<_>>(),
        "scheduler": scheduler,
        "issues": {"total": issues.len(), "unacknowledged": unack, "urgent": unack},
        "telemetry": &s.telemetry_picture().dashboard,
        "history": [],
    })
}

/// The dashboard as JSON bytes, rendered once per second by [`WebState::refresh_live`]:
/// with its history (a page's first load) and without (live events).
pub(super) fn render_dashboard(s: &WebState) -> (Bytes, Bytes) {
    let mut v = dashboard_value(s);
    let bytes = |v: &Value| serde_json::to_vec(v).map(Bytes::from).unwrap_or_default();
    let live = bytes(&v);
    v["history"] = json!(s.inner.history.total());
    (bytes(&v), live)
}

pub async fn dashboard(State(s): State<WebState>, _v: Viewer) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        s.dashboard(true),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LiveArgs {
    circuit: Option<String>,
}

fn circuit_point(s: &WebState, id: &str) -> Value {
    let live = s.live();
    let (d, u) = live
        .catalog
        .circuit(id)
        .map_or((0, 0), |i| live.circuits[i]);
    json!({"circuit_id": id, "t_unix": live.sample.sampled_unix, "down_bps": d, "up_bps": u})
}

/// `GET /api/live`: one `dashboard` event per second; with `?circuit=ID`, one `circuit`
/// event per second instead.
pub async fn live(
    State(s): State<WebState>,
    viewer: Viewer,
    QueryArgs(args): QueryArgs<LiveArgs>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError>
{
    if let Some(id) = &args.circuit {
        if s.catalog().circuit(id).is_none() {
            return Err(ApiError::NotFound(format!(
                "no circuit {id:?} in ShapedDevices.csv"
            )));
        }
        s.inner.history.watch(id);
    }
    let tick = tokio::time::interval(crate::throughput::INTERVAL);
    let stream = futures_util::stream::unfold(
        (s, tick, args.circuit, viewer),
        |(s, mut tick, circuit, viewer)| async move {
            tick.tick().await;
            // The stream ends with the session (logout, expiry, user removed).
            if !viewer.still_valid(&s) {
                return None;
            }
            let event = match &circuit {
                Some(id) => {
                    s.inner.history.watch(id);
                    Event::default()
                        .event("circuit")
                        .json_data(circuit_point(&s, id))
                }
                None => Ok(Event::default()
                    .event("dashboard")
                    .data(String::from_utf8_lossy(&s.dashboard(false)))),
            };
            // json_data fails only for values serde cannot write; none of these.
            let event = event.unwrap_or_else(|_| Event::default().comment("unavailable"));
            Some((Ok(event), (s, tick, circuit, viewer)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
