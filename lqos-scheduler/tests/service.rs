//! `lqos-scheduler run` as systemd sees it: the notify protocol on a real datagram socket
//! (`NOTIFY_SOCKET`), the watchdog stopping while the process is wedged (SIGSTOP) and resuming,
//! a manual edit picked up within seconds, one instance per host, SIGTERM.
//! A dry-run configuration: no lqosd is needed for these.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn etc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["ShapedDevices.csv", "network.json", "lqos_overrides.json"] {
        std::fs::copy(etc().join(f), dir.path().join(f)).expect("copy");
    }
    let conf = format!(
        "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"lqt-absent0\"\nto_network = \"lqt-absent1\"\n\
         [queues]\ndefault_sqm = \"pfifo\"\ndownlink_bandwidth_mbps = 10000\nuplink_bandwidth_mbps = 10000\ndry_run = true\n\
         [lqosd]\nbus_socket = \"{d}/bus\"\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("lqos.conf"), conf).expect("conf");
    dir
}

fn start(dir: &Path, notify: Option<&Path>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lqos-scheduler"));
    cmd.arg("--config")
        .arg(dir.join("lqos.conf"))
        .arg("run")
        .env_remove("LQOS_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match notify {
        Some(p) => cmd.env("NOTIFY_SOCKET", p),
        None => cmd.env_remove("NOTIFY_SOCKET"),
    };
    cmd.spawn().expect("start lqos-scheduler run")
}

/// Every datagram that arrives within `window`.
fn messages(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

/// The datagrams up to and including the first that contains `what` (at most `timeout`).
fn until(sock: &UnixDatagram, what: &str, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        let Ok(n) = sock.recv(&mut buf) else { break };
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if out.last().is_some_and(|m| m.contains(what)) {
            break;
        }
    }
    out
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill")
        .success());
}

#[test]
fn notify_watchdog_edits_single_instance_and_sigterm() {
    let dir = setup();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind the notify socket");
    let mut child = start(dir.path(), Some(&sock_path));

    let first = until(&sock, "READY=1", Duration::from_secs(20));
    assert!(
        first.iter().any(|m| m.contains("READY=1")),
        "READY=1 after the first refresh: {first:?}"
    );
    assert!(
        first.iter().any(|m| m.contains("STATUS=refresh ok")),
        "{first:?}"
    );

    let pings = messages(&sock, Duration::from_millis(2500));
    assert!(
        pings.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2,
        "the loop feeds the watchdog: {pings:?}"
    );

    // A wedged process sends nothing (systemd would restart it); it resumes when it runs again.
    signal(&child, "-STOP");
    let _ = messages(&sock, Duration::from_millis(300)); // in flight before the stop
    let wedged = messages(&sock, Duration::from_millis(2500));
    assert!(wedged.is_empty(), "no pings while wedged: {wedged:?}");
    signal(&child, "-CONT");
    assert!(
        messages(&sock, Duration::from_millis(2500))
            .iter()
            .any(|m| m.contains("WATCHDOG=1")),
        "pings resume"
    );

    // Only one scheduler per host.
    let second = start(dir.path(), None).wait_with_output().expect("second");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && err.contains("another lqos-scheduler holds"),
        "{err}"
    );

    // A manual edit is refreshed within seconds, not at the next interval (30 min).
    let csv = dir.path().join("ShapedDevices.csv");
    let text = std::fs::read_to_string(&csv).expect("csv");
    std::fs::write(
        &csv,
        text.replace("Residential 100/20,", "Residential 100/20 (edited),"),
    )
    .expect("edit");
    let edited = Instant::now();
    let after = until(&sock, "STATUS=refresh ok", Duration::from_secs(8));
    let refreshed = after.iter().any(|m| m.contains("STATUS=refresh ok"));
    assert!(
        refreshed,
        "an edit triggers a refresh within seconds: {after:?}"
    );
    assert!(edited.elapsed() < Duration::from_secs(9));

    // The WebUI's "refresh now" leaves a request file: it is taken and a refresh runs at once.
    let request = dir.path().join("state/refresh.request");
    std::fs::write(&request, "requested by ops\n").expect("request");
    let asked = Instant::now();
    let after = until(&sock, "STATUS=refresh ok", Duration::from_secs(5));
    assert!(
        after.iter().any(|m| m.contains("STATUS=refresh ok")),
        "a requested refresh runs: {after:?}"
    );
    assert!(!request.exists(), "the request is taken");
    assert!(asked.elapsed() < Duration::from_secs(5));

    signal(&child, "-TERM");
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
}

#[test]
fn a_broken_edit_is_reported_and_the_service_goes_on() {
    let dir = setup();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    let mut child = start(dir.path(), Some(&sock_path));
    assert!(until(&sock, "READY=1", Duration::from_secs(20))
        .iter()
        .any(|m| m.contains("READY=1")));
    std::fs::write(dir.path().join("network.json"), "{ not json").expect("break it");
    let mut after = until(&sock, "STATUS=last refresh failed", Duration::from_secs(8));
    after.extend(messages(&sock, Duration::from_millis(1500)));
    let failed = after
        .iter()
        .find(|m| m.contains("STATUS=last refresh failed (1 in a row)"));
    assert!(
        failed.is_some_and(|m| m.contains("network.json")),
        "{after:?}"
    );
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("state/logs"))
        .expect("logs")
        .collect();
    assert_eq!(logs.len(), 1, "the full output is kept");
    assert!(
        after.iter().any(|m| m.contains("WATCHDOG=1")),
        "still alive"
    );
    signal(&child, "-TERM");
    assert!(child.wait().expect("wait").success());
}

#[test]
fn sighup_reloads_lqos_conf_and_an_invalid_one_is_kept_out() {
    let dir = setup();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    let child = start(dir.path(), Some(&sock_path));
    assert!(until(&sock, "READY=1", Duration::from_secs(20))
        .iter()
        .any(|m| m.contains("READY=1")));
    let conf = dir.path().join("lqos.conf");
    let good = std::fs::read_to_string(&conf).expect("conf");
    std::fs::write(&conf, "this is [not toml").expect("break");
    signal(&child, "-HUP");
    let after_bad = messages(&sock, Duration::from_secs(3));
    assert!(
        !after_bad.iter().any(|m| m.contains("STATUS=")),
        "an invalid lqos.conf does not trigger a refresh: {after_bad:?}"
    );
    assert!(
        after_bad.iter().any(|m| m.contains("WATCHDOG=1")),
        "and the service goes on: {after_bad:?}"
    );
    std::fs::write(
        &conf,
        good.replace(
            "downlink_bandwidth_mbps = 10000",
            "downlink_bandwidth_mbps = 9000",
        ),
    )
    .expect("fix");
    signal(&child, "-HUP");
    let after_good = until(&sock, "STATUS=refresh ok", Duration::from_secs(10));
    assert!(
        after_good.iter().any(|m| m.contains("STATUS=refresh ok")),
        "a valid reload refreshes: {after_good:?}"
    );
    signal(&child, "-TERM");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("SIGHUP: lqos.conf is invalid") && log.contains("SIGHUP: lqos.conf reloaded"),
        "{log}"
    );
}
