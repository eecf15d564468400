//! `ShapedDevices.csv`: one row per device, read into [`DeviceRow`]s with every problem reported.
//!
//! Headers match case- and punctuation-insensitively (`Download Min Mbps`, `download_min`, ...);
//! a file without a recognisable header is read positionally when it has the legacy 13-column
//! layout or the 15/16-column modern one. `#` lines are comments; CRLF is fine; the text may be
//! UTF-8 (with or without a byte order mark) or UTF-16 with a byte order mark.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::ip_list::{parse_cell, Family};
use crate::sqm::SqmOverride;
use crate::text_encoding::{decoder, lf_lines, DecodeError};
use ipnet::IpNet;
use std::io::Read;
use std::sync::Arc;

/// One device as read from a row (or from an override's persistent device).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// 1-based line in the file; 0 for devices that came from lqos_overrides.json.
    pub line: u64,
    pub circuit_id: String,
    pub circuit_name: String,
    pub device_id: String,
    pub device_name: String,
    pub parent_node: Arc<str>,
    pub parent_node_id: Arc<str>,
    // `Anchor Node ID` is accepted for LibreQoS compatibility and not used.
    pub mac: String,
    pub ips: Vec<IpNet>,
    /// Mbps; `None` where the cell was bad (already reported).
    pub download_min: Option<f64>,
    pub upload_min: Option<f64>,
    pub download_max: Option<f64>,
    pub upload_max: Option<f64>,
    pub comment: String,
    pub sqm: Option<SqmOverride>,
    /// False when a cell of this row was bad: its circuit is quarantined.
    pub valid: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    CircuitId,
    CircuitName,
    DeviceId,
    DeviceName,
    ParentNode,
    ParentNodeId,
    AnchorNodeId,
    Mac,
    Ipv4,
    Ipv6,
    DownloadMin,
    UploadMin,
    DownloadMax,
    UploadMax,
    Comment,
    Sqm,
}

const COLS: usize = 16;

impl Col {
    fn label(self) -> &'static str {
        match self {
            Col::CircuitId => "Circuit ID",
            Col::CircuitName => "Circuit Name",
            Col::DeviceId => "Device ID",
            Col::DeviceName => "Device Name",
            Col::ParentNode => "Parent Node",
            Col::ParentNodeId => "Parent Node ID",
            Col::AnchorNodeId => "Anchor Node ID",
            Col::Mac => "MAC",
            Col::Ipv4 => "IPv4",
            Col::Ipv6 => "IPv6",
            Col::DownloadMin => "Download Min Mbps",
            Col::UploadMin => "Upload Min Mbps",
            Col::DownloadMax => "Download Max Mbps",
            Col::UploadMax => "Upload Max Mbps",
            Col::Comment => "Comment",
            Col::Sqm => "sqm",
        }
    }

    /// Recognises a header cell, ignoring case and punctuation.
    fn from_header(cell: &str) -> Option<Col> {
        let n: String = cell
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        Some(match n.as_str() {
            "circuitid" => Col::CircuitId,
            "circuitname" => Col::CircuitName,
            "deviceid" => Col::DeviceId,
            "devicename" => Col::DeviceName,
            "parentnode" | "parent" | "parentnodename" => Col::ParentNode,
            "parentnodeid" => Col::ParentNodeId,
            "anchornodeid" => Col::AnchorNodeId,
            "mac" | "macaddress" => Col::Mac,
            "ipv4" | "ipv4address" | "ipv4addresses" => Col::Ipv4,
            "ipv6" | "ipv6address" | "ipv6addresses" => Col::Ipv6,
            "downloadminmbps" | "downloadmin" | "mindownloadmbps" | "downloadminimummbps" => {
                Col::DownloadMin
            }
            "uploadminmbps" | "uploadmin" | "minuploadmbps" | "uploadminimummbps" => Col::UploadMin,
            "downloadmaxmbps" | "downloadmax" | "maxdownloadmbps" | "downloadmaximummbps" => {
                Col::DownloadMax
            }
            "uploadmaxmbps" | "uploadmax" | "maxuploadmbps" | "uploadmaximummbps" => Col::UploadMax,
            "comment" | "comments" => Col::Comment,
            "sqm" | "sqmoverride" => Col::Sqm,
            _ => return None,
        })
    }
}

