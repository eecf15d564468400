//! VISP: `[visp_integration]`. A token from the token URL (four `x-visp-*` headers), then
//! GraphQL: the bulk `customerCPEwithWirelessServiceSpeeds` (one circuit per wireless
//! service) and the paged `subscribers` (names, status and fallback addresses). Flat.

use crate::graphql;
use crate::http::{parse_json, Http, HttpError};
use crate::model::{client_rate, parse_ip_list, CircuitRec, DeviceRec, Import};
use crate::model_de::{number, text};
use crate::sources::SourceError;
use lqos_config::integrations::{IntegrationCommon, Visp};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub const NAME: &str = "visp";
const PAGE: usize = 500;

pub const BULK: &str =
    "query Bulk($isp_id: Int) { customerCPEwithWirelessServiceSpeeds(isp_id: $isp_id) }";
pub const SUBS: &str = "query Subs($isp_id: Int, $limit: Int, $offset: Int) { subscribers(isp_id: $isp_id, limit: $limit, offset: $offset) { customer_id username first_name last_name status package_ip equipment_ip } count: subscribersCount(isp_id: $isp_id) }";

#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub token: String,
    #[serde(default)]
    pub payload: Option<TokenPayload>,
}

#[derive(Debug, Deserialize)]
#[allow(non_snake_case)]
pub struct TokenPayload {
    #[serde(default)]
    pub ispId: Vec<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Customer {
    #[serde(default, deserialize_with = "text")]
    pub customer_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub username: Option<String>,
    #[serde(default)]
    pub equipment: Option<Vec<Equipment>>,
    #[serde(default)]
    pub wireless_services: Option<Vec<WirelessService>>,
}

#[derive(Debug, Deserialize)]
pub struct Equipment {
    #[serde(default, deserialize_with = "text")]
    pub mac_address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip_address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WirelessService {
    #[serde(default, deserialize_with = "text")]
    pub service_number: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub package_status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub down_speed: Option<f64>,
    #[serde(default, deserialize_with = "text")]
    pub down_speed_unit: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub up_speed: Option<f64>,
    #[serde(default, deserialize_with = "text")]
    pub up_speed_unit: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Subscriber {
    #[serde(default, deserialize_with = "text")]
    pub customer_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub package_ip: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub equipment_ip: Option<String>,
}

/// Mbps from a VISP speed and its unit (an unknown unit counts as Mbps, as LibreQoS).
pub fn to_mbps(value: f64, unit: Option<&str>) -> f64 {
    match unit.unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "kbps" | "kb" | "k" => value / 1000.0,
        "gbps" | "gb" | "g" => value * 1000.0,
        _ => value,
    }
}

fn cancelled(status: Option<&str>) -> bool {
    matches!(
        status.unwrap_or("").trim().to_ascii_uppercase().as_str(),
        "CANCELLED" | "CANCELED" | "TERMINATED" | "DELETED"
    )
}

/// Maps the bulk list and the subscribers (pure).
pub fn map(s: &Visp, common: &IntegrationCommon, bulk: Vec<Value>, subs: Vec<Value>) -> Import {
    let mut import = Import::new(NAME);
    let id = |v: &Value| crate::model::text_field(v, "customer_id");
    let customers: Vec<Customer> = crate::model::parse_records(&mut import, "customer", bulk, id);
    let subscribers: Vec<Subscriber> =
        crate::model::parse_records(&mut import, "subscriber", subs, id);
    let by_id: HashMap<&str, &Subscriber> = subscribers
        .iter()
        .filter_map(|x| Some((x.customer_id.as_deref()?, x)))
        .collect();
    let rate = |x| {
        client_rate(
            x,
            s.shared.bandwidth_overhead_factor,
            common.client_bandwidth_multiplier,
        )
    };
    let mut out: BTreeMap<String, CircuitRec> = BTreeMap::new();
    for c in &customers {
        let cid = c.customer_id.clone().unwrap_or_default();
        let sub = by_id.get(cid.as_str());
        for svc in c.wireless_services.as_deref().unwrap_or(&[]) {
            let Some(number) = svc.service_number.clone() else {
                continue;
            };
            let record = format!("service {number}");
            if cancelled(svc.package_status.as_deref()) || cancelled(svc.status.as_deref()) {
                import.skip(&record, "cancelled/terminated/deleted");
                continue;
            }
            if out.contains_key(&number) {
                import.skip(&record, "duplicate service number");
                continue;
            }
            let (Some(d), Some(u)) = (
                svc.down_speed.filter(|x| *x > 0.0),
                svc.up_speed.filter(|x| *x > 0.0),
            ) else {
                import.skip(&record, "no download/upload speed");
                continue;
            };
            let (down, up) = (
                rate(to_mbps(d, svc.down_speed_unit.as_deref())),
                rate(to_mbps(u, svc.up_speed_unit.as_deref())),
            );
            // Candidates in LibreQoS's order: the service, the subscriber, the equipment.
            let mut texts: Vec<&str> = vec![svc.ip_address.as_deref().unwrap_or("")];
            if let Some(sub) = sub {
                texts.extend([
                    sub.package_ip.as_deref().unwrap_or(""),
                    sub.equipment_ip.as_deref().unwrap_or(""),
                ]);
            }
            texts.extend(
                c.equipment
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|e| e.ip_address.as_deref()),
            );
            let mut ips = Vec::new();
            for t in texts {
                let (good, _) = parse_ip_list(t);
                ips.extend(good.into_iter().filter(|n| n.addr().is_ipv4()));
            }
            ips.dedup();
            if ips.is_empty() {
                import.skip(
                    &record,
                    "no IPv4 address (service, subscriber or equipment)",
                );
                continue;
            }
            let username = c
                .username
                .clone()
                .or_else(|| sub.and_then(|x| x.username.clone()))
                .unwrap_or_else(|| cid.clone());
            let mac = svc
                .mac_address
                .clone()
                .or_else(|| {
                    c.equipment
                        .as_deref()
                        .unwrap_or(&[])
                        .iter()
                        .find_map(|e| e.mac_address.clone())
                })
                .unwrap_or_default()
                .to_ascii_uppercase();
            out.insert(
                number.clone(),
                CircuitRec {
                    id: format!("visp:service:{number}"),
                    name: username.clone(),
                    parent_id: None,
                    devices: vec![DeviceRec {
                        id: format!("visp:device:{number}"),
                        name: format!("{username}_device"),
                        mac,
                        ips: ips.clone(),
                    }],
                    ..CircuitRec::client_rates(down, up)
                },
            );
        }
    }
    import.circuits = out.into_values().collect();
    import
}

async fn token(http: &Http, s: &Visp) -> Result<(String, Option<i64>), HttpError> {
    let headers = [
        ("x-visp-client-id", s.client_id.as_str()),
        ("x-visp-client-secret", s.client_secret.as_str()),
        ("x-visp-username", s.username.as_str()),
        ("x-visp-password", s.password.as_str()),
    ];
    let bytes = http.get(&s.token_url, &headers, None).await?;
    let t: TokenAnswer = parse_json(&s.token_url, &bytes)?;
    let isp = t.payload.and_then(|p| p.ispId.first().copied());
    Ok((t.token, isp))
}

pub async fn import(
    s: &Visp,
    common: &IntegrationCommon,
    http: &Http,
) -> Result<Import, SourceError> {
    let (tok, token_isp) = token(http, s).await?;
    let isp = s.isp_id.or(token_isp);
    let headers = [
        ("authorization", tok.as_str()),
        ("x-visp-client-id", s.client_id.as_str()),
        ("x-visp-client-secret", s.client_secret.as_str()),
    ];
    let q = |op: &'static str, query: &'static str, vars: Value| {
        graphql::query(http, &s.graphql_url, &headers, Some(op), query, vars)
    };
    let bulk = q("Bulk", BULK, json!({"isp_id": isp})).await?;
    let bulk = match bulk.get("customerCPEwithWirelessServiceSpeeds") {
        Some(Value::Array(a)) => a.clone(),
        // The scalar may come as JSON text.
        Some(Value::String(t)) => serde_json::from_str(t).map_err(|e| HttpError::Json {
            url: s.graphql_url.clone(),
            detail: format!("customerCPEwithWirelessServiceSpeeds: {e}"),
        })?,
        _ => Vec::new(),
    };
    let mut subs = Vec::new();
    loop {
        let page = q(
            "Subs",
            SUBS,
            json!({"isp_id": isp, "limit": PAGE, "offset": subs.len()}),
        )
        .await?;
        let list = page
            .get("subscribers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = page.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        let n = list.len();
        subs.extend(list);
        if n < PAGE || subs.len() >= total {
            break;
        }
    }
    Ok(map(s, common, bulk, subs))
}
