//! Sonar's AP tree against the test GraphQL API and real UDP SNMP agents on loopback: the
//! APs' station tables place the accounts; a silent AP, an AP where nothing listens and an
//! AP without an address cost only their clients' placement.

mod common;

use common::{files, golden, has, reasons, rows, server};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::{snmp_agent, sonar_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonar_ap_tree() {
    let port = snmp_agent::start(sonar_data::COMMUNITY, sonar_data::agents()).await;
    let srv = server::start(
        sonar_data::auth,
        Default::default(),
        Some(sonar_data::post()),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[sonar_integration]\nenable_sonar = true\nsonar_api_key = \"{}\"\nsonar_api_url = \"{}\"\nactive_status_ids = [\"\"]\nsnmp_community = \"{}\"\nsnmp_port = {port}\nsnmp_timeout_secs = 1\nairmax_model_ids = [\"{}\"]\nltu_model_ids = [\"{}\"]\n",
        sonar_data::KEY,
        srv.url,
        sonar_data::COMMUNITY,
        sonar_data::AIRMAX_MODEL,
        sonar_data::LTU_MODEL,
    );
    let config = common::config(dir.path(), &tables);
    let started = std::time::Instant::now();
    let report = run_enabled(&config, true).await;
    let why = reasons(&report);
    let Some(Ok((n, _))) = &report.outcomes[0].result else {
        panic!("{:?}", report.outcomes[0].result);
    };
    assert_eq!(*n, 16, "{why:#?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "bounded by the SNMP timeout"
    );
    let got = files(dir.path());
    golden("sonar_aps", &got);
    let (net, csv) = &got;
    let tree: serde_json::Value = serde_json::from_str(net).expect("json");
    assert_eq!(tree["Tulsa North"]["id"], "sonar:site:31");
    assert_eq!(
        tree["Tulsa North"]["children"]["TN-Sector-1"]["id"],
        "sonar:ap:9500"
    );
    assert_eq!(
        tree["Tulsa South"]["children"]["TS-LTU-Rocket"]["id"],
        "sonar:ap:9502"
    );
    assert!(
        tree.get("Empty Hill").is_none() && tree.get("Quiet Ridge").is_none(),
        "{net}"
    );
    let parent = |c: &str| rows(csv, c)[0].split(',').nth(5).unwrap_or("").to_owned();
    assert_eq!(parent("sonar:account:4400"), "sonar:ap:9500");
    assert_eq!(
        parent("sonar:account:4401"),
        "sonar:ap:9500",
        "MACs compared normalized"
    );
    assert_eq!(parent("sonar:account:4403"), "sonar:ap:9500");
    assert_eq!(
        parent("sonar:account:4404"),
        "sonar:ap:9502",
        "its second device"
    );
    assert_eq!(parent("sonar:account:4410"), "sonar:ap:9502");
    assert_eq!(parent("sonar:account:4412"), "");
    has(&why, "AP 9501 (127.0.0.3): 127.0.0.3:");
    has(
        &why,
        "no SNMP answer within 1 s: its clients stay unparented",
    );
    has(&why, "AP 9504 (127.0.0.5)");
    has(&why, "no agent listens there");
    has(&why, "AP 9503: no IP address");
    has(&why, "AP 9505: no stations in its SNMP table");
    has(
        &why,
        "circuit sonar:account:4412: not seen on any AP that answered SNMP",
    );
    has(&why, "network site: malformed record");
}
