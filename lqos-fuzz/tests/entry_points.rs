//! The entry points the targets drive reach the real code: a valid input gets through and a
//! broken one is refused with an error (so a target that silently did nothing would fail here).

use lqos_bus::{encode_request, FrameHeader, Request};
use lqos_config::{Config, InputTexts};
use std::path::Path;

#[path = "support/integration_seeds.rs"]
mod integration_seeds;

const ETC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../etc");

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(ETC).join(name)).unwrap()
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = FrameHeader::new(payload.len() as u32).to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn a_stream_of_frames_decodes_message_by_message_and_stops_at_the_first_bad_one() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let ping = frame(&encode_request(&Request::Ping).unwrap());
    let status = frame(&encode_request(&Request::Status).unwrap());
    let two = [ping.clone(), status].concat();
    let decode = |bytes: &[u8], max| rt.block_on(lqos_bus::frame::decode_stream(bytes, true, max));
    assert_eq!(decode(&two, 64).unwrap(), 2);
    assert!(
        decode(&two[..two.len() - 1], 64).is_err(),
        "a truncated frame"
    );
    assert!(decode(b"GET / HTTP/1.1\r\n", 64).is_err(), "not a frame");
    assert!(decode(&frame(&[0xff; 40]), 64).is_err(), "not a request");
    assert!(decode(&frame(&[0; 100]), 64).is_err(), "over the limit");
    // As a client: a request is not a response.
    let as_client = rt.block_on(lqos_bus::frame::decode_stream(&frame(&[200, 1]), false, 64));
    assert!(as_client.is_err());
}

#[test]
fn a_circuit_body_is_spliced_and_validated_and_a_bad_one_is_refused() {
    let (csv, network, overrides) = (
        read("ShapedDevices.csv"),
        read("network.json"),
        read("lqos_overrides.json"),
    );
    let texts = InputTexts {
        shaped_devices: csv.as_bytes(),
        network: &network,
        overrides: Some(&overrides),
    };
    let (config, _) = Config::parse(&read("lqos.conf"), "lqos.conf", Path::new(ETC));
    let ranges = config.unwrap().ip_ranges;
    let body = br#"{"circuit_id":"9001","name":"New","parent_node":"Hilltop AP North","download_min_mbps":5,"upload_min_mbps":1,"download_max_mbps":10,"upload_max_mbps":2,"devices":[{"device_id":"9001-1","name":"R","ipv4":"100.64.9.1"}]}"#;
    let new = lqosd::web::check_edit_body(body, None, "", &texts, &ranges).unwrap();
    assert!(new.starts_with(&csv) && new.contains("9001,New,9001-1,R,Hilltop AP North"));
    let err = lqosd::web::check_edit_body(b"{\"circuit_id\":1}", None, "", &texts, &ranges);
    assert!(err.unwrap_err().contains("circuit_id"));
    let outside = String::from_utf8_lossy(body).replace("100.64.9.1", "10.1.2.3");
    let err = lqosd::web::check_edit_body(outside.as_bytes(), None, "", &texts, &ranges);
    assert!(
        err.is_err(),
        "an address outside allow_subnets leaves it unshaped"
    );
    let replaced = lqosd::web::check_edit_body(body, Some("1001"), "", &texts, &ranges).unwrap();
    assert!(!replaced.contains("Garcia") && replaced.contains("9001,New"));
}

#[test]
fn credentials_decode_as_the_login_handler_decodes_them() {
    let name = lqosd::web::decode_credentials(br#"{"username":"ana","password":"x"}"#);
    assert_eq!(name.as_deref(), Ok("ana"));
    assert!(lqosd::web::decode_credentials(br#"{"username":"ana"}"#).is_err());
}

/// Each CRM's seed (its test API's bodies) renders circuits that validate, and a body of the
/// wrong shape fails the import: the `integrations` target reaches the mapping and the
/// validation, not only the JSON decoder.
#[test]
fn every_crm_seed_renders_circuits_that_validate() {
    let seeds = integration_seeds::inputs().unwrap();
    let (config, _) = Config::parse(&read("lqos.conf"), "lqos.conf", Path::new(ETC));
    let ranges = config.unwrap().ip_ranges;
    let mut seen = Vec::new();
    for (selector, (name, _)) in lqos_fuzz::INTEGRATION_SOURCES.iter().enumerate() {
        let seed = &seeds[selector];
        assert_eq!(usize::from(seed[0]), selector);
        let files = lqos_fuzz::integration_files(seed).unwrap_or_else(|| panic!("{name}"));
        let texts = InputTexts {
            shaped_devices: &files.shaped_devices_csv,
            network: &files.network_json,
            overrides: None,
        };
        let (inputs, d) = lqos_config::parse_inputs(&texts, &ranges);
        let circuits = inputs.map_or(0, |i| i.circuits.len());
        assert!(circuits >= 3, "{name}: {circuits} circuits validate: {d:?}");
        let broken = [&[selector as u8][..], b"\"not JSON of the shape\""].concat();
        assert!(
            lqos_fuzz::integration_files(&broken).is_none(),
            "{name}: a body of the wrong shape fails the import"
        );
        seen.push(*name);
    }
    assert_eq!(seen.len(), seeds.len());
}

#[test]
fn every_target_is_listed_once_and_found_by_name() {
    let mut names: Vec<&str> = lqos_fuzz::TARGETS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), lqos_fuzz::TARGETS.len());
    assert!(lqos_fuzz::target("shaped_devices").is_some());
    assert!(lqos_fuzz::target("nope").is_none());
}

/// A plan of one circuit whose leaf qdisc spec is `leaf`.
fn plan_with_leaf(leaf: &str) -> lqos_plan::QueuePlan {
    use lqos_plan::{ClassId, ClassOwner, Direction, HtbClass, HtbQueue, InterfacePlan};
    let class = |id, parent, owner, leaf: Option<&str>| HtbClass {
        id,
        parent,
        rate_bps: 1_000_000,
        ceil_bps: 2_000_000,
        burst: 1600,
        cburst: 1600,
        quantum: 1514,
        owner,
        leaf: leaf.map(Into::into),
    };
    let root = ClassId::new(1, 1);
    lqos_plan::QueuePlan {
        queues: 1,
        interfaces: vec![InterfacePlan {
            name: "eth0".into(),
            htbs: vec![HtbQueue {
                major: 1,
                mq_minor: 1,
                direction: Direction::Download,
                cpu: 0,
                classes: vec![
                    class(root, None, ClassOwner::QueueRoot, None),
                    class(
                        ClassId::new(1, 2),
                        Some(root),
                        ClassOwner::Circuit("c1".into()),
                        Some(leaf),
                    ),
                ],
            }],
        }],
        mappings: Vec::new(),
    }
}

#[test]
fn a_plan_whose_leaf_would_add_a_tc_command_is_refused_and_a_plain_one_passes() {
    let injected = plan_with_leaf("pfifo\nfilter add dev eth0 ingress bpf obj /tmp/x.o");
    let problems = lqosd::apply::unsafe_text(&injected);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("leaf qdisc"), "{problems:?}");
    assert!(lqosd::apply::unsafe_text(&plan_with_leaf("cake diffserv4 rtt 100ms")).is_empty());
    // Through the target: refused before the applier (whose kernel asserts one line per op).
    for plan in [injected, plan_with_leaf("fq_codel")] {
        let request = Request::SubmitPlan {
            generation: 1,
            plan,
        };
        let input = [&[0u8][..], &encode_request(&request).unwrap()].concat();
        lqos_fuzz::bus_messages(&input);
    }
}
