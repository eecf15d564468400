//! The scheduler with `[uisp_integration]` against the UISP test API: `integration test uisp`
//! prints what would be imported and writes nothing; `refresh` imports, plans from the
//! imported files, and on a failing API keeps them and says why; an integration that is not
//! due is not fetched again.

use lqos_integrations::testkit::{self, server::Mode, uisp_data};
use std::path::Path;
use std::process::{Command, Output};

fn setup(url: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = format!(
        "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"lqt-absent0\"\nto_network = \"lqt-absent1\"\n\
         [queues]\ndefault_sqm = \"pfifo\"\ndry_run = true\ngenerated_pn_download_mbps = 500\ngenerated_pn_upload_mbps = 500\n\
         [lqos_integrations]\nrequest_timeout_secs = 2\nretries = 0\n\
         [uisp_integration]\nenable_uisp = true\ntoken = \"{t}\"\nurl = \"{url}\"\nstrategy = \"full\"\nsuspended_strategy = \"ignore\"\n{extra}",
        d = dir.path().display(),
        t = uisp_data::TOKEN
    );
    std::fs::write(dir.path().join("lqos.conf"), conf).expect("conf");
    dir
}

fn scheduler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lqos-scheduler"))
        .arg("--config")
        .arg(dir.join("lqos.conf"))
        .args(args)
        .env_remove("LQOS_CONFIG")
        .output()
        .expect("run")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn integration_test_prints_and_refresh_imports_then_keeps_the_last_good_files() {
    let srv = testkit::start_background(uisp_data::auth, uisp_data::routes(), None);
    let dir = setup(&srv.url, "");
    let out = scheduler(dir.path(), &["integration", "test", "uisp"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    for want in [
        "uisp: fetched and mapped in",
        "nothing was written",
        "ShapedDevices.csv: 21 circuits",
        "validation: ok (21 circuits valid",
        "uisp skipped site c06: suspended (suspended_strategy = \"ignore\")",
        "uisp skipped circuit uisp:site:c12: IP 100.64.10.11/32 is already claimed",
        "uisp skipped site c08: no device with an IP address",
        "  uisp:site:c01,Chidi Okafor,uisp:device:cpe01,Okafor-CPE,North-LTU,",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    assert!(
        !dir.path().join("ShapedDevices.csv").exists(),
        "a test writes nothing"
    );

    let out = scheduler(dir.path(), &["refresh", "--dry-run"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("imported from uisp: 21 circuits, 6 records skipped"),
        "{stderr}"
    );
    assert!(
        stdout.contains("100.64.10.24/32"),
        "the plan is built from the import"
    );
    let csv = std::fs::read(dir.path().join("ShapedDevices.csv")).expect("written");
    let net = std::fs::read(dir.path().join("network.json")).expect("written");
    let status =
        std::fs::read_to_string(dir.path().join("state/integrations/status.json")).expect("status");
    assert!(status.contains("\"last_good_circuits\": 21"), "{status}");
    let (config, _) = lqos_config::Config::load(&dir.path().join("lqos.conf")).expect("config");
    let reports = lqos_scheduler::imports::reports(&config);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(
        (r.name.as_str(), r.ok, r.imported, r.skipped),
        ("uisp", true, 21, 6),
        "{r:?}"
    );
    let last = r.last_run_unix.expect("ran");
    assert_eq!(
        r.next_run_unix,
        Some(last + 30 * 60),
        "default interval: 30 minutes"
    );
    assert_eq!(r.busy_ms_last_hour, r.last_duration_ms.expect("timed"));

    // Not due (30 minutes): not fetched again, even with the API down.
    srv.set_mode(Mode::Fail500);
    let hits = srv.state.lock().expect("lock").hits.len();
    let out = scheduler(dir.path(), &["refresh", "--dry-run"]);
    assert!(out.status.success());
    assert_eq!(
        srv.state.lock().expect("lock").hits.len(),
        hits,
        "not due: no request"
    );
    // Asked for now: the failure is reported, the refresh goes on with the last good files.
    let out = scheduler(dir.path(), &["refresh", "--dry-run", "--import-now"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("integration uisp failed: GET ")
            && stderr.contains("answered HTTP 500")
            && stderr.contains("full log: "),
        "{stderr}"
    );
    assert!(stdout.contains("100.64.10.24/32"));
    assert_eq!(
        std::fs::read(dir.path().join("ShapedDevices.csv")).expect("csv"),
        csv
    );
    assert_eq!(
        std::fs::read(dir.path().join("network.json")).expect("net"),
        net
    );
    let out = scheduler(dir.path(), &["integration", "test", "uisp"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("HTTP 500"));
}
