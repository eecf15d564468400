//! Rendering a plan as `tc -batch` text and as IP mapping lines, streamed to any writer.

use crate::{ClassOwner, QueuePlan, MQ_MAJOR};
use std::io::{self, Write};

/// The line that separates the `tc -batch` text from the IP mappings in `--dry-run` output.
pub const MAPPINGS_HEADER: &str = "# ip mappings: prefix cpu classid direction circuit_id";

/// Writes the plan as `tc -batch` input: an `mq` root per interface, an HTB per queue, every
/// class in parent-first order, and each leaf qdisc. Comment lines name the node or circuit.
pub fn write_tc(plan: &QueuePlan, out: &mut impl Write) -> io::Result<()> {
    for iface in &plan.interfaces {
        let dev = &iface.name;
        // `replace` so a leftover tree is swapped out in one step on a fresh apply.
        writeln!(out, "qdisc replace dev {dev} root handle {MQ_MAJOR:x}: mq")?;
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
                match &c.owner {
                    ClassOwner::QueueRoot => {}
                    ClassOwner::Node(n) => writeln!(out, "# node {}", n.replace('\n', " "))?,
                    ClassOwner::Circuit(id) => {
                        writeln!(out, "# circuit {}", id.replace('\n', " "))?
                    }
                }
                write!(out, "class add dev {dev} parent ")?;
                match c.parent {
                    Some(p) => write!(out, "{p}")?,
                    None => write!(out, "{:x}:", c.id.major)?,
                }
                writeln!(
                    out,
                    " classid {} htb rate {}bit ceil {}bit burst {} cburst {} quantum {}",
                    c.id, c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum
                )?;
                if let Some(leaf) = &c.leaf {
                    writeln!(out, "qdisc add dev {dev} parent {} {leaf}", c.id)?;
                }
            }
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
