//! Several imports become one network.json and one ShapedDevices.csv: node names made unique,
//! broken links and duplicate ids or addresses reported (the later record loses), capacities
//! clamped to the parent's, rates made valid for the file parser.

use crate::model::{CircuitRec, Import, NodeRec, RecordIssue};
use ipnet::IpNet;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The lowest rate written, in Mbps (the file parser needs rates above 0).
pub const MIN_RATE_MBPS: f64 = 0.1;

/// The files the imports make, and what happened on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub network_json: String,
    pub shaped_devices_csv: Vec<u8>,
    /// Circuits written, per source.
    pub circuits: BTreeMap<String, usize>,
    /// Records the merge left out or changed (the imports' own issues are in the imports).
    pub issues: Vec<RecordIssue>,
}

const HEADER: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,Parent Node ID,Anchor Node ID,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n";

fn issue(source: &str, record: &str, reason: String, skipped: bool) -> RecordIssue {
    RecordIssue {
        integration: source.to_owned(),
        record: record.to_owned(),
        reason,
        skipped,
    }
}

/// A node with its final name and capacity.
struct Placed<'a> {
    rec: &'a NodeRec,
    source: &'a str,
    name: String,
    parent: Option<usize>,
    down: f64,
    up: f64,
}

/// Merges `imports` (earlier ones win conflicts) into the two files. `promote_to_root` names
/// nodes that go to the top level.
pub fn render(imports: &[Import], promote_to_root: &[String]) -> Rendered {
    let mut issues: Vec<RecordIssue> = Vec::new();
    let nodes = place_nodes(imports, promote_to_root, &mut issues);
    let by_id: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.rec.id.as_str(), i))
        .collect();
    let network_json = network_json(&nodes);

    let mut csv = String::from(HEADER);
    let mut counts = BTreeMap::new();
    let mut circuit_ids: HashSet<&str> = HashSet::new();
    let mut owners: HashMap<IpNet, &str> = HashMap::new();
    for import in imports {
        let src = import.source.as_str();
        let mut written = 0usize;
        for c in &import.circuits {
            if let Some(reason) = circuit_problem(c, &circuit_ids, &owners) {
                issues.push(issue(src, &format!("circuit {}", c.id), reason, true));
                continue;
            }
            let parent = match c.parent_id.as_deref() {
                None => None,
                Some(p) => match by_id.get(p) {
                    Some(&i) => Some(&nodes[i]),
                    None => {
                        issues.push(issue(
                            src,
                            &format!("circuit {}", c.id),
                            format!("parent node {p} is not in the topology: imported unparented"),
                            false,
                        ));
                        None
                    }
                },
            };
            circuit_ids.insert(&c.id);
            for d in &c.devices {
                for ip in &d.ips {
                    owners.insert(*ip, &c.id);
                }
            }
            write_circuit(&mut csv, c, parent);
            written += 1;
        }
        counts.insert(import.source.clone(), written);
    }
    Rendered {
        network_json,
        shaped_devices_csv: csv.into_bytes(),
        circuits: counts,
        issues,
    }
}

/// Why `c` cannot be written, if it cannot.
fn circuit_problem(
    c: &CircuitRec,
    ids: &HashSet<&str>,
    owners: &HashMap<IpNet, &str>,
) -> Option<String> {
    if ids.contains(c.id.as_str()) {
        return Some("duplicate circuit id: an earlier circuit has it".into());
    }
    if c.devices.iter().all(|d| d.ips.is_empty()) {
        return Some("no device with an IP address: nothing to shape".into());
    }
    if !(c.download_max.is_finite() && c.upload_max.is_finite())
        || c.download_max <= 0.0
        || c.upload_max <= 0.0
    {
        return Some(format!(
            "no usable rate (download {} / upload {} Mbps)",
            c.download_max, c.upload_max
        ));
    }
    let ips = c.devices.iter().flat_map(|d| &d.ips);
    for ip in ips {
        if let Some(other) = owners.get(ip) {
            return Some(format!(
                "IP {ip} is already claimed by circuit {other}: quarantined (the first claim wins)"
            ));
        }
    }
    None
}

