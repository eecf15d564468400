//! An invented WISP as UISP describes it: a core site with the Internet uplink, two towers
//! over airFiber/airMax backhauls, a tower UISP parents but no backhaul reaches, five APs
//! (airMax flexible frame, LTU, LiteAP, Wave, one without clients) and 24 client sites with
//! the awkward cases: suspended, no IP, an IPv6 prefix, two devices, a duplicate IP, a client
//! linked only by a data link, no QoS, no AP, a burst, a routed subnet, a company name, an
//! exception CPE, a 100M Ethernet port; plus malformed records and an unknown site type.

use serde_json::{json, Value};

pub const TOKEN: &str = "uisp-test-token";

const NAMES: [&str; 24] = [
    "Okafor, Chidi",
    "Lindqvist, Maja",
    "Tanaka, Hiro",
    "Moreau, Claire",
    "Haddad, Sami",
    "Novak, Petra",
    "Reyes, Luis",
    "Byrne, Aoife",
    "Kowalski, Jan",
    "Mensah, Ama",
    "Ivanova, Daria",
    "Ferreira, Rui",
    "Schultz, Greta",
    "Park, Min-jun",
    "Oyelaran, Tunde",
    "Dubois, Henri",
    "Nguyen, Linh",
    "Rossi, Marco",
    "Acme Farms, LLC",
    "Eriksen, Sigrid",
    "Patel, Anjali",
    "Walsh, Ciaran",
    "Kaya, Emre",
    "Silva, Bruna",
];

/// Plans (download, upload) in Mbps.
const PLANS: [(u64, u64); 4] = [(25, 5), (50, 10), (100, 20), (300, 50)];
const APS: [&str; 4] = ["d-ap-n1", "d-ap-n2", "d-ap-s1", "d-ap-e1"];

pub fn plan_of(i: usize) -> (u64, u64) {
    PLANS[(i / 4) % 4]
}

fn tower(id: &str, name: &str, parent: Option<&str>) -> Value {
    json!({"id": id, "identification": {"name": name, "type": "site", "parent": parent.map(|p| json!({"id": p})), "status": "active", "suspended": false}, "qos": {"enabled": false}})
}

#[allow(clippy::too_many_arguments)]
fn device(
    id: &str,
    host: &str,
    site: &str,
    model: &str,
    kind: &str,
    role: &str,
    mode: Option<&str>,
    down: u64,
    up: u64,
) -> Value {
    json!({
        "identification": {"id": id, "hostname": host, "mac": format!("24:5A:4C:00:{:02X}:01", id.len()), "model": model, "type": kind, "role": role, "site": {"id": site}},
        "ipAddress": format!("10.20.{}.1/24", id.len()),
        "overview": {"status": "active", "wirelessMode": mode, "downlinkCapacity": down, "uplinkCapacity": up},
        "interfaces": [{"identification": {"name": "eth0", "type": "eth"}, "status": {"status": "active", "currentSpeed": "1000-full"}}]
    })
}

pub fn sites() -> Value {
    let mut v = vec![
        tower("s-core", "Core DC", None),
        tower("s-north", "Tower North", Some("s-core")),
        tower("s-south", "Tower South", Some("s-north")),
        tower("s-east", "Tower East", Some("s-core")),
        json!({"id": "s-gw", "identification": {"name": "Gateway Cabinet", "type": "gateway", "parent": null, "suspended": false}}),
        json!({"id": "c-bad", "identification": "not an object"}),
    ];
    for (i, name) in NAMES.iter().enumerate() {
        let n = i + 1;
        let (down, up) = plan_of(n);
        let mut qos = json!({"enabled": true, "downloadSpeed": down * 1_000_000, "uploadSpeed": up * 1_000_000, "downloadBurstSize": null, "uploadBurstSize": null});
        if n == 14 {
            qos = Value::Null;
        }
        if n == 16 {
            qos["downloadBurstSize"] = json!(1_280_000);
        }
        let parent = if n == 15 { "s-south" } else { "s-core" };
        v.push(json!({
            "id": format!("c{n:02}"),
            "identification": {"name": name, "type": "endpoint", "parent": {"id": parent}, "status": "active", "suspended": n == 6},
            "description": {"address": format!("{n} Prairie Road"), "location": null},
            "qos": qos,
            "ucrm": null
        }));
    }
    Value::Array(v)
}

