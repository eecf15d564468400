//! Invented tenants of the three small CRMs: Netzur (zones and customers), WISPGate (rows
//! shaped like ShapedDevices.csv) and Powercode (the Preseem-compatible list calls), each
//! with a suspended or inactive subscriber, one without an IP, an IPv6 prefix, two devices,
//! a duplicate IP, `null` fields and a malformed record.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const NETZUR_KEY: &str = "netzur-key";
pub const WISPGATE_TOKEN: &str = "wispgate-token";
pub const POWERCODE_KEY: &str = "powercode-key";

const NAMES: [&str; 20] = [
    "Ana Pérez",
    "Luis Gómez",
    "María Rodríguez",
    "Carlos Díaz",
    "Sofía Morales",
    "Jorge Castro",
    "Valentina Ruiz",
    "Diego Herrera",
    "Camila Vargas",
    "Mateo Rojas",
    "Isabella Torres",
    "Sebastián Flores",
    "Lucía Romero",
    "Martín Acosta",
    "Elena Medina",
    "Tomás Navarro",
    "Paula Ortiz",
    "Andrés Silva",
    "Julia Castillo",
    "Nicolás Peña",
];

pub fn netzur_routes() -> HashMap<String, Value> {
    let mut customers = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let n = 1001 + i;
        let zone = ["Zona Norte", "Zona Sur"][i % 2];
        let mut c = json!({"subscriber_id": format!("C-{n}"), "customerName": name, "address": format!("Av. {} #{}", i + 1, n),
            "zone": zone, "download": ([25, 50, 100][i % 3]), "upload": ([5, 10, 20][i % 3]),
            "ip": format!("100.64.9.{}", i + 1), "ipv6": "", "mac": format!("AA:BB:CC:00:11:{:02X}", i)});
        match n {
            1003 => c["ipv6"] = json!("2001:db8:9::/56"),
            1005 => c["ip"] = json!(""),
            1006 => c["ip"] = json!(["100.64.9.6", "100.64.9.106"]),
            1008 => c["ip"] = json!("100.64.9.7"),
            1009 => c["customerName"] = Value::Null,
            1010 => c["zone"] = json!("Zona Oeste"),
            1011 => c["zone"] = json!("Laboratorio"),
            1012 => c["download"] = Value::Null,
            _ => {}
        }
        customers.push(c);
    }
    customers.push(json!({"subscriber_id": "", "customerName": "Nobody"}));
    customers.push(json!(42));
    let body = json!({
        "zones": [
            {"id": 17, "name": "Zona Norte", "capacity_download_mbps": 1000, "capacity_upload_mbps": 500},
            {"zone_id": "18", "name": "Zona Sur"},
            {"id": 19, "name": "Zona Norte", "capacity_download_mbps": 5, "capacity_upload_mbps": 5},
            {"id": 20, "name": "Laboratorio"}
        ],
        "customers": customers
    });
    HashMap::from([("/api/libreqos".to_owned(), body)])
}

pub fn netzur_auth(h: &axum::http::HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer netzur-key")
}

pub fn wispgate_rows() -> Value {
    let mut rows = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let n = i + 1;
        let mut r = json!({"Circuit ID": format!("C-{n}"), "Circuit Name": name, "Device ID": format!("D-{n}"),
            "Device Name": format!("{name} Router"), "Parent Node": "AP-North", "MAC": format!("AA:BB:CC:DD:EE:{n:02X}"),
            "IPv4": format!("100.64.30.{n}"), "IPv6": null, "Download Min Mbps": 25, "Upload Min Mbps": 5,
            "Download Max Mbps": 50, "Upload Max Mbps": 10, "Comment": ""});
        match n {
            5 => r["Upload Max Mbps"] = Value::Null,
            6 => {
                r["Download Max Mbps"] = json!("12.5");
                r["Download Min Mbps"] = json!(10);
            }
            8 => r["IPv4"] = json!("100.64.30.7"),
            9 => r["IPv6"] = json!("2001:db8:30::/56"),
            10 => r["Device ID"] = Value::Null,
            _ => {}
        }
        rows.push(r);
    }
    rows.push(json!({"Circuit ID": "C-3", "Circuit Name": "María Rodríguez", "Device ID": "D-3b", "Device Name": "Second AP",
        "IPv4": "100.64.31.3", "Download Max Mbps": 50, "Upload Max Mbps": 10}));
    rows.push(json!({"Circuit ID": "C-4", "Device ID": "D-4b", "Device Name": "No IP", "IPv4": "", "IPv6": null}));
    rows.push(json!({"Circuit ID": null, "IPv4": "100.64.32.1"}));
    rows.push(json!("oops"));
    Value::Array(rows)
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

pub fn wispgate_post() -> crate::testkit::server::PostHandler {
    Arc::new(|path, body| {
        if path != "/api/libreqos/shaped-devices" {
            return Err(404);
        }
        if form_value(body, "api_token") != Some(WISPGATE_TOKEN) {
            return Err(401);
        }
        Ok(wispgate_rows())
    })
}

pub fn powercode_customers() -> Value {
    let mut v = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let id = 1040 + i;
        let mut c = json!({"id": id.to_string(), "status": "Active", "name": name, "company_name": "",
            "equipment": [{"id": format!("{}", 5500 + i), "type": "CPE", "service_id": (["77", "78", "79"][i % 3]),
                           "name": format!("{name} Radio"), "ip_address": format!("100.64.20.{}", i + 1), "mac_address": format!("00:11:22:33:44:{i:02X}")}]});
        match id {
            1041 => c["status"] = json!("Inactive"),
            1042 => c["equipment"][0]["ip_address"] = json!(""),
            1043 => {
                c["equipment"].as_array_mut().expect("array").push(json!({"id": "5600", "type": "Router", "service_id": "80",
                    "name": "Carlos Office Router", "ip_address": "100.64.21.4", "mac_address": "00:11:22:33:55:04"}));
            }
            1044 => {
                c["name"] = json!("");
                c["company_name"] = json!("Morales Hermanos S.A.");
            }
            1046 => c["equipment"][0]["ip_address"] = json!("100.64.20.6"),
            1047 => c["equipment"][0]["type"] = json!("Tower Radio"),
            1048 => c["equipment"][0]["service_id"] = json!("999"),
            1049 => c["equipment"] = Value::Null,
            1050 => c["equipment"][0]["ip_address"] = json!("2001:db8:20::/56"),
            _ => {}
        }
        v.push(c);
    }
    v.push(json!("oops"));
    Value::Array(v)
}

pub fn powercode_post() -> crate::testkit::server::PostHandler {
    Arc::new(|path, body| {
        if path != "/api/preseem/index.php" {
            return Err(404);
        }
        if form_value(body, "apiKey") != Some(POWERCODE_KEY) {
            return Err(401);
        }
        match form_value(body, "action") {
            Some("list_customers") => Ok(powercode_customers()),
            Some("list_services") => Ok(json!([
                {"id": "77", "rate_down": "25000", "rate_up": "5000"},
                {"id": "78", "rate_down": "100000", "rate_up": "20000"},
                {"id": "79", "rate_down": 50000, "rate_up": 10000},
                {"id": "80", "rate_down": "300000", "rate_up": "50000"},
                {"id": "81", "rate_down": null, "rate_up": null}
            ])),
            _ => Err(404),
        }
    })
}

/// Accepts every request (the credentials are in the form body).
pub fn anyone(_: &axum::http::HeaderMap) -> bool {
    true
}
