//! The live plan on disk (`state_directory/lqosd/live-plan.bin`), so that a restarted lqosd knows
//! what the kernel holds without rebuilding it, plus a marker that says an apply was under way
//! (a crash mid-apply means the kernel matches neither plan: rebuild from the saved one).
//!
//! A plan that came as a delta is saved as that delta, appended to `live-deltas.bin` (each
//! record a generation and a [`PlanDelta`] against the plan before it): a one-circuit change
//! writes and fsyncs a few hundred bytes instead of the whole plan. Loading patches the saved
//! plan with every record in turn (each checks its base and its result's hash). A full plan
//! is saved whole and empties the journal, and so is a delta once the journal holds
//! [`MAX_JOURNAL_RECORDS`] records or [`MAX_JOURNAL_BYTES`].

use crate::apply::Live;
use lqos_plan::{PlanDelta, QueuePlan};
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

/// [`Saved`] for one delta of the journal, by reference.
#[derive(Serialize)]
struct RecordRef<'a> {
    generation: u64,
    delta: &'a PlanDelta,
}

#[derive(Deserialize)]
struct Record {
    generation: u64,
    delta: PlanDelta,
}

/// Records the journal holds at most before the next plan is saved whole.
pub const MAX_JOURNAL_RECORDS: usize = 64;
/// Bytes the journal holds at most before the next plan is saved whole.
pub const MAX_JOURNAL_BYTES: usize = 1 << 20;

/// What is staged, to commit.
#[derive(Debug)]
enum Staged {
    Whole { live: (u64, u64) },
    Delta { live: (u64, u64), journal: Vec<u8> },
}

/// Where lqosd keeps its state.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// Generation and hash of the plan the committed files hold; `None`: unknown (nothing
    /// saved, or a journal with a record that does not apply), so the next plan goes whole.
    on_disk: Option<(u64, u64)>,
    /// The committed journal's bytes, and how many records they hold.
    journal: Vec<u8>,
    records: usize,
    staged: Option<Staged>,
}

impl StateDir {
    pub fn new(state_directory: &Path) -> Self {
        Self {
            dir: state_directory.join("lqosd"),
            on_disk: None,
            journal: Vec::new(),
            records: 0,
            staged: None,
        }
    }

    fn plan_path(&self) -> PathBuf {
        self.dir.join("live-plan.bin")
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("live-deltas.bin")
    }

