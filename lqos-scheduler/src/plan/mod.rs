//! The planner: validated inputs in, a [`QueuePlan`] value out. Pure: no kernel, no files.

mod assign;
pub mod cost;
mod layout;
mod leaves;
mod preview;
mod rates;
mod tree;

pub use assign::AssignOptions;
pub use layout::{queue_layout, InputsOnly, Machine, QueueLayout, ThisMachine};
use leaves::Leaves;
pub use leaves::SLOW_CAKE_RTT;
use preview::rebalance_preview;
pub use rates::mbps_to_bps;

use assign::{Entity, Item};
use lqos_config::{Config, Diagnostic, Diagnostics, Inputs, Interfaces, Location, Severity};
use lqos_plan::{
    burst_bytes, quantum_bytes, ClassId, ClassIdState, ClassOwner, Direction, HtbClass, HtbQueue,
    InterfacePlan, IpMapping, QueuePlan, QUEUE_ROOT_MINOR,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("queue {} needs {needed} HTB classes but a queue holds at most {max} (16-bit minors): raise override_available_queues or spread top-level nodes", .queue + 1)]
    TooManyClasses {
        queue: u16,
        needed: usize,
        max: usize,
    },
    #[error("the plan maps {needed} prefixes but the kernel IP map holds {capacity}: raise [lqosd] ip_map_capacity")]
    IpMapFull { needed: usize, capacity: u32 },
    #[error(
        "interface {interface:?} does not exist (check [bridge]/[single_interface] in lqos.conf)"
    )]
    InterfaceMissing { interface: String },
    #[error("interface {interface:?} has a single tx queue: lqos shapes under an mq root, which needs a multi-queue interface (enable more queues with `ethtool -L`; a veth needs numtxqueues)")]
    NotMultiQueue { interface: String },
    #[error("interface {interface:?} has {have} tx queue(s) but {need} are needed")]
    TooFewTxQueues {
        interface: String,
        have: u16,
        need: u16,
    },
    #[error("interface {interface:?} needs {needed} leaf qdiscs but an interface holds at most {max} (16-bit qdisc handles): use sqm \"none\" for some circuits, or shape them on another interface")]
    TooManyLeafQdiscs {
        interface: String,
        needed: usize,
        max: usize,
    },
}

/// A plan, the class ids to remember for the next one, and what the planner adjusted.
#[derive(Debug)]
pub struct Planned {
    pub plan: QueuePlan,
    pub state: ClassIdState,
    pub notes: Diagnostics,
    /// What `refresh --rebalance` would move from this plan's binning (its `generation`,
    /// `dry_run` and `written_unix` are the caller's to fill).
    pub preview: lqos_plan::RebalancePreview,
}

