//! What the kernel holds against what a plan says it should hold: every HTB class (parent, rate,
//! ceil), every leaf qdisc and every IP map entry, both ways, so a test proves that nothing
//! leaked and nothing is missing.
//!
//! The plan comes as the dry-run text (`lqos-scheduler refresh --dry-run`, see
//! [`crate::dry_run`]) or as a `QueuePlan` value rendered to that same text, and is read with
//! this crate's own tc parser, not the planner's.

use crate::dry_run::{split_output, Direction, DryRun};
use crate::tc::{live_classes, live_qdiscs, parse_script, rate_matches, ClassId};
use crate::NetNs;
use anyhow::{Context, Result};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::path::Path;

/// A class as planned or as live: parent, rate and ceil in bit/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub parent: Option<ClassId>,
    pub rate: u64,
    pub ceil: u64,
}

/// An IP map value: CPU, download class, upload class (packed `major << 16 | minor`).
pub type Entry = (u32, u32, u32);

/// Classes, leaf qdiscs and IP map entries, keyed by interface and id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelState {
    pub classes: BTreeMap<(String, ClassId), Class>,
    /// Leaf qdisc kind by (interface, parent class).
    pub leaves: BTreeMap<(String, ClassId), String>,
    pub ip_map: BTreeMap<IpNet, Entry>,
}

fn packed(c: ClassId) -> u32 {
    u32::from(c.major) << 16 | u32::from(c.minor)
}

/// Qdiscs that are part of the tree itself, not leaves.
fn is_tree_qdisc(kind: &str) -> bool {
    matches!(
        kind,
        "mq" | "htb" | "clsact" | "ingress" | "noqueue" | "pfifo_fast"
    )
}

impl KernelState {
    /// What a dry run's stdout plans.
    pub fn planned(dry: &DryRun) -> Result<KernelState> {
        let script = parse_script(&dry.tc_batch)?;
        let mut s = KernelState::default();
        for c in script.classes.iter().filter(|c| c.kind == "htb") {
            let rate = c.rate_bits.unwrap_or(0);
            s.classes.insert(
                (c.dev.clone(), c.classid),
                Class {
                    // `parent 1:` is the HTB qdisc itself: tc shows such a class as `root`.
                    parent: c.parent.filter(|p| p.minor != 0),
                    rate,
                    ceil: c.ceil_bits.unwrap_or(rate),
                },
            );
        }
        for q in script.qdiscs.iter().filter(|q| !is_tree_qdisc(&q.kind)) {
            if let Some(parent) = q.parent {
                s.leaves.insert((q.dev.clone(), parent), q.kind.clone());
            }
        }
        for m in &dry.mappings {
            let e = s.ip_map.entry(m.prefix.trunc()).or_insert((m.cpu, 0, 0));
            match m.direction {
                Direction::Download => e.1 = packed(m.classid),
                Direction::Upload => e.2 = packed(m.classid),
            }
        }
        Ok(s)
    }

    /// What a `QueuePlan` plans (rendered as the dry run renders it).
    pub fn of_plan(plan: &lqos_plan::QueuePlan) -> Result<KernelState> {
        let text = format!(
            "{}{}\n{}",
            lqos_plan::render_tc(plan),
            lqos_plan::MAPPINGS_HEADER,
            lqos_plan::render_mappings(plan)
        );
        KernelState::planned(&split_output(&text)?)
    }

    /// What the kernel holds on `devs` inside `ns`, and in the IP map pinned at `ip_map_pin`.
    pub fn live(ns: &NetNs, devs: &[&str], ip_map_pin: &Path) -> Result<KernelState> {
        let mut s = KernelState::default();
        for dev in devs {
            for c in live_classes(ns, dev)?
                .into_iter()
                .filter(|c| c.kind == "htb")
            {
                let rate = c.rate_bits.unwrap_or(0);
                s.classes.insert(
                    (dev.to_string(), c.classid),
                    Class {
                        parent: c.parent,
                        rate,
                        ceil: c.ceil_bits.unwrap_or(rate),
                    },
                );
            }
            for q in live_qdiscs(ns, dev)? {
                if let (Some(parent), false) = (q.parent, is_tree_qdisc(&q.kind)) {
                    s.leaves.insert((dev.to_string(), parent), q.kind);
                }
            }
        }
        s.ip_map = read_ip_map(ip_map_pin)?;
        Ok(s)
    }

