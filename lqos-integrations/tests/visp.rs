//! VISP against its test API on loopback: the bulk list, the per-customer backfill,
//! `onlineUsers`, the IRM parents, a token refused mid-run, a tenant without IRM, and the
//! failure modes leaving the last good files byte-identical.

mod common;

use common::server::{self, Server};
use common::{files, golden, has, ok, rows};
use lqos_integrations::run_enabled;
use lqos_integrations::testkit::visp_data;

async fn start(irm: bool) -> (Server, tempfile::TempDir, lqos_config::Config) {
    let srv = server::start(
        visp_data::auth,
        visp_data::routes(),
        Some(visp_data::post_with(irm)),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tables = format!(
        "[visp_integration]\nenable_visp = true\nclient_id = \"{}\"\nclient_secret = \"s\"\nusername = \"u\"\npassword = \"pw\"\ntoken_url = \"{url}/token\"\ngraphql_url = \"{url}/graphql\"\ntimeout_secs = 10\nonline_users_domain = \"pppoe.example.net\"\n",
        visp_data::CLIENT_ID,
        url = srv.url
    );
    let config = common::config(dir.path(), &tables);
    (srv, dir, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visp() {
    let (srv, dir, config) = start(true).await;
    let (n, skipped, why) = ok(&config).await;
    let got = files(dir.path());
    golden("visp", &got);
    let (net, csv) = &got;
    has(&why, "service 88001: cancelled");
    has(&why, "service 88004: no IPv4 address");
    has(&why, "service 88000: duplicate service number");
    has(&why, "service 88007: no download/upload speed");
    has(&why, "customer customer[20]: malformed record");
    has(
        &why,
        "IP 100.70.1.1/32 is already claimed by circuit visp:service:88000",
    );
    // kbps; the subscriber's address; INACTIVE is still shaped (as LibreQoS).
    assert!(rows(csv, "visp:service:88002")[0].ends_with(",73.5,14.7,75,15,"));
    assert!(rows(csv, "visp:service:88003")[0].contains(",100.70.2.4,"));
    assert_eq!(rows(csv, "visp:service:88008").len(), 1);

    // The backfill: a customer missing from the bulk list costs one query, and a failing
    // one costs only that customer.
    assert!(rows(csv, "visp:service:77021")[0].contains(",100.70.3.1,"));
    assert!(rows(csv, "visp:service:77021")[0].ends_with(",39.2,7.84,40,8,"));
    assert!(rows(csv, "visp:service:77022")[0].contains(",100.70.3.2,"));
    assert!(rows(csv, "visp:service:77023")[0].contains(",100.70.3.3,"));
    has(
        &why,
        "customer 5024: not in the bulk list and no WiFi service",
    );
    has(
        &why,
        "customer 5025: not in the bulk list, and customerServices failed",
    );
    has(&why, "internal resolver error");
    has(&why, "customer 5026 service svc-77026: malformed record");
    assert!(
        !why.iter().any(|w| w.contains("5028")),
        "a cancelled subscriber is not asked"
    );
    // onlineUsers gives an address only where the CRM has none.
    assert!(rows(csv, "visp:service:77027")[0].contains(",100.70.4.27,"));
    has(
        &why,
        "service 77027: address 100.70.4.27/32 from onlineUsers",
    );
    assert!(!csv.contains("100.70.9.9"));

    // IRM: chains of equipment under their sites; the router loses to the radio; the MAC
    // picks between two rows; a loop and an unknown parent leave the circuit flat.
    let tree: serde_json::Value = serde_json::from_str(net).expect("json");
    let nr = &tree["North Ridge"];
    assert_eq!(nr["id"], "visp:site:71");
    assert_eq!(
        nr["children"]["NR Core Router"]["children"]["NR Sector A"]["id"],
        "visp:eq:310"
    );
    assert_eq!(
        tree["Mill Creek"]["children"]["MC Switch"]["children"]["MC AP 1"]["id"],
        "visp:eq:410"
    );
    assert_eq!(
        tree["Lone Pine"]["children"]["Orphan AP"]["id"],
        "visp:eq:600"
    );
    let parent = |c: &str| rows(csv, c)[0].split(',').nth(5).unwrap_or("").to_owned();
    assert_eq!(parent("visp:service:88000"), "visp:eq:310");
    assert_eq!(
        parent("visp:service:88003"),
        "visp:eq:410",
        "by location name"
    );
    assert_eq!(
        parent("visp:service:88009"),
        "visp:eq:410",
        "the radio, not the router"
    );
    assert_eq!(parent("visp:service:88011"), "visp:eq:600");
    assert_eq!(
        parent("visp:service:88014"),
        "visp:eq:311",
        "the MAC decides"
    );
    assert_eq!(
        parent("visp:service:77021"),
        "visp:eq:310",
        "a backfilled circuit"
    );
    assert_eq!(parent("visp:service:88010"), "");
    assert_eq!(parent("visp:service:88012"), "");
    has(
        &why,
        "circuit visp:service:88010: the equipment chain loops at",
    );
    has(
        &why,
        "circuit visp:service:88012: equipment 88888 is not in the equipment list",
    );
    has(&why, "assembly assembly[12]: malformed record");
    assert_eq!((n, skipped), (19, 11), "{why:#?}");
    common::every_failure_keeps_the_files(&srv, &config, dir.path()).await;
}

/// A token refused in the middle of a run is fetched again once; refused again, the run
/// fails clearly and the last good files stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visp_token_refused_mid_run() {
    let (srv, dir, config) = start(true).await;
    srv.revoke(visp_data::TOKEN);
    srv.queue_route("/token", visp_data::token_answer(visp_data::TOKEN));
    srv.set_route("/token", visp_data::token_answer(visp_data::TOKEN2));
    let (n, _, _) = ok(&config).await;
    assert_eq!(n, 19);
    assert_eq!(
        srv.hits_of("/token"),
        2,
        "one token, then one more after the 401"
    );
    let before = files(dir.path());

    srv.revoke(visp_data::TOKEN2);
    let report = run_enabled(&config, true).await;
    let err = match &report.outcomes[0].result {
        Some(Err(e)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(err.contains("refused a freshly fetched token too"), "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert_eq!(
        srv.hits_of("/token"),
        4,
        "fetched again once per run, not in a loop"
    );
    assert_eq!(files(dir.path()), before);
}

/// A tenant without IRM: the equipment queries fail, the import is flat and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visp_without_irm() {
    let (_srv, dir, config) = start(false).await;
    let (n, _, why) = ok(&config).await;
    assert_eq!(n, 19);
    has(&why, "IRM topology (equipmentAssemblies): not imported");
    has(&why, "IRM is not enabled");
    let (net, csv) = files(dir.path());
    assert_eq!(net.trim(), "{}");
    assert!(rows(&csv, "visp:service:88000")[0].contains(",,,,"));
}
