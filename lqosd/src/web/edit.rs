//! Adding, changing and removing a circuit from the WebUI: the rows of ShapedDevices.csv are
//! spliced (every other byte of the file stays as it was), the whole result is checked with
//! the scheduler's own validation, and only a file that passes is written, atomically.
//! lqos-scheduler notices the change and applies it. A file in UTF-16 or with a byte order mark
//! is written back in its own encoding, mark included (see [`apply_file`]).

use super::auth::Admin;
use super::error::{ApiError, JsonBody};
use super::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lqos_config::{InputTexts, IpRanges, Severity};
use serde::Deserialize;
use std::io::Write;
use std::ops::Range;

/// A circuit as the WebUI sends it (docs/webui.md, CircuitEdit); rates in Mbps.
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

/// One device of a [`CircuitEdit`]; `ipv4`/`ipv6` as ShapedDevices.csv cells (comma-separated).
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

/// One edit of ShapedDevices.csv.
#[derive(Debug)]
pub enum Change {
    Add(CircuitEdit),
    /// The circuit with this id, replaced (its id may change).
    Replace(String, CircuitEdit),
    Remove(String),
}

/// The file's header (each column's canonical name, `None` for a column lqos does not know),
/// the byte range of every row by circuit (whole lines: from the line's start to past its
/// terminator, never a comment or blank line around it), and the cells of `wanted`'s rows.
struct Layout {
    header: Vec<Option<&'static str>>,
    rows: Vec<(String, Range<usize>)>,
    wanted: Vec<Vec<String>>,
    crlf: bool,
}

/// `start` moved past line terminators, blank lines and comment lines (csv-core starts a
/// record where the previous one ended: after a CR, before the LF and any comments).
fn line_start(text: &[u8], mut start: usize) -> usize {
    loop {
        while start < text.len() && matches!(text[start], b'\r' | b'\n') {
            start += 1;
        }
        if text.get(start) == Some(&b'#') {
            start = text[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |i| start + i + 1);
        } else {
            return start;
        }
    }
}

/// `end` moved past the LF of a CRLF whose CR ends the record.
fn line_end(text: &[u8], end: usize) -> usize {
    if end > 0 && text[end - 1] == b'\r' && text.get(end) == Some(&b'\n') {
        end + 1
    } else {
        end
    }
}

