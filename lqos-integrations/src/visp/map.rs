//! The pure mapping of what the VISP client fetched: one circuit per wireless service of the
//! bulk list, then per service of the customers the bulk list lacks (the backfill), with
//! `onlineUsers` as the last source of an address, and the IRM parents ([`super::topology`]).

use super::records::{
    Customer, CustomerService, IpListEntry, OnlineUser, Subscriber, WirelessService,
};
use super::topology::{self, Wanted};
use crate::model::Import;
use crate::model::{client_rate, parse_ip_list, parse_records, text_field, CircuitRec, DeviceRec};
use crate::sources::Defaults;
use ipnet::IpNet;
use lqos_config::integrations::{IntegrationCommon, Visp};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Everything one run fetched (JSON as received; records are parsed one by one here).
#[derive(Debug, Default)]
pub struct Fetched {
    /// `customerCPEwithWirelessServiceSpeeds`.
    pub bulk: Vec<Value>,
    /// `subscribers`, every page.
    pub subscribers: Vec<Value>,
    /// Customer id → its `customerServices`, or why the query failed (the backfill of
    /// customers missing from the bulk list).
    pub backfill: BTreeMap<String, Result<Vec<Value>, String>>,
    /// Customer id → its `customerIPList` (fetched when nothing else has an address).
    pub ip_lists: HashMap<String, Vec<Value>>,
    /// `onlineUsers(domain)`, when `online_users_domain` is set.
    pub online: Vec<Value>,
    /// `equipmentAssemblies` CPE rows and the `equipmentPg` tree (empty: no IRM data).
    pub assemblies: Vec<Value>,
    pub equipment: Vec<Value>,
}

/// Mbps from a VISP speed and its unit (an unknown unit counts as Mbps, as LibreQoS).
pub fn to_mbps(value: f64, unit: Option<&str>) -> f64 {
    match unit.unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "kbps" | "kb" | "k" => value / 1000.0,
        "gbps" | "gb" | "g" => value * 1000.0,
        _ => value,
    }
}

/// Cancelled, terminated or deleted; anything else (INACTIVE too) is shaped, as LibreQoS.
pub fn cancelled(status: Option<&str>) -> bool {
    matches!(
        status.unwrap_or("").trim().to_ascii_uppercase().as_str(),
        "CANCELLED" | "CANCELED" | "TERMINATED" | "DELETED"
    )
}

/// A WiFi service of the backfill (`ServiceTypeWifi`, or a `service_type` naming WiFi).
pub fn is_wifi(svc: &Value) -> bool {
    let typename = svc["service_details"]["__typename"].as_str().unwrap_or("");
    let kind = svc["service_type"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    typename == "ServiceTypeWifi" || kind.contains("wifi")
}

/// Whether a backfilled customer needs `customerIPList`: a WiFi service without an address
/// and a subscriber record without one either.
pub fn needs_ip_list(services: &[Value], subscriber: Option<&Value>) -> bool {
    let has = |v: &Value, k: &str| text_field(v, k).is_some_and(|t| !t.trim().is_empty());
    let sub_has = subscriber.is_some_and(|s| has(s, "package_ip") || has(s, "equipment_ip"));
    !sub_has
        && services
            .iter()
            .any(|s| is_wifi(s) && !has(&s["service_details"], "ip_address"))
}

fn ipv4s(texts: &[&str]) -> Vec<IpNet> {
    let mut ips: Vec<IpNet> = Vec::new();
    for t in texts {
        for n in parse_ip_list(t).0 {
            if n.addr().is_ipv4() && !ips.contains(&n) {
                ips.push(n);
            }
        }
    }
    ips
}

/// One service on its way to a circuit.
struct Draft<'a> {
    number: String,
    svc: &'a WirelessService,
    username: String,
    /// Address candidates in LibreQoS's order.
    texts: Vec<&'a str>,
    mac: String,
    /// For the IRM placement.
    wanted: Wanted,
}

struct Mapper<'a> {
    s: &'a Visp,
    common: &'a IntegrationCommon,
    import: Import,
    out: BTreeMap<String, CircuitRec>,
    online: HashMap<String, IpNet>,
    wanted: Vec<(String, Wanted)>,
}

