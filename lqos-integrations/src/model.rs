//! What every integration produces: typed nodes and circuits with stable, namespaced ids
//! (`uisp:site:<id>`), and the records it could not use, each with its reason.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A network.json node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRec {
    /// Stable and namespaced (`uisp:site:<id>`, `splynx:ap:<id>`).
    pub id: String,
    /// The network.json key; made unique across the whole tree when rendered.
    pub name: String,
    /// `None`: a top-level node.
    pub parent_id: Option<String>,
    /// "Site" or "AP" (network.json `type`).
    pub kind: String,
    pub download_mbps: f64,
    pub upload_mbps: f64,
}

/// A device of a circuit (one ShapedDevices.csv row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRec {
    pub id: String,
    pub name: String,
    pub mac: String,
    /// IPv4 and IPv6 addresses or routed prefixes.
    pub ips: Vec<IpNet>,
}

/// A circuit: rows sharing a Circuit ID. Rates in Mbps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CircuitRec {
    pub id: String,
    pub name: String,
    /// The id of its parent node; `None`: unparented.
    pub parent_id: Option<String>,
    pub download_min: f64,
    pub upload_min: f64,
    pub download_max: f64,
    pub upload_max: f64,
    pub devices: Vec<DeviceRec>,
    pub comment: String,
}

impl CircuitRec {
    /// An empty circuit at LibreQoS's client rates: max as given, min = 98 % of max.
    pub fn client_rates(down_max: f64, up_max: f64) -> CircuitRec {
        CircuitRec {
            id: String::new(),
            name: String::new(),
            parent_id: None,
            download_min: down_max * 0.98,
            upload_min: up_max * 0.98,
            download_max: down_max,
            upload_max: up_max,
            devices: Vec::new(),
            comment: String::new(),
        }
    }
}

/// A record an integration skipped (or imported only in part), and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordIssue {
    pub integration: String,
    /// The CRM's own id of the record (or its JSON position when it has none).
    pub record: String,
    pub reason: String,
    /// False: imported anyway (for example without a parent).
    pub skipped: bool,
}

impl std::fmt::Display for RecordIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.skipped { "skipped" } else { "note" };
        write!(
            f,
            "{} {what} {}: {}",
            self.integration, self.record, self.reason
        )
    }
}

/// One integration's output.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Import {
    pub source: String,
    pub nodes: Vec<NodeRec>,
    pub circuits: Vec<CircuitRec>,
    pub issues: Vec<RecordIssue>,
}

impl Import {
    pub fn new(source: &str) -> Import {
        Import {
            source: source.to_owned(),
            ..Import::default()
        }
    }

    /// Reports a record that was left out.
    pub fn skip(&mut self, record: impl Into<String>, reason: impl Into<String>) {
        self.issues.push(RecordIssue {
            integration: self.source.clone(),
            record: record.into(),
            reason: reason.into(),
            skipped: true,
        });
    }

    /// Reports something about a record that was imported anyway.
    pub fn note(&mut self, record: impl Into<String>, reason: impl Into<String>) {
        self.issues.push(RecordIssue {
            integration: self.source.clone(),
            record: record.into(),
            reason: reason.into(),
            skipped: false,
        });
    }

    pub fn skipped(&self) -> usize {
        self.issues.iter().filter(|i| i.skipped).count()
    }
}

/// Parses a JSON array record by record: a record that does not fit `T` is reported (with
/// the id `id_of` finds in it, else its position) and left out; the others are kept.
pub fn parse_records<T: serde::de::DeserializeOwned>(
    import: &mut Import,
    what: &str,
    items: Vec<serde_json::Value>,
    id_of: impl Fn(&serde_json::Value) -> Option<String>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let id = id_of(&item).unwrap_or_else(|| format!("{what}[{i}]"));
        match serde_json::from_value::<T>(item) {
            Ok(t) => out.push(t),
            Err(e) => import.skip(format!("{what} {id}"), format!("malformed record: {e}")),
        }
    }
    out
}

/// A JSON value's field as text (numbers too), for ids.
pub fn text_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// LibreQoS's client-rate rule: `max(plan × overhead, plan × client multiplier)`, never
/// negative.
pub fn client_rate(plan_mbps: f64, overhead: f64, client_multiplier: f64) -> f64 {
    (plan_mbps * overhead)
        .max(plan_mbps * client_multiplier)
        .max(0.0)
}

/// Parses an address or prefix the way CRMs write them: an IPv4 host (with or without a
/// mask) becomes /32, a network address with its mask stays a routed prefix; IPv6 likewise.
/// Placeholders (0.0.0.0, 255.255.255.255, ::) are refused.
pub fn parse_ip(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    let net: IpNet = match t.parse::<IpNet>() {
        Ok(n) => {
            if n.addr() == n.network() {
                n
            } else {
                IpNet::from(n.addr())
            }
        }
        Err(_) => match t.parse::<std::net::IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => return Err(format!("{t:?} is not an IP address or prefix")),
        },
    };
    let a = net.addr();
    if a.is_unspecified() || a == std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        return Err(format!("{t:?} is a placeholder address"));
    }
    Ok(net)
}

/// A comma/space separated list of addresses; bad items are returned as errors.
pub fn parse_ip_list(text: &str) -> (Vec<IpNet>, Vec<String>) {
    let mut ips = Vec::new();
    let mut bad = Vec::new();
    for item in text
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match parse_ip(item) {
            Ok(n) => ips.push(n),
            Err(e) => bad.push(e),
        }
    }
    (ips, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_crms_write_them() {
        assert_eq!(
            parse_ip("100.64.3.17/24").unwrap().to_string(),
            "100.64.3.17/32"
        );
        assert_eq!(parse_ip("5.5.6.0/24").unwrap().to_string(), "5.5.6.0/24");
        assert_eq!(
            parse_ip("2001:db8:40::/56").unwrap().to_string(),
            "2001:db8:40::/56"
        );
        assert_eq!(
            parse_ip("2001:db8::5/64").unwrap().to_string(),
            "2001:db8::5/128"
        );
        assert!(parse_ip("0.0.0.0").is_err());
        assert!(parse_ip("300.1.1.1").is_err());
        let (ips, bad) = parse_ip_list("100.64.0.1, 100.64.0.2 bogus");
        assert_eq!((ips.len(), bad.len()), (2, 1));
        assert!((client_rate(100.0, 1.15, 1.0) - 115.0).abs() < 1e-9);
        assert_eq!(client_rate(100.0, 1.0, 1.2), 120.0);
    }
}
