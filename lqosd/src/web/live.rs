//! The live picture the WebUI shows, computed once per counter sample (every second) and
//! shared by every request: rates per circuit, per node (summed up the tree) and per CPU
//! queue, the busiest circuits and hosts, and a few minutes of history.

use super::catalog::Catalog;
use crate::prefix_index::PrefixIndex;
use crate::throughput::Sample;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds of history kept for the charts.
pub const HISTORY: usize = 300;
/// Entries of each "top" list.
pub const TOP: usize = 10;
/// Circuits whose history is kept, at most: the ones someone looked at recently.
const MAX_WATCHED: usize = 1000;
/// A circuit nobody looked at for this long is no longer watched.
const WATCH_FOR: Duration = Duration::from_secs(600);

/// One second of a chart: rates in bit/s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Point {
    pub t_unix: u64,
    pub down_bps: u64,
    pub up_bps: u64,
}

/// A busy host and its circuit (index into the catalog), bit/s.
#[derive(Debug, Clone)]
pub struct HostRate {
    pub addr: IpAddr,
    pub circuit: Option<usize>,
    pub down_bps: u64,
    pub up_bps: u64,
}

/// One second's picture, against the catalog it was computed with.
#[derive(Debug, Default)]
pub struct LiveView {
    pub catalog: Arc<Catalog>,
    pub sample: Arc<Sample>,
    /// Indexed like `catalog.circuits`.
    pub circuits: Vec<(u64, u64)>,
    /// Indexed like `catalog.nodes`: everything below each node.
    pub nodes: Vec<(u64, u64)>,
    /// Every CPU that carries a mapping, by CPU.
    pub queues: Vec<lqos_bus::QueueLoad>,
    pub top_circuits_down: Vec<usize>,
    pub top_circuits_up: Vec<usize>,
    pub top_hosts_down: Vec<HostRate>,
    pub top_hosts_up: Vec<HostRate>,
    pub down_bps: u64,
    pub up_bps: u64,
}

fn top_by<T: Clone>(items: &[T], key: impl Fn(&T) -> u64) -> Vec<T> {
    let mut v: Vec<&T> = items.iter().filter(|x| key(x) > 0).collect();
    let n = TOP.min(v.len());
    if n == 0 {
        return Vec::new();
    }
    v.select_nth_unstable_by(n - 1, |a, b| key(b).cmp(&key(a)));
    v.truncate(n);
    v.sort_by_key(|x| std::cmp::Reverse(key(x)));
    v.into_iter().cloned().collect()
}

impl LiveView {
    /// The picture of `sample`: each host's traffic goes to the circuit its prefix maps to
    /// in the live plan (`index`), and up that circuit's nodes.
    pub fn compute(catalog: Arc<Catalog>, index: &PrefixIndex, sample: Arc<Sample>) -> Self {
        let mut circuits = vec![(0u64, 0u64); catalog.circuits.len()];
        let mut hosts = Vec::with_capacity(sample.hosts.len());
        for &(addr, d, u) in &sample.hosts {
            let circuit = index
                .lookup(addr)
                .and_then(|m| catalog.circuit(&m.circuit_id));
            if let Some(c) = circuit {
                circuits[c].0 += d;
                circuits[c].1 += u;
            }
            hosts.push(HostRate {
                addr,
                circuit,
                down_bps: d,
                up_bps: u,
            });
        }
        let mut nodes = vec![(0u64, 0u64); catalog.nodes.len()];
        for (i, c) in catalog.circuits.iter().enumerate() {
            let (d, u) = circuits[i];
            if d == 0 && u == 0 {
                continue;
            }
            let mut up = c.parent;
            while let Some(n) = up {
                nodes[n].0 += d;
                nodes[n].1 += u;
                up = catalog.nodes[n].parent;
            }
        }
        let queues = crate::throughput::queue_load(&sample, index);
        let ids: Vec<usize> = (0..circuits.len()).collect();
        let down_bps = sample.hosts.iter().map(|h| h.1).sum::<u64>() + sample.unknown.0;
        let up_bps = sample.hosts.iter().map(|h| h.2).sum::<u64>() + sample.unknown.1;
        LiveView {
            top_circuits_down: top_by(&ids, |&i| circuits[i].0),
            top_circuits_up: top_by(&ids, |&i| circuits[i].1),
            top_hosts_down: top_by(&hosts, |h| h.down_bps),
            top_hosts_up: top_by(&hosts, |h| h.up_bps),
            catalog,
            sample,
            circuits,
            nodes,
            queues,
            down_bps,
            up_bps,
        }
    }

    /// The totals as a chart point.
    pub fn point(&self) -> Point {
        Point {
            t_unix: self.sample.sampled_unix,
            down_bps: self.down_bps,
            up_bps: self.up_bps,
        }
    }
}

/// The history behind the charts: the totals, and the circuits someone is looking at.
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<HistoryInner>,
}

#[derive(Debug, Default)]
struct HistoryInner {
    total: VecDeque<Point>,
    watched: HashMap<String, (Instant, VecDeque<Point>)>,
}

fn push(q: &mut VecDeque<Point>, p: Point) {
    if q.back().is_some_and(|b| b.t_unix == p.t_unix) {
        return;
    }
    if q.len() >= HISTORY {
        q.pop_front();
    }
    q.push_back(p);
}

impl History {
    /// Records a new view (once per sample).
    /// Records a new view (once per sample).
    pub fn record(&self, view: &LiveView) {
        let mut h = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if view.sample.sampled_unix == 0 {
            return;
        }
        push(&mut h.total, view.point());
        let now = Instant::now();
        h.watched
            .retain(|_, (seen, _)| now.duration_since(*seen) < WATCH_FOR);
        for (id, (_, q)) in h.watched.iter_mut() {
            let (down_bps, up_bps) = view
                .catalog
                .circuit(id)
                .map_or((0, 0), |i| view.circuits[i]);
            push(
                q,
                Point {
                    t_unix: view.sample.sampled_unix,
                    down_bps,
                    up_bps,
                },
            );
        }
    }

    /// The totals' history, oldest first.
    pub fn total(&self) -> Vec<Point> {
        let h = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        h.total.iter().copied().collect()
    }

    /// The circuit's history, and from now on it is kept (for [`WATCH_FOR`]).
    pub fn watch(&self, circuit_id: &str) -> Vec<Point> {
        let mut h = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((seen, q)) = h.watched.get_mut(circuit_id) {
            *seen = now;
            return q.iter().copied().collect();
        }
        if h.watched.len() >= MAX_WATCHED {
            if let Some(oldest) = h
                .watched
                .iter()
                .min_by_key(|(_, (seen, _))| *seen)
                .map(|(k, _)| k.clone())
            {
                h.watched.remove(&oldest);
            }
        }
        h.watched
            .insert(circuit_id.to_owned(), (now, VecDeque::new()));
        Vec::new()
    }
}
