//! `[http_import]` (an lqos addition, not a LibreQoS key): fetch ShapedDevices.csv, and
//! optionally network.json, from the operator's own HTTP(S) export before every refresh.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use serde::Deserialize;
use std::time::Duration;

/// Where and how to fetch the inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpImport {
    pub shaped_devices_url: String,
    /// `None`: network.json is not fetched (the local file stays as it is).
    pub network_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// A PEM file of CA certificates trusted besides the public roots (an internal CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// Connecting may take this long. Default 5 s.
    pub connect_timeout: Duration,
    /// The whole request, body included, may take this long. Default 30 s.
    pub timeout: Duration,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawHttpImport {
    enabled: Option<bool>,
    shaped_devices_url: Option<String>,
    network_url: Option<String>,
    bearer_token: Option<String>,
    ca_file: Option<std::path::PathBuf>,
    connect_timeout_secs: Option<u64>,
    timeout_secs: Option<u64>,
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// `None` when the table is absent or `enabled = false`; problems are Reject diagnostics.
pub(crate) fn build(
    raw: Option<RawHttpImport>,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<HttpImport> {
    let raw = raw?;
    if raw.enabled == Some(false) {
        return None;
    }
    let mut reject = |key: &str, value: String, message: &str| {
        diags.push(
            Diagnostic::new(
                Severity::Reject,
                file,
                Location::Key(format!("http_import.{key}")),
                message,
            )
            .value(value),
        );
    };
    let Some(shaped) = raw.shaped_devices_url else {
        reject(
            "shaped_devices_url",
            String::new(),
            "required when [http_import] is present (or set enabled = false)",
        );
        return None;
    };
    for (key, url) in [
        ("shaped_devices_url", Some(&shaped)),
        ("network_url", raw.network_url.as_ref()),
    ] {
        if let Some(url) = url.filter(|u| !is_http(u)) {
            reject(key, url.clone(), "expected an http:// or https:// URL");
        }
    }
    let secs =
        |key: &str, v: Option<u64>, default: u64, reject: &mut dyn FnMut(&str, String, &str)| {
            match v.unwrap_or(default) {
                0 => {
                    reject(key, "0".into(), "expected at least 1 second");
                    Duration::from_secs(default)
                }
                s => Duration::from_secs(s),
            }
        };
    let connect_timeout = secs(
        "connect_timeout_secs",
        raw.connect_timeout_secs,
        5,
        &mut reject,
    );
    let timeout = secs("timeout_secs", raw.timeout_secs, 30, &mut reject);
    if let Some(ca) = raw.ca_file.as_ref().filter(|p| !p.is_file()) {
        reject(
            "ca_file",
            ca.display().to_string(),
            "expected a readable PEM file of CA certificates",
        );
    }
    Some(HttpImport {
        shaped_devices_url: shaped,
        network_url: raw.network_url,
        bearer_token: raw.bearer_token,
        ca_file: raw.ca_file,
        connect_timeout,
        timeout,
    })
}
