//! `[flows]`: flow telemetry (the kernel flow table, RTT histograms, QoO). LibreQoS has a
//! `[flows]` table too: its `flow_timeout_seconds` is read here; its NetFlow keys and
//! `do_not_track_subnets` are accepted with a warning (lqos does not export NetFlow, and it
//! tracks only shaped traffic anyway).

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use serde::Deserialize;
use std::time::Duration;

/// How flows are tracked.
#[derive(Debug, Clone, PartialEq)]
pub struct Flows {
    /// `false`: no flow table is read (the kernel still tracks; reading is what costs).
    pub enabled: bool,
    /// Flows the kernel table holds; `None`: sized for the machine by lqosd.
    pub max_flows: Option<u32>,
    /// Circuit indexes with RTT histograms in the kernel; `None`: sized for the machine.
    pub max_circuits: Option<u32>,
    /// A flow idle this long is forgotten (LibreQoS `flow_timeout_seconds`). Default 30 s.
    pub idle_timeout: Duration,
    /// Finished flows stay listed this long. Default 60 s.
    pub finished_keep: Duration,
    /// Live flows lqosd keeps in memory at most; beyond, new flows are counted as dropped.
    pub max_tracked: usize,
    /// The QoO profile (draft-ietf-ippm-qoo thresholds): `web_browsing` by default.
    pub qoo_profile: String,
    /// Circuits left out of QoO (high latency expected: satellite, VPN users...).
    pub qoo_exclude_circuits: Vec<String>,
}

/// The QoO profiles lqos knows (LibreQoS's defaults; lqos-telemetry holds their thresholds).
pub const QOO_PROFILES: [&str; 6] = [
    "web_browsing",
    "video_streaming",
    "video_conferencing",
    "audio_streaming",
    "online_backup",
    "real_time_gaming",
];

impl Default for Flows {
    fn default() -> Self {
        Self {
            enabled: true,
            max_flows: None,
            max_circuits: None,
            idle_timeout: Duration::from_secs(30),
            finished_keep: Duration::from_secs(60),
            max_tracked: 1_000_000,
            qoo_profile: "web_browsing".into(),
            qoo_exclude_circuits: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawFlows {
    enabled: Option<bool>,
    max_flows: Option<u32>,
    max_circuits: Option<u32>,
    flow_timeout_seconds: Option<u64>,
    finished_keep_seconds: Option<u64>,
    max_tracked: Option<usize>,
    qoo_profile: Option<String>,
    #[serde(default)]
    qoo_exclude_circuits: Vec<String>,
    // LibreQoS keys lqos does not act on.
    netflow_enabled: Option<bool>,
    netflow_port: Option<toml::Value>,
    netflow_ip: Option<toml::Value>,
    netflow_version: Option<toml::Value>,
    do_not_track_subnets: Option<toml::Value>,
}

pub(crate) fn build(raw: Option<RawFlows>, file: &str, diags: &mut Diagnostics) -> Flows {
    let Some(raw) = raw else {
        return Flows::default();
    };
    let defaults = Flows::default();
    let mut push = |severity, key: &str, value: String, message: &str| {
        diags.push(
            Diagnostic::new(
                severity,
                file,
                Location::Key(format!("flows.{key}")),
                message,
            )
            .value(value),
        )
    };
    if raw.netflow_enabled == Some(true)
        || raw.netflow_port.is_some()
        || raw.netflow_ip.is_some()
        || raw.netflow_version.is_some()
    {
        push(
            Severity::Warning,
            "netflow_enabled",
            String::new(),
            "lqos does not export NetFlow; the netflow_* keys are ignored",
        );
    }
    if raw.do_not_track_subnets.is_some() {
        push(
            Severity::Warning,
            "do_not_track_subnets",
            String::new(),
            "ignored: lqos tracks only flows of shaped subscribers (addresses in ShapedDevices.csv)",
        );
    }
    let mut at_least = |key: &str, v: Option<u64>, min: u64| match v {
        Some(n) if n < min => {
            push(
                Severity::Reject,
                key,
                n.to_string(),
                &format!("expected at least {min}"),
            );
            None
        }
        other => other,
    };
    let max_flows = at_least("max_flows", raw.max_flows.map(u64::from), 1024);
    let max_circuits = at_least("max_circuits", raw.max_circuits.map(u64::from), 16);
    let idle = at_least("flow_timeout_seconds", raw.flow_timeout_seconds, 1);
    let keep = raw.finished_keep_seconds;
    let max_tracked = at_least("max_tracked", raw.max_tracked.map(|n| n as u64), 1024);
    let qoo_profile = match raw.qoo_profile {
        Some(p) if !QOO_PROFILES.contains(&p.as_str()) => {
            push(
                Severity::Reject,
                "qoo_profile",
                p,
                &format!("expected one of {}", QOO_PROFILES.join(", ")),
            );
            defaults.qoo_profile
        }
        Some(p) => p,
        None => defaults.qoo_profile,
    };
    Flows {
        enabled: raw.enabled.unwrap_or(true),
        max_flows: max_flows.map(|n| n as u32),
        max_circuits: max_circuits.map(|n| n as u32),
        idle_timeout: idle.map_or(defaults.idle_timeout, Duration::from_secs),
        finished_keep: keep.map_or(defaults.finished_keep, Duration::from_secs),
        max_tracked: max_tracked.map_or(defaults.max_tracked, |n| n as usize),
        qoo_profile,
        qoo_exclude_circuits: raw.qoo_exclude_circuits,
    }
}
