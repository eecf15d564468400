//! An invented VISP tenant: the token endpoint, and GraphQL answering the bulk wireless
//! services and the subscribers, with a cancelled service, speeds in kbps, a service whose
//! address is only on the subscriber, one with no address anywhere, a duplicate service
//! number, a duplicate IP, `null` fields and a malformed record.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const CLIENT_ID: &str = "visp-client";
pub const TOKEN: &str = "visp-token-123";

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
    v.push(json!("oops"));
    Value::Array(v)
}

pub fn subscribers() -> Value {
    Value::Array(
        USERS
            .iter()
            .enumerate()
            .map(|(i, u)| {
                json!({"customer_id": 5001 + i, "username": u, "first_name": "F", "last_name": u.to_uppercase(), "status": "ACTIVE",
                    "package_ip": if i == 3 { json!("100.70.2.4") } else { Value::Null }, "equipment_ip": null})
            })
            .collect(),
    )
}

pub fn routes() -> HashMap<String, Value> {
    HashMap::from([(
        "/token".to_owned(),
        json!({"token": TOKEN, "payload": {"exp": 1_767_225_600, "ispId": [311]}}),
    )])
}

pub fn post() -> crate::testkit::server::PostHandler {
    Arc::new(|path, body| {
        if path != "/graphql" {
            return Err(404);
        }
        let q: Value = serde_json::from_str(body).map_err(|_| 400u16)?;
        if q["variables"]["isp_id"] != json!(311) {
            return Ok(json!({"errors": [{"message": "isp_id required"}]}));
        }
        match q["operationName"].as_str() {
            Some("Bulk") => Ok(json!({"data": {"customerCPEwithWirelessServiceSpeeds": bulk()}})),
            Some("Subs") => {
                let all = subscribers();
                let offset = q["variables"]["offset"].as_u64().unwrap_or(0) as usize;
                let page: Vec<Value> = all
                    .as_array()
                    .map(|a| a.iter().skip(offset).cloned().collect())
                    .unwrap_or_default();
                Ok(json!({"data": {"subscribers": page, "count": USERS.len()}}))
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
    let graphql = get("authorization") == Some(TOKEN) && get("x-visp-client-id") == Some(CLIENT_ID);
    token_call || graphql
}
