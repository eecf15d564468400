//! The network tree and the circuits: paged and searched on the server, one circuit's detail.

use super::auth::Viewer;
use super::catalog::{Catalog, NodeEntry};
use super::error::{ApiError, QueryArgs};
use super::live::{LiveView, Point};
use super::telemetry_picture::{NodeTelemetry, TelemetryPicture};
use super::WebState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const MAX_NODE_CIRCUITS: usize = 50;
const MAX_PER_PAGE: usize = 500;

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
    let c: &lqos_config::Circuit = &catalog.circuits[i];
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

#[derive(Serialize)]
struct NodeInfo<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    node_type: Option<&'a str>,
    download_mbps: f64,
    upload_mbps: f64,
    down_bps: u64,
    up_bps: u64,
    utilization_down: f64,
    utilization_up: f64,
    children: usize,
    circuits: usize,
    /// RTT and retransmits of the circuits below (merged), `null` without any.
    telemetry: Option<NodeTelemetry>,
}

fn node_info<'a>(
    catalog: &'a Catalog,
    live: &LiveView,
    tel: &TelemetryPicture,
    n: usize,
) -> NodeInfo<'a> {
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
    NodeInfo {
        name: &node.name,
        node_type: node.node_type.as_deref(),
        download_mbps: node.download_mbps,
        upload_mbps: node.upload_mbps,
        down_bps: d,
        up_bps: u,
        utilization_down: util(d, node.download_mbps),
        utilization_up: util(u, node.upload_mbps),
        children: node.children.len(),
        circuits: node.subtree_circuits,
        telemetry: tel.node(catalog, n).cloned(),
    }
}

#[derive(Serialize)]
struct Tree<'a> {
    node: Option<NodeInfo<'a>>,
    path: Vec<String>,
    children: Vec<NodeInfo<'a>>,
    circuits: Vec<CircuitRow<'a>>,
    circuits_total: usize,
}

#[derive(Serialize)]
struct CircuitsPage<'a> {
    total: usize,
    page: usize,
    per_page: usize,
    circuits: Vec<CircuitRow<'a>>,
}

/// A typed answer serialized straight to bytes (no intermediate JSON value).
pub(super) fn json_bytes(v: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(v).map_err(|e| ApiError::internal("writing JSON", e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
pub struct TreeArgs {
    node: Option<String>,
}

pub async fn tree(
    State(s): State<WebState>,
    _v: Viewer,
    QueryArgs(args): QueryArgs<TreeArgs>,
) -> Result<Response, ApiError> {
    let (catalog, live, tel) = (s.catalog(), s.live(), s.telemetry_picture());
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
    json_bytes(&Tree {
        node: node.map(|n| node_info(&catalog, &live, &tel, n)),
        path: node.map(|n| catalog.path(n)).unwrap_or_default(),
        children: children
            .iter()
            .map(|&c| node_info(&catalog, &live, &tel, c))
            .collect(),
        circuits: circuits
            .iter()
            .take(MAX_NODE_CIRCUITS)
            .map(|&i| row(&catalog, &live, i))
            .collect(),
        circuits_total: circuits.len(),
    })
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
) -> Result<Response, ApiError> {
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
        let start = (page - 1).saturating_mul(per_page).min(n);
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
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|&i| row(&catalog, &live, i))
            .collect();
        (found.len(), rows)
    };
    json_bytes(&CircuitsPage {
        total,
        page,
        per_page,
        circuits: rows,
    })
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
        "sqm": c.sqm.map(|s| s.to_string()),
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
