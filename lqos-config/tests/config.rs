mod common;
use common::fixture;
use lqos_config::{Config, ConfigError, Interfaces, Location, QueueMode, Severity};
use std::path::Path;

#[test]
fn a_libreqos_v15_file_loads_and_names_what_lqos_ignores() {
    let (c, d) = Config::load(&fixture("libreqos_v15.conf")).expect("LibreQoS v1.5 file accepted");
    assert_eq!(c.lqos_directory, Path::new("/opt/libreqos/src"));
    assert_eq!(
        c.interfaces,
        Interfaces::Bridge {
            to_internet: "eth0".into(),
            to_network: "eth1".into()
        }
    );
    assert_eq!(c.queues.uplink_bandwidth_mbps, 1000.0);
    assert_eq!(c.queues.downlink_bandwidth_mbps, 2000.0);
    assert_eq!(c.queues.generated_pn_upload_mbps, 500.0);
    assert_eq!(c.queues.override_available_queues, None, "0 means auto");
    assert_eq!(c.queues.fast_queues_fq_codel, Some(1000.0));
    assert!(!c.queues.use_binpacking);
    assert_eq!(c.queues.queue_mode, QueueMode::Shape);
    assert_eq!(c.ip_ranges.allow_subnets.len(), 4);
    assert_eq!(c.webserver_listen, ":::9123");
    assert_eq!(c.queue_refresh_interval_mins, 30);
    assert!(d.iter().all(|x| x.severity == Severity::Warning));
    let keys: Vec<String> = d
        .iter()
        .map(|x| match &x.location {
            Location::Key(k) => k.clone(),
            _ => String::new(),
        })
        .collect();
    for k in [
        "version",
        "tuning",
        "usage_stats",
        "bridge.use_xdp_bridge",
        "queues.sudo",
        "uisp_integration",
    ] {
        let i = keys
            .iter()
            .position(|x| x == k || x.starts_with(&format!("{k}.")))
            .unwrap_or_else(|| panic!("{k} not reported: {keys:?}"));
        assert!(
            d.items[i].message.contains("LibreQoS setting not used"),
            "{}",
            d.items[i]
        );
    }
    let typo = d
        .iter()
        .find(|x| {
            x.location == Location::Key("queues_typo_table".into())
                || matches!(&x.location, Location::Key(k) if k.starts_with("queues_typo_table"))
        })
        .expect("typo reported");
    assert!(typo.message.contains("unknown key"), "{typo}");
}

fn parse(text: &str) -> (Option<Config>, lqos_config::Diagnostics) {
    Config::parse(text, "lqos.conf", Path::new("/etc"))
}

#[test]
fn defaults_and_relative_paths() {
    let (c, d) =
        parse("lqos_directory = \"inputs\"\n[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n");
    let c = c.unwrap();
    assert!(d.is_empty(), "{d}");
    assert_eq!(c.lqos_directory, Path::new("/etc/inputs"));
    assert_eq!(c.queues.default_sqm, "cake diffserv4");
    assert_eq!(c.lqosd.bus_socket, Path::new("/run/lqos/bus"));
    assert_eq!(c.queues.generated_pn_download_mbps, 1000.0);
}

#[test]
fn monitor_only_means_observe_and_stick_mode_parses() {
    let (c, _) = parse("[single_interface]\ninterface = \"eth0\"\ninternet_vlan = 2\nnetwork_vlan = 3\n[queues]\nmonitor_only = true\n");
    let c = c.unwrap();
    assert_eq!(c.queues.queue_mode, QueueMode::Observe);
    assert_eq!(
        c.interfaces,
        Interfaces::OnAStick {
            interface: "eth0".into(),
            internet_vlan: 2,
            network_vlan: 3
        }
    );
}

#[test]
fn all_semantic_errors_are_reported_together() {
    let text = "[bridge]\nto_internet = \"a-very-long-interface-name\"\nto_network = \"a-very-long-interface-name\"\n\
                [queues]\nuplink_bandwidth_mbps = -5.0\nqueue_mode = \"fast\"\ndefault_sqm = \"  \"\noverride_available_queues = 512\n\
                [ip_ranges]\nallow_subnets = [\"10.0.0.0/33\"]\n[integration_common]\nqueue_refresh_interval_mins = 0\n";
    let (_, d) = parse(text);
    let keys: Vec<String> = d
        .iter()
        .filter(|x| x.severity == Severity::Reject)
        .map(|x| match &x.location {
            Location::Key(k) => k.clone(),
            _ => "?".into(),
        })
        .collect();
    for k in [
        "bridge.to_internet",
        "bridge.to_network",
        "queues.uplink_bandwidth_mbps",
        "queues.queue_mode",
        "queues.default_sqm",
        "queues.override_available_queues",
        "ip_ranges.allow_subnets",
        "integration_common.queue_refresh_interval_mins",
    ] {
        assert!(
            keys.iter().any(|x| x == k),
            "{k} missing from {keys:?}\n{d}"
        );
    }
}

