//! `[fleet]` (an lqos addition): several shaper boxes, or an HA pair, coordinated through
//! etcd. Absent, lqos is one box and talks to no etcd. See docs/fleet.md.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::share::{Attribute, Rule};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// A share entry that takes every top-level node (and the unparented circuits).
pub const SHARE_ALL: &str = "*";
/// A share entry that takes the circuits without a parent node.
pub const SHARE_UNPARENTED: &str = "*unparented";

/// This box's place in the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// etcd client URLs (`http://10.0.0.1:2379` or `https://...`).
    pub endpoints: Vec<String>,
    /// The fleet's name: every key lives under `/lqos/<cluster>/`. Default `default`.
    pub cluster: String,
    /// This box's name, unique in the fleet. Default: `node_name`.
    pub name: String,
    /// Top-level network.json nodes this box shapes ([`SHARE_ALL`], [`SHARE_UNPARENTED`]),
    /// then `share_rule`'s patterns as rule entries (`@type=Site*`, [`crate::share::Rule`]).
    /// Empty for a standby, which takes its primary's.
    pub share: Vec<String>,
    /// The box whose share this one holds hot (an HA pair's standby).
    pub standby_of: Option<String>,
    /// Whether this box may become the leader that runs the integrations. Default true.
    pub campaign: bool,
    /// The leader lease's time to live (etcd clamps it to at least 1.5 election timeouts).
    /// Default 6 s; failover takes about this long after a crash.
    pub lease_ttl: Duration,
    pub tls: Option<FleetTls>,
    /// etcd user and password (etcd's auth).
    pub user: Option<(String, String)>,
}

/// TLS towards etcd: a CA to trust, and optionally a client certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetTls {
    pub ca_file: PathBuf,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawFleet {
    enabled: Option<bool>,
    endpoints: Option<Vec<String>>,
    cluster: Option<String>,
    name: Option<String>,
    #[serde(default)]
    share: Vec<String>,
    share_rule: Option<RawShareRule>,
    standby_of: Option<String>,
    campaign: Option<bool>,
    lease_ttl_secs: Option<u64>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
}

/// `share_rule = { attribute = "type", matches = ["Site", "POP-*"] }`: the top-level nodes
/// whose attribute matches one of the patterns.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShareRule {
    attribute: Option<String>,
    #[serde(default)]
    matches: Vec<String>,
}

/// A name that is safe inside an etcd key path.
fn is_key_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `None` when the table is absent or `enabled = false`; problems are Reject diagnostics.
pub(crate) fn build(
    raw: Option<RawFleet>,
    node_name: &str,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<Fleet> {
    let raw = raw?;
    if raw.enabled == Some(false) {
        return None;
    }
    let before = diags.count(Severity::Reject);
    let mut reject = |key: &str, value: String, message: &str| {
        diags.push(
            Diagnostic::new(
                Severity::Reject,
                file,
                Location::Key(format!("fleet.{key}")),
                message,
            )
            .value(value),
        );
    };
    let endpoints = raw.endpoints.unwrap_or_default();
    if endpoints.is_empty() {
        reject(
            "endpoints",
            String::new(),
            "required when [fleet] is present: the etcd client URLs (or set enabled = false)",
        );
    }
    let tls_wanted = raw.ca_file.is_some();
    for e in &endpoints {
        let ok = e.starts_with("http://") || e.starts_with("https://");
        if !ok {
            reject(
                "endpoints",
                e.clone(),
                "expected an http:// or https:// URL",
            );
        } else if e.starts_with("https://") && !tls_wanted {
            reject("ca_file", e.clone(), "an https:// endpoint needs ca_file");
        }
    }
    let cluster = raw.cluster.unwrap_or_else(|| "default".into());
    if !is_key_word(&cluster) {
        reject(
            "cluster",
            cluster.clone(),
            "expected 1-64 letters, digits, '-', '_' or '.'",
        );
    }
    let name = raw.name.unwrap_or_else(|| node_name.to_owned());
    if !is_key_word(&name) {
        reject(
            "name",
            name.clone(),
            "expected 1-64 letters, digits, '-', '_' or '.' (set fleet.name)",
        );
    }
    if let Some(p) = raw
        .standby_of
        .as_ref()
        .filter(|p| !is_key_word(p) || **p == name)
    {
        reject(
            "standby_of",
            p.clone(),
            "expected the name of another box of the fleet",
        );
    }
    let mut share = raw.share;
    let named = !share.is_empty();
    for s in &share {
        if s.trim().is_empty() {
            reject("share", s.clone(), "expected a node name");
        } else if let Err(e) = Rule::parse(s) {
            reject("share", s.clone(), &e.to_string());
        }
    }
    if let Some(rule) = &raw.share_rule {
        if raw.standby_of.is_some() {
            reject(
                "share_rule",
                String::new(),
                "a standby takes its primary's share: set share_rule or standby_of, not both",
            );
        }
        let attribute = rule.attribute.as_deref().unwrap_or_default();
        match Attribute::parse(attribute) {
            None => reject(
                "share_rule.attribute",
                attribute.to_owned(),
                &format!(
                    "expected the node attribute to match: {}",
                    Attribute::EXPECTED
                ),
            ),
            Some(a) => {
                if rule.matches.is_empty() {
                    reject(
                        "share_rule.matches",
                        "[]".into(),
                        "expected one or more patterns ('*' matches any run of characters)",
                    );
                }
                for p in &rule.matches {
                    match Rule::new(a, p) {
                        Ok(r) => share.push(r.entry()),
                        Err(e) => reject("share_rule.matches", p.clone(), &e.to_string()),
                    }
                }
            }
        }
    }
    if !named && raw.share_rule.is_none() && raw.standby_of.is_none() {
        reject("share", "[]".into(), "expected the top-level network.json nodes this box shapes (\"*\" for all), a share_rule, or standby_of");
    }
    if named && raw.standby_of.is_some() {
        reject(
            "share",
            format!("{share:?}"),
            "a standby takes its primary's share: set share or standby_of, not both",
        );
    }
    let ttl = raw.lease_ttl_secs.unwrap_or(6);
    if !(1..=300).contains(&ttl) {
        reject(
            "lease_ttl_secs",
            ttl.to_string(),
            "expected 1 to 300 seconds",
        );
    }
    let tls = raw.ca_file.map(|ca_file| FleetTls {
        ca_file,
        cert_file: raw.cert_file.clone(),
        key_file: raw.key_file.clone(),
    });
    if raw.cert_file.is_some() != raw.key_file.is_some() {
        reject(
            "cert_file",
            String::new(),
            "cert_file and key_file go together",
        );
    }
    if let Some(t) = &tls {
        for p in [Some(&t.ca_file), t.cert_file.as_ref(), t.key_file.as_ref()]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_file())
        {
            reject(
                "ca_file",
                p.display().to_string(),
                "expected a readable PEM file",
            );
        }
    } else if raw.cert_file.is_some() {
        reject(
            "ca_file",
            String::new(),
            "a client certificate needs ca_file",
        );
    }
    let user = match (raw.user, raw.password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => {
            reject("user", String::new(), "user and password go together");
            None
        }
    };
    if diags.count(Severity::Reject) > before {
        return None;
    }
    Some(Fleet {
        endpoints,
        cluster,
        name,
        share,
        standby_of: raw.standby_of,
        campaign: raw.campaign.unwrap_or(true),
        lease_ttl: Duration::from_secs(ttl),
        tls,
        user,
    })
}