const REQUIRED: [Col; 9] = [
    Col::CircuitId,
    Col::DeviceId,
    Col::ParentNode,
    Col::Ipv4,
    Col::Ipv6,
    Col::DownloadMin,
    Col::UploadMin,
    Col::DownloadMax,
    Col::UploadMax,
];

const LEGACY_13: [Col; 13] = [
    Col::CircuitId,
    Col::CircuitName,
    Col::DeviceId,
    Col::DeviceName,
    Col::ParentNode,
    Col::Mac,
    Col::Ipv4,
    Col::Ipv6,
    Col::DownloadMin,
    Col::UploadMin,
    Col::DownloadMax,
    Col::UploadMax,
    Col::Comment,
];

const MODERN_16: [Col; 16] = [
    Col::CircuitId,
    Col::CircuitName,
    Col::DeviceId,
    Col::DeviceName,
    Col::ParentNode,
    Col::ParentNodeId,
    Col::AnchorNodeId,
    Col::Mac,
    Col::Ipv4,
    Col::Ipv6,
    Col::DownloadMin,
    Col::UploadMin,
    Col::DownloadMax,
    Col::UploadMax,
    Col::Comment,
    Col::Sqm,
];

/// The canonical name of the column a header cell names (`"Circuit ID"` for `circuit_id`,
/// `CircuitID`, ...), as the parser reads headers; `None` for a column lqos does not know.
pub fn column_label(header_cell: &str) -> Option<&'static str> {
    Col::from_header(header_cell.trim()).map(Col::label)
}

/// Column index of each known column in this file.
type Layout = [Option<usize>; COLS];

/// Parses the file's bytes. `file` names it in diagnostics. Rows with bad cells come back with
/// `valid == false` and their problems reported; structural problems (no header, missing
/// required columns, unreadable CSV, no rows at all) are [`Severity::Reject`].
pub fn parse(input: impl Read, size_hint: usize, file: &str) -> (Vec<DeviceRow>, Diagnostics) {
    let mut diags = Diagnostics::default();
    // UTF-8 with or without a byte order mark, or UTF-16 with one, read as UTF-8 without it;
    // every record ends with an LF, so that the reader's position gives its line.
    let input = lf_lines(decoder(input));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .buffer_capacity(1 << 16)
        .from_reader(input);
    // Rows are rarely shorter than ~100 bytes: reserve once instead of regrowing a large Vec.
    let mut rows = Vec::with_capacity(size_hint / 128);
    let mut layout: Option<Layout> = None;
    let mut record = csv::StringRecord::new();
    let mut interned = Interner::default();
    let mut shifted: Option<ShiftedRows> = None;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let decode = match e.kind() {
                    csv::ErrorKind::Io(io) => DecodeError::from_io(io),
                    _ => None,
                };
                let line = match decode {
                    Some(d) => d.line().unwrap_or(0),
                    None => e.position().map_or(0, |p| p.line()),
                };
                let location = if line > 0 {
                    Location::Line { line, column: None }
                } else {
                    Location::File
                };
                let message = match (e.kind(), decode) {
                    (_, Some(d)) => d.to_string(),
                    (csv::ErrorKind::Utf8 { .. }, _) => {
                        "expected UTF-8 text (or UTF-16 with a byte order mark)".to_string()
                    }
                    _ => format!("unreadable CSV: {e}"),
                };
                diags.push(Diagnostic::new(Severity::Reject, file, location, message));
                return (rows, diags);
            }
        }
        // csv reports a record that follows a comment at the comment's line; where the reader
        // stopped (just past this record's LF, see LfLines) is exact, less the lines inside
        // quoted fields.
        let inner_newlines: u64 = record.iter().map(|f| f.matches('\n').count() as u64).sum();
        let line = reader.position().line().saturating_sub(1 + inner_newlines);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &layout else {
            match detect_layout(&record, file, line, &mut diags) {
                Some((l, is_header)) => {
                    layout = Some(l);
                    shifted = is_header
                        .then(|| ShiftedRows::watch(&l, record.len(), line, diags.items.len()))
                        .flatten();
                    if !is_header {
                        rows.push(parse_row(
                            &record,
                            &l,
                            line,
                            file,
                            &mut interned,
                            &mut diags,
                        ));
                    }
                    continue;
                }
                None => return (rows, diags),
            }
        };
        if let Some(w) = &mut shifted {
            w.see(record.len());
        }
        rows.push(parse_row(
            &record,
            cols,
            line,
            file,
            &mut interned,
            &mut diags,
        ));
    }
    if let Some(w) = shifted.filter(|w| w.every_row && !rows.is_empty()) {
        // One diagnostic for the cause instead of one per shifted cell of every row.
        diags.items.truncate(w.diags_before_rows);
        diags.push(w.diagnostic(file, rows.len()));
        rows.clear();
        return (rows, diags);
    }
    if layout.is_none() || rows.is_empty() {
        diags.push(Diagnostic::new(
            Severity::Reject,
            file,
            Location::File,
            "no devices: expected a header row and at least one device row (an empty file would un-shape every subscriber, so it is refused)",
        ));
    }
    (rows, diags)
}

