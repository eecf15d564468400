//! Splynx against its test API on loopback: the exact files of each strategy, the awkward
//! records, and the failure modes leaving the last good files byte-identical.

mod common;

use common::server;
use common::{files, golden, reasons, rows};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::splynx_data;

fn tables(url: &str, strategy: &str) -> String {
    format!(
        "[uisp_integration]\nenable_uisp = false\nbandwidth_overhead_factor = 1.15\nexclude_sites = [\"Ridge AP\"]\n[splynx_integration]\nenable_splynx = true\napi_key = \"{}\"\napi_secret = \"{}\"\nurl = \"{url}\"\nstrategy = \"{strategy}\"\n",
        splynx_data::KEY,
        splynx_data::SECRET
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_writes_the_expected_files() {
    let srv = server::start(splynx_data::auth, splynx_data::routes(), None).await;
    for strategy in ["ap_site", "full", "ap_only", "flat"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = common::config(dir.path(), &tables(&srv.url, strategy));
        let report = run_enabled(&config, true).await;
        let why = reasons(&report);
        let (n, skipped) = match &report.outcomes[0].result {
            Some(Ok(c)) => *c,
            other => panic!("{strategy}: {other:?}"),
        };
        let got = files(dir.path());
        golden(&format!("splynx_{strategy}"), &got);
        let (net, csv) = &got;
        // 24 services: no IP (96), duplicate IP (99), speedless (100) and unknown (101)
        // tariffs, disabled (107) and the malformed record are left out.
        assert_eq!((n, skipped), (19, 6), "{strategy}: {why:#?}");
        for want in [
            "service 96: no IP address",
            "service 100: tariff \"36\"",
            "service 101: tariff \"999\"",
            "service 107: status \"disabled\"",
            "service service[5]: malformed record",
            "circuit splynx:service:99: IP 100.64.7.10/32 is already claimed by circuit splynx:service:90",
        ] {
            assert!(why.iter().any(|w| w.contains(want)), "{strategy}: {want:?} in {why:#?}");
        }
        // Routes and delegated prefixes.
        let r93 = rows(csv, "splynx:service:93")[0];
        assert!(
            r93.contains(",2CC81BBDC9AB,\"100.64.7.20, 203.0.113.8/29\",2001:db8:40::/56,"),
            "{r93}"
        );
        // PPPoE: the online address.
        assert!(rows(csv, "splynx:service:95")[0].contains(",100.65.0.95,"));
        // Tariff speeds as text (300/30); a higher fixed burst wins (110/22); the client-rate
        // rule (× 1.15); min = 98 % of max.
        assert!(r93.ends_with(",338.1,33.81,345,34.5,"), "{r93}");
        let r92 = rows(csv, "splynx:service:92")[0];
        assert!(r92.ends_with(",123.97,24.79,126.5,25.3,"), "{r92}");
        assert_eq!(
            rows(csv, "splynx:service:97").len() + rows(csv, "splynx:service:98").len(),
            2
        );
        let tree: serde_json::Value = serde_json::from_str(net).expect("json");
        match strategy {
            "ap_site" => {
                // Network Sites → APs (the switch a service names is an AP; the excluded AP
                // is gone); the unused site is not written.
                assert_eq!(
                    tree.as_object().expect("obj").keys().collect::<Vec<_>>(),
                    ["Hilltop", "Riverside"]
                );
                assert_eq!(tree["Hilltop"]["id"], "splynx:network_site:3");
                assert!(
                    tree["Riverside"]["children"]["Riverside PtP_Riverside Switch"].is_object()
                );
                assert!(rows(csv, "splynx:service:104")[0]
                    .contains(",Hilltop Router_Hilltop AP2,splynx:ap:245,"));
            }
            "full" => {
                let core = &tree["Core Router"];
                assert_eq!(core["id"], "splynx:site:10");
                assert_eq!(
                    core["children"]["Core Router_Hilltop Router"]["children"]
                        ["Hilltop Router_Hilltop AP1"]["id"],
                    "splynx:ap:244"
                );
                assert!(!net.contains("Ridge AP"));
            }
            "ap_only" => assert_eq!(tree.as_object().expect("obj").len(), 4, "{net}"),
            _ => assert_eq!(net.trim(), "{}"),
        }
        assert!(
            rows(csv, "splynx:service:106")[0].contains(",,,,"),
            "an unknown access device: unparented"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_the_last_good_files() {
    let srv = server::start(splynx_data::auth, splynx_data::routes(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::config(dir.path(), &tables(&srv.url, "ap_site"));
    assert!(run_enabled(&config, true).await.written);
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
    // Wrong credentials are a 401 from Splynx too.
    let bad = common::config(
        dir.path(),
        &tables(&srv.url, "ap_site").replace(splynx_data::SECRET, "wrong"),
    );
    let report = run_enabled(&bad, true).await;
    assert!(format!("{:?}", report.outcomes[0].result).contains("401"));
}
