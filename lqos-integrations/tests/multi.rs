//! Several integrations at once: each contributes its own circuits and nodes; an address
//! claimed by two sources is kept by the first (LibreQoS's order: UISP first) and the later
//! circuit quarantined and reported; a source that fails keeps contributing its last good
//! import while the other's changes are written.

mod common;

use common::server::{self, Mode};
use common::{files, rows};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::{small_data, uisp_data};
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_merge_and_a_shared_address_is_quarantined_in_the_later() {
    let uisp = server::start(uisp_data::auth, uisp_data::routes(), None).await;
    let rows_json = Arc::new(std::sync::Mutex::new(json!([
        {"Circuit ID": "W-1", "Circuit Name": "Claims a UISP address", "IPv4": "100.64.10.1", "Download Max Mbps": 20, "Upload Max Mbps": 5},
        {"Circuit ID": "W-2", "Circuit Name": "Its own", "IPv4": "100.66.0.2", "Download Max Mbps": 20, "Upload Max Mbps": 5}
    ])));
    let shared = rows_json.clone();
    let wisp = server::start(
        small_data::anyone,
        Default::default(),
        Some(Arc::new(move |_, _| {
            Ok(shared.lock().expect("lock").clone())
        })),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[uisp_integration]\nenable_uisp = true\ntoken = \"{}\"\nurl = \"{}\"\n[wispgate_integration]\nenable_wispgate = true\nwispgate_api_token = \"t\"\nwispgate_api_url = \"{}\"\n",
        uisp_data::TOKEN,
        uisp.url,
        wisp.url
    );
    let config = common::config(dir.path(), &tables);
    let report = run_enabled(&config, true).await;
    let names: Vec<&str> = report.outcomes.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["uisp", "wispgate"]);
    let wg = &report.outcomes[1];
    assert!(matches!(wg.result, Some(Ok((1, 1)))), "{wg:?}");
    assert!(
        wg.issues.iter().any(|i| i.skipped
            && i.record == "circuit wispgate:circuit:W-1"
            && i.reason
                .contains("100.64.10.1/32 is already claimed by circuit uisp:site:c01")),
        "{:?}",
        wg.issues
    );
    let (_, csv) = files(dir.path());
    assert_eq!(rows(&csv, "uisp:site:c01").len(), 1);
    assert!(rows(&csv, "wispgate:circuit:W-1").is_empty());
    assert_eq!(rows(&csv, "wispgate:circuit:W-2").len(), 1);

    // UISP fails; WISPGate's new row is imported next to UISP's last good circuits.
    uisp.set_mode(Mode::Fail500);
    rows_json.lock().expect("lock").as_array_mut().expect("array").push(
        json!({"Circuit ID": "W-3", "Circuit Name": "New", "IPv4": "100.66.0.3", "Download Max Mbps": 30, "Upload Max Mbps": 6}),
    );
    let report = run_enabled(&config, true).await;
    assert!(matches!(report.outcomes[0].result, Some(Err(_))));
    assert!(
        matches!(report.outcomes[1].result, Some(Ok((2, 1)))),
        "{:?}",
        report.outcomes[1]
    );
    assert!(report.written);
    let (_, csv2) = files(dir.path());
    assert_eq!(
        rows(&csv2, "uisp:site:c01"),
        rows(&csv, "uisp:site:c01"),
        "UISP's last good import stays"
    );
    assert_eq!(rows(&csv2, "wispgate:circuit:W-3").len(), 1);
}
