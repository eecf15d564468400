//! Adding, changing and removing a circuit from the WebUI: the rows of ShapedDevices.csv are
//! spliced (every other byte of the file stays as it was), the whole result is checked with
//! the scheduler's own validation, and only a file that passes is written, atomically.
//! lqos-scheduler notices the change and applies it.

use super::auth::Admin;
use super::error::{ApiError, JsonBody};
use super::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lqos_config::{InputTexts, Severity};
use serde::Deserialize;
use std::io::Write;
use std::ops::Range;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitEdit {
    pub circuit_id: String,
    pub name: String,
    #[serde(default)]
    pub parent_node: String,
    pub download_min_mbps: f64,
    pub upload_min_mbps: f64,
    pub download_max_mbps: f64,
    pub upload_max_mbps: f64,
    #[serde(default)]
    pub sqm: String,
    pub devices: Vec<DeviceEdit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEdit {
    pub device_id: String,
    pub name: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub ipv4: String,
    #[serde(default)]
    pub ipv6: String,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug)]
pub enum Change<'a> {
    Add(&'a CircuitEdit),
    Replace(&'a str, &'a CircuitEdit),
    Remove(&'a str),
}

/// The file's header (column names, normalised) and the byte range of every row, by circuit.
struct Layout {
    header: Vec<String>,
    rows: Vec<(String, Range<usize>)>,
    crlf: bool,
}

fn norm(cell: &str) -> String {
    cell.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn layout(text: &str) -> Result<Layout, ApiError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = r.read_record(&mut record).map_err(|e| {
            ApiError::invalid(format!("ShapedDevices.csv cannot be read as CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let end = r.position().byte() as usize;
        match &header {
            None => header = Some(record.iter().map(norm).collect()),
            Some(h) => {
                let id_col = h.iter().position(|c| c == "circuitid").unwrap_or(0);
                let id = record.get(id_col).unwrap_or("").trim().to_owned();
                rows.push((id, start..end));
            }
        }
    }
    let header = header.ok_or_else(|| ApiError::invalid("ShapedDevices.csv has no header row"))?;
    Ok(Layout {
        header,
        rows,
        crlf: text.contains("\r\n"),
    })
}

fn fmt_rate(v: f64) -> String {
    format!("{v}")
}

/// The CSV rows of `c`, one per device, in the file's own column order.
fn render_rows(
    c: &CircuitEdit,
    header: &[String],
    parent_id: &str,
    crlf: bool,
) -> Result<String, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    for d in &c.devices {
        let cells: Vec<String> = header
            .iter()
            .map(|col| match col.as_str() {
                "circuitid" => c.circuit_id.clone(),
                "circuitname" => c.name.clone(),
                "deviceid" => d.device_id.clone(),
                "devicename" => d.name.clone(),
                "parentnode" | "parent" | "parentnodename" => c.parent_node.clone(),
                "parentnodeid" => parent_id.to_owned(),
                "mac" | "macaddress" => d.mac.clone(),
                "ipv4" | "ipv4address" | "ipv4addresses" => d.ipv4.clone(),
                "ipv6" | "ipv6address" | "ipv6addresses" => d.ipv6.clone(),
                "downloadminmbps" | "downloadmin" => fmt_rate(c.download_min_mbps),
                "uploadminmbps" | "uploadmin" => fmt_rate(c.upload_min_mbps),
                "downloadmaxmbps" | "downloadmax" => fmt_rate(c.download_max_mbps),
                "uploadmaxmbps" | "uploadmax" => fmt_rate(c.upload_max_mbps),
                "comment" => d.comment.clone(),
                "sqm" | "sqmoverride" => c.sqm.clone(),
                _ => String::new(),
            })
            .collect();
        w.write_record(&cells)
            .map_err(|e| ApiError::internal("writing CSV rows", e))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::internal("writing CSV rows", e.into_error()))?;
    String::from_utf8(bytes).map_err(|e| ApiError::internal("writing CSV rows", e))
}

/// `text` with the change made; `parent_id` is the `id` of the circuit's parent node.
pub fn apply(text: &str, change: &Change, parent_id: &str) -> Result<String, ApiError> {
    let l = layout(text)?;
    let ranges = |id: &str| -> Vec<Range<usize>> {
        l.rows
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, r)| r.clone())
            .collect()
    };
    let (remove, insert) = match change {
        Change::Add(c) => {
            if !ranges(&c.circuit_id).is_empty() {
                return Err(ApiError::Conflict(format!(
                    "circuit {:?} exists already: edit it instead",
                    c.circuit_id
                )));
            }
            (Vec::new(), Some(*c))
        }
        Change::Replace(id, c) => {
            if c.circuit_id != *id && !ranges(&c.circuit_id).is_empty() {
                return Err(ApiError::Conflict(format!(
                    "circuit {:?} exists already",
                    c.circuit_id
                )));
            }
            (ranges(id), Some(*c))
        }
        Change::Remove(id) => (ranges(id), None),
    };
    if let Change::Replace(id, _) | Change::Remove(id) = change {
        if remove.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no circuit {id:?} in ShapedDevices.csv"
            )));
        }
    }
    if let Some(c) = insert {
        if c.devices.is_empty() {
            return Err(ApiError::invalid(
                "devices: a circuit needs at least one device",
            ));
        }
    }
    let new_rows = insert
        .map(|c| render_rows(c, &l.header, parent_id, l.crlf))
        .transpose()?
        .unwrap_or_default();
    let mut out = String::with_capacity(text.len() + new_rows.len());
    let mut at = 0;
    let mut placed = false;
    for r in &remove {
        out.push_str(&text[at..r.start]);
        if !placed {
            out.push_str(&new_rows);
            placed = true;
        }
        at = r.end;
    }
    out.push_str(&text[at..]);
    if !placed && !new_rows.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(if l.crlf { "\r\n" } else { "\n" });
        }
        out.push_str(&new_rows);
    }
    Ok(out)
}

