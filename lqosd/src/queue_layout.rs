//! The live plan seen per CPU queue, for the WebUI's CPU Tree and CPU Weights pages: each
//! queue's HTBs, its top-level nodes and their subtrees (the plan's own tree: virtual nodes
//! gone, deep ones folded), the circuits under each node, and the planned rates. Built once
//! per applied plan (a few ms at 100k circuits), so requests and the per-second live figures
//! only read it.

use lqos_plan::{ClassOwner, Direction, HtbQueue, QueuePlan, QUEUE_ROOT_MINOR};
use std::collections::HashMap;
use std::sync::Arc;

/// One direction's HTB of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHtb {
    pub interface: String,
    pub major: u16,
    /// The CPU whose packets use it (on a stick, upload runs on the upper half).
    pub cpu: u32,
    /// The queue root class's ceiling (the link), bit/s.
    pub ceil_bps: u64,
}

/// A CPU queue: its download and upload HTBs (the same index in both directions: a circuit's
/// two classes are on the same queue) and the nodes at its top.
#[derive(Debug, Clone, Default)]
pub struct QueueEntry {
    /// 0-based.
    pub queue: u16,
    pub download: Option<QueueHtb>,
    pub upload: Option<QueueHtb>,
    /// Indexes into [`QueueLayout::nodes`]: the nodes right under the queue's root class.
    pub tops: Vec<usize>,
    /// Circuits in the whole queue.
    pub circuits: usize,
}

/// Planned rates of a class each way (bit/s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    pub down_rate_bps: u64,
    pub down_ceil_bps: u64,
    pub up_rate_bps: u64,
    pub up_ceil_bps: u64,
}

/// A node class of the plan.
#[derive(Debug, Clone)]
pub struct PlanNode {
    pub name: String,
    /// A generated parent node (unparented circuits), not one of network.json.
    pub generated: bool,
    pub queue: u16,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Circuit ids right under this node.
    pub circuits: Vec<Arc<str>>,
    /// Circuits in the whole subtree.
    pub subtree_circuits: usize,
    pub rates: Rates,
}

/// The live plan by queue. Nodes are listed parents first.
#[derive(Debug, Default)]
pub struct QueueLayout {
    pub queues: Vec<QueueEntry>,
    pub nodes: Vec<PlanNode>,
    by_name: HashMap<String, usize>,
    /// A circuit's download class id (`ClassId::as_u32`) -> its parent node: how a host's
    /// traffic (through its IP mapping) is added to its node.
    circuit_node: HashMap<u32, u32>,
}

impl QueueLayout {
    /// The layout of `plan`.
    pub fn of(plan: &QueuePlan) -> Self {
        let htbs = |dir: Direction| -> Vec<(&str, &HtbQueue)> {
            plan.interfaces
                .iter()
                .flat_map(|i| i.htbs.iter().map(move |q| (i.name.as_str(), q)))
                .filter(|(_, q)| q.direction == dir)
                .collect()
        };
        let (down, up) = (htbs(Direction::Download), htbs(Direction::Upload));
        let side = |(interface, q): (&str, &HtbQueue)| QueueHtb {
            interface: interface.to_owned(),
            major: q.major,
            cpu: q.cpu,
            ceil_bps: q
                .classes
                .iter()
                .find(|c| c.owner == ClassOwner::QueueRoot)
                .map_or(0, |c| c.ceil_bps),
        };
        let count = down.len().max(up.len()).max(usize::from(plan.queues));
        let mut layout = QueueLayout {
            queues: (0..count)
                .map(|q| QueueEntry {
                    queue: q as u16,
                    download: down.get(q).copied().map(side),
                    upload: up.get(q).copied().map(side),
                    ..QueueEntry::default()
                })
                .collect(),
            ..QueueLayout::default()
        };
        for (q, (_, htb)) in down.iter().enumerate() {
            layout.add_download(q as u16, htb);
        }
        for (_, htb) in &up {
            for c in &htb.classes {
                if let ClassOwner::Node(name) = &c.owner {
                    if let Some(&n) = layout.by_name.get(name) {
                        layout.nodes[n].rates.up_rate_bps = c.rate_bps;
                        layout.nodes[n].rates.up_ceil_bps = c.ceil_bps;
                    }
                }
            }
        }
        // Parents come first: a reverse sweep sums the subtrees bottom-up.
        for n in (0..layout.nodes.len()).rev() {
            let here = layout.nodes[n].subtree_circuits + layout.nodes[n].circuits.len();
            layout.nodes[n].subtree_circuits = here;
            if let Some(p) = layout.nodes[n].parent {
                layout.nodes[p].subtree_circuits += here;
            }
        }
        for q in 0..layout.queues.len() {
            let total = layout.queues[q]
                .tops
                .iter()
                .map(|&n| layout.nodes[n].subtree_circuits)
                .sum::<usize>();
            layout.queues[q].circuits += total;
        }
        layout
    }

