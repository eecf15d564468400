//! Running the enabled integrations: each when it is due (its own interval), alone (a lock per
//! source), under a hard timeout; its import checked against the last good one; all sources'
//! imports merged, validated like the files, and written atomically only when they pass and
//! differ. A source that fails keeps contributing its last good import.

use crate::http::HttpError;
use crate::model::{Import, RecordIssue};
use crate::render::{render, Rendered};
use crate::sources::{fetch, SourceError};
use crate::status::{self, SourceStatus, Statuses};
use lqos_config::{parse_inputs, Config, Diagnostics, InputTexts, Severity};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("did not finish within {} s and was stopped ([lqos_integrations] run_timeout_secs)", .0.as_secs())]
    Timeout(Duration),
    #[error("another run of this integration is in progress")]
    Busy,
    #[error("suspicious import refused: {circuits} circuit(s) where the last good import had {last_good}; the last good files stay ({why})")]
    Suspicious {
        circuits: usize,
        last_good: usize,
        why: &'static str,
    },
    #[error("the imported files do not validate ({} error(s)); first: {first}", .diagnostics.count(Severity::Reject))]
    Invalid {
        diagnostics: Diagnostics,
        first: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing written: {0}")]
    NotWritten(String),
    #[error("no integration named {0:?} is enabled in lqos.conf")]
    NotEnabled(String),
}

impl RunError {
    /// The whole report for the log file.
    pub fn report(&self) -> String {
        let mut text = format!("{self}\n");
        match self {
            RunError::Source(SourceError::Http(HttpError::Status { body_preview, .. })) => {
                text.push_str(&format!("body:\n{body_preview}\n"));
            }
            RunError::Invalid { diagnostics, .. } => text.push_str(&format!("{diagnostics}\n")),
            _ => {}
        }
        text
    }
}

/// What one integration did in this run.
#[derive(Debug)]
pub struct SourceOutcome {
    pub name: String,
    /// `None`: not due (its last good import was used).
    pub result: Option<Result<(usize, usize), RunError>>,
    pub duration: Duration,
    pub issues: Vec<RecordIssue>,
    /// The full report of a failure under `state_directory/logs/`.
    pub log: Option<PathBuf>,
}

/// What a run of every enabled integration did.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<SourceOutcome>,
    /// The files were rewritten (they changed).
    pub written: bool,
}

/// Fetches and maps one integration, alone and under the hard timeout.
pub async fn fetch_one(config: &Config, name: &str) -> Result<Import, RunError> {
    if config.integrations.options(name).is_none() {
        return Err(RunError::NotEnabled(name.to_owned()));
    }
    let _lock = match status::try_lock(&config.state_directory, name) {
        Ok(Some(l)) => l,
        Ok(None) => return Err(RunError::Busy),
        Err(source) => {
            return Err(RunError::Write {
                path: status::dir(&config.state_directory),
                source,
            })
        }
    };
    let limit = config.integrations.limits.run_timeout;
    match tokio::time::timeout(limit, fetch(name, config)).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(RunError::Timeout(limit)),
    }
}

/// The suspicious-import guard.
fn check(config: &Config, import: &Import, st: &SourceStatus) -> Result<(), RunError> {
    let l = &config.integrations.limits;
    let n = import.circuits.len();
    let last = st.last_good_circuits.unwrap_or(0);
    if n == 0 && l.refuse_empty {
        return Err(RunError::Suspicious {
            circuits: 0,
            last_good: last,
            why: "no circuit at all; [lqos_integrations] refuse_empty = false allows it",
        });
    }
    if (n as f64) < last as f64 * l.refuse_below_ratio {
        return Err(RunError::Suspicious {
            circuits: n,
            last_good: last,
            why: "fewer than refuse_below_ratio of the last good import; lower [lqos_integrations] refuse_below_ratio, or 0 to turn the check off",
        });
    }
    Ok(())
}

fn due(st: &SourceStatus, interval_mins: u32, now: u64) -> bool {
    st.last_run_unix
        .is_none_or(|last| now >= last + u64::from(interval_mins) * 60)
}

/// Validates `rendered` with the operator's overrides, exactly as the files will be read.
fn validate(config: &Config, rendered: &Rendered) -> Result<(), RunError> {
    let overrides = std::fs::read_to_string(config.overrides_path()).ok();
    let texts = InputTexts {
        shaped_devices: &rendered.shaped_devices_csv,
        network: &rendered.network_json,
        overrides: overrides.as_deref(),
    };
    let (inputs, diagnostics) = parse_inputs(&texts, &config.ip_ranges);
    if inputs.is_some() {
        return Ok(());
    }
    let first = diagnostics
        .iter()
        .find(|d| d.severity == Severity::Reject)
        .map_or_else(String::new, |d| d.to_string());
    Err(RunError::Invalid { diagnostics, first })
}

