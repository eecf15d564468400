//! Netzur: `[netzur_integration]`. One GET returning `{zones, customers}`.
//!
//! Zones become sites (`netzur:zone:<id>`, capacity as Netzur gives it, else the
//! generated_pn defaults); customers become circuits under their zone (looked up by name)
//! at their plan through the client-rate rule, min = 98 % of max.

use crate::http::{parse_json, Http};
use crate::model::{
    client_rate, parse_records, text_field, CircuitRec, DeviceRec, Import, NodeRec,
};
use crate::model_de::{number, text};
use crate::sources::{Defaults, SourceError};
use lqos_config::integrations::{IntegrationCommon, Netzur};
use serde::Deserialize;
use std::collections::HashMap;

pub const NAME: &str = "netzur";

#[derive(Debug, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub zones: Vec<serde_json::Value>,
    #[serde(default)]
    pub customers: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct Zone {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub zone_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub capacity_download_mbps: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub capacity_upload_mbps: Option<f64>,
}

/// A string of addresses separated by commas, or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Ips {
    Text(String),
    List(Vec<String>),
}

impl Ips {
    fn joined(&self) -> String {
        match self {
            Ips::Text(t) => t.clone(),
            Ips::List(l) => l.join(","),
        }
    }
}

#[derive(Debug, Deserialize)]
#[allow(non_snake_case)]
pub struct Customer {
    #[serde(default, deserialize_with = "text")]
    pub subscriber_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub customerName: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub zone: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub download: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub upload: Option<f64>,
    pub ip: Option<Ips>,
    pub ipv6: Option<Ips>,
    #[serde(default, deserialize_with = "text")]
    pub mac: Option<String>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// Maps the response (pure).
pub fn map(s: &Netzur, common: &IntegrationCommon, d: Defaults, body: Body) -> Import {
    let mut import = Import::new(NAME);
    let zones: Vec<Zone> = parse_records(&mut import, "zone", body.zones, |v| {
        text_field(v, "id").or_else(|| text_field(v, "name"))
    });
    let customers: Vec<Customer> = parse_records(&mut import, "customer", body.customers, |v| {
        text_field(v, "subscriber_id")
    });
    let excluded = |name: &str| {
        s.shared
            .exclude_sites
            .iter()
            .any(|e| e.trim().eq_ignore_ascii_case(name.trim()))
    };
    let mut by_name: HashMap<String, String> = HashMap::new();
    for z in zones {
        let Some(name) = z.name.clone() else {
            import.skip(
                format!("zone {}", z.id.as_deref().unwrap_or("?")),
                "no name",
            );
            continue;
        };
        if excluded(&name) || by_name.contains_key(&name) {
            if !excluded(&name) {
                import.skip(
                    format!("zone {name}"),
                    "duplicate zone name: the first is kept",
                );
            }
            continue;
        }
        let id = match z.id.or(z.zone_id) {
            Some(id) => format!("netzur:zone:{id}"),
            None => format!("netzur:zone:name:{}", slug(&name)),
        };
        by_name.insert(name.clone(), id.clone());
        let cap = |v: Option<f64>, dflt: f64| v.filter(|x| *x > 0.0).unwrap_or(dflt);
        import.nodes.push(NodeRec {
            id,
            name,
            parent_id: None,
            kind: "Site".into(),
            download_mbps: cap(z.capacity_download_mbps, d.pn_down),
            upload_mbps: cap(z.capacity_upload_mbps, d.pn_up),
        });
    }
    for c in customers {
        let Some(sid) = c.subscriber_id.clone() else {
            import.skip("customer ?", "no subscriber_id");
            continue;
        };
        let record = format!("customer {sid}");
        let zone = c.zone.clone().unwrap_or_default();
        if !zone.is_empty() && excluded(&zone) {
            import.skip(&record, format!("zone {zone:?} is in exclude_sites"));
            continue;
        }
        let (Some(down), Some(up)) = (
            c.download.filter(|x| *x > 0.0),
            c.upload.filter(|x| *x > 0.0),
        ) else {
            import.skip(&record, "no download/upload rate");
            continue;
        };
        let mut ips = Vec::new();
        for (field, list) in [("ip", &c.ip), ("ipv6", &c.ipv6)] {
            let (good, bad) =
                crate::model::parse_ip_list(&list.as_ref().map(Ips::joined).unwrap_or_default());
            ips.extend(good);
            for b in bad {
                import.note(&record, format!("{field} ignored: {b}"));
            }
        }
        let parent_id = match by_name.get(&zone) {
            Some(id) => Some(id.clone()),
            None if zone.is_empty() => None,
            None => {
                import.note(
                    &record,
                    format!("zone {zone:?} is not in the zone list: imported unparented"),
                );
                None
            }
        };
        let rate = |x| {
            client_rate(
                x,
                s.shared.bandwidth_overhead_factor,
                common.client_bandwidth_multiplier,
            )
        };
        let (down, up) = (rate(down), rate(up));
        let name = c.customerName.clone().unwrap_or_else(|| sid.clone());
        let address = c.address.clone().unwrap_or_default();
        import.circuits.push(CircuitRec {
            id: format!("netzur:customer:{sid}"),
            name: if common.circuit_name_as_address && !address.is_empty() {
                address
            } else {
                name.clone()
            },
            parent_id,
            devices: vec![DeviceRec {
                id: format!("netzur:device:{sid}"),
                name: format!("{name} device"),
                mac: c.mac.clone().unwrap_or_default(),
                ips,
            }],
            ..CircuitRec::client_rates(down, up)
        });
    }
    import
}

pub async fn import(
    s: &Netzur,
    common: &IntegrationCommon,
    d: Defaults,
    http: &Http,
) -> Result<Import, SourceError> {
    let auth = format!("Bearer {}", s.api_key);
    let bytes = http
        .get(
            &s.api_url,
            &[
                ("authorization", auth.as_str()),
                ("accept", "application/json"),
            ],
            None,
        )
        .await?;
    let body: Body = parse_json(&s.api_url, &bytes)?;
    Ok(map(s, common, d, body))
}