/// Watches for rows written in the legacy 13-column layout (no Parent Node ID, no Anchor Node
/// ID) under a header that names those two columns: LibreQoS's own example file has this
/// shape, and read by the header every cell after Parent Node would land two columns off.
struct ShiftedRows {
    header_line: u64,
    header_len: usize,
    /// The header's last column is `sqm`, which legacy rows may also leave out.
    sqm_last: bool,
    /// Where the rows' own diagnostics start (they are dropped when every row is shifted).
    diags_before_rows: usize,
    every_row: bool,
    /// The field counts seen, for the message.
    lengths: std::collections::BTreeSet<usize>,
}

impl ShiftedRows {
    /// Starts watching when the header names both ID columns.
    fn watch(layout: &Layout, header_len: usize, header_line: u64, diags: usize) -> Option<Self> {
        let has = |c: Col| layout[c as usize].is_some();
        (has(Col::ParentNodeId) && has(Col::AnchorNodeId)).then(|| ShiftedRows {
            header_line,
            header_len,
            sqm_last: layout[Col::Sqm as usize] == Some(header_len - 1),
            diags_before_rows: diags,
            every_row: true,
            lengths: Default::default(),
        })
    }

    fn see(&mut self, fields: usize) {
        let legacy =
            fields + 2 == self.header_len || (self.sqm_last && fields + 3 == self.header_len);
        self.every_row &= legacy;
        self.lengths.insert(fields);
    }

    fn diagnostic(&self, file: &str, rows: usize) -> Diagnostic {
        let lengths: Vec<String> = self.lengths.iter().map(usize::to_string).collect();
        Diagnostic::new(
            Severity::Reject,
            file,
            Location::Line { line: self.header_line, column: None },
            format!(
                "the header has {} columns but every one of the {rows} device row(s) has {} fields: \
                 the rows look written in the legacy 13-column layout (without Parent Node ID and \
                 Anchor Node ID) under a header that names those two columns, so every cell after \
                 Parent Node would be read two columns off. Remove \"Parent Node ID\" and \
                 \"Anchor Node ID\" from the header, or add two empty cells after Parent Node in \
                 every row; no row of this file was used",
                self.header_len,
                lengths.join(" or "),
            ),
        )
    }
}

/// Parent names and ids repeat on every row under the same node: one allocation each.
#[derive(Default)]
struct Interner(rustc_hash::FxHashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        match self.0.get(s) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = s.into();
                self.0.insert(a.clone());
                a
            }
        }
    }
}

fn detect_layout(
    first: &csv::StringRecord,
    file: &str,
    line: u64,
    diags: &mut Diagnostics,
) -> Option<(Layout, bool)> {
    let mut layout: Layout = [None; COLS];
    let mut recognised = 0;
    for (i, cell) in first.iter().map(str::trim).enumerate() {
        if let Some(col) = Col::from_header(cell) {
            if layout[col as usize].is_some() {
                diags.push(
                    Diagnostic::new(
                        Severity::Reject,
                        file,
                        Location::Line { line, column: None },
                        format!("column {:?} appears twice in the header", col.label()),
                    )
                    .value(cell),
                );
            }
            layout[col as usize] = Some(i);
            recognised += 1;
        } else if !cell.is_empty() {
            diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    file,
                    Location::Line { line, column: None },
                    "unknown column (ignored)",
                )
                .value(cell),
            );
        }
    }
    if recognised == 0 {
        let positional: Option<&[Col]> = match first.len() {
            13 => Some(&LEGACY_13),
            15 => Some(&MODERN_16[..15]),
            16 => Some(&MODERN_16),
            _ => None,
        };
        // Header cells that were not recognised were reported above; drop those warnings.
        diags.items.retain(|d| {
            !(d.severity == Severity::Warning
                && d.location == Location::Line { line, column: None })
        });
        return match positional {
            Some(cols) => {
                for (i, c) in cols.iter().enumerate() {
                    layout[*c as usize] = Some(i);
                }
                Some((layout, false))
            }
            None => {
                diags.push(Diagnostic::new(Severity::Reject, file, Location::Line { line, column: None },
                    format!("expected a header row naming the columns (Circuit ID, Device ID, Parent Node, IPv4, IPv6, Download Min Mbps, ...), or the 13-column legacy layout; found {} unrecognised columns", first.len())));
                None
            }
        };
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|c| layout[**c as usize].is_none())
        .map(|c| c.label())
        .collect();
    if !missing.is_empty() {
        diags.push(Diagnostic::new(
            Severity::Reject,
            file,
            Location::Line { line, column: None },
            format!("missing required column(s): {}", missing.join(", ")),
        ));
        return None;
    }
    if diags.rejects() {
        return None;
    }
    Some((layout, true))
}

