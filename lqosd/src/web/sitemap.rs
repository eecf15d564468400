//! The Site Map's data: network.json nodes placed by their `latitude`/`longitude` (a node
//! without them, an AP, at its nearest located ancestor's position), with their live
//! throughput, utilisation and RTT (the subtree's circuits, as rolled up once a second for the
//! tree by the [`TelemetryPicture`](super::telemetry_picture::TelemetryPicture)). Computed at
//! most every 2 s.

use super::auth::Viewer;
use super::catalog::Catalog;
use super::error::ApiError;
use super::telemetry_picture::NodeTelemetry;
use super::WebState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lqos_telemetry::view::RttSideView;
use serde::Serialize;

#[derive(Serialize)]
struct MapNode<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    node_type: Option<&'a str>,
    parent: Option<&'a str>,
    lat: f64,
    lon: f64,
    /// The position is an ancestor's (the node has none of its own).
    inherited: bool,
    download_mbps: f64,
    upload_mbps: f64,
    down_bps: u64,
    up_bps: u64,
    /// The higher of the two directions' use of the node's bandwidth, 0..1+.
    utilization: f64,
    /// Median internet-side and subscriber-side RTT of the subtree's circuits, last 5 min.
    rtt_internet_ms: Option<f64>,
    rtt_subscriber_ms: Option<f64>,
    circuits: usize,
    flows: u64,
}

#[derive(Serialize)]
struct SiteMap<'a> {
    tile_url: Option<&'a str>,
    /// Nodes in network.json, and how many are on the map.
    nodes_total: usize,
    located: usize,
    nodes: Vec<MapNode<'a>>,
}

/// Each node's position: its own, or its nearest ancestor's (`true`: inherited).
pub fn positions(catalog: &Catalog) -> Vec<Option<((f64, f64), bool)>> {
    let mut out: Vec<Option<((f64, f64), bool)>> = vec![None; catalog.nodes.len()];
    // Parents come before their children in the arena (network.json is walked depth first).
    for (i, n) in catalog.nodes.iter().enumerate() {
        out[i] = match n.location {
            Some(p) => Some((p, false)),
            None => n.parent.and_then(|p| out[p]).map(|(p, _)| (p, true)),
        };
    }
    out
}

fn render(s: &WebState) -> Bytes {
    let catalog = s.catalog();
    let live = s.live();
    let pos = positions(&catalog);
    // Each node's roll-up of its subtree's circuits, merged once a second for the tree.
    let picture = s.telemetry_picture();
    let util = |bps: u64, mbps: f64| {
        if mbps > 0.0 {
            bps as f64 / (mbps * 1e6)
        } else {
            0.0
        }
    };
    let nodes: Vec<MapNode> = catalog
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let ((lat, lon), inherited) = pos[i]?;
            let (down_bps, up_bps) = live.catalog.node(&n.name).map_or((0, 0), |j| live.nodes[j]);
            let roll = picture.node(&catalog, i);
            let rtt =
                |side: fn(&NodeTelemetry) -> &RttSideView| roll.and_then(|r| side(r).p50_5m_ms);
            Some(MapNode {
                name: &n.name,
                node_type: n.node_type.as_deref(),
                parent: n.parent.map(|p| catalog.nodes[p].name.as_str()),
                lat,
                lon,
                inherited,
                download_mbps: n.download_mbps,
                upload_mbps: n.upload_mbps,
                down_bps,
                up_bps,
                utilization: util(down_bps, n.download_mbps).max(util(up_bps, n.upload_mbps)),
                rtt_internet_ms: rtt(|r| &r.rtt.internet),
                rtt_subscriber_ms: rtt(|r| &r.rtt.subscriber),
                circuits: n.subtree_circuits,
                flows: roll.map_or(0, |r| r.flows),
            })
        })
        .collect();
    let body = SiteMap {
        tile_url: s.inner.geo.data.config.tile_url.as_deref(),
        nodes_total: catalog.nodes.len(),
        located: nodes.len(),
        nodes,
    };
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// `GET /api/sitemap`: the located nodes with their live figures and the tile URL (if any).
pub async fn sitemap(State(s): State<WebState>, _v: Viewer) -> Result<Response, ApiError> {
    let body = s.inner.geo.sitemap.get(|| render(&s)).await;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        (*body).clone(),
    )
        .into_response())
}
