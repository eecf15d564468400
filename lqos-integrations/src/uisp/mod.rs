//! UISP (Ubiquiti's NMS): `[uisp_integration]`.

pub mod api;
pub mod capacity;
pub mod map;
pub mod topology;

use crate::model::{parse_records, text_field, Import};
use crate::sources::{Defaults, SourceError};
use lqos_config::integrations::{IntegrationCommon, Uisp};

pub const NAME: &str = "uisp";

/// Parses the three lists record by record and maps them.
pub fn map_raw(
    s: &Uisp,
    common: &IntegrationCommon,
    d: Defaults,
    raw: api::Raw,
) -> Result<Import, SourceError> {
    let mut import = Import::new(NAME);
    let records = map::Records {
        sites: parse_records(&mut import, "site", raw.sites, |v| text_field(v, "id")),
        devices: parse_records(&mut import, "device", raw.devices, |v| {
            v.get("identification").and_then(|i| text_field(i, "id"))
        }),
        links: parse_records(&mut import, "data-link", raw.links, |v| text_field(v, "id")),
    };
    map::map(s, common, d, &records, &mut import).map_err(SourceError::Mapping)?;
    Ok(import)
}

/// Fetches and maps.
pub async fn import(
    s: &Uisp,
    common: &IntegrationCommon,
    d: Defaults,
    http: &crate::http::Http,
) -> Result<Import, SourceError> {
    let raw = api::fetch(http, &s.url, &s.token).await?;
    map_raw(s, common, d, raw)
}
