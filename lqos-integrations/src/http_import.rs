//! `[http_import]`: ShapedDevices.csv (and optionally network.json) from the operator's own
//! HTTP(S) export, with an optional bearer token. What it fetches goes through the same
//! validation as the files, and only output that passes is written, atomically; a failure
//! leaves the last good files in place.

use crate::http::describe;
use crate::logs::write_atomically;
use lqos_config::{
    parse_inputs, Config, Diagnostics, HttpImport as Settings, InputTexts, Severity,
};
use std::path::PathBuf;

/// Bytes of an error response kept for the report.
const PREVIEW_BYTES: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum HttpImportError {
    #[error("cannot fetch {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: u16,
        body_preview: String,
    },
    #[error("the output is invalid ({} error(s)); first: {first}", .diagnostics.count(Severity::Reject))]
    Invalid {
        diagnostics: Diagnostics,
        first: String,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HttpImportError {
    /// The whole report for the log file.
    pub fn report(&self) -> String {
        let mut text = format!("{self}\n");
        match self {
            HttpImportError::Status { body_preview, .. } => {
                text.push_str(&format!("body:\n{body_preview}\n"))
            }
            HttpImportError::Invalid { diagnostics, .. } => {
                text.push_str(&format!("{diagnostics}\n"))
            }
            _ => {}
        }
        text
    }
}

/// The HTTP client: connect and whole-request timeouts from the settings.
fn client(settings: &Settings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent(concat!("lqos-scheduler/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

async fn get(
    settings: &Settings,
    http: &reqwest::Client,
    url: &str,
) -> Result<Vec<u8>, HttpImportError> {
    let request_err = |e: reqwest::Error| HttpImportError::Request {
        url: url.to_owned(),
        detail: describe(&e),
    };
    let mut req = http.get(url);
    if let Some(token) = &settings.bearer_token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(request_err)?;
    let status = resp.status();
    // A body shorter than its Content-Length, or cut by a timeout, is an error here.
    let body = resp.bytes().await.map_err(request_err)?;
    if !status.is_success() {
        let body_preview =
            String::from_utf8_lossy(&body[..body.len().min(PREVIEW_BYTES)]).into_owned();
        return Err(HttpImportError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            body_preview,
        });
    }
    Ok(body.to_vec())
}

/// Fetches, validates against the files it does not replace, and writes. On any failure
/// nothing is written.
pub async fn run(settings: &Settings, config: &Config) -> Result<(), HttpImportError> {
    let http = client(settings).map_err(|detail| HttpImportError::Request {
        url: settings.shaped_devices_url.clone(),
        detail,
    })?;
    let csv = get(settings, &http, &settings.shaped_devices_url).await?;
    let network_json =
        match &settings.network_url {
            Some(url) => Some(String::from_utf8(get(settings, &http, url).await?).map_err(
                |_| HttpImportError::Request {
                    url: url.clone(),
                    detail: "the body is not UTF-8".into(),
                },
            )?),
            None => None,
        };
    let network = match &network_json {
        Some(n) => n.clone(),
        None => {
            std::fs::read_to_string(config.network_json_path()).unwrap_or_else(|_| "{}".to_owned())
        }
    };
    let overrides = std::fs::read_to_string(config.overrides_path()).ok();
    let texts = InputTexts {
        shaped_devices: &csv,
        network: &network,
        overrides: overrides.as_deref(),
    };
    let (inputs, diagnostics) = parse_inputs(&texts, &config.ip_ranges);
    if inputs.is_none() {
        let first = diagnostics
            .iter()
            .find(|d| d.severity == Severity::Reject)
            .map_or_else(String::new, |d| d.to_string());
        return Err(HttpImportError::Invalid { diagnostics, first });
    }
    let write = |path: PathBuf, bytes: &[u8]| {
        write_atomically(&path, bytes).map_err(|source| HttpImportError::Write { path, source })
    };
    write(config.shaped_devices_path(), &csv)?;
    if let Some(n) = &network_json {
        write(config.network_json_path(), n.as_bytes())?;
    }
    Ok(())
}