    /// Every way `live` differs from `self` (the plan); empty when they are equal (rates
    /// within tc's display rounding). At most `limit` lines, then a count.
    pub fn differences(&self, live: &KernelState, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (key, want) in &self.classes {
            match live.classes.get(key) {
                None => out.push(format!("class {} {} missing", key.0, key.1)),
                Some(got) => {
                    if got.parent != want.parent {
                        out.push(format!(
                            "class {} {}: parent {:?}, planned {:?}",
                            key.0, key.1, got.parent, want.parent
                        ));
                    }
                    if !rate_matches(want.rate, got.rate) || !rate_matches(want.ceil, got.ceil) {
                        out.push(format!(
                            "class {} {}: rate/ceil {}/{}, planned {}/{}",
                            key.0, key.1, got.rate, got.ceil, want.rate, want.ceil
                        ));
                    }
                }
            }
        }
        for key in live
            .classes
            .keys()
            .filter(|k| !self.classes.contains_key(k))
        {
            out.push(format!(
                "class {} {} leaked (not in the plan)",
                key.0, key.1
            ));
        }
        for (key, want) in &self.leaves {
            match live.leaves.get(key) {
                Some(got) if got == want => {}
                got => out.push(format!(
                    "leaf qdisc under {} {}: {got:?}, planned {want}",
                    key.0, key.1
                )),
            }
        }
        for key in live.leaves.keys().filter(|k| !self.leaves.contains_key(k)) {
            out.push(format!("leaf qdisc under {} {} leaked", key.0, key.1));
        }
        for (prefix, want) in &self.ip_map {
            match live.ip_map.get(prefix) {
                Some(got) if got == want => {}
                got => out.push(format!(
                    "IP map {prefix}: {got:x?}, planned {want:x?} (cpu, down, up)"
                )),
            }
        }
        for prefix in live.ip_map.keys().filter(|k| !self.ip_map.contains_key(k)) {
            out.push(format!("IP map {prefix} leaked"));
        }
        let total = out.len();
        if total > limit {
            out.truncate(limit);
            out.push(format!("... {} more", total - limit));
        }
        out
    }

    /// Circuit classes (those with a leaf) and entries, for summaries.
    pub fn summary(&self) -> String {
        format!(
            "{} classes, {} leaf qdiscs, {} IP map entries",
            self.classes.len(),
            self.leaves.len(),
            self.ip_map.len()
        )
    }
}

/// The entries of lqosd's pinned IP map (`<bpf_pin_dir>/lqos_ip_map`).
pub fn read_ip_map(pin: &Path) -> Result<BTreeMap<IpNet, Entry>> {
    use aya::maps::{LpmTrie, Map, MapData};
    let data = MapData::from_pin(pin).with_context(|| format!("open {}", pin.display()))?;
    let trie: LpmTrie<MapData, [u8; 16], lqos_ebpf::LqosIpInfo> =
        LpmTrie::try_from(Map::LpmTrie(data)).context("the IP map is not an LPM trie")?;
    let mut out = BTreeMap::new();
    for item in trie.iter() {
        let (key, v) = item.context("reading the IP map")?;
        let net = lqos_ebpf::LqosIpKey {
            prefixlen: key.prefix_len(),
            addr: key.data(),
        }
        .to_net()?;
        out.insert(net, (v.cpu, v.classid_down, v.classid_up));
    }
    Ok(out)
}
