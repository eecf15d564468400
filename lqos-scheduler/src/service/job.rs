//! One refresh, run as a child process (`lqos-scheduler --config PATH refresh`) with a hard
//! timeout: whatever hangs inside it (an integration, lqosd's answer) is killed with it and
//! cannot stall the service loop. Jobs never overlap: the loop waits for each one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::process::Command;

/// How long one refresh may take, lqosd's apply included (a first build of 100k circuits on a
/// small machine takes minutes; see docs/benchmarks.md).
pub const JOB_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A refresh says how far it got with lines `progress: N/M what` on stderr.
pub const PROGRESS_PREFIX: &str = "progress:";

/// A refresh's progress: step `n` of `of`, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub step: u8,
    pub of: u8,
    pub what: String,
}

impl Progress {
    /// Parses a `progress: N/M what` line.
    pub fn parse(line: &str) -> Option<Progress> {
        let rest = line.strip_prefix(PROGRESS_PREFIX)?.trim();
        let (frac, what) = rest.split_once(' ').unwrap_or((rest, ""));
        let (n, m) = frac.split_once('/')?;
        Some(Progress {
            step: n.parse().ok()?,
            of: m.parse().ok()?,
            what: what.to_owned(),
        })
    }

    /// Done before this step, in percent.
    pub fn percent(&self) -> u8 {
        (u16::from(self.step.saturating_sub(1)) * 100 / u16::from(self.of.max(1))) as u8
    }
}

/// Lines of a failed job's output kept in the status and the log message.
const PREVIEW_LINES: usize = 8;

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub ok: bool,
    /// One line for `STATUS=`: what was applied, or why it failed.
    pub summary: String,
    /// The last lines of the output of a failed job.
    pub preview: Vec<String>,
    /// The whole output of a failed job, kept under `state_directory/logs/`.
    pub log: Option<PathBuf>,
    pub duration: Duration,
    /// `integration NAME failed: ...` lines: the refresh went on with the last good inputs.
    pub integration_failures: Vec<String>,
}

/// Runs one refresh of `config` and waits for it (at most `timeout`); each progress line it
/// prints goes to `on_progress` as it comes.
pub async fn refresh(
    exe: &Path,
    config: &Path,
    state_directory: &Path,
    timeout: Duration,
    on_progress: tokio::sync::mpsc::UnboundedSender<Progress>,
) -> JobOutcome {
    refresh_with(exe, config, &[], state_directory, timeout, on_progress).await
}

/// [`refresh_with`] without progress reports (the fleet's publish and apply jobs).
pub async fn refresh_quietly(
    exe: &Path,
    config: &Path,
    args: &[std::ffi::OsString],
    state_directory: &Path,
) -> JobOutcome {
    let (tx, _progress) = tokio::sync::mpsc::unbounded_channel();
    refresh_with(exe, config, args, state_directory, JOB_TIMEOUT, tx).await
}