fn layout(text: &str, wanted: Option<&str>) -> Result<Layout, ApiError> {
    let bytes = text.as_bytes();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut header: Option<(Vec<Option<&'static str>>, usize)> = None;
    let mut rows = Vec::new();
    let mut wanted_cells = Vec::new();
    let mut crlf = false;
    let mut record = csv::StringRecord::new();
    loop {
        let more = r.read_record(&mut record).map_err(|e| {
            ApiError::invalid(format!("ShapedDevices.csv cannot be read as CSV: {e}"))
        })?;
        if !more {
            break;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let start = line_start(bytes, record.position().map_or(0, |p| p.byte() as usize));
        let end = line_end(bytes, r.position().byte() as usize);
        match &header {
            None => {
                let cols: Vec<Option<&'static str>> = record
                    .iter()
                    .map(lqos_config::shaped_devices::column_label)
                    .collect();
                let Some(id_col) = cols.iter().position(|c| *c == Some("Circuit ID")) else {
                    return Err(ApiError::invalid(
                        "ShapedDevices.csv has no header row naming its columns: add one (Circuit ID, Circuit Name, ...) to edit circuits from the WebUI",
                    ));
                };
                crlf = bytes[..end].ends_with(b"\r\n");
                header = Some((cols, id_col));
            }
            Some((_, id_col)) => {
                let id = record.get(*id_col).unwrap_or("").trim().to_owned();
                if wanted == Some(id.as_str()) {
                    wanted_cells.push(record.iter().map(str::to_owned).collect());
                }
                rows.push((id, start..end));
            }
        }
    }
    let (header, _) =
        header.ok_or_else(|| ApiError::invalid("ShapedDevices.csv has no header row"))?;
    Ok(Layout {
        header,
        rows,
        wanted: wanted_cells,
        crlf,
    })
}

fn fmt_rate(v: f64) -> String {
    format!("{v}")
}

/// The CSV rows of `c`, one per device, in the file's own column order. Columns the WebUI
/// does not edit (Anchor Node ID, columns lqos does not know) keep the cells of the device's
/// old row (or of the circuit's first old row).
fn render_rows(c: &CircuitEdit, l: &Layout, parent_id: &str) -> Result<String, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(if l.crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let device_col = l.header.iter().position(|c| *c == Some("Device ID"));
    for d in &c.devices {
        let old = l
            .wanted
            .iter()
            .find(|cells| {
                device_col
                    .and_then(|i| cells.get(i))
                    .is_some_and(|id| id.trim() == d.device_id)
            })
            .or(l.wanted.first());
        let cells: Vec<String> = l
            .header
            .iter()
            .enumerate()
            .map(|(i, col)| match col {
                Some("Circuit ID") => c.circuit_id.clone(),
                Some("Circuit Name") => c.name.clone(),
                Some("Device ID") => d.device_id.clone(),
                Some("Device Name") => d.name.clone(),
                Some("Parent Node") => c.parent_node.clone(),
                Some("Parent Node ID") => parent_id.to_owned(),
                Some("MAC") => d.mac.clone(),
                Some("IPv4") => d.ipv4.clone(),
                Some("IPv6") => d.ipv6.clone(),
                Some("Download Min Mbps") => fmt_rate(c.download_min_mbps),
                Some("Upload Min Mbps") => fmt_rate(c.upload_min_mbps),
                Some("Download Max Mbps") => fmt_rate(c.download_max_mbps),
                Some("Upload Max Mbps") => fmt_rate(c.upload_max_mbps),
                Some("Comment") => d.comment.clone(),
                Some("sqm") => c.sqm.clone(),
                _ => old
                    .and_then(|cells| cells.get(i))
                    .cloned()
                    .unwrap_or_default(),
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
    let old_id = match change {
        Change::Replace(id, _) | Change::Remove(id) => Some(id.as_str()),
        Change::Add(_) => None,
    };
    let l = layout(text, old_id)?;
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
            (Vec::new(), Some(c))
        }
        Change::Replace(id, c) => {
            if c.circuit_id != *id && !ranges(&c.circuit_id).is_empty() {
                return Err(ApiError::Conflict(format!(
                    "circuit {:?} exists already",
                    c.circuit_id
                )));
            }
            (ranges(id), Some(c))
        }
        Change::Remove(id) => (ranges(id), None),
    };
    if let Some(id) = old_id {
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
        .map(|c| render_rows(c, &l, parent_id))
        .transpose()?
        .unwrap_or_default();
    let mut out = String::with_capacity(text.len() + new_rows.len());
    let mut at = 0;
    let mut placed = false;
    for r in &remove {
        out.push_str(&text[at..r.start]);
        if !placed {
            // The old last row may have had no line end: the rows after it need one.
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

/// [`apply`] on a file's bytes in any encoding ShapedDevices.csv may have (UTF-8 with or without
/// a byte order mark, UTF-16LE/BE with one): returns the new text (UTF-8, for validation) and
/// the bytes to write, in the file's own encoding with its byte order mark, so a spreadsheet
/// that saved "Unicode text" reads it back as it wrote it.
pub fn apply_file(
    bytes: &[u8],
    change: &Change,
    parent_id: &str,
) -> Result<(String, Vec<u8>), ApiError> {
    let (text, encoding) = lqos_config::text_encoding::decode(bytes).map_err(|e| {
        ApiError::invalid(format!(
            "ShapedDevices.csv cannot be edited from the WebUI: {e}"
        ))
    })?;
    let new = apply(&text, change, parent_id)?;
    let out = encoding.encode(&new);
    Ok((new, out))
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
    validate_texts(&texts, &c.ip_ranges, edited)
}

/// [`validate`] on the texts of the inputs.
fn validate_texts(
    texts: &InputTexts,
    ranges: &IpRanges,
    edited: Option<&str>,
) -> Result<(), ApiError> {
    let (inputs, diags) = lqos_config::parse_inputs(texts, ranges);
    let mut problems: Vec<String> = diags
        .iter()
        .filter(|d| {
            d.severity == Severity::Reject
                || (d.severity == Severity::Quarantine
                    && edited.is_some()
                    && d.circuit.as_deref() == edited)
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

/// What `POST /api/circuits` (`replace: None`) or `PUT /api/circuits/{replace}` does with its
/// JSON body before anything is written, on texts instead of files: the body decoded as the
/// handler's extractor decodes it, spliced into `texts.shaped_devices` (which must be UTF-8, as
/// the handler reads it) and the result validated. The new file's text, or the error the
/// client would get. For lqos-fuzz, which feeds it arbitrary bodies.
pub fn check_edit_body(
    body: &[u8],
    replace: Option<&str>,
    parent_id: &str,
    texts: &InputTexts,
    ranges: &IpRanges,
) -> Result<String, String> {
    let c = JsonBody::<CircuitEdit>::from_bytes(body).map_err(|e| e.to_string())?;
    let csv = std::str::from_utf8(texts.shaped_devices).map_err(|e| e.to_string())?;
    let id = c.circuit_id.clone();
    let change = match replace {
        Some(old) => Change::Replace(old.to_owned(), c),
        None => Change::Add(c),
    };
    let new = apply(csv, &change, parent_id).map_err(|e| e.to_string())?;
    let edited = InputTexts {
        shaped_devices: new.as_bytes(),
        ..*texts
    };
    validate_texts(&edited, ranges, Some(&id)).map_err(|e| e.to_string())?;
    Ok(new)
}

/// Replaces `path` (through a symbolic link, if it is one) with `text`: a new file in the same
/// directory, with the old one's mode and owner, synced, renamed over it, the directory synced.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    if let Ok(m) = std::fs::metadata(&path) {
        tmp.as_file().set_permissions(m.permissions())?;
        std::os::unix::fs::fchown(tmp.as_file(), Some(m.uid()), Some(m.gid()))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads, changes, checks and writes ShapedDevices.csv (blocking: file I/O and a validation
/// of every circuit).
fn change_file(s: &WebState, user: &str, change: &Change) -> Result<(), ApiError> {
    if s.inner.config.http_import.is_some() {
        return Err(ApiError::Conflict(
            "ShapedDevices.csv comes from [http_import] and is replaced at every refresh: change the circuit in the CRM".into(),
        ));
    }
    let path = s.inner.config.shaped_devices_path();
    let old = std::fs::read(&path)
        .map_err(|e| ApiError::internal(format!("reading {}", path.display()), e))?;
    let catalog = s.catalog();
    let (parent_id, edited) = match change {
        Change::Add(c) | Change::Replace(_, c) => {
            let id = catalog
                .node(&c.parent_node)
                .and_then(|n| catalog.nodes[n].id.clone())
                .unwrap_or_default();
            (id, Some(c.circuit_id.as_str()))
        }
        Change::Remove(_) => (String::new(), None),
    };
    let (new, bytes) = apply_file(&old, change, &parent_id)?;
    validate(s, &new, edited)?;
    write_atomically(&path, &bytes)
        .map_err(|e| ApiError::internal(format!("writing {}", path.display()), e))?;
    tracing::info!(%user, ?change, "WebUI: ShapedDevices.csv changed");
    s.reload_after_write();
    Ok(())
}

/// One edit at a time, off the runtime's threads.
async fn change(s: &WebState, user: &str, change: Change) -> Result<(), ApiError> {
    let _one_at_a_time = s.inner.edits.lock().await;
    let (s, user) = (s.clone(), user.to_owned());
    tokio::task::spawn_blocking(move || change_file(&s, &user, &change))
        .await
        .map_err(|e| ApiError::internal("editing ShapedDevices.csv", e))?
}

fn written(s: &WebState, id: &str) -> Result<serde_json::Value, ApiError> {
    super::circuits::circuit_detail(s, id).ok_or_else(|| {
        ApiError::internal(
            "ShapedDevices.csv was written, but the circuit cannot be read back",
            format!("circuit {id:?} is not in the reloaded catalog"),
        )
    })
}

pub async fn create(
    State(s): State<WebState>,
    Admin(v): Admin,
    JsonBody(c): JsonBody<CircuitEdit>,
) -> Result<Response, ApiError> {
    let id = c.circuit_id.clone();
    change(&s, &v.user.username, Change::Add(c)).await?;
    Ok((StatusCode::CREATED, Json(written(&s, &id)?)).into_response())
}

pub async fn replace(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(old): Path<String>,
    JsonBody(c): JsonBody<CircuitEdit>,
) -> Result<Response, ApiError> {
    let id = c.circuit_id.clone();
    change(&s, &v.user.username, Change::Replace(old, c)).await?;
    Ok(Json(written(&s, &id)?).into_response())
}

pub async fn remove(
    State(s): State<WebState>,
    Admin(v): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    change(&s, &v.user.username, Change::Remove(id)).await?;
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
        let out = apply(CSV, &Change::Replace("2".into(), e), "ap").unwrap();
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
        let added = apply(CSV, &Change::Add(e.clone()), "ap").unwrap();
        assert!(added.starts_with(CSV) && added.ends_with("25,5,\n"));
        assert!(matches!(
            apply(CSV, &Change::Add(edit("3")), ""),
            Err(ApiError::Conflict(_))
        ));
        let removed = apply(CSV, &Change::Remove("2".into()), "").unwrap();
        assert!(!removed.contains("Chen") && removed.contains("Okafor"));
        assert!(matches!(
            apply(CSV, &Change::Remove("7".into()), ""),
            Err(ApiError::NotFound(_))
        ));
        let no_newline = CSV.trim_end();
        let added = apply(no_newline, &Change::Add(e), "ap").unwrap();
        assert!(added.contains("10,2,\n9,"), "a row starts on its own line");
    }

    #[test]
    fn crlf_files_comments_and_blank_lines_between_rows_survive_every_edit() {
        let text = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\r\n\
            1,A,1-1,R,AP,100.64.0.1,,5,1,10,2\r\n\
            # the next one pays late\r\n\
            \r\n\
            2,B,2-1,R,AP,100.64.0.2,,5,1,10,2\r\n\
            3,C,3-1,R,AP,100.64.0.3,,5,1,10,2";
        let replaced = apply(text, &Change::Replace("2".into(), edit("2")), "").unwrap();
        assert_eq!(
            replaced,
            text.replace(
                "2,B,2-1,R,AP,100.64.0.2,,5,1,10,2\r\n",
                "2,\"New, Name\",2-1,Router,AP,\"100.64.0.9, 100.64.0.10\",,12.5,2,25,5\r\n"
            )
        );
        let last = apply(text, &Change::Replace("3".into(), edit("3")), "").unwrap();
        assert!(last.ends_with("1-1,R,AP,100.64.0.1,,5,1,10,2\r\n# the next one pays late\r\n\r\n2,B,2-1,R,AP,100.64.0.2,,5,1,10,2\r\n3,\"New, Name\",3-1,Router,AP,\"100.64.0.9, 100.64.0.10\",,12.5,2,25,5\r\n"), "{last:?}");
        let removed = apply(text, &Change::Remove("2".into()), "").unwrap();
        assert_eq!(
            removed,
            text.replace("2,B,2-1,R,AP,100.64.0.2,,5,1,10,2\r\n", "")
        );
        let added = apply(text, &Change::Add(edit("9")), "").unwrap();
        assert!(
            added.starts_with(text) && added.ends_with("25,5\r\n") && !added.contains("\n\n9"),
            "{added:?}"
        );
    }

    #[test]
    fn columns_the_webui_does_not_edit_keep_their_cells() {
        let text = "circuit_id,circuit_name,device_id,device_name,parent_node,Anchor Node ID,ipv4,ipv6,download_min_mbps,upload_min_mbps,download_max_mbps,upload_max_mbps,CRM plan\n\
            2,B,2-1,R,AP,anchor-7,100.64.0.2,,5,1,10,2,Gold\n";
        let out = apply(text, &Change::Replace("2".into(), edit("2")), "").unwrap();
        assert!(out.ends_with("2,\"New, Name\",2-1,Router,AP,anchor-7,\"100.64.0.9, 100.64.0.10\",,12.5,2,25,5,Gold\n"), "{out}");
    }

    #[test]
    fn a_file_without_a_header_row_is_not_edited() {
        let text = "1,A,1-1,R,AP,,100.64.0.1,,5,1,10,2,\n";
        let e = apply(text, &Change::Remove("1".into()), "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no header row"), "{e}");
    }

    /// Issue 13 (1.4): an edit keeps a UTF-16 or BOM file's encoding and byte order mark.
    #[test]
    fn edits_keep_the_file_encoding_and_its_byte_order_mark() {
        use lqos_config::TextEncoding;
        let text = CSV.replace("Chen", "Chén 😀").replace('\n', "\r\n");
        let change = Change::Replace("1".into(), edit("1"));
        let expected = apply(&text, &change, "ap").unwrap();
        assert!(expected.contains("Chén 😀") && expected.contains("\r\n3,Okafor"));
        for enc in [
            TextEncoding::Utf8,
            TextEncoding::Utf8Bom,
            TextEncoding::Utf16Le,
            TextEncoding::Utf16Be,
        ] {
            let (new, bytes) = apply_file(&enc.encode(&text), &change, "ap").unwrap();
            assert_eq!(new, expected, "{enc:?}");
            assert_eq!(
                bytes,
                enc.encode(&expected),
                "{enc:?}: written back as it came"
            );
        }
        let mut odd = TextEncoding::Utf16Le.encode(&text);
        odd.pop();
        let e = apply_file(&odd, &change, "ap").unwrap_err().to_string();
        assert!(
            e.contains("cannot be edited") && e.contains("odd number of bytes"),
            "{e}"
        );
    }

    #[test]
    fn a_circuit_without_devices_is_refused() {
        let mut e = edit("9");
        e.devices.clear();
        assert!(matches!(
            apply(CSV, &Change::Add(e), ""),
            Err(ApiError::Invalid { .. })
        ));
    }
}
