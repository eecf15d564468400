//! Splynx records → nodes and circuits (pure).
//!
//! One circuit per active Internet service (`splynx:service:<id>`), named after its customer,
//! with one device carrying the service's static addresses and routes, filled in from the
//! online sessions (dynamic/PPPoE addresses). Rates: the tariff (kbps; a higher fixed burst
//! limit wins) through LibreQoS's client-rate rule, min = 98 % of max. The parent: the
//! service's access device, else its router, else the router's first sector, when that is a
//! monitoring device; the strategy decides which nodes exist.

use super::api::{Customer, Monitoring, NetworkSite, Online, Sector, Service, Tariff};
use crate::model::{client_rate, parse_ip_list, CircuitRec, DeviceRec, Import, NodeRec};
use ipnet::IpNet;
use lqos_config::integrations::{IntegrationCommon, Splynx, Strategy};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Capacity LibreQoS gives every Splynx site and AP (an override in lqos_overrides.json
/// changes it).
pub const NODE_MBPS: f64 = 10_000.0;

pub struct Records {
    pub tariffs: Vec<Tariff>,
    pub customers: Vec<Customer>,
    pub online: Vec<Online>,
    pub services: Vec<Service>,
    pub sectors: Vec<Sector>,
    pub monitoring: Vec<Monitoring>,
    pub network_sites: Vec<NetworkSite>,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn monitoring_name(m: &Monitoring) -> String {
    [&m.title, &m.name, &m.address, &m.ip]
        .into_iter()
        .flatten()
        .map(|s| clean(s))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| m.id.clone().unwrap_or_default())
}

/// (download, upload) Mbps of each tariff, after the client-rate rule.
fn tariffs(
    s: &Splynx,
    common: &IntegrationCommon,
    r: &Records,
    import: &mut Import,
) -> HashMap<String, (f64, f64)> {
    let mut out = HashMap::new();
    for t in &r.tariffs {
        let Some(id) = &t.id else { continue };
        let speed = |v: Option<f64>, burst: Option<f64>| {
            let v = v.filter(|x| *x > 0.0)?;
            Some(burst.filter(|b| *b > v).unwrap_or(v) / 1000.0)
        };
        match (
            speed(t.speed_download, t.burst_limit_fixed_down),
            speed(t.speed_upload, t.burst_limit_fixed_up),
        ) {
            (Some(d), Some(u)) => {
                let rate = |x| {
                    client_rate(
                        x,
                        s.shared.bandwidth_overhead_factor,
                        common.client_bandwidth_multiplier,
                    )
                };
                out.insert(id.clone(), (rate(d), rate(u)));
            }
            _ => import.note(
                format!("tariff {id}"),
                "no download/upload speed: its services are skipped",
            ),
        }
    }
    out
}

pub fn map(s: &Splynx, common: &IntegrationCommon, r: &Records, import: &mut Import) {
    let rates = tariffs(s, common, r, import);
    let names: HashMap<&str, &Customer> = r
        .customers
        .iter()
        .filter_map(|c| Some((c.id.as_deref()?, c)))
        .collect();
    let monitoring: BTreeMap<&str, &Monitoring> = r
        .monitoring
        .iter()
        .filter_map(|m| Some((m.id.as_deref()?, m)))
        .collect();
    let served: HashSet<&str> = r
        .services
        .iter()
        .filter_map(|x| x.access_device.as_deref())
        .collect();
    let is_ap = |id: &str, m: &Monitoring| match m.access_device {
        Some(a) => a || served.contains(id),
        None => m.kind.as_deref() == Some("5") || served.contains(id),
    };
    let excluded = |m: &Monitoring| s.shared.exclude_sites.contains(&monitoring_name(m));

    // Nodes.
    let sites: BTreeMap<&str, &NetworkSite> = r
        .network_sites
        .iter()
        .filter_map(|x| Some((x.id.as_deref()?, x)))
        .collect();
    let with_network_sites = s.strategy == Strategy::ApSite
        && monitoring.values().any(|m| {
            m.network_site_id
                .as_deref()
                .is_some_and(|n| sites.contains_key(n))
        });
    let mut node_of: HashMap<&str, String> = HashMap::new();
    if with_network_sites {
        let used: BTreeSet<&str> = monitoring
            .iter()
            .filter(|(id, m)| is_ap(id, m) && !excluded(m))
            .filter_map(|(_, m)| m.network_site_id.as_deref())
            .filter(|n| sites.contains_key(n))
            .collect();
        for id in used {
            let site = sites[id];
            let name = [&site.title, &site.description]
                .into_iter()
                .flatten()
                .map(|x| clean(x))
                .find(|x| !x.is_empty())
                .unwrap_or_else(|| id.to_owned());
            if s.shared.exclude_sites.contains(&name) {
                continue;
            }
            import.nodes.push(node(
                format!("splynx:network_site:{id}"),
                name,
                None,
                "Site",
            ));
        }
    }
    match s.strategy {
        Strategy::Flat => {}
        Strategy::ApOnly => {
            for (id, m) in monitoring
                .iter()
                .filter(|(id, m)| is_ap(id, m) && !excluded(m))
            {
                let nid = format!("splynx:ap:{id}");
                node_of.insert(id, nid.clone());
                import
                    .nodes
                    .push(node(nid, extended_name(m, &monitoring), None, "AP"));
            }
        }
        Strategy::ApSite if with_network_sites => {
            let site_ids: HashSet<String> = import.nodes.iter().map(|n| n.id.clone()).collect();
            for (id, m) in monitoring
                .iter()
                .filter(|(id, m)| is_ap(id, m) && !excluded(m))
            {
                let nid = format!("splynx:ap:{id}");
                let parent = m
                    .network_site_id
                    .as_ref()
                    .map(|n| format!("splynx:network_site:{n}"))
                    .filter(|n| site_ids.contains(n));
                node_of.insert(id, nid.clone());
                import
                    .nodes
                    .push(node(nid, extended_name(m, &monitoring), parent, "AP"));
            }
        }
        Strategy::ApSite | Strategy::Full => {
            for (id, m) in monitoring.iter().filter(|(_, m)| !excluded(m)) {
                let ap = is_ap(id, m);
                let nid = format!("splynx:{}:{id}", if ap { "ap" } else { "site" });
                node_of.insert(id, nid);
            }
            for (id, m) in monitoring.iter().filter(|(_, m)| !excluded(m)) {
                let parent = m
                    .parent_id
                    .as_deref()
                    .filter(|p| *p != "0")
                    .and_then(|p| node_of.get(p).cloned());
                let kind = if is_ap(id, m) { "AP" } else { "Site" };
                import.nodes.push(node(
                    node_of[id].clone(),
                    extended_name(m, &monitoring),
                    parent,
                    kind,
                ));
            }
        }
    }

    // Circuits.
    let mut online: HashMap<&str, (Vec<IpNet>, Vec<IpNet>)> = HashMap::new();
    for o in &r.online {
        let Some(sid) = o.service_id.as_deref() else {
            continue;
        };
        let e = online.entry(sid).or_default();
        e.0.extend(parse_ip_list(o.ipv4.as_deref().unwrap_or("")).0);
        e.1.extend(parse_ip_list(o.ipv6.as_deref().unwrap_or("")).0);
    }
    let mut sorted: Vec<&Service> = r.services.iter().collect();
    sorted.sort_by_key(|x| {
        x.id.as_deref()
            .and_then(|i| i.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    });
    for svc in sorted {
        let Some(id) = svc.id.as_deref() else {
            continue;
        };
        let record = format!("service {id}");
        if svc
            .status
            .as_deref()
            .is_some_and(|st| !st.eq_ignore_ascii_case("active"))
        {
            import.skip(
                &record,
                format!(
                    "status {:?} (only active services are shaped)",
                    svc.status.as_deref().unwrap_or("")
                ),
            );
            continue;
        }
        let Some(&(down, up)) = svc.tariff_id.as_deref().and_then(|t| rates.get(t)) else {
            import.skip(
                &record,
                format!(
                    "tariff {:?} is unknown or has no speeds",
                    svc.tariff_id.as_deref().unwrap_or("")
                ),
            );
            continue;
        };
        let mut ips = Vec::new();
        let (mut v4, mut v6): (Vec<IpNet>, Vec<IpNet>) = (Vec::new(), Vec::new());
        for (field, text) in [
            ("ipv4", &svc.ipv4),
            ("ipv4_route", &svc.ipv4_route),
            ("ipv6", &svc.ipv6),
            ("ipv6_delegated", &svc.ipv6_delegated),
        ] {
            let (good, bad) = parse_ip_list(text.as_deref().unwrap_or(""));
            for n in good {
                if n.addr().is_ipv4() {
                    v4.push(n)
                } else {
                    v6.push(n)
                }
            }
            for b in bad {
                import.note(&record, format!("{field} ignored: {b}"));
            }
        }
        // Dynamic (online) addresses fill in a family the service has no static address of.
        if let Some((o4, o6)) = online.get(id) {
            if v4.is_empty() {
                v4.extend(o4.iter().copied());
            }
            if v6.is_empty() {
                v6.extend(o6.iter().copied());
            }
        }
        ips.extend(v4);
        ips.extend(v6);
        if ips.is_empty() {
            import.skip(&record, "no IP address (none static, none online)");
            continue;
        }
        let customer = svc.customer_id.as_deref().and_then(|c| names.get(c));
        let name = customer
            .and_then(|c| c.name.clone())
            .unwrap_or_else(|| format!("Service {id}"));
        let name = if common.circuit_name_as_address {
            customer.and_then(|c| c.street_1.clone()).unwrap_or(name)
        } else {
            name
        };
        // The parent: access device, router, the router's first sector.
        let parent = [svc.access_device.as_deref(), svc.router_id.as_deref()]
            .into_iter()
            .flatten()
            .chain(
                r.sectors
                    .iter()
                    .filter(|x| x.router_id.is_some() && x.router_id == svc.router_id)
                    .filter_map(|x| x.id.as_deref())
                    .take(1),
            )
            .find(|p| monitoring.contains_key(p));
        let parent_id = match (s.strategy, parent) {
            (Strategy::Flat, _) | (_, None) => None,
            (_, Some(p)) => match node_of.get(p) {
                Some(n) => Some(n.clone()),
                None => {
                    import.note(&record, format!("its device {p} is not in the topology (excluded, or not a node in this strategy): imported unparented"));
                    None
                }
            },
        };
        import.circuits.push(CircuitRec {
            id: format!("splynx:service:{id}"),
            name: name.clone(),
            parent_id,
            devices: vec![DeviceRec {
                id: format!("splynx:device:{id}"),
                name,
                mac: svc.mac.clone().unwrap_or_default(),
                ips,
            }],
            ..CircuitRec::client_rates(down, up)
        });
    }
}

fn extended_name(m: &Monitoring, all: &BTreeMap<&str, &Monitoring>) -> String {
    let own = monitoring_name(m);
    match m.parent_id.as_deref().and_then(|p| all.get(p)) {
        Some(parent) => format!("{}_{own}", monitoring_name(parent)),
        None => own,
    }
}

fn node(id: String, name: String, parent_id: Option<String>, kind: &str) -> NodeRec {
    NodeRec {
        id,
        name,
        parent_id,
        kind: kind.into(),
        download_mbps: NODE_MBPS,
        upload_mbps: NODE_MBPS,
    }
}
