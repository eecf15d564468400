//! Sonar: `[sonar_integration]`. GraphQL (`<url>/api/graphql`, Bearer key), paged accounts
//! of the active statuses; one circuit per account with a DATA service (else a configured
//! RECURRING service rate), its devices from the inventory at its addresses and the account's
//! own IP assignments. Unless `flat`, the APs of the configured airMax/LTU models are
//! SNMP-walked and each account goes under the AP its radio is associated with ([`aps`]).

pub mod aps;

use crate::graphql;
use crate::http::Http;
use crate::model::{client_rate, parse_ip, CircuitRec, DeviceRec, Import};
use crate::sources::{Defaults, SourceError};
use ipnet::IpNet;
use lqos_config::integrations::{IntegrationCommon, Sonar, Strategy};
use serde_json::{json, Value};

pub const NAME: &str = "sonar";
/// Sonar's lowest rate, as LibreQoS (Mbps).
const MIN_MBPS: f64 = 2.0;
const PER_PAGE: u64 = 100;

pub const STATUSES: &str =
    "query { account_statuses(activates_account: true) { entities { id } } }";
pub const ACCOUNTS: &str = "query Accounts($pages: Paginator, $search: [Search]) { accounts(paginator: $pages, search: $search) { page_info { page total_pages } entities { id name account_status_id ip_assignments { entities { subnet } } account_services(reverse_relation_filters: [{relation: \"service\", search: [{string_fields: [{attribute: \"type\", match: true, search_value: \"DATA\"}]}]}]) { entities { service { data_service_detail { download_speed_kilobits_per_second upload_speed_kilobits_per_second } } } } all_account_services: account_services { entities { service { name type enabled } } } addresses { entities { line1 line2 city subdivision inventory_items { entities { id inventory_model { name } inventory_model_field_data { entities { value ip_assignments { entities { subnet } } inventory_model_field { name primary } } } ip_assignments { entities { subnet } } } } } } } } }";

