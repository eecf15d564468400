//! The previous plan's class ids, kept in `state_directory` for stable ids across rebuilds.

use lqos_config::{Diagnostic, Diagnostics, Location, Severity};
use lqos_plan::{ClassIdState, CLASS_ID_STATE_FILE};
use std::path::Path;

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
}
