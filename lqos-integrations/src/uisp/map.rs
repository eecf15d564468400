//! UISP sites, devices and data links → nodes and circuits (pure; no network).
//!
//! One circuit per client ("endpoint") site, one device row per device of that site with an
//! IP. A client's parent is the AP its radio is associated with (`attributes.apDevice`), else
//! the AP at the other end of a data link, else its UISP parent site. The strategy then
//! projects the full tree: `full` (sites, APs), `ap_site` (each AP under its own site, sites
//! flat), `ap_only` (APs only), `flat` (no nodes).

use super::api::{DataLink, Device, Site};
use super::capacity::{device_capacity, ethernet_mbps, is_router, is_station};
use super::topology::{place, root};
use crate::model::{parse_ip, CircuitRec, DeviceRec, Import, NodeRec};
use crate::sources::Defaults;
use ipnet::IpNet;
use lqos_config::integrations::{IntegrationCommon, Strategy, Suspended, Uisp};
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn site_id(id: &str) -> String {
    format!("uisp:site:{id}")
}
fn device_id(id: &str) -> String {
    format!("uisp:device:{id}")
}

fn site_name(s: &Site) -> String {
    s.identification
        .as_ref()
        .and_then(|i| i.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| s.id.clone())
}

fn site_kind(s: &Site) -> Option<&str> {
    s.identification.as_ref()?.kind.as_deref()
}

/// "Last, First" → "First Last" (not for companies or names with digits).
pub fn display_name(name: &str) -> String {
    let Some((last, first)) = name.split_once(',') else {
        return name.trim().to_owned();
    };
    let (last, first) = (last.trim(), first.trim());
    let company = ["llc", "inc", "corp", "co", "ltd", "gmbh", "plc", "inc."];
    let odd = |p: &str| {
        p.is_empty()
            || p.chars().any(|c| c.is_ascii_digit())
            || p.contains(',')
            || company.contains(&p.to_ascii_lowercase().trim_end_matches('.'))
    };
    if odd(last) || odd(first) {
        return name.trim().to_owned();
    }
    format!("{first} {last}")
}

/// The records as fetched (each already parsed on its own).
pub struct Records {
    pub sites: Vec<Site>,
    pub devices: Vec<Device>,
    pub links: Vec<DataLink>,
}

