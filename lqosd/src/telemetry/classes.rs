//! The live plan's HTB classes by circuit and by class id: what `lqos circuit` shows of the
//! plan, and how queue statistics (dumped per interface by class id) find their circuit or
//! node, through hash maps rather than searches.

use lqos_bus::ClassPlan;
use lqos_plan::{ClassOwner, Direction, HtbClass, QueuePlan};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// What a class belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Circuit(Arc<str>),
    Node(Arc<str>),
}

/// A circuit's two classes.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitClasses {
    pub cpu: u32,
    pub download: ClassPlan,
    pub upload: ClassPlan,
}

/// Built after every apply from the live plan.
#[derive(Debug, Default)]
pub struct ClassIndex {
    circuits: FxHashMap<Arc<str>, CircuitClasses>,
    /// (position in `interfaces`, class id as u32) -> owner and direction.
    by_class: FxHashMap<(usize, u32), (Owner, Direction)>,
    /// The interfaces of the plan, in order.
    pub interfaces: Vec<Arc<str>>,
}

fn class_plan(c: &HtbClass) -> ClassPlan {
    ClassPlan {
        classid: c.id.to_string(),
        parent: c.parent.map(|p| p.to_string()),
        rate_mbps: c.rate_bps as f64 / 1e6,
        ceil_mbps: c.ceil_bps as f64 / 1e6,
        leaf: c.leaf.as_deref().map(str::to_owned),
    }
}

impl ClassIndex {
    pub fn new(plan: &QueuePlan) -> Self {
        let mut index = Self::default();
        let mut halves: FxHashMap<Arc<str>, (u32, Option<ClassPlan>, Option<ClassPlan>)> =
            FxHashMap::default();
        for (pos, iface) in plan.interfaces.iter().enumerate() {
            index.interfaces.push(iface.name.as_str().into());
            for q in &iface.htbs {
                for c in &q.classes {
                    let owner = match &c.owner {
                        ClassOwner::Circuit(id) => {
                            let e = halves.entry(id.clone()).or_insert((q.cpu, None, None));
                            match q.direction {
                                Direction::Download => e.1 = Some(class_plan(c)),
                                Direction::Upload => {
                                    e.2 = Some(class_plan(c));
                                    // On a stick the upload CPU is offset; the download one is
                                    // the circuit's.
                                    if e.1.is_none() {
                                        e.0 = q.cpu;
                                    }
                                }
                            }
                            Owner::Circuit(id.clone())
                        }
                        ClassOwner::Node(n) => Owner::Node(n.as_str().into()),
                        ClassOwner::QueueRoot | ClassOwner::LazyPool => continue,
                    };
                    index
                        .by_class
                        .insert((pos, c.id.as_u32()), (owner, q.direction));
                }
            }
        }
        index.circuits = halves
            .into_iter()
            .filter_map(|(id, (cpu, down, up))| {
                Some((
                    id,
                    CircuitClasses {
                        cpu,
                        download: down?,
                        upload: up?,
                    },
                ))
            })
            .collect();
        index
    }

    pub fn circuit(&self, id: &str) -> Option<&CircuitClasses> {
        self.circuits.get(id)
    }

    /// Who owns class `classid` on the plan's interface number `iface`.
    pub fn owner(&self, iface: usize, classid: u32) -> Option<&(Owner, Direction)> {
        self.by_class.get(&(iface, classid))
    }

    pub fn circuit_count(&self) -> usize {
        self.circuits.len()
    }
}
