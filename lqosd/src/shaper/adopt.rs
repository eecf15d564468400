//! What a previous lqosd left in the kernel: the tree is adopted, not rebuilt, when it holds
//! exactly the saved plan's classes and leaves (or, with lazy queues, the saved plan
//! materialised for the circuits it had built).

use crate::apply::LeafHandles;
use crate::lazy::Lazy;
use crate::state::StateDir;
use lqos_plan::QueuePlan;
use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use tracing::{info, warn};

/// The tree a previous lqosd left with lazy queues: the saved plan materialised for the
/// circuits it had built. A tree built without lazy queues (the mode was just switched on) is
/// adopted as it is, every circuit counted as built: idle ones collapse after the expiry, and
/// the first lazy pass adds the pools.
pub(super) fn adoptable_lazy_tree(
    lazy: &mut Lazy,
    state: &StateDir,
    plan: &QueuePlan,
) -> QueuePlan {
    let now = Instant::now();
    lazy.restore(state.load_built().into_iter().map(Arc::from), now);
    lazy.prune(plan);
    let tree = lazy.realise(plan);
    if kernel_tree(&tree).is_none() && kernel_tree(plan).is_some() {
        info!("lazy queues were just switched on: adopting the full tree, idle circuits collapse after lazy_expire_seconds");
        lazy.restore(plan.mappings.iter().map(|m| m.circuit_id.clone()), now);
        return plan.clone();
    }
    tree
}

/// The live leaf qdisc handles, when the kernel holds exactly the plan's classes on every
/// interface, with a leaf qdisc exactly where the plan has one.
pub(super) fn kernel_tree(plan: &QueuePlan) -> Option<LeafHandles> {
    let mut handles = LeafHandles::default();
    for iface in &plan.interfaces {
        let live = live_classids(&iface.name)?;
        let planned: HashSet<String> = iface
            .htbs
            .iter()
            .flat_map(|q| &q.classes)
            .map(|c| c.id.to_string())
            .collect();
        if live != planned {
            warn!(interface = %iface.name, live = live.len(), planned = planned.len(), "the kernel's classes differ from the saved plan");
            return None;
        }
        handles.read_tc_text(
            &iface.name,
            &tc_text(&["qdisc", "show", "dev", &iface.name])?,
        );
        let classes = iface.htbs.iter().flat_map(|q| &q.classes);
        let leaves_differ = classes
            .filter(|c| c.leaf.is_some() != handles.get(&iface.name, c.id).is_some())
            .count();
        if leaves_differ > 0 {
            warn!(interface = %iface.name, classes = leaves_differ, "the kernel's leaf qdiscs differ from the saved plan");
            return None;
        }
    }
    Some(handles)
}

/// The HTB class ids on `dev`, from `tc class show` (this iproute2 has no JSON for classes):
/// lines such as `class htb 1:5 parent 1:1 prio 0 rate ...`.
fn live_classids(dev: &str) -> Option<HashSet<String>> {
    tc_text(&["class", "show", "dev", dev]).map(|t| parse_htb_classids(&t))
}

/// The text `tc <args>` prints, if it succeeds.
fn tc_text(args: &[&str]) -> Option<String> {
    let out = Command::new("tc").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse_htb_classids(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| {
            let mut t = l.split_whitespace();
            (t.next() == Some("class") && t.next() == Some("htb"))
                .then(|| t.next().map(str::to_owned))
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn htb_class_ids_are_read_from_tc_text() {
        let text = "class mq 7fff:1 root leaf 1: \nclass htb 1:1 root prio 0 rate 10Mbit ceil 10Mbit burst 1600b cburst 1600b \nclass htb 1:a parent 1:1 leaf 8001: prio 0 rate 1Mbit\n";
        let ids = super::parse_htb_classids(text);
        assert_eq!(ids, ["1:1", "1:a"].iter().map(|s| s.to_string()).collect());
    }
}
