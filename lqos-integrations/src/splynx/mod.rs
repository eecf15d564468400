//! Splynx: `[splynx_integration]`.

pub mod api;
pub mod map;

use crate::http::Http;
use crate::model::{parse_records, text_field, Import};
use crate::sources::SourceError;
use lqos_config::integrations::{IntegrationCommon, Splynx, Strategy};

pub const NAME: &str = "splynx";

/// Parses each list record by record and maps them.
pub fn map_raw(s: &Splynx, common: &IntegrationCommon, raw: api::Raw) -> Import {
    let mut import = Import::new(NAME);
    let id = |v: &serde_json::Value| text_field(v, "id");
    let records = map::Records {
        tariffs: parse_records(&mut import, "tariff", raw.tariffs, id),
        customers: parse_records(&mut import, "customer", raw.customers, id),
        online: parse_records(&mut import, "online session", raw.online, |v| {
            text_field(v, "service_id")
        }),
        services: parse_records(&mut import, "service", raw.services, id),
        sectors: parse_records(&mut import, "sector", raw.sectors, id),
        monitoring: parse_records(&mut import, "monitoring device", raw.monitoring, id),
        network_sites: parse_records(&mut import, "network site", raw.network_sites, id),
    };
    map::map(s, common, &records, &mut import);
    import
}

pub async fn import(
    s: &Splynx,
    common: &IntegrationCommon,
    http: &Http,
) -> Result<Import, SourceError> {
    let infrastructure = s.strategy != Strategy::Flat;
    let raw = api::fetch(http, &s.url, &s.api_key, &s.api_secret, infrastructure).await?;
    Ok(map_raw(s, common, raw))
}
