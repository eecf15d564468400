//! Step 1 of a refresh: the integrations. `[http_import]`, or the CRM/NMS integrations of
//! lqos-integrations, each only when it is due (its own `refresh_interval_mins`) unless an
//! import is asked for now. A failing integration never fails the refresh: it prints
//! `integration NAME failed: ...` (the service raises an urgent issue from it) and the last
//! good inputs stay.

use lqos_config::Config;
use std::path::PathBuf;
use std::time::Duration;

/// Created by the WebUI's "import now" (or `refresh --import-now`): run every integration now.
pub fn import_now_path(config: &Config) -> PathBuf {
    lqos_integrations::status::dir(&config.state_directory).join("import-now")
}

/// How often the service must wake up: the shortest of the refresh interval and every
/// enabled integration's own.
pub fn loop_interval(config: &Config) -> Duration {
    let i = &config.integrations;
    let mins = i
        .enabled()
        .into_iter()
        .filter_map(|n| i.options(n).map(|o| o.refresh_interval_mins))
        .chain([config.queue_refresh_interval_mins])
        .min()
        .unwrap_or(30)
        .max(1);
    Duration::from_secs(u64::from(mins) * 60)
}

/// Runs what is due; the lines to print (stderr).
pub fn run(config: &Config, force: bool) -> Vec<String> {
    let force = force || std::fs::remove_file(import_now_path(config)).is_ok();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return vec![format!(
                "integration runtime failed: cannot start tokio: {e}"
            )]
        }
    };
    let mut lines = Vec::new();
    if let Some(settings) = &config.http_import {
        if let Err(e) = runtime.block_on(lqos_integrations::http_import::run(settings, config)) {
            let log = lqos_integrations::logs::keep(
                &config.state_directory,
                "integration-http_import",
                &e.report(),
            );
            lines.push(failed("http_import", &e.to_string(), log));
        }
        return lines;
    }
    if config.integrations.enabled().is_empty() {
        return lines;
    }
    let report = runtime.block_on(lqos_integrations::run_enabled(config, force));
    for o in report.outcomes {
        match o.result {
            None => {}
            Some(Ok((n, skipped))) => {
                lines.push(format!(
                    "imported from {}: {n} circuits, {skipped} records skipped ({} ms){}",
                    o.name,
                    o.duration.as_millis(),
                    if skipped > 0 {
                        format!("; `lqos-scheduler integration test {}` lists them", o.name)
                    } else {
                        String::new()
                    }
                ));
            }
            Some(Err(e)) => lines.push(failed(&o.name, &e.to_string(), o.log)),
        }
    }
    lines
}

fn failed(name: &str, error: &str, log: Option<PathBuf>) -> String {
    let log = log.map_or(String::new(), |p| format!("; full log: {}", p.display()));
    format!("integration {name} failed: {error} (kept the last good inputs{log})")
}

/// Each enabled integration's status for the scheduler's report (the scheduler page, `lqos
/// status`).
pub fn reports(config: &Config) -> Vec<lqos_bus::IntegrationReport> {
    let statuses = lqos_integrations::status::load(&config.state_directory);
    let now = lqos_integrations::logs::unix_now();
    config
        .integrations
        .enabled()
        .into_iter()
        .map(|name| {
            let st = statuses.get(name).cloned().unwrap_or_default();
            let from = now.saturating_sub(lqos_integrations::status::BUSY_WINDOW_SECS);
            lqos_bus::IntegrationReport {
                name: name.to_owned(),
                last_run_unix: st.last_run_unix,
                last_duration_ms: st.last_duration_ms,
                ok: st.ok,
                result: if st.last_run_unix.is_some() {
                    st.last_result.clone()
                } else {
                    "not run yet".into()
                },
                imported: st.imported as u64,
                skipped: st.skipped as u64,
                next_run_unix: st.next_run_unix,
                busy_ms_last_hour: st
                    .runs
                    .iter()
                    .filter(|(start, _)| *start >= from)
                    .map(|(_, ms)| *ms)
                    .sum(),
            }
        })
        .collect()
}
