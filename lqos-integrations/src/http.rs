//! The one HTTP client every integration uses: connect and per-request timeouts, a cap on the
//! response size, TLS with an optional extra CA file (or no verification where LibreQoS has a
//! key for it), and retries with backoff for idempotent requests only.

use lqos_config::integrations::{IntegrationLimits, SourceOptions};
use std::time::Duration;

/// Bytes of an error body kept for the report.
const PREVIEW_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {detail}")]
    Client { detail: String },
    #[error("{method} {url}: {detail}")]
    Request {
        method: &'static str,
        url: String,
        detail: String,
        /// A timeout (the call may be retried when idempotent).
        timed_out: bool,
    },
    #[error("{method} {url} answered HTTP {status}{}", hint(*.status))]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        body_preview: String,
    },
    #[error("{method} {url}: the response is larger than the {limit} byte limit ([lqos_integrations] max_response_mb)")]
    TooLarge {
        method: &'static str,
        url: String,
        limit: u64,
    },
    #[error("{url}: the response is not the JSON expected: {detail}")]
    Json { url: String, detail: String },
}

fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check the API token/key and its permissions)",
        404 => " (check the URL)",
        _ => "",
    }
}

impl HttpError {
    /// Worth another attempt (idempotent requests only).
    fn transient(&self) -> bool {
        match self {
            HttpError::Request { .. } => true,
            HttpError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// A request's body.
pub enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// The client of one integration, with its limits.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    max_bytes: u64,
    retries: u32,
}

impl Http {
    pub fn new(limits: &IntegrationLimits, options: &SourceOptions) -> Result<Http, HttpError> {
        let err = |detail: String| HttpError::Client { detail };
        let timeout = options
            .timeout_secs
            .map_or(limits.request_timeout, Duration::from_secs);
        let mut builder = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .read_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("lqos-scheduler/", env!("CARGO_PKG_VERSION")));
        if options.insecure_tls {
            builder = builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| err(format!("cannot read ca_file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| err(format!("ca_file {}: {e}", path.display())))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Http {
            client: builder.build().map_err(|e| err(describe(&e)))?,
            max_bytes: limits.max_response_bytes,
            retries: limits.retries,
        })
    }

    /// A GET (retried with backoff on timeouts, resets and 429/502/503/504).
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, HttpError> {
        let mut attempt = 0;
        loop {
            match self
                .send(reqwest::Method::GET, url, headers, basic, &Body::None)
                .await
            {
                Err(e) if e.transient() && attempt < self.retries => {
                    attempt += 1;
                    let pause = Duration::from_millis(250 << attempt.min(5));
                    tracing::warn!(error = %e, attempt, "retrying after {pause:?}");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    /// A POST; never retried (the API may not treat it as idempotent). `retry_idempotent`
    /// says the call is a read (GraphQL queries, Preseem list calls) that may be retried.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        retry_idempotent: bool,
    ) -> Result<Vec<u8>, HttpError> {
        let mut attempt = 0;
        loop {
            match self
                .send(reqwest::Method::POST, url, headers, None, body)
                .await
            {
                Err(e) if retry_idempotent && e.transient() && attempt < self.retries => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
                }
                other => return other,
            }
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        body: &Body<'_>,
    ) -> Result<Vec<u8>, HttpError> {
        let m: &'static str = if method == reqwest::Method::GET {
            "GET"
        } else {
            "POST"
        };
        let request_err = |e: reqwest::Error| HttpError::Request {
            method: m,
            url: url.to_owned(),
            detail: describe(&e),
            timed_out: e.is_timeout(),
        };
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((user, password)) = basic {
            req = req.basic_auth(user, Some(password));
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req
                .header("content-type", "application/json")
                .body(v.to_string()),
            Body::Form(f) => req.form(f),
        };
        let mut resp = req.send().await.map_err(request_err)?;
        let status = resp.status();
        let too_large = || HttpError::TooLarge {
            method: m,
            url: url.to_owned(),
            limit: self.max_bytes,
        };
        if resp.content_length().is_some_and(|l| l > self.max_bytes) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        // A body cut short of its Content-Length, or by a timeout, is an error here.
        while let Some(chunk) = resp.chunk().await.map_err(request_err)? {
            if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let end = body.len().min(PREVIEW_BYTES);
            return Err(HttpError::Status {
                method: m,
                url: url.to_owned(),
                status: status.as_u16(),
                body_preview: String::from_utf8_lossy(&body[..end]).into_owned(),
            });
        }
        Ok(body)
    }
}

/// Parses a JSON body into `T`, naming the JSON path of the first mismatch.
pub fn parse_json<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, HttpError> {
    serde_json::from_slice(body).map_err(|e| HttpError::Json {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}

/// reqwest's error with its causes ("operation timed out", "connection refused", ...).
pub fn describe(e: &reqwest::Error) -> String {
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
