//! The bundled example in etc/ must stay valid and clean: it is documentation.

use lqos_config::{load_inputs, Config, Interfaces, Severity};
use std::path::PathBuf;

fn etc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

#[test]
fn example_config_loads_without_warnings() {
    let (c, d) = Config::load(&etc().join("lqos.conf")).unwrap_or_else(|e| panic!("{e}"));
    assert!(d.is_empty(), "{d}");
    assert!(matches!(c.interfaces, Interfaces::Bridge { .. }));
}

#[test]
fn example_inputs_are_valid_realistic_and_clean() {
    let (mut c, _) = Config::load(&etc().join("lqos.conf")).unwrap();
    c.lqos_directory = etc();
    let loaded = load_inputs(&c).unwrap_or_else(|e| panic!("{e}\n{}", e.diagnostics));
    let d = &loaded.diagnostics;
    assert_eq!(
        d.count(Severity::Quarantine) + d.count(Severity::Warning),
        0,
        "{d}"
    );
    let i = &loaded.inputs;
    assert!(
        (20..=50).contains(&i.circuits.len()),
        "{} circuits",
        i.circuits.len()
    );
    assert!(
        i.circuits.iter().any(|c| c.parent.is_none()),
        "one unparented circuit"
    );
    assert!(
        i.circuits.iter().any(|c| c.devices.len() > 1),
        "a multi-device circuit"
    );
    let ips = || {
        i.circuits
            .iter()
            .flat_map(|c| &c.devices)
            .flat_map(|d| &d.ips)
    };
    assert!(ips().any(|n| n.addr().is_ipv6()) && ips().any(|n| n.addr().is_ipv4()));
    assert!(
        ips().any(|n| n.addr().is_ipv4() && n.prefix_len() < 32),
        "a business prefix"
    );
    assert!(
        i.network.nodes.iter().any(|n| n.is_virtual),
        "a virtual node"
    );
    assert!(
        i.circuits.iter().any(|c| c.sqm.is_some()),
        "the sqm column in use"
    );
}
