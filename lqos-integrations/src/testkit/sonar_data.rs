//! An invented Sonar tenant behind GraphQL: activating statuses, and 22 accounts served 8
//! per page, with an account without an address, a recurring-service rate, no rate at all,
//! an IPv6 prefix, two radios, a duplicate IP, a bad subnet, `null` fields and a malformed
//! entity; network sites with airMax and LTU APs ([`sites`]) and the SNMP tables those APs
//! answer ([`agents`]): two that answer, one silent, one with nothing listening, one empty.

use serde_json::{json, Value};
use std::sync::Arc;

pub const KEY: &str = "sonar-key";
const PER_PAGE: usize = 8;

fn item(id: u64, model: &str, mac: &str, ip: &str) -> Value {
    json!({"id": id.to_string(), "inventory_model": {"name": model}, "inventory_model_field_data": {"entities": [
        {"value": mac, "ip_assignments": {"entities": []}, "inventory_model_field": {"name": "MAC Address", "primary": true}},
        {"value": "", "ip_assignments": {"entities": [{"subnet": ip}]}, "inventory_model_field": {"name": "IP", "primary": false}}
    ]}, "ip_assignments": {"entities": []}})
}

pub fn accounts() -> Vec<Value> {
    let names = [
        "Jane Roe",
        "Omar Haddad",
        "Lena Fischer",
        "Ravi Kumar",
        "Chloe Martin",
        "Kwame Asante",
        "Ines Lopez",
        "Yuki Sato",
        "Noah Schmidt",
        "Amara Okoye",
        "Liam Byrne",
        "Sara Nilsson",
        "Tariq Aziz",
        "Eva Novak",
        "Hugo Blanc",
        "Mia Rossi",
        "Arjun Rao",
        "Zoe Clark",
        "Felix Wagner",
        "Nia Johnson",
    ];
    let mut v = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = 4400 + i as u64;
        let mut items = vec![item(
            9000 + i as u64,
            "LiteBeam 5AC",
            &format!("24:5A:4C:AA:BB:{i:02X}"),
            &format!("100.64.12.{}/32", i + 1),
        )];
        let mut own: Vec<Value> = Vec::new();
        match id {
            4403 => own.push(json!({"subnet": "2001:db8:12::/56"})),
            4404 => items.push(item(
                9100,
                "UniFi Router",
                "24:5A:4C:CC:00:04",
                "100.64.13.4/32",
            )),
            4408 => items[0] = item(9008, "LiteBeam 5AC", "24:5A:4C:AA:BB:08", "100.64.12.8/32"),
            4409 => own.push(json!({"subnet": "garbage"})),
            // Typed by hand in Sonar: lower case with dashes (the SNMP side is bytes).
            4401 => items[0] = item(9001, "LiteBeam 5AC", "24-5a-4c-aa-bb-01", "100.64.12.2/32"),
            _ => {}
        }
        let data = if id == 4405 || id == 4406 {
            json!([])
        } else {
            json!([{"service": {"data_service_detail": {"download_speed_kilobits_per_second": 50000 + 25000 * (i % 3) as u64, "upload_speed_kilobits_per_second": 10000}}}])
        };
        let recurring = if id == 4405 {
            json!([{"service": {"name": "Fiber 100", "type": "RECURRING", "enabled": true}}])
        } else {
            json!([])
        };
        let addresses = if id == 4402 {
            json!([])
        } else {
            json!([{"line1": format!("{} Elm St", i + 1), "line2": null, "city": "Tulsa", "subdivision": "US_OK", "inventory_items": {"entities": items}}])
        };
        v.push(json!({"id": id.to_string(), "name": name, "account_status_id": 1, "ip_assignments": {"entities": own},
            "account_services": {"entities": data}, "all_account_services": {"entities": recurring},
            "addresses": {"entities": addresses}}));
    }
    v.push(json!("oops"));
    v.push(json!({"id": null, "name": "No id"}));
    v
}

/// Sonar inventory model ids of the airMax and the LTU APs.
pub const AIRMAX_MODEL: &str = "12";
pub const LTU_MODEL: &str = "15";
pub const COMMUNITY: &str = "sonar-ro";

fn ap(id: u64, model: u64, own_ip: Option<&str>, field_ip: Option<&str>) -> Value {
    let subnets = |ip: Option<&str>| json!({"entities": ip.map(|i| vec![json!({"subnet": i})]).unwrap_or_default()});
    json!({"id": id.to_string(), "inventory_model_id": model, "ip_assignments": subnets(own_ip),
        "inventory_model_field_data": {"entities": [{"ip_assignments": subnets(field_ip)}]}})
}

