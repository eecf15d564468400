//! What the scheduler keeps in `state_directory`: the previous plan's class ids (stable ids
//! across rebuilds) and the last plan lqosd applied from it (the base of the next delta).

use lqos_config::{Diagnostic, Diagnostics, Location, Severity};
use lqos_plan::{ClassIdState, QueuePlan, CLASS_ID_STATE_FILE};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the last plan lqosd applied, in `state_directory`.
pub const SUBMITTED_PLAN_FILE: &str = "submitted-plan.bin";

/// The first bytes of [`SUBMITTED_PLAN_FILE`]: its format (postcard of [`Submitted`]) and
/// version; any other file is ignored (the next refresh sends the full plan).
const SUBMITTED_MAGIC: &[u8; 8] = b"LQOSSP1\n";

/// The last plan lqosd answered `Applied` (or `Unchanged`) to, as lqosd holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub generation: u64,
    /// [`lqos_plan::plan_hash`] of `plan`.
    pub hash: u64,
    pub plan: QueuePlan,
}

/// [`Submitted`] by reference: the same bytes without cloning the plan.
#[derive(Serialize)]
struct SubmittedRef<'a> {
    generation: u64,
    hash: u64,
    plan: &'a QueuePlan,
}

/// The last applied plan; `None` when there is none or it cannot be read (the refresh then
/// sends the full plan, which is always correct).
pub fn load_submitted(state_dir: &Path) -> Option<Submitted> {
    let bytes = std::fs::read(state_dir.join(SUBMITTED_PLAN_FILE)).ok()?;
    let body = bytes.strip_prefix(SUBMITTED_MAGIC)?;
    postcard::from_bytes(body).ok()
}

/// Keeps `plan` as the base of the next delta: written to a temp file and renamed, so a
/// reader sees the old file or the new one. Not fsynced: after a crash the file may be
/// missing or empty, and a missing base only costs one full plan.
pub fn save_submitted(
    state_dir: &Path,
    generation: u64,
    hash: u64,
    plan: &QueuePlan,
) -> std::io::Result<()> {
    let bytes = postcard::to_extend(
        &SubmittedRef {
            generation,
            hash,
            plan,
        },
        SUBMITTED_MAGIC.to_vec(),
    )
    .map_err(std::io::Error::other)?;
    let tmp = state_dir.join(format!(".{SUBMITTED_PLAN_FILE}.tmp"));
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, state_dir.join(SUBMITTED_PLAN_FILE))
}

/// Reads the saved class ids. Missing is normal (first run); unreadable or corrupt is a warning
/// and the plan starts afresh (ids may change once) rather than failing.
pub fn load(state_dir: &Path, notes: &mut Diagnostics) -> Option<ClassIdState> {
    let path = state_dir.join(CLASS_ID_STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(Diagnostic::new(
                Severity::Warning,
                &path.display().to_string(),
                Location::File,
                format!("cannot read previous class ids ({e}); assigning afresh"),
            ));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            notes.push(Diagnostic::new(
                Severity::Warning,
                &path.display().to_string(),
                Location::Line {
                    line: e.line() as u64,
                    column: Some(e.column() as u64),
                },
                format!("corrupt previous class ids ({e}); assigning afresh"),
            ));
            None
        }
    }
}

/// Writes the class ids atomically (temp file + rename) so a crash never leaves half a file.
pub fn save(state_dir: &Path, state: &ClassIdState) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join(CLASS_ID_STATE_FILE);
    let tmp = state_dir.join(format!(".{CLASS_ID_STATE_FILE}.tmp"));
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut notes = Diagnostics::default();
        assert_eq!(load(dir.path(), &mut notes), None);
        assert!(notes.is_empty(), "a first run is not a problem");
        let mut s = ClassIdState {
            queues: 2,
            ..Default::default()
        };
        s.circuits.insert("C1".into(), (1, 7));
        save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path(), &mut notes), Some(s));
        std::fs::write(dir.path().join(CLASS_ID_STATE_FILE), "{not json").unwrap();
        assert_eq!(load(dir.path(), &mut notes), None);
        assert_eq!(notes.count(Severity::Warning), 1, "{notes}");
    }

    #[test]
    fn the_submitted_plan_round_trips_and_anything_else_is_no_base() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_submitted(dir.path()), None);
        let plan = QueuePlan {
            queues: 3,
            interfaces: Vec::new(),
            mappings: Vec::new(),
        };
        save_submitted(dir.path(), 42, lqos_plan::plan_hash(&plan), &plan).unwrap();
        let back = load_submitted(dir.path()).expect("saved");
        assert_eq!((back.generation, back.plan), (42, plan.clone()));
        assert_eq!(back.hash, lqos_plan::plan_hash(&plan));
        let path = dir.path().join(SUBMITTED_PLAN_FILE);
        for junk in [&b""[..], b"LQOSSP1\n\xff", b"LQOSSP0\n"] {
            std::fs::write(&path, junk).unwrap();
            assert_eq!(load_submitted(dir.path()), None, "{junk:?}");
        }
    }
}
