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

#[derive(Debug, Default)]
pub struct Reports {
    scheduler: Option<(SchedulerReport, Instant)>,
    issues: Vec<IssueEntry>,
    next_id: u64,
}

impl Reports {
    pub fn scheduler_report(&mut self, report: SchedulerReport) {
        self.scheduler = Some((report, Instant::now()));
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