/// `network_sites` with their AP inventory items.
pub fn sites() -> Vec<Value> {
    let site = |id: u64, name: &str, items: Vec<Value>| json!({"id": id, "name": name, "inventory_items": {"entities": items}});
    vec![
        site(
            31,
            "Tulsa North",
            vec![
                ap(9500, 12, Some("127.0.0.2/32"), None),
                ap(9501, 12, None, Some("127.0.0.3/32")),
            ],
        ),
        site(
            32,
            "Tulsa South",
            vec![
                ap(9502, 15, Some("127.0.0.4/32"), None),
                ap(9503, 12, None, None),
            ],
        ),
        site(
            33,
            "Empty Hill",
            vec![ap(9504, 12, Some("127.0.0.5/32"), None)],
        ),
        site(
            34,
            "Quiet Ridge",
            vec![ap(9505, 12, Some("127.0.0.6/32"), None)],
        ),
        json!({"id": null}),
    ]
}

fn mac(last: u8, mid: [u8; 2]) -> Vec<u8> {
    vec![0x24, 0x5A, 0x4C, mid[0], mid[1], last]
}

/// The SNMP agents of the APs (127.0.0.5 has none: nothing listens there).
pub fn agents() -> Vec<(std::net::Ipv4Addr, crate::testkit::snmp_agent::Table)> {
    use crate::sonar::aps::{AIRMAX_OID, LTU_OID, SYS_NAME};
    use std::collections::BTreeMap;
    let table = |root: &[u64], name: &str, macs: Vec<Vec<u8>>| {
        let mut t: BTreeMap<Vec<u64>, Vec<u8>> = BTreeMap::new();
        for m in macs {
            let mut k = root.to_vec();
            k.extend(m.iter().map(|b| u64::from(*b)));
            t.insert(k, m);
        }
        // Past the station table: must not be read as stations.
        let mut after = root.to_vec();
        after[root.len() - 1] += 1;
        t.insert(after, mac(0x99, [0xAA, 0xBB]));
        t.insert(SYS_NAME.to_vec(), name.as_bytes().to_vec());
        Some(t)
    };
    vec![
        (
            [127, 0, 0, 2].into(),
            table(
                &AIRMAX_OID,
                "TN-Sector-1",
                vec![
                    mac(0x00, [0xAA, 0xBB]),
                    mac(0x01, [0xAA, 0xBB]),
                    mac(0x03, [0xAA, 0xBB]),
                    mac(0x77, [0x00, 0x00]),
                ],
            ),
        ),
        ([127, 0, 0, 3].into(), None),
        (
            [127, 0, 0, 4].into(),
            table(
                &LTU_OID,
                "TS-LTU-Rocket",
                vec![
                    mac(0x0A, [0xAA, 0xBB]),
                    mac(0x0B, [0xAA, 0xBB]),
                    mac(0x04, [0xCC, 0x00]),
                ],
            ),
        ),
        (
            [127, 0, 0, 6].into(),
            table(&AIRMAX_OID, "QR-Sector", Vec::new()),
        ),
    ]
}

pub fn post() -> crate::testkit::server::PostHandler {
    Arc::new(|path, body| {
        if path != "/api/graphql" {
            return Err(404);
        }
        let q: Value = serde_json::from_str(body).map_err(|_| 400u16)?;
        let query = q["query"].as_str().unwrap_or("");
        if query.contains("network_sites") {
            let models: Vec<i64> = q["variables"]["ap_models"]["integer_fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f["search_value"].as_i64())
                        .collect()
                })
                .unwrap_or_default();
            if models != [12, 15]
                || q["variables"]["rr_ap_models"]["relation"] != json!("inventory_items")
            {
                return Ok(
                    json!({"errors": [{"message": format!("unexpected model search {models:?}")}]}),
                );
            }
            let page = q["variables"]["pages"]["page"].as_u64().unwrap_or(1) as usize;
            let all = sites();
            let list: Vec<Value> = all.into_iter().skip((page - 1) * 3).take(3).collect();
            return Ok(
                json!({"data": {"network_sites": {"page_info": {"page": page, "total_pages": 2}, "entities": list}}}),
            );
        }
        if query.contains("account_statuses") {
            return Ok(
                json!({"data": {"account_statuses": {"entities": [{"id": "1"}, {"id": 5}]}}}),
            );
        }
        let wanted: Vec<i64> = q["variables"]["search"][0]["integer_fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["search_value"].as_i64())
                    .collect()
            })
            .unwrap_or_default();
        if wanted != [1, 5] {
            return Ok(
                json!({"errors": [{"message": format!("unexpected status search {wanted:?}")}]}),
            );
        }
        let page = q["variables"]["pages"]["page"].as_u64().unwrap_or(1) as usize;
        let all = accounts();
        let total = all.len().div_ceil(PER_PAGE);
        let list: Vec<Value> = all
            .into_iter()
            .skip((page - 1) * PER_PAGE)
            .take(PER_PAGE)
            .collect();
        Ok(
            json!({"data": {"accounts": {"page_info": {"page": page, "total_pages": total}, "entities": list}}}),
        )
    })
}

pub fn auth(h: &axum::http::HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer sonar-key")
}
