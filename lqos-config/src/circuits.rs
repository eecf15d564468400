//! Rows grouped into circuits and checked as a whole: agreement between a circuit's rows,
//! rates, parents, address filtering and address conflicts across circuits.
//!
//! Policy (docs/inputs.md): a problem confined to one circuit quarantines that circuit only
//! (reported, not shaped, the rest applies); an unknown parent is a warning and the circuit goes
//! under a generated parent node, still shaped at its own plan.

use crate::config::IpRanges;
use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::ip_list::range;
use crate::network::Network;
use crate::shaped_devices::DeviceRow;
use crate::sqm::SqmOverride;
use ipnet::IpNet;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;

/// A validated circuit: what the planner shapes. Rates are Mbps with `0 < min <= max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Circuit {
    pub id: String,
    pub name: String,
    /// Index into [`Network::nodes`]; `None` goes under a generated parent node.
    pub parent: Option<usize>,
    pub download_min: f64,
    pub download_max: f64,
    pub upload_min: f64,
    pub upload_max: f64,
    pub sqm: Option<SqmOverride>,
    pub devices: Vec<Device>,
    /// Line of the circuit's first row (0: from lqos_overrides.json).
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub mac: String,
    pub ips: Vec<IpNet>,
    pub comment: String,
    pub line: u64,
}

fn loc(line: u64) -> Location {
    if line == 0 {
        Location::File
    } else {
        Location::Line { line, column: None }
    }
}

fn lines(rows: &[u64]) -> String {
    let mut ls: Vec<String> = rows.iter().take(5).map(|l| l.to_string()).collect();
    if rows.len() > 5 {
        ls.push(format!("and {} more", rows.len() - 5));
    }
    ls.join(", ")
}

