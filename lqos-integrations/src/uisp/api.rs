//! The UISP NMS API (`/nms/api/v2.1`): the three GETs and the fields lqos reads. Every field
//! is optional here, so a `null` in one record costs that record at most.

use crate::http::{parse_json, Http, HttpError};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Ref {
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Site {
    pub id: String,
    pub identification: Option<SiteIdentification>,
    pub description: Option<SiteDescription>,
    pub qos: Option<Qos>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SiteIdentification {
    pub name: Option<String>,
    /// "site" (infrastructure) or "endpoint" (a client).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub parent: Option<Ref>,
    pub suspended: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SiteDescription {
    pub address: Option<String>,
}

/// A client's plan; speeds in bits/s, burst sizes in bytes/s.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Qos {
    pub enabled: Option<bool>,
    pub download_speed: Option<f64>,
    pub upload_speed: Option<f64>,
    pub download_burst_size: Option<f64>,
    pub upload_burst_size: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub identification: DeviceIdentification,
    pub ip_address: Option<String>,
    pub attributes: Option<Attributes>,
    pub interfaces: Option<Vec<Interface>>,
    pub overview: Option<Overview>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeviceIdentification {
    pub id: String,
    pub hostname: Option<String>,
    pub mac: Option<String>,
    pub model: Option<String>,
    /// "airMax", "airFiber", "wave", "ltu", ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// "ap", "station", "router", ...
    pub role: Option<String>,
    pub site: Option<Ref>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// On a station: the AP it is associated with.
    pub ap_device: Option<Ref>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Interface {
    pub identification: Option<InterfaceIdentification>,
    pub addresses: Option<Vec<Address>>,
    pub status: Option<InterfaceStatus>,
    pub wireless: Option<Wireless>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InterfaceIdentification {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Address {
    pub cidr: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStatus {
    pub status: Option<String>,
    pub speed: Option<String>,
    pub current_speed: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wireless {
    pub dl_ratio: Option<f64>,
}

/// Capacities in bits/s.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub wireless_mode: Option<String>,
    pub total_capacity: Option<f64>,
    pub downlink_capacity: Option<f64>,
    pub uplink_capacity: Option<f64>,
    pub theoretical_total_capacity: Option<f64>,
    pub wireless_active_interface_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataLink {
    pub id: Option<String>,
    pub from: Option<LinkEnd>,
    pub to: Option<LinkEnd>,
    pub can_delete: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinkEnd {
    pub device: Option<Identified>,
    pub site: Option<Identified>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Identified {
    pub identification: Option<Ref>,
}

impl LinkEnd {
    pub fn device_id(&self) -> Option<&str> {
        self.device.as_ref()?.identification.as_ref()?.id.as_deref()
    }
    pub fn site_id(&self) -> Option<&str> {
        self.site.as_ref()?.identification.as_ref()?.id.as_deref()
    }
}

/// `<url>/nms/api/v2.1` (appended unless the URL has it already; trailing `/` trimmed).
pub fn base_url(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    if u.ends_with("/nms/api/v2.1") {
        u.to_owned()
    } else {
        format!("{u}/nms/api/v2.1")
    }
}

/// The three lists, as JSON arrays (each record is parsed on its own later).
pub struct Raw {
    pub sites: Vec<serde_json::Value>,
    pub devices: Vec<serde_json::Value>,
    pub links: Vec<serde_json::Value>,
}

/// GETs `/sites`, `/devices?withInterfaces=true&authorized=true` and `/data-links`, at once.
pub async fn fetch(http: &Http, url: &str, token: &str) -> Result<Raw, HttpError> {
    let base = base_url(url);
    let headers = [("x-auth-token", token), ("accept", "application/json")];
    let get = |path: &'static str| {
        let url = format!("{base}/{path}");
        let headers = &headers;
        async move {
            let body = http.get(&url, headers, None).await?;
            parse_json::<Vec<serde_json::Value>>(&url, &body)
        }
    };
    let (sites, devices, links) = tokio::join!(
        get("sites"),
        get("devices?withInterfaces=true&authorized=true"),
        get("data-links")
    );
    Ok(Raw {
        sites: sites?,
        devices: devices?,
        links: links?,
    })
}
