//! Applier-side fencing for fleet plans (docs/fleet.md): the last applied [`Fence`] is kept in
//! `state_directory/lqosd/fence.json` (written atomically once a plan is live), so a plan
//! from a deposed leader or a duplicate delivery is refused even after a restart. Every
//! fenced submission is also logged as one JSON line in `fence-log.jsonl` (what the fleet
//! tests' checker reads).

use lqos_bus::Fence;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a fenced plan is, compared with the last one applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceCheck {
    /// Newer: apply it.
    Fresh,
    /// The one applied last: nothing to do.
    Duplicate,
    /// Older than this one: refuse.
    Stale(Fence),
}

/// The last applied fence and counters, for status pages.
#[derive(Debug)]
pub struct FenceStore {
    dir: PathBuf,
    last: Option<Fence>,
    /// Plans refused as stale since start.
    pub refused: u64,
    /// Duplicate deliveries ignored since start.
    pub duplicates: u64,
}

impl FenceStore {
    /// Reads the remembered fence; an unreadable file is reported (the store then starts
    /// empty: a fenced plan is applied, which is what the last one was anyway).
    pub fn open(state_directory: &Path) -> (Self, Option<String>) {
        let dir = state_directory.join("lqosd");
        let path = dir.join("fence.json");
        let (last, warning) = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
            Err(e) => (None, Some(format!("cannot read {}: {e}", path.display()))),
            Ok(bytes) => match serde_json::from_slice::<Fence>(&bytes) {
                Ok(f) => (Some(f), None),
                Err(e) => (None, Some(format!("{} is corrupt: {e}", path.display()))),
            },
        };
        let store = Self {
            dir,
            last,
            refused: 0,
            duplicates: 0,
        };
        (store, warning)
    }

    pub fn last(&self) -> Option<Fence> {
        self.last
    }

    /// Compares `fence` with the last applied one (counting refusals and duplicates).
    pub fn check(&mut self, fence: Fence) -> FenceCheck {
        match self.last {
            Some(last) if fence < last => {
                self.refused += 1;
                FenceCheck::Stale(last)
            }
            Some(last) if fence == last => {
                self.duplicates += 1;
                FenceCheck::Duplicate
            }
            _ => FenceCheck::Fresh,
        }
    }

    /// Remembers `fence` as applied (temp file, fsync, rename).
    pub fn record(&mut self, fence: Fence) -> Result<(), FenceError> {
        let path = self.dir.join("fence.json");
        let tmp = self.dir.join("fence.json.tmp");
        let err = |source| FenceError::Write {
            path: path.clone(),
            source,
        };
        let bytes = serde_json::to_vec(&fence).unwrap_or_default();
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        self.last = Some(fence);
        Ok(())
    }

    /// Appends one line to `fence-log.jsonl`: `outcome` is `applied`, `unchanged` (the plan was
    /// already live; the fence is recorded), `duplicate`, `stale` or `rejected`. Best effort.
    pub fn log(&self, fence: Fence, outcome: &str, plan_hash: Option<&str>) {
        let line = serde_json::json!({
            "unix_ms": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            "token": fence.token,
            "generation": fence.generation,
            "outcome": outcome,
            "plan_hash": plan_hash,
        });
        let path = self.dir.join("fence-log.jsonl");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot log the fenced plan");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(token: u64, generation: u64) -> Fence {
        Fence { token, generation }
    }

    #[test]
    fn the_last_fence_survives_a_restart_and_orders_plans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, w) = FenceStore::open(dir.path());
        assert_eq!((s.last(), w), (None, None));
        assert_eq!(s.check(f(5, 1)), FenceCheck::Fresh);
        s.record(f(5, 2)).expect("record");
        let (mut s, _) = FenceStore::open(dir.path());
        assert_eq!(s.last(), Some(f(5, 2)));
        assert_eq!(s.check(f(5, 2)), FenceCheck::Duplicate);
        assert_eq!(s.check(f(5, 1)), FenceCheck::Stale(f(5, 2)));
        assert_eq!(s.check(f(4, 9)), FenceCheck::Stale(f(5, 2)));
        assert_eq!(s.check(f(6, 1)), FenceCheck::Fresh);
        assert_eq!((s.refused, s.duplicates), (2, 1));
    }

    #[test]
    fn a_corrupt_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lqosd")).expect("mkdir");
        std::fs::write(dir.path().join("lqosd/fence.json"), "{").expect("write");
        let (s, w) = FenceStore::open(dir.path());
        assert_eq!(s.last(), None);
        assert!(w.is_some_and(|w| w.contains("corrupt")));
    }
}
