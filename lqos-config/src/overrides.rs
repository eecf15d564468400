//! `lqos_overrides.json` (LibreQoS format): persistent devices, circuit adjustments and network
//! adjustments, applied to the parsed files before validation.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::ip_list::{from_pair, parse_prefix};
use crate::network::Network;
use crate::shaped_devices::DeviceRow;
use crate::sqm::SqmOverride;
use ipnet::IpNet;
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub persistent_devices: Vec<(String, PersistentDevice)>,
    pub circuit_adjustments: Vec<(String, CircuitAdjustment)>,
    pub network_adjustments: Vec<(String, NetworkAdjustment)>,
}

/// A device kept in the shaped set whatever the CRM says (LibreQoS `ShapedDevice` JSON).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PersistentDevice {
    pub circuit_id: String,
    #[serde(default)]
    pub circuit_name: String,
    pub device_id: String,
    #[serde(default)]
    pub device_name: String,
    #[serde(default)]
    pub parent_node: String,
    #[serde(default)]
    pub parent_node_id: Option<String>,
    #[serde(default)]
    pub anchor_node_id: Option<String>,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub ipv4: Vec<IpEntry>,
    #[serde(default)]
    pub ipv6: Vec<IpEntry>,
    pub download_min_mbps: f64,
    pub upload_min_mbps: f64,
    pub download_max_mbps: f64,
    pub upload_max_mbps: f64,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub sqm_override: Option<String>,
}

/// `["100.64.0.1", 32]` as LibreQoS writes it, or `"100.64.0.1/32"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum IpEntry {
    Pair(String, u8),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CircuitAdjustment {
    CircuitAdjustSpeed {
        circuit_id: String,
        min_download_bandwidth: Option<f64>,
        max_download_bandwidth: Option<f64>,
        min_upload_bandwidth: Option<f64>,
        max_upload_bandwidth: Option<f64>,
    },
    DeviceAdjustSpeed {
        device_id: String,
        min_download_bandwidth: Option<f64>,
        max_download_bandwidth: Option<f64>,
        min_upload_bandwidth: Option<f64>,
        max_upload_bandwidth: Option<f64>,
    },
    DeviceAdjustSqm {
        device_id: String,
        sqm_override: Option<String>,
    },
    RemoveCircuit {
        circuit_id: String,
    },
    RemoveDevice {
        device_id: String,
    },
    ReparentCircuit {
        circuit_id: String,
        parent_node: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkAdjustment {
    AdjustSiteSpeed {
        #[serde(default)]
        node_id: Option<String>,
        site_name: String,
        download_bandwidth_mbps: Option<f64>,
        upload_bandwidth_mbps: Option<f64>,
    },
    SetNodeVirtual {
        node_name: String,
        #[serde(rename = "virtual")]
        virtual_node: bool,
    },
}

/// Parses the overrides file. Each entry is checked on its own so that every bad entry is
/// reported with its JSON path; any bad entry rejects the input (it is the operator's config).
pub fn parse(text: &str, file: &str) -> (Overrides, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut out = Overrides::default();
    let root: serde_json::Value =
        match serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text)) {
            Ok(v) => v,
            Err(e) => {
                let (line, column) = (e.line() as u64, e.column() as u64);
                diags.push(Diagnostic::new(
                    Severity::Reject,
                    file,
                    Location::Line {
                        line,
                        column: Some(column),
                    },
                    format!("invalid JSON: {e}"),
                ));
                return (out, diags);
            }
        };
    let serde_json::Value::Object(map) = root else {
        diags.push(Diagnostic::new(
            Severity::Reject,
            file,
            Location::JsonPath("$".into()),
            "expected an object with persistent_devices, circuit_adjustments, network_adjustments",
        ));
        return (out, diags);
    };
    for (key, value) in map {
        match key.as_str() {
            "persistent_devices" => {
                entries(&key, value, file, &mut diags, &mut out.persistent_devices)
            }
            "circuit_adjustments" => {
                entries(&key, value, file, &mut diags, &mut out.circuit_adjustments)
            }
            "network_adjustments" => {
                entries(&key, value, file, &mut diags, &mut out.network_adjustments)
            }
            _ => diags.push(Diagnostic::new(
                Severity::Warning,
                file,
                Location::JsonPath(format!("$.{key}")),
                "not used by lqos (ignored)",
            )),
        }
    }
    (out, diags)
}

fn entries<T: for<'de> Deserialize<'de>>(
    key: &str,
    value: serde_json::Value,
    file: &str,
    diags: &mut Diagnostics,
    out: &mut Vec<(String, T)>,
) {
    let serde_json::Value::Array(items) = value else {
        diags.push(Diagnostic::new(
            Severity::Reject,
            file,
            Location::JsonPath(format!("$.{key}")),
            "expected an array",
        ));
        return;
    };
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("$.{key}[{i}]");
        match serde_json::from_value::<T>(item) {
            Ok(v) => out.push((path, v)),
            Err(e) => diags.push(Diagnostic::new(
                Severity::Reject,
                file,
                Location::JsonPath(path),
                e.to_string(),
            )),
        }
    }
}