/// Writes the files that differ from what is on disk; whether anything was written.
fn write_files(config: &Config, rendered: &Rendered) -> Result<bool, RunError> {
    let mut wrote = false;
    for (path, bytes) in [
        (config.network_json_path(), rendered.network_json.as_bytes()),
        (
            config.shaped_devices_path(),
            &rendered.shaped_devices_csv[..],
        ),
    ] {
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            continue;
        }
        crate::logs::write_atomically(&path, bytes)
            .map_err(|source| RunError::Write { path, source })?;
        wrote = true;
    }
    Ok(wrote)
}

/// Runs every enabled integration that is due (all of them with `force`) and writes the
/// merged files. Sources not due or failing contribute their last good import.
pub async fn run_enabled(config: &Config, force: bool) -> Report {
    let state = &config.state_directory;
    let mut statuses: Statuses = status::load(state);
    let mut report = Report::default();
    let mut imports = Vec::new();
    let mut fresh = Vec::new();
    for name in config.integrations.enabled() {
        let interval = config
            .integrations
            .options(name)
            .map_or(30, |o| o.refresh_interval_mins);
        let st = statuses.entry(name.to_owned()).or_default();
        let now = crate::logs::unix_now();
        if !force && !due(st, interval, now) {
            if let Some(i) = status::last_good(state, name) {
                imports.push(i);
            }
            report.outcomes.push(SourceOutcome {
                name: name.to_owned(),
                result: None,
                duration: Duration::ZERO,
                issues: Vec::new(),
                log: None,
            });
            continue;
        }
        let started = Instant::now();
        let result = match fetch_one(config, name).await {
            Ok(import) => check(config, &import, st).map(|()| import),
            Err(e) => Err(e),
        };
        let duration = started.elapsed();
        st.record_run(now, duration.as_millis() as u64);
        st.next_run_unix = Some(now + u64::from(interval) * 60);
        let outcome = match result {
            Ok(import) => {
                let counts = (import.circuits.len(), import.skipped());
                let issues = import.issues.clone();
                fresh.push(imports.len());
                imports.push(import);
                SourceOutcome {
                    name: name.to_owned(),
                    result: Some(Ok(counts)),
                    duration,
                    issues,
                    log: None,
                }
            }
            Err(e) => {
                if let Some(i) = status::last_good(state, name) {
                    imports.push(i);
                }
                SourceOutcome {
                    name: name.to_owned(),
                    result: Some(Err(e)),
                    duration,
                    issues: Vec::new(),
                    log: None,
                }
            }
        };
        report.outcomes.push(outcome);
    }
    if !fresh.is_empty() {
        let rendered = render(&imports, &config.integrations.common.promote_to_root);
        let written = validate(config, &rendered).and_then(|()| write_files(config, &rendered));
        // What the merge left out (duplicate addresses, broken links) belongs to its source.
        for o in &mut report.outcomes {
            if let Some(Ok((n, skipped))) = &mut o.result {
                o.issues.extend(
                    rendered
                        .issues
                        .iter()
                        .filter(|i| i.integration == o.name)
                        .cloned(),
                );
                *n = rendered.circuits.get(&o.name).copied().unwrap_or(0);
                *skipped = o.issues.iter().filter(|i| i.skipped).count();
            }
        }
        match written {
            Ok(w) => {
                report.written = w;
                for &i in &fresh {
                    if let Err(e) = status::keep_good(state, &imports[i]) {
                        tracing::warn!(error = %e, "cannot keep the last good import");
                    }
                }
            }
            Err(e) => {
                // Every source that ran shares the failure: nothing was written.
                let text = e.to_string();
                for o in &mut report.outcomes {
                    if matches!(o.result, Some(Ok(_))) {
                        o.result = Some(Err(RunError::NotWritten(text.clone())));
                    }
                }
                if let RunError::Invalid { diagnostics, .. } = &e {
                    tracing::warn!("{diagnostics}");
                }
            }
        }
    }
    for o in &mut report.outcomes {
        let Some(st) = statuses.get_mut(&o.name) else {
            continue;
        };
        match &o.result {
            None => {}
            Some(Ok((n, skipped))) => {
                st.ok = true;
                st.last_result = "ok".into();
                st.imported = *n;
                st.skipped = *skipped;
                st.last_good_circuits = Some(*n);
            }
            Some(Err(e)) => {
                st.ok = false;
                st.last_result = e.to_string();
                st.imported = 0;
                st.skipped = 0;
                let mut text = e.report();
                for i in &o.issues {
                    text.push_str(&format!("{i}\n"));
                }
                o.log = crate::logs::keep(state, &format!("integration-{}", o.name), &text);
            }
        }
    }
    if let Err(e) = status::save(state, &statuses) {
        tracing::warn!(error = %e, "cannot save the integrations' status");
    }
    report
}

/// `lqos-scheduler integration test NAME`: fetch and map one integration and render what
/// would be written, without writing anything.
pub async fn dry_run(config: &Config, name: &str) -> Result<(Import, Rendered), RunError> {
    let import = fetch_one(config, name).await?;
    let rendered = render(
        std::slice::from_ref(&import),
        &config.integrations.common.promote_to_root,
    );
    Ok((import, rendered))
}
