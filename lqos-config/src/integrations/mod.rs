//! The CRM/NMS integration tables of lqos.conf: `[integration_common]`, `[uisp_integration]`,
//! `[splynx_integration]`, `[netzur_integration]`, `[visp_integration]`,
//! `[powercode_integration]`, `[sonar_integration]` and `[wispgate_integration]` with the keys
//! LibreQoS v1.5 gives them, plus lqos's own `[lqos_integrations]` limits and a per-table
//! `refresh_interval_mins` / `ca_file`.
//!
//! Keys LibreQoS parses but never acts on are accepted with a warning naming them.

mod raw;
pub mod schema;
mod sources;
mod sources_uisp;

pub(crate) use raw::*;
pub use sources::*;
pub(crate) use sources::{build_sources, RawTables};

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use std::time::Duration;

/// `[integration_common]` (LibreQoS keys).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationCommon {
    /// Default interval of every integration, in minutes (default 30).
    pub queue_refresh_interval_mins: u32,
    /// Circuit name = the subscriber's address where the CRM has one.
    pub circuit_name_as_address: bool,
    /// Floor multiplier of the client-rate rule: `max(plan × overhead, plan × this)`.
    pub client_bandwidth_multiplier: f64,
    /// Node names whose node is moved to the top of network.json.
    pub promote_to_root: Vec<String>,
    /// Cap circuits at their CPE's negotiated Ethernet speed (UISP).
    pub ethernet_port_limits_enabled: bool,
    /// Share of the negotiated Ethernet speed usable (0 < x ≤ 1, default 0.94).
    pub ethernet_port_limit_multiplier: f64,
}

/// `[lqos_integrations]`: lqos's limits for every integration.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationLimits {
    /// Connecting may take this long (default 10 s).
    pub connect_timeout: Duration,
    /// One request, body included (default 60 s; an integration's own `timeout_secs` wins).
    pub request_timeout: Duration,
    /// One whole run of one integration, all its requests (default 300 s).
    pub run_timeout: Duration,
    /// Largest response body accepted (default 64 MiB).
    pub max_response_bytes: u64,
    /// Extra attempts of an idempotent request after a timeout, a reset or a 502/503/504.
    pub retries: u32,
    /// An import with no circuit at all is refused (default true).
    pub refuse_empty: bool,
    /// An import with fewer circuits than this share of the last good one is refused
    /// (default 0.5; 0 turns the check off).
    pub refuse_below_ratio: f64,
}

/// Every integration's settings; a source is `Some` only when its table enables it.
#[derive(Debug, Clone, PartialEq)]
pub struct Integrations {
    pub common: IntegrationCommon,
    pub limits: IntegrationLimits,
    pub uisp: Option<Uisp>,
    pub splynx: Option<Splynx>,
    pub netzur: Option<Netzur>,
    pub visp: Option<Visp>,
    pub powercode: Option<Powercode>,
    pub sonar: Option<Sonar>,
    pub wispgate: Option<WispGate>,
}

impl Integrations {
    /// Names of the enabled CRM integrations, in LibreQoS's order.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (name, on) in [
            ("uisp", self.uisp.is_some()),
            ("splynx", self.splynx.is_some()),
            ("visp", self.visp.is_some()),
            ("netzur", self.netzur.is_some()),
            ("powercode", self.powercode.is_some()),
            ("sonar", self.sonar.is_some()),
            ("wispgate", self.wispgate.is_some()),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }

    /// The options (interval, TLS) of the enabled integration `name`.
    pub fn options(&self, name: &str) -> Option<&SourceOptions> {
        match name {
            "uisp" => self.uisp.as_ref().map(|s| &s.options),
            "splynx" => self.splynx.as_ref().map(|s| &s.options),
            "netzur" => self.netzur.as_ref().map(|s| &s.options),
            "visp" => self.visp.as_ref().map(|s| &s.options),
            "powercode" => self.powercode.as_ref().map(|s| &s.options),
            "sonar" => self.sonar.as_ref().map(|s| &s.options),
            "wispgate" => self.wispgate.as_ref().map(|s| &s.options),
            _ => None,
        }
    }
}

