//! The operator's inputs, LibreQoS-compatible: `lqos.conf`, `ShapedDevices.csv`,
//! `network.json` and `lqos_overrides.json`, parsed and validated with every problem reported
//! (file, line or JSON path, value, what was expected).
//!
//! [`load_inputs`] either returns usable inputs (possibly with quarantined circuits and
//! warnings) or rejects them as a whole; a rejected input must never be applied.

pub mod circuits;
pub mod config;
pub mod diagnostics;
pub mod fleet;
pub mod fleet_status;
pub mod flows;
pub mod geo;
pub mod http_import;
pub mod integrations;
pub mod ip_list;
mod json_tree;
pub mod network;
pub mod overrides;
pub mod redact;
pub mod shaped_devices;
pub mod share;
pub mod sqm;
pub mod text_encoding;

pub use circuits::{Circuit, Device};
pub use config::{
    Config, ConfigError, Interfaces, IpRanges, LazyMode, LazyQueues, QueueMode, XdpMode,
};
pub use diagnostics::{Diagnostic, Diagnostics, Location, Severity};
pub use fleet::Fleet;
pub use http_import::HttpImport;
pub use network::{Network, Node};
pub use sqm::{SqmKind, SqmOverride};
pub use text_encoding::{DecodeError, TextEncoding};

use std::path::Path;

pub const SHAPED_DEVICES: &str = "ShapedDevices.csv";
pub const NETWORK_JSON: &str = "network.json";
pub const OVERRIDES_JSON: &str = "lqos_overrides.json";

/// What a file looked like (size, modification time), to notice it changed by polling;
/// `None` when it cannot be read (absent).
pub type FileStamp = Option<(u64, std::time::SystemTime)>;

/// The [`FileStamp`] of `path` now.
pub fn file_stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Validated inputs, ready for the planner.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub network: Network,
    pub circuits: Vec<Circuit>,
    /// Circuits left out because of problems confined to them (see the diagnostics).
    pub quarantined: Vec<String>,
    /// Device rows read (before grouping), for summaries.
    pub device_rows: usize,
}

/// Inputs that can be used, with the warnings and quarantines found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub inputs: Inputs,
    pub diagnostics: Diagnostics,
}

/// The inputs were refused as a whole: nothing may be applied from them.
#[derive(Debug, thiserror::Error)]
#[error("inputs rejected ({} error(s)); the last good plan stays live", .diagnostics.count(Severity::Reject))]
pub struct Rejected {
    pub diagnostics: Diagnostics,
}

/// The texts of the three input files; `overrides` is optional.
pub struct InputTexts<'a> {
    pub shaped_devices: &'a [u8],
    pub network: &'a str,
    pub overrides: Option<&'a str>,
}

/// Reads the input files from `config.lqos_directory` and validates them. ShapedDevices.csv is
/// streamed from disk (never held whole in memory).
pub fn load_inputs(config: &Config) -> Result<Loaded, Rejected> {
    let mut diags = Diagnostics::default();
    let mut cannot = |name: &str, path: &Path, e: std::io::Error| {
        let hint = if name == NETWORK_JSON {
            " (for a flat network, write {})"
        } else {
            ""
        };
        diags.push(Diagnostic::new(
            Severity::Reject,
            name,
            Location::File,
            format!("cannot read {}: {e}{hint}", path.display()),
        ));
    };
    let csv_path = config.shaped_devices_path();
    let csv = std::fs::File::open(&csv_path)
        .and_then(|f| f.metadata().map(|m| (f, m.len() as usize)))
        .map_err(|e| cannot(SHAPED_DEVICES, &csv_path, e))
        .ok();
    let network_path = config.network_json_path();
    let network = std::fs::read_to_string(&network_path)
        .map_err(|e| cannot(NETWORK_JSON, &network_path, e))
        .ok();
    let overrides_path = config.overrides_path();
    let overrides = match std::fs::read_to_string(&overrides_path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            cannot(OVERRIDES_JSON, &overrides_path, e);
            None
        }
    };
    let (Some((csv, size)), Some(network)) = (csv, network) else {
        return Err(Rejected { diagnostics: diags });
    };
    if diags.rejects() {
        return Err(Rejected { diagnostics: diags });
    }
    let (rows, row_diags) = shaped_devices::parse(csv, size, SHAPED_DEVICES);
    let (inputs, found) = validate(
        rows,
        row_diags,
        &network,
        overrides.as_deref(),
        &config.ip_ranges,
    );
    diags.extend(found);
    match inputs {
        Some(inputs) if !diags.rejects() => Ok(Loaded {
            inputs,
            diagnostics: diags,
        }),
        _ => Err(Rejected { diagnostics: diags }),
    }
}

/// Parses and validates the inputs from their texts. `None` when they are rejected.
pub fn parse_inputs(texts: &InputTexts, ranges: &IpRanges) -> (Option<Inputs>, Diagnostics) {
    let bytes = texts.shaped_devices;
    let (rows, row_diags) = shaped_devices::parse(bytes, bytes.len(), SHAPED_DEVICES);
    validate(rows, row_diags, texts.network, texts.overrides, ranges)
}

/// Everything after the CSV is read: topology, overrides, circuits.
fn validate(
    mut rows: Vec<shaped_devices::DeviceRow>,
    row_diags: Diagnostics,
    network_text: &str,
    overrides_text: Option<&str>,
    ranges: &IpRanges,
) -> (Option<Inputs>, Diagnostics) {
    let (mut network, mut diags) = network::parse(network_text, NETWORK_JSON);
    diags.extend(row_diags);
    if let Some(text) = overrides_text {
        let (ov, ov_diags) = overrides::parse(text, OVERRIDES_JSON);
        diags.extend(ov_diags);
        ov.apply_to_network(&mut network, OVERRIDES_JSON, &mut diags);
        ov.apply_to_rows(&mut rows, OVERRIDES_JSON, &mut diags);
    }
    if diags.rejects() {
        return (None, diags);
    }
    let device_rows = rows.len();
    let (circuits, quarantined) =
        circuits::build(rows, &network, ranges, SHAPED_DEVICES, &mut diags);
    if circuits.is_empty() {
        diags.push(Diagnostic::new(Severity::Reject, SHAPED_DEVICES, Location::File,
            format!("no circuit left to shape ({} quarantined): refusing a plan that would un-shape every subscriber", quarantined.len())));
        return (None, diags);
    }
    (
        Some(Inputs {
            network,
            circuits,
            quarantined,
            device_rows,
        }),
        diags,
    )
}
