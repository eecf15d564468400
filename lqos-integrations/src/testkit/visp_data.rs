//! An invented VISP tenant: the token endpoint, and GraphQL answering the bulk wireless
//! services and the subscribers, with a cancelled service, speeds in kbps, a service whose
//! address is only on the subscriber, one with no address anywhere, a duplicate service
//! number, a duplicate IP, `null` fields and a malformed record; subscribers missing from
//! the bulk list (the backfill: [`customer_services`]); `onlineUsers`; and the IRM equipment
//! ([`assemblies`], [`equipment`]) with a loop, an unknown parent and a router to outscore.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const CLIENT_ID: &str = "visp-client";
pub const TOKEN: &str = "visp-token-123";
/// The token the endpoint hands out after a rotation (tests queue and revoke tokens).
pub const TOKEN2: &str = "visp-token-456";

/// The token endpoint's answer carrying `token`.
pub fn token_answer(token: &str) -> Value {
    json!({"token": token, "payload": {"exp": 1_767_225_600, "ispId": [311]}})
}

/// Subscribers the bulk list lacks (customer ids 5021...).
const BACKFILL_USERS: [&str; 8] = [
    "tnguyen", "uperez", "vsingh", "wchen", "xkhan", "yali", "zmoreau", "gone",
];

const USERS: [&str; 20] = [
    "jdoe",
    "asmith",
    "bwong",
    "cgarcia",
    "dlee",
    "ekim",
    "fmuller",
    "gbrown",
    "hjones",
    "imartin",
    "jwilson",
    "kmoore",
    "ltaylor",
    "manderson",
    "nthomas",
    "ojackson",
    "pwhite",
    "qharris",
    "rclark",
    "slewis",
];

pub fn bulk() -> Value {
    let mut v = Vec::new();
    for (i, u) in USERS.iter().enumerate() {
        let cid = 5001 + i;
        let mut svc = json!({"service_number": format!("88{:03}", i), "package_status": "ACTIVE", "status": "ACTIVE",
            "down_speed": ([25, 50, 100][i % 3]), "down_speed_unit": "mbps", "up_speed": ([5, 10, 20][i % 3]), "up_speed_unit": "Mbps",
            "ip_address": format!("100.70.1.{}", i + 1), "mac_address": format!("02:00:00:00:00:{i:02x}")});
        match i {
            1 => svc["package_status"] = json!("CANCELLED"),
            2 => {
                svc["down_speed"] = json!(75000);
                svc["down_speed_unit"] = json!("kbps");
                svc["up_speed"] = json!("15000");
                svc["up_speed_unit"] = json!("kbps");
            }
            3 => svc["ip_address"] = Value::Null,
            4 => svc["ip_address"] = json!(""),
            5 => svc["service_number"] = json!("88000"),
            6 => svc["ip_address"] = json!("100.70.1.1"),
            7 => svc["down_speed"] = Value::Null,
            8 => svc["status"] = json!("INACTIVE"),
            _ => {}
        }
        v.push(json!({"customer_id": cid, "username": u,
            "equipment": [{"equipment_id": 1200 + i, "mac_address": null, "radio_mac": null, "ip_address": if i == 4 { Value::Null } else { json!(format!("10.70.0.{}", i + 1)) }}],
            "wireless_services": [svc]}));
    }
    // Subscriber 5004 (i = 3) has its address only on the subscriber record; 5005 (i = 4)
    // nowhere: drop its equipment address too.
    v[4]["equipment"] = json!([]);
    v[3]["equipment"] = json!([]);
    // imartin (i = 9): a router listed first, then the radio (the radio's row must win).
    v[9]["equipment"] = json!([{"equipment_id": 1309, "mac_address": null, "ip_address": null},
        {"equipment_id": 1209, "mac_address": "02:00:00:00:00:09", "ip_address": "10.70.0.10"}]);
    v.push(json!("oops"));
    Value::Array(v)
}

pub fn subscribers() -> Value {
    Value::Array(
        USERS
            .iter()
            .chain(BACKFILL_USERS.iter())
            .enumerate()
            .map(|(i, u)| {
                let package_ip = match i {
                    3 => json!("100.70.2.4"),
                    21 => json!("100.70.3.2"),
                    _ => Value::Null,
                };
                let status = if *u == "gone" { "CANCELLED" } else { "ACTIVE" };
                json!({"customer_id": 5001 + i, "username": u, "first_name": "F", "last_name": u.to_uppercase(), "status": status,
                    "package_ip": package_ip, "equipment_ip": null})
            })
            .collect(),
    )
}