    fn staged_journal_path(&self) -> PathBuf {
        self.dir.join("next-deltas.bin")
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

    /// Writes the plan about to be applied (generation and hash `live`) next to the saved one
    /// (fsynced), before the kernel is touched: a plan that cannot be saved (disk full,
    /// read-only) is refused while the previous one is live, and [`StateDir::commit`] cannot
    /// run out of space afterwards. With the `delta` it came as, against the plan on disk, only
    /// the journal grows (see the module docs).
    pub fn stage(
        &mut self,
        live: (u64, u64),
        plan: &QueuePlan,
        delta: Option<&PlanDelta>,
    ) -> Result<(), StateError> {
        self.discard();
        let journaled = delta.filter(|d| {
            self.on_disk == Some((d.base_generation, d.base_hash))
                && self.records < MAX_JOURNAL_RECORDS
                && self.journal.len() < MAX_JOURNAL_BYTES
        });
        let (path, bytes) = match journaled {
            Some(delta) => {
                let record = RecordRef {
                    generation: live.0,
                    delta,
                };
                let journal = postcard::to_extend(&record, self.journal.clone())
                    .unwrap_or_else(|_| self.journal.clone());
                (self.staged_journal_path(), journal)
            }
            None => {
                let bytes = postcard::to_stdvec(&SavedRef {
                    generation: live.0,
                    plan,
                })
                .unwrap_or_default();
                (self.staged_path(), bytes)
            }
        };
        let written = self.write_synced(&path, &bytes);
        if written.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        written?;
        self.staged = Some(match journaled {
            Some(_) => Staged::Delta {
                live,
                journal: bytes,
            },
            None => Staged::Whole { live },
        });
        Ok(())
    }

    /// The staged plan becomes the saved one (a rename: no space needed).
    pub fn commit(&mut self) -> Result<(), StateError> {
        let rename = |from: PathBuf, to: PathBuf| {
            std::fs::rename(from, &to).map_err(|source| StateError::Write { path: to, source })
        };
        match self.staged.take() {
            Some(Staged::Whole { live }) => {
                self.on_disk = None;
                rename(self.staged_path(), self.plan_path())?;
                // A journal left behind by a crash right here fails its base check at load.
                let _ = std::fs::remove_file(self.journal_path());
                (self.journal, self.records, self.on_disk) = (Vec::new(), 0, Some(live));
            }
            Some(Staged::Delta { live, journal }) => {
                self.on_disk = None;
                rename(self.staged_journal_path(), self.journal_path())?;
                (self.journal, self.on_disk) = (journal, Some(live));
                self.records += 1;
            }
            None => {}
        }
        Ok(())
    }

    /// Drops a staged plan that was not applied.
    pub fn discard(&mut self) {
        if self.staged.take().is_some() {
            let _ = std::fs::remove_file(self.staged_path());
            let _ = std::fs::remove_file(self.staged_journal_path());
        }
    }

    /// The saved live plan, patched with the journal; `Ok(None)` when there is none.
    pub fn load(&mut self) -> Result<Option<Live>, StateError> {
        let path = self.plan_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let saved: Saved =
            postcard::from_bytes(&bytes).map_err(|source| StateError::Corrupt { path, source })?;
        let mut live = Live::new(saved.generation, saved.plan);
        self.on_disk = Some((live.generation, live.hash()));
        let journal = std::fs::read(self.journal_path()).unwrap_or_default();
        let mut rest = journal.as_slice();
        while !rest.is_empty() {
            let patched = postcard::take_from_bytes::<Record>(rest)
                .ok()
                .and_then(|(r, after)| {
                    r.delta.check_base(live.generation, live.hash()).ok()?;
                    let plan = r.delta.patch_unverified(&live.plan).ok()?;
                    let hashes = r.delta.verify(&plan, &live.hashes).ok()?;
                    Some((r.generation, plan, hashes, after))
                });
            let Some((generation, plan, hashes, after)) = patched else {
                tracing::warn!(
                    generation = live.generation,
                    "live-deltas.bin holds a record that does not apply: the saved plan is taken as it stood before it"
                );
                // The next plan is saved whole, replacing the journal.
                self.on_disk = None;
                break;
            };
            live = Live {
                generation,
                hashes,
                plan,
            };
            self.records += 1;
            rest = after;
        }
        if self.on_disk.is_some() {
            self.on_disk = Some((live.generation, live.hash()));
            self.journal = journal;
        }
        Ok(Some(live))
    }

    /// Saves the live plan atomically (staged, then renamed).
    pub fn save(&mut self, live: &Live) -> Result<(), StateError> {
        self.stage((live.generation, live.hash()), &live.plan, None)?;
        self.commit()
    }

    /// Removes the saved plan (teardown).
    pub fn forget(&mut self) {
        let _ = std::fs::remove_file(self.plan_path());
        let _ = std::fs::remove_file(self.journal_path());
        let _ = std::fs::remove_file(self.built_path());
        let _ = std::fs::remove_file(self.marker_path());
        let _ = std::fs::remove_file(self.staged_path());
        let _ = std::fs::remove_file(self.staged_journal_path());
        (self.on_disk, self.staged) = (None, None);
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

    /// Not fsynced: the marker matters after lqosd dies with the kernel's tree left behind,
    /// when the page cache still holds it; after a power loss the tree is gone anyway and the
    /// saved plan is rebuilt (an fsync here cost a few ms of every apply).
    pub fn mark_applying(&self) -> Result<(), StateError> {
        let path = self.marker_path();
        let err = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        std::fs::write(&path, b"lqosd was applying a plan\n").map_err(err)
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

    fn live(generation: u64, plan: QueuePlan) -> Live {
        Live::new(generation, plan)
    }

    #[test]
    fn saves_loads_and_detects_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateDir::new(dir.path());
        assert!(s.load().expect("none yet").is_none());
        let live = live(9, empty_plan());
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
        let mut s = StateDir::new(dir.path());
        let hash = plan_hash(&empty_plan());
        s.save(&live(1, empty_plan())).expect("save");
        s.stage((2, hash), &empty_plan(), None).expect("stage");
        assert_eq!(s.load().expect("load").map(|l| l.generation), Some(1));
        s.discard();
        assert_eq!(s.load().expect("load").map(|l| l.generation), Some(1));
        s.stage((3, hash), &empty_plan(), None).expect("stage");
        s.commit().expect("commit");
        assert_eq!(s.load().expect("load"), Some(live(3, empty_plan())));
    }

    /// A plan with `n` mappings that differ by `salt`.
    fn plan(n: u32, salt: u32) -> QueuePlan {
        let mut p = empty_plan();
        p.queues = 1;
        p.mappings = (0..n)
            .map(|i| lqos_plan::IpMapping {
                prefix: ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                    0x6440_0000 + i,
                ))),
                cpu: u32::from(i == salt),
                download: lqos_plan::ClassId::new(1, 2),
                upload: lqos_plan::ClassId::new(2, 2),
                circuit_id: "c".into(),
            })
            .collect();
        p
    }

    #[test]
    fn deltas_are_journaled_and_loaded_back_and_the_journal_is_compacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateDir::new(dir.path());
        let mut now = live(1, plan(1_000, 0));
        s.save(&now).expect("save");
        let whole = std::fs::metadata(dir.path().join("lqosd/live-plan.bin"))
            .expect("saved")
            .len();
        for g in 2..=5u64 {
            let next = live(g, plan(1_000, g as u32));
            let delta = PlanDelta::between(now.generation, &now.plan, &next.plan);
            s.stage((next.generation, next.hash()), &next.plan, Some(&delta))
                .expect("stage");
            s.commit().expect("commit");
            now = next;
        }
        let journal = std::fs::metadata(dir.path().join("lqosd/live-deltas.bin"))
            .expect("journal")
            .len();
        assert!(
            journal < whole / 10,
            "journal {journal} bytes, plan {whole}"
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("lqosd/live-plan.bin"))
                .expect("saved")
                .len(),
            whole,
            "the whole plan was not written again"
        );
        // A restarted lqosd gets the last plan, and goes on journaling on top of it.
        let mut again = StateDir::new(dir.path());
        assert_eq!(again.load().expect("load"), Some(now.clone()));
        let next = live(6, plan(1_000, 6));
        let delta = PlanDelta::between(5, &now.plan, &next.plan);
        again
            .stage((6, next.hash()), &next.plan, Some(&delta))
            .expect("stage");
        again.commit().expect("commit");
        assert_eq!(
            StateDir::new(dir.path()).load().expect("load"),
            Some(next.clone())
        );
        // A delta against another base than the saved plan's is saved whole.
        let other = live(7, plan(10, 0));
        let stale = PlanDelta::between(4, &now.plan, &other.plan);
        again
            .stage((7, other.hash()), &other.plan, Some(&stale))
            .expect("stage");
        again.commit().expect("commit");
        assert!(!dir.path().join("lqosd/live-deltas.bin").exists());
        assert_eq!(StateDir::new(dir.path()).load().expect("load"), Some(other));
    }

    #[test]
    fn a_journal_record_that_does_not_apply_ends_the_journal_and_the_next_plan_goes_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateDir::new(dir.path());
        let first = live(1, plan(100, 0));
        s.save(&first).expect("save");
        let second = live(2, plan(100, 1));
        let delta = PlanDelta::between(1, &first.plan, &second.plan);
        s.stage((2, second.hash()), &second.plan, Some(&delta))
            .expect("stage");
        s.commit().expect("commit");
        // Garbage after the good record: the plan stands as the good record left it.
        let path = dir.path().join("lqosd/live-deltas.bin");
        let mut bytes = std::fs::read(&path).expect("journal");
        bytes.extend_from_slice(b"\x07\xff\xff");
        std::fs::write(&path, bytes).expect("write");
        let mut again = StateDir::new(dir.path());
        assert_eq!(again.load().expect("load"), Some(second.clone()));
        let third = live(3, plan(100, 2));
        let delta = PlanDelta::between(2, &second.plan, &third.plan);
        again
            .stage((3, third.hash()), &third.plan, Some(&delta))
            .expect("stage");
        again.commit().expect("commit");
        assert!(!path.exists(), "saved whole");
        assert_eq!(StateDir::new(dir.path()).load().expect("load"), Some(third));
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
