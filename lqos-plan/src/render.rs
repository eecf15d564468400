//! Rendering a plan as `tc -batch` text and as IP mapping lines.

use crate::{ClassOwner, QueuePlan, MQ_MAJOR};
use std::fmt::Write;

/// The line that separates the `tc -batch` text from the IP mappings in `--dry-run` output.
pub const MAPPINGS_HEADER: &str = "# ip mappings: prefix cpu classid direction circuit_id";

/// The plan as `tc -batch` input: an `mq` root per interface, an HTB per queue, every class in
/// parent-first order, and each leaf qdisc. Comment lines name the node or circuit.
pub fn render_tc(plan: &QueuePlan) -> String {
    let mut out = String::with_capacity(plan.classes().count() * 160);
    for iface in &plan.interfaces {
        let dev = &iface.name;
        // `replace` so a leftover tree is swapped out in one step on a fresh apply.
        let _ = writeln!(out, "qdisc replace dev {dev} root handle {MQ_MAJOR:x}: mq");
        for q in &iface.htbs {
            let _ = writeln!(
                out,
                "# {dev} queue {} ({}, cpu {})",
                q.mq_minor, q.direction, q.cpu
            );
            let _ = writeln!(
                out,
                "qdisc add dev {dev} parent {MQ_MAJOR:x}:{:x} handle {:x}: htb",
                q.mq_minor, q.major
            );
            for c in &q.classes {
                match &c.owner {
                    ClassOwner::QueueRoot => {}
                    ClassOwner::Node(n) => {
                        let _ = writeln!(out, "# node {}", n.replace('\n', " "));
                    }
                    ClassOwner::Circuit(id) => {
                        let _ = writeln!(out, "# circuit {}", id.replace('\n', " "));
                    }
                }
                let parent = match c.parent {
                    Some(p) => p.to_string(),
                    None => format!("{:x}:", c.id.major),
                };
                let _ = writeln!(
                    out,
                    "class add dev {dev} parent {parent} classid {} htb rate {}bit ceil {}bit burst {} cburst {} quantum {}",
                    c.id, c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum
                );
                if let Some(leaf) = &c.leaf {
                    let _ = writeln!(out, "qdisc add dev {dev} parent {} {leaf}", c.id);
                }
            }
        }
    }
    out
}

/// One line per prefix and direction: `prefix cpu classid direction circuit_id` (the circuit id
/// is the rest of the line and may contain spaces).
pub fn render_mappings(plan: &QueuePlan) -> String {
    let mut out = String::with_capacity(plan.mappings.len() * 2 * 48);
    for m in &plan.mappings {
        let id = m.circuit_id.replace('\n', " ");
        let _ = writeln!(out, "{} {} {} download {id}", m.prefix, m.cpu, m.download);
        let _ = writeln!(out, "{} {} {} upload {id}", m.prefix, m.cpu, m.upload);
    }
    out
}
