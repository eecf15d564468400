//! Rendering a plan as `tc -batch` text and as IP mapping lines, streamed to any writer.

use crate::{
    steps, ClassOwner, HtbClass, InterfacePlan, PlanDiff, QueuePlan, TcOp, FIRST_LEAF_HANDLE,
    MQ_MAJOR,
};
use std::io::{self, Write};

/// The line that separates the `tc -batch` text from the IP mappings in `--dry-run` output.
pub const MAPPINGS_HEADER: &str = "# ip mappings: prefix cpu classid direction circuit_id";

/// Writes the plan as `tc -batch` input: an `mq` root per interface, an HTB per queue, every
/// class in parent-first order, and each leaf qdisc. Comment lines name the node or circuit.
pub fn write_tc(plan: &QueuePlan, out: &mut impl Write) -> io::Result<()> {
    for iface in &plan.interfaces {
        write_interface(iface, out)?;
    }
    Ok(())
}

/// One interface from scratch; `replace` swaps a leftover tree out in one step.
fn write_interface(iface: &InterfacePlan, out: &mut impl Write) -> io::Result<()> {
    let dev = &iface.name;
    writeln!(out, "qdisc replace dev {dev} root handle {MQ_MAJOR:x}: mq")?;
    // Leaves are numbered explicitly from FIRST_LEAF_HANDLE (the kernel numbers only 32,767).
    let mut next_leaf = FIRST_LEAF_HANDLE;
    for q in &iface.htbs {
        writeln!(
            out,
            "# {dev} queue {} ({}, cpu {})",
            q.mq_minor, q.direction, q.cpu
        )?;
        writeln!(
            out,
            "qdisc add dev {dev} parent {MQ_MAJOR:x}:{:x} handle {:x}: htb",
            q.mq_minor, q.major
        )?;
        for c in &q.classes {
            write_class(dev, c, &mut next_leaf, out)?;
        }
    }
    Ok(())
}

/// `class add` for one class and its leaf qdisc, after a comment naming its owner.
fn write_class(
    dev: &str,
    c: &HtbClass,
    next_leaf: &mut u16,
    out: &mut impl Write,
) -> io::Result<()> {
    match &c.owner {
        ClassOwner::QueueRoot => {}
        ClassOwner::Node(n) => writeln!(out, "# node {}", n.replace('\n', " "))?,
        ClassOwner::Circuit(id) => writeln!(out, "# circuit {}", id.replace('\n', " "))?,
        ClassOwner::LazyPool => writeln!(out, "# lazy pool")?,
    }
    writeln!(
        out,
        "{}",
        TcOp::AddClass {
            dev: dev.to_owned(),
            class: c.clone()
        }
    )?;
    if let Some(leaf) = &c.leaf {
        if *next_leaf == MQ_MAJOR {
            *next_leaf += 1;
        }
        // The planner refuses more than MAX_LEAF_QDISCS leaves per interface.
        writeln!(
            out,
            "qdisc add dev {dev} parent {} handle {:x}: {leaf}",
            c.id, *next_leaf
        )?;
        *next_leaf = next_leaf.saturating_add(1);
    }
    Ok(())
}

/// Writes the operations of a diff as `tc -batch` input, one line each, in the order lqosd
/// applies them (see [`crate::steps`]): a rebuilt interface starts with `qdisc del ... root`.
pub fn write_diff(diff: &PlanDiff, out: &mut impl Write) -> io::Result<()> {
    let none = QueuePlan {
        queues: 0,
        interfaces: Vec::new(),
        mappings: Vec::new(),
    };
    for step in steps(diff, &none) {
        for op in &step.forward {
            writeln!(out, "{op}")?;
        }
    }
    Ok(())
}

/// Writes one line per prefix and direction: `prefix cpu classid direction circuit_id` (the
/// circuit id is the rest of the line and may contain spaces).
pub fn write_mappings(plan: &QueuePlan, out: &mut impl Write) -> io::Result<()> {
    for m in &plan.mappings {
        let id = m.circuit_id.replace('\n', " ");
        writeln!(out, "{} {} {} download {id}", m.prefix, m.cpu, m.download)?;
        writeln!(out, "{} {} {} upload {id}", m.prefix, m.cpu, m.upload)?;
    }
    Ok(())
}

/// [`write_tc`] into a string.
pub fn render_tc(plan: &QueuePlan) -> String {
    to_string(|out| write_tc(plan, out))
}

/// [`write_diff`] into a string.
pub fn render_diff(diff: &PlanDiff) -> String {
    to_string(|out| write_diff(diff, out))
}

/// [`write_mappings`] into a string.
pub fn render_mappings(plan: &QueuePlan) -> String {
    to_string(|out| write_mappings(plan, out))
}

fn to_string(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and the text is built from `str`s only.
    let _ = f(&mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
