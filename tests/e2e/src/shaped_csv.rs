//! Just enough of ShapedDevices.csv for tests: rewriting a column and listing each circuit's
//! addresses. (The real parser is lqos-config's; this one is independent on purpose, so a
//! test does not check the planner against the planner's own reading of the file.)

use crate::dry_run::parse_prefix;
use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;
use std::collections::BTreeMap;

fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes)
}

/// The header row and the data rows (comments dropped).
fn records(bytes: &[u8]) -> Result<(csv::StringRecord, Vec<csv::StringRecord>)> {
    let mut rows = reader(bytes).into_records();
    let header = rows
        .next()
        .ok_or_else(|| anyhow!("ShapedDevices.csv has no header row"))??;
    let rows = rows
        .collect::<Result<Vec<_>, _>>()
        .context("unreadable ShapedDevices.csv")?;
    Ok((header, rows))
}

fn column(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header.iter().position(|h| normalise(h) == normalise(name))
}

/// The file with every cell of column `name` emptied (comment lines are dropped; the file is
/// returned unchanged in content when it has no such column).
pub fn blank_column(bytes: &[u8], name: &str) -> Result<String> {
    let (header, rows) = records(bytes)?;
    let index = column(&header, name);
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    writer.write_record(&header)?;
    for row in rows {
        let cells: Vec<&str> = row
            .iter()
            .enumerate()
            .map(|(i, c)| if Some(i) == index { "" } else { c })
            .collect();
        writer.write_record(&cells)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow!("cannot write CSV: {e}"))?;
    String::from_utf8(bytes).context("CSV output is not UTF-8")
}

/// Every address or prefix in the IPv4 and IPv6 columns, with the id of its circuit. Fails
/// when one prefix appears in two circuits.
pub fn circuit_prefixes(bytes: &[u8]) -> Result<BTreeMap<IpNet, String>> {
    let (header, rows) = records(bytes)?;
    let col = |name| column(&header, name).ok_or_else(|| anyhow!("no {name:?} column"));
    let (id, v4, v6) = (col("Circuit ID")?, col("IPv4")?, col("IPv6")?);
    let mut out = BTreeMap::new();
    for row in &rows {
        let circuit = row.get(id).unwrap_or_default();
        for cell in [v4, v6].map(|i| row.get(i).unwrap_or_default()) {
            for entry in cell.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let prefix = parse_prefix(entry)?.trunc();
                if let Some(other) = out.insert(prefix, circuit.to_string()) {
                    if other != circuit {
                        bail!("{prefix} is in circuits {other:?} and {circuit:?}");
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The generator's `sqm` column emptied: this kernel has neither CAKE nor fq_codel, so every
/// circuit takes `default_sqm` (pfifo).
pub fn without_sqm(csv_text: &str) -> Result<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut sqm = None;
    for record in reader.records() {
        let record = record?;
        if sqm.is_none() {
            sqm = record
                .iter()
                .position(|f| f.trim().eq_ignore_ascii_case("sqm"));
        }
        let column = sqm;
        let fields = record.iter().enumerate().map(|(i, f)| {
            if Some(i) == column && f.trim() != "sqm" {
                ""
            } else {
                f
            }
        });
        writer.write_record(fields)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# comment, with commas\n\
        Circuit ID,Circuit Name,IPv4,IPv6,sqm\n\
        1,\"Garcia, Maria\",\"100.64.1.20, 100.64.1.21\",2001:db8:1:100::/56,fq_codel\n\
        2,Smith,198.51.100.8/29,,cake/fq_codel\n";

    #[test]
    fn blanks_sqm() {
        let out = blank_column(CSV.as_bytes(), "SQM").unwrap();
        assert_eq!(
            out,
            "Circuit ID,Circuit Name,IPv4,IPv6,sqm\n\
             1,\"Garcia, Maria\",\"100.64.1.20, 100.64.1.21\",2001:db8:1:100::/56,\n\
             2,Smith,198.51.100.8/29,,\n"
        );
    }

    #[test]
    fn prefixes() {
        let p = circuit_prefixes(CSV.as_bytes()).unwrap();
        let got: Vec<(String, &str)> = p.iter().map(|(k, v)| (k.to_string(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("100.64.1.20/32".to_string(), "1"),
                ("100.64.1.21/32".to_string(), "1"),
                ("198.51.100.8/29".to_string(), "2"),
                ("2001:db8:1:100::/56".to_string(), "1"),
            ]
        );
    }
}
