//! Powercode: `[powercode_integration]`, through its Preseem-compatible endpoint
//! (`:444/api/preseem/index.php`, form POSTs `list_customers` and `list_services`). Flat.
//!
//! One circuit per active customer and service (LibreQoS gave a customer with two services
//! the speed of whichever equipment came last), one device per equipment with an address.

use crate::http::{parse_json, Body, Http};
use crate::model::{
    client_rate, parse_ip, parse_records, text_field, CircuitRec, DeviceRec, Import,
};
use crate::model_de::{number, text};
use crate::sources::SourceError;
use lqos_config::integrations::{IntegrationCommon, Powercode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

pub const NAME: &str = "powercode";

/// Equipment types that are the subscriber's (as LibreQoS).
const SHAPED_TYPES: [&str; 4] = [
    "Customer Owned Equipment",
    "Router",
    "Managed Routers",
    "CPE",
];

#[derive(Debug, Deserialize)]
pub struct Customer {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub company_name: Option<String>,
    #[serde(default)]
    pub equipment: Option<Vec<Equipment>>,
}

#[derive(Debug, Deserialize)]
pub struct Equipment {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub service_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Service {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    /// kbps.
    #[serde(default, deserialize_with = "number")]
    pub rate_down: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub rate_up: Option<f64>,
}

/// Maps both lists (pure).
pub fn map(
    s: &Powercode,
    common: &IntegrationCommon,
    customers: Vec<serde_json::Value>,
    services: Vec<serde_json::Value>,
) -> Import {
    let mut import = Import::new(NAME);
    let services: Vec<Service> =
        parse_records(&mut import, "service", services, |v| text_field(v, "id"));
    let customers: Vec<Customer> =
        parse_records(&mut import, "customer", customers, |v| text_field(v, "id"));
    let rate = |kbps: f64| {
        client_rate(
            kbps / 1000.0,
            s.shared.bandwidth_overhead_factor,
            common.client_bandwidth_multiplier,
        )
    };
    let rates: HashMap<String, (f64, f64)> = services
        .iter()
        .filter_map(|x| {
            let (d, u) = (
                x.rate_down.filter(|v| *v > 0.0)?,
                x.rate_up.filter(|v| *v > 0.0)?,
            );
            Some((x.id.clone()?, (rate(d), rate(u))))
        })
        .collect();
    for c in customers {
        let Some(cid) = c.id.clone() else { continue };
        let record = format!("customer {cid}");
        if c.status.as_deref() != Some("Active") {
            import.skip(
                &record,
                format!(
                    "status {:?} (only Active customers are shaped)",
                    c.status.as_deref().unwrap_or("")
                ),
            );
            continue;
        }
        let name = [&c.name, &c.company_name]
            .into_iter()
            .flatten()
            .find(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| cid.clone());
        let mut per_service: BTreeMap<String, Vec<DeviceRec>> = BTreeMap::new();
        for e in c.equipment.as_deref().unwrap_or(&[]) {
            let eid = e.id.clone().unwrap_or_default();
            if !e.kind.as_deref().is_some_and(|k| SHAPED_TYPES.contains(&k)) {
                continue;
            }
            let Some(sid) = e.service_id.clone().filter(|x| rates.contains_key(x)) else {
                import.note(
                    &record,
                    format!("equipment {eid}: no known service with rates"),
                );
                continue;
            };
            let ip = match e.ip_address.as_deref().map(parse_ip) {
                Some(Ok(ip)) => ip,
                Some(Err(why)) => {
                    import.note(&record, format!("equipment {eid}: {why}"));
                    continue;
                }
                None => {
                    import.note(&record, format!("equipment {eid}: no IP address"));
                    continue;
                }
            };
            per_service.entry(sid).or_default().push(DeviceRec {
                id: format!("powercode:equipment:{eid}"),
                name: e.name.clone().unwrap_or_else(|| eid.clone()),
                mac: e.mac_address.clone().unwrap_or_default(),
                ips: vec![ip],
            });
        }
        if per_service.is_empty() {
            import.skip(
                &record,
                "no equipment with an IP address and a rated service",
            );
        }
        for (sid, devices) in per_service {
            let (down, up) = rates[&sid];
            import.circuits.push(CircuitRec {
                id: format!("powercode:customer:{cid}:service:{sid}"),
                name: name.clone(),
                parent_id: None,
                devices,
                ..CircuitRec::client_rates(down, up)
            });
        }
    }
    import
}

/// `<api_url>:444/api/preseem/index.php` (the port is kept when the URL has one).
pub fn endpoint(api_url: &str) -> String {
    let base = api_url.trim().trim_end_matches('/');
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    let has_port = host.split('/').next().is_some_and(|h| {
        h.rsplit_once(':')
            .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
    });
    if has_port {
        format!("{base}/api/preseem/index.php")
    } else {
        format!("{base}:444/api/preseem/index.php")
    }
}

pub async fn import(
    s: &Powercode,
    common: &IntegrationCommon,
    http: &Http,
) -> Result<Import, SourceError> {
    let url = endpoint(&s.api_url);
    let call = |action: &'static str| {
        let url = url.clone();
        async move {
            let form = [("apiKey", s.api_key.as_str()), ("action", action)];
            let bytes = http
                .post(
                    &url,
                    &[("accept", "application/json")],
                    &Body::Form(&form),
                    true,
                )
                .await?;
            parse_json::<Vec<serde_json::Value>>(&url, &bytes)
        }
    };
    let (customers, services) = tokio::join!(call("list_customers"), call("list_services"));
    Ok(map(s, common, customers?, services?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_port_444_is_added_unless_there_is_one() {
        assert_eq!(
            super::endpoint("https://pc.example.net/"),
            "https://pc.example.net:444/api/preseem/index.php"
        );
        assert_eq!(
            super::endpoint("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/api/preseem/index.php"
        );
    }
}
