//! The real binary: exit codes, the dry-run output contract, and bad inputs reported, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn etc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

/// A working directory with the bundled example and a config pointing at it.
fn example_dir(extra_queues: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["ShapedDevices.csv", "network.json", "lqos_overrides.json"] {
        std::fs::copy(etc().join(f), dir.path().join(f)).unwrap();
    }
    let conf = format!(
        "lqos_directory = \".\"\nstate_directory = \"state\"\n[bridge]\nto_internet = \"lqt-absent0\"\nto_network = \"lqt-absent1\"\n[queues]\ndefault_sqm = \"pfifo\"\ndownlink_bandwidth_mbps = 10000\nuplink_bandwidth_mbps = 10000\n{extra_queues}"
    );
    std::fs::write(dir.path().join("lqos.conf"), conf).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lqos-scheduler"))
        .arg("--config")
        .arg(dir.join("lqos.conf"))
        .args(args)
        .env_remove("LQOS_CONFIG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn dry_run_prints_tc_batch_then_mappings_and_a_summary() {
    let dir = example_dir("override_available_queues = 2\n");
    let out = run(dir.path(), &["refresh", "--dry-run"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let (tc, maps) = stdout
        .split_once("# ip mappings: prefix cpu classid direction circuit_id\n")
        .expect("mappings header");
    assert!(
        tc.starts_with("qdisc replace dev lqt-absent1 root handle 7fff: mq\n"),
        "{tc}"
    );
    assert!(tc.contains("qdisc add dev lqt-absent1 parent 7fff:2 handle 2: htb\n"));
    let lines: Vec<Vec<&str>> = maps.lines().map(|l| l.splitn(5, ' ').collect()).collect();
    assert!(lines.len() > 60, "{} mapping lines", lines.len());
    for l in &lines {
        assert_eq!(l.len(), 5, "{l:?}");
        assert!(l[0].parse::<ipnet::IpNet>().is_ok(), "{l:?}");
        assert!(l[1].parse::<u32>().unwrap() < 2);
        assert!(
            tc.contains(&format!(" classid {} htb ", l[2])),
            "class {} of {l:?} is created",
            l[2]
        );
        assert!(l[3] == "download" || l[3] == "upload");
    }
    assert!(stderr.contains("plan: 36 circuits"), "{stderr}");
    assert!(
        stderr.contains("queues: 2 per direction (override_available_queues)"),
        "{stderr}"
    );
    assert!(stderr.contains("timings: read+validate"), "{stderr}");
    // A dry run changes no state: the one file it writes is the rebalance preview.
    let state = dir.path().join("state");
    let written: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, [lqos_plan::REBALANCE_PREVIEW_FILE]);
    let preview = lqos_plan::RebalancePreview::load(&state).unwrap();
    assert_eq!((preview.generation, preview.dry_run), (None, true));
    assert_eq!((preview.queues, preview.moves_total), (2, 0), "{preview:?}");
    assert!(
        stderr.contains("rebalance preview: `refresh --rebalance` would move 0 of"),
        "{stderr}"
    );
    // An applied plan's preview is not replaced by a dry run's.
    let applied = lqos_plan::RebalancePreview {
        generation: Some(5),
        dry_run: false,
        ..preview
    };
    applied.save(&state).unwrap();
    let out = run(dir.path(), &["refresh", "--dry-run"]);
    assert!(out.status.success());
    assert_eq!(lqos_plan::RebalancePreview::load(&state).unwrap(), applied);
    assert!(
        text(&out.stderr).contains("rebalance preview not written"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dry_run_without_interfaces_uses_the_cpu_count() {
    let dir = example_dir("");
    let out = run(dir.path(), &["refresh", "--dry-run", "--debug"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("CPUs (interfaces absent: dry run)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("info: plan:"),
        "--debug shows planner notes: {stderr}"
    );
}

#[test]
fn refresh_without_dry_run_refuses_absent_interfaces_before_contacting_lqosd() {
    let dir = example_dir("override_available_queues = 1\n");
    let out = run(dir.path(), &["refresh"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("interface \"lqt-absent0\" does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_passes_the_example_and_fails_on_quarantines() {
    let dir = example_dir("");
    let out = run(dir.path(), &["validate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("valid: 36 circuits valid, 0 quarantined"),
        "{}",
        text(&out.stderr)
    );

    let csv = std::fs::read_to_string(dir.path().join("ShapedDevices.csv")).unwrap();
    let broken = csv.replacen(",100,20,", ",100,lots,", 1);
    assert_ne!(broken, csv);
    std::fs::write(dir.path().join("ShapedDevices.csv"), broken).unwrap();
    let out = run(dir.path(), &["validate"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"lots\": Upload Max Mbps: expected a rate in Mbps greater than 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("INVALID: 35 circuits valid, 1 quarantined"),
        "{stderr}"
    );
    // A quarantined circuit does not stop the refresh of the others.
    let out = run(dir.path(), &["refresh", "--dry-run"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("1 quarantined"));
}

#[test]
fn rejected_inputs_exit_1_with_every_error_and_no_plan() {
    let dir = example_dir("");
    std::fs::write(
        dir.path().join("network.json"),
        "{\"A\": {\"downloadBandwidthMbps\": 0}}",
    )
    .unwrap();
    let out = run(dir.path(), &["refresh", "--dry-run"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no plan printed");
    assert!(
        stderr.contains("network.json at $[\"A\"][\"downloadBandwidthMbps\"]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("network.json at $[\"A\"][\"uploadBandwidthMbps\"]"),
        "{stderr}"
    );
    assert!(stderr.contains("the last good plan stays live"), "{stderr}");
}

#[test]
fn missing_and_broken_config_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("lqos.conf"), "[bridge]\nto_internet = 5\n").unwrap();
    let out = run(dir.path(), &["validate"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("lqos.conf:2:15"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}
