//! `[flows]` in lqos.conf.
use lqos_config::{Config, Location, Severity};
use std::path::Path;
use std::time::Duration;

const BASE: &str = "[bridge]\nto_internet = \"eth0\"\nto_network = \"eth1\"\n";

fn parse(extra: &str) -> (Option<Config>, lqos_config::Diagnostics) {
    Config::parse(&format!("{BASE}{extra}"), "lqos.conf", Path::new("/etc"))
}

fn keys(d: &lqos_config::Diagnostics, severity: Severity) -> Vec<String> {
    d.iter()
        .filter(|x| x.severity == severity)
        .filter_map(|x| match &x.location {
            Location::Key(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn defaults_without_the_table() {
    let (c, d) = parse("");
    assert!(!d.rejects(), "{d}");
    let f = c.expect("valid").flows;
    assert!(f.enabled);
    assert_eq!((f.max_flows, f.max_circuits), (None, None));
    assert_eq!(f.idle_timeout, Duration::from_secs(30));
    assert_eq!(f.finished_keep, Duration::from_secs(60));
    assert_eq!(f.qoo_profile, "web_browsing");
}

#[test]
fn libreqos_flows_table_is_read_and_netflow_warned() {
    let (c, d) = parse("[flows]\nflow_timeout_seconds = 45\nnetflow_enabled = true\nnetflow_port = 2055\ndo_not_track_subnets = [\"10.0.0.0/8\"]\n");
    assert!(!d.rejects(), "{d}");
    assert_eq!(
        c.expect("valid").flows.idle_timeout,
        Duration::from_secs(45)
    );
    let warned = keys(&d, Severity::Warning);
    assert!(warned.contains(&"flows.netflow_enabled".to_string()), "{d}");
    assert!(
        warned.contains(&"flows.do_not_track_subnets".to_string()),
        "{d}"
    );
}

#[test]
fn lqos_keys() {
    let (c, d) = parse("[flows]\nmax_flows = 4096\nmax_circuits = 1000\nmax_tracked = 5000\nfinished_keep_seconds = 10\nqoo_profile = \"real_time_gaming\"\nqoo_exclude_circuits = [\"sat-1\"]\nenabled = false\n");
    assert!(!d.rejects(), "{d}");
    let f = c.expect("valid").flows;
    assert_eq!((f.max_flows, f.max_circuits), (Some(4096), Some(1000)));
    assert_eq!(f.max_tracked, 5000);
    assert_eq!(f.finished_keep, Duration::from_secs(10));
    assert_eq!(f.qoo_profile, "real_time_gaming");
    assert_eq!(f.qoo_exclude_circuits, ["sat-1"]);
    assert!(!f.enabled);
}

#[test]
fn bad_values_are_rejected_with_their_key() {
    for (extra, key) in [
        ("max_flows = 10", "flows.max_flows"),
        ("max_circuits = 1", "flows.max_circuits"),
        ("flow_timeout_seconds = 0", "flows.flow_timeout_seconds"),
        ("qoo_profile = \"gaming\"", "flows.qoo_profile"),
    ] {
        let (c, d) = parse(&format!("[flows]\n{extra}\n"));
        assert!(c.is_none() || d.rejects(), "accepted: {extra}");
        assert_eq!(keys(&d, Severity::Reject), [key], "{extra}: {d}");
    }
    let (_, d) = parse("[flows]\nqoo_profile = \"gaming\"\n");
    assert!(
        d.to_string().contains("web_browsing"),
        "lists the known profiles: {d}"
    );
}