fn check_rate(
    v: Option<f64>,
    path: &str,
    field: &str,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<f64> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => {
            diags.push(
                Diagnostic::new(
                    Severity::Reject,
                    file,
                    Location::JsonPath(format!("{path}.{field}")),
                    "expected a rate in Mbps greater than 0",
                )
                .value(x.to_string()),
            );
            None
        }
        other => other,
    }
}

impl PersistentDevice {
    fn to_row(&self, path: &str, file: &str, diags: &mut Diagnostics) -> DeviceRow {
        let mut valid = true;
        let mut ips: Vec<IpNet> = Vec::new();
        for (field, list) in [("ipv4", &self.ipv4), ("ipv6", &self.ipv6)] {
            for (i, e) in list.iter().enumerate() {
                let parsed = match e {
                    IpEntry::Pair(a, p) => from_pair(a, *p),
                    IpEntry::Text(t) => parse_prefix(t),
                };
                match parsed {
                    Ok(net) => ips.push(net),
                    Err(why) => {
                        valid = false;
                        diags.push(
                            Diagnostic::new(
                                Severity::Quarantine,
                                file,
                                Location::JsonPath(format!("{path}.{field}[{i}]")),
                                why,
                            )
                            .value(format!("{e:?}"))
                            .circuit(&self.circuit_id),
                        );
                    }
                }
            }
        }
        let mut rate = |v: f64, field: &str| -> Option<f64> {
            if v.is_finite() && v > 0.0 {
                Some(v)
            } else {
                valid = false;
                diags.push(
                    Diagnostic::new(
                        Severity::Quarantine,
                        file,
                        Location::JsonPath(format!("{path}.{field}")),
                        "expected a rate in Mbps greater than 0",
                    )
                    .value(v.to_string())
                    .circuit(&self.circuit_id),
                );
                None
            }
        };
        let download_min = rate(self.download_min_mbps, "download_min_mbps");
        let upload_min = rate(self.upload_min_mbps, "upload_min_mbps");
        let download_max = rate(self.download_max_mbps, "download_max_mbps");
        let upload_max = rate(self.upload_max_mbps, "upload_max_mbps");
        let sqm = sqm_or_warn(
            self.sqm_override.as_deref(),
            &format!("{path}.sqm_override"),
            file,
            diags,
        );
        DeviceRow {
            line: 0,
            circuit_id: self.circuit_id.clone(),
            circuit_name: if self.circuit_name.is_empty() {
                self.circuit_id.clone()
            } else {
                self.circuit_name.clone()
            },
            device_id: self.device_id.clone(),
            device_name: self.device_name.clone(),
            parent_node: self.parent_node.as_str().into(),
            parent_node_id: self.parent_node_id.as_deref().unwrap_or_default().into(),
            mac: self.mac.clone(),
            ips,
            download_min,
            upload_min,
            download_max,
            upload_max,
            comment: self.comment.clone(),
            sqm,
            valid,
        }
    }
}