#[test]
fn text_that_tc_batch_would_split_or_cut_is_refused_in_sqm_and_interface_names() {
    let base = "[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n[queues]\n";
    let (_, d) = parse(&format!(
        "{base}default_sqm = \"pfifo\\nfilter add dev a ingress bpf obj x.o\"\n"
    ));
    assert!(
        d.rejects() && d.to_string().contains("queues.default_sqm"),
        "{d}"
    );
    let (c, d) = parse(&format!(
        "{base}default_sqm = \"cake diffserv4 rtt 100ms\"\n"
    ));
    assert!(c.is_some() && !d.rejects(), "{d}");
    let (_, d) = parse("[bridge]\nto_internet = \"eth#0\"\nto_network = \"b\"\n");
    assert!(
        d.rejects() && d.to_string().contains("bridge.to_internet"),
        "{d}"
    );
}

#[test]
fn toml_syntax_and_type_errors_point_at_the_line() {
    let (c, d) = parse("[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n[queues]\nuplink_bandwidth_mbps = \"lots\"\n");
    assert!(c.is_none());
    assert_eq!(
        d.items[0].location,
        Location::Line {
            line: 5,
            column: Some(25)
        },
        "{d}"
    );
    let (c, d) = parse("[bridge\n");
    assert!(c.is_none());
    assert!(
        matches!(d.items[0].location, Location::Line { line: 1, .. }),
        "{d}"
    );
}

#[test]
fn interfaces_are_required_and_exclusive() {
    let (_, d) = parse("");
    assert!(d.items[0].message.contains("no interfaces"), "{d}");
    let (_, d) = parse("[bridge]\nto_internet=\"a\"\nto_network=\"b\"\n[single_interface]\ninterface=\"c\"\ninternet_vlan=1\nnetwork_vlan=2\n");
    assert!(d.items[0].message.contains("both set"), "{d}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_the_path() {
    let e = Config::load(Path::new("/nonexistent/lqos.conf")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/lqos.conf"));
}

#[test]
fn the_bus_socket_is_the_given_one_or_the_configs() {
    let missing = Path::new("/nonexistent/lqos.conf");
    let given = Config::bus_socket(missing, Some("/tmp/x.sock".into())).expect("not read");
    assert_eq!(given, Path::new("/tmp/x.sock"));
    let e = Config::bus_socket(missing, None).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    let (c, _) = Config::load(&fixture("libreqos_v15.conf")).expect("fixture");
    let from_file = Config::bus_socket(&fixture("libreqos_v15.conf"), None).expect("read");
    assert_eq!(from_file, c.lqosd.bus_socket);
}

#[test]
fn http_import_is_parsed_and_its_mistakes_reported() {
    let base = "[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n";
    let (c, d) = parse(&format!("{base}[http_import]\nshaped_devices_url = \"https://crm.example/sd.csv\"\nbearer_token = \"t\"\n"));
    let h = c.expect("valid").http_import.expect("enabled");
    assert_eq!(
        (h.connect_timeout.as_secs(), h.timeout.as_secs()),
        (5, 30),
        "{d}"
    );
    assert_eq!(h.bearer_token.as_deref(), Some("t"));
    let (c, _) = parse(&format!("{base}[http_import]\nenabled = false\n"));
    assert!(
        c.expect("valid").http_import.is_none(),
        "enabled = false switches it off"
    );
    let (_, d) = parse(&format!("{base}[http_import]\nshaped_devices_url = \"ftp://x/sd.csv\"\nnetwork_url = \"file:///n.json\"\ntimeout_secs = 0\nca_file = \"/nonexistent/ca.pem\"\n"));
    let keys: Vec<String> = d
        .iter()
        .filter(|x| x.severity == Severity::Reject)
        .map(|x| format!("{:?}", x.location))
        .collect();
    for k in [
        "http_import.shaped_devices_url",
        "http_import.network_url",
        "http_import.timeout_secs",
        "http_import.ca_file",
    ] {
        assert!(
            keys.iter().any(|x| x.contains(k)),
            "{k} missing from {keys:?}"
        );
    }
    let (_, d) = parse(&format!("{base}[http_import]\nbearer_token = \"t\"\n"));
    assert!(
        d.iter()
            .any(|x| x.severity == Severity::Reject && x.to_string().contains("required")),
        "{d}"
    );
}

#[test]
fn lazy_queues_take_libreqos_keys_and_refuse_unknown_modes() {
    use lqos_config::LazyMode;
    let base = "[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n[queues]\n";
    let (c, d) = parse(base);
    let lazy = c.unwrap().queues.lazy;
    assert!(d.is_empty(), "{d}");
    assert_eq!(lazy.mode, LazyMode::No);
    assert_eq!(lazy.expire, Some(std::time::Duration::from_secs(600)));
    assert_eq!(lazy.threshold_bytes, 0);
    for (text, mode) in [
        ("No", LazyMode::No),
        ("Htb", LazyMode::Htb),
        ("full", LazyMode::Full),
    ] {
        let (c, d) = parse(&format!("{base}lazy_queues = \"{text}\"\nlazy_expire_seconds = 0\nlazy_threshold_bytes = 1500\n"));
        let lazy = c.unwrap().queues.lazy;
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            (lazy.mode, lazy.expire, lazy.threshold_bytes),
            (mode, None, 1500)
        );
    }
    let (_, d) = parse(&format!("{base}lazy_queues = \"Yes\"\n"));
    let bad = d
        .iter()
        .find(|x| x.location == Location::Key("queues.lazy_queues".into()))
        .expect("lazy_queues refused");
    assert_eq!(bad.severity, Severity::Reject);
    assert!(bad.message.contains("\"Htb\""), "{bad}");
}
