//! VISP: `[visp_integration]`. A token from the token URL (four `x-visp-*` headers; fetched
//! again once when GraphQL refuses it), then GraphQL: the bulk
//! `customerCPEwithWirelessServiceSpeeds` (one circuit per wireless service), the paged
//! `subscribers`, `customerServices` for each subscriber the bulk list lacks (the backfill,
//! a few at a time; one failing costs only that customer), `onlineUsers` when
//! `online_users_domain` is set, and the IRM equipment (`equipmentAssemblies`,
//! `equipmentPg`) for the parents ([`topology`]). Mapping: [`map`].

pub mod map;
pub mod records;
pub mod session;
pub mod topology;

pub use map::{map, to_mbps, Fetched};
pub use session::VispError;

use crate::http::HttpError;
use crate::model::{text_field, Import};
use crate::sources::{Defaults, SourceError};
use futures_util::stream::{self, StreamExt};
use lqos_config::integrations::{IntegrationCommon, Visp};
use serde_json::{json, Value};
use session::Session;
use std::collections::HashSet;

pub const NAME: &str = "visp";
const PAGE: usize = 500;
/// At most this many pages of a paged query (500 000 records).
const MAX_PAGES: usize = 1000;
/// Backfill queries in flight at once.
const BACKFILL_CONCURRENCY: usize = 4;

pub const BULK: &str =
    "query Bulk($isp_id: Int) { customerCPEwithWirelessServiceSpeeds(isp_id: $isp_id) }";
pub const SUBS: &str = "query Subs($isp_id: Int, $limit: Int, $offset: Int) { subscribers(isp_id: $isp_id, limit: $limit, offset: $offset) { customer_id username first_name last_name status package_ip equipment_ip } count: subscribersCount(isp_id: $isp_id) }";
pub const SERVICES: &str = "query CustomerServices($customer_id: Int) { customerServices(customer_id: $customer_id, active: true) { id service_type status service_details { __typename ... on ServiceTypeWifi { service_number down_speed down_speed_unit up_speed up_speed_unit ip_address mac_address username } } } }";
pub const IP_LIST: &str = "query CustomerIpList($customer_id: Int) { customerIPList(customer_id: $customer_id) { package_ip equipment_ip } }";
pub const ONLINE: &str =
    "query Online($domain: String!) { onlineUsers(domain: $domain) { username ip } }";
pub const ASSEMBLIES: &str = "query EquipmentAssemblies($isp_id: Int) { equipmentAssemblies(isp_id: $isp_id, ap_upstream: true, type: \"CPE\") { id parent_id description location_name equipment_data } }";
pub const EQUIPMENT: &str = "query EquipmentPg($isp_id: Int, $limit: Int, $offset: Int) { equipmentPg(isp_id: $isp_id, limit: $limit, offset: $offset) { id parent_id name description location_id location_name } }";

/// A backfilled customer: its id, its `customerServices`, its `customerIPList` if asked.
type Backfilled = (
    String,
    Result<Vec<Value>, VispError>,
    Option<Result<Vec<Value>, VispError>>,
);

fn list(v: &Value, key: &str) -> Vec<Value> {
    match v.get(key) {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    }
}

/// A VISP error as the run reports it.
fn fail(e: VispError) -> SourceError {
    match e {
        VispError::Http(e) => SourceError::Http(e),
        other => SourceError::Mapping(other.to_string()),
    }
}

/// Runs a query that only adds to the import (onlineUsers, IRM): refused credentials fail
/// the run; any other failure is noted and the import goes on without it.
fn optional(
    r: Result<Vec<Value>, VispError>,
    what: &str,
    notes: &mut Vec<(String, String)>,
) -> Result<Vec<Value>, SourceError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_auth() => Err(fail(e)),
        Err(e) => {
            notes.push((what.to_owned(), format!("not imported: {e}")));
            Ok(Vec::new())
        }
    }
}

async fn paged(
    session: &Session<'_>,
    op: &str,
    query: &str,
    key: &str,
) -> Result<Vec<Value>, VispError> {
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let vars = json!({"isp_id": session.isp_id, "limit": PAGE, "offset": all.len()});
        let page = session.query(op, query, vars).await?;
        let items = list(&page, key);
        let total = page
            .get("count")
            .and_then(Value::as_u64)
            .map(|t| t as usize);
        let n = items.len();
        all.extend(items);
        if n < PAGE || total.is_some_and(|t| all.len() >= t) {
            break;
        }
    }
    Ok(all)
}

