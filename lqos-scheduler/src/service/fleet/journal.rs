//! The fleet's local records, under `state_directory/fleet/`:
//! - `publications.jsonl`: every publication this box attempted as leader;
//! - `applies.jsonl`: every publication this box tried to apply, and the outcome;
//! - `status.json`: the fleet as this box last saw it (for `lqos status` and the WebUI).
//!
//! One JSON object per line, appended; the fleet tests' checker reads them.

use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn dir(state_directory: &Path) -> PathBuf {
    state_directory.join("fleet")
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Appends `record` (plus `unix_ms`) to `state_directory/fleet/<file>`; best effort.
pub fn append(state_directory: &Path, file: &str, record: &impl Serialize) {
    let mut value = serde_json::to_value(record).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        o.insert("unix_ms".into(), unix_ms().into());
    }
    let dir = dir(state_directory);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(file))
            .and_then(|mut f| writeln!(f, "{value}"))
    });
    if let Err(e) = written {
        tracing::warn!(file, error = %e, "cannot write the fleet journal");
    }
}

/// Writes `status.json` atomically; best effort.
pub fn write_status(state_directory: &Path, status: &impl Serialize) {
    let dir = dir(state_directory);
    let tmp = dir.join("status.json.tmp");
    let bytes = serde_json::to_vec_pretty(status).unwrap_or_default();
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, dir.join("status.json")));
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot write the fleet status");
    }
}
