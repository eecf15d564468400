//! The CPU pages' API: `GET /api/cpu/tree[?node=NAME]` (each CPU queue, its top-level nodes
//! and their subtrees from the live plan, with live throughput) and `GET /api/cpu/weights`
//! (per queue: planned Mbps, circuits, binning weight, live load, and what `lqos-scheduler
//! refresh --rebalance` would move, from the scheduler's preview file). docs/webui.md has the
//! shapes.

use super::auth::Viewer;
use super::catalog::Catalog;
use super::cpu_live::{CpuLive, MAX_NODE_ANSWERS};
use super::error::{ApiError, QueryArgs};
use super::WebState;
use crate::queue_layout::{QueueHtb, QueueLayout};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lqos_plan::{Move, RebalancePreview, REBALANCE_PREVIEW_FILE};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Circuits listed under one node at most (all are counted).
const MAX_NODE_CIRCUITS: usize = 500;

fn mbps(bps: u64) -> f64 {
    bps as f64 / 1e6
}

#[derive(Serialize)]
struct Htb<'a> {
    interface: &'a str,
    major: u16,
    cpu: u32,
    ceil_mbps: f64,
}

fn htb(h: &Option<QueueHtb>) -> Option<Htb<'_>> {
    h.as_ref().map(|h| Htb {
        interface: &h.interface,
        major: h.major,
        cpu: h.cpu,
        ceil_mbps: mbps(h.ceil_bps),
    })
}

/// A node of the live plan with its live rates.
#[derive(Serialize)]
struct TreeNode<'a> {
    name: &'a str,
    /// A generated parent node (it holds the unparented circuits).
    generated: bool,
    /// network.json's virtual nodes above a top-level node (they have no class: their
    /// children are promoted); empty below the top.
    virtual_parents: Vec<String>,
    queue: u16,
    children: usize,
    /// Circuits right under it, and in its whole subtree.
    circuits: usize,
    subtree_circuits: usize,
    plan_down_rate_mbps: f64,
    plan_down_ceil_mbps: f64,
    plan_up_rate_mbps: f64,
    plan_up_ceil_mbps: f64,
    down_bps: u64,
    up_bps: u64,
}

fn tree_node<'a>(catalog: &Catalog, live: &'a CpuLive, n: usize, top: bool) -> TreeNode<'a> {
    let node = &live.layout.nodes[n];
    let virtual_parents = if top && !node.generated {
        catalog.node(&node.name).map_or_else(Vec::new, |c| {
            let mut path = catalog.path(c);
            path.pop();
            path
        })
    } else {
        Vec::new()
    };
    let (down_bps, up_bps) = live.nodes[n];
    TreeNode {
        name: &node.name,
        generated: node.generated,
        virtual_parents,
        queue: node.queue,
        children: node.children.len(),
        circuits: node.circuits.len(),
        subtree_circuits: node.subtree_circuits,
        plan_down_rate_mbps: mbps(node.rates.down_rate_bps),
        plan_down_ceil_mbps: mbps(node.rates.down_ceil_bps),
        plan_up_rate_mbps: mbps(node.rates.up_rate_bps),
        plan_up_ceil_mbps: mbps(node.rates.up_ceil_bps),
        down_bps,
        up_bps,
    }
}

#[derive(Serialize)]
struct TreeQueue<'a> {
    queue: u16,
    download: Option<Htb<'a>>,
    upload: Option<Htb<'a>>,
    circuits: usize,
    down_bps: u64,
    up_bps: u64,
    nodes: Vec<TreeNode<'a>>,
}

#[derive(Serialize)]
struct Tree<'a> {
    generation: Option<u64>,
    sampled_unix: u64,
    nodes_total: usize,
    circuits_total: usize,
    queues: Vec<TreeQueue<'a>>,
}

#[derive(Serialize)]
struct TreeCircuit<'a> {
    circuit_id: &'a str,
    name: Option<&'a str>,
    download_max_mbps: Option<f64>,
    upload_max_mbps: Option<f64>,
    down_bps: u64,
    up_bps: u64,
}

#[derive(Serialize)]
struct NodeAnswer<'a> {
    generation: Option<u64>,
    node: TreeNode<'a>,
    /// Names from the queue's top-level node down to this one.
    path: Vec<&'a str>,
    children: Vec<TreeNode<'a>>,
    circuits: Vec<TreeCircuit<'a>>,
    circuits_total: usize,
}

fn generation(s: &WebState) -> Option<u64> {
    s.inner.shared.applied().status.applied_generation
}

/// The picture of this second over the live plan.
fn cpu_live(s: &WebState) -> Arc<CpuLive> {
    let shared = &s.inner.shared;
    s.inner
        .cpu
        .get(shared.layout(), &shared.index(), shared.sample())
}

