//! Splynx: `[splynx_integration]` (not implemented yet).

use crate::http::Http;
use crate::model::Import;
use crate::sources::SourceError;
use lqos_config::integrations::{IntegrationCommon, Splynx};

pub async fn import(
    _s: &Splynx,
    _common: &IntegrationCommon,
    _http: &Http,
) -> Result<Import, SourceError> {
    Err(SourceError::Mapping(
        "the splynx integration is not implemented yet in lqos".into(),
    ))
}
