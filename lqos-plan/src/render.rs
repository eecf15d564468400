//! Rendering a plan as `tc -batch` text and as IP mapping lines, streamed to any writer.

use crate::{ClassOwner, HtbClass, InterfacePlan, PlanDiff, QueuePlan, MQ_MAJOR};
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
    for q in &iface.htbs {
        writeln!(out, "# {dev} queue {} ({}, cpu {})", q.mq_minor, q.direction, q.cpu)?;
        writeln!(out, "qdisc add dev {dev} parent {MQ_MAJOR:x}:{:x} handle {:x}: htb", q.mq_minor, q.major)?;
        for c in &q.classes {
            write_class("add", dev, c, out)?;
        }
    }
    Ok(())
}

/// `class add|change` for one class (and, when added, its leaf qdisc).
fn write_class(verb: &str, dev: &str, c: &HtbClass, out: &mut impl Write) -> io::Result<()> {
    match &c.owner {
        ClassOwner::QueueRoot => {}
        ClassOwner::Node(n) => writeln!(out, "# node {}", n.replace('\n', " "))?,
        ClassOwner::Circuit(id) => writeln!(out, "# circuit {}", id.replace('\n', " "))?,
    }
    write!(out, "class {verb} dev {dev} parent ")?;
    match c.parent {
        Some(p) => write!(out, "{p}")?,
        None => write!(out, "{:x}:", c.id.major)?,
    }
    writeln!(
        out,
        " classid {} htb rate {}bit ceil {}bit burst {} cburst {} quantum {}",
        c.id, c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum
    )?;
    if verb == "add" {
        if let Some(leaf) = &c.leaf {
            writeln!(out, "qdisc add dev {dev} parent {} {leaf}", c.id)?;
        }
    }
    Ok(())
}

/// Writes the class and qdisc operations of a diff as `tc -batch` input, in an order HTB
/// accepts: dropped interfaces, rebuilt interfaces, deletions (children first), changes,
/// additions (parents first), leaf qdisc swaps. IP map changes are not tc's: see the diff.
pub fn write_diff(diff: &PlanDiff, out: &mut impl Write) -> io::Result<()> {
    for dev in &diff.remove_interfaces {
        writeln!(out, "qdisc del dev {dev} root")?;
    }
    for iface in &diff.rebuild {
        write_interface(iface, out)?;
    }
    for (dev, id) in &diff.remove_classes {
        writeln!(out, "class del dev {dev} classid {id}")?;
    }
    for (dev, c) in &diff.change_classes {
        write_class("change", dev, c, out)?;
    }
    for (dev, c) in &diff.add_classes {
        write_class("add", dev, c, out)?;
    }
    for (dev, id, leaf) in &diff.change_leaves {
        match leaf {
            Some(spec) => writeln!(out, "qdisc replace dev {dev} parent {id} {spec}")?,
            None => writeln!(out, "qdisc del dev {dev} parent {id}")?,
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
