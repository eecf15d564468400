//! The converter behind `lqos-geo-build`: CSV rows `start,end,asn,name` (ASN) or
//! `start,end,CC` (country), IPv4 and IPv6 mixed in any order, become checked range tables.
//!
//! Overlapping rows (the upstream data has a few) are resolved as a longest-prefix match would:
//! where ranges overlap, the narrowest wins (on a tie, the earlier row). Adjacent ranges with
//! the same value are merged. `#` starts a comment line.

use super::asn::AsnTable;
use super::country::{is_country_code, CountryTable};
use super::error::BuildError;
use super::table::RangeTable;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::IpAddr;

/// What the converter did, printed by the tool and kept by the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuildReport {
    /// CSV rows read.
    pub rows: usize,
    /// Rows that overlapped another (resolved: the narrowest range wins).
    pub overlapping_rows: usize,
    /// Rows for AS0 ("not announced"), left out: they look up as unknown.
    pub as0_rows: usize,
    /// Rows naming an ASN already named differently (the first name is kept).
    pub conflicting_names: usize,
    pub v4_ranges: usize,
    pub v6_ranges: usize,
    pub asns: usize,
}

/// One range as read, before overlap resolution.
#[derive(Debug, Clone, Copy)]
struct Row<V> {
    start: u128,
    end: u128,
    value: V,
}

/// Rows of both families.
struct Rows<V> {
    v4: Vec<Row<V>>,
    v6: Vec<Row<V>>,
}

impl<V> Default for Rows<V> {
    fn default() -> Self {
        Self {
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }
}

fn bad(source_name: &str, line: u64, reason: impl Into<String>) -> BuildError {
    BuildError::BadRow {
        source_name: source_name.to_string(),
        line,
        reason: reason.into(),
    }
}

/// Reads every record of a CSV with `fields` columns, calling `each(line, record)`.
fn read_csv(
    reader: impl Read,
    source_name: &str,
    fields: usize,
    mut each: impl FnMut(u64, &csv::StringRecord) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(source) => {
                return Err(BuildError::Read {
                    source_name: source_name.to_string(),
                    source,
                })
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != fields {
            return Err(bad(
                source_name,
                line,
                format!("expected {fields} fields, found {}", record.len()),
            ));
        }
        each(line, &record)?;
    }
}

/// Parses `start,end` into a family (true = IPv4) and the range as `u128`.
fn parse_range(
    source_name: &str,
    line: u64,
    start: &str,
    end: &str,
) -> Result<(bool, u128, u128), BuildError> {
    let parse = |text: &str| {
        text.parse::<IpAddr>()
            .map_err(|_| bad(source_name, line, format!("{text:?} is not an IP address")))
    };
    let (v4, start, end) = match (parse(start)?, parse(end)?) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (true, u32::from(s) as u128, u32::from(e) as u128),
        (IpAddr::V6(s), IpAddr::V6(e)) => (false, u128::from(s), u128::from(e)),
        _ => {
            return Err(bad(
                source_name,
                line,
                "start and end are of different families",
            ))
        }
    };
    if start > end {
        return Err(bad(source_name, line, "start is after end"));
    }
    Ok((v4, start, end))
}

impl<V: Copy + Eq> Rows<V> {
    fn push(&mut self, v4: bool, start: u128, end: u128, value: V) {
        let row = Row { start, end, value };
        if v4 {
            self.v4.push(row);
        } else {
            self.v6.push(row);
        }
    }
}

/// Sorts rows into disjoint ranges: the narrowest covering row wins on an overlap (the earlier
/// row on a tie), and touching ranges with the same value are merged. Returns the ranges and
/// how many rows overlapped another.
fn resolve<V: Copy + Eq>(rows: Vec<Row<V>>) -> (Vec<Row<V>>, usize) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].start, i));
    let mut overlapping = BTreeSet::new();
    let mut reach: Option<(u128, usize)> = None;
    for &i in &order {
        if let Some((end, holder)) = reach {
            if rows[i].start <= end {
                overlapping.insert(holder);
                overlapping.insert(i);
            }
        }
        if reach.is_none_or(|(end, _)| rows[i].end > end) {
            reach = Some((rows[i].end, i));
        }
    }
    let pieces = if overlapping.is_empty() {
        order.iter().map(|&i| rows[i]).collect()
    } else {
        sweep(&rows, &order)
    };
    let mut merged: Vec<Row<V>> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match merged.last_mut() {
            Some(last) if last.value == p.value && last.end.checked_add(1) == Some(p.start) => {
                last.end = p.end;
            }
            _ => merged.push(p),
        }
    }
    (merged, overlapping.len())
}