fn sqm_or_warn(
    value: Option<&str>,
    path: &str,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<SqmOverride> {
    match SqmOverride::parse(value.unwrap_or("")) {
        Ok(s) => s,
        Err(why) => {
            diags.push(Diagnostic::new(
                Severity::Warning,
                file,
                Location::JsonPath(path.into()),
                format!("{why}; using the default"),
            ));
            None
        }
    }
}

impl Overrides {
    /// Applies persistent devices and circuit adjustments to the rows, in file order.
    pub fn apply_to_rows(&self, rows: &mut Vec<DeviceRow>, file: &str, diags: &mut Diagnostics) {
        for (path, dev) in &self.persistent_devices {
            let row = dev.to_row(path, file, diags);
            match rows.iter_mut().find(|r| r.device_id == row.device_id) {
                Some(existing) => *existing = row,
                None => rows.push(row),
            }
        }
        let stale = |diags: &mut Diagnostics, path: &str, what: String| {
            diags.push(Diagnostic::new(
                Severity::Warning,
                file,
                Location::JsonPath(path.into()),
                format!("{what} is not in ShapedDevices.csv (override has no effect)"),
            ));
        };
        for (path, adj) in &self.circuit_adjustments {
            match adj {
                CircuitAdjustment::CircuitAdjustSpeed {
                    circuit_id,
                    min_download_bandwidth,
                    max_download_bandwidth,
                    min_upload_bandwidth,
                    max_upload_bandwidth,
                }
                | CircuitAdjustment::DeviceAdjustSpeed {
                    device_id: circuit_id,
                    min_download_bandwidth,
                    max_download_bandwidth,
                    min_upload_bandwidth,
                    max_upload_bandwidth,
                } => {
                    let by_device = matches!(adj, CircuitAdjustment::DeviceAdjustSpeed { .. });
                    let dmin = check_rate(
                        *min_download_bandwidth,
                        path,
                        "min_download_bandwidth",
                        file,
                        diags,
                    );
                    let dmax = check_rate(
                        *max_download_bandwidth,
                        path,
                        "max_download_bandwidth",
                        file,
                        diags,
                    );
                    let umin = check_rate(
                        *min_upload_bandwidth,
                        path,
                        "min_upload_bandwidth",
                        file,
                        diags,
                    );
                    let umax = check_rate(
                        *max_upload_bandwidth,
                        path,
                        "max_upload_bandwidth",
                        file,
                        diags,
                    );
                    let mut hit = false;
                    for r in rows.iter_mut().filter(|r| {
                        if by_device {
                            &r.device_id == circuit_id
                        } else {
                            &r.circuit_id == circuit_id
                        }
                    }) {
                        hit = true;
                        r.download_min = dmin.or(r.download_min);
                        r.download_max = dmax.or(r.download_max);
                        r.upload_min = umin.or(r.upload_min);
                        r.upload_max = umax.or(r.upload_max);
                    }
                    if !hit {
                        stale(
                            diags,
                            path,
                            format!(
                                "{} {circuit_id:?}",
                                if by_device { "device" } else { "circuit" }
                            ),
                        );
                    }
                }
                CircuitAdjustment::DeviceAdjustSqm {
                    device_id,
                    sqm_override,
                } => {
                    let sqm = sqm_or_warn(
                        sqm_override.as_deref(),
                        &format!("{path}.sqm_override"),
                        file,
                        diags,
                    );
                    match rows.iter_mut().find(|r| &r.device_id == device_id) {
                        Some(r) => r.sqm = sqm,
                        None => stale(diags, path, format!("device {device_id:?}")),
                    }
                }
                CircuitAdjustment::RemoveCircuit { circuit_id } => {
                    let before = rows.len();
                    rows.retain(|r| &r.circuit_id != circuit_id);
                    if rows.len() == before {
                        stale(diags, path, format!("circuit {circuit_id:?}"));
                    }
                }
                CircuitAdjustment::RemoveDevice { device_id } => {
                    let before = rows.len();
                    rows.retain(|r| &r.device_id != device_id);
                    if rows.len() == before {
                        stale(diags, path, format!("device {device_id:?}"));
                    }
                }
                CircuitAdjustment::ReparentCircuit {
                    circuit_id,
                    parent_node,
                } => {
                    let mut hit = false;
                    for r in rows.iter_mut().filter(|r| &r.circuit_id == circuit_id) {
                        hit = true;
                        r.parent_node = parent_node.as_str().into();
                    }
                    if !hit {
                        stale(diags, path, format!("circuit {circuit_id:?}"));
                    }
                }
            }
        }
    }

    /// Applies network adjustments to the parsed topology.
    pub fn apply_to_network(&self, net: &mut Network, file: &str, diags: &mut Diagnostics) {
        for (path, adj) in &self.network_adjustments {
            match adj {
                NetworkAdjustment::AdjustSiteSpeed {
                    node_id,
                    site_name,
                    download_bandwidth_mbps,
                    upload_bandwidth_mbps,
                } => {
                    let down = check_rate(
                        *download_bandwidth_mbps,
                        path,
                        "download_bandwidth_mbps",
                        file,
                        diags,
                    );
                    let up = check_rate(
                        *upload_bandwidth_mbps,
                        path,
                        "upload_bandwidth_mbps",
                        file,
                        diags,
                    );
                    let found = node_id
                        .as_ref()
                        .and_then(|id| net.nodes.iter().position(|n| n.id.as_ref() == Some(id)))
                        .or_else(|| net.find(site_name));
                    match found {
                        Some(i) => {
                            let n = &mut net.nodes[i];
                            n.download_mbps = down.unwrap_or(n.download_mbps);
                            n.upload_mbps = up.unwrap_or(n.upload_mbps);
                        }
                        None => diags.push(Diagnostic::new(Severity::Warning, file, Location::JsonPath(path.clone()), format!("node {site_name:?} is not in network.json (override has no effect)"))),
                    }
                }
                NetworkAdjustment::SetNodeVirtual {
                    node_name,
                    virtual_node,
                } => match net.find(node_name) {
                    Some(i) => net.nodes[i].is_virtual = *virtual_node,
                    None => diags.push(Diagnostic::new(
                        Severity::Warning,
                        file,
                        Location::JsonPath(path.clone()),
                        format!(
                            "node {node_name:?} is not in network.json (override has no effect)"
                        ),
                    )),
                },
            }
        }
    }
}
