//! The read side of the API (docs/webui.md): dashboard, live events, tree, circuits, unknown
//! addresses, scheduler, issues, the input files; and the two small admin actions.

use super::auth::{Admin, Viewer};
use super::catalog::{Catalog, CircuitEntry, NodeEntry};
use super::error::{ApiError, QueryArgs};
use super::live::{HostRate, LiveView, Point};
use super::WebState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Rows of a node's circuits sent at most (the total is always counted).
const MAX_NODE_CIRCUITS: usize = 500;
const MAX_PER_PAGE: usize = 500;

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
fn dashboard_value(s: &WebState, with_history: bool) -> Value {
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
        "queues": live.queues.iter().map(|&(cpu, d, u)| json!({"cpu": cpu, "down_bps": d, "up_bps": u})).collect::<Vec<_>>(),
        "scheduler": scheduler,
        "issues": {"total": issues.len(), "unacknowledged": unack, "urgent": unack},
        "history": if with_history { s.inner.history.total() } else { Vec::new() },
    })
}

pub async fn dashboard(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    Json(dashboard_value(&s, true))
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
    _v: Viewer,
    QueryArgs(args): QueryArgs<LiveArgs>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    if let Some(id) = &args.circuit {
        s.inner.history.watch(id);
    }
    let tick = tokio::time::interval(crate::throughput::INTERVAL);
    let stream = futures_util::stream::unfold(
        (s, tick, args.circuit),
        |(s, mut tick, circuit)| async move {
            tick.tick().await;
            let event = match &circuit {
                Some(id) => {
                    s.inner.history.watch(id);
                    Event::default().event("circuit").json_data(circuit_point(&s, id))
                }
                None => Event::default()
                    .event("dashboard")
                    .json_data(dashboard_value(&s, false)),
            };
            // json_data fails only for values serde cannot write; none of these.
            let event = event.unwrap_or_else(|_| Event::default().comment("unavailable"));
            Some((Ok(event), (s, tick, circuit)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Serialize)]
struct CircuitRow<'a> {
    circuit_id: &'a str,
    name: &'a str,
    parent_node: Option<&'a str>,
    devices: usize,
    ips: Vec<String>,
    download_min_mbps: f64,
    download_max_mbps: f64,
    upload_min_mbps: f64,
    upload_max_mbps: f64,
    down_bps: u64,
    up_bps: u64,
}

fn rate_of(live: &LiveView, catalog: &Catalog, i: usize) -> (u64, u64) {
    // The live view may lag a just-reloaded catalog by a second: match by id then.
    if std::ptr::eq(&*live.catalog, catalog) {
        return live.circuits[i];
    }
    match live.catalog.circuit(&catalog.circuits[i].id) {
        Some(j) => live.circuits[j],
        None => (0, 0),
    }
}

fn row<'a>(catalog: &'a Catalog, live: &LiveView, i: usize) -> CircuitRow<'a> {
    let c: &CircuitEntry = &catalog.circuits[i];
    let (down_bps, up_bps) = rate_of(live, catalog, i);
    CircuitRow {
        circuit_id: &c.id,
        name: &c.name,
        parent_node: c.parent.map(|p| catalog.nodes[p].name.as_str()),
        devices: c.devices.len(),
        ips: c
            .devices
            .iter()
            .flat_map(|d| d.ips.iter().map(|ip| ip.to_string()))
            .collect(),
        download_min_mbps: c.download_min,
        download_max_mbps: c.download_max,
        upload_min_mbps: c.upload_min,
        upload_max_mbps: c.upload_max,
        down_bps,
        up_bps,
    }
}

fn node_info(catalog: &Catalog, live: &LiveView, n: usize) -> Value {
    let node: &NodeEntry = &catalog.nodes[n];
    let (d, u) = live
        .catalog
        .node(&node.name)
        .map_or((0, 0), |j| live.nodes[j]);
    let util = |bps: u64, mbps: f64| {
        if mbps > 0.0 {
            bps as f64 / (mbps * 1e6)
        } else {
            0.0
        }
    };
    json!({
        "name": node.name, "type": node.node_type,
        "download_mbps": node.download_mbps, "upload_mbps": node.upload_mbps,
        "down_bps": d, "up_bps": u,
        "utilization_down": util(d, node.download_mbps),
        "utilization_up": util(u, node.upload_mbps),
        "children": node.children.len(), "circuits": node.subtree_circuits,
    })
}