/// Groups rows into circuits and validates them. Returns the good circuits and the ids of the
/// quarantined ones; every problem is in `diags`.
pub fn build(
    mut rows: Vec<DeviceRow>,
    network: &Network,
    ranges: &IpRanges,
    file: &str,
    diags: &mut Diagnostics,
) -> (Vec<Circuit>, Vec<String>) {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(rows.len(), Default::default());
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.circuit_id.is_empty())
    {
        let g = *index.entry(row.circuit_id.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    drop(index);
    let mut seen_devices: HashMap<&str, &DeviceRow> =
        HashMap::with_capacity_and_hasher(rows.len(), Default::default());
    for row in rows.iter().filter(|r| !r.device_id.is_empty()) {
        if let Some(first) = seen_devices.insert(row.device_id.as_str(), row) {
            diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    file,
                    loc(row.line),
                    format!(
                        "Device ID also used on line {} (overrides naming it affect both)",
                        first.line
                    ),
                )
                .value(&row.device_id),
            );
        }
    }

    let mut circuits = Vec::with_capacity(groups.len());
    let mut quarantined = Vec::new();
    let mut unknown_parents: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for idxs in &groups {
        let group: Vec<&DeviceRow> = idxs.iter().map(|&i| &rows[i]).collect();
        let first = group[0];
        let id = first.circuit_id.as_str();
        let rows_valid = group.iter().all(|r| r.valid);
        let mut problems = 0usize;
        let mut quarantine = |line: u64, value: String, msg: String, diags: &mut Diagnostics| {
            problems += 1;
            diags.push(
                Diagnostic::new(Severity::Quarantine, file, loc(line), msg)
                    .value(value)
                    .circuit(id),
            );
        };
        // Compared as values; formatted only when rows disagree.
        if let Some(other) = group.iter().find(|r| r.parent_node != first.parent_node) {
            quarantine(other.line, other.parent_node.to_string(), format!("Parent Node disagrees with line {} of the same circuit ({:?}); every row of a circuit must give the same value", first.line, first.parent_node), diags);
        }
        type Rate = fn(&DeviceRow) -> Option<f64>;
        let rates: [(&str, Rate); 4] = [
            ("Download Min Mbps", |r| r.download_min),
            ("Upload Min Mbps", |r| r.upload_min),
            ("Download Max Mbps", |r| r.download_max),
            ("Upload Max Mbps", |r| r.upload_max),
        ];
        for (label, field) in rates {
            if let Some(other) = group.iter().find(|r| field(r) != field(first)) {
                quarantine(other.line, fmt_rate(field(other)), format!("{label} disagrees with line {} of the same circuit ({}); every row of a circuit must give the same value", first.line, fmt_rate(field(first))), diags);
            }
        }
        if let Some(other) = group.iter().find(|r| r.circuit_name != first.circuit_name) {
            diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    file,
                    loc(other.line),
                    format!(
                        "Circuit Name differs from line {} ({:?}); using that one",
                        first.line, first.circuit_name
                    ),
                )
                .value(&other.circuit_name),
            );
        }
        let sqm = group.iter().find_map(|r| r.sqm);
        if group.iter().any(|r| r.sqm.is_some() && r.sqm != sqm) {
            diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    file,
                    loc(first.line),
                    "devices of this circuit ask for different sqm; using the first",
                )
                .value(id),
            );
        }
        for (dir, min, max) in [
            ("download", first.download_min, first.download_max),
            ("upload", first.upload_min, first.upload_max),
        ] {
            if let (Some(min), Some(max)) = (min, max) {
                if min > max {
                    quarantine(
                        first.line,
                        fmt_rate(Some(min)),
                        format!("{dir} minimum is above the {dir} maximum ({max} Mbps)"),
                        diags,
                    );
                }
            }
        }
        let parent = if first.parent_node.is_empty() {
            None
        } else {
            let by_name = network.find(&first.parent_node);
            let by_id = || {
                (!first.parent_node_id.is_empty())
                    .then(|| {
                        network
                            .nodes
                            .iter()
                            .position(|n| n.id.as_deref() == Some(&*first.parent_node_id))
                    })
                    .flatten()
            };
            let found = by_name.or_else(by_id);
            if found.is_none() {
                unknown_parents
                    .entry(first.parent_node.to_string())
                    .or_default()
                    .push(first.line);
            }
            found
        };
        let mut device_ips = Vec::with_capacity(group.len());
        // Circuits hold a handful of prefixes: a linear check beats a set.
        let mut seen_ips: Vec<IpNet> = Vec::new();
        for r in &group {
            let mut ips = Vec::with_capacity(r.ips.len());
            for ip in &r.ips {
                if let Some(why) = filtered(ip, ranges) {
                    diags.push(
                        Diagnostic::new(
                            Severity::Warning,
                            file,
                            loc(r.line),
                            format!("address dropped: {why}"),
                        )
                        .value(ip.to_string()),
                    );
                } else if seen_ips.contains(ip) {
                    diags.push(
                        Diagnostic::new(
                            Severity::Warning,
                            file,
                            loc(r.line),
                            "address listed twice in this circuit (used once)",
                        )
                        .value(ip.to_string()),
                    );
                } else {
                    seen_ips.push(*ip);
                    ips.push(*ip);
                }
            }
            device_ips.push(ips);
        }
        if rows_valid && device_ips.iter().all(Vec::is_empty) {
            quarantine(
                first.line,
                id.to_string(),
                "circuit has no usable IPv4 or IPv6 address, so no traffic could reach its queue"
                    .into(),
                diags,
            );
        }
        let ok = rows_valid && problems == 0;
        // All four rates are Some when ok: a missing rate marked its row invalid.
        let rates = [
            first.download_min,
            first.download_max,
            first.upload_min,
            first.upload_max,
        ]
        .map(Option::unwrap_or_default);
        drop(group);
        // The strings move from the rows into the circuit: no copies of 200k rows.
        let first = &mut rows[idxs[0]];
        let id = std::mem::take(&mut first.circuit_id);
        if !ok {
            quarantined.push(id);
            continue;
        }
        let name = std::mem::take(&mut first.circuit_name);
        let line = first.line;
        let devices = idxs
            .iter()
            .zip(device_ips)
            .map(|(&i, ips)| {
                let r = &mut rows[i];
                Device {
                    id: std::mem::take(&mut r.device_id),
                    name: std::mem::take(&mut r.device_name),
                    mac: std::mem::take(&mut r.mac),
                    ips,
                    comment: std::mem::take(&mut r.comment),
                    line: r.line,
                }
            })
            .collect();
        let [download_min, download_max, upload_min, upload_max] = rates;
        circuits.push(Circuit {
            id,
            name,
            parent,
            download_min,
            download_max,
            upload_min,
            upload_max,
            sqm,
            devices,
            line,
        });
    }
    for (name, at) in unknown_parents {
        diags.push(Diagnostic::new(Severity::Warning, file, loc(at[0]),
            format!("Parent Node is not in network.json: {} circuit(s) (lines {}) go under generated parent nodes, still shaped at their own plans", at.len(), lines(&at))).value(name));
    }
    let conflicted = address_conflicts(&circuits, file, diags);
    if !conflicted.is_empty() {
        circuits.retain(|c| {
            let keep = !conflicted.contains(c.id.as_str());
            if !keep {
                quarantined.push(c.id.clone());
            }
            keep
        });
    }
    (circuits, quarantined)
}

