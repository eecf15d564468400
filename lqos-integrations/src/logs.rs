//! Full reports of failures, kept as `state_directory/logs/<name>-<unix seconds>.log` for the
//! operator (log messages and the service status carry only a preview).

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

/// Temp file in the same directory, fsync, rename: readers see the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("lqos-tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