#[derive(Deserialize)]
pub struct TreeArgs {
    node: Option<String>,
}

pub async fn tree(
    State(s): State<WebState>,
    _v: Viewer,
    QueryArgs(args): QueryArgs<TreeArgs>,
) -> Result<Json<Value>, ApiError> {
    let (catalog, live) = (s.catalog(), s.live());
    let (node, children, circuits) = match &args.node {
        None => (None, catalog.roots.clone(), &catalog.unparented),
        Some(name) => {
            let n = catalog
                .node(name)
                .ok_or_else(|| ApiError::NotFound(format!("no node {name:?} in network.json")))?;
            let node = &catalog.nodes[n];
            (Some(n), node.children.clone(), &node.circuits)
        }
    };
    Ok(Json(json!({
        "node": node.map(|n| node_info(&catalog, &live, n)),
        "path": node.map(|n| catalog.path(n)).unwrap_or_default(),
        "children": children.iter().map(|&c| node_info(&catalog, &live, c)).collect::<Vec<_>>(),
        "circuits": circuits.iter().take(MAX_NODE_CIRCUITS).map(|&i| row(&catalog, &live, i)).collect::<Vec<_>>(),
        "circuits_total": circuits.len(),
    })))
}

#[derive(Deserialize)]
pub struct CircuitsArgs {
    #[serde(default)]
    q: String,
    page: Option<usize>,
    per_page: Option<usize>,
}

pub async fn circuits(
    State(s): State<WebState>,
    _v: Viewer,
    QueryArgs(args): QueryArgs<CircuitsArgs>,
) -> Result<Json<Value>, ApiError> {
    let per_page = args.per_page.unwrap_or(50);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: format!("per_page = {per_page}: expected 1 to {MAX_PER_PAGE}"),
        });
    }
    let page = args.page.unwrap_or(1).max(1);
    let (catalog, live) = (s.catalog(), s.live());
    let (total, rows): (usize, Vec<CircuitRow>) = if args.q.trim().is_empty() {
        let n = catalog.circuits.len();
        let start = ((page - 1) * per_page).min(n);
        (
            n,
            (start..(start + per_page).min(n))
                .map(|i| row(&catalog, &live, i))
                .collect(),
        )
    } else {
        let found = catalog.search(&args.q);
        let rows = found
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|&i| row(&catalog, &live, i))
            .collect();
        (found.len(), rows)
    };
    Ok(Json(
        json!({"total": total, "page": page, "per_page": per_page, "circuits": rows}),
    ))
}

/// A circuit with its devices, plan and recent history (`None` if the id is unknown).
pub(super) fn circuit_detail(s: &WebState, id: &str) -> Option<Value> {
    let (catalog, live) = (s.catalog(), s.live());
    let i = catalog.circuit(id)?;
    let c = &catalog.circuits[i];
    let (down_bps, up_bps) = rate_of(&live, &catalog, i);
    let history: Vec<Point> = s.inner.history.watch(id);
    Some(json!({
        "circuit_id": c.id, "name": c.name,
        "parent_node": c.parent.map(|p| &catalog.nodes[p].name),
        "ips": c.devices.iter().flat_map(|d| d.ips.iter().map(|ip| ip.to_string())).collect::<Vec<_>>(),
        "download_min_mbps": c.download_min, "download_max_mbps": c.download_max,
        "upload_min_mbps": c.upload_min, "upload_max_mbps": c.upload_max,
        "sqm": c.sqm,
        "devices": c.devices.iter().map(|d| json!({
            "device_id": d.id, "name": d.name, "mac": d.mac,
            "ips": d.ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
            "comment": d.comment,
        })).collect::<Vec<_>>(),
        "down_bps": down_bps, "up_bps": up_bps,
        "history": history,
    }))
}

