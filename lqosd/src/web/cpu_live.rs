//! Live throughput per CPU queue and per node of the live plan, for the CPU Tree and CPU
//! Weights pages. Each host of the counter sample is added to its circuit's node through its IP
//! mapping (one prefix look-up, one hash look-up by class id), then summed up the plan's tree:
//! no request ever walks the circuits. It is computed once per second while someone looks at
//! these pages (and on the first request after a pause), and its JSON is rendered once per
//! computation, so a request costs a clone of bytes.

use crate::prefix_index::PrefixIndex;
use crate::queue_layout::QueueLayout;
use crate::throughput::Sample;
use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long after the last request the picture is still kept live every second.
const KEEP_LIVE: Duration = Duration::from_secs(30);

/// One second's rates by the live plan's queues and nodes.
#[derive(Debug)]
pub struct CpuLive {
    pub layout: Arc<QueueLayout>,
    pub sample: Arc<Sample>,
    /// Indexed like `layout.nodes`: each node's subtree, bit/s (down, up).
    pub nodes: Vec<(u64, u64)>,
    /// Indexed like `layout.queues`.
    pub queues: Vec<(u64, u64)>,
    computed: Instant,
    /// `GET /api/cpu/tree` (top level), rendered on first use.
    pub tree_json: OnceLock<Bytes>,
    /// `GET /api/cpu/weights` with the preview file of this stamp, rendered on first use.
    pub weights_json: Mutex<Option<(super::cpu::PreviewStamp, Bytes)>>,
    /// `GET /api/cpu/tree?node=` by node name, rendered on first use (at most
    /// [`MAX_NODE_ANSWERS`] per second's picture).
    pub node_json: Mutex<HashMap<String, Bytes>>,
}

/// Node answers kept per second's picture.
pub const MAX_NODE_ANSWERS: usize = 64;

impl CpuLive {
    /// The rates of `sample` over `layout` (both from the same live plan as `index`).
    pub fn compute(layout: Arc<QueueLayout>, index: &PrefixIndex, sample: Arc<Sample>) -> Self {
        let mut nodes = vec![(0u64, 0u64); layout.nodes.len()];
        for &(addr, d, u) in &sample.hosts {
            let Some(m) = index.lookup(addr) else {
                continue;
            };
            if let Some(n) = layout.node_of_class(m.download.as_u32()) {
                nodes[n].0 += d;
                nodes[n].1 += u;
            }
        }
        // Parents come first: a reverse sweep adds each subtree to its parent.
        for n in (0..nodes.len()).rev() {
            if let Some(p) = layout.nodes[n].parent {
                nodes[p].0 += nodes[n].0;
                nodes[p].1 += nodes[n].1;
            }
        }
        let queues = layout
            .queues
            .iter()
            .map(|q| {
                q.tops
                    .iter()
                    .fold((0, 0), |(d, u), &n| (d + nodes[n].0, u + nodes[n].1))
            })
            .collect();
        CpuLive {
            layout,
            sample,
            nodes,
            queues,
            computed: Instant::now(),
            tree_json: OnceLock::new(),
            weights_json: Mutex::new(None),
            node_json: Mutex::new(HashMap::new()),
        }
    }
}

/// The latest [`CpuLive`], kept fresh while someone looks at the CPU pages.
#[derive(Debug, Default)]
pub struct CpuCache {
    latest: Mutex<Option<Arc<CpuLive>>>,
    /// Milliseconds since `epoch` until which the ticker keeps computing it.
    wanted_until_ms: AtomicU64,
    epoch: OnceLock<Instant>,
}

impl CpuCache {
    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    /// Whether someone asked within [`KEEP_LIVE`].
    fn wanted(&self) -> bool {
        self.now_ms() < self.wanted_until_ms.load(Ordering::Relaxed)
    }

    /// Every second (the WebUI's ticker): recomputes while the pages are looked at.
    pub fn tick(&self, layout: Arc<QueueLayout>, index: &PrefixIndex, sample: Arc<Sample>) {
        if !self.wanted() {
            // Nobody looks: drop the picture (and the sample it holds).
            *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return;
        }
        let fresh = Arc::new(CpuLive::compute(layout, index, sample));
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
    }

