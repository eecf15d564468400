//! WISPGate: `[wispgate_integration]`. One form POST returning rows already shaped like
//! ShapedDevices.csv. Flat (WISPGate sends no topology); rates as delivered.

use crate::http::{parse_json, Body, Http};
use crate::model::{parse_ip_list, parse_records, text_field, CircuitRec, DeviceRec, Import};
use crate::model_de::{number, text};
use crate::sources::SourceError;
use lqos_config::integrations::WispGate;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const NAME: &str = "wispgate";

/// The rate used when WISPGate sends none (as LibreQoS), in Mbps.
const FALLBACK_MBPS: f64 = 2.0;

#[derive(Debug, Deserialize)]
pub struct Row {
    #[serde(rename = "Circuit ID", default, deserialize_with = "text")]
    pub circuit_id: Option<String>,
    #[serde(rename = "Circuit Name", default, deserialize_with = "text")]
    pub circuit_name: Option<String>,
    #[serde(rename = "Device ID", default, deserialize_with = "text")]
    pub device_id: Option<String>,
    #[serde(rename = "Device Name", default, deserialize_with = "text")]
    pub device_name: Option<String>,
    #[serde(rename = "MAC", default, deserialize_with = "text")]
    pub mac: Option<String>,
    #[serde(rename = "IPv4", default, deserialize_with = "text")]
    pub ipv4: Option<String>,
    #[serde(rename = "IPv6", default, deserialize_with = "text")]
    pub ipv6: Option<String>,
    #[serde(rename = "Download Min Mbps", default, deserialize_with = "number")]
    pub download_min: Option<f64>,
    #[serde(rename = "Upload Min Mbps", default, deserialize_with = "number")]
    pub upload_min: Option<f64>,
    #[serde(rename = "Download Max Mbps", default, deserialize_with = "number")]
    pub download_max: Option<f64>,
    #[serde(rename = "Upload Max Mbps", default, deserialize_with = "number")]
    pub upload_max: Option<f64>,
    #[serde(rename = "Comment", default, deserialize_with = "text")]
    pub comment: Option<String>,
}

fn positive(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x > 0.0)
}

/// Maps the rows (pure).
pub fn map(rows: Vec<serde_json::Value>) -> Import {
    let mut import = Import::new(NAME);
    let rows: Vec<Row> = parse_records(&mut import, "row", rows, |v| text_field(v, "Circuit ID"));
    let mut circuits: BTreeMap<String, CircuitRec> = BTreeMap::new();
    for (i, r) in rows.into_iter().enumerate() {
        let Some(cid) = r.circuit_id.clone() else {
            import.skip(format!("row[{i}]"), "no Circuit ID");
            continue;
        };
        let (v4, bad4) = parse_ip_list(r.ipv4.as_deref().unwrap_or(""));
        let (v6, bad6) = parse_ip_list(r.ipv6.as_deref().unwrap_or(""));
        for b in bad4.into_iter().chain(bad6) {
            import.note(format!("circuit {cid}"), format!("address ignored: {b}"));
        }
        let ips: Vec<_> = v4.into_iter().chain(v6).collect();
        if ips.is_empty() {
            import.skip(
                format!("circuit {cid} row[{i}]"),
                "a device without IPv4 or IPv6",
            );
            continue;
        }
        let dmax = positive(r.download_max)
            .or(positive(r.download_min))
            .unwrap_or(FALLBACK_MBPS);
        let umax = positive(r.upload_max)
            .or(positive(r.upload_min))
            .unwrap_or(FALLBACK_MBPS);
        let min =
            |m: Option<f64>, max: f64| positive(m).filter(|m| *m <= max).unwrap_or(max * 0.98);
        let c = circuits.entry(cid.clone()).or_insert_with(|| CircuitRec {
            id: format!("wispgate:circuit:{cid}"),
            name: r.circuit_name.clone().unwrap_or_else(|| cid.clone()),
            parent_id: None,
            download_min: min(r.download_min, dmax),
            upload_min: min(r.upload_min, umax),
            download_max: dmax,
            upload_max: umax,
            devices: Vec::new(),
            comment: r.comment.clone().unwrap_or_default(),
        });
        let n = c.devices.len() + 1;
        let device = r.device_id.clone().unwrap_or_else(|| format!("{cid}:{n}"));
        c.devices.push(DeviceRec {
            id: format!("wispgate:device:{device}"),
            name: r.device_name.clone().unwrap_or_else(|| device.clone()),
            mac: r.mac.clone().unwrap_or_default(),
            ips,
        });
    }
    import.circuits = circuits.into_values().collect();
    import
}

pub async fn import(s: &WispGate, http: &Http) -> Result<Import, SourceError> {
    let url = format!(
        "{}/api/libreqos/shaped-devices",
        s.api_url.trim_end_matches('/')
    );
    let form = [("api_token", s.api_token.as_str())];
    let bytes = http
        .post(
            &url,
            &[("accept", "application/json")],
            &Body::Form(&form),
            true,
        )
        .await?;
    Ok(map(parse_json(&url, &bytes)?))
}
