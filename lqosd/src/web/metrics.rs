//! `GET /metrics`: the Prometheus text format, built from the same state as the WebUI.

use super::WebState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// A scheduler silent for longer than this counts as down.
const SCHEDULER_STALE_SECS: u64 = 180;

type Labels = Vec<(String, String)>;

fn gauge(r: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    r.register(name, help, g);
}

fn gauge_f(r: &mut Registry, name: &str, help: &str, v: f64) {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    r.register(name, help, g);
}

fn family(r: &mut Registry, name: &str, help: &str, label: &str, values: &[(&str, i64)]) {
    let f = Family::<Labels, Gauge>::default();
    for (l, v) in values {
        f.get_or_create(&vec![(label.to_owned(), (*l).to_owned())])
            .set(*v);
    }
    r.register(name, help, f);
}

/// The metrics as text, from the live picture and the reports.
pub fn render(s: &WebState) -> Result<String, std::fmt::Error> {
    let live = s.live();
    let shared = &s.inner.shared;
    let applied = shared.applied().clone();
    let reports = shared.reports();
    let scheduler = reports.scheduler();
    let issues = reports.list();
    drop(reports);
    let as_i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut r = Registry::with_prefix("lqos");
    family(
        &mut r,
        "throughput_bps",
        "Traffic through the shaper, bits per second",
        "direction",
        &[("down", as_i(live.down_bps)), ("up", as_i(live.up_bps))],
    );
    family(
        &mut r,
        "unknown_throughput_bps",
        "Traffic of addresses in no circuit, bits per second",
        "direction",
        &[
            ("down", as_i(live.sample.unknown.0)),
            ("up", as_i(live.sample.unknown.1)),
        ],
    );
    gauge(
        &mut r,
        "circuits",
        "Circuits in the live plan",
        as_i(applied.status.circuits),
    );
    if let Some(lazy) = &applied.status.lazy {
        gauge(
            &mut r,
            "lazy_circuits_built",
            "Circuits whose queue exists (lazy queues on)",
            as_i(lazy.built),
        );
    }
    gauge(
        &mut r,
        "mapped_ips",
        "Prefixes in the live IP map",
        as_i(applied.status.mapped_ips),
    );
    gauge(
        &mut r,
        "active_hosts",
        "Shaped hosts with traffic in the last second",
        live.sample.hosts.len() as i64,
    );
    gauge(
        &mut r,
        "unknown_hosts",
        "Addresses in no circuit seen by the data plane",
        live.sample.unknown_hosts.len() as i64,
    );
    let applies = Counter::<u64>::default();
    applies.inc_by(applied.applies);
    r.register("applies", "Plans applied since lqosd started", applies);
    gauge_f(
        &mut r,
        "apply_last_duration_seconds",
        "Wall time of the last apply",
        applied.last_apply_ms.map_or(0.0, |ms| ms as f64 / 1e3),
    );
    let up = scheduler
        .as_ref()
        .is_some_and(|(_, age)| *age <= SCHEDULER_STALE_SECS);
    gauge(
        &mut r,
        "scheduler_up",
        "1 while lqos-scheduler reported within 3 minutes",
        i64::from(up),
    );
    gauge(
        &mut r,
        "scheduler_consecutive_failures",
        "Refreshes failed in a row",
        scheduler
            .as_ref()
            .map_or(0, |(rep, _)| i64::from(rep.consecutive_failures)),
    );
    gauge(
        &mut r,
        "scheduler_last_success_timestamp_seconds",
        "When the last refresh succeeded (Unix time)",
        scheduler
            .as_ref()
            .and_then(|(rep, _)| rep.last_success_unix)
            .map_or(0, as_i),
    );
    let unack = issues.iter().filter(|e| !e.acknowledged).count() as i64;
    family(
        &mut r,
        "urgent_issues",
        "Urgent issues held by lqosd",
        "state",
        &[
            ("unacknowledged", unack),
            ("acknowledged", issues.len() as i64 - unack),
        ],
    );
    super::metrics_telemetry::register(&mut r, &shared.telemetry);
    let mut out = String::new();
    encode(&mut out, &r)?;
    Ok(out)
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<WebState>) -> Response {
    match render(&s) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => super::ApiError::internal("encoding the metrics", e).into_response(),
    }
}