pub(crate) fn entities(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(|x| x.get("entities"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    crate::model::text_field(v, key).filter(|s| !s.trim().is_empty())
}

fn subnets(v: &Value, import: &mut Import, record: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    for a in entities(v, "ip_assignments") {
        let Some(s) = text(&a, "subnet") else {
            continue;
        };
        match parse_ip(&s) {
            Ok(n) => out.push(n),
            Err(e) => import.note(record, format!("address ignored: {e}")),
        }
    }
    out
}

/// (download, upload) Mbps: the first DATA service, else a configured RECURRING service.
fn rate(s: &Sonar, account: &Value) -> Option<(f64, f64)> {
    for svc in entities(account, "account_services") {
        let d = &svc["service"]["data_service_detail"];
        let (Some(down), Some(up)) = (
            d["download_speed_kilobits_per_second"].as_f64(),
            d["upload_speed_kilobits_per_second"].as_f64(),
        ) else {
            continue;
        };
        if down > 0.0 && up > 0.0 {
            return Some((down / 1000.0, up / 1000.0));
        }
    }
    let excluded = |n: &str| {
        s.recurring_excluded_service_names
            .iter()
            .any(|x| x.eq_ignore_ascii_case(n))
    };
    entities(account, "all_account_services")
        .iter()
        .find_map(|svc| {
            let sv = &svc["service"];
            let name = text(sv, "name")?;
            if sv["type"].as_str() != Some("RECURRING")
                || sv["enabled"] == json!(false)
                || excluded(&name)
            {
                return None;
            }
            let r = s
                .recurring_service_rates
                .iter()
                .find(|r| r.service_name.eq_ignore_ascii_case(&name))?;
            Some((r.download_mbps, r.upload_mbps))
        })
}

/// Maps the accounts and places them under the APs that were walked (pure).
pub fn map(
    s: &Sonar,
    common: &IntegrationCommon,
    d: Defaults,
    accounts: Vec<Value>,
    seen: &[aps::Seen],
) -> Import {
    let mut import = Import::new(NAME);
    for (i, a) in accounts.iter().enumerate() {
        let Some(id) = text(a, "id") else {
            import.skip(format!("account[{i}]"), "malformed record: no id");
            continue;
        };
        let record = format!("account {id}");
        let addresses = entities(a, "addresses");
        if addresses.is_empty() {
            import.skip(&record, "no address");
            continue;
        }
        let Some((down, up)) = rate(s, a) else {
            import.skip(
                &record,
                "no DATA service and no recurring_service_rates match",
            );
            continue;
        };
        let mut devices = Vec::new();
        let mut seen: Vec<IpNet> = Vec::new();
        for addr in &addresses {
            for item in entities(addr, "inventory_items") {
                let Some(item_id) = text(&item, "id") else {
                    continue;
                };
                let mut ips = subnets(&item, &mut import, &record);
                let mut mac = String::new();
                for f in entities(&item, "inventory_model_field_data") {
                    ips.extend(subnets(&f, &mut import, &record));
                    let field = &f["inventory_model_field"];
                    let is_mac = field["name"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().contains("mac"));
                    if is_mac && (mac.is_empty() || field["primary"] == json!(true)) {
                        mac = text(&f, "value").unwrap_or_default();
                    }
                }
                ips.retain(|n| !seen.contains(n));
                seen.extend(ips.iter().copied());
                if !ips.is_empty() {
                    devices.push(DeviceRec {
                        id: format!("sonar:device:{item_id}"),
                        name: item["inventory_model"]["name"]
                            .as_str()
                            .unwrap_or("device")
                            .to_owned(),
                        mac,
                        ips,
                    });
                }
            }
        }
        let mut own = subnets(a, &mut import, &record);
        own.retain(|n| !seen.contains(n));
        if !own.is_empty() {
            devices.push(DeviceRec {
                id: format!("sonar:account-ip-assignments:{id}"),
                name: "Account IP Assignments".into(),
                mac: String::new(),
                ips: own,
            });
        }
        if devices.is_empty() {
            import.skip(&record, "no device with an IP address");
            continue;
        }
        let r = |x: f64| {
            client_rate(
                x,
                s.shared.bandwidth_overhead_factor,
                common.client_bandwidth_multiplier,
            )
            .max(MIN_MBPS)
        };
        let (down, up) = (r(down), r(up));
        let first = &addresses[0];
        let state = text(first, "subdivision").map(|x| {
            x.chars()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        });
        let address = [
            text(first, "line1"),
            text(first, "line2"),
            text(first, "city"),
            state,
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let name = text(a, "name").unwrap_or_else(|| id.clone());
        import.circuits.push(CircuitRec {
            id: format!("sonar:account:{id}"),
            name: if common.circuit_name_as_address && !address.is_empty() {
                address
            } else {
                name
            },
            parent_id: None,
            devices,
            ..CircuitRec::client_rates(down, up)
        });
    }
    aps::place(&mut import, d, seen);
    import
}

/// `<url>/api/graphql` (kept when the URL already ends so).
pub fn endpoint(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    if u.ends_with("/api/graphql") {
        u.to_owned()
    } else {
        format!("{u}/api/graphql")
    }
}

pub async fn import(
    s: &Sonar,
    common: &IntegrationCommon,
    d: Defaults,
    http: &Http,
) -> Result<Import, SourceError> {
    let url = endpoint(&s.api_url);
    let auth = format!("Bearer {}", s.api_key);
    let headers = [("authorization", auth.as_str())];
    let mut statuses = s.active_status_ids.clone();
    if statuses.is_empty() {
        let d = graphql::query(http, &url, &headers, None, STATUSES, json!({})).await?;
        statuses = entities(&d, "account_statuses")
            .iter()
            .filter_map(|e| text(e, "id"))
            .collect();
    }
    let search = json!([{"integer_fields": statuses.iter().map(|id| json!({"attribute": "account_status_id", "operator": "EQ", "search_value": id.parse::<i64>().unwrap_or(0)})).collect::<Vec<_>>()}]);
    let mut accounts = Vec::new();
    let mut page = 1u64;
    loop {
        let vars = json!({"pages": {"records_per_page": PER_PAGE, "page": page}, "search": search});
        let d = graphql::query(http, &url, &headers, Some("Accounts"), ACCOUNTS, vars).await?;
        let list = &d["accounts"];
        accounts.extend(list["entities"].as_array().cloned().unwrap_or_default());
        let total = list["page_info"]["total_pages"].as_u64().unwrap_or(1);
        if page >= total || page >= 10_000 {
            break;
        }
        page += 1;
    }
    if s.strategy == Strategy::Flat {
        return Ok(map(s, common, d, accounts, &[]));
    }
    if s.airmax_model_ids.is_empty() && s.ltu_model_ids.is_empty() {
        let mut import = map(s, common, d, accounts, &[]);
        import.note(
            "strategy",
            "no airmax_model_ids or ltu_model_ids: no AP to walk, imported flat",
        );
        return Ok(import);
    }
    let search = aps::model_search(s);
    let rr = json!({"relation": "inventory_items", "search": [search]});
    let mut sites = Vec::new();
    let mut page = 1u64;
    loop {
        let vars = json!({"pages": {"records_per_page": PER_PAGE, "page": page}, "rr_ap_models": rr, "ap_models": search});
        let answer = graphql::query(http, &url, &headers, Some("Sites"), aps::SITES, vars).await?;
        let list = &answer["network_sites"];
        sites.extend(list["entities"].as_array().cloned().unwrap_or_default());
        let total = list["page_info"]["total_pages"].as_u64().unwrap_or(1);
        if page >= total || page >= 10_000 {
            break;
        }
        page += 1;
    }
    let mut found_issues = Import::new(NAME);
    let found = aps::aps_of_sites(s, &sites, &mut found_issues);
    let seen = aps::walk_all(s, found, aps::BUDGET).await;
    let mut import = map(s, common, d, accounts, &seen);
    import.issues.splice(0..0, found_issues.issues);
    Ok(import)
}