fn place_nodes<'a>(
    imports: &'a [Import],
    promote: &[String],
    issues: &mut Vec<RecordIssue>,
) -> Vec<Placed<'a>> {
    let mut nodes: Vec<Placed> = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut names: HashSet<String> = HashSet::new();
    for import in imports {
        for rec in &import.nodes {
            if ids.contains_key(rec.id.as_str()) {
                issues.push(issue(
                    &import.source,
                    &format!("node {}", rec.id),
                    "duplicate node id: an earlier node has it".into(),
                    true,
                ));
                continue;
            }
            let name = unique_name(rec, &names);
            names.insert(name.clone());
            ids.insert(&rec.id, nodes.len());
            nodes.push(Placed {
                rec,
                source: &import.source,
                name,
                parent: None,
                down: rec.download_mbps,
                up: rec.upload_mbps,
            });
        }
    }
    #[allow(clippy::needless_range_loop)] // nodes[i] is written while ids are read
    for i in 0..nodes.len() {
        let rec = nodes[i].rec;
        if promote
            .iter()
            .any(|p| *p == nodes[i].name || *p == rec.name)
        {
            continue;
        }
        if let Some(p) = &rec.parent_id {
            match ids.get(p.as_str()) {
                Some(&j) => nodes[i].parent = Some(j),
                None => issues.push(issue(
                    nodes[i].source,
                    &format!("node {}", rec.id),
                    format!("parent node {p} is not in the topology: placed at the top level"),
                    false,
                )),
            }
        }
    }
    // A loop of parents (a CRM's data error) is cut where it is found.
    for i in 0..nodes.len() {
        let mut seen = HashSet::from([i]);
        let mut at = nodes[i].parent;
        while let Some(p) = at {
            if !seen.insert(p) {
                issues.push(issue(
                    nodes[i].source,
                    &format!("node {}", nodes[i].rec.id),
                    "its parents form a loop: placed at the top level".into(),
                    false,
                ));
                nodes[i].parent = None;
                break;
            }
            at = nodes[p].parent;
        }
    }
    // Capacities: a node never exceeds its parent (parents first).
    let order = top_down(&nodes);
    for i in order {
        if let Some(p) = nodes[i].parent {
            let (pd, pu) = (nodes[p].down, nodes[p].up);
            nodes[i].down = nodes[i].down.min(pd);
            nodes[i].up = nodes[i].up.min(pu);
        }
        nodes[i].down = round2(nodes[i].down.max(MIN_RATE_MBPS));
        nodes[i].up = round2(nodes[i].up.max(MIN_RATE_MBPS));
    }
    nodes
}

fn top_down(nodes: &[Placed]) -> Vec<usize> {
    let depth = |mut i: usize| {
        let mut d = 0;
        while let Some(p) = nodes[i].parent {
            d += 1;
            i = p;
        }
        d
    };
    let mut order: Vec<(usize, usize)> = (0..nodes.len()).map(|i| (depth(i), i)).collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

fn unique_name(rec: &NodeRec, taken: &HashSet<String>) -> String {
    let base = clean(&rec.name);
    let base = if base.is_empty() {
        rec.id.clone()
    } else {
        base
    };
    let tail: String = {
        let raw = rec.id.rsplit(':').next().unwrap_or(&rec.id);
        raw.chars().take(8).collect()
    };
    [
        base.clone(),
        format!("{base} [{}]", rec.kind),
        format!("{base} [{} {tail}]", rec.kind),
        format!("{base} [{}]", rec.id),
    ]
    .into_iter()
    .find(|n| !taken.contains(n))
    .unwrap_or_else(|| rec.id.clone())
}

/// One line, no control characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn network_json(nodes: &[Placed]) -> String {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        match n.parent {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    fn object(i: usize, nodes: &[Placed], children: &[Vec<usize>]) -> Value {
        let n = &nodes[i];
        let mut kids = Map::new();
        for &c in &children[i] {
            kids.insert(nodes[c].name.clone(), object(c, nodes, children));
        }
        json!({
            "downloadBandwidthMbps": n.down,
            "uploadBandwidthMbps": n.up,
            "type": n.rec.kind,
            "id": n.rec.id,
            "children": kids,
        })
    }
    let mut top = Map::new();
    for &r in &roots {
        top.insert(nodes[r].name.clone(), object(r, nodes, &children));
    }
    let mut text =
        serde_json::to_string_pretty(&Value::Object(top)).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

fn cell(out: &mut String, s: &str) {
    let s = clean(s);
    if s.contains([',', '"']) || s.starts_with('#') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&s);
    }
    out.push(',');
}

fn rate(x: f64) -> String {
    format!("{}", round2(x))
}

fn write_circuit(out: &mut String, c: &CircuitRec, parent: Option<&Placed>) {
    let dmax = c.download_max.max(MIN_RATE_MBPS);
    let umax = c.upload_max.max(MIN_RATE_MBPS);
    let dmin = c.download_min.max(MIN_RATE_MBPS).min(dmax);
    let umin = c.upload_min.max(MIN_RATE_MBPS).min(umax);
    for d in c.devices.iter().filter(|d| !d.ips.is_empty()) {
        let mut v4: Vec<IpNet> = d
            .ips
            .iter()
            .filter(|i| i.addr().is_ipv4())
            .copied()
            .collect();
        let mut v6: Vec<IpNet> = d
            .ips
            .iter()
            .filter(|i| i.addr().is_ipv6())
            .copied()
            .collect();
        v4.sort();
        v4.dedup();
        v6.sort();
        v6.dedup();
        let join = |v: &[IpNet]| {
            v.iter()
                .map(|n| match n {
                    IpNet::V4(x) if x.prefix_len() == 32 => x.addr().to_string(),
                    IpNet::V6(x) if x.prefix_len() == 128 => x.addr().to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        cell(out, &c.id);
        cell(out, &c.name);
        cell(out, &d.id);
        cell(out, &d.name);
        cell(out, parent.map_or("", |p| p.name.as_str()));
        cell(out, parent.map_or("", |p| p.rec.id.as_str()));
        cell(out, "");
        cell(out, &d.mac);
        cell(out, &join(&v4));
        cell(out, &join(&v6));
        for r in [dmin, umin, dmax, umax] {
            out.push_str(&rate(r));
            out.push(',');
        }
        let comment = clean(&c.comment);
        if comment.contains([',', '"']) {
            out.push('"');
            out.push_str(&comment.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&comment);
        }
        out.push('\n');
    }
}