/// Builds the plan for `queues` CPU queues per direction. `previous` keeps class ids stable.
pub fn plan(
    inputs: &Inputs,
    config: &Config,
    queues: u16,
    previous: Option<&ClassIdState>,
    opts: AssignOptions,
) -> Result<Planned, PlanError> {
    let mut notes = Diagnostics::default();
    let tree = tree::build(inputs, &mut notes);
    let (per_queue, state, binning) = assign::assign(&tree, inputs, queues, previous, opts)?;
    let preview = rebalance_preview(&tree, inputs, queues, &binning, opts.binpacking);
    let ctx = Context {
        inputs,
        config,
        tree: &tree,
        per_queue: &per_queue,
        queues,
        ids: inputs
            .circuits
            .iter()
            .map(|c| c.id.as_str().into())
            .collect(),
        leaves: Leaves::new(config),
    };
    // The two directions are independent: one per core.
    let ((down, down_notes), (up, up_notes)) = std::thread::scope(|s| {
        let up = s.spawn(|| ctx.direction(Direction::Upload));
        let down = ctx.direction(Direction::Download);
        (
            down,
            up.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    notes.extend(down_notes);
    notes.extend(up_notes);
    let interfaces = match &config.interfaces {
        Interfaces::Bridge {
            to_internet,
            to_network,
        } => vec![
            InterfacePlan {
                name: to_network.clone(),
                htbs: down,
            },
            InterfacePlan {
                name: to_internet.clone(),
                htbs: up,
            },
        ],
        Interfaces::OnAStick { interface, .. } => vec![InterfacePlan {
            name: interface.clone(),
            htbs: down.into_iter().chain(up).collect(),
        }],
    };
    let mut mappings = Vec::with_capacity(inputs.circuits.len() * 3);
    for (qi, items) in per_queue.iter().enumerate() {
        let qi = qi as u16;
        for it in &items.items {
            if let Entity::Circuit(c) = it.entity {
                for prefix in inputs.circuits[c].devices.iter().flat_map(|d| &d.ips) {
                    mappings.push(IpMapping {
                        prefix: *prefix,
                        cpu: qi as u32,
                        download: ClassId::new(ctx.major(Direction::Download, qi), it.minor),
                        upload: ClassId::new(ctx.major(Direction::Upload, qi), it.minor),
                        circuit_id: ctx.ids[c].clone(),
                    });
                }
            }
        }
    }
    for iface in &interfaces {
        let leaves = iface
            .htbs
            .iter()
            .flat_map(|q| &q.classes)
            .filter(|c| c.leaf.is_some())
            .count();
        if leaves > lqos_plan::MAX_LEAF_QDISCS {
            return Err(PlanError::TooManyLeafQdiscs {
                interface: iface.name.clone(),
                needed: leaves,
                max: lqos_plan::MAX_LEAF_QDISCS,
            });
        }
    }
    if mappings.len() > config.lqosd.ip_map_capacity as usize {
        return Err(PlanError::IpMapFull {
            needed: mappings.len(),
            capacity: config.lqosd.ip_map_capacity,
        });
    }
    Ok(Planned {
        plan: QueuePlan {
            queues,
            interfaces,
            mappings,
        },
        state,
        notes,
        preview,
    })
}

/// What building one direction needs.
struct Context<'a> {
    inputs: &'a Inputs,
    config: &'a Config,
    tree: &'a tree::ShapeTree,
    per_queue: &'a [assign::QueueItems],
    queues: u16,
    ids: Vec<Arc<str>>,
    leaves: Leaves,
}

impl Context<'_> {
    /// HTB major of a queue: on a stick, upload queues follow the download ones.
    fn major(&self, dir: Direction, queue: u16) -> u16 {
        match (&self.config.interfaces, dir) {
            (Interfaces::OnAStick { .. }, Direction::Upload) => self.queues + queue + 1,
            _ => queue + 1,
        }
    }

    /// Every HTB of one direction, with what the planner adjusted there.
    fn direction(&self, dir: Direction) -> (Vec<HtbQueue>, Diagnostics) {
        let q = &self.config.queues;
        let (link, generated) = match dir {
            Direction::Download => (
                mbps_to_bps(q.downlink_bandwidth_mbps),
                q.generated_pn_download_mbps,
            ),
            Direction::Upload => (
                mbps_to_bps(q.uplink_bandwidth_mbps),
                q.generated_pn_upload_mbps,
            ),
        };
        let mut notes = Diagnostics::default();
        let mut htbs = Vec::with_capacity(self.per_queue.len());
        for (qi, items) in self.per_queue.iter().enumerate() {
            let qi = qi as u16;
            let items = &items.items;
            let r = rates::compute(items, self.tree, self.inputs, link, generated, dir);
            report(&r, items, self.tree, self.inputs, dir, qi, &mut notes);
            let maj = self.major(dir, qi);
            let mut classes = Vec::with_capacity(items.len() + 1);
            classes.push(class(
                ClassId::new(maj, QUEUE_ROOT_MINOR),
                None,
                link,
                link,
                ClassOwner::QueueRoot,
                None,
            ));
            for (i, it) in items.iter().enumerate() {
                let parent =
                    ClassId::new(maj, it.parent.map_or(QUEUE_ROOT_MINOR, |p| items[p].minor));
                let (owner, leaf) = match it.entity {
                    Entity::Generated => (ClassOwner::Node(generated_name(qi)), None),
                    Entity::Node(n) => (ClassOwner::Node(self.tree.nodes[n].name.clone()), None),
                    Entity::Circuit(c) => {
                        let circuit = &self.inputs.circuits[c];
                        (
                            ClassOwner::Circuit(self.ids[c].clone()),
                            self.leaves.pick(circuit, dir, self.config),
                        )
                    }
                };
                classes.push(class(
                    ClassId::new(maj, it.minor),
                    Some(parent),
                    r.rate[i],
                    r.ceil[i],
                    owner,
                    leaf,
                ));
            }
            // On a stick, upload runs on the upper half of the CPUs (the data plane adds the
            // queue count to a mapping's CPU for upload).
            let stick_upload = dir == Direction::Upload
                && matches!(self.config.interfaces, Interfaces::OnAStick { .. });
            htbs.push(HtbQueue {
                major: maj,
                mq_minor: maj,
                direction: dir,
                cpu: u32::from(qi)
                    + if stick_upload {
                        u32::from(self.queues)
                    } else {
                        0
                    },
                classes,
            });
        }
        (htbs, notes)
    }
}

/// Name of the generated parent node of a 0-based queue (as LibreQoS names them).
pub fn generated_name(queue: u16) -> String {
    format!("Generated_PN_{}", queue + 1)
}

fn class(
    id: ClassId,
    parent: Option<ClassId>,
    rate: u64,
    ceil: u64,
    owner: ClassOwner,
    leaf: Option<Arc<str>>,
) -> HtbClass {
    HtbClass {
        id,
        parent,
        rate_bps: rate,
        ceil_bps: ceil,
        burst: burst_bytes(rate),
        cburst: burst_bytes(ceil),
        quantum: quantum_bytes(rate),
        owner,
        leaf,
    }
}

fn report(
    r: &rates::Rates,
    items: &[Item],
    tree: &tree::ShapeTree,
    inputs: &Inputs,
    dir: Direction,
    queue: u16,
    notes: &mut Diagnostics,
) {
    let name = |i: Option<usize>| -> String {
        match i.map(|i| items[i].entity) {
            None => format!("queue {} root", queue + 1),
            Some(Entity::Generated) => generated_name(queue),
            Some(Entity::Node(n)) => tree.nodes[n].name.clone(),
            Some(Entity::Circuit(c)) => format!("circuit {}", inputs.circuits[c].id),
        }
    };
    let mbps = |bps: u64| bps as f64 / 1e6;
    for &(parent, sum, have) in &r.scaled {
        notes.push(Diagnostic::new(Severity::Info, "plan", Location::File, format!(
            "{dir}: the minimums under {} add up to {:.1} Mbps but it has {:.1} Mbps: each guarantee scaled by {:.3}",
            name(parent), mbps(sum), mbps(have), have as f64 / sum as f64)));
    }
    let mut by_parent: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for &i in &r.clamped {
        by_parent
            .entry(name(items[i].parent))
            .or_default()
            .push(name(Some(i)));
    }
    for (parent, children) in by_parent {
        let shown: Vec<&str> = children.iter().map(String::as_str).collect();
        notes.push(Diagnostic::new(
            Severity::Warning,
            "plan",
            Location::File,
            format!(
                "{dir}: {} class(es) ask for a higher ceiling than {parent} has; clamped to it: {}",
                children.len(),
                tree::preview(&shown)
            ),
        ));
    }
}