/// Maps the records into `import`.
pub fn map(
    s: &Uisp,
    common: &IntegrationCommon,
    d: Defaults,
    records: &Records,
    import: &mut Import,
) -> Result<(), String> {
    // Sites by id (the first of a duplicated id wins), excluded names dropped.
    let mut towers: BTreeMap<&str, &Site> = BTreeMap::new();
    let mut clients: BTreeMap<&str, &Site> = BTreeMap::new();
    let mut excluded: BTreeSet<&str> = BTreeSet::new();
    for site in &records.sites {
        if towers.contains_key(site.id.as_str()) || clients.contains_key(site.id.as_str()) {
            import.skip(format!("site {}", site.id), "duplicate site id");
            continue;
        }
        if s.exclude_sites.contains(&site_name(site)) {
            excluded.insert(&site.id);
            continue;
        }
        match site_kind(site) {
            Some("site") => {
                towers.insert(&site.id, site);
            }
            Some("endpoint") => {
                clients.insert(&site.id, site);
            }
            other => import.skip(
                format!("site {}", site.id),
                format!(
                    "unknown site type {:?} (expected \"site\" or \"endpoint\")",
                    other.unwrap_or("null")
                ),
            ),
        }
    }
    let mut devices: HashMap<&str, &Device> = HashMap::new();
    let mut by_site: BTreeMap<&str, Vec<&Device>> = BTreeMap::new();
    for dev in &records.devices {
        let id = dev.identification.id.as_str();
        if devices.insert(id, dev).is_some() {
            import.skip(format!("device {id}"), "duplicate device id");
            continue;
        }
        if let Some(site) = dev
            .identification
            .site
            .as_ref()
            .and_then(|r| r.id.as_deref())
        {
            by_site.entry(site).or_default().push(dev);
        }
    }
    let site_of = |dev: &Device| dev.identification.site.as_ref()?.id.clone();

    let root = root(s, &towers, &records.links)?;
    let placed = place(s, d, &root, &towers, &devices, &records.links);

    // Each client's parent: an AP device in a tower site, else a tower site.
    enum Parent {
        Ap(String),
        Site(String),
        None,
    }
    let mut parents: BTreeMap<&str, Parent> = BTreeMap::new();
    let mut used_aps: BTreeSet<String> = BTreeSet::new();
    for cid in clients.keys() {
        let devs = by_site.get(cid).map(Vec::as_slice).unwrap_or(&[]);
        let mut parent = Parent::None;
        let in_tower = |id: &str| {
            devices
                .get(id)
                .and_then(|x| site_of(x))
                .filter(|s| towers.contains_key(s.as_str()) || excluded.contains(s.as_str()))
        };
        // (a) the AP a radio is associated with; (b) a data link to a tower device.
        let mut found = devs.iter().find_map(|dev| {
            let ap = dev.attributes.as_ref()?.ap_device.as_ref()?.id.clone()?;
            in_tower(&ap).map(|_| ap)
        });
        if found.is_none() {
            found = records.links.iter().find_map(|l| {
                let (a, b) = (l.from.as_ref()?.device_id()?, l.to.as_ref()?.device_id()?);
                let mine = |x: &str| devs.iter().any(|d| d.identification.id == x);
                if mine(a) && in_tower(b).is_some() {
                    Some(b.to_owned())
                } else if mine(b) && in_tower(a).is_some() {
                    Some(a.to_owned())
                } else {
                    None
                }
            });
        }
        if let Some(ap) = found {
            let ap_site = devices.get(ap.as_str()).and_then(|x| site_of(x));
            if ap_site.as_deref().is_some_and(|x| excluded.contains(x)) {
                import.skip(
                    format!("site {cid}"),
                    "its AP is in a site listed in exclude_sites",
                );
                continue;
            }
            parent = Parent::Ap(ap);
        } else if let Some(p) = clients[cid]
            .identification
            .as_ref()
            .and_then(|i| i.parent.as_ref())
            .and_then(|p| p.id.clone())
        {
            if excluded.contains(p.as_str()) {
                import.skip(format!("site {cid}"), "its parent site is in exclude_sites");
                continue;
            }
            if towers.contains_key(p.as_str()) {
                parent = Parent::Site(p);
            }
        }
        // exception_cpes: a CPE's hostname names the parent (a site or AP, by name or id).
        for dev in devs {
            let host = dev.identification.hostname.as_deref().unwrap_or("");
            if let Some((_, target)) = s.exception_cpes.iter().find(|(cpe, _)| cpe == host) {
                if let Some((id, _)) = towers
                    .iter()
                    .find(|(id, t)| **id == target.as_str() || site_name(t) == *target)
                {
                    parent = Parent::Site((*id).to_owned());
                } else if let Some(ap) = devices.values().find(|x| {
                    x.identification.id == *target
                        || x.identification.hostname.as_deref() == Some(target.as_str())
                }) {
                    parent = Parent::Ap(ap.identification.id.clone());
                } else {
                    import.note(
                        format!("site {cid}"),
                        format!(
                            "exception_cpes names {target:?}, which is neither a site nor a device"
                        ),
                    );
                }
            }
        }
        if let Parent::Ap(ap) = &parent {
            used_aps.insert(ap.clone());
        }
        parents.insert(cid, parent);
    }

    // Nodes, per the strategy. Sites first, so they keep their plain names.
    let pn = |v: f64, dflt: f64| {
        if s.ignore_calculated_capacity {
            dflt
        } else {
            v
        }
    };
    let squashed: BTreeSet<String> = towers
        .iter()
        .filter(|(_, t)| s.squash_sites.contains(&site_name(t)))
        .map(|(id, _)| (*id).to_owned())
        .collect();
    // A squashed (or the root) site's children go to its parent.
    let lift = |mut p: Option<String>| {
        let mut hops = 0;
        while let Some(id) = p.clone().filter(|id| squashed.contains(id)) {
            p = placed.get(&id).and_then(|x| x.parent.clone());
            hops += 1;
            if hops > towers.len() {
                return None;
            }
        }
        p.filter(|id| *id != root)
    };
    let ap_site = |ap: &str| devices.get(ap).and_then(|x| site_of(x));
    let site_cap = |id: &str| {
        placed.get(id).map_or((d.pn_down, d.pn_up), |p| {
            (pn(p.down, d.pn_down), pn(p.up, d.pn_up))
        })
    };
    if s.strategy == Strategy::Full {
        for (id, t) in &towers {
            if *id == root || squashed.contains(*id) {
                continue;
            }
            let (down, up) = site_cap(id);
            import.nodes.push(NodeRec {
                id: site_id(id),
                name: site_name(t),
                parent_id: lift(placed.get(*id).and_then(|p| p.parent.clone()))
                    .map(|p| site_id(&p)),
                kind: "Site".into(),
                download_mbps: down,
                upload_mbps: up,
            });
        }
    }
    if s.strategy == Strategy::ApSite {
        let ap_sites: BTreeSet<String> = used_aps.iter().filter_map(|a| ap_site(a)).collect();
        for id in ap_sites {
            let Some(t) = towers.get(id.as_str()) else {
                continue;
            };
            let (down, up) = site_cap(&id);
            import.nodes.push(NodeRec {
                id: site_id(&id),
                name: site_name(t),
                parent_id: None,
                kind: "Site".into(),
                download_mbps: down,
                upload_mbps: up,
            });
        }
    }
    if s.strategy != Strategy::Flat {
        for ap in &used_aps {
            let Some(dev) = devices.get(ap.as_str()) else {
                continue;
            };
            let site = site_of(dev).unwrap_or_default();
            let (sd, su) = site_cap(&site);
            let (down, up) = device_capacity(dev, s)
                .filter(|(a, b)| *a >= 1.0 && *b >= 1.0)
                .map_or((sd, su), |(a, b)| {
                    (pn(a.min(sd), d.pn_down), pn(b.min(su), d.pn_up))
                });
            let parent = match s.strategy {
                Strategy::Full => lift(Some(site.clone())).map(|p| site_id(&p)),
                Strategy::ApSite => Some(site_id(&site)),
                _ => None,
            };
            import.nodes.push(NodeRec {
                id: device_id(ap),
                name: dev
                    .identification
                    .hostname
                    .clone()
                    .unwrap_or_else(|| ap.clone()),
                parent_id: parent,
                kind: "AP".into(),
                download_mbps: down,
                upload_mbps: up,
            });
        }
    }

    // Circuits.
    for (cid, site) in &clients {
        let Some(parent) = parents.get(cid) else {
            continue;
        };
        let record = format!("site {cid}");
        let suspended = site.identification.as_ref().and_then(|i| i.suspended) == Some(true);
        if suspended && s.suspended == Suspended::Ignore {
            import.skip(&record, "suspended (suspended_strategy = \"ignore\")");
            continue;
        }
        let devs = by_site.get(cid).map(Vec::as_slice).unwrap_or(&[]);
        let mut rows = Vec::new();
        for dev in devs {
            let ips = device_ips(dev, import);
            rows.push(DeviceRec {
                id: device_id(&dev.identification.id),
                name: dev
                    .identification
                    .hostname
                    .clone()
                    .unwrap_or_else(|| dev.identification.id.clone()),
                mac: dev.identification.mac.clone().unwrap_or_default(),
                ips,
            });
        }
        if rows.iter().all(|r| r.ips.is_empty()) {
            import.skip(&record, "no device with an IP address in this client site");
            continue;
        }
        let (mut dmin, mut umin, mut dmax, mut umax) = rates(s, d, site, import, &record);
        if let Suspended::Slow(rate) = s.suspended {
            if suspended {
                (dmin, umin, dmax, umax) = (rate, rate, rate, rate);
            }
        }
        if common.ethernet_port_limits_enabled {
            let stations: Vec<&&Device> = devs.iter().filter(|x| is_station(x)).collect();
            let candidates: Vec<&&Device> = if stations.is_empty() {
                devs.iter().filter(|x| !is_router(x)).collect()
            } else {
                stations
            };
            if let Some(port) = candidates
                .iter()
                .filter_map(|x| ethernet_mbps(x))
                .min_by(f64::total_cmp)
            {
                let usable = (port * common.ethernet_port_limit_multiplier).round();
                if usable < dmax || usable < umax {
                    import.note(
                        &record,
                        format!(
                            "capped at its CPE's {port} Mbps Ethernet port ({usable} Mbps usable)"
                        ),
                    );
                }
                dmax = dmax.min(usable);
                umax = umax.min(usable);
                dmin = dmin.min(dmax);
                umin = umin.min(umax);
            }
        }
        let parent_id = match (parent, s.strategy) {
            (_, Strategy::Flat) => None,
            (Parent::Ap(ap), _) => Some(device_id(ap)),
            (Parent::Site(site), Strategy::Full) => lift(Some(site.clone())).map(|p| site_id(&p)),
            (Parent::Site(_), _) => {
                import.note(&record, "no AP found for this client: imported unparented");
                None
            }
            (Parent::None, _) => {
                import.note(&record, "no AP or parent site found: imported unparented");
                None
            }
        };
        let name = display_name(&site_name(site));
        let address = site
            .description
            .as_ref()
            .and_then(|x| x.address.clone())
            .unwrap_or_default();
        import.circuits.push(CircuitRec {
            id: site_id(cid),
            name: if common.circuit_name_as_address && !address.is_empty() {
                address
            } else {
                name
            },
            parent_id,
            download_min: dmin,
            upload_min: umin,
            download_max: dmax,
            upload_max: umax,
            devices: rows,
            comment: String::new(),
        });
    }
    Ok(())
}

