mod common;
use common::*;
use lqos_config::{Location, Severity};

#[test]
fn nodes_virtual_flags_ids_and_nesting() {
    let (net, d) = lqos_config::network::parse(&read("network.json"), "network.json");
    assert!(d.is_empty(), "{d}");
    let names: Vec<&str> = net.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Region North", "Site_1", "AP_A", "AP_B", "Site_2"]);
    assert!(net.nodes[0].is_virtual);
    let ap_a = net.find("AP_A").unwrap();
    let site_1 = net.nodes[ap_a].parent.unwrap();
    assert_eq!(net.nodes[site_1].name, "Site_1");
    assert_eq!(
        net.nodes[site_1].parent,
        Some(0),
        "under the virtual region"
    );
    assert_eq!(
        net.nodes[net.find("Site_2").unwrap()].id.as_deref(),
        Some("2"),
        "numeric ids accepted"
    );
}

#[test]
fn flat_network_is_empty() {
    let (net, d) = lqos_config::network::parse("{}", "network.json");
    assert!(net.nodes.is_empty() && d.is_empty());
}

#[test]
fn every_problem_is_reported_with_its_json_path_and_rejects() {
    let (_, d) = lqos_config::network::parse(&read("bad_network.json"), "network.json");
    assert!(d.iter().all(|x| x.severity == Severity::Reject), "{d}");
    let paths: Vec<String> = d
        .iter()
        .map(|x| match &x.location {
            Location::JsonPath(p) => p.clone(),
            l => format!("{l:?}"),
        })
        .collect();
    assert_eq!(
        paths,
        [
            r#"$["Site_1"]["downloadBandwidthMbps"]"#,
            r#"$["Site_1"]["uploadBandwidthMbps"]"#,
            r#"$["Site_1"]["children"]["AP_A"]["virtual"]"#,
            r#"$["Site_1"]["children"]["Site_2"]["uploadBandwidthMbps"]"#,
            r#"$["Site_2"]"#,
        ],
        "{d}"
    );
    assert_eq!(
        d.items[0].value.as_deref(),
        Some("\"1000\""),
        "a string is not a number"
    );
    assert!(
        d.items[4]
            .message
            .contains(r#"duplicate node name: also at $["Site_1"]["children"]["Site_2"]"#),
        "{}",
        d.items[4]
    );
}

#[test]
fn duplicate_keys_in_one_object_are_caught() {
    let text = r#"{"A": {"downloadBandwidthMbps": 1, "uploadBandwidthMbps": 1}, "A": {"downloadBandwidthMbps": 2, "uploadBandwidthMbps": 2}}"#;
    let (_, d) = lqos_config::network::parse(text, "network.json");
    assert_eq!(d.count(Severity::Reject), 1, "{d}");
}

#[test]
fn syntax_errors_give_line_and_column() {
    let (_, d) = lqos_config::network::parse(
        "{\n  \"A\": {\n    \"downloadBandwidthMbps\": 1,\n  }\n}",
        "network.json",
    );
    assert_eq!(d.items.len(), 1);
    assert_eq!(
        d.items[0].location,
        Location::Line {
            line: 4,
            column: Some(3)
        }
    );
    assert!(
        d.items[0]
            .to_string()
            .starts_with("error: network.json:4:3: invalid JSON"),
        "{}",
        d.items[0]
    );
}

#[test]
fn non_object_roots_are_rejected() {
    for text in ["[]", "42", "\"x\""] {
        let (_, d) = lqos_config::network::parse(text, "network.json");
        assert_eq!(d.count(Severity::Reject), 1, "{text}");
    }
}

#[test]
fn coordinates_are_read_and_bad_ones_only_warn() {
    let text = r#"{
      "Site_A": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100,
                 "latitude": 45.5, "longitude": -73.6,
                 "children": {
                   "AP_1": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50},
                   "AP_2": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50,
                            "latitude": "45.51", "longitude": "-73.61"}}},
      "Site_B": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100,
                 "latitude": 95, "longitude": 10},
      "Site_C": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100, "latitude": 10},
      "Site_D": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100,
                 "latitude": null, "longitude": ""}
    }"#;
    let (net, d) = lqos_config::network::parse(text, "network.json");
    let at = |n: &str| net.nodes[net.find(n).unwrap()].location;
    assert_eq!(at("Site_A"), Some((45.5, -73.6)));
    assert_eq!(at("AP_1"), None, "no coordinates of its own");
    assert_eq!(at("AP_2"), Some((45.51, -73.61)), "numbers in strings");
    assert_eq!(at("Site_B"), None, "latitude out of range");
    assert_eq!(at("Site_C"), None, "only one of the two");
    assert_eq!(at("Site_D"), None);
    assert!(!d.rejects(), "coordinates never reject: {d}");
    let warnings: Vec<String> = d.iter().map(|x| x.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("Site_B") && warnings[0].contains("latitude"));
    assert!(warnings[1].contains("Site_C") && warnings[1].contains("go together"));
}
