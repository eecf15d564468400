//! `lqos-scheduler run`: the service loop.
//!
//! - One scheduler per host ([`lock`]).
//! - Waits for lqosd's bus with backoff (never exits because lqosd is still starting), then
//!   refreshes; then again every `queue_refresh_interval_mins`, and within seconds of a manual
//!   edit of ShapedDevices.csv, network.json or lqos_overrides.json ([`watch`]).
//! - Each refresh is a child process with a hard timeout ([`job`]); a failed one changes
//!   nothing in the kernel (lqosd keeps the last good plan), is logged with a preview and a full
//!   log under `state_directory/logs/`, and the loop goes on.
//! - systemd: `READY=1` once the first refresh was attempted, `STATUS=` after each one,
//!   `WATCHDOG=1` from the loop itself (so a wedged loop stops them). SIGHUP reloads lqos.conf;
//!   SIGTERM/SIGINT stop.

pub mod fleet;
pub mod job;
pub mod lock;
pub mod watch;

use lqos_config::Config;
use sd_notify::NotifyState;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

/// Longest pause between two attempts to reach lqosd.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn notify(states: &[NotifyState]) {
    // Outside systemd (no NOTIFY_SOCKET) this does nothing.
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "cannot notify systemd");
    }
}

fn inputs(config: &Config) -> Vec<PathBuf> {
    ["ShapedDevices.csv", "network.json", "lqos_overrides.json"]
        .iter()
        .map(|f| config.lqos_directory.join(f))
        .collect()
}

/// Sends `request` to lqosd, best effort (a report that cannot be delivered is not worth
/// stalling the loop for): 1 s to connect, 2 s for the answer. Whether lqosd answered.
async fn tell(config: &Config, request: lqos_bus::Request) -> bool {
    let sent = async {
        let mut c =
            lqos_bus::Client::connect(&config.lqosd.bus_socket, Duration::from_secs(1)).await?;
        c.request_with_timeout(&request, Duration::from_secs(2))
            .await
    };
    match sent.await {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(error = %e.chain(), "cannot report to lqosd");
            false
        }
    }
}

/// What the scheduler tells lqosd about itself.
#[derive(Debug, Default)]
struct Progress {
    report: lqos_bus::SchedulerReport,
}

impl Progress {
    fn phase(&mut self, phase: &str) -> lqos_bus::Request {
        self.report.phase = phase.to_owned();
        self.report.step = String::new();
        self.report.percent = if phase == "idle" { 100 } else { 0 };
        self.heartbeat()
    }

    fn step(&mut self, p: &job::Progress) -> lqos_bus::Request {
        self.report.step = format!("{}/{} {}", p.step, p.of, p.what);
        self.report.percent = p.percent();
        self.heartbeat()
    }

    fn heartbeat(&mut self) -> lqos_bus::Request {
        self.report.sent_unix = crate::logs::unix_now();
        lqos_bus::Request::SchedulerReport(self.report.clone())
    }

    fn finished(&mut self, outcome: &job::JobOutcome, interval: Duration) {
        self.report.last_duration_ms = Some(outcome.duration.as_millis() as u64);
        self.report.next_run_unix = Some(crate::logs::unix_now() + interval.as_secs());
        if outcome.ok {
            self.report.last_success_unix = Some(crate::logs::unix_now());
            self.report.last_error = None;
            self.report.consecutive_failures = 0;
        } else {
            // The summary, then the last lines of the refresh's output (the WebUI shows both).
            let mut error = outcome.summary.clone();
            for line in &outcome.preview {
                error.push('\n');
                error.push_str(line);
            }
            self.report.last_error = Some(error);
            self.report.consecutive_failures += 1;
        }
    }
}

/// The urgent issue a failed refresh raises: the shaper stays on the last good plan until the
/// inputs are fixed, and the operator must know which rows are at fault.
fn issue_for(outcome: &job::JobOutcome) -> lqos_bus::Request {
    let rejected = outcome.preview.iter().any(|l| l.contains("rejected"));
    lqos_bus::Request::RaiseIssue(lqos_bus::UrgentIssue {
        source: "scheduler".into(),
        severity: lqos_bus::IssueSeverity::Error,
        code: if rejected {
            "inputs_rejected"
        } else {
            "refresh_failed"
        }
        .into(),
        message: format!("{}; the last good plan stays live", outcome.summary),
        context: format!(
            "{}{}",
            outcome.preview.join("\n"),
            outcome
                .log
                .as_ref()
                .map_or(String::new(), |l| format!("\nfull log: {}", l.display()))
        ),
    })
}

