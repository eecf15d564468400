//! Reading the input files only when no one is writing them. An editor or a script that
//! rewrites ShapedDevices.csv in place (truncate, then write) leaves a half file on disk for a
//! while; planning from it would un-shape every circuit that is not written yet. So the files
//! are read once they have been still for [`QUIET`], and their size and modification time are
//! compared before and after the read: a change means the read is thrown away and tried again.

use lqos_config::{
    file_stamp, load_inputs, Config, Diagnostic, Diagnostics, FileStamp, Loaded, Location,
    Rejected, Severity,
};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// How long the input files must have been unchanged before they are read.
pub const QUIET: Duration = Duration::from_secs(1);
/// Longest wait for the files to go quiet, per attempt.
const MAX_WAIT: Duration = Duration::from_secs(15);
/// Reads tried before giving up.
const ATTEMPTS: usize = 3;

fn files(config: &Config) -> Vec<PathBuf> {
    vec![
        config.shaped_devices_path(),
        config.network_json_path(),
        config.overrides_path(),
    ]
}

fn stamps(files: &[PathBuf]) -> Vec<FileStamp> {
    files.iter().map(|f| file_stamp(f)).collect()
}

/// Whether every file was last modified at least [`QUIET`] ago by the wall clock (a file
/// dated in the future, after the clock was stepped back, does not count as quiet).
fn old_enough(stamps: &[FileStamp]) -> bool {
    let now = SystemTime::now();
    stamps
        .iter()
        .flatten()
        .all(|(_, modified)| now.duration_since(*modified).is_ok_and(|age| age >= QUIET))
}

/// Waits (at most [`MAX_WAIT`]) until the files are quiet: old enough, or unchanged for
/// [`QUIET`] of monotonic time while watched. Returns their stamps.
fn wait_quiet(files: &[PathBuf]) -> Vec<FileStamp> {
    let started = Instant::now();
    let mut last = stamps(files);
    if old_enough(&last) {
        return last;
    }
    let mut still_since = Instant::now();
    while started.elapsed() < MAX_WAIT {
        std::thread::sleep(Duration::from_millis(100));
        let now = stamps(files);
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= QUIET {
            break;
        }
    }
    last
}

/// [`load_inputs`] on files nobody is writing: waits for them to be quiet, reads, and reads
/// again when they changed during the read. Refuses when they never held still.
pub fn load_steady(config: &Config) -> Result<Loaded, Rejected> {
    let files = files(config);
    for attempt in 1..=ATTEMPTS {
        let before = wait_quiet(&files);
        let result = load_inputs(config);
        if stamps(&files) == before {
            return result;
        }
        eprintln!(
            "warning: the input files changed while they were read (attempt {attempt} of {ATTEMPTS}); reading them again"
        );
    }
    let mut diagnostics = Diagnostics::default();
    diagnostics.push(Diagnostic::new(
        Severity::Reject,
        lqos_config::SHAPED_DEVICES,
        Location::File,
        format!(
            "the input files kept changing while they were read ({ATTEMPTS} attempts): is something writing them in place? Nothing was planned; the next refresh reads them again"
        ),
    ));
    Err(Rejected { diagnostics })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dated_in_the_future_are_not_quiet_by_date() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("ShapedDevices.csv");
        std::fs::write(&f, "x").expect("write");
        let set = |t: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(&f)
                .and_then(|h| h.set_modified(t))
                .expect("set mtime")
        };
        set(SystemTime::now() - Duration::from_secs(5));
        assert!(old_enough(&stamps(std::slice::from_ref(&f))));
        set(SystemTime::now());
        assert!(
            !old_enough(&stamps(std::slice::from_ref(&f))),
            "just written"
        );
        // The clock was stepped back: the file looks written an hour from now.
        set(SystemTime::now() + Duration::from_secs(3600));
        assert!(!old_enough(&stamps(std::slice::from_ref(&f))));
        let started = Instant::now();
        wait_quiet(std::slice::from_ref(&f));
        assert!(
            started.elapsed() >= QUIET && started.elapsed() < MAX_WAIT,
            "watched for {QUIET:?} of monotonic time instead"
        );
    }
}
