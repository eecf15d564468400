//! An invented Splynx tenant: network sites, a monitoring tree (routers, a PtP, APs flagged
//! the modern and the legacy way, a switch that services name as their access device), a
//! BRAS router with sectors, five tariffs (one with a fixed burst, one with speeds as text,
//! one without speeds) and 24 services with the awkward cases: routed and delegated prefixes,
//! a PPPoE service known only online, no IP, two services of one customer, a duplicate IP,
//! unknown and speedless tariffs, `null` fields, a malformed record, a disabled service.

use serde_json::{json, Value};

pub const KEY: &str = "splynx-key";
pub const SECRET: &str = "splynx-secret";
pub const SERVICES: &str =
    "/api/2.0/admin/customers/customer/0/internet-services?main_attributes%5Bstatus%5D=active";

const NAMES: [&str; 20] = [
    "Thabo Nkosi",
    "Lerato Dlamini",
    "Pieter van Wyk",
    "Ayesha Patel",
    "Sipho Mokoena",
    "Anna Botha",
    "Kagiso Molefe",
    "Fatima Essop",
    "Johan Pretorius",
    "Nomsa Zulu",
    "Riaan Steyn",
    "Zanele Khumalo",
    "Charles Massey",
    "Priya Naidoo",
    "Bongani Sithole",
    "Elise du Plessis",
    "Mandla Ndlovu",
    "Grace Mahlangu",
    "Willem Joubert",
    "Naledi Mthembu",
];

fn service(id: u64, customer: u64, tariff: u64, ipv4: &str, access: Value, router: Value) -> Value {
    json!({"id": id, "customer_id": customer, "tariff_id": tariff, "status": "active", "ipv4": ipv4,
           "ipv4_route": "", "ipv6": "", "ipv6_delegated": "", "mac": format!("2C:C8:1B:00:00:{id:02X}"),
           "router_id": router, "access_device": access})
}

pub fn services() -> Value {
    let aps = [json!(244), json!(245), json!(301), json!(305)];
    let mut v = Vec::new();
    for i in 0..24u64 {
        let id = 90 + i;
        let customer = 29501 + (i % 20);
        let tariff = 32 + (i % 4);
        let mut s = service(
            id,
            customer,
            tariff,
            &format!("100.64.7.{}", 10 + i),
            aps[(i % 4) as usize].clone(),
            json!(0),
        );
        match id {
            93 => {
                s["ipv4"] = json!("100.64.7.20");
                s["ipv4_route"] = json!("203.0.113.8/29");
                s["ipv6_delegated"] = json!("2001:db8:40::/56");
                s["mac"] = json!("2CC81BBDC9AB");
            }
            95 => s["ipv4"] = json!(""),
            96 => {
                s["ipv4"] = json!("");
                s["ipv6"] = Value::Null;
            }
            97 | 98 => s["customer_id"] = json!(29550),
            99 => s["ipv4"] = json!("100.64.7.10"),
            100 => s["tariff_id"] = json!(36),
            101 => s["tariff_id"] = json!(999),
            102 => {
                s["mac"] = Value::Null;
                s["ipv4_route"] = Value::Null;
            }
            104 => {
                s["access_device"] = json!(0);
                s["router_id"] = json!(4);
            }
            105 => s["access_device"] = json!("302"),
            106 => s["access_device"] = json!(999),
            107 => s["status"] = json!("disabled"),
            _ => {}
        }
        v.push(s);
    }
    v.insert(5, json!("oops"));
    Value::Array(v)
}

pub fn routes() -> std::collections::HashMap<String, Value> {
    let mut customers: Vec<Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": 29501 + i, "name": n, "street_1": format!("{} Jacaranda St", i + 1)}))
        .collect();
    customers.push(json!({"id": "29550", "name": "Highveld Farms (Pty) Ltd", "street_1": null}));
    [
        ("/api/2.0/admin/tariffs/internet", json!([
            {"id": 32, "title": "Home 25", "speed_download": 25000, "speed_upload": 5000},
            {"id": 33, "title": "Home 50", "speed_download": 50000, "speed_upload": 10000, "burst_limit_fixed_down": 0, "burst_limit_fixed_up": null},
            {"id": 34, "title": "Home 100", "speed_download": 100000, "speed_upload": 20000, "burst_limit_fixed_down": 110000, "burst_limit_fixed_up": 22000},
            {"id": "35", "title": "Business 300", "speed_download": "300000", "speed_upload": "30000"},
            {"id": 36, "title": "Legacy", "speed_download": null, "speed_upload": null}
        ])),
        ("/api/2.0/admin/customers/customer", Value::Array(customers)),
        ("/api/2.0/admin/customers/customers-online", json!([
            {"service_id": 95, "ipv4": "100.65.0.95", "ipv6": ""},
            {"service_id": 93, "ipv4": "100.64.7.20", "ipv6": "2001:db8:40::1"}
        ])),
        (SERVICES, services()),
        ("/api/2.0/admin/networking/routers", json!([{"id": 4, "ip": "10.0.0.4", "title": "Hilltop BRAS"}])),
        ("/api/2.0/admin/networking/routers-sectors", json!([{"id": 245, "router_id": 4}, {"id": 244, "router_id": 4}])),
        ("/api/2.0/admin/networking/monitoring", json!([
            {"id": 10, "title": "Core Router", "parent_id": 0, "access_device": 0, "network_site_id": 3},
            {"id": 12, "title": "Hilltop  Router", "parent_id": 10, "access_device": "0", "network_site_id": 3},
            {"id": 244, "title": "Hilltop AP1", "parent_id": 12, "access_device": 1, "network_site_id": 3, "gps": "-26.2,28.0"},
            {"id": 245, "title": "Hilltop AP2", "parent_id": 12, "access_device": 1, "network_site_id": 3},
            {"id": 300, "title": "Riverside PtP", "parent_id": 10, "access_device": 0, "network_site_id": 4},
            {"id": 301, "title": "Riverside AP", "parent_id": 300, "type": 5, "network_site_id": 4},
            {"id": 302, "title": "Riverside Switch", "parent_id": 300, "access_device": 0, "network_site_id": 4},
            {"id": 305, "name": "Ridge AP", "parent_id": 300, "access_device": true, "network_site_id": null}
        ])),
        ("/api/2.0/admin/networking/network-sites", json!([
            {"id": 3, "title": "Hilltop", "address": "1 Hill Rd", "gps": "-26.2,28.0"},
            {"id": 4, "title": null, "description": "Riverside"},
            {"id": 5, "title": "Unused Site"}
        ])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// HTTP Basic with the test key and secret.
pub fn auth(h: &axum::http::HeaderMap) -> bool {
    // base64("splynx-key:splynx-secret")
    h.get("authorization").and_then(|v| v.to_str().ok())
        == Some("Basic c3BseW54LWtleTpzcGx5bngtc2VjcmV0")
}