fn render_tree(s: &WebState, live: &CpuLive) -> Result<Bytes, ApiError> {
    let layout: &QueueLayout = &live.layout;
    let catalog = s.catalog();
    let tree = Tree {
        generation: generation(s),
        sampled_unix: live.sample.sampled_unix,
        nodes_total: layout.nodes.len(),
        circuits_total: layout.queues.iter().map(|q| q.circuits).sum(),
        queues: layout
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| TreeQueue {
                queue: q.queue,
                download: htb(&q.download),
                upload: htb(&q.upload),
                circuits: q.circuits,
                down_bps: live.queues[i].0,
                up_bps: live.queues[i].1,
                nodes: q
                    .tops
                    .iter()
                    .map(|&n| tree_node(&catalog, live, n, true))
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_vec(&tree)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("writing JSON", e))
}

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
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
    let live = cpu_live(&s);
    let Some(name) = args.node else {
        if let Some(body) = live.tree_json.get() {
            return Ok(json(body.clone()));
        }
        let body = render_tree(&s, &live)?;
        return Ok(json(live.tree_json.get_or_init(|| body).clone()));
    };
    let cached = live
        .node_json
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&name)
        .cloned();
    if let Some(body) = cached {
        return Ok(json(body));
    }
    let body = render_node(&s, &live, &name)?;
    let mut answers = live.node_json.lock().unwrap_or_else(|p| p.into_inner());
    if answers.len() < MAX_NODE_ANSWERS {
        answers.insert(name, body.clone());
    }
    Ok(json(body))
}

/// `GET /api/cpu/tree?node=NAME`'s answer over this second's picture.
fn render_node(s: &WebState, live: &CpuLive, name: &str) -> Result<Bytes, ApiError> {
    let layout = &live.layout;
    let n = layout
        .node(name)
        .ok_or_else(|| ApiError::NotFound(format!("no node {name:?} in the live plan")))?;
    let node = &layout.nodes[n];
    let mut path = Vec::new();
    let mut up = Some(n);
    while let Some(i) = up {
        path.push(layout.nodes[i].name.as_str());
        up = layout.nodes[i].parent;
    }
    path.reverse();
    let (catalog, view) = (s.catalog(), s.live());
    let circuits = node
        .circuits
        .iter()
        .take(MAX_NODE_CIRCUITS)
        .map(|id| {
            let c = catalog.circuit(id).map(|i| &catalog.circuits[i]);
            let (down_bps, up_bps) = view
                .catalog
                .circuit(id)
                .map_or((0, 0), |i| view.circuits[i]);
            TreeCircuit {
                circuit_id: id,
                name: c.map(|c| c.name.as_str()),
                download_max_mbps: c.map(|c| c.download_max),
                upload_max_mbps: c.map(|c| c.upload_max),
                down_bps,
                up_bps,
            }
        })
        .collect();
    let body = serde_json::to_vec(&NodeAnswer {
        generation: generation(s),
        node: tree_node(&catalog, live, n, node.parent.is_none()),
        path,
        children: node
            .children
            .iter()
            .map(|&c| tree_node(&catalog, live, c, false))
            .collect(),
        circuits,
        circuits_total: node.circuits.len(),
    })
    .map_err(|e| ApiError::internal("writing JSON", e))?;
    Ok(Bytes::from(body))
}

/// One queue's row of the CPU Weights page.
#[derive(Serialize)]
struct WeightRow<'a> {
    queue: u16,
    download: Option<Htb<'a>>,
    upload: Option<Htb<'a>>,
    circuits: usize,
    top_nodes: usize,
    /// Sums of the top-level classes' ceilings (and guaranteed rates) each way, Mbps.
    planned_down_mbps: f64,
    planned_up_mbps: f64,
    planned_down_rate_mbps: f64,
    planned_up_rate_mbps: f64,
    /// What the planner bins by, from the preview (`None` without one).
    weight_mbps: Option<f64>,
    rebalanced_weight_mbps: Option<f64>,
    down_bps: u64,
    up_bps: u64,
    /// Live rate / planned ceiling sum (0..1+), `None` when nothing is planned.
    load_down: Option<f64>,
    load_up: Option<f64>,
}

/// The rebalance preview as the page shows it.
#[derive(Serialize)]
struct PreviewAnswer<'a> {
    available: bool,
    /// Why there is none, or what to keep in mind about it (a dry run's, another plan's).
    reason: Option<String>,
    /// `current`: made with the live plan; `other_generation`; `dry_run`; `none`.
    status: &'static str,
    generation: Option<u64>,
    written_unix: Option<u64>,
    binpacking: Option<bool>,
    entries: usize,
    moves_total: usize,
    moves: &'a [Move],
}

#[derive(Serialize)]
struct Weights<'a> {
    generation: Option<u64>,
    sampled_unix: u64,
    /// What `planned_*_mbps` sums: the top-level classes' HTB ceilings.
    planned_basis: &'static str,
    queues: Vec<WeightRow<'a>>,
    preview: PreviewAnswer<'a>,
}