fn parse_row(
    record: &csv::StringRecord,
    layout: &Layout,
    line: u64,
    file: &str,
    interned: &mut Interner,
    diags: &mut Diagnostics,
) -> DeviceRow {
    let get = |c: Col| {
        layout[c as usize]
            .and_then(|i| record.get(i))
            .unwrap_or("")
            .trim()
    };
    let circuit_id = get(Col::CircuitId).to_string();
    let mut valid = true;
    let mut bad = |col: Col, value: &str, message: String, diags: &mut Diagnostics| {
        valid = false;
        let mut d = Diagnostic::new(
            Severity::Quarantine,
            file,
            Location::Line { line, column: None },
            format!("{}: {message}", col.label()),
        )
        .value(value);
        if !circuit_id.is_empty() {
            d = d.circuit(circuit_id.clone());
        }
        diags.push(d);
    };
    if circuit_id.is_empty() {
        bad(
            Col::CircuitId,
            "",
            "expected a circuit id (rows sharing it form a circuit)".into(),
            diags,
        );
    }
    if get(Col::DeviceId).is_empty() {
        bad(Col::DeviceId, "", "expected a device id".into(), diags);
    }
    let mut ips = Vec::new();
    for (col, family) in [(Col::Ipv4, Family::V4), (Col::Ipv6, Family::V6)] {
        let (ok, errors) = parse_cell(get(col), family);
        for (value, why) in errors {
            bad(col, &value, why, diags);
        }
        for p in ok {
            if let Some(written) = p.had_host_bits {
                diags.push(
                    Diagnostic::new(
                        Severity::Warning,
                        file,
                        Location::Line { line, column: None },
                        format!("{}: prefix has host bits set; using {}", col.label(), p.net),
                    )
                    .value(written),
                );
            }
            ips.push(p.net);
        }
    }
    let mut rate = |col: Col| -> Option<f64> {
        let v = get(col);
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Some(x),
            _ => {
                bad(
                    col,
                    v,
                    "expected a rate in Mbps greater than 0 (fractions allowed)".into(),
                    diags,
                );
                None
            }
        }
    };
    let download_min = rate(Col::DownloadMin);
    let upload_min = rate(Col::UploadMin);
    let download_max = rate(Col::DownloadMax);
    let upload_max = rate(Col::UploadMax);
    let sqm_cell = get(Col::Sqm);
    let sqm = match SqmOverride::parse(sqm_cell) {
        Ok(s) => s,
        Err(why) => {
            diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    file,
                    Location::Line { line, column: None },
                    format!("sqm: {why}; using the default"),
                )
                .value(sqm_cell),
            );
            None
        }
    };
    DeviceRow {
        line,
        circuit_name: match get(Col::CircuitName) {
            "" => circuit_id.clone(),
            name => name.to_string(),
        },
        circuit_id,
        device_id: get(Col::DeviceId).to_string(),
        device_name: get(Col::DeviceName).to_string(),
        parent_node: interned.get(get(Col::ParentNode)),
        parent_node_id: interned.get(get(Col::ParentNodeId)),
        mac: get(Col::Mac).to_string(),
        ips,
        download_min,
        upload_min,
        download_max,
        upload_max,
        comment: get(Col::Comment).to_string(),
        sqm,
        valid,
    }
}