pub fn devices() -> Value {
    let mut v = vec![
        device(
            "d-core-rtr",
            "core-rtr",
            "s-core",
            "ER-8-XG",
            "edgeRouter",
            "router",
            None,
            0,
            0,
        ),
        device(
            "d-bh-cn-a",
            "BH-Core-North-A",
            "s-core",
            "AF-5XHD",
            "airFiber",
            "ap",
            Some("ap-ptp"),
            900_000_000,
            900_000_000,
        ),
        device(
            "d-bh-cn-b",
            "BH-Core-North-B",
            "s-north",
            "AF-5XHD",
            "airFiber",
            "station",
            Some("sta-ptp"),
            850_000_000,
            880_000_000,
        ),
        device(
            "d-bh-ns-a",
            "BH-North-South-A",
            "s-north",
            "PBE-5AC-Gen2",
            "airMax",
            "ap",
            Some("ap-ptp"),
            400_000_000,
            400_000_000,
        ),
        device(
            "d-bh-ns-b",
            "BH-North-South-B",
            "s-south",
            "PBE-5AC-Gen2",
            "airMax",
            "station",
            Some("sta-ptp"),
            380_000_000,
            390_000_000,
        ),
        device(
            "d-ap-n2",
            "North-LTU",
            "s-north",
            "LTU-Rocket",
            "ltu",
            "ap",
            Some("ap-ptmp"),
            300_000_000,
            100_000_000,
        ),
        device(
            "d-ap-s1",
            "South-LiteAP",
            "s-south",
            "LAP-120",
            "airMax",
            "ap",
            Some("ap-ptmp"),
            120_000_000,
            40_000_000,
        ),
        device(
            "d-ap-e1",
            "East-Wave",
            "s-east",
            "Wave-AP",
            "wave",
            "ap",
            Some("ap-ptmp"),
            1_000_000_000,
            1_000_000_000,
        ),
        device(
            "d-ap-n3",
            "North-Spare",
            "s-north",
            "RP-5AC-Gen2",
            "airMax",
            "ap",
            Some("ap-ptmp"),
            200_000_000,
            100_000_000,
        ),
        json!({"identification": null, "ipAddress": "10.9.9.9"}),
    ];
    // The flexible-frame airMax AP: 200 Mbps total, 75% download.
    let mut n1 = device(
        "d-ap-n1",
        "North-AC",
        "s-north",
        "RP-5AC-Gen2",
        "airMax",
        "ap",
        Some("ap-ptmp"),
        180_000_000,
        60_000_000,
    );
    n1["overview"]["totalCapacity"] = json!(200_000_000);
    n1["overview"]["wirelessActiveInterfaceIds"] = json!(["ath0"]);
    n1["interfaces"] =
        json!([{"identification": {"name": "ath0", "type": "wlan"}, "wireless": {"dlRatio": 75}}]);
    v.push(n1);
    for (i, name) in NAMES.iter().enumerate() {
        let n = i + 1;
        let surname = name.split(',').next().unwrap_or("x").replace(' ', "");
        let host = if n == 20 {
            "Farm-CPE-20".to_owned()
        } else {
            format!("{surname}-CPE")
        };
        let mut cpe = json!({
            "identification": {"id": format!("cpe{n:02}"), "hostname": host, "mac": format!("24:5A:4C:AA:{n:02X}:10"), "model": "LBE-5AC-Gen2", "type": "airMax", "role": "station", "site": {"id": format!("c{n:02}")}},
            "ipAddress": format!("100.64.10.{n}"),
            "attributes": {"apDevice": {"id": APS[n % 4], "name": null}},
            "overview": {"wirelessMode": "sta-ptmp", "downlinkCapacity": 150_000_000, "uplinkCapacity": 50_000_000},
            "interfaces": [{"identification": {"name": "eth0", "type": "eth"}, "status": {"status": "active", "currentSpeed": if n == 15 { "100-full" } else { "1000-full" }}, "addresses": [{"cidr": format!("100.64.10.{n}/24")}]}]
        });
        match n {
            8 => {
                cpe["ipAddress"] = Value::Null;
                cpe["interfaces"][0]["addresses"] = json!([]);
            }
            9 => cpe["interfaces"]
                .as_array_mut()
                .expect("array")
                .push(json!({"identification": {"name": "br0", "type": "bridge"}, "addresses": [{"cidr": "2001:db8:109::/56"}, {"cidr": "fe80::1/64"}]})),
            12 => {
                cpe["ipAddress"] = json!("100.64.10.11");
                cpe["interfaces"][0]["addresses"] = json!([{"cidr": "100.64.10.11/24"}]);
            }
            13 => cpe["attributes"] = Value::Null,
            15 => cpe["attributes"] = Value::Null,
            17 => cpe["interfaces"][0]["addresses"]
                .as_array_mut()
                .expect("array")
                .push(json!({"cidr": "203.0.113.16/29"})),
            _ => {}
        }
        v.push(cpe);
        if n == 10 {
            v.push(json!({
                "identification": {"id": "rtr10", "hostname": "Mensah-Router", "mac": "24:5A:4C:BB:0A:20", "model": "UDR", "type": "unifi", "role": "router", "site": {"id": "c10"}},
                "ipAddress": "100.64.1.10",
                "interfaces": [{"identification": {"name": "eth0", "type": "eth"}, "status": {"status": "active", "currentSpeed": "100-full"}}]
            }));
        }
    }
    Value::Array(v)
}

fn link(id: &str, a: &str, b: &str) -> Value {
    json!({"id": id, "from": {"device": {"identification": {"id": a, "name": a}}, "site": null}, "to": {"device": {"identification": {"id": b, "name": b}}, "site": null}, "canDelete": true})
}

pub fn data_links() -> Value {
    json!([
        {"id": "l-inet", "from": {"site": {"identification": {"id": "s-core", "name": "Core DC"}}}, "to": {"device": null, "site": null}, "canDelete": false},
        link("l-bh1", "d-bh-cn-a", "d-bh-cn-b"),
        link("l-bh2", "d-bh-ns-b", "d-bh-ns-a"),
        link("l-c13", "cpe13", "d-ap-s1"),
    ])
}

/// The routes of the UISP API.
pub fn routes() -> std::collections::HashMap<String, Value> {
    [
        ("/nms/api/v2.1/sites", sites()),
        ("/nms/api/v2.1/devices", devices()),
        ("/nms/api/v2.1/data-links", data_links()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn auth(h: &axum::http::HeaderMap) -> bool {
    h.get("x-auth-token").and_then(|v| v.to_str().ok()) == Some(TOKEN)
}
