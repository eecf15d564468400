mod common;
use common::*;
use lqos_config::{Location, Severity, SqmKind};

const CSV: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n\
C1,One,D1,,AP_A,,100.64.0.1,,10,2,20,4,\n\
C2,Two,D2,,AP_A,,100.64.0.2,,10,2,20,4,\n\
C2,Two,D2b,,AP_A,,100.64.0.3,,10,2,20,4,\n\
C3,Three,D3,,AP_A,,100.64.0.4,,10,2,20,4,\n\
C4,Four,D4,,AP_A,,100.64.0.5,,10,2,20,4,\n";

#[test]
fn every_override_type_applies() {
    let overrides = r#"{
      "persistent_devices": [
        {"circuit_id": "P1", "circuit_name": "Kept", "device_id": "PD1", "device_name": "x", "parent_node": "AP_B", "mac": "",
         "ipv4": [["100.64.9.1", 32]], "ipv6": [["2001:db8:ff::", 64]], "download_min_mbps": 5, "upload_min_mbps": 1,
         "download_max_mbps": 10, "upload_max_mbps": 2, "comment": ""}
      ],
      "circuit_adjustments": [
        {"type": "circuit_adjust_speed", "circuit_id": "C1", "max_download_bandwidth": 50.5},
        {"type": "device_adjust_speed", "device_id": "D3", "min_upload_bandwidth": 3, "max_upload_bandwidth": 6},
        {"type": "device_adjust_sqm", "device_id": "D4", "sqm_override": "fq_codel/cake"},
        {"type": "remove_device", "device_id": "D2b"},
        {"type": "remove_circuit", "circuit_id": "C2"},
        {"type": "reparent_circuit", "circuit_id": "C4", "parent_node": "Site_2"}
      ],
      "network_adjustments": [
        {"type": "adjust_site_speed", "site_name": "AP_A", "download_bandwidth_mbps": 150, "upload_bandwidth_mbps": 75},
        {"type": "set_node_virtual", "node_name": "Site_1", "virtual": true}
      ]
    }"#;
    let (inputs, d) = load(CSV, &read("network.json"), Some(overrides));
    let i = inputs.unwrap_or_else(|| panic!("{d}"));
    assert!(d.is_empty(), "{d}");
    let get = |id: &str| i.circuits.iter().find(|c| c.id == id);
    assert_eq!(get("C1").unwrap().download_max, 50.5);
    assert_eq!(
        get("C1").unwrap().download_min,
        10.0,
        "unset fields keep their value"
    );
    assert!(get("C2").is_none());
    assert_eq!(
        (get("C3").unwrap().upload_min, get("C3").unwrap().upload_max),
        (3.0, 6.0)
    );
    let sqm = get("C4").unwrap().sqm.unwrap();
    assert_eq!(
        (sqm.download, sqm.upload),
        (Some(SqmKind::FqCodel), Some(SqmKind::Cake))
    );
    assert_eq!(
        i.network.nodes[get("C4").unwrap().parent.unwrap()].name,
        "Site_2"
    );
    let p1 = get("P1").expect("persistent device added");
    assert_eq!(p1.devices[0].ips.len(), 2);
    let ap_a = &i.network.nodes[i.network.find("AP_A").unwrap()];
    assert_eq!((ap_a.download_mbps, ap_a.upload_mbps), (150.0, 75.0));
    assert!(i.network.nodes[i.network.find("Site_1").unwrap()].is_virtual);
}

#[test]
fn persistent_device_replaces_a_row_by_device_id() {
    let overrides = r#"{"persistent_devices": [{"circuit_id": "C1", "device_id": "D1", "ipv4": ["100.64.7.7/32"],
        "download_min_mbps": 1, "upload_min_mbps": 1, "download_max_mbps": 2, "upload_max_mbps": 2}]}"#;
    let (inputs, d) = load(CSV, &read("network.json"), Some(overrides));
    let i = inputs.unwrap();
    let c1 = i.circuits.iter().find(|c| c.id == "C1").unwrap();
    assert_eq!(c1.devices.len(), 1);
    assert_eq!(c1.devices[0].ips[0].to_string(), "100.64.7.7/32");
    assert_eq!(c1.parent, None, "the persistent device has no parent");
    assert!(d.is_empty(), "{d}");
}

#[test]
fn stale_targets_warn_and_bad_entries_reject_with_their_paths() {
    let overrides = r#"{
      "circuit_adjustments": [
        {"type": "remove_circuit", "circuit_id": "NOPE"},
        {"type": "teleport_circuit", "circuit_id": "C1"},
        {"type": "circuit_adjust_speed", "circuit_id": "C1", "max_download_bandwidth": -1}
      ],
      "network_adjustments": [{"type": "set_node_virtual", "node_name": "Nowhere", "virtual": true}],
      "rtt_excluded_circuits": []
    }"#;
    let (inputs, d) = load(CSV, &read("network.json"), Some(overrides));
    assert!(inputs.is_none(), "a bad override rejects the refresh");
    let at = |p: &str| {
        d.iter()
            .find(|x| x.location == Location::JsonPath(p.into()))
            .unwrap_or_else(|| panic!("{p}: {d}"))
    };
    assert_eq!(at("$.circuit_adjustments[0]").severity, Severity::Warning);
    assert!(at("$.circuit_adjustments[1]")
        .message
        .contains("unknown variant `teleport_circuit`"));
    assert_eq!(
        at("$.circuit_adjustments[2].max_download_bandwidth").severity,
        Severity::Reject
    );
    assert_eq!(at("$.network_adjustments[0]").severity, Severity::Warning);
    assert_eq!(at("$.rtt_excluded_circuits").severity, Severity::Warning);
}

#[test]
fn invalid_json_is_reported_with_line() {
    let (inputs, d) = load(
        CSV,
        &read("network.json"),
        Some("{\n\"persistent_devices\": [,]\n}"),
    );
    assert!(inputs.is_none());
    assert!(
        matches!(d.items[0].location, Location::Line { line: 2, .. }),
        "{d}"
    );
}
