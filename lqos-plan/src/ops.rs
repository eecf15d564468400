//! A [`PlanDiff`] as an ordered list of single `tc` operations, each with its inverse, so that
//! an apply that fails part-way can be undone step by step.

use crate::{ClassId, HtbClass, InterfacePlan, PlanDiff, QueuePlan, MQ_MAJOR};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One `tc` command (one line of `tc -batch` input).
#[derive(Debug, Clone, PartialEq)]
pub enum TcOp {
    /// Removes the root qdisc and everything below it. Finding no root qdisc (the device's
    /// default) is not an error: the executor runs it on its own and ignores that case.
    ClearRoot {
        dev: String,
    },
    /// The `mq` root.
    AddRoot {
        dev: String,
    },
    /// One HTB qdisc under an `mq` class.
    AddHtb {
        dev: String,
        mq_minor: u16,
        major: u16,
    },
    AddClass {
        dev: String,
        class: HtbClass,
    },
    /// New rates, burst or quantum for an existing class (same parent).
    ChangeClass {
        dev: String,
        class: HtbClass,
    },
    DelClass {
        dev: String,
        id: ClassId,
    },
    /// Attaches a leaf qdisc to a class that has HTB's default one. `handle`: its major, chosen
    /// by whoever runs the op (lqosd); `None` lets the kernel number it (at most 32,767 per
    /// interface).
    AddLeaf {
        dev: String,
        parent: ClassId,
        spec: Arc<str>,
        handle: Option<u16>,
    },
    /// Swaps a class's leaf qdisc for another (the new one needs a handle the old one lacks).
    ReplaceLeaf {
        dev: String,
        parent: ClassId,
        spec: Arc<str>,
        handle: Option<u16>,
    },
    /// Removes a class's leaf qdisc (HTB's default comes back).
    DelLeaf {
        dev: String,
        parent: ClassId,
    },
}

impl fmt::Display for TcOp {
    /// The `tc -batch` line (without `tc` and without a newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcOp::ClearRoot { dev } => write!(f, "qdisc del dev {dev} root"),
            TcOp::AddRoot { dev } => {
                write!(f, "qdisc replace dev {dev} root handle {MQ_MAJOR:x}: mq")
            }
            TcOp::AddHtb {
                dev,
                mq_minor,
                major,
            } => {
                write!(
                    f,
                    "qdisc add dev {dev} parent {MQ_MAJOR:x}:{mq_minor:x} handle {major:x}: htb"
                )
            }
            TcOp::AddClass { dev, class } => write_class(f, "add", dev, class),
            TcOp::ChangeClass { dev, class } => write_class(f, "change", dev, class),
            TcOp::DelClass { dev, id } => write!(f, "class del dev {dev} classid {id}"),
            TcOp::AddLeaf {
                dev,
                parent,
                spec,
                handle,
            } => {
                write!(
                    f,
                    "qdisc add dev {dev} parent {parent}{} {spec}",
                    Handle(*handle)
                )
            }
            TcOp::ReplaceLeaf {
                dev,
                parent,
                spec,
                handle,
            } => {
                write!(
                    f,
                    "qdisc replace dev {dev} parent {parent}{} {spec}",
                    Handle(*handle)
                )
            }
            TcOp::DelLeaf { dev, parent } => write!(f, "qdisc del dev {dev} parent {parent}"),
        }
    }
}

/// Whether `text` (a leaf qdisc spec, an interface name) stays what it is inside a `tc -batch`
/// line: letters, digits, spaces and `_ . : / - + %` only. tc's batch reader splits lines at
/// newlines, ends them at `#`, joins them at a trailing `\\` and groups words in quotes, so
/// anything else could turn one operation into another, or into two.
pub fn is_batch_text(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '-' | '+' | '%')
    })
}

/// ` handle <hex>:` when there is one.
struct Handle(Option<u16>);

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, " handle {h:x}:"),
            None => Ok(()),
        }
    }
}

fn write_class(f: &mut fmt::Formatter<'_>, verb: &str, dev: &str, c: &HtbClass) -> fmt::Result {
    write!(f, "class {verb} dev {dev} parent ")?;
    match c.parent {
        Some(p) => write!(f, "{p}")?,
        None => write!(f, "{:x}:", c.id.major)?,
    }
    write!(
        f,
        " classid {} htb rate {}bit ceil {}bit burst {} cburst {} quantum {}",
        c.id, c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum
    )
}

/// Operations that belong together: `forward` applied in order; `inverse`, applied in order,
/// undoes `forward` (also when only part of `forward` took effect).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub forward: Vec<TcOp>,
    pub inverse: Vec<TcOp>,
}

/// Every operation that builds `iface` from nothing.
pub fn build_interface(iface: &InterfacePlan) -> Vec<TcOp> {
    let dev = &iface.name;
    let mut ops = vec![
        TcOp::ClearRoot { dev: dev.clone() },
        TcOp::AddRoot { dev: dev.clone() },
    ];
    for q in &iface.htbs {
        ops.push(TcOp::AddHtb {
            dev: dev.clone(),
            mq_minor: q.mq_minor,
            major: q.major,
        });
        for c in &q.classes {
            ops.extend(add_class(dev, c));
        }
    }
    ops
}

