//! The infrastructure tree: the root site, then each tower site's parent along the widest
//! backhaul path (UISP data links between devices of different sites), falling back to the
//! site's UISP parent.

use super::api::{DataLink, Device, Site};
use super::capacity::{device_capacity, is_ap, is_station};
use crate::sources::Defaults;
use lqos_config::integrations::Uisp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// An infrastructure site's place in the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// `None`: directly under the root (a top-level node).
    pub parent: Option<String>,
    /// Capacity of the path from the root (Mbps).
    pub down: f64,
    pub up: f64,
    /// Reached over a backhaul (false: placed by its UISP parent or at the top).
    pub by_link: bool,
}

/// The root: the configured site name, else the one site UISP connects to the Internet
/// (a data link that cannot be deleted), else the one tower site without a parent.
pub fn root(
    settings: &Uisp,
    towers: &BTreeMap<&str, &Site>,
    links: &[DataLink],
) -> Result<String, String> {
    let name_of = |s: &Site| {
        s.identification
            .as_ref()
            .and_then(|i| i.name.clone())
            .unwrap_or_default()
    };
    if !settings.site.is_empty() {
        return towers
            .values()
            .find(|s| name_of(s) == settings.site)
            .map(|s| s.id.clone())
            .ok_or_else(|| {
                format!(
                    "the root site {:?} ([uisp_integration] site) is not a UISP site of type \"site\"",
                    settings.site
                )
            });
    }
    let mut internet: Vec<&str> = links
        .iter()
        .filter(|l| l.can_delete == Some(false))
        .filter_map(|l| l.from.as_ref()?.site_id())
        .filter(|id| towers.contains_key(id))
        .collect();
    internet.sort_unstable();
    internet.dedup();
    if internet.len() == 1 {
        return Ok(internet[0].to_owned());
    }
    let tops: Vec<&str> = towers
        .values()
        .filter(|s| {
            s.identification
                .as_ref()
                .and_then(|i| i.parent.as_ref())
                .and_then(|p| p.id.as_deref())
                .is_none_or(|p| !towers.contains_key(p))
        })
        .map(|s| s.id.as_str())
        .collect();
    match (internet.len(), tops.as_slice()) {
        (0, [one]) => Ok((*one).to_owned()),
        (n, _) if n > 1 => Err(format!(
            "{n} sites are connected to the Internet in UISP ({}): set [uisp_integration] site to the root site's name",
            internet.join(", ")
        )),
        _ => Err("cannot find the root site (no Internet data link in UISP, and not exactly one site without a parent): set [uisp_integration] site".into()),
    }
}

/// (download, upload) Mbps of a backhaul between `a` and `b`: per direction the smaller of
/// the two ends, with the AP end first.
fn link_capacity(a: &Device, b: &Device, s: &Uisp, d: Defaults) -> (f64, f64) {
    let (ca, cb) = (device_capacity(a, s), device_capacity(b, s));
    let pick = |x: Option<f64>, y: Option<f64>, dflt: f64| match (x, y) {
        (Some(x), Some(y)) => x.min(y),
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => dflt,
    };
    let down = pick(ca.map(|c| c.0), cb.map(|c| c.0), d.pn_down);
    let up = pick(ca.map(|c| c.1), cb.map(|c| c.1), d.pn_up);
    (
        if down < 1.0 { d.pn_down } else { down },
        if up < 1.0 { d.pn_up } else { up },
    )
}

/// Places every tower site (but the root) in the tree.
pub fn place(
    settings: &Uisp,
    defaults: Defaults,
    root: &str,
    towers: &BTreeMap<&str, &Site>,
    devices: &HashMap<&str, &Device>,
    links: &[DataLink],
) -> BTreeMap<String, Placed> {
    let site_of = |d: &Device| d.identification.site.as_ref()?.id.clone();
    // Backhaul edges between tower sites.
    let mut edges: HashMap<String, Vec<(String, f64, f64)>> = HashMap::new();
    for l in links {
        let (Some(a), Some(b)) = (
            l.from.as_ref().and_then(|e| e.device_id()),
            l.to.as_ref().and_then(|e| e.device_id()),
        ) else {
            continue;
        };
        let (Some(da), Some(db)) = (devices.get(a), devices.get(b)) else {
            continue;
        };
        let (Some(sa), Some(sb)) = (site_of(da), site_of(db)) else {
            continue;
        };
        if sa == sb || !towers.contains_key(sa.as_str()) || !towers.contains_key(sb.as_str()) {
            continue;
        }
        // The AP end first when it can be told.
        let (ap, sta) = if is_station(da) && !is_station(db) || is_ap(db) && !is_ap(da) {
            (db, da)
        } else {
            (da, db)
        };
        let (down, up) = link_capacity(ap, sta, settings, defaults);
        edges
            .entry(sa.clone())
            .or_default()
            .push((sb.clone(), down, up));
        edges.entry(sb).or_default().push((sa, down, up));
    }
    // Widest path first: cost 10000 - capacity per hop (as LibreQoS), ties by site id.
    let mut placed: BTreeMap<String, Placed> = BTreeMap::new();
    let mut best: HashMap<String, u64> = HashMap::from([(root.to_owned(), 0)]);
    let mut heap = BinaryHeap::from([Reverse((0u64, root.to_owned()))]);
    let mut caps: HashMap<String, (f64, f64)> =
        HashMap::from([(root.to_owned(), (f64::INFINITY, f64::INFINITY))]);
    while let Some(Reverse((cost, at))) = heap.pop() {
        if best.get(&at).is_some_and(|b| *b < cost) {
            continue;
        }
        let (pd, pu) = caps
            .get(&at)
            .copied()
            .unwrap_or((defaults.pn_down, defaults.pn_up));
        let mut next = edges.get(&at).cloned().unwrap_or_default();
        next.sort_by(|a, b| a.0.cmp(&b.0));
        for (to, down, up) in next {
            let c = cost + 10_000u64.saturating_sub(down as u64).max(1);
            if best.get(&to).is_none_or(|b| c < *b) {
                best.insert(to.clone(), c);
                caps.insert(to.clone(), (down.min(pd), up.min(pu)));
                placed.insert(
                    to.clone(),
                    Placed {
                        parent: (at != root).then(|| at.clone()),
                        down: down.min(pd),
                        up: up.min(pu),
                        by_link: true,
                    },
                );
                heap.push(Reverse((c, to)));
            }
        }
    }
    placed.remove(root);
    // Sites no backhaul reaches: their UISP parent, else the top level.
    for (id, site) in towers {
        if *id == root || placed.contains_key(*id) {
            continue;
        }
        let parent = site
            .identification
            .as_ref()
            .and_then(|i| i.parent.as_ref())
            .and_then(|p| p.id.clone())
            .filter(|p| towers.contains_key(p.as_str()) && p != root);
        placed.insert(
            (*id).to_owned(),
            Placed {
                parent,
                down: defaults.pn_down,
                up: defaults.pn_up,
                by_link: false,
            },
        );
    }
    placed
}
