#![allow(dead_code)]
//! Shared by the integration tests: the test API server, the invented data, configs.

pub use lqos_integrations::testkit::server;

use lqos_config::Config;
use std::path::Path;

/// A config with `tables` whose lqos_directory and state_directory are under `dir`.
pub fn config(dir: &Path, tables: &str) -> Config {
    let text = format!(
        "lqos_directory = \"{d}/lqos\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"eth0\"\nto_network = \"eth1\"\n[queues]\ngenerated_pn_download_mbps = 500\ngenerated_pn_upload_mbps = 500\n[lqos_integrations]\nrequest_timeout_secs = 1\nconnect_timeout_secs = 1\nrun_timeout_secs = 4\nretries = 1\nmax_response_mb = 1\n{tables}",
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("lqos")).expect("mkdir");
    let (c, d) = Config::parse(&text, "lqos.conf", dir);
    assert!(!d.rejects(), "{d}");
    c.expect("config")
}

use server::{Mode, Server};

/// network.json and ShapedDevices.csv as written in `dir/lqos`.
pub fn files(dir: &Path) -> (String, String) {
    let read = |f: &str| std::fs::read_to_string(dir.join("lqos").join(f)).unwrap_or_default();
    (read("network.json"), read("ShapedDevices.csv"))
}

/// Compares with tests/golden/NAME.{json,csv}; `UPDATE_GOLDEN=1` rewrites them.
pub fn golden(name: &str, got: &(String, String)) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (ext, text) in [("json", &got.0), ("csv", &got.1)] {
        let path = dir.join(format!("{name}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, text).expect("write golden");
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            *text,
            want,
            "{} differs from the golden file",
            path.display()
        );
    }
}

/// The rows of `circuit`.
pub fn rows<'a>(csv: &'a str, circuit: &str) -> Vec<&'a str> {
    csv.lines()
        .filter(|l| l.starts_with(&format!("{circuit},")))
        .collect()
}

/// The issues of the first outcome as text.
pub fn reasons(report: &lqos_integrations::Report) -> Vec<String> {
    report.outcomes[0]
        .issues
        .iter()
        .map(|i| i.to_string())
        .collect()
}

/// Runs the enabled integration, which must succeed: circuits imported, records skipped, and
/// the issues as text.
pub async fn ok(config: &Config) -> (usize, usize, Vec<String>) {
    let report = lqos_integrations::run_enabled(config, true).await;
    let why = reasons(&report);
    match &report.outcomes[0].result {
        Some(Ok((n, s))) => (*n, *s, why),
        other => panic!("{other:?}"),
    }
}

/// Some issue in `why` contains `want`.
pub fn has(why: &[String], want: &str) {
    assert!(why.iter().any(|w| w.contains(want)), "{want:?} in {why:#?}");
}

/// Every failure mode of the API, one after the other: each fails the integration with a
/// message containing the expected words, writes a log, and leaves the files byte-identical.
pub async fn every_failure_keeps_the_files(srv: &Server, config: &Config, dir: &Path) {
    for (mode, want) in [
        (Mode::Unauthorized, "HTTP 401"),
        (Mode::Fail500, "HTTP 500"),
        (Mode::Hang, "t"),
        (Mode::Truncated, "decoding response body"),
        (Mode::Oversized, "larger than"),
    ] {
        let before = files(dir);
        srv.set_mode(mode);
        let started = std::time::Instant::now();
        let report = lqos_integrations::run_enabled(config, true).await;
        srv.set_mode(Mode::Ok);
        let out = &report.outcomes[0];
        let err = match &out.result {
            Some(Err(e)) => e.to_string(),
            other => panic!("{mode:?}: {other:?}"),
        };
        // A hang ends with the request timeout, or the run's hard timeout when the source's
        // own timeout_secs is longer.
        let want = match mode {
            Mode::Hang if err.contains("did not finish within") => "did not finish within",
            Mode::Hang => "timed out",
            _ => want,
        };
        assert!(err.contains(want), "{mode:?}: {err}");
        assert!(!report.written);
        assert_eq!(
            files(dir),
            before,
            "{mode:?}: the last good files stay byte-identical"
        );
        let log = std::fs::read_to_string(out.log.as_ref().expect("a log")).expect("log");
        assert!(log.contains(want), "{log}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{mode:?} took {:?}",
            started.elapsed()
        );
    }
}