pub async fn import(
    s: &Visp,
    common: &IntegrationCommon,
    d: Defaults,
    http: &crate::http::Http,
) -> Result<Import, SourceError> {
    let session = Session::open(http, s).await?;
    let isp = session.isp_id;
    let bulk = session
        .query("Bulk", BULK, json!({"isp_id": isp}))
        .await
        .map_err(fail)?;
    let bulk = match bulk.get("customerCPEwithWirelessServiceSpeeds") {
        Some(Value::Array(a)) => a.clone(),
        // The scalar may come as JSON text.
        Some(Value::String(t)) => serde_json::from_str(t).map_err(|e| HttpError::Json {
            url: s.graphql_url.clone(),
            detail: format!("customerCPEwithWirelessServiceSpeeds: {e}"),
        })?,
        _ => Vec::new(),
    };
    let subscribers = paged(&session, "Subs", SUBS, "subscribers")
        .await
        .map_err(fail)?;

    // The backfill: subscribers the bulk list does not cover (cancelled ones are not asked).
    let covered: HashSet<String> = bulk
        .iter()
        .filter_map(|c| text_field(c, "customer_id"))
        .collect();
    let uncovered: Vec<(String, Value)> = subscribers
        .iter()
        .filter_map(|sub| Some((text_field(sub, "customer_id")?, sub.clone())))
        .filter(|(id, sub)| {
            !covered.contains(id) && !map::cancelled(sub.get("status").and_then(Value::as_str))
        })
        .collect();
    let session_ref = &session;
    let answers: Vec<Backfilled> = stream::iter(uncovered)
        .map(|(id, sub)| async move {
            let n = id
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(id.clone()));
            let services = session_ref
                .query("CustomerServices", SERVICES, json!({"customer_id": n}))
                .await
                .map(|v| list(&v, "customerServices"));
            let ips = match &services {
                Ok(svcs) if map::needs_ip_list(svcs, Some(&sub)) => Some(
                    session_ref
                        .query("CustomerIpList", IP_LIST, json!({"customer_id": n}))
                        .await
                        .map(|v| list(&v, "customerIPList")),
                ),
                _ => None,
            };
            (id, services, ips)
        })
        .buffer_unordered(BACKFILL_CONCURRENCY)
        .collect()
        .await;
    let mut f = Fetched {
        bulk,
        subscribers,
        ..Fetched::default()
    };
    let mut notes = Vec::new();
    for (id, services, ips) in answers {
        match services {
            Err(e) if e.is_auth() => return Err(fail(e)),
            other => {
                f.backfill
                    .insert(id.clone(), other.map_err(|e| e.to_string()));
            }
        }
        match ips {
            Some(Err(e)) if e.is_auth() => return Err(fail(e)),
            Some(Err(e)) => notes.push((
                format!("customer {id}"),
                format!("customerIPList failed: {e}"),
            )),
            Some(Ok(list)) => {
                f.ip_lists.insert(id, list);
            }
            None => {}
        }
    }
    if let Some(domain) = &s.online_users_domain {
        let r = session
            .query("Online", ONLINE, json!({"domain": domain}))
            .await
            .map(|v| list(&v, "onlineUsers"));
        f.online = optional(r, "onlineUsers", &mut notes)?;
    }
    let r = session
        .query("EquipmentAssemblies", ASSEMBLIES, json!({"isp_id": isp}))
        .await
        .map(|v| list(&v, "equipmentAssemblies"));
    f.assemblies = optional(r, "IRM topology (equipmentAssemblies)", &mut notes)?;
    if !f.assemblies.is_empty() {
        let r = paged(&session, "EquipmentPg", EQUIPMENT, "equipmentPg").await;
        f.equipment = optional(r, "IRM topology (equipmentPg)", &mut notes)?;
    }
    let mut import = map(s, common, d, f);
    for (record, why) in notes {
        import.note(record, why);
    }
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ip_list_as_object_or_list() {
        assert_eq!(list(&json!({"k": {"a": 1}}), "k").len(), 1);
        assert_eq!(list(&json!({"k": [{"a": 1}, {"a": 2}]}), "k").len(), 2);
        assert!(list(&json!({"k": null}), "k").is_empty());
    }
}