    /// The picture for a request: the ticker's, unless the plan changed since or nobody
    /// looked for a while (then computed now, once, whoever else waits for it).
    pub fn get(
        &self,
        layout: Arc<QueueLayout>,
        index: &PrefixIndex,
        sample: Arc<Sample>,
    ) -> Arc<CpuLive> {
        self.wanted_until_ms.store(
            self.now_ms() + KEEP_LIVE.as_millis() as u64,
            Ordering::Relaxed,
        );
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = latest.as_ref() {
            let fresh = Arc::ptr_eq(&l.sample, &sample)
                || l.computed.elapsed() < crate::throughput::INTERVAL * 3 / 2;
            if Arc::ptr_eq(&l.layout, &layout) && fresh {
                return l.clone();
            }
        }
        let computed = Arc::new(CpuLive::compute(layout, index, sample));
        *latest = Some(computed.clone());
        computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_plan::{
        ClassId, ClassOwner, Direction, HtbClass, HtbQueue, InterfacePlan, IpMapping, QueuePlan,
    };

    fn class(minor: u16, parent: Option<u16>, owner: ClassOwner) -> HtbClass {
        HtbClass {
            id: ClassId::new(1, minor),
            parent: parent.map(|p| ClassId::new(1, p)),
            rate_bps: 1,
            ceil_bps: 1,
            burst: 1,
            cburst: 1,
            quantum: 1,
            owner,
            leaf: None,
        }
    }

    #[test]
    fn hosts_add_up_to_their_nodes_ancestors_and_queue() {
        let node = |n: &str| ClassOwner::Node(n.into());
        let plan = QueuePlan {
            queues: 1,
            interfaces: vec![InterfacePlan {
                name: "subs".into(),
                htbs: vec![HtbQueue {
                    major: 1,
                    mq_minor: 1,
                    direction: Direction::Download,
                    cpu: 0,
                    classes: vec![
                        class(1, None, ClassOwner::QueueRoot),
                        class(2, Some(1), node("Site")),
                        class(3, Some(2), node("AP")),
                        class(4, Some(3), ClassOwner::Circuit("C1".into())),
                        class(5, Some(2), ClassOwner::Circuit("C2".into())),
                    ],
                }],
            }],
            mappings: Vec::new(),
        };
        let mapping = |prefix: &str, minor: u16, id: &str| IpMapping {
            prefix: prefix.parse().unwrap(),
            cpu: 0,
            download: ClassId::new(1, minor),
            upload: ClassId::new(1, minor),
            circuit_id: id.into(),
        };
        let index = PrefixIndex::new(&[
            mapping("100.64.0.1/32", 4, "C1"),
            mapping("100.64.0.8/29", 4, "C1"),
            mapping("100.64.0.2/32", 5, "C2"),
        ]);
        let sample = Arc::new(Sample {
            hosts: vec![
                ("100.64.0.1".parse().unwrap(), 100, 10),
                ("100.64.0.9".parse().unwrap(), 50, 5),
                ("100.64.0.2".parse().unwrap(), 7, 1),
                // In no circuit: in no node either.
                ("100.64.9.9".parse().unwrap(), 1000, 1000),
            ],
            ..Sample::default()
        });
        let layout = Arc::new(QueueLayout::of(&plan));
        let live = CpuLive::compute(layout.clone(), &index, sample.clone());
        let (site, ap) = (layout.node("Site").unwrap(), layout.node("AP").unwrap());
        assert_eq!(live.nodes[ap], (150, 15));
        assert_eq!(live.nodes[site], (157, 16));
        assert_eq!(live.queues, [(157, 16)]);

        // The cache hands out the same picture for the same sample, a new one for a new plan.
        let cache = CpuCache::default();
        let a = cache.get(layout.clone(), &index, sample.clone());
        let b = cache.get(layout.clone(), &index, sample.clone());
        assert!(Arc::ptr_eq(&a, &b));
        let other = Arc::new(QueueLayout::of(&plan));
        let c = cache.get(other, &index, sample.clone());
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.nodes[site], (157, 16));
    }
}
