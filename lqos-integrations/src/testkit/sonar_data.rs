//! An invented Sonar tenant behind GraphQL: activating statuses, and 22 accounts served 8
//! per page, with an account without an address, a recurring-service rate, no rate at all,
//! an IPv6 prefix, two radios, a duplicate IP, a bad subnet, `null` fields and a malformed
//! entity.

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

pub fn post() -> crate::testkit::server::PostHandler {
    Arc::new(|path, body| {
        if path != "/api/graphql" {
            return Err(404);
        }
        let q: Value = serde_json::from_str(body).map_err(|_| 400u16)?;
        let query = q["query"].as_str().unwrap_or("");
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
