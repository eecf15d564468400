//! The Splynx REST API (`/api/2.0/`, HTTP Basic with an API key and secret): the fields
//! lqos reads. Splynx writes ids and speeds as numbers or strings; both are accepted.

use crate::http::{parse_json, Http, HttpError};
use crate::model_de::{flag, number, text};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Tariff {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    /// kbps.
    #[serde(default, deserialize_with = "number")]
    pub speed_download: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub speed_upload: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub burst_limit_fixed_down: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub burst_limit_fixed_up: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub street_1: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Online {
    #[serde(default, deserialize_with = "text")]
    pub service_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv4: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv6: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub customer_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub tariff_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv4: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv4_route: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv6: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ipv6_delegated: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mac: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub router_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub access_device: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sector {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub router_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Monitoring {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub access_device: Option<bool>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub network_site_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NetworkSite {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
}

/// Every list as JSON arrays (each record is parsed on its own later). The infrastructure
/// lists are empty for the `flat` strategy (not fetched).
#[derive(Default)]
pub struct Raw {
    pub tariffs: Vec<serde_json::Value>,
    pub customers: Vec<serde_json::Value>,
    pub online: Vec<serde_json::Value>,
    pub services: Vec<serde_json::Value>,
    pub routers: Vec<serde_json::Value>,
    pub sectors: Vec<serde_json::Value>,
    pub monitoring: Vec<serde_json::Value>,
    pub network_sites: Vec<serde_json::Value>,
}

/// GETs what the strategy needs (`infrastructure`: routers, sectors, monitoring, sites).
pub async fn fetch(
    http: &Http,
    url: &str,
    key: &str,
    secret: &str,
    infrastructure: bool,
) -> Result<Raw, HttpError> {
    let base = format!("{}/api/2.0", url.trim().trim_end_matches('/'));
    let get = |path: &'static str| {
        let url = format!("{base}/{path}");
        async move {
            let body = http
                .get(&url, &[("accept", "application/json")], Some((key, secret)))
                .await?;
            parse_json::<Vec<serde_json::Value>>(&url, &body)
        }
    };
    let (tariffs, customers, online, services) = tokio::join!(
        get("admin/tariffs/internet"),
        get("admin/customers/customer"),
        get("admin/customers/customers-online"),
        get("admin/customers/customer/0/internet-services?main_attributes%5Bstatus%5D=active"),
    );
    let mut raw = Raw {
        tariffs: tariffs?,
        customers: customers?,
        online: online?,
        services: services?,
        ..Raw::default()
    };
    if infrastructure {
        let (routers, sectors, monitoring, sites) = tokio::join!(
            get("admin/networking/routers"),
            get("admin/networking/routers-sectors"),
            get("admin/networking/monitoring"),
            get("admin/networking/network-sites"),
        );
        raw.routers = routers?;
        raw.sectors = sectors?;
        raw.monitoring = monitoring?;
        raw.network_sites = sites?;
    }
    Ok(raw)
}