fn preview_answer<'a>(
    loaded: &'a Result<RebalancePreview, String>,
    live_generation: Option<u64>,
) -> PreviewAnswer<'a> {
    let p = match loaded {
        Ok(p) => p,
        Err(reason) => {
            return PreviewAnswer {
                available: false,
                reason: Some(reason.clone()),
                status: "none",
                generation: None,
                written_unix: None,
                binpacking: None,
                entries: 0,
                moves_total: 0,
                moves: &[],
            }
        }
    };
    let (status, reason) = match (p.generation, live_generation) {
        (None, _) => (
            "dry_run",
            Some("made by a dry run (refresh --dry-run or dry_run in lqos.conf): it describes a plan that was not applied".to_owned()),
        ),
        (Some(g), Some(live)) if g == live => ("current", None),
        (Some(g), live) => (
            "other_generation",
            Some(format!(
                "made with generation {g}, but the live plan is {}: the next refresh writes a new one",
                live.map_or("none".to_owned(), |l| l.to_string())
            )),
        ),
    };
    PreviewAnswer {
        available: true,
        reason,
        status,
        generation: p.generation,
        written_unix: Some(p.written_unix),
        binpacking: Some(p.binpacking),
        entries: p.entries,
        moves_total: p.moves_total,
        moves: &p.moves,
    }
}

/// The preview file, or why it cannot be shown.
fn load_preview(dir: &std::path::Path) -> Result<RebalancePreview, String> {
    RebalancePreview::load(dir).map_err(|e| {
        let path = dir.join(REBALANCE_PREVIEW_FILE);
        match &e {
            lqos_plan::PreviewError::Read(io) if io.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    "{} does not exist yet: lqos-scheduler writes it at its next refresh",
                    path.display()
                )
            }
            _ => format!(
                "{}: {} ({})",
                path.display(),
                e,
                std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
            ),
        }
    })
}

fn render_weights(s: &WebState, live: &CpuLive) -> Result<Bytes, ApiError> {
    let loaded = load_preview(&s.inner.config.state_directory);
    let live_generation = generation(s);
    // A preview of another queue count cannot be matched to these queues.
    let per_queue = loaded
        .as_ref()
        .ok()
        .filter(|p| usize::from(p.queues) == live.layout.queues.len())
        .map(|p| &p.per_queue);
    let layout = &live.layout;
    let queues = layout
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let sum = |f: fn(&crate::queue_layout::Rates) -> u64| -> f64 {
                q.tops
                    .iter()
                    .map(|&n| mbps(f(&layout.nodes[n].rates)))
                    .sum()
            };
            let (planned_down, planned_up) = (sum(|r| r.down_ceil_bps), sum(|r| r.up_ceil_bps));
            let (down_bps, up_bps) = live.queues[i];
            let load = |bps: u64, planned: f64| (planned > 0.0).then(|| mbps(bps) / planned);
            let w = per_queue.and_then(|w| w.iter().find(|w| w.queue == q.queue));
            WeightRow {
                queue: q.queue,
                download: htb(&q.download),
                upload: htb(&q.upload),
                circuits: q.circuits,
                top_nodes: q.tops.len(),
                planned_down_mbps: planned_down,
                planned_up_mbps: planned_up,
                planned_down_rate_mbps: sum(|r| r.down_rate_bps),
                planned_up_rate_mbps: sum(|r| r.up_rate_bps),
                weight_mbps: w.map(|w| w.kept_weight_mbps),
                rebalanced_weight_mbps: w.map(|w| w.rebalanced_weight_mbps),
                down_bps,
                up_bps,
                load_down: load(down_bps, planned_down),
                load_up: load(up_bps, planned_up),
            }
        })
        .collect();
    let mut preview = preview_answer(&loaded, live_generation);
    if let Ok(p) = &loaded {
        if usize::from(p.queues) != layout.queues.len() {
            preview.reason = Some(format!(
                "made for {} queues, but the live plan has {}: the next refresh writes a new one",
                p.queues,
                layout.queues.len()
            ));
            preview.status = "other_generation";
        }
    }
    let answer = Weights {
        generation: live_generation,
        sampled_unix: live.sample.sampled_unix,
        planned_basis: "ceil",
        queues,
        preview,
    };
    serde_json::to_vec(&answer)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("writing JSON", e))
}

/// What identifies a version of the preview file: the scheduler renames a new file over it,
/// so its inode changes with every write even within one tick of the file clock.
pub type PreviewStamp = Option<(u64, u64, std::time::SystemTime)>;

fn preview_stamp(path: &std::path::Path) -> PreviewStamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()?))
}

pub async fn weights(State(s): State<WebState>, _v: Viewer) -> Result<Response, ApiError> {
    let live = cpu_live(&s);
    let stamp = preview_stamp(&s.inner.config.state_directory.join(REBALANCE_PREVIEW_FILE));
    {
        let cached = live.weights_json.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, body)) = cached.as_ref() {
            if *seen == stamp {
                return Ok(json(body.clone()));
            }
        }
    }
    let body = render_weights(&s, &live)?;
    *live.weights_json.lock().unwrap_or_else(|p| p.into_inner()) = Some((stamp, body.clone()));
    Ok(json(body))
}
