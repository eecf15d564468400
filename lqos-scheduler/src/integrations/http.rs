//! The first integration: ShapedDevices.csv (and optionally network.json) from the operator's
//! own HTTP(S) export, with an optional bearer token (`[http_import]` in lqos.conf).

use super::{Fetched, Integration, IntegrationError};
use lqos_config::HttpImport as Settings;

/// Bytes of an error response kept for the report.
const PREVIEW_BYTES: usize = 2048;

/// The HTTP client: connect and whole-request timeouts from the settings. Built once per
/// refresh and shared by every request.
pub fn client(settings: &Settings) -> Result<reqwest::Client, String> {
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

pub struct HttpImport {
    settings: Settings,
}

impl HttpImport {
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    async fn get(&self, http: &reqwest::Client, url: &str) -> Result<Vec<u8>, IntegrationError> {
        let request_err = |e: reqwest::Error| IntegrationError::Request {
            url: url.to_owned(),
            detail: describe(&e),
        };
        let mut req = http.get(url);
        if let Some(token) = &self.settings.bearer_token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(request_err)?;
        let status = resp.status();
        // A body shorter than its Content-Length, or cut by a timeout, is an error here.
        let body = resp.bytes().await.map_err(request_err)?;
        if !status.is_success() {
            let body_preview =
                String::from_utf8_lossy(&body[..body.len().min(PREVIEW_BYTES)]).into_owned();
            return Err(IntegrationError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                body_preview,
            });
        }
        Ok(body.to_vec())
    }
}

/// reqwest's error with its causes ("operation timed out", "connection refused", ...).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (timed out)");
    }
    text
}

impl Integration for HttpImport {
    fn name(&self) -> &'static str {
        "http_import"
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Fetched, IntegrationError> {
        let shaped_devices_csv = self.get(http, &self.settings.shaped_devices_url).await?;
        let network_json = match &self.settings.network_url {
            Some(url) => {
                let bytes = self.get(http, url).await?;
                Some(
                    String::from_utf8(bytes).map_err(|_| IntegrationError::Request {
                        url: url.clone(),
                        detail: "the body is not UTF-8".into(),
                    })?,
                )
            }
            None => None,
        };
        Ok(Fetched {
            shaped_devices_csv,
            network_json,
        })
    }
}