/// The general case of [`resolve`]: cuts the key space at every start and end + 1 and gives
/// each piece the value of the narrowest row covering it.
fn sweep<V: Copy>(rows: &[Row<V>], by_start: &[usize]) -> Vec<Row<V>> {
    let mut by_end: Vec<usize> = (0..rows.len()).collect();
    by_end.sort_by_key(|&i| rows[i].end);
    let mut cuts: Vec<u128> = rows
        .iter()
        .flat_map(|r| [Some(r.start), r.end.checked_add(1)])
        .flatten()
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut active: BTreeSet<(u128, usize)> = BTreeSet::new();
    let (mut s, mut e) = (0, 0);
    let mut out = Vec::new();
    for (k, &cut) in cuts.iter().enumerate() {
        while e < by_end.len() && rows[by_end[e]].end.checked_add(1) == Some(cut) {
            let i = by_end[e];
            active.remove(&(rows[i].end - rows[i].start, i));
            e += 1;
        }
        while s < by_start.len() && rows[by_start[s]].start == cut {
            let i = by_start[s];
            active.insert((rows[i].end - rows[i].start, i));
            s += 1;
        }
        if let Some(&(_, i)) = active.first() {
            let end = cuts.get(k + 1).map_or(u128::MAX, |next| next - 1);
            out.push(Row {
                start: cut,
                end,
                value: rows[i].value,
            });
        }
    }
    out
}

fn check_count(what: &'static str, count: usize) -> Result<u32, BuildError> {
    u32::try_from(count).map_err(|_| BuildError::TooLarge {
        what,
        count,
        max: u32::MAX as usize,
    })
}

/// The IPv4 and IPv6 tables of one file.
type Tables<W> = (RangeTable<u32, W>, RangeTable<u128, W>);

/// Splits resolved rows into the file's tables, mapping each value with `map`.
fn tables<V: Copy, W: super::table::Value>(
    v4: Vec<Row<V>>,
    v6: Vec<Row<V>>,
    map: impl Fn(V) -> W,
) -> Result<Tables<W>, BuildError> {
    check_count("IPv4 ranges", v4.len())?;
    check_count("IPv6 ranges", v6.len())?;
    // The rows come out of `resolve` sorted and disjoint, so these checks cannot fail; they
    // are still made (the same ones as at load), and a failure is reported, not unwrapped.
    let t4 = RangeTable::from_parts(
        v4.iter().map(|r| r.start as u32).collect(),
        v4.iter().map(|r| r.end as u32).collect(),
        v4.iter().map(|r| map(r.value)).collect(),
        "IPv4",
    );
    let t6 = RangeTable::from_parts(
        v6.iter().map(|r| r.start).collect(),
        v6.iter().map(|r| r.end).collect(),
        v6.iter().map(|r| map(r.value)).collect(),
        "IPv6",
    );
    match (t4, t6) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), _) | (_, Err(e)) => Err(BuildError::BadRow {
            source_name: "resolved ranges".into(),
            line: 0,
            reason: e.to_string(),
        }),
    }
}

/// Builds an ASN table from CSVs of `start,end,asn,name`.
#[derive(Default)]
pub struct AsnBuilder {
    rows: Rows<u32>,
    names: BTreeMap<u32, String>,
    report: BuildReport,
}

impl AsnBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one CSV; `source_name` names it in errors.
    pub fn add_csv(&mut self, reader: impl Read, source_name: &str) -> Result<(), BuildError> {
        read_csv(reader, source_name, 4, |line, r| {
            self.report.rows += 1;
            let (v4, start, end) = parse_range(source_name, line, &r[0], &r[1])?;
            let asn: u32 = r[2]
                .parse()
                .map_err(|_| bad(source_name, line, format!("{:?} is not an ASN", &r[2])))?;
            if asn == 0 {
                self.report.as0_rows += 1;
                return Ok(());
            }
            match self.names.entry(asn) {
                Entry::Vacant(v) => {
                    v.insert(r[3].to_string());
                }
                Entry::Occupied(o) if o.get() != &r[3] => self.report.conflicting_names += 1,
                Entry::Occupied(_) => {}
            }
            self.rows.push(v4, start, end, asn);
            Ok(())
        })
    }

    /// Resolves overlaps and builds the table; `label` names the dataset and its version.
    pub fn finish(self, label: &str) -> Result<(AsnTable, BuildReport), BuildError> {
        let mut report = self.report;
        let (v4, o4) = resolve(self.rows.v4);
        let (v6, o6) = resolve(self.rows.v6);
        report.overlapping_rows = o4 + o6;
        let asns: Vec<(u32, &str)> = self.names.iter().map(|(&a, n)| (a, n.as_str())).collect();
        check_count("ASNs", asns.len())?;
        let total_names: usize = asns.iter().map(|(_, n)| n.len()).sum();
        check_count("name bytes", total_names)?;
        let index = |asn: u32| {
            asns.binary_search_by_key(&asn, |&(a, _)| a)
                .map_or(0, |i| i as u32)
        };
        let (t4, t6) = tables(v4, v6, index)?;
        report.v4_ranges = t4.len();
        report.v6_ranges = t6.len();
        report.asns = asns.len();
        let table = AsnTable::from_ranges(label.to_string(), t4, t6, &asns).map_err(|e| {
            BuildError::BadRow {
                source_name: "ASN table".into(),
                line: 0,
                reason: e.to_string(),
            }
        })?;
        Ok((table, report))
    }
}

