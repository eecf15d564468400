//! Unknown addresses, the scheduler, urgent issues and the input files; "refresh now" and
//! acknowledging an issue (admins).

use super::auth::{Admin, Viewer};
use super::error::ApiError;
use super::WebState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn unknown(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let sample = s.inner.shared.sample();
    let hosts: Vec<Value> = sample
        .unknown_hosts
        .iter()
        .map(|h| {
            json!({
                "ip": h.addr.to_string(), "down_bps": h.down_bps, "up_bps": h.up_bps,
                "bytes_down": h.bytes_down, "bytes_up": h.bytes_up,
                "last_seen_unix": h.last_seen_unix,
            })
        })
        .collect();
    Json(json!({ "hosts": hosts }))
}

pub async fn unknown_csv(State(s): State<WebState>, _v: Viewer) -> Result<Response, ApiError> {
    let sample = s.inner.shared.sample();
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::internal("writing the CSV", e);
    w.write_record([
        "ip",
        "down_bps",
        "up_bps",
        "bytes_down",
        "bytes_up",
        "last_seen_unix",
    ])
    .map_err(fail)?;
    for h in &sample.unknown_hosts {
        w.write_record([
            h.addr.to_string(),
            h.down_bps.to_string(),
            h.up_bps.to_string(),
            h.bytes_down.to_string(),
            h.bytes_up.to_string(),
            h.last_seen_unix.to_string(),
        ])
        .map_err(fail)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::internal("writing the CSV", e.into_error()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"unknown-ips.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn scheduler(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let reports = s.inner.shared.reports();
    let (report, age) = match reports.scheduler() {
        Some((r, age)) => (Some(r), Some(age)),
        None => (None, None),
    };
    Json(json!({
        "report": report,
        "report_age_secs": age,
        "runs": reports.runs(),
        "refresh_requested": s.inner.config.refresh_request_path().exists(),
        "fleet": fleet(&s.inner.config),
    }))
}

/// A fleet box (`[fleet]`): what its scheduler last saw in etcd, and the fence this lqosd
/// applied last (docs/fleet.md). `null` for a single box.
fn fleet(config: &lqos_config::Config) -> Value {
    let Some(f) = &config.fleet else {
        return Value::Null;
    };
    let fence: Option<Value> = std::fs::read(config.state_directory.join("lqosd/fence.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let status = lqos_config::fleet_status::FleetStatus::read(&config.state_directory);
    let lags: Vec<Value> = status
        .as_ref()
        .map(|v| v.boxes.iter().map(|b| json!(v.lag(b))).collect())
        .unwrap_or_default();
    json!({ "name": f.name, "share": f.share, "standby_of": f.standby_of,
            "applied_fence": fence, "status": status, "lags": lags })
}

/// `POST /api/scheduler/refresh`: leaves the request file lqos-scheduler looks for each second.
pub async fn refresh(State(s): State<WebState>, Admin(v): Admin) -> Result<Response, ApiError> {
    let path = s.inner.config.refresh_request_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ApiError::internal(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&path, format!("requested by {}\n", v.user.username))
        .map_err(|e| ApiError::internal(format!("writing {}", path.display()), e))?;
    tracing::info!(user = %v.user.username, "WebUI: refresh requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message": "refresh requested: lqos-scheduler starts it within a second or two (if it is running)"})),
    )
        .into_response())
}

pub async fn issues(State(s): State<WebState>, _v: Viewer) -> Json<Value> {
    let list: Vec<Value> = s
        .inner
        .shared
        .reports()
        .list()
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "source": e.issue.source, "severity": e.issue.severity,
                "code": e.issue.code, "message": e.issue.message, "context": e.issue.context,
                "first_seen_unix": e.first_seen_unix, "last_seen_unix": e.last_seen_unix,
                "count": e.count, "acknowledged": e.acknowledged,
            })
        })
        .collect();
    Json(json!({ "issues": list }))
}

pub async fn ack(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no urgent issue {id:?} (ids are numbers)")))?;
    if s.inner.shared.reports().ack(id) {
        tracing::info!(user = %v.user.username, id, "WebUI: urgent issue acknowledged");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no urgent issue {id}")))
    }
}

pub async fn config_file(
    State(s): State<WebState>,
    _v: Viewer,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let c = &s.inner.config;
    let path = match file.as_str() {
        "lqos.conf" => s.inner.config_path.clone(),
        "network.json" => c.network_json_path(),
        "ShapedDevices.csv" => c.shaped_devices_path(),
        _ => {
            return Err(ApiError::NotFound(format!(
                "{file:?}: expected lqos.conf, network.json or ShapedDevices.csv"
            )))
        }
    };
    // A ShapedDevices.csv of 100k circuits is tens of MB: read it off the runtime's threads.
    let conf = file == "lqos.conf";
    let text = tokio::task::spawn_blocking(move || {
        let text = std::fs::read(&path)
            .map_err(|e| ApiError::NotFound(format!("cannot read {}: {e}", path.display())))?;
        Ok::<_, ApiError>(if conf {
            redact_secrets(&String::from_utf8_lossy(&text)).into_bytes()
        } else {
            // Served as UTF-8: a UTF-16 ShapedDevices.csv is decoded (shown as it is if not).
            lqos_config::text_encoding::decode(&text).map_or(text, |(t, _)| t.into_bytes())
        })
    })
    .await
    .map_err(|e| ApiError::internal("reading the file", e))??;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// lqos.conf for the WebUI with every secret hidden ([`lqos_config::redact`]); a file that
/// does not parse is not shown (lqosd could not tell its secrets apart).
fn redact_secrets(conf: &str) -> String {
    lqos_config::redact::redact_secrets(conf, "(hidden in the WebUI)").unwrap_or_else(|| {
        "# lqos.conf does not parse as TOML, so the WebUI does not show it (its secrets could not be hidden): run lqos-scheduler validate\n".into()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_webui_shows_lqos_conf_with_its_secrets_hidden() {
        let out = super::redact_secrets("[http_import]\nbearer_token = \"s3cr3t\"\n");
        assert!(
            out.contains("bearer_token = \"(hidden in the WebUI)\""),
            "{out}"
        );
        assert!(super::redact_secrets("not = [toml").contains("does not parse"));
    }
}
