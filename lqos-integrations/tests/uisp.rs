//! UISP against its test API on loopback: the exact network.json and ShapedDevices.csv each
//! strategy writes, the awkward records, and the failure modes leaving the last good files
//! byte-identical.

mod common;

use common::server::{self, Server};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::uisp_data;

async fn uisp_server() -> Server {
    server::start(uisp_data::auth, uisp_data::routes(), None).await
}

fn tables(url: &str, extra: &str) -> String {
    format!(
        "[uisp_integration]\nenable_uisp = true\ntoken = \"{}\"\nurl = \"{url}\"\nairmax_capacity = 0.9\nltu_capacity = 0.9\nbandwidth_overhead_factor = 1.15\ncommit_bandwidth_multiplier = 0.98\nsuspended_strategy = \"slow\"\nexception_cpes = [\"Farm-CPE-20:Tower East\"]\n{extra}",
        uisp_data::TOKEN
    )
}

use common::{files, golden, rows as row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_strategy_writes_the_whole_tree_and_every_circuit() {
    let srv = uisp_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::config(dir.path(), &tables(&srv.url, "strategy = \"full\"\n"));
    let report = run_enabled(&config, true).await;
    let out = &report.outcomes[0];
    let (n, skipped) = match &out.result {
        Some(Ok(c)) => *c,
        other => panic!("{other:?}"),
    };
    assert!(report.written);
    let got = files(dir.path());
    golden("uisp_full", &got);
    let (net, csv) = &got;
    // 24 clients: c08 (no IP) and c12 (duplicate IP) are not written; c06 is suspended (slow).
    assert_eq!(n, 22, "{:#?}", out.issues);
    let reasons: Vec<String> = out.issues.iter().map(|i| i.to_string()).collect();
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(
        has("site c08") && has("no device with an IP"),
        "{reasons:#?}"
    );
    assert!(
        has("site s-gw") && has("unknown site type \"gateway\""),
        "{reasons:#?}"
    );
    assert!(has("site c-bad") && has("malformed record"), "{reasons:#?}");
    assert!(
        has("device device[9]") && has("malformed record"),
        "{reasons:#?}"
    );
    assert!(
        has("circuit uisp:site:c12")
            && has("IP 100.64.10.11/32 is already claimed by circuit uisp:site:c11"),
        "{reasons:#?}"
    );
    assert_eq!(skipped, 5, "{reasons:#?}");
    assert!(row(csv, "uisp:site:c08").is_empty() && row(csv, "uisp:site:c12").is_empty());
    // The tree: the root is not written; backhaul capacities are the narrower end, clamped.
    let tree: serde_json::Value = serde_json::from_str(net).expect("json");
    let north = &tree["Tower North"];
    assert_eq!(north["id"], "uisp:site:s-north");
    assert_eq!(north["downloadBandwidthMbps"], 850.0);
    assert_eq!(north["uploadBandwidthMbps"], 880.0);
    let south = &north["children"]["Tower South"];
    assert_eq!(
        (
            south["downloadBandwidthMbps"].as_f64(),
            south["uploadBandwidthMbps"].as_f64()
        ),
        (Some(342.0), Some(351.0))
    );
    // Flexible-frame airMax: 200 × 0.9 total, 75 % down; LTU × 0.9; unused AP left out.
    let ac = &north["children"]["North-AC"];
    assert_eq!(
        (
            ac["downloadBandwidthMbps"].as_f64(),
            ac["uploadBandwidthMbps"].as_f64()
        ),
        (Some(135.0), Some(45.0))
    );
    let ltu = &north["children"]["North-LTU"];
    assert_eq!(
        (
            ltu["downloadBandwidthMbps"].as_f64(),
            ltu["uploadBandwidthMbps"].as_f64()
        ),
        (Some(270.0), Some(90.0))
    );
    assert!(!net.contains("North-Spare") && !net.contains("Core DC"));
    // No backhaul reaches Tower East: its UISP parent (the root) puts it at the top level.
    assert_eq!(tree["Tower East"]["id"], "uisp:site:s-east");
    // Rates: plan × commit / (plan + burst) × overhead.
    let c01 = row(csv, "uisp:site:c01");
    assert_eq!(c01, vec!["uisp:site:c01,Chidi Okafor,uisp:device:cpe01,Okafor-CPE,North-LTU,uisp:device:d-ap-n2,,24:5A:4C:AA:01:10,100.64.10.1,,24.5,4.9,28.75,5.75,"]);
    let c16 = row(csv, "uisp:site:c16")[0];
    assert!(c16.ends_with(",24.5,4.9,40.25,5.75,"), "{c16}");
    // A 300/50 plan behind a 100M port: capped at 94.
    let c15 = row(csv, "uisp:site:c15")[0];
    assert!(c15.ends_with(",94,49,94,57.5,"), "{c15}");
    // Suspended (slow): 0.1 both ways.
    assert!(row(csv, "uisp:site:c06")[0].ends_with(",0.1,0.1,0.1,0.1,"));
    // IPv6 prefix kept, link-local dropped; two devices; routed subnet; company name kept.
    assert!(row(csv, "uisp:site:c09")[0].contains(",100.64.10.9,2001:db8:109::/56,"));
    assert_eq!(row(csv, "uisp:site:c10").len(), 2);
    assert!(row(csv, "uisp:site:c17")[0].contains("\"100.64.10.17, 203.0.113.16/29\""));
    assert!(row(csv, "uisp:site:c19")[0].contains(",\"Acme Farms, LLC\","));
    // Linked by a data link only; no AP (its UISP parent site); exception CPE.
    assert!(row(csv, "uisp:site:c13")[0].contains(",South-LiteAP,uisp:device:d-ap-s1,"));
    assert!(row(csv, "uisp:site:c15")[0].contains(",Tower South,uisp:site:s-south,"));
    assert!(row(csv, "uisp:site:c20")[0].contains(",Tower East,uisp:site:s-east,"));
    // No QoS: generated_pn × overhead.
    assert!(row(csv, "uisp:site:c14")[0].ends_with(",563.5,563.5,575,575,"));

    // The same data again changes nothing: the files are not even rewritten.
    let again = run_enabled(&config, true).await;
    assert!(!again.written, "{:?}", again.outcomes);
    assert_eq!(files(dir.path()), got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_and_suspended_ignore_and_exclusions() {
    let srv = uisp_server().await;
    for (name, extra) in [
        ("uisp_ap_site", "strategy = \"ap_site\"\n"),
        ("uisp_ap_only", "strategy = \"ap_only\"\n"),
        ("uisp_flat", "strategy = \"flat\"\n"),
        (
            "uisp_full_squash_exclude_ignore",
            "strategy = \"full\"\nsquash_sites = [\"Tower North\"]\nexclude_sites = [\"Tower East\"]\nsuspended_strategy = \"ignore\"\n",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = tables(&srv.url, extra).replace("suspended_strategy = \"slow\"\n", "");
        let config = common::config(dir.path(), &text);
        let report = run_enabled(&config, true).await;
        assert!(
            matches!(report.outcomes[0].result, Some(Ok(_))),
            "{name}: {:?}",
            report.outcomes[0]
        );
        let got = files(dir.path());
        golden(name, &got);
        let tree: serde_json::Value = serde_json::from_str(&got.0).expect("json");
        let top: Vec<&String> = tree.as_object().expect("object").keys().collect();
        match name {
            "uisp_ap_site" => {
                assert_eq!(top, ["Tower East", "Tower North", "Tower South"]);
                assert!(tree["Tower South"]["children"]["South-LiteAP"].is_object());
            }
            "uisp_ap_only" => assert_eq!(top, ["East-Wave", "North-AC", "North-LTU", "South-LiteAP"]),
            "uisp_flat" => {
                assert!(top.is_empty());
                assert!(!got.1.contains("uisp:device:d-ap") && !got.1.contains(",uisp:site:s-"));
            }
            _ => {
                // Tower North squashed: its APs and Tower South move up; Tower East is gone,
                // and so are its clients; the suspended client is not imported.
                assert_eq!(top, ["North-AC", "North-LTU", "Tower South"]);
                assert!(!got.1.contains("East-Wave") && !got.1.contains("uisp:site:c06,"));
                let why: Vec<String> = report.outcomes[0].issues.iter().map(|i| i.to_string()).collect();
                assert!(why.iter().any(|w| w.contains("c06") && w.contains("suspended")), "{why:#?}");
                assert!(why.iter().any(|w| w.contains("c03") && w.contains("exclude_sites")), "{why:#?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_the_last_good_files() {
    let srv = uisp_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::config(dir.path(), &tables(&srv.url, ""));
    assert!(run_enabled(&config, true).await.written);
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
    // The suspicious-import guard: the API suddenly lists 3 clients out of 24.
    let before = files(dir.path());
    let sites = srv.route("/nms/api/v2.1/sites");
    let few: Vec<serde_json::Value> = sites
        .as_array()
        .expect("array")
        .iter()
        .filter(|s| {
            !s["id"].as_str().is_some_and(|id| id.starts_with('c'))
                || ["c01", "c02", "c03"].contains(&s["id"].as_str().unwrap_or(""))
        })
        .cloned()
        .collect();
    srv.set_route("/nms/api/v2.1/sites", serde_json::Value::Array(few));
    let report = run_enabled(&config, true).await;
    let err = format!("{:?}", report.outcomes[0].result);
    assert!(
        err.contains("Suspicious") && err.contains("circuits: 3"),
        "{err}"
    );
    assert_eq!(files(dir.path()), before);
    // No client at all: refused too.
    let towers: Vec<serde_json::Value> = sites
        .as_array()
        .expect("array")
        .iter()
        .filter(|s| !s["id"].as_str().is_some_and(|id| id.starts_with('c')))
        .cloned()
        .collect();
    srv.set_route("/nms/api/v2.1/sites", serde_json::Value::Array(towers));
    let report = run_enabled(&config, true).await;
    let err = match &report.outcomes[0].result {
        Some(Err(e)) => e.to_string(),
        other => panic!("refused: {other:?}"),
    };
    assert!(
        err.contains("0 circuit(s) where the last good import had 22")
            && err.contains("no circuit at all"),
        "{err}"
    );
    assert_eq!(files(dir.path()), before);
    srv.set_route("/nms/api/v2.1/sites", sites);
    // A malformed record costs that record only.
    let mut devices = srv.route("/nms/api/v2.1/devices");
    devices[12]["identification"] = serde_json::json!(42);
    srv.set_route("/nms/api/v2.1/devices", devices);
    let report = run_enabled(&config, true).await;
    assert!(
        matches!(report.outcomes[0].result, Some(Ok((21, _)))),
        "{:?}",
        report.outcomes[0]
    );
}