/// Builds a country table from CSVs of `start,end,CC`.
#[derive(Default)]
pub struct CountryBuilder {
    rows: Rows<[u8; 2]>,
    report: BuildReport,
}

impl CountryBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one CSV; `source_name` names it in errors. Codes are ISO 3166-1 alpha-2, any case.
    pub fn add_csv(&mut self, reader: impl Read, source_name: &str) -> Result<(), BuildError> {
        read_csv(reader, source_name, 3, |line, r| {
            self.report.rows += 1;
            let (v4, start, end) = parse_range(source_name, line, &r[0], &r[1])?;
            let code = match r[2].as_bytes() {
                &[a, b] => [a.to_ascii_uppercase(), b.to_ascii_uppercase()],
                _ => [0, 0],
            };
            if !is_country_code(code) {
                return Err(bad(
                    source_name,
                    line,
                    format!("{:?} is not a two-letter country code", &r[2]),
                ));
            }
            self.rows.push(v4, start, end, code);
            Ok(())
        })
    }

    /// Resolves overlaps and builds the table; `label` names the dataset and its version.
    pub fn finish(self, label: &str) -> Result<(CountryTable, BuildReport), BuildError> {
        let mut report = self.report;
        let (v4, o4) = resolve(self.rows.v4);
        let (v6, o6) = resolve(self.rows.v6);
        report.overlapping_rows = o4 + o6;
        let (t4, t6) = tables(v4, v6, |c| c)?;
        report.v4_ranges = t4.len();
        report.v6_ranges = t6.len();
        let table = CountryTable::from_ranges(label.to_string(), t4, t6).map_err(|e| {
            BuildError::BadRow {
                source_name: "country table".into(),
                line: 0,
                reason: e.to_string(),
            }
        })?;
        Ok((table, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: u128, end: u128, value: u32) -> Row<u32> {
        Row { start, end, value }
    }

    fn flat(rows: &[Row<u32>]) -> Vec<(u128, u128, u32)> {
        rows.iter().map(|r| (r.start, r.end, r.value)).collect()
    }

    #[test]
    fn disjoint_rows_are_sorted_and_touching_equal_values_merged() {
        let (out, overlaps) = resolve(vec![
            row(20, 29, 2),
            row(0, 9, 1),
            row(10, 19, 1),
            row(40, 49, 2),
        ]);
        assert_eq!(overlaps, 0);
        assert_eq!(flat(&out), vec![(0, 19, 1), (20, 29, 2), (40, 49, 2)]);
    }

    #[test]
    fn the_narrowest_row_wins_an_overlap() {
        // A wide row with a narrower one inside, and one overlapping its end (like the
        // upstream 214.95.0.0-215.0.255.255 / 215.0.0.0-215.1.3.255 pair).
        let (out, overlaps) = resolve(vec![row(0, 99, 1), row(10, 19, 2), row(90, 120, 3)]);
        assert_eq!(overlaps, 3);
        assert_eq!(
            flat(&out),
            vec![(0, 9, 1), (10, 19, 2), (20, 89, 1), (90, 120, 3)]
        );
    }

    #[test]
    fn equal_ranges_keep_the_earlier_row_and_the_key_space_ends_work() {
        let (out, overlaps) = resolve(vec![
            row(u128::MAX - 9, u128::MAX, 7),
            row(u128::MAX - 9, u128::MAX, 8),
            row(0, 0, 5),
        ]);
        assert_eq!(overlaps, 2);
        assert_eq!(flat(&out), vec![(0, 0, 5), (u128::MAX - 9, u128::MAX, 7)]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let cases = [
            ("10.0.0.0,10.0.0.255,64500\n", "expected 4 fields"),
            ("10.0.0.0,10.0.0.255,x,Name\n", "not an ASN"),
            ("10.0.0.9,10.0.0.1,64500,Name\n", "start is after end"),
            ("10.0.0.0,fd00::1,64500,Name\n", "different families"),
            ("10.0.0.0,nowhere,64500,Name\n", "not an IP address"),
        ];
        for (csv, why) in cases {
            let text = format!("# comment\n1.0.0.0,1.0.0.255,64501,Ok\n{csv}");
            let err = AsnBuilder::new()
                .add_csv(text.as_bytes(), "t.csv")
                .expect_err(csv);
            let msg = err.to_string();
            assert!(msg.contains("t.csv line 3") && msg.contains(why), "{msg}");
        }
        let err = CountryBuilder::new()
            .add_csv("10.0.0.0,10.0.0.255,F1\n".as_bytes(), "c.csv")
            .expect_err("bad code");
        assert!(err.to_string().contains("two-letter"), "{err}");
    }
}
