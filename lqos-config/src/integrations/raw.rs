//! The integration tables of lqos.conf as LibreQoS v1.5 spells them, read leniently (every key
//! optional here; what is required is checked in [`super::build`]).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawCommon {
    pub queue_refresh_interval_mins: Option<u32>,
    pub circuit_name_as_address: Option<bool>,
    pub client_bandwidth_multiplier: Option<f64>,
    pub promote_to_root: Option<Vec<String>>,
    pub ethernet_port_limits_enabled: Option<bool>,
    pub ethernet_port_limit_multiplier: Option<f64>,
    // Parsed by LibreQoS; lqos has no equivalent yet (warned about).
    pub use_mikrotik_ipv6: Option<toml::Value>,
    pub always_overwrite_network_json: Option<toml::Value>,
    pub topology_attachment_health: Option<toml::Value>,
}

/// `[lqos_integrations]`: lqos's own limits for every integration (not a LibreQoS table).
#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawLimits {
    pub connect_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub run_timeout_secs: Option<u64>,
    pub max_response_mb: Option<u64>,
    pub retries: Option<u32>,
    pub refuse_empty: Option<bool>,
    pub refuse_below_ratio: Option<f64>,
}

/// `exception_cpes`: LibreQoS's struct wants `[{cpe, parent}]`, its docs show `["cpe:parent"]`,
/// its Python side also takes a table; all three are accepted.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawExceptions {
    Table(BTreeMap<String, String>),
    List(Vec<RawException>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawException {
    Pair { cpe: String, parent: String },
    Text(String),
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawUisp {
    pub enable_uisp: Option<bool>,
    pub token: Option<String>,
    pub url: Option<String>,
    pub site: Option<String>,
    pub strategy: Option<String>,
    pub suspended_strategy: Option<String>,
    pub airmax_capacity: Option<f64>,
    pub airmax_flexible_frame_download_ratio: Option<f64>,
    pub ltu_capacity: Option<f64>,
    pub exclude_sites: Option<Vec<String>>,
    pub squash_sites: Option<Vec<String>>,
    pub exception_cpes: Option<RawExceptions>,
    pub bandwidth_overhead_factor: Option<f64>,
    pub commit_bandwidth_multiplier: Option<f64>,
    pub ignore_calculated_capacity: Option<bool>,
    pub insecure_ssl: Option<bool>,
    // Parsed by LibreQoS but without effect there, or tied to machinery lqos does not have.
    pub ipv6_with_mikrotik: Option<toml::Value>,
    pub enable_squashing: Option<toml::Value>,
    pub do_not_squash_sites: Option<toml::Value>,
    pub use_ptmp_as_parent: Option<toml::Value>,
    pub infrastructure_transport_caps_enabled: Option<toml::Value>,
    pub always_overwrite_network_json: Option<toml::Value>,
    // lqos additions.
    pub refresh_interval_mins: Option<u32>,
    pub suspended_slow_mbps: Option<f64>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawSplynx {
    pub enable_splynx: Option<bool>,
    pub enable_spylnx: Option<bool>,
    pub api_key: Option<String>,
    pub api_secret: Option<String>,
    pub url: Option<String>,
    pub strategy: Option<String>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawNetzur {
    pub enable_netzur: Option<bool>,
    pub api_key: Option<String>,
    pub api_url: Option<String>,
    pub timeout_secs: Option<u64>,
    pub use_mikrotik_ipv6: Option<toml::Value>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawVisp {
    pub enable_visp: Option<bool>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub isp_id: Option<i64>,
    pub online_users_domain: Option<String>,
    pub timeout_secs: Option<u64>,
    pub token_url: Option<String>,
    pub graphql_url: Option<String>,
    pub tenant_id: Option<toml::Value>,
    pub strategy: Option<toml::Value>,
    pub verify_tls: Option<bool>,
    pub service_type_allowlist: Option<toml::Value>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawPowercode {
    pub enable_powercode: Option<bool>,
    pub powercode_api_key: Option<String>,
    pub powercode_api_url: Option<String>,
    pub verify_tls: Option<bool>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawSonar {
    pub enable_sonar: Option<bool>,
    pub sonar_api_url: Option<String>,
    pub sonar_api_key: Option<String>,
    pub snmp_community: Option<String>,
    pub snmp_port: Option<u16>,
    pub snmp_timeout_secs: Option<u64>,
    pub airmax_model_ids: Option<Vec<String>>,
    pub ltu_model_ids: Option<Vec<String>>,
    pub active_status_ids: Option<Vec<String>>,
    pub recurring_service_rates: Option<Vec<RawRecurringRate>>,
    pub recurring_excluded_service_names: Option<Vec<String>>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRecurringRate {
    pub enabled: Option<bool>,
    pub service_name: String,
    pub download_mbps: f64,
    pub upload_mbps: f64,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawWispGate {
    pub enable_wispgate: Option<bool>,
    pub wispgate_api_token: Option<String>,
    pub wispgate_api_url: Option<String>,
    pub refresh_interval_mins: Option<u32>,
    pub ca_file: Option<PathBuf>,
}