/// Checks the whole new file as the scheduler will, and that the edited circuit is shaped.
fn validate(s: &WebState, csv: &str, edited: Option<&str>) -> Result<(), ApiError> {
    let c = &s.inner.config;
    let network = std::fs::read_to_string(c.network_json_path()).map_err(|e| {
        ApiError::invalid(format!(
            "cannot read {}: {e}",
            c.network_json_path().display()
        ))
    })?;
    let overrides = std::fs::read_to_string(c.overrides_path()).ok();
    let texts = InputTexts {
        shaped_devices: csv.as_bytes(),
        network: &network,
        overrides: overrides.as_deref(),
    };
    let (inputs, diags) = lqos_config::parse_inputs(&texts, &c.ip_ranges);
    let mut problems: Vec<String> = diags
        .iter()
        .filter(|d| {
            d.severity == Severity::Reject
                || (d.severity == Severity::Quarantine && d.circuit.as_deref() == edited)
        })
        .map(|d| d.to_string())
        .collect();
    let quarantined = match (&inputs, edited) {
        (Some(i), Some(id)) => i.quarantined.iter().any(|q| q == id),
        _ => false,
    };
    if quarantined && problems.is_empty() {
        problems.push(format!(
            "circuit {edited:?} would not be shaped (quarantined)"
        ));
    }
    if inputs.is_none() || !problems.is_empty() {
        return Err(ApiError::Invalid {
            message: "the change would not pass validation; nothing was written".into(),
            problems,
        });
    }
    Ok(())
}

fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    if let Ok(m) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(m.permissions())?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

async fn change(s: &WebState, user: &str, change: Change<'_>) -> Result<(), ApiError> {
    let _one_at_a_time = s.inner.edits.lock().await;
    let path = s.inner.config.shaped_devices_path();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ApiError::internal(format!("reading {}", path.display()), e))?;
    let catalog = s.catalog();
    let (parent_id, edited) = match &change {
        Change::Add(c) | Change::Replace(_, c) => {
            let id = catalog
                .node(&c.parent_node)
                .and_then(|n| catalog.nodes[n].id.clone())
                .unwrap_or_default();
            (id, Some(c.circuit_id.as_str()))
        }
        Change::Remove(_) => (String::new(), None),
    };
    let new = apply(&text, &change, &parent_id)?;
    validate(s, &new, edited)?;
    write_atomically(&path, &new)
        .map_err(|e| ApiError::internal(format!("writing {}", path.display()), e))?;
    tracing::info!(%user, ?change, "WebUI: ShapedDevices.csv changed");
    if let Ok(c) = super::catalog::Catalog::load(&s.inner.config) {
        s.set_catalog(c);
    }
    Ok(())
}