    /// The node classes and circuits of one download HTB (parents come before children).
    fn add_download(&mut self, queue: u16, htb: &HtbQueue) {
        let mut by_minor: HashMap<u16, usize> = HashMap::new();
        for c in &htb.classes {
            let parent = c
                .parent
                .filter(|p| p.minor != QUEUE_ROOT_MINOR)
                .and_then(|p| by_minor.get(&p.minor).copied());
            match &c.owner {
                ClassOwner::Node(name) => {
                    let n = self.nodes.len();
                    self.nodes.push(PlanNode {
                        name: name.clone(),
                        generated: parent.is_none() && name.starts_with("Generated_PN_"),
                        queue,
                        parent,
                        children: Vec::new(),
                        circuits: Vec::new(),
                        subtree_circuits: 0,
                        rates: Rates {
                            down_rate_bps: c.rate_bps,
                            down_ceil_bps: c.ceil_bps,
                            ..Rates::default()
                        },
                    });
                    match parent {
                        Some(p) => self.nodes[p].children.push(n),
                        None => self.queues[usize::from(queue)].tops.push(n),
                    }
                    by_minor.insert(c.id.minor, n);
                    self.by_name.insert(name.clone(), n);
                }
                ClassOwner::Circuit(id) => match parent {
                    Some(p) => {
                        self.nodes[p].circuits.push(id.clone());
                        self.circuit_node.insert(c.id.as_u32(), p as u32);
                    }
                    // Not made by this planner; counted with its queue all the same.
                    None => self.queues[usize::from(queue)].circuits += 1,
                },
                ClassOwner::QueueRoot | ClassOwner::LazyPool => {}
            }
        }
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The node a circuit's download class (`ClassId::as_u32`) hangs from.
    pub fn node_of_class(&self, download_class: u32) -> Option<usize> {
        self.circuit_node.get(&download_class).map(|&n| n as usize)
    }

    /// The queue's top-level node above `node`.
    pub fn top_of(&self, node: usize) -> usize {
        let mut n = node;
        while let Some(p) = self.nodes[n].parent {
            n = p;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_plan::{ClassId, HtbClass, InterfacePlan};

    fn class(major: u16, minor: u16, parent: Option<u16>, owner: ClassOwner, bps: u64) -> HtbClass {
        HtbClass {
            id: ClassId::new(major, minor),
            parent: parent.map(|p| ClassId::new(major, p)),
            rate_bps: bps / 2,
            ceil_bps: bps,
            burst: 1,
            cburst: 1,
            quantum: 1,
            owner,
            leaf: None,
        }
    }

    fn htb(major: u16, direction: Direction, scale: u64) -> HtbQueue {
        let node = |n: &str| ClassOwner::Node(n.into());
        let circuit = |c: &str| ClassOwner::Circuit(c.into());
        let classes = if major == 1 {
            vec![
                class(1, 1, None, ClassOwner::QueueRoot, 1000 * scale),
                class(1, 2, Some(1), node("Site"), 500 * scale),
                class(1, 3, Some(2), node("AP"), 100 * scale),
                class(1, 4, Some(3), circuit("C1"), 10 * scale),
                class(1, 5, Some(3), circuit("C2"), 10 * scale),
                class(1, 6, Some(2), circuit("C3"), 10 * scale),
            ]
        } else {
            vec![
                class(2, 1, None, ClassOwner::QueueRoot, 1000 * scale),
                class(2, 2, Some(1), node("Generated_PN_2"), 200 * scale),
                class(2, 3, Some(2), circuit("C4"), 10 * scale),
            ]
        };
        HtbQueue {
            major,
            mq_minor: major,
            direction,
            cpu: u32::from(major) - 1,
            classes,
        }
    }

    #[test]
    fn nodes_circuits_and_rates_by_queue() {
        let plan = QueuePlan {
            queues: 2,
            interfaces: vec![
                InterfacePlan {
                    name: "subs".into(),
                    htbs: vec![
                        htb(1, Direction::Download, 2),
                        htb(2, Direction::Download, 2),
                    ],
                },
                InterfacePlan {
                    name: "inet".into(),
                    htbs: vec![htb(1, Direction::Upload, 1), htb(2, Direction::Upload, 1)],
                },
            ],
            mappings: Vec::new(),
        };
        let l = QueueLayout::of(&plan);
        assert_eq!(l.queues.len(), 2);
        let q0 = &l.queues[0];
        assert_eq!(
            q0.download
                .as_ref()
                .map(|h| (h.interface.as_str(), h.major, h.ceil_bps)),
            Some(("subs", 1, 2000))
        );
        assert_eq!(
            q0.upload.as_ref().map(|h| h.interface.as_str()),
            Some("inet")
        );
        assert_eq!(q0.circuits, 3);
        assert_eq!(l.queues[1].circuits, 1);
        let site = l.node("Site").unwrap();
        assert_eq!(q0.tops, [site]);
        let ap = l.node("AP").unwrap();
        assert_eq!(l.nodes[site].children, [ap]);
        assert_eq!(
            (l.nodes[site].subtree_circuits, l.nodes[ap].subtree_circuits),
            (3, 2)
        );
        assert_eq!(l.nodes[ap].circuits.len(), 2);
        assert_eq!(
            l.nodes[site].rates,
            Rates {
                down_rate_bps: 500,
                down_ceil_bps: 1000,
                up_rate_bps: 250,
                up_ceil_bps: 500
            }
        );
        let generated = l.node("Generated_PN_2").unwrap();
        assert!(l.nodes[generated].generated && !l.nodes[site].generated);
        assert_eq!(l.nodes[generated].queue, 1);
        assert_eq!(l.node_of_class(ClassId::new(1, 4).as_u32()), Some(ap));
        assert_eq!(l.node_of_class(ClassId::new(1, 6).as_u32()), Some(site));
        assert_eq!(
            l.node_of_class(ClassId::new(2, 3).as_u32()),
            Some(generated)
        );
        assert_eq!(l.top_of(ap), site);
    }
}
