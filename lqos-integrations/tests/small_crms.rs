//! Netzur, WISPGate and Powercode against their test APIs on loopback: the exact files, the
//! awkward records, the LibreQoS bugs fixed, and the failure modes leaving the last good
//! files byte-identical.

mod common;

use common::server;
use common::{files, golden, has, ok, rows};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::small_data as data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netzur() {
    let srv = server::start(data::netzur_auth, data::netzur_routes(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[uisp_integration]\nenable_uisp = false\nbandwidth_overhead_factor = 1.1\nexclude_sites = [\" laboratorio \"]\n[netzur_integration]\nenable_netzur = true\napi_key = \"{}\"\napi_url = \"{}/api/libreqos\"\n",
        data::NETZUR_KEY,
        srv.url
    );
    let config = common::config(dir.path(), &tables);
    let (n, skipped, why) = ok(&config).await;
    let got = files(dir.path());
    golden("netzur", &got);
    let (net, csv) = &got;
    has(&why, "circuit netzur:customer:C-1005: no device with an IP");
    has(&why, "zone Zona Norte: duplicate zone name");
    has(
        &why,
        "customer C-1011: zone \"Laboratorio\" is in exclude_sites",
    );
    has(&why, "customer C-1012: no download/upload rate");
    has(&why, "customer customer[21]: malformed record");
    has(
        &why,
        "IP 100.64.9.7/32 is already claimed by circuit netzur:customer:C-1007",
    );
    has(
        &why,
        "customer C-1010: zone \"Zona Oeste\" is not in the zone list",
    );
    assert_eq!((n, skipped), (16, 7), "{why:#?}");
    // Zone capacities as given (LibreQoS multiplied them by the overhead factor), else the
    // generated_pn defaults (LibreQoS: 0); stable ids.
    let tree: serde_json::Value = serde_json::from_str(net).expect("json");
    assert_eq!(tree["Zona Norte"]["downloadBandwidthMbps"], 1000.0);
    assert_eq!(tree["Zona Norte"]["id"], "netzur:zone:17");
    assert_eq!(tree["Zona Sur"]["downloadBandwidthMbps"], 500.0);
    assert_eq!(tree["Zona Sur"]["id"], "netzur:zone:18");
    let c = rows(csv, "netzur:customer:C-1003")[0];
    assert!(
        c.contains(",Zona Norte,netzur:zone:17,") && c.contains(",2001:db8:9::/56,"),
        "{c}"
    );
    assert!(
        c.ends_with(",107.8,21.56,110,22,"),
        "100/20 × 1.1, min 98 %: {c}"
    );
    assert!(rows(csv, "netzur:customer:C-1006")[0].contains("\"100.64.9.6, 100.64.9.106\""));
    assert!(rows(csv, "netzur:customer:C-1009")[0].starts_with("netzur:customer:C-1009,C-1009,"));
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wispgate() {
    let srv = server::start(
        data::anyone,
        Default::default(),
        Some(data::wispgate_post()),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[wispgate_integration]\nenable_wispgate = true\nwispgate_api_token = \"{}\"\nwispgate_api_url = \"{}\"\n",
        data::WISPGATE_TOKEN,
        srv.url
    );
    let config = common::config(dir.path(), &tables);
    let (n, skipped, why) = ok(&config).await;
    let got = files(dir.path());
    golden("wispgate", &got);
    let csv = &got.1;
    assert_eq!(got.0.trim(), "{}");
    has(&why, "row row[23]: malformed record");
    has(&why, "row[22]: no Circuit ID");
    has(&why, "circuit C-4 row[21]: a device without IPv4 or IPv6");
    has(
        &why,
        "IP 100.64.30.7/32 is already claimed by circuit wispgate:circuit:C-7",
    );
    assert_eq!((n, skipped), (19, 4), "{why:#?}");
    // The circuit's own name (LibreQoS used the id); two devices; rates as delivered with
    // fractions kept; a missing upload max falls back to the upload min (LibreQoS put it in
    // the download max).
    let c3 = rows(csv, "wispgate:circuit:C-3");
    assert_eq!(c3.len(), 2);
    assert!(c3[0].starts_with("wispgate:circuit:C-3,María Rodríguez,wispgate:device:D-3,"));
    assert!(rows(csv, "wispgate:circuit:C-5")[0].ends_with(",25,5,50,5,"));
    assert!(rows(csv, "wispgate:circuit:C-6")[0].ends_with(",10,5,12.5,10,"));
    assert!(rows(csv, "wispgate:circuit:C-9")[0].contains(",2001:db8:30::/56,"));
    assert!(
        rows(csv, "wispgate:circuit:C-10")[0].contains(",wispgate:device:C-10:1,"),
        "stable device ids"
    );
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
    let bad = common::config(dir.path(), &tables.replace(data::WISPGATE_TOKEN, "nope"));
    assert!(format!("{:?}", run_enabled(&bad, true).await.outcomes[0].result).contains("401"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powercode() {
    let srv = server::start(
        data::anyone,
        Default::default(),
        Some(data::powercode_post()),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[powercode_integration]\nenable_powercode = true\npowercode_api_key = \"{}\"\npowercode_api_url = \"{}\"\n",
        data::POWERCODE_KEY,
        srv.url
    );
    let config = common::config(dir.path(), &tables);
    let (n, skipped, why) = ok(&config).await;
    let got = files(dir.path());
    golden("powercode", &got);
    let csv = &got.1;
    has(&why, "customer 1041: status \"Inactive\"");
    has(&why, "customer 1042: no equipment with an IP address");
    has(&why, "customer 1047: no equipment");
    has(&why, "equipment 5508: no known service with rates");
    has(&why, "customer customer[20]: malformed record");
    has(
        &why,
        "IP 100.64.20.6/32 is already claimed by circuit powercode:customer:1045:service:79",
    );
    assert_eq!((n, skipped), (15, 7), "{why:#?}");
    // Two services: two circuits at their own rates (LibreQoS kept the last one's).
    let a = rows(csv, "powercode:customer:1043:service:77")[0];
    let b = rows(csv, "powercode:customer:1043:service:80")[0];
    assert!(
        a.ends_with(",24.5,4.9,25,5,") && b.ends_with(",294,49,300,50,"),
        "{a}\n{b}"
    );
    assert!(rows(csv, "powercode:customer:1044:service:78")[0].contains(",Morales Hermanos S.A.,"));
    assert!(rows(csv, "powercode:customer:1050:service:78")[0].contains(",,2001:db8:20::/56,"));
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonar() {
    use lqos_integrations::testkit::sonar_data;
    let srv = server::start(
        sonar_data::auth,
        Default::default(),
        Some(sonar_data::post()),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[sonar_integration]\nenable_sonar = true\nsonar_api_key = \"{}\"\nsonar_api_url = \"{}\"\nactive_status_ids = [\"\"]\nrecurring_service_rates = [{{enabled = true, service_name = \"fiber 100\", download_mbps = 100.0, upload_mbps = 100.0}}]\n",
        sonar_data::KEY,
        srv.url
    );
    let config = common::config(dir.path(), &tables);
    let (n, skipped, why) = ok(&config).await;
    let got = files(dir.path());
    golden("sonar", &got);
    let csv = &got.1;
    has(&why, "account 4402: no address");
    has(&why, "account 4406: no DATA service");
    has(&why, "account 4409: address ignored");
    has(&why, "account[20]: malformed record");
    has(
        &why,
        "IP 100.64.12.8/32 is already claimed by circuit sonar:account:4407",
    );
    has(&why, "imported flat");
    assert_eq!((n, skipped), (17, 5), "{why:#?}");
    // Every page was read (accounts 4416..4419 are on the third).
    assert_eq!(rows(csv, "sonar:account:4419").len(), 1);
    assert!(
        rows(csv, "sonar:account:4405")[0].ends_with(",98,98,100,100,"),
        "recurring rate"
    );
    assert!(rows(csv, "sonar:account:4403")[1].contains(",sonar:account-ip-assignments:4403,"));
    assert_eq!(rows(csv, "sonar:account:4404").len(), 2);
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
}