fn wifi(number: &str, user: &str, ip: Value) -> Value {
    json!({"id": format!("svc-{number}"), "service_id": 12, "service_name": "Wireless 40", "service_type": "Wifi", "status": "ACTIVE",
        "service_details": {"__typename": "ServiceTypeWifi", "service_number": number, "down_speed": 40, "down_speed_unit": "mbps",
            "up_speed": 8000, "up_speed_unit": "kbps", "ip_address": ip, "mac_address": format!("02:00:00:00:01:{}", &number[3..]), "username": user}})
}

fn voip(number: &str) -> Value {
    json!({"id": format!("svc-{number}"), "service_type": "Voip", "status": "ACTIVE",
        "service_details": {"__typename": "ServiceTypeVoip", "service_number": number}})
}

/// `customerServices` of a backfilled customer, or a GraphQL error message.
pub fn customer_services(customer: u64) -> Result<Value, String> {
    Ok(match customer {
        // A WiFi service with its address, and a VoIP line (not shaped).
        5021 => json!([wifi("77021", "tnguyen", json!("100.70.3.1")), voip("77121")]),
        // The address only on the subscriber record.
        5022 => json!([wifi("77022", "uperez", Value::Null)]),
        // The address only in customerIPList.
        5023 => json!([wifi("77023", "vsingh", json!(""))]),
        5024 => json!([voip("77024")]),
        5025 => return Err("customer 5025: internal resolver error".into()),
        5026 => {
            json!([{"id": "svc-77026", "service_type": "Wifi", "status": "ACTIVE", "service_details": "oops"}])
        }
        // No address but the one onlineUsers knows.
        5027 => json!([wifi("77027", "zmoreau", Value::Null)]),
        other => return Err(format!("customer {other} must not be asked")),
    })
}

/// `onlineUsers`: zmoreau's session, one for a user who has an address already, one bad.
pub fn online_users() -> Value {
    json!([{"username": "zmoreau", "ip": "100.70.4.27"}, {"username": "jdoe", "ip": "100.70.9.9"},
        {"username": "asmith", "ip": "not-an-ip"}])
}

/// The CPE rows of `equipmentAssemblies`.
pub fn assemblies() -> Value {
    let row = |id: &str, parent: Value, loc: &str, desc: &str, data: Value| {
        json!({"id": id, "parent_id": parent, "description": desc, "location_name": loc, "item_id": 44,
            "parent_site_id": null, "equipment_data": data, "parent_data": null})
    };
    json!([
        row("1200", json!(310), "jdoe", "LiteBeam 5AC", json!({})),
        row("1202", json!("311"), "bwong", "LiteBeam 5AC", json!({})),
        // cgarcia has no equipment in the bulk list: found by location name.
        row("7003", json!(410), "cgarcia", "PowerBeam", json!({})),
        // imartin: the router (listed first in the bulk list) loses to the radio.
        row(
            "1309",
            json!(311),
            "imartin",
            "Customer router",
            json!({"Router Mode": true})
        ),
        row(
            "1209",
            json!(410),
            "imartin",
            "LiteBeam 5AC",
            json!("{\"Fiber MAC\": \"\", \"VLAN\": \"120\"}")
        ),
        row("1210", json!(500), "jwilson", "LiteBeam 5AC", json!({})),
        row("1211", json!(600), "kmoore", "LiteBeam 5AC", json!({})),
        row("1212", json!(88888), "ltaylor", "LiteBeam 5AC", json!({})),
        row("1213", Value::Null, "manderson", "LiteBeam 5AC", json!({})),
        // nthomas: two rows by location; the MAC decides.
        row(
            "7014",
            json!(311),
            "nthomas",
            "Radio",
            json!({"MAC": "02-00-00-00-00-0E"})
        ),
        row("7015", json!(410), "nthomas", "Radio", json!({})),
        row("7021", json!(310), "TNGUYEN", "LiteBeam 5AC", json!({})),
        json!("oops"),
    ])
}

