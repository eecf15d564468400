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
    #[error("another lqosd (pid {holder}) runs with state_directory {dir}: only one may run per configuration")]
    Locked { dir: PathBuf, holder: String },
}

/// An error with its causes on one line (`cannot write X: No space left on device`), for
/// answers on the bus where only text travels.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(Serialize, Deserialize)]
struct Saved {
    generation: u64,
    plan: QueuePlan,
}

/// [`Saved`] by reference: the same bytes without cloning the plan.
#[derive(Serialize)]
struct SavedRef<'a> {
    generation: u64,
    plan: &'a QueuePlan,
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

    fn staged_path(&self) -> PathBuf {
        self.dir.join("next-plan.bin")
    }

    /// Takes the per-configuration lock (an exclusive `flock` on the state directory itself,
    /// which works on a read-only file system too); held until the returned file is dropped.
    /// The kernel drops it however lqosd dies. Fails when another lqosd holds it.
    pub fn lock(&self) -> Result<std::fs::File, StateError> {
        let err = |source| StateError::Write {
            path: self.dir.clone(),
            source,
        };
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir).map_err(err)?;
        }
        let dir = std::fs::File::open(&self.dir).map_err(err)?;
        match dir.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(self.dir.join("lqosd.pid"))
                    .map(|p| p.trim().to_owned())
                    .unwrap_or_else(|_| "unknown".into());
                return Err(StateError::Locked {
                    dir: self.dir.clone(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(err(source)),
        }
        // For the operator's eyes (and the refusal message) only: the lock is the flock.
        let _ = std::fs::write(
            self.dir.join("lqosd.pid"),
            format!("{}\n", std::process::id()),
        );
        Ok(dir)
    }

    /// Writes the plan about to be applied next to the saved one (fsynced), before the kernel
    /// is touched: a plan that cannot be saved (disk full, read-only) is refused while the
    /// previous one is live, and [`StateDir::commit`] cannot run out of space afterwards.
    pub fn stage(&self, generation: u64, plan: &QueuePlan) -> Result<(), StateError> {
        let bytes = postcard::to_stdvec(&SavedRef { generation, plan }).unwrap_or_default();
        let path = self.staged_path();
        let written = self.write_synced(&path, &bytes);
        if written.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        written
    }

    /// The staged plan becomes the saved one (a rename: no space needed).
    pub fn commit(&self) -> Result<(), StateError> {
        std::fs::rename(self.staged_path(), self.plan_path()).map_err(|source| StateError::Write {
            path: self.plan_path(),
            source,
        })
    }

    /// Drops a staged plan that was not applied.
    pub fn discard(&self) {
        let _ = std::fs::remove_file(self.staged_path());
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

    /// Saves the live plan atomically (staged, then renamed).
    pub fn save(&self, live: &Live) -> Result<(), StateError> {
        self.stage(live.generation, &live.plan)?;
        self.commit()
    }

    /// Removes the saved plan (teardown).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(self.plan_path());
        let _ = std::fs::remove_file(self.built_path());
        let _ = std::fs::remove_file(self.marker_path());
        self.discard();
    }

    fn built_path(&self) -> PathBuf {
        self.dir.join("lazy-built.json")
    }

    /// Saves which circuits have their queue built (lazy queues), so that a restart can
    /// recognise the kernel's tree and adopt it.
    pub fn save_built(&self, ids: &[&str]) -> Result<(), StateError> {
        let json = serde_json::to_vec(ids).unwrap_or_default();
        self.write_atomic(&self.built_path(), &json)
    }

    /// The circuits saved by [`StateDir::save_built`]; none when there is no (readable) file.
    pub fn load_built(&self) -> Vec<String> {
        std::fs::read(self.built_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
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
        let tmp = path.with_extension("tmp");
        let written = self.write_synced(&tmp, bytes);
        if written.is_err() {
            // A half-written temp file only takes space.
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        std::fs::rename(&tmp, path).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        use std::io::Write;
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let mut f = std::fs::File::create(path).map_err(err)?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err)
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

    #[test]
    fn a_staged_plan_replaces_the_saved_one_only_when_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StateDir::new(dir.path());
        let live = |generation| Live {
            generation,
            hash: plan_hash(&empty_plan()),
            plan: empty_plan(),
        };
        s.save(&live(1)).expect("save");
        s.stage(2, &empty_plan()).expect("stage");
        assert_eq!(s.load().expect("load").map(|l| l.generation), Some(1));
        s.discard();
        assert_eq!(s.load().expect("load").map(|l| l.generation), Some(1));
        s.stage(3, &empty_plan()).expect("stage");
        s.commit().expect("commit");
        assert_eq!(s.load().expect("load"), Some(live(3)));
    }

    #[test]
    fn only_one_lqosd_holds_a_state_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StateDir::new(dir.path());
        let held = s.lock().expect("first");
        let e = s.lock().expect_err("second").to_string();
        assert!(
            e.contains(&format!("another lqosd (pid {})", std::process::id())),
            "{e}"
        );
        drop(held);
        s.lock().expect("free again");
    }
}