pub async fn circuit(
    State(s): State<WebState>,
    _v: Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    circuit_detail(&s, &id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no circuit {id:?} in ShapedDevices.csv")))
}

pub async fn unknown(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let sample = s.inner.shared.sample();
    let hosts: Vec<Value> = sample
        .unknown_hosts
        .iter()
        .map(|h| {
            json!({
                "ip": h.addr.to_string(), "down_bps": h.down_bps, "up_bps": h.up_bps,
                "bytes_down": h.bytes_down, "bytes_up": h.bytes_up,
                "last_seen_unix": h.last_seen_unix,
            })
        })
        .collect();
    Json(json!({ "hosts": hosts }))
}

pub async fn unknown_csv(State(s): State<WebState>, _v: Viewer) -> Result<Response, ApiError> {
    let sample = s.inner.shared.sample();
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::internal("writing the CSV", e);
    w.write_record([
        "ip",
        "down_bps",
        "up_bps",
        "bytes_down",
        "bytes_up",
        "last_seen_unix",
    ])
    .map_err(fail)?;
    for h in &sample.unknown_hosts {
        w.write_record([
            h.addr.to_string(),
            h.down_bps.to_string(),
            h.up_bps.to_string(),
            h.bytes_down.to_string(),
            h.bytes_up.to_string(),
            h.last_seen_unix.to_string(),
        ])
        .map_err(fail)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::internal("writing the CSV", e.into_error()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"unknown-ips.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn scheduler(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let reports = s.inner.shared.reports();
    let (report, age) = match reports.scheduler() {
        Some((r, age)) => (Some(r), Some(age)),
        None => (None, None),
    };
    Json(json!({
        "report": report,
        "report_age_secs": age,
        "runs": reports.runs(),
        "refresh_requested": s.inner.config.refresh_request_path().exists(),
    }))
}

/// `POST /api/scheduler/refresh`: leaves the request file lqos-scheduler looks for each second.
pub async fn refresh(State(s): State<WebState>, Admin(v): Admin) -> Result<Response, ApiError> {
    let path = s.inner.config.refresh_request_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ApiError::internal(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&path, format!("requested by {}\n", v.user.username))
        .map_err(|e| ApiError::internal(format!("writing {}", path.display()), e))?;
    tracing::info!(user = %v.user.username, "WebUI: refresh requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message": "refresh requested: lqos-scheduler starts it within a second or two (if it is running)"})),
    )
        .into_response())
}

pub async fn issues(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let list: Vec<Value> = s
        .inner
        .shared
        .reports()
        .list()
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "source": e.issue.source, "severity": e.issue.severity,
                "code": e.issue.code, "message": e.issue.message, "context": e.issue.context,
                "first_seen_unix": e.first_seen_unix, "last_seen_unix": e.last_seen_unix,
                "count": e.count, "acknowledged": e.acknowledged,
            })
        })
        .collect();
    Json(json!({ "issues": list }))
}

pub async fn ack(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no urgent issue {id:?} (ids are numbers)")))?;
    if s.inner.shared.reports().ack(id) {
        tracing::info!(user = %v.user.username, id, "WebUI: urgent issue acknowledged");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no urgent issue {id}")))
    }
}

pub async fn config_file(
    State(s): State<WebState>,
    _v: Viewer,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let c = &s.inner.config;
    let path = match file.as_str() {
        "lqos.conf" => s.inner.config_path.clone(),
        "network.json" => c.network_json_path(),
        "ShapedDevices.csv" => c.shaped_devices_path(),
        _ => {
            return Err(ApiError::NotFound(format!(
                "{file:?}: expected lqos.conf, network.json or ShapedDevices.csv"
            )))
        }
    };
    let text = std::fs::read(&path)
        .map_err(|e| ApiError::NotFound(format!("cannot read {}: {e}", path.display())))?;
    let text = if file == "lqos.conf" {
        redact_secrets(&String::from_utf8_lossy(&text)).into_bytes()
    } else {
        text
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// lqos.conf with the values of secret keys (tokens, passwords, keys) replaced, so that a
/// read-only user never sees an integration's credentials.
fn redact_secrets(conf: &str) -> String {
    let secret = |key: &str| {
        let k = key.trim().to_ascii_lowercase();
        ["token", "password", "secret", "api_key", "apikey"].iter().any(|s| k.contains(s))
    };
    let mut out = String::with_capacity(conf.len());
    for line in conf.split_inclusive('\n') {
        match line.split_once('=') {
            Some((key, _)) if !key.trim_start().starts_with('#') && secret(key) => {
                out.push_str(key);
                out.push_str("= \"(hidden in the WebUI)\"");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}
