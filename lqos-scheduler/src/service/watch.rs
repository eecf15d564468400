//! Noticing manual edits of the input files: their size and modification time, polled once a
//! second, and a refresh once they have been still for [`SETTLE`] (an editor or a script that
//! writes in several steps triggers one refresh, not several).
//!
//! Polling three files once a second costs nothing and sees every way a file gets replaced
//! (in-place writes, rename over, copies across file systems), which inotify-style watching of
//! a file (not its directory) misses.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long the files must stay unchanged before a refresh starts.
pub const SETTLE: Duration = Duration::from_secs(2);

use lqos_config::{file_stamp as stamp, FileStamp as Stamp};

/// The input files and what they looked like when last seen.
#[derive(Debug)]
pub struct InputWatch {
    files: Vec<(PathBuf, Stamp)>,
    /// When a change was last seen, while one is pending.
    pending: Option<Instant>,
}

impl InputWatch {
    pub fn new(files: Vec<PathBuf>) -> Self {
        let files = files.into_iter().map(|f| {
            let s = stamp(&f);
            (f, s)
        });
        Self {
            files: files.collect(),
            pending: None,
        }
    }

    /// Looks at the files (call it about once a second); true when a change has settled and a
    /// refresh is due.
    pub fn poll(&mut self, now: Instant) -> bool {
        for (path, last) in &mut self.files {
            let s = stamp(path);
            if s != *last {
                *last = s;
                self.pending = Some(now);
            }
        }
        match self.pending {
            Some(t) if now.duration_since(t) >= SETTLE => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }

    /// A refresh ran for another reason: whatever was pending is covered.
    pub fn covered(&mut self) {
        for (path, last) in &mut self.files {
            *last = stamp(path);
        }
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_triggers_one_refresh_once_it_has_settled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("ShapedDevices.csv");
        std::fs::write(&f, "a").expect("write");
        let mut w = InputWatch::new(vec![f.clone(), dir.path().join("absent.json")]);
        let t0 = Instant::now();
        assert!(!w.poll(t0), "nothing changed");
        std::fs::write(&f, "ab").expect("edit");
        assert!(!w.poll(t0), "seen, not settled");
        std::fs::write(&f, "abc").expect("second write of the same edit");
        assert!(!w.poll(t0 + Duration::from_secs(1)), "still moving");
        assert!(w.poll(t0 + Duration::from_secs(1) + SETTLE), "settled");
        assert!(!w.poll(t0 + Duration::from_secs(10)), "once");
        std::fs::write(dir.path().join("absent.json"), "{}").expect("a file appears");
        assert!(!w.poll(t0 + Duration::from_secs(11)));
        w.covered();
        assert!(
            !w.poll(t0 + Duration::from_secs(20)),
            "a refresh for another reason covered it"
        );
    }
}
