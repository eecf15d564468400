//! The WebUI's integration editors (admins only): each integration's lqos.conf table with its
//! values (secrets only as set / not set), saved with `toml_edit` so comments and layout stay,
//! validated with the same code as lqos.conf before it is written (atomically); "test
//! connection" runs `lqos-scheduler integration test NAME`; "import now" leaves the files the
//! scheduler looks for. lqos-scheduler reloads lqos.conf when it changes.

use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody};
use super::users::Role;
use super::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lqos_config::integrations::schema::{self, Kind, TableSpec};
use lqos_config::Severity;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;
use toml_edit::{DocumentMut, Item};

fn admin_only(v: &Viewer) -> Result<(), ApiError> {
    if v.user.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "only admins see the integrations' settings".into(),
        ));
    }
    Ok(())
}

fn spec(name: &str) -> Result<&'static TableSpec, ApiError> {
    schema::table(name).ok_or_else(|| ApiError::NotFound(format!("no integration named {name:?}")))
}

fn read_conf(s: &WebState) -> Result<(String, DocumentMut), ApiError> {
    let path = &s.inner.config_path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| ApiError::internal(format!("reading {}", path.display()), e))?;
    let doc = text
        .parse::<DocumentMut>()
        .map_err(|e| ApiError::internal(format!("parsing {}", path.display()), e))?;
    Ok((text, doc))
}

/// The table's name in this file (`[spylnx_integration]` is LibreQoS's old spelling).
fn table_key(doc: &DocumentMut, t: &TableSpec) -> &'static str {
    if t.name == "splynx" && !doc.contains_key(t.table) && doc.contains_key("spylnx_integration") {
        "spylnx_integration"
    } else {
        t.table
    }
}

fn to_json(item: &Item) -> Value {
    match item.as_value() {
        Some(toml_edit::Value::Boolean(b)) => json!(*b.value()),
        Some(toml_edit::Value::Integer(i)) => json!(*i.value()),
        Some(toml_edit::Value::Float(f)) => json!(*f.value()),
        Some(toml_edit::Value::String(st)) => json!(st.value()),
        Some(toml_edit::Value::Array(a)) => Value::Array(
            a.iter()
                .map(|v| match v {
                    toml_edit::Value::String(st) => json!(st.value()),
                    toml_edit::Value::InlineTable(t) => {
                        let get = |k: &str| t.get(k).and_then(|x| x.as_str()).unwrap_or("");
                        json!(format!("{}:{}", get("cpe"), get("parent")))
                    }
                    other => json!(other.to_string().trim()),
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn describe(doc: &DocumentMut, t: &TableSpec) -> Value {
    let table = doc.get(table_key(doc, t)).and_then(Item::as_table_like);
    let get = |k: &str| table.and_then(|tb| tb.get(k));
    let enabled = get(t.enable_key)
        .or_else(|| (t.name == "splynx").then(|| get("enable_spylnx")).flatten())
        .and_then(Item::as_bool)
        .unwrap_or(false);
    let keys: Vec<Value> = t
        .keys
        .iter()
        .map(|k| {
            let item = get(k.key);
            let mut v = json!({"key": k.key, "kind": k.kind, "default": k.default, "help": k.help});
            if k.kind == Kind::Secret {
                // Never sent back: only whether it is set.
                v["set"] = json!(item.and_then(Item::as_str).is_some_and(|s| !s.is_empty()));
            } else {
                v["value"] = item.map_or(Value::Null, to_json);
            }
            v
        })
        .collect();
    json!({"name": t.name, "title": t.title, "table": t.table, "enabled": enabled, "present": table.is_some(), "keys": keys})
}

/// `GET /api/integrations`: every integration's settings (admins).
pub async fn list(State(s): State<WebState>, v: Viewer) -> Result<Json<Value>, ApiError> {
    admin_only(&v)?;
    let (_, doc) = read_conf(&s)?;
    let all: Vec<Value> = schema::TABLES.iter().map(|t| describe(&doc, t)).collect();
    Ok(Json(
        json!({"integrations": all, "config": s.inner.config_path.display().to_string()}),
    ))
}

/// The body of a save: `values` maps keys to their new value; `null` removes the key (its
/// default applies); a secret left out (or sent empty) stays as it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Save {
    pub enabled: bool,
    #[serde(default)]
    pub values: Map<String, Value>,
}

fn toml_value(kind: Kind, key: &str, v: &Value) -> Result<toml_edit::Value, ApiError> {
    let bad = |what: &str| ApiError::invalid(format!("{key}: expected {what}, got {v}"));
    Ok(match kind {
        Kind::Bool => v.as_bool().ok_or_else(|| bad("true or false"))?.into(),
        Kind::Number => match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| bad("a number"))?.into(),
            Value::String(t) => t.trim().parse::<f64>().map_err(|_| bad("a number"))?.into(),
            _ => return Err(bad("a number")),
        },
        Kind::Integer => match v {
            Value::Number(n) => n.as_i64().ok_or_else(|| bad("a whole number"))?.into(),
            Value::String(t) => t
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("a whole number"))?
                .into(),
            _ => return Err(bad("a whole number")),
        },
        Kind::List => {
            let items: Vec<String> = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                Value::String(t) => t.split(['\n', ',']).map(|x| x.trim().to_owned()).collect(),
                _ => return Err(bad("a list of text")),
            };
            let mut arr = toml_edit::Array::new();
            for i in items.into_iter().filter(|x| !x.is_empty()) {
                arr.push(i);
            }
            arr.into()
        }
        Kind::Choice(allowed) => {
            let t = v.as_str().ok_or_else(|| bad("text"))?;
            if !allowed.contains(&t) {
                return Err(bad(&format!("one of {}", allowed.join(", "))));
            }
            t.into()
        }
        Kind::Text | Kind::Secret => v.as_str().ok_or_else(|| bad("text"))?.trim().into(),
    })
}

