//! Which module fetches which integration.

use crate::http::{Http, HttpError};
use crate::model::Import;
use lqos_config::Config;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The data cannot be mapped at all (for example UISP without a root site).
    #[error("{0}")]
    Mapping(String),
}

/// The settings every mapping needs besides its own table.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// `[queues] generated_pn_download_mbps` / `_upload_mbps`: capacity of a node the CRM
    /// gives none.
    pub pn_down: f64,
    pub pn_up: f64,
}

impl Defaults {
    pub fn of(config: &Config) -> Defaults {
        Defaults {
            pn_down: config.queues.generated_pn_download_mbps,
            pn_up: config.queues.generated_pn_upload_mbps,
        }
    }
}

/// Fetches and maps the integration `name` (which must be enabled).
pub async fn fetch(name: &str, config: &Config) -> Result<Import, SourceError> {
    let i = &config.integrations;
    let limits = &i.limits;
    let d = Defaults::of(config);
    let not = || SourceError::Mapping(format!("{name} is not enabled"));
    match name {
        "uisp" => {
            let s = i.uisp.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::uisp::import(s, &i.common, d, &http).await
        }
        "splynx" => {
            let s = i.splynx.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::splynx::import(s, &i.common, &http).await
        }
        "netzur" => {
            let s = i.netzur.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::netzur::import(s, &i.common, d, &http).await
        }
        "powercode" => {
            let s = i.powercode.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::powercode::import(s, &i.common, &http).await
        }
        "sonar" => {
            let s = i.sonar.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::sonar::import(s, &i.common, d, &http).await
        }
        "visp" => {
            let s = i.visp.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::visp::import(s, &i.common, d, &http).await
        }
        "wispgate" => {
            let s = i.wispgate.as_ref().ok_or_else(not)?;
            let http = Http::new(limits, &s.options)?;
            crate::wispgate::import(s, &http).await
        }
        _ => Err(SourceError::Mapping(format!(
            "unknown integration {name:?}"
        ))),
    }
}
