//! Each integration's state between runs, in `state_directory/integrations/`: its last good
//! import (`<name>.json`, used while it fails or is not due) and its status (`status.json`:
//! last run, duration, result, counts, next run, the runs of the last hour).

use crate::model::Import;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The window of the busy ratio, in seconds.
pub const BUSY_WINDOW_SECS: u64 = 3600;

/// One integration's status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceStatus {
    pub last_run_unix: Option<u64>,
    pub last_duration_ms: Option<u64>,
    /// "ok", or why the last run failed.
    pub last_result: String,
    pub ok: bool,
    /// Circuits and skipped records of the last run.
    pub imported: usize,
    pub skipped: usize,
    pub next_run_unix: Option<u64>,
    /// Circuits of the last import that was accepted (the suspicious-import guard).
    pub last_good_circuits: Option<usize>,
    /// (start, duration in ms) of the runs that ended in the last hour.
    pub runs: Vec<(u64, u64)>,
}

impl SourceStatus {
    /// Time spent running in the last hour / the hour.
    pub fn busy_ratio(&self, now: u64) -> f64 {
        let from = now.saturating_sub(BUSY_WINDOW_SECS);
        let ms: u64 = self
            .runs
            .iter()
            .filter(|(start, _)| *start >= from)
            .map(|(_, ms)| *ms)
            .sum();
        ms as f64 / (BUSY_WINDOW_SECS * 1000) as f64
    }

    pub fn record_run(&mut self, start: u64, ms: u64) {
        let from = start.saturating_sub(BUSY_WINDOW_SECS);
        self.runs.retain(|(s, _)| *s >= from);
        self.runs.push((start, ms));
        self.last_run_unix = Some(start);
        self.last_duration_ms = Some(ms);
    }
}

/// Every integration's status, by name.
pub type Statuses = BTreeMap<String, SourceStatus>;

pub fn dir(state_directory: &Path) -> PathBuf {
    state_directory.join("integrations")
}

fn status_path(state_directory: &Path) -> PathBuf {
    dir(state_directory).join("status.json")
}

/// The saved statuses (empty when there are none or they cannot be read).
pub fn load(state_directory: &Path) -> Statuses {
    std::fs::read(status_path(state_directory))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save(state_directory: &Path, statuses: &Statuses) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(state_directory))?;
    let text = serde_json::to_vec_pretty(statuses).map_err(std::io::Error::other)?;
    crate::logs::write_atomically(&status_path(state_directory), &text)
}

/// The last good import of `name`, if one was kept.
pub fn last_good(state_directory: &Path, name: &str) -> Option<Import> {
    let bytes = std::fs::read(dir(state_directory).join(format!("{name}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn keep_good(state_directory: &Path, import: &Import) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(state_directory))?;
    let text = serde_json::to_vec(import).map_err(std::io::Error::other)?;
    crate::logs::write_atomically(
        &dir(state_directory).join(format!("{}.json", import.source)),
        &text,
    )
}

/// Held while an integration runs: a second run of the same source (another refresh, a
/// `test` from the WebUI) waits for none and is refused instead.
pub struct RunLock {
    _file: std::fs::File,
}

pub fn try_lock(state_directory: &Path, name: &str) -> std::io::Result<Option<RunLock>> {
    std::fs::create_dir_all(dir(state_directory))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir(state_directory).join(format!("{name}.lock")))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ratio_counts_the_last_hour_only() {
        let mut s = SourceStatus::default();
        s.record_run(1_000, 360_000);
        s.record_run(5_000, 36_000);
        assert!(
            (s.busy_ratio(5_100) - 0.01).abs() < 1e-9,
            "{}",
            s.busy_ratio(5_100)
        );
        assert_eq!(s.runs.len(), 1, "runs older than the hour are dropped");
    }
}