/// [`refresh`] with more arguments after `refresh` (the fleet's publish and apply jobs).
pub async fn refresh_with(
    exe: &Path,
    config: &Path,
    args: &[std::ffi::OsString],
    state_directory: &Path,
    timeout: Duration,
    on_progress: tokio::sync::mpsc::UnboundedSender<Progress>,
) -> JobOutcome {
    let started = std::time::Instant::now();
    let mut cmd = Command::new(exe);
    cmd.arg("--config")
        .arg(config)
        .arg("refresh")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when the
    // service dies, so a killed service never leaves a refresh running on its own.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (ok, output, why) = match cmd.spawn() {
        Err(e) => (
            false,
            String::new(),
            format!("cannot start {}: {e}", exe.display()),
        ),
        Ok(mut child) => {
            let stderr = child.stderr.take();
            let stdout = child.stdout.take();
            let run = async move {
                // stderr line by line (progress as it comes); stdout whole.
                let err_lines = async {
                    let mut text = String::new();
                    if let Some(e) = stderr {
                        let mut lines = tokio::io::BufReader::new(e).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if let Some(p) = Progress::parse(&line) {
                                let _ = on_progress.send(p);
                            }
                            text.push_str(&line);
                            text.push('\n');
                        }
                    }
                    text
                };
                let out_all = async {
                    let mut buf = Vec::new();
                    if let Some(mut o) = stdout {
                        let _ = o.read_to_end(&mut buf).await;
                    }
                    buf
                };
                let (err_text, out_bytes) = tokio::join!(err_lines, out_all);
                let status = child.wait().await;
                (status, err_text + &String::from_utf8_lossy(&out_bytes))
            };
            match tokio::time::timeout(timeout, run).await {
                // The child is killed when the timed-out future drops it (kill_on_drop).
                Err(_) => (
                    false,
                    String::new(),
                    format!(
                        "refresh did not finish within {} s and was killed",
                        timeout.as_secs()
                    ),
                ),
                Ok((Err(e), _)) => (
                    false,
                    String::new(),
                    format!("waiting for the refresh failed: {e}"),
                ),
                Ok((Ok(status), text)) => {
                    let why = if status.success() {
                        String::new()
                    } else {
                        format!("refresh failed ({status})")
                    };
                    (status.success(), text, why)
                }
            }
        }
    };
    let duration = started.elapsed();
    let lines: Vec<&str> = output.lines().collect();
    let integration_failures: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("integration "))
        .map(|l| (*l).to_owned())
        .collect();
    if ok {
        let mut summary = lines
            .iter()
            .rev()
            .find(|l| {
                l.starts_with("applied ")
                    || l.starts_with("unchanged")
                    || l.starts_with("published ")
            })
            .map_or("refresh ok".to_owned(), |l| (*l).to_owned());
        // An integration that failed does not fail the refresh (the last good inputs were
        // used), but the status says so.
        for l in lines.iter().filter(|l| l.starts_with("integration ")) {
            summary.push_str("; ");
            summary.push_str(l);
        }
        return JobOutcome {
            ok,
            summary,
            preview: Vec::new(),
            log: None,
            duration,
            integration_failures,
        };
    }
    let preview: Vec<String> = lines
        .iter()
        .rev()
        .take(PREVIEW_LINES)
        .rev()
        .map(|l| (*l).to_owned())
        .collect();
    let log = crate::logs::keep(state_directory, "refresh", &format!("{why}\n{output}"));
    let first_error = lines
        .iter()
        .find(|l| l.contains("error") || l.contains("rejected") || l.contains("cannot"))
        .map_or(why.clone(), |l| format!("{why}: {l}"));
    JobOutcome {
        ok,
        summary: first_error,
        preview,
        log,
        duration,
        integration_failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("fake-scheduler");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[tokio::test]
    async fn success_failure_and_a_hung_refresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("lqos.conf");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ok = script(dir.path(), "echo 'progress: 1/4 integrations' >&2; echo 'plan: 3 circuits' >&2; echo 'progress: 4/4 applying' >&2; echo 'applied generation 7 in 12 ms' >&2");
        let out = refresh(&ok, &conf, dir.path(), Duration::from_secs(10), tx.clone()).await;
        assert!(
            out.ok && out.summary == "applied generation 7 in 12 ms" && out.log.is_none(),
            "{out:?}"
        );
        let seen: Vec<Progress> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            seen.iter()
                .map(|p| (p.step, p.percent()))
                .collect::<Vec<_>>(),
            vec![(1, 0), (4, 75)],
            "{seen:?}"
        );

        let bad = script(
            dir.path(),
            "echo 'ShapedDevices.csv:4: error: bad IPv4' >&2; exit 1",
        );
        let out = refresh(&bad, &conf, dir.path(), Duration::from_secs(10), tx.clone()).await;
        assert!(!out.ok && out.summary.contains("bad IPv4"), "{out:?}");
        let log = std::fs::read_to_string(out.log.as_ref().expect("a log")).expect("log");
        assert!(
            log.contains("bad IPv4") && out.preview.iter().any(|l| l.contains("bad IPv4")),
            "{log}"
        );

        let hung = script(dir.path(), "sleep 30");
        let started = std::time::Instant::now();
        let out = refresh(&hung, &conf, dir.path(), Duration::from_millis(300), tx).await;
        assert!(!out.ok && out.summary.contains("killed"), "{out:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the timeout is hard"
        );
    }
}
