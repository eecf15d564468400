#![allow(dead_code)]
use lqos_config::{
    parse_inputs, Diagnostic, Diagnostics, InputTexts, Inputs, IpRanges, Location, Severity,
};
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/inputs")
        .join(name)
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

pub fn load(csv: &str, network: &str, overrides: Option<&str>) -> (Option<Inputs>, Diagnostics) {
    load_bytes(csv.as_bytes(), network, overrides)
}

/// [`load`] for a ShapedDevices.csv that is not UTF-8.
pub fn load_bytes(
    csv: &[u8],
    network: &str,
    overrides: Option<&str>,
) -> (Option<Inputs>, Diagnostics) {
    let texts = InputTexts {
        shaped_devices: csv,
        network,
        overrides,
    };
    parse_inputs(&texts, &IpRanges::default())
}

/// The diagnostics at a CSV line.
pub fn at_line(d: &Diagnostics, line: u64) -> Vec<&Diagnostic> {
    d.iter()
        .filter(|x| matches!(x.location, Location::Line { line: l, .. } if l == line))
        .collect()
}

pub fn with(d: &Diagnostics, severity: Severity) -> Vec<&Diagnostic> {
    d.iter().filter(|x| x.severity == severity).collect()
}