/// Collects problems of the integration tables as diagnostics of lqos.conf.
pub(crate) struct Checker<'a> {
    pub file: &'a str,
    pub diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    pub fn reject(&mut self, key: &str, value: impl ToString, message: &str) {
        self.diags.push(
            Diagnostic::new(
                Severity::Reject,
                self.file,
                Location::Key(key.into()),
                message,
            )
            .value(value.to_string()),
        );
    }
    pub fn warn(&mut self, key: &str, message: &str) {
        self.diags.push(Diagnostic::new(
            Severity::Warning,
            self.file,
            Location::Key(key.into()),
            message,
        ));
    }
    /// A key LibreQoS reads but does nothing with (or that needs machinery lqos lacks).
    pub fn unused<T>(&mut self, key: &str, value: &Option<T>, why: &str) {
        if value.is_some() {
            self.warn(
                key,
                &format!("accepted for compatibility but not used: {why}"),
            );
        }
    }
    /// A multiplier that must be finite and > 0 (and ≤ `max` when given).
    pub fn factor(&mut self, key: &str, v: Option<f64>, default: f64, max: Option<f64>) -> f64 {
        let v = v.unwrap_or(default);
        if !v.is_finite() || v <= 0.0 || max.is_some_and(|m| v > m) {
            let range = max.map_or(String::from("greater than 0"), |m| {
                format!("greater than 0 and at most {m}")
            });
            self.reject(key, v, &format!("expected a number {range}"));
            return default;
        }
        v
    }
    /// An http(s) URL (required when `required`).
    pub fn url(&mut self, key: &str, v: Option<String>, required: bool) -> String {
        let v = v.unwrap_or_default().trim().to_owned();
        if v.is_empty() {
            if required {
                self.reject(key, "", "required when the integration is enabled");
            }
        } else if !(v.starts_with("http://") || v.starts_with("https://")) {
            self.reject(key, &v, "expected an http:// or https:// URL");
        }
        v
    }
    pub fn minutes(&mut self, key: &str, v: Option<u32>, default: u32) -> u32 {
        match v {
            Some(0) => {
                self.reject(key, 0, "expected at least 1 minute");
                default
            }
            Some(m) => m,
            None => default,
        }
    }
}

pub(crate) fn build_common(raw: RawCommon, c: &mut Checker) -> IntegrationCommon {
    c.unused(
        "integration_common.use_mikrotik_ipv6",
        &raw.use_mikrotik_ipv6,
        "lqos does not query MikroTik routers for IPv6",
    );
    c.unused(
        "integration_common.always_overwrite_network_json",
        &raw.always_overwrite_network_json,
        "an enabled integration always writes network.json",
    );
    c.unused(
        "integration_common.topology_attachment_health",
        &raw.topology_attachment_health,
        "lqos does not probe management IPs",
    );
    IntegrationCommon {
        queue_refresh_interval_mins: c.minutes(
            "integration_common.queue_refresh_interval_mins",
            raw.queue_refresh_interval_mins,
            30,
        ),
        circuit_name_as_address: raw.circuit_name_as_address.unwrap_or(false),
        client_bandwidth_multiplier: c.factor(
            "integration_common.client_bandwidth_multiplier",
            raw.client_bandwidth_multiplier,
            1.0,
            None,
        ),
        promote_to_root: raw.promote_to_root.unwrap_or_default(),
        ethernet_port_limits_enabled: raw.ethernet_port_limits_enabled.unwrap_or(true),
        ethernet_port_limit_multiplier: c.factor(
            "integration_common.ethernet_port_limit_multiplier",
            raw.ethernet_port_limit_multiplier,
            0.94,
            Some(1.0),
        ),
    }
}

pub(crate) fn build_limits(raw: RawLimits, c: &mut Checker) -> IntegrationLimits {
    let mut secs = |key: &str, v: Option<u64>, default: u64| match v {
        Some(0) => {
            c.reject(
                &format!("lqos_integrations.{key}"),
                0,
                "expected at least 1 second",
            );
            Duration::from_secs(default)
        }
        v => Duration::from_secs(v.unwrap_or(default)),
    };
    let connect_timeout = secs("connect_timeout_secs", raw.connect_timeout_secs, 10);
    let request_timeout = secs("request_timeout_secs", raw.request_timeout_secs, 60);
    let run_timeout = secs("run_timeout_secs", raw.run_timeout_secs, 300);
    let ratio = raw.refuse_below_ratio.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&ratio) {
        c.reject(
            "lqos_integrations.refuse_below_ratio",
            ratio,
            "expected a share from 0 (off) to 1",
        );
    }
    let mb = match raw.max_response_mb {
        Some(0) => {
            c.reject(
                "lqos_integrations.max_response_mb",
                0,
                "expected at least 1 MiB",
            );
            64
        }
        v => v.unwrap_or(64),
    };
    IntegrationLimits {
        connect_timeout,
        request_timeout,
        run_timeout,
        max_response_bytes: mb.saturating_mul(1 << 20),
        retries: raw.retries.unwrap_or(2).min(10),
        refuse_empty: raw.refuse_empty.unwrap_or(true),
        refuse_below_ratio: ratio.clamp(0.0, 1.0),
    }
}