impl Mapper<'_> {
    fn add(&mut self, d: Draft<'_>) {
        let record = format!("service {}", d.number);
        let svc = d.svc;
        if cancelled(svc.package_status.as_deref()) || cancelled(svc.status.as_deref()) {
            return self.import.skip(&record, "cancelled/terminated/deleted");
        }
        if self.out.contains_key(&d.number) {
            return self.import.skip(&record, "duplicate service number");
        }
        let (Some(down), Some(up)) = (
            svc.down_speed.filter(|x| *x > 0.0),
            svc.up_speed.filter(|x| *x > 0.0),
        ) else {
            return self.import.skip(&record, "no download/upload speed");
        };
        let mut ips = ipv4s(&d.texts);
        if ips.is_empty() {
            if let Some(ip) = self.online.get(&d.username) {
                self.import.note(
                    &record,
                    format!("address {ip} from onlineUsers (none in the CRM)"),
                );
                ips.push(*ip);
            }
        }
        if ips.is_empty() {
            return self.import.skip(
                &record,
                "no IPv4 address (service, subscriber, equipment or onlineUsers)",
            );
        }
        let rate = |x: f64, unit: Option<&str>| {
            client_rate(
                to_mbps(x, unit),
                self.s.shared.bandwidth_overhead_factor,
                self.common.client_bandwidth_multiplier,
            )
        };
        let (down, up) = (
            rate(down, svc.down_speed_unit.as_deref()),
            rate(up, svc.up_speed_unit.as_deref()),
        );
        let id = format!("visp:service:{}", d.number);
        self.wanted.push((id.clone(), d.wanted));
        self.out.insert(
            d.number.clone(),
            CircuitRec {
                id,
                name: d.username.clone(),
                parent_id: None,
                devices: vec![DeviceRec {
                    id: format!("visp:device:{}", d.number),
                    name: format!("{}_device", d.username),
                    mac: d.mac.to_ascii_uppercase(),
                    ips,
                }],
                ..CircuitRec::client_rates(down, up)
            },
        );
    }
}

