//! The live plan on disk (`state_directory/lqosd/live-plan.bin`), so that a restarted lqosd knows
//! what the kernel holds without rebuilding it, plus a marker that says an apply was under way
//! (a crash mid-apply means the kernel matches neither plan: rebuild from the saved one).

use crate::apply::Live;
use lqos_plan::QueuePlan;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: postcard::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct Saved {
    generation: u64,
    plan: QueuePlan,
}

/// Where lqosd keeps its state.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(state_directory: &Path) -> Self {
        Self {
            dir: state_directory.join("lqosd"),
        }
    }

    fn plan_path(&self) -> PathBuf {
        self.dir.join("live-plan.bin")
    }

    fn marker_path(&self) -> PathBuf {
        self.dir.join("apply-in-progress")
    }

    /// The saved live plan; `Ok(None)` when there is none.
    pub fn load(&self) -> Result<Option<Live>, StateError> {
        let path = self.plan_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let saved: Saved =
            postcard::from_bytes(&bytes).map_err(|source| StateError::Corrupt { path, source })?;
        let hash = crate::apply::plan_hash(&saved.plan);
        Ok(Some(Live {
            generation: saved.generation,
            hash,
            plan: saved.plan,
        }))
    }

    /// Saves the live plan atomically (temp file, fsync, rename).
    pub fn save(&self, live: &Live) -> Result<(), StateError> {
        let saved = Saved {
            generation: live.generation,
            plan: live.plan.clone(),
        };
        let bytes = postcard::to_stdvec(&saved).unwrap_or_default();
        self.write_atomic(&self.plan_path(), &bytes)
    }

    /// Removes the saved plan (teardown).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(self.plan_path());
        let _ = std::fs::remove_file(self.marker_path());
    }

    pub fn mark_applying(&self) -> Result<(), StateError> {
        self.write_atomic(&self.marker_path(), b"lqosd was applying a plan\n")
    }

    pub fn clear_applying(&self) {
        let _ = std::fs::remove_file(self.marker_path());
    }

    /// An apply was cut short by a crash.
    pub fn was_applying(&self) -> bool {
        self.marker_path().exists()
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        use std::io::Write;
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{empty_plan, plan_hash};

    #[test]
    fn saves_loads_and_detects_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StateDir::new(dir.path());
        assert!(s.load().expect("none yet").is_none());
        let live = Live {
            generation: 9,
            hash: plan_hash(&empty_plan()),
            plan: empty_plan(),
        };
        s.save(&live).expect("save");
        assert_eq!(s.load().expect("load"), Some(live));
        s.mark_applying().expect("mark");
        assert!(s.was_applying());
        s.clear_applying();
        assert!(!s.was_applying());
        std::fs::write(dir.path().join("lqosd/live-plan.bin"), b"\xff\xff\xff").expect("corrupt");
        let e = s.load().expect_err("corrupt").to_string();
        assert!(e.contains("live-plan.bin is corrupt"), "{e}");
    }
}