/// An integration failed (the refresh went on with the last good inputs).
fn integration_issue(line: &str) -> lqos_bus::Request {
    let name = line
        .strip_prefix("integration ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("integration");
    lqos_bus::Request::RaiseIssue(lqos_bus::UrgentIssue {
        source: name.to_owned(),
        severity: lqos_bus::IssueSeverity::Error,
        code: "integration_failed".into(),
        message: line.to_owned(),
        context: String::new(),
    })
}

/// Whether lqosd's bus answers a ping.
async fn lqosd_answers(config: &Config) -> bool {
    match lqos_bus::Client::connect(&config.lqosd.bus_socket, Duration::from_secs(2)).await {
        Ok(mut c) => matches!(
            c.request(&lqos_bus::Request::Ping).await,
            Ok(lqos_bus::Response::Pong { .. })
        ),
        Err(_) => false,
    }
}

/// Runs until SIGTERM/SIGINT. `config` was loaded by `main` from `config_path`.
pub async fn run(config_path: &Path, mut config: Config) -> anyhow::Result<()> {
    if config.fleet.is_some() {
        return fleet::run(config_path, config).await;
    }
    let _lock = lock::acquire(&config.state_directory)?;
    let exe = std::env::current_exe()?;
    let (mut term, mut int, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));

    // Wait for lqosd (a dry-run configuration needs none).
    let mut backoff = Duration::from_millis(500);
    let mut next_try = Instant::now();
    notify(&[NotifyState::Status("waiting for lqosd")]);
    let mut waiting = !config.queues.dry_run;
    while waiting {
        tokio::select! {
            _ = tick.tick() => {
                notify(&[NotifyState::Watchdog]);
                if Instant::now() < next_try { continue; }
                if lqosd_answers(&config).await {
                    waiting = false;
                    continue;
                }
                info!(socket = %config.lqosd.bus_socket.display(), retry_in = ?backoff, "lqosd does not answer yet");
                next_try = Instant::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }

    let mut watch = watch::InputWatch::new(inputs(&config));
    // lqos.conf edited (the WebUI's integration editors): reloaded as on SIGHUP.
    let mut conf_stamp = lqos_config::file_stamp(config_path);
    let mut progress = Progress::default();
    let mut ticks = 0u64;
    let mut lqosd_reachable: bool;
    let mut failures = 0u32;
    let mut last_run;
    let mut first = true;
    loop {
        // One refresh, with the watchdog fed while it runs (the job has its own hard timeout).
        let _ = tell(&config, progress.phase("refreshing")).await;
        let outcome = {
            let (tx, mut steps) = tokio::sync::mpsc::unbounded_channel();
            let job = job::refresh(
                &exe,
                config_path,
                &config.state_directory,
                job::JOB_TIMEOUT,
                tx,
            );
            tokio::pin!(job);
            loop {
                tokio::select! {
                    out = &mut job => break out,
                    Some(p) = steps.recv() => {
                        let _ = tell(&config, progress.step(&p)).await;
                    }
                    _ = tick.tick() => notify(&[NotifyState::Watchdog]),
                    _ = term.recv() => return Ok(()),
                    _ = int.recv() => return Ok(()),
                }
            }
        };
        last_run = Instant::now();
        watch.covered();
        let interval = crate::imports::loop_interval(&config);
        progress.finished(&outcome, interval);
        progress.report.integrations = crate::imports::reports(&config);
        if outcome.ok {
            failures = 0;
            info!(took = ?outcome.duration, "{}", outcome.summary);
        } else {
            failures += 1;
            error!(failures, log = ?outcome.log, preview = %outcome.preview.join(" | "), "{}", outcome.summary);
            let _ = tell(&config, issue_for(&outcome)).await;
        }
        for line in &outcome.integration_failures {
            warn!("{line}");
            let _ = tell(&config, integration_issue(line)).await;
        }
        lqosd_reachable = tell(&config, progress.phase("idle")).await || config.queues.dry_run;
        let status = if outcome.ok {
            outcome.summary.clone()
        } else {
            format!(
                "last refresh failed ({failures} in a row): {}",
                outcome.summary
            )
        };
        if first {
            notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
            first = false;
        } else {
            notify(&[NotifyState::Status(&status)]);
        }

        // Until the next refresh is due: the interval, a settled edit, or SIGHUP.
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    notify(&[NotifyState::Watchdog]);
                    ticks += 1;
                    if ticks.is_multiple_of(5) {
                        let answered = tell(&config, progress.heartbeat()).await;
                        if !answered && lqosd_reachable {
                            warn!("lqosd does not answer; waiting for it");
                        }
                        let back = answered && !lqosd_reachable;
                        lqosd_reachable = answered;
                        if back && !config.queues.dry_run {
                            info!("lqosd is back: submitting the plan again");
                            break;
                        }
                    }
                    if watch.poll(Instant::now()) {
                        info!("an input file changed: refreshing");
                        break;
                    }
                    let stamp = lqos_config::file_stamp(config_path);
                    if stamp != conf_stamp {
                        conf_stamp = stamp;
                        match Config::load(config_path) {
                            Ok((c, _)) => {
                                info!("lqos.conf changed: reloaded; refreshing");
                                config = c;
                                watch = watch::InputWatch::new(inputs(&config));
                                break;
                            }
                            Err(e) => error!(error = %e, "lqos.conf changed but is invalid; keeping the running configuration"),
                        }
                    }
                    if std::fs::remove_file(config.refresh_request_path()).is_ok() {
                        info!("a refresh was requested (WebUI): refreshing");
                        break;
                    }
                    if last_run.elapsed() >= interval {
                        break;
                    }
                }
                _ = hup.recv() => {
                    match Config::load(config_path) {
                        Ok((c, _)) => {
                            info!("SIGHUP: lqos.conf reloaded; refreshing");
                            conf_stamp = lqos_config::file_stamp(config_path);
                            config = c;
                            watch = watch::InputWatch::new(inputs(&config));
                            break;
                        }
                        Err(e) => error!(error = %e, "SIGHUP: lqos.conf is invalid; keeping the running configuration"),
                    }
                }
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
            }
        }
    }
}