fn fmt_rate(r: Option<f64>) -> String {
    r.map_or_else(|| "(invalid)".into(), |v| v.to_string())
}

fn filtered(ip: &IpNet, ranges: &IpRanges) -> Option<String> {
    if let Some(net) = ranges.ignore_subnets.iter().find(|n| n.contains(ip)) {
        return Some(format!("inside ignore_subnets entry {net}"));
    }
    let same_family: Vec<&IpNet> = ranges
        .allow_subnets
        .iter()
        .filter(|n| n.addr().is_ipv4() == ip.addr().is_ipv4())
        .collect();
    if !same_family.is_empty() && !same_family.iter().any(|n| n.contains(ip)) {
        return Some("outside every allow_subnets entry of its family".into());
    }
    None
}

/// Finds addresses or prefixes claimed by two circuits (equal or nested). The circuit that
/// comes later in the file is quarantined; the earlier keeps its addresses.
fn address_conflicts(circuits: &[Circuit], file: &str, diags: &mut Diagnostics) -> HashSet<String> {
    struct Entry {
        v6: bool,
        start: u128,
        end: u128,
        circuit: usize,
        device: usize,
        net: IpNet,
    }
    let mut entries = Vec::new();
    for (ci, c) in circuits.iter().enumerate() {
        for (di, d) in c.devices.iter().enumerate() {
            for net in &d.ips {
                let (v6, start, end) = range(net);
                entries.push(Entry {
                    v6,
                    start,
                    end,
                    circuit: ci,
                    device: di,
                    net: *net,
                });
            }
        }
    }
    entries.sort_unstable_by(|a, b| {
        (a.v6, a.start, std::cmp::Reverse(a.end)).cmp(&(b.v6, b.start, std::cmp::Reverse(b.end)))
    });
    let mut losers = HashSet::default();
    let mut open: Vec<&Entry> = Vec::new();
    for e in &entries {
        while open.last().is_some_and(|o| o.v6 != e.v6 || o.end < e.start) {
            open.pop();
        }
        // CIDR blocks either nest or are disjoint, so every open block contains `e`.
        if let Some(other) = open.iter().rev().find(|o| o.circuit != e.circuit) {
            let (keep, lose) = if other.circuit < e.circuit {
                (*other, e)
            } else {
                (e, *other)
            };
            let (kc, lc) = (&circuits[keep.circuit], &circuits[lose.circuit]);
            if losers.insert(lc.id.clone()) {
                diags.push(Diagnostic::new(Severity::Quarantine, file, loc(lc.devices[lose.device].line),
                    format!("{} overlaps {} of circuit {:?} (line {}); an address can belong to one circuit only", lose.net, keep.net, kc.id, kc.devices[keep.device].line))
                    .value(lose.net.to_string()).circuit(&lc.id));
            }
        }
        open.push(e);
    }
    losers
}
