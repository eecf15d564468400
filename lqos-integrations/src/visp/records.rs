//! The VISP records as LibreQoS reads them: exactly the fields the mapping uses, each
//! tolerant of numbers sent as text and of `null`.

use crate::model_de::{number, text};
use serde::Deserialize;
use serde_json::Value;

/// One entry of `customerCPEwithWirelessServiceSpeeds`.
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
    pub equipment_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub mac_address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip_address: Option<String>,
}

/// A wireless service of the bulk list, or the `ServiceTypeWifi` details of a backfilled one.
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
    /// Backfilled services only.
    #[serde(default, deserialize_with = "text")]
    pub username: Option<String>,
    /// Backfilled services only: `ServiceTypeWifi`, `ServiceTypeVoip`, ...
    #[serde(default, rename = "__typename", deserialize_with = "text")]
    pub typename: Option<String>,
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

/// One entry of `customerServices` (the per-customer backfill).
#[derive(Debug, Deserialize)]
pub struct CustomerService {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub service_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(default)]
    pub service_details: Option<WirelessService>,
}

/// `customerIPList` (per customer, when nothing else has an address).
#[derive(Debug, Deserialize)]
pub struct IpListEntry {
    #[serde(default, deserialize_with = "text")]
    pub package_ip: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub equipment_ip: Option<String>,
}

/// `onlineUsers(domain)`.
#[derive(Debug, Deserialize)]
pub struct OnlineUser {
    #[serde(default, deserialize_with = "text")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub ip: Option<String>,
}

/// A CPE row of `equipmentAssemblies(ap_upstream: true, type: "CPE")`.
#[derive(Debug, Deserialize)]
pub struct Assembly {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub location_name: Option<String>,
    /// Attribute name → value, as an object or as JSON text of one.
    #[serde(default)]
    pub equipment_data: Option<Value>,
}

/// A row of `equipmentPg` (the equipment tree).
#[derive(Debug, Deserialize)]
pub struct EquipmentRow {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub location_name: Option<String>,
}