/// The edited lqos.conf text; validated by the caller.
pub fn edit(text: &str, t: &TableSpec, save: &Save) -> Result<String, ApiError> {
    let mut doc = text
        .parse::<DocumentMut>()
        .map_err(|e| ApiError::invalid(format!("lqos.conf does not parse: {e}")))?;
    let key = table_key(&doc, t);
    if !doc.contains_key(key) {
        doc[key] = toml_edit::table();
    }
    let table = doc[key]
        .as_table_like_mut()
        .ok_or_else(|| ApiError::invalid(format!("[{key}] is not a table in lqos.conf")))?;
    let enable = if key == "spylnx_integration" && table.contains_key("enable_spylnx") {
        "enable_spylnx"
    } else {
        t.enable_key
    };
    table.insert(enable, Item::Value(save.enabled.into()));
    for (k, v) in &save.values {
        let spec = t
            .keys
            .iter()
            .find(|s| s.key == k)
            .ok_or_else(|| ApiError::invalid(format!("{k}: not a key of [{key}]")))?;
        let empty = v.is_null() || v.as_str().is_some_and(|x| x.trim().is_empty());
        match (spec.kind, empty) {
            (Kind::Secret, true) if !v.is_null() => {}
            (_, true) => {
                table.remove(k);
            }
            (kind, false) => {
                let value = toml_value(kind, k, v)?;
                match table.get_mut(k).and_then(Item::as_value_mut) {
                    // Keeps the key's comment and spacing.
                    Some(old) => {
                        let decor = old.decor().clone();
                        *old = value;
                        *old.decor_mut() = decor;
                    }
                    None => {
                        table.insert(k, Item::Value(value));
                    }
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// `PUT /api/integrations/{name}`: validate and write lqos.conf.
pub async fn save(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Save>,
) -> Result<Response, ApiError> {
    let t = spec(&name)?;
    let _one_at_a_time = s.inner.edits.lock().await;
    let (text, _) = read_conf(&s)?;
    let new = edit(&text, t, &body)?;
    let path = s.inner.config_path.clone();
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    let (_, diags) = lqos_config::Config::parse(&new, &path.display().to_string(), base);
    if diags.rejects() {
        return Err(ApiError::Invalid {
            message: "lqos.conf would be invalid: nothing was written".into(),
            problems: diags
                .iter()
                .filter(|d| d.severity == Severity::Reject)
                .map(|d| d.to_string())
                .collect(),
        });
    }
    write_keeping_mode(&path, new.as_bytes())
        .map_err(|e| ApiError::internal(format!("writing {}", path.display()), e))?;
    tracing::info!(user = %v.user.username, integration = %name, "WebUI: integration settings saved");
    let warnings: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.to_string())
        .collect();
    let (_, doc) = read_conf(&s)?;
    Ok(Json(json!({"message": "saved: lqos-scheduler reloads lqos.conf within seconds", "warnings": warnings, "integration": describe(&doc, t)})).into_response())
}

/// Temp file beside it with the same permissions, fsync, rename.
fn write_keeping_mode(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("lqos-tmp");
    let mut f = std::fs::File::create(&tmp)?;
    if let Ok(m) = std::fs::metadata(path) {
        f.set_permissions(m.permissions())?;
    }
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// `POST /api/integrations/{name}/test`: `lqos-scheduler integration test NAME` with the saved
/// settings; its output as the result.
pub async fn test(
    State(s): State<WebState>,
    Admin(_v): Admin,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    spec(&name)?;
    let exe = std::env::current_exe()
        .map_err(|e| ApiError::internal("finding lqosd's own path", e))?
        .with_file_name("lqos-scheduler");
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.arg("--config")
        .arg(&s.inner.config_path)
        .args(["integration", "test", &name])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let limit = s.inner.config.integrations.limits.run_timeout + Duration::from_secs(15);
    let out = match tokio::time::timeout(limit, cmd.output()).await {
        Err(_) => {
            return Ok(Json(
                json!({"ok": false, "output": format!("no answer within {} s", limit.as_secs())}),
            ))
        }
        Ok(Err(e)) => return Err(ApiError::internal(format!("running {}", exe.display()), e)),
        Ok(Ok(o)) => o,
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(Json(json!({"ok": out.status.success(), "output": text})))
}

/// `POST /api/integrations/{name}/import`: every integration runs at the next refresh, which
/// starts within a second or two.
pub async fn import_now(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    spec(&name)?;
    let state = &s.inner.config.state_directory;
    let write = |p: std::path::PathBuf| {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, format!("requested by {}\n", v.user.username))
    };
    write(state.join("integrations").join("import-now"))
        .and_then(|()| write(s.inner.config.refresh_request_path()))
        .map_err(|e| ApiError::internal("writing the import request", e))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"message": "import requested: lqos-scheduler starts it within a second or two"}),
        ),
    )
        .into_response())
}