/// Maps one run's records (pure).
pub fn map(s: &Visp, common: &IntegrationCommon, defaults: Defaults, f: Fetched) -> Import {
    let mut import = Import::new(super::NAME);
    let cid = |v: &Value| text_field(v, "customer_id");
    let customers: Vec<Customer> = parse_records(&mut import, "customer", f.bulk, cid);
    let subscribers: Vec<Subscriber> = parse_records(&mut import, "subscriber", f.subscribers, cid);
    let online: Vec<OnlineUser> = parse_records(&mut import, "online user", f.online, |v| {
        text_field(v, "username")
    });
    let by_id: HashMap<&str, &Subscriber> = subscribers
        .iter()
        .filter_map(|x| Some((x.customer_id.as_deref()?, x)))
        .collect();
    let mut m = Mapper {
        s,
        common,
        import,
        out: BTreeMap::new(),
        online: online
            .iter()
            .filter_map(|u| {
                let ip = ipv4s(&[u.ip.as_deref()?]).first().copied()?;
                Some((u.username.clone()?, ip))
            })
            .collect(),
        wanted: Vec::new(),
    };
    let names = |sub: Option<&&Subscriber>, username: &str| {
        let mut n = vec![username.to_owned()];
        if let Some(sub) = sub {
            let full = [sub.first_name.as_deref(), sub.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            n.extend([full].into_iter().filter(|x| !x.is_empty()));
        }
        n
    };
    for c in &customers {
        let id = c.customer_id.clone().unwrap_or_default();
        let sub = by_id.get(id.as_str());
        let equipment = c.equipment.as_deref().unwrap_or(&[]);
        let username = c
            .username
            .clone()
            .or_else(|| sub.and_then(|x| x.username.clone()))
            .unwrap_or_else(|| id.clone());
        for svc in c.wireless_services.as_deref().unwrap_or(&[]) {
            let Some(number) = svc.service_number.clone() else {
                continue;
            };
            let mut texts = vec![svc.ip_address.as_deref().unwrap_or("")];
            if let Some(sub) = sub {
                texts.extend(
                    [sub.package_ip.as_deref(), sub.equipment_ip.as_deref()]
                        .into_iter()
                        .flatten(),
                );
            }
            texts.extend(equipment.iter().filter_map(|e| e.ip_address.as_deref()));
            let mac = svc
                .mac_address
                .clone()
                .or_else(|| equipment.iter().find_map(|e| e.mac_address.clone()))
                .unwrap_or_default();
            m.add(Draft {
                number,
                svc,
                username: username.clone(),
                texts,
                wanted: Wanted {
                    equipment_ids: equipment
                        .iter()
                        .filter_map(|e| e.equipment_id.clone())
                        .collect(),
                    names: names(sub, &username),
                    mac: mac.clone(),
                },
                mac,
            });
        }
    }
    // The backfill: customers the bulk list lacks, service by service.
    let mut kept: Vec<(String, Vec<CustomerService>)> = Vec::new();
    for (customer, answer) in f.backfill {
        let record = format!("customer {customer}");
        match answer {
            Err(why) => m.import.skip(
                &record,
                format!("not in the bulk list, and customerServices failed: {why}"),
            ),
            Ok(list) => {
                let wifi: Vec<Value> = list.into_iter().filter(is_wifi).collect();
                if wifi.is_empty() {
                    m.import
                        .skip(&record, "not in the bulk list and no WiFi service");
                    continue;
                }
                let services: Vec<CustomerService> =
                    parse_records(&mut m.import, &format!("{record} service"), wifi, |v| {
                        text_field(v, "id")
                    });
                kept.push((customer, services));
            }
        }
    }
    let ip_lists: HashMap<String, Vec<IpListEntry>> = f
        .ip_lists
        .into_iter()
        .map(|(c, list)| {
            let parsed = parse_records(
                &mut m.import,
                &format!("customer {c} ip list"),
                list,
                |_| None,
            );
            (c, parsed)
        })
        .collect();
    for (customer, services) in &kept {
        let sub = by_id.get(customer.as_str());
        for cs in services {
            let Some(svc) = cs.service_details.as_ref() else {
                m.import.skip(
                    format!(
                        "customer {customer} service {}",
                        cs.id.as_deref().unwrap_or("?")
                    ),
                    "no service details",
                );
                continue;
            };
            let Some(number) = svc.service_number.clone().or_else(|| cs.id.clone()) else {
                m.import.skip(
                    format!("customer {customer}"),
                    "a service without number or id",
                );
                continue;
            };
            if cancelled(cs.status.as_deref()) {
                m.import
                    .skip(format!("service {number}"), "cancelled/terminated/deleted");
                continue;
            }
            let username = svc
                .username
                .clone()
                .or_else(|| sub.and_then(|x| x.username.clone()))
                .unwrap_or_else(|| customer.clone());
            let mut texts = vec![svc.ip_address.as_deref().unwrap_or("")];
            if let Some(sub) = sub {
                texts.extend(
                    [sub.package_ip.as_deref(), sub.equipment_ip.as_deref()]
                        .into_iter()
                        .flatten(),
                );
            }
            for e in ip_lists.get(customer).map(Vec::as_slice).unwrap_or(&[]) {
                texts.extend(
                    [e.package_ip.as_deref(), e.equipment_ip.as_deref()]
                        .into_iter()
                        .flatten(),
                );
            }
            let mac = svc.mac_address.clone().unwrap_or_default();
            m.add(Draft {
                number,
                svc,
                username: username.clone(),
                texts,
                wanted: Wanted {
                    equipment_ids: Vec::new(),
                    names: names(sub, &username),
                    mac: mac.clone(),
                },
                mac,
            });
        }
    }
    let Mapper {
        mut import,
        out,
        wanted,
        ..
    } = m;
    import.circuits = out.into_values().collect();
    topology::place(&mut import, defaults, f.assemblies, f.equipment, &wanted);
    import
}
