//! What lqosd keeps for operators besides the plan: the scheduler's last report and the
//! urgent issues (deduplicated, acknowledgeable, bounded).

use lqos_bus::{IssueEntry, SchedulerReport, UrgentIssue};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Issues kept at most; past that the oldest acknowledged ones go first, then the oldest.
pub const MAX_ISSUES: usize = 500;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Scheduler runs remembered (the newest; for the WebUI).
pub const MAX_RUNS: usize = 50;

/// A finished scheduler run, as its reports showed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    pub finished_unix: u64,
    pub ok: bool,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
pub struct Reports {
    scheduler: Option<(SchedulerReport, Instant)>,
    runs: std::collections::VecDeque<Run>,
    issues: Vec<IssueEntry>,
    next_id: u64,
}

impl Reports {
    pub fn scheduler_report(&mut self, report: SchedulerReport) {
        if let Some(run) = finished_run(self.scheduler.as_ref().map(|(r, _)| r), &report) {
            if self.runs.len() >= MAX_RUNS {
                self.runs.pop_front();
            }
            self.runs.push_back(run);
        }
        self.scheduler = Some((report, Instant::now()));
    }

    /// Finished runs, newest first.
    pub fn runs(&self) -> Vec<Run> {
        self.runs.iter().rev().cloned().collect()
    }

    /// The last report and its age in seconds.
    pub fn scheduler(&self) -> Option<(SchedulerReport, u64)> {
        self.scheduler
            .as_ref()
            .map(|(r, at)| (r.clone(), at.elapsed().as_secs()))
    }

    /// Raises `issue`; the same source, code and message again counts up (and is shown again
    /// if it had been acknowledged).
    pub fn raise(&mut self, issue: UrgentIssue) {
        let now = now_unix();
        if let Some(e) = self.issues.iter_mut().find(|e| {
            e.issue.source == issue.source
                && e.issue.code == issue.code
                && e.issue.message == issue.message
        }) {
            e.count = e.count.saturating_add(1);
            e.last_seen_unix = now;
            e.acknowledged = false;
            e.issue.context = issue.context;
            return;
        }
        if self.issues.len() >= MAX_ISSUES {
            let victim = self.issues.iter().position(|e| e.acknowledged).unwrap_or(0);
            self.issues.remove(victim);
        }
        self.next_id += 1;
        self.issues.push(IssueEntry {
            id: self.next_id,
            issue,
            first_seen_unix: now,
            last_seen_unix: now,
            count: 1,
            acknowledged: false,
        });
    }

    /// Newest first.
    pub fn list(&self) -> Vec<IssueEntry> {
        let mut v = self.issues.clone();
        v.sort_by(|a, b| {
            b.last_seen_unix
                .cmp(&a.last_seen_unix)
                .then(b.id.cmp(&a.id))
        });
        v
    }

    /// Whether an issue with this id exists (it is acknowledged now).
    pub fn ack(&mut self, id: u64) -> bool {
        match self.issues.iter_mut().find(|e| e.id == id) {
            Some(e) => {
                e.acknowledged = true;
                true
            }
            None => false,
        }
    }
}

/// The run that `now` reports as finished since `before`: a newer success, or one more
/// consecutive failure.
fn finished_run(before: Option<&SchedulerReport>, now: &SchedulerReport) -> Option<Run> {
    let succeeded = now.last_success_unix.is_some()
        && before.is_none_or(|b| b.last_success_unix != now.last_success_unix);
    let failed = now.consecutive_failures > before.map_or(0, |b| b.consecutive_failures);
    (succeeded || failed).then(|| Run {
        finished_unix: if succeeded {
            now.last_success_unix.unwrap_or(now.sent_unix)
        } else {
            now.sent_unix
        },
        ok: succeeded,
        duration_ms: now.last_duration_ms,
        // The summary line (the report's error goes on with the output's last lines).
        error: if succeeded {
            None
        } else {
            now.last_error
                .as_deref()
                .map(|e| e.lines().next().unwrap_or_default().to_owned())
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_bus::IssueSeverity;

    fn issue(code: &str, message: &str) -> UrgentIssue {
        UrgentIssue {
            source: "scheduler".into(),
            severity: IssueSeverity::Error,
            code: code.into(),
            message: message.into(),
            context: String::new(),
        }
    }

    #[test]
    fn finished_runs_are_told_from_the_reports() {
        let mut r = Reports::default();
        let mut rep = SchedulerReport {
            phase: "refreshing".into(),
            sent_unix: 10,
            ..SchedulerReport::default()
        };
        r.scheduler_report(rep.clone());
        assert!(r.runs().is_empty(), "nothing finished yet");
        rep.last_success_unix = Some(12);
        rep.last_duration_ms = Some(800);
        r.scheduler_report(rep.clone());
        r.scheduler_report(rep.clone());
        assert_eq!(
            r.runs().len(),
            1,
            "a heartbeat repeating the same success is no new run"
        );
        rep.consecutive_failures = 1;
        rep.last_error = Some("ShapedDevices.csv:3: bad rate\nprogress: 2/4 validating".into());
        rep.sent_unix = 20;
        r.scheduler_report(rep);
        let runs = r.runs();
        assert_eq!(runs.len(), 2);
        assert!(!runs[0].ok && runs[0].error.as_deref() == Some("ShapedDevices.csv:3: bad rate"));
        assert!(runs[1].ok && runs[1].finished_unix == 12 && runs[1].duration_ms == Some(800));
    }

    #[test]
    fn issues_are_deduplicated_acknowledged_and_bounded() {
        let mut r = Reports::default();
        r.raise(issue("refresh_failed", "bad row"));
        r.raise(issue("refresh_failed", "bad row"));
        r.raise(issue("refresh_failed", "other"));
        let l = r.list();
        assert_eq!(l.len(), 2);
        let first = l
            .iter()
            .find(|e| e.issue.message == "bad row")
            .expect("kept");
        assert_eq!(first.count, 2);
        assert!(r.ack(first.id) && !r.ack(999));
        assert!(r.list().iter().any(|e| e.id == first.id && e.acknowledged));
        r.raise(issue("refresh_failed", "bad row"));
        assert!(
            r.list()
                .iter()
                .any(|e| e.id == first.id && !e.acknowledged && e.count == 3),
            "raised again: shown again"
        );
        for n in 0..MAX_ISSUES + 10 {
            r.raise(issue("x", &n.to_string()));
        }
        assert_eq!(r.list().len(), MAX_ISSUES);
    }
}