pub async fn create(
    State(s): State<WebState>,
    Admin(v): Admin,
    JsonBody(c): JsonBody<CircuitEdit>,
) -> Result<Response, ApiError> {
    change(&s, &v.user.username, Change::Add(&c)).await?;
    let detail = super::circuits::circuit_detail(&s, &c.circuit_id).unwrap_or_default();
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

pub async fn replace(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(id): Path<String>,
    JsonBody(c): JsonBody<CircuitEdit>,
) -> Result<Response, ApiError> {
    change(&s, &v.user.username, Change::Replace(&id, &c)).await?;
    let detail = super::circuits::circuit_detail(&s, &c.circuit_id).unwrap_or_default();
    Ok(Json(detail).into_response())
}

pub async fn remove(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    change(&s, &v.user.username, Change::Remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# comment\nCircuit ID,Circuit Name,Device ID,Device Name,Parent Node,Parent Node ID,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n1,\"Garcia, Maria\",1-1,R,AP,ap,,100.64.0.1,,5,1,10,2,\n2,Chen,2-1,R,AP,ap,,100.64.0.2,,5,1,10,2,x\n2,Chen,2-2,R2,AP,ap,,100.64.0.3,,5,1,10,2,y\n3,Okafor,3-1,R,AP,ap,,100.64.0.4,,5,1,10,2,\n";

    fn edit(id: &str) -> CircuitEdit {
        CircuitEdit {
            circuit_id: id.into(),
            name: "New, Name".into(),
            parent_node: "AP".into(),
            download_min_mbps: 12.5,
            upload_min_mbps: 2.0,
            download_max_mbps: 25.0,
            upload_max_mbps: 5.0,
            sqm: String::new(),
            devices: vec![DeviceEdit {
                device_id: format!("{id}-1"),
                name: "Router".into(),
                mac: String::new(),
                ipv4: "100.64.0.9, 100.64.0.10".into(),
                ipv6: String::new(),
                comment: String::new(),
            }],
        }
    }

    #[test]
    fn a_replaced_circuit_takes_the_place_of_its_rows_and_nothing_else_moves() {
        let e = edit("2");
        let out = apply(CSV, &Change::Replace("2", &e), "ap").unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# comment");
        assert_eq!(
            lines[2],
            "1,\"Garcia, Maria\",1-1,R,AP,ap,,100.64.0.1,,5,1,10,2,"
        );
        assert_eq!(
            lines[3],
            "2,\"New, Name\",2-1,Router,AP,ap,,\"100.64.0.9, 100.64.0.10\",,12.5,2,25,5,"
        );
        assert_eq!(lines[4], "3,Okafor,3-1,R,AP,ap,,100.64.0.4,,5,1,10,2,");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn add_appends_and_remove_takes_every_row_of_the_circuit() {
        let e = edit("9");
        let added = apply(CSV, &Change::Add(&e), "ap").unwrap();
        assert!(added.starts_with(CSV) && added.ends_with("25,5,\n"));
        assert!(matches!(
            apply(CSV, &Change::Add(&edit("3")), ""),
            Err(ApiError::Conflict(_))
        ));
        let removed = apply(CSV, &Change::Remove("2"), "").unwrap();
        assert!(!removed.contains("Chen") && removed.contains("Okafor"));
        assert!(matches!(
            apply(CSV, &Change::Remove("7"), ""),
            Err(ApiError::NotFound(_))
        ));
        let no_newline = CSV.trim_end();
        let added = apply(no_newline, &Change::Add(&e), "ap").unwrap();
        assert!(added.contains("10,2,\n9,"), "a row starts on its own line");
    }

    #[test]
    fn a_circuit_without_devices_is_refused() {
        let mut e = edit("9");
        e.devices.clear();
        assert!(matches!(
            apply(CSV, &Change::Add(&e), ""),
            Err(ApiError::Invalid { .. })
        ));
    }
}