/// (download min, upload min, download max, upload max) in Mbps from the client's UISP QoS.
fn rates(
    s: &Uisp,
    d: Defaults,
    site: &Site,
    import: &mut Import,
    record: &str,
) -> (f64, f64, f64, f64) {
    let q = site.qos.as_ref();
    let speed = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0).map(|x| x / 1e6);
    // UISP sends burst sizes in bytes/s (LibreQoS PR #888): × 8 / 1000 / 1024 Mbps.
    let burst = |v: Option<f64>| {
        v.filter(|x| x.is_finite() && *x > 0.0)
            .map_or(0.0, |x| x * 8.0 / 1000.0 / 1024.0)
    };
    let (oh, commit) = (s.bandwidth_overhead_factor, s.commit_bandwidth_multiplier);
    match (
        speed(q.and_then(|q| q.download_speed)),
        speed(q.and_then(|q| q.upload_speed)),
    ) {
        (Some(down), Some(up)) => (
            down * commit,
            up * commit,
            (down + burst(q.and_then(|q| q.download_burst_size))) * oh,
            (up + burst(q.and_then(|q| q.upload_burst_size))) * oh,
        ),
        _ => {
            import.note(
                record,
                "no QoS speeds in UISP: shaped at generated_pn_download/upload_mbps",
            );
            let (dm, um) = (d.pn_down * oh, d.pn_up * oh);
            (dm * commit, um * commit, dm, um)
        }
    }
}

/// The management IP and every interface address; an address UISP got wrong is reported
/// and left out.
fn device_ips(dev: &Device, import: &mut Import) -> Vec<IpNet> {
    let mut texts: Vec<String> = dev.ip_address.iter().cloned().collect();
    for i in dev.interfaces.as_deref().unwrap_or(&[]) {
        for a in i.addresses.as_deref().unwrap_or(&[]) {
            texts.extend(a.cidr.clone());
        }
    }
    let mut ips: Vec<IpNet> = Vec::new();
    for t in texts.iter().filter(|t| !t.trim().is_empty()) {
        match parse_ip(t) {
            // A management address with its mask is the host, not the subnet.
            Ok(n) if Some(t) == dev.ip_address.as_ref() => ips.push(IpNet::from(n.addr())),
            Ok(n) => ips.push(n),
            Err(e) => import.note(
                format!("device {}", dev.identification.id),
                format!("address ignored: {e}"),
            ),
        }
    }
    // Link-local IPv6 is never a subscriber's address.
    ips.retain(|n| !matches!(n, IpNet::V6(v) if v.addr().segments()[0] & 0xffc0 == 0xfe80));
    ips.sort();
    ips.dedup();
    ips
}