/// Creating `class` on `dev`: the class, then its leaf qdisc if it has one.
fn add_class(dev: &str, class: &HtbClass) -> Vec<TcOp> {
    let mut ops = vec![TcOp::AddClass {
        dev: dev.to_owned(),
        class: class.clone(),
    }];
    if let Some(spec) = &class.leaf {
        ops.push(TcOp::AddLeaf {
            dev: dev.to_owned(),
            parent: class.id,
            spec: spec.clone(),
            handle: None,
        });
    }
    ops
}

/// The steps of `diff` (computed from `old` to some new plan), in an order HTB accepts:
/// dropped interfaces, rebuilt interfaces, deletions (children first), changes, additions
/// (parents first), leaf qdisc swaps. Each inverse restores what `old` had.
pub fn steps(diff: &PlanDiff, old: &QueuePlan) -> Vec<Step> {
    let old_ifaces: HashMap<&str, &InterfacePlan> = old
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    // Only the classes that are removed, changed or get another leaf need their old version
    // (for the inverses): look those few up in one pass instead of indexing every class.
    let wanted: std::collections::HashSet<(&str, ClassId)> = diff
        .remove_classes
        .iter()
        .map(|(dev, id)| (dev.as_str(), *id))
        .chain(
            diff.change_classes
                .iter()
                .map(|(dev, c)| (dev.as_str(), c.id)),
        )
        .chain(
            diff.change_leaves
                .iter()
                .map(|(dev, id, _)| (dev.as_str(), *id)),
        )
        .collect();
    let old_classes: HashMap<(&str, ClassId), &HtbClass> = if wanted.is_empty() {
        HashMap::new()
    } else {
        old.interfaces
            .iter()
            .flat_map(|i| {
                i.htbs
                    .iter()
                    .flat_map(move |q| q.classes.iter().map(move |c| ((i.name.as_str(), c.id), c)))
            })
            .filter(|(k, _)| wanted.contains(k))
            .collect()
    };
    let restore_iface = |dev: &str| match old_ifaces.get(dev) {
        Some(i) => build_interface(i),
        None => vec![TcOp::ClearRoot {
            dev: dev.to_owned(),
        }],
    };
    let mut out = Vec::new();
    for dev in &diff.remove_interfaces {
        out.push(Step {
            forward: vec![TcOp::ClearRoot { dev: dev.clone() }],
            inverse: restore_iface(dev),
        });
    }
    for iface in &diff.rebuild {
        out.push(Step {
            forward: build_interface(iface),
            inverse: restore_iface(&iface.name),
        });
    }
    for (dev, id) in &diff.remove_classes {
        let mut inverse = Vec::new();
        if let Some(c) = old_classes.get(&(dev.as_str(), *id)) {
            inverse.push(TcOp::AddClass {
                dev: dev.clone(),
                class: (*c).clone(),
            });
            if let Some(spec) = &c.leaf {
                inverse.push(TcOp::AddLeaf {
                    dev: dev.clone(),
                    parent: c.id,
                    spec: spec.clone(),
                    handle: None,
                });
            }
        }
        out.push(Step {
            forward: vec![TcOp::DelClass {
                dev: dev.clone(),
                id: *id,
            }],
            inverse,
        });
    }
    for (dev, c) in &diff.change_classes {
        let inverse = old_classes
            .get(&(dev.as_str(), c.id))
            .map(|o| {
                vec![TcOp::ChangeClass {
                    dev: dev.clone(),
                    class: (*o).clone(),
                }]
            })
            .unwrap_or_default();
        out.push(Step {
            forward: vec![TcOp::ChangeClass {
                dev: dev.clone(),
                class: c.clone(),
            }],
            inverse,
        });
    }
    for (dev, c) in &diff.add_classes {
        let forward = add_class(dev, c);
        // Deleting the class takes its leaf qdisc with it.
        out.push(Step {
            forward,
            inverse: vec![TcOp::DelClass {
                dev: dev.clone(),
                id: c.id,
            }],
        });
    }
    for (dev, id, leaf) in &diff.change_leaves {
        let old_leaf = old_classes
            .get(&(dev.as_str(), *id))
            .and_then(|c| c.leaf.clone());
        let set = |spec: &Option<Arc<str>>| match spec {
            Some(spec) => TcOp::ReplaceLeaf {
                dev: dev.clone(),
                parent: *id,
                spec: spec.clone(),
                handle: None,
            },
            None => TcOp::DelLeaf {
                dev: dev.clone(),
                parent: *id,
            },
        };
        out.push(Step {
            forward: vec![set(leaf)],
            inverse: vec![set(&old_leaf)],
        });
    }
    out
}

/// The inverse operations that undo the first `done` forward operations of `steps` (a step
/// cut in the middle is undone whole), latest step first.
pub fn rollback(steps: &[Step], done: usize) -> Vec<TcOp> {
    let mut seen = 0;
    let mut touched = Vec::new();
    for s in steps {
        if seen >= done {
            break;
        }
        touched.push(s);
        seen += s.forward.len();
    }
    touched
        .iter()
        .rev()
        .flat_map(|s| s.inverse.iter().cloned())
        .collect()
}
