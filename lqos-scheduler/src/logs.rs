//! Full reports of failures, kept as `state_directory/logs/<name>-<unix seconds>.log` for the
//! operator (the log message and the service status carry only a preview).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `text` to a new log named after `name`; `None` if it cannot be written (the
/// preview still says what happened).
pub fn keep(state_directory: &Path, name: &str, text: &str) -> Option<PathBuf> {
    let dir = state_directory.join("logs");
    let path = dir.join(format!("{name}-{}.log", unix_now()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(&path, text).ok()?;
    Some(path)
}
