//! Integrations: sources that produce the circuits, devices and network tree (a CRM, an NMS,
//! an operator's own export). Their output goes through the same validation as the files, and
//! only output that passes is written, atomically, to `ShapedDevices.csv` / `network.json`
//! (so operators can read what the integration produced). A failing integration leaves the
//! last good files in place; the refresh goes on with them.

pub mod http;

use lqos_config::{parse_inputs, Config, Diagnostics, InputTexts, Severity};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What an integration produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub shaped_devices_csv: Vec<u8>,
    /// `None`: the integration does not manage network.json; the local file is kept.
    pub network_json: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
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

/// A source of inputs.
pub trait Integration {
    /// Its name in logs and in lqos.conf (`http_import`).
    fn name(&self) -> &'static str;
    /// Fetches the inputs (the HTTP client is shared and carries the timeouts).
    fn fetch(
        &self,
        http: &reqwest::Client,
    ) -> impl Future<Output = Result<Fetched, IntegrationError>>;
}

/// A failed integration, for the refresh's report.
#[derive(Debug)]
pub struct Failure {
    pub name: &'static str,
    pub error: IntegrationError,
    /// The whole report, kept under `state_directory/logs/`.
    pub log: Option<PathBuf>,
}

/// Runs `integration`, validates what it produced against the files it does not replace, and
/// writes it. On any failure nothing is written.
pub async fn run(
    integration: &impl Integration,
    http: &reqwest::Client,
    config: &Config,
) -> Result<(), IntegrationError> {
    let fetched = integration.fetch(http).await?;
    let network = match &fetched.network_json {
        Some(n) => n.clone(),
        None => {
            std::fs::read_to_string(config.network_json_path()).unwrap_or_else(|_| "{}".to_owned())
        }
    };
    let overrides = std::fs::read_to_string(config.overrides_path()).ok();
    let texts = InputTexts {
        shaped_devices: &fetched.shaped_devices_csv,
        network: &network,
        overrides: overrides.as_deref(),
    };
    let (inputs, diagnostics) = parse_inputs(&texts, &config.ip_ranges);
    if inputs.is_none() {
        let first = diagnostics
            .iter()
            .find(|d| d.severity == Severity::Reject)
            .map_or_else(String::new, |d| d.to_string());
        return Err(IntegrationError::Invalid { diagnostics, first });
    }
    write_atomically(&config.shaped_devices_path(), &fetched.shaped_devices_csv)?;
    if let Some(n) = &fetched.network_json {
        write_atomically(&config.network_json_path(), n.as_bytes())?;
    }
    Ok(())
}

/// Temp file in the same directory, fsync, rename: readers see the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), IntegrationError> {
    let err = |source| IntegrationError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("lqos-tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// The full report of a failure in `state_directory/logs/integration-<name>-<unix time>.log`.
pub fn write_log(config: &Config, name: &str, error: &IntegrationError) -> Option<PathBuf> {
    let mut text = format!("{error}\n");
    match error {
        IntegrationError::Status { body_preview, .. } => {
            text.push_str(&format!("body:\n{body_preview}\n"))
        }
        IntegrationError::Invalid { diagnostics, .. } => text.push_str(&format!("{diagnostics}\n")),
        _ => {}
    }
    crate::logs::keep(
        &config.state_directory,
        &format!("integration-{name}"),
        &text,
    )
}

/// Runs every enabled integration (one HTTP client for all), in a runtime of its own.
pub fn run_enabled(config: &Config) -> Vec<Failure> {
    let Some(import) = &config.http_import else {
        return Vec::new();
    };
    let integration = http::HttpImport::new(import.clone());
    let fail = |error: IntegrationError| {
        let log = write_log(config, integration.name(), &error);
        vec![Failure {
            name: integration.name(),
            error,
            log,
        }]
    };
    let client = match http::client(import) {
        Ok(c) => c,
        Err(detail) => {
            return fail(IntegrationError::Request {
                url: import.shaped_devices_url.clone(),
                detail,
            })
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(IntegrationError::Request {
                url: import.shaped_devices_url.clone(),
                detail: format!("tokio runtime: {e}"),
            })
        }
    };
    match runtime.block_on(run(&integration, &client, config)) {
        Ok(()) => Vec::new(),
        Err(e) => fail(e),
    }
}