/// The `equipmentPg` tree: two sites, a loop, an AP whose parent is unknown.
pub fn equipment() -> Value {
    let eq = |id: u64, parent: Value, name: &str, desc: Value, loc: u64, loc_name: &str| {
        json!({"id": id, "parent_id": parent, "name": name, "description": desc, "type": "AP", "default_type": "AP",
            "location_id": loc, "location_name": loc_name, "parent_site_id": null, "item_id": 9, "child_count": 1,
            "equipment_data": null, "parent_data": null})
    };
    json!([
        eq(
            300,
            Value::Null,
            "NR Core Router",
            Value::Null,
            71,
            "North Ridge"
        ),
        eq(
            310,
            json!(300),
            "ap-310",
            json!("NR Sector A"),
            71,
            "North Ridge"
        ),
        eq(
            311,
            json!(300),
            "ap-311",
            json!("NR Sector B"),
            71,
            "North Ridge"
        ),
        eq(400, Value::Null, "MC Switch", Value::Null, 72, "Mill Creek"),
        eq(
            410,
            json!(400),
            "ap-410",
            json!("MC AP 1"),
            72,
            "Mill Creek"
        ),
        eq(500, json!(501), "Loop A", Value::Null, 74, "Nowhere"),
        eq(501, json!(500), "Loop B", Value::Null, 74, "Nowhere"),
        eq(600, json!(99999), "Orphan AP", Value::Null, 73, "Lone Pine"),
        json!("oops"),
    ])
}

pub fn routes() -> HashMap<String, Value> {
    HashMap::from([("/token".to_owned(), token_answer(TOKEN))])
}

/// GraphQL of the tenant, with IRM data.
pub fn post() -> crate::testkit::server::PostHandler {
    post_with(true)
}

/// GraphQL of the tenant; `irm = false`: a tenant without IRM (the equipment queries fail).
pub fn post_with(irm: bool) -> crate::testkit::server::PostHandler {
    Arc::new(move |path, body| {
        if path != "/graphql" {
            return Err(404);
        }
        let q: Value = serde_json::from_str(body).map_err(|_| 400u16)?;
        let customer = q["variables"]["customer_id"].as_u64();
        let no_irm = || Ok(json!({"errors": [{"message": "IRM is not enabled for this ISP"}]}));
        match q["operationName"].as_str() {
            Some("CustomerServices") => {
                return Ok(match customer_services(customer.unwrap_or(0)) {
                    Ok(list) => json!({"data": {"customerServices": list}}),
                    Err(m) => json!({"errors": [{"message": m}]}),
                })
            }
            Some("CustomerIpList") => {
                let list = match customer {
                    Some(5023) => json!({"package_ip": "100.70.3.3", "equipment_ip": null}),
                    _ => json!([]),
                };
                return Ok(json!({"data": {"customerIPList": list}}));
            }
            Some("Online") if q["variables"]["domain"] == json!("pppoe.example.net") => {
                return Ok(json!({"data": {"onlineUsers": online_users()}}))
            }
            Some("EquipmentAssemblies") if !irm => return no_irm(),
            Some("EquipmentPg") if !irm => return no_irm(),
            _ => {}
        }
        if q["variables"]["isp_id"] != json!(311) {
            return Ok(json!({"errors": [{"message": "isp_id required"}]}));
        }
        match q["operationName"].as_str() {
            Some("EquipmentAssemblies") => {
                Ok(json!({"data": {"equipmentAssemblies": assemblies()}}))
            }
            Some("EquipmentPg") => {
                let offset = q["variables"]["offset"].as_u64().unwrap_or(0) as usize;
                let page: Vec<Value> = equipment()
                    .as_array()
                    .map(|a| a.iter().skip(offset).cloned().collect())
                    .unwrap_or_default();
                Ok(json!({"data": {"equipmentPg": page}}))
            }
            Some("Bulk") => Ok(json!({"data": {"customerCPEwithWirelessServiceSpeeds": bulk()}})),
            Some("Subs") => {
                let all = subscribers();
                let offset = q["variables"]["offset"].as_u64().unwrap_or(0) as usize;
                let page: Vec<Value> = all
                    .as_array()
                    .map(|a| a.iter().skip(offset).cloned().collect())
                    .unwrap_or_default();
                Ok(
                    json!({"data": {"subscribers": page, "count": USERS.len() + BACKFILL_USERS.len()}}),
                )
            }
            _ => Err(404),
        }
    })
}

/// The token call carries the client id and user; GraphQL the raw token.
pub fn auth(h: &axum::http::HeaderMap) -> bool {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    let token_call =
        get("x-visp-client-id") == Some(CLIENT_ID) && get("x-visp-password") == Some("pw");
    let graphql = matches!(get("authorization"), Some(TOKEN | TOKEN2))
        && get("x-visp-client-id") == Some(CLIENT_ID);
    token_call || graphql
}
