//! The bundled datasets (installed by `npm ci` in data/, which scripts/setup.sh runs) converted
//! into range tables: every 1000th CSV row (and the first and last) looks up to the same ASN,
//! name and country through the binary tables, and well-known ranges resolve as expected
//! (look-ups only: no traffic, no network).
//!
//! These tests are `#[ignore]`d in a plain `cargo test` (they need the npm data and take a few
//! seconds); scripts/test.sh runs them with `--include-ignored`, and then a missing dataset is a
//! loud failure, never a skip.

use anyhow::{ensure, Context, Result};
use lqos_telemetry::geo::build::{AsnBuilder, CountryBuilder};
use lqos_telemetry::geo::{AsnTable, CountryTable, GeoTables};
use std::net::IpAddr;
use std::path::PathBuf;

fn package(name: &str) -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/node_modules/@ip-location-db")
        .join(name);
    ensure!(
        dir.is_dir(),
        "{} is missing: run scripts/setup.sh (or `npm ci` in data/)",
        dir.display()
    );
    Ok(dir)
}

/// One CSV row: start, end, then the value columns.
struct Row {
    line: usize,
    start: IpAddr,
    end: IpAddr,
    fields: Vec<String>,
}

fn read_rows(path: &PathBuf) -> Result<Vec<Row>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .with_context(|| path.display().to_string())?;
    let mut rows = Vec::new();
    for (line, r) in rdr.records().enumerate() {
        let r = r?;
        rows.push(Row {
            line: line + 1,
            start: r[0].parse()?,
            end: r[1].parse()?,
            fields: r.iter().skip(2).map(str::to_string).collect(),
        });
    }
    Ok(rows)
}

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mid(r: &Row) -> IpAddr {
    let m = key(r.start) + (key(r.end) - key(r.start)) / 2;
    match r.start {
        IpAddr::V4(_) => IpAddr::V4((m as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(m.into()),
    }
}

/// Indexes of rows overlapping a neighbour (the file is sorted by start).
fn overlapping(rows: &[Row]) -> Vec<usize> {
    (0..rows.len())
        .filter(|&i| {
            (i > 0 && key(rows[i].start) <= key(rows[i - 1].end))
                || (i + 1 < rows.len() && key(rows[i + 1].start) <= key(rows[i].end))
        })
        .collect()
}

/// Every 1000th row, the first and the last.
fn sample(rows: &[Row]) -> impl Iterator<Item = usize> + '_ {
    (0..rows.len()).filter(move |&i| i % 1000 == 0 || i + 1 == rows.len())
}

#[test]
#[ignore = "needs data/node_modules (scripts/setup.sh); scripts/test.sh runs it with --include-ignored"]
fn asn_table_matches_the_source_csv() -> Result<()> {
    let dir = package("asn")?;
    let mut builder = AsnBuilder::new();
    let mut files = Vec::new();
    for name in ["asn-ipv4.csv", "asn-ipv6.csv"] {
        let path = dir.join(name);
        builder.add_csv(std::fs::File::open(&path)?, name)?;
        files.push((name, read_rows(&path)?));
    }
    let (built, report) = builder.finish("@ip-location-db/asn test")?;
    // Through the file format, as lqosd loads it.
    let table = AsnTable::from_bytes(&built.to_bytes())?;
    let total: usize = files.iter().map(|(_, rows)| rows.len()).sum();
    assert_eq!(report.rows, total);
    assert!(
        table.v4_ranges() > 300_000 && table.v6_ranges() > 50_000,
        "{report:?}"
    );
    assert!(table.asns() > 50_000, "{report:?}");
    let mut checked = 0;
    for (name, rows) in &files {
        let overlaps = overlapping(rows);
        assert!(
            overlaps.len() <= 10,
            "{name}: {} overlapping rows: the upstream data changed",
            overlaps.len()
        );
        for i in sample(rows) {
            let r = &rows[i];
            let asn: u32 = r.fields[0].parse()?;
            for ip in [r.start, mid(r), r.end] {
                let got = match ip {
                    IpAddr::V4(a) => table.lookup_v4(u32::from(a)),
                    IpAddr::V6(a) => table.lookup_v6(u128::from(a)),
                };
                if overlaps.contains(&i) {
                    // The narrowest of the overlapping rows wins: one of the neighbours' ASNs.
                    let near: Vec<u32> = rows[i.saturating_sub(2)..(i + 3).min(rows.len())]
                        .iter()
                        .filter_map(|n| n.fields[0].parse().ok())
                        .collect();
                    let got = got.map(|g| g.0).unwrap_or(0);
                    assert!(
                        near.contains(&got),
                        "{name} line {}: {ip} -> AS{got}",
                        r.line
                    );
                } else {
                    assert_eq!(
                        got,
                        Some((asn, r.fields[1].as_str())),
                        "{name} line {}: {ip}",
                        r.line
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1500, "{checked} look-ups checked");

    // Well-known ranges (look-ups only).
    let g = GeoTables::new(Some(table), None);
    for (ip, asn, name) in [
        ("8.8.8.8", 15169, "Google LLC"),
        ("1.1.1.1", 13335, "Cloudflare, Inc."),
        ("9.9.9.9", 19281, "Quad9"),
        ("2001:4860:4860::8888", 15169, "Google LLC"),
        ("2606:4700:4700::1111", 13335, "Cloudflare, Inc."),
        ("::ffff:8.8.4.4", 15169, "Google LLC"),
    ] {
        let info = g.lookup(ip.parse()?);
        assert_eq!((info.asn, info.asn_name), (asn, Some(name)), "{ip}");
    }
    for private in [
        "10.0.0.1",
        "100.64.1.10",
        "192.168.1.1",
        "fd00:64::1",
        "127.0.0.1",
    ] {
        assert_eq!(
            g.lookup(private.parse()?).asn,
            0,
            "{private} is in no public ASN"
        );
    }
    assert_eq!(g.asn_name(13335), Some("Cloudflare, Inc."));
    assert_eq!(g.search_asn("AS15169", 5)[0].name, "Google LLC");
    let found: Vec<u32> = g
        .search_asn("cloudflare", 50)
        .iter()
        .map(|m| m.asn)
        .collect();
    assert!(found.contains(&13335), "{found:?}");
    Ok(())
}

#[test]
#[ignore = "needs data/node_modules (scripts/setup.sh); scripts/test.sh runs it with --include-ignored"]
fn country_table_matches_the_source_csv() -> Result<()> {
    let dir = package("asn-country")?;
    let mut builder = CountryBuilder::new();
    let mut files = Vec::new();
    for name in ["asn-country-ipv4.csv", "asn-country-ipv6.csv"] {
        let path = dir.join(name);
        builder.add_csv(std::fs::File::open(&path)?, name)?;
        files.push((name, read_rows(&path)?));
    }
    let (built, report) = builder.finish("@ip-location-db/asn-country test")?;
    let table = CountryTable::from_bytes(&built.to_bytes())?;
    assert_eq!(report.overlapping_rows, 0, "{report:?}");
    let mut checked = 0;
    for (name, rows) in &files {
        for i in sample(rows) {
            let r = &rows[i];
            let code = r.fields[0].as_bytes();
            for ip in [r.start, mid(r), r.end] {
                let got = match ip {
                    IpAddr::V4(a) => table.lookup_v4(u32::from(a)),
                    IpAddr::V6(a) => table.lookup_v6(u128::from(a)),
                };
                assert_eq!(
                    got.as_ref().map(|c| &c[..]),
                    Some(code),
                    "{name} line {}: {ip}",
                    r.line
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked} look-ups checked");
    let g = GeoTables::new(None, Some(table));
    for (ip, cc) in [
        ("8.8.8.8", "US"),
        ("193.0.6.139", "NL"), // RIPE NCC
        ("2001:200::1", "JP"), // WIDE
        ("::ffff:193.0.6.139", "NL"),
    ] {
        assert_eq!(g.lookup(ip.parse()?).country_str(), Some(cc), "{ip}");
    }
    assert_eq!(g.lookup("100.64.1.10".parse()?).country, None);
    Ok(())
}
