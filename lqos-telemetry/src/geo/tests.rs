//! The file format (round trip, every corruption case), look-ups at range boundaries and the
//! ASN search, on small tables built from CSV text.

use super::build::{AsnBuilder, CountryBuilder};
use super::format::{reseal, HEADER_LEN};
use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const ASN_CSV: &str = "\
# start,end,asn,name
10.0.0.0,10.0.0.255,64500,Example Transit Ltd
10.0.1.0,10.0.1.255,64501,\"Fibre Co, Inc.\"
10.0.2.0,10.0.3.255,64502,Société Générale Réseaux
192.168.0.0,192.168.255.255,64503,Example Transit Ltd
fd00::,fd00::ffff,64500,Example Transit Ltd
fd00:1::,fd00:1:ffff:ffff:ffff:ffff:ffff:ffff,64504,Transit Example Networks
";

const COUNTRY_CSV: &str = "\
10.0.0.0,10.0.1.255,FR
10.0.2.0,10.0.3.255,jp
fd00::,fd00:0:ffff:ffff:ffff:ffff:ffff:ffff,BR
";

fn asn_table() -> AsnTable {
    let mut b = AsnBuilder::new();
    b.add_csv(ASN_CSV.as_bytes(), "asn.csv").expect("valid CSV");
    b.finish("test-asn 1").expect("builds").0
}

fn country_table() -> CountryTable {
    let mut b = CountryBuilder::new();
    b.add_csv(COUNTRY_CSV.as_bytes(), "country.csv")
        .expect("valid CSV");
    b.finish("test-country 1").expect("builds").0
}

fn tables() -> GeoTables {
    GeoTables::new(Some(asn_table()), Some(country_table()))
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().expect("IPv4"))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().expect("IPv6"))
}

#[test]
fn round_trip_keeps_everything_and_deduplicates_names() {
    let t = asn_table();
    assert_eq!((t.v4_ranges(), t.v6_ranges(), t.asns()), (4, 2, 5));
    // "Example Transit Ltd" is named by two ASNs but stored once.
    let distinct: usize = [
        "Example Transit Ltd",
        "Fibre Co, Inc.",
        "Société Générale Réseaux",
        "Transit Example Networks",
    ]
    .iter()
    .map(|n| n.len())
    .sum();
    assert_eq!(t.name_bytes(), distinct);
    let bytes = t.to_bytes();
    assert_eq!(t.file_bytes(), bytes.len() as u64);
    let back = AsnTable::from_bytes(&bytes).expect("round trip");
    assert_eq!(back, t);
    assert_eq!(back.label(), "test-asn 1");
    let c = country_table();
    assert_eq!(
        CountryTable::from_bytes(&c.to_bytes()).expect("round trip"),
        c
    );
    assert_eq!(c.label(), "test-country 1");
}

#[test]
fn lookups_at_range_boundaries() {
    let g = tables();
    let at = |ip| {
        let i = g.lookup(ip);
        (i.asn, i.asn_name, i.country_str().map(str::to_string))
    };
    assert_eq!(
        at(v4("9.255.255.255")),
        (0, None, None),
        "before the first range"
    );
    assert_eq!(
        at(v4("10.0.0.0")),
        (64500, Some("Example Transit Ltd"), Some("FR".into()))
    );
    assert_eq!(at(v4("10.0.0.255")).0, 64500);
    assert_eq!(
        at(v4("10.0.1.0")),
        (64501, Some("Fibre Co, Inc."), Some("FR".into()))
    );
    assert_eq!(at(v4("10.0.3.255")).0, 64502);
    assert_eq!(
        at(v4("10.0.3.255")).2.as_deref(),
        Some("JP"),
        "lower case code stored upper"
    );
    assert_eq!(at(v4("10.0.4.0")), (0, None, None), "end + 1");
    assert_eq!(at(v4("192.168.255.255")).0, 64503);
    assert_eq!(at(v4("192.169.0.0")).0, 0);
    assert_eq!(at(v4("255.255.255.255")).0, 0);
    // IPv6.
    assert_eq!(
        at(v6("fd00::")),
        (64500, Some("Example Transit Ltd"), Some("BR".into()))
    );
    assert_eq!(at(v6("fd00::ffff")).0, 64500);
    assert_eq!(
        at(v6("fd00::1:0")),
        (0, None, Some("BR".into())),
        "end + 1 of the ASN range"
    );
    assert_eq!(at(v6("fd00:1::")).0, 64504);
    assert_eq!(at(v6("fd00:1:ffff:ffff:ffff:ffff:ffff:ffff")).0, 64504);
    assert_eq!(at(v6("fd00:1:ffff:ffff:ffff:ffff:ffff:ffff")).2, None);
    assert_eq!(at(v6("fd00:2::")).0, 0);
    assert_eq!(at(v6("::")).0, 0);
    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(at(v6("::ffff:10.0.1.7")), at(v4("10.0.1.7")));
    assert_eq!(at(v6("::ffff:10.0.4.0")).0, 0);
}

#[test]
fn empty_tables_answer_unknown() {
    let g = GeoTables::empty();
    assert_eq!(g.lookup(v4("10.0.0.1")), GeoInfo::default());
    assert_eq!(g.asn_name(64500), None);
    assert!(g.search_asn("Example", 10).is_empty());
    assert_eq!(
        g.stats(),
        GeoStats {
            asn: None,
            country: None
        }
    );
}

#[test]
fn search_by_number_and_by_name() {
    let g = tables();
    let asns = |q: &str, limit| {
        g.search_asn(q, limit)
            .iter()
            .map(|m| m.asn)
            .collect::<Vec<_>>()
    };
    assert_eq!(asns("64502", 10), vec![64502]);
    assert_eq!(asns("AS64502", 10), vec![64502]);
    assert_eq!(asns(" as64502 ", 10), vec![64502]);
    assert_eq!(asns("64999", 10), Vec::<u32>::new(), "an unknown number");
    // Case-insensitive; names starting with the query first, then by ASN.
    assert_eq!(asns("transit", 10), vec![64504, 64500, 64503]);
    assert_eq!(asns("TRANSIT", 2), vec![64504, 64500]);
    assert_eq!(asns("fibre co,", 10), vec![64501]);
    assert_eq!(
        asns("SOCIÉTÉ", 10),
        vec![64502],
        "non-ASCII names fold case too"
    );
    assert!(asns("", 10).is_empty());
    assert!(asns("transit", 0).is_empty());
    assert!(asns("no such network", 10).is_empty());
    assert_eq!(g.asn_name(64501), Some("Fibre Co, Inc."));
    assert_eq!(g.asn_name(1), None);
    let m = g.search_asn("fibre", 1);
    assert_eq!(m[0].name, "Fibre Co, Inc.");
}

#[test]
fn stats_for_the_about_page() {
    let s = tables().stats();
    let a = s.asn.expect("ASN table");
    assert_eq!(a.dataset, "test-asn 1");
    assert_eq!((a.ipv4_ranges, a.ipv6_ranges, a.asns), (4, 2, 5));
    assert!(a.file_bytes > HEADER_LEN as u64 && a.memory_bytes > 0);
    let c = s.country.expect("country table");
    assert_eq!((c.ipv4_ranges, c.ipv6_ranges, c.asns), (2, 1, 0));
}

/// Offset of the IPv4 starts in an ASN file of `asn_table()`.
fn v4_starts(bytes: &[u8]) -> usize {
    HEADER_LEN + u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize
}

fn asn_err(bytes: &[u8]) -> FormatError {
    AsnTable::from_bytes(bytes).expect_err("corrupt")
}

#[test]
fn every_corruption_is_named() {
    let good = asn_table().to_bytes();
    let len = good.len() as u64;
    assert_eq!(asn_err(&[]), FormatError::Empty);
    assert_eq!(asn_err(b"LQOSGE"), FormatError::BadMagic);
    assert_eq!(
        asn_err(b"PK\x03\x04 not a table at all"),
        FormatError::BadMagic
    );
    assert_eq!(
        asn_err(&good[..30]),
        FormatError::Truncated {
            offset: 30,
            needed: 64
        }
    );
    assert_eq!(
        asn_err(&good[..good.len() - 1]),
        FormatError::Truncated {
            offset: len - 1,
            needed: len
        }
    );
    let mut longer = good.clone();
    longer.extend_from_slice(b"xy");
    assert_eq!(
        asn_err(&longer),
        FormatError::TrailingBytes {
            offset: len,
            extra: 2
        }
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x20;
    assert!(
        matches!(asn_err(&flipped), FormatError::ChecksumMismatch { stored, computed } if stored != computed)
    );
    let mut counted = good.clone();
    counted[16] += 1; // one more IPv4 range in the header (covered by the checksum)
    assert!(matches!(
        asn_err(&counted),
        FormatError::ChecksumMismatch { .. }
    ));
    reseal(&mut counted);
    assert!(matches!(
        asn_err(&counted),
        FormatError::HeaderMismatch { .. }
    ));
    let mut version = good.clone();
    version[8] = 9;
    reseal(&mut version);
    assert_eq!(
        asn_err(&version),
        FormatError::UnsupportedVersion {
            found: 9,
            supported: 1
        }
    );
    assert_eq!(
        CountryTable::from_bytes(&good).expect_err("an ASN file"),
        FormatError::WrongKind {
            expected: "country",
            found: "ASN"
        }
    );
    assert_eq!(
        asn_err(&country_table().to_bytes()),
        FormatError::WrongKind {
            expected: "ASN",
            found: "country"
        }
    );
}

#[test]
fn structural_corruption_behind_a_valid_checksum_is_named() {
    let good = asn_table().to_bytes();
    let starts = v4_starts(&good);
    // IPv4 range 2 starting at range 1's start: unsorted at index 2.
    let mut unsorted = good.clone();
    let (a, b) = (starts + 4, starts + 8);
    let first = unsorted[a..a + 4].to_vec();
    unsorted[b..b + 4].copy_from_slice(&first);
    reseal(&mut unsorted);
    assert_eq!(
        asn_err(&unsorted),
        FormatError::Unsorted {
            family: "IPv4",
            index: 2
        }
    );
    // IPv4 value 0 pointing past the 5 ASNs.
    let values = starts + 4 * 4 * 2;
    let mut past = good.clone();
    past[values..values + 4].copy_from_slice(&5u32.to_le_bytes());
    reseal(&mut past);
    assert_eq!(
        asn_err(&past),
        FormatError::BadValue {
            family: "IPv4",
            index: 0,
            reason: "ASN index past the ASN table"
        }
    );
    // The ASN table: after the IPv4 (4 ranges x 12 bytes) and IPv6 (2 x 36) sections.
    let entries = starts + 4 * 12 + 2 * 36;
    let mut order = good.clone();
    order[entries + 12..entries + 16].copy_from_slice(&1u32.to_le_bytes());
    reseal(&mut order);
    assert!(matches!(
        asn_err(&order),
        FormatError::BadAsnEntry { index: 1, .. }
    ));
    let mut outside = good.clone();
    outside[entries + 8..entries + 12].copy_from_slice(&10_000u32.to_le_bytes());
    reseal(&mut outside);
    assert!(matches!(
        asn_err(&outside),
        FormatError::BadAsnEntry { index: 0, .. }
    ));
    // The label is not UTF-8.
    let mut label = good.clone();
    label[HEADER_LEN] = 0xff;
    reseal(&mut label);
    assert_eq!(
        asn_err(&label),
        FormatError::BadUtf8 {
            what: "dataset label"
        }
    );
    // A country code that is not two capitals.
    let c = country_table().to_bytes();
    let values = v4_starts(&c) + 2 * 4 * 2;
    let mut code = c.clone();
    code[values..values + 2].copy_from_slice(b"f1");
    reseal(&mut code);
    assert_eq!(
        CountryTable::from_bytes(&code).expect_err("bad code"),
        FormatError::BadValue {
            family: "IPv4",
            index: 0,
            reason: "country code is not two ASCII capitals"
        }
    );
}

#[test]
fn an_empty_dataset_is_a_valid_table_that_knows_nothing() {
    let (t, report) = AsnBuilder::new().finish("nothing").expect("empty builds");
    assert_eq!(report.rows, 0);
    let back = AsnTable::from_bytes(&t.to_bytes()).expect("loads");
    assert_eq!((back.v4_ranges(), back.v6_ranges(), back.asns()), (0, 0, 0));
    assert_eq!(back.lookup_v4(0), None);
}

#[test]
fn files_load_and_a_bad_one_degrades_to_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let asn = dir.path().join("asn.bin");
    let country = dir.path().join("country.bin");
    std::fs::write(&asn, asn_table().to_bytes()).expect("write");
    std::fs::write(&country, country_table().to_bytes()).expect("write");
    let g = GeoTables::load(&asn, &country).expect("loads");
    assert_eq!(g.lookup(v4("10.0.0.1")).asn, 64500);

    let missing = dir.path().join("missing.bin");
    let err = GeoTables::load(&missing, &country).expect_err("missing");
    assert!(
        matches!(&err, GeoError::Read { path, .. } if path == &missing),
        "{err}"
    );

    let mut bytes = country_table().to_bytes();
    bytes.truncate(bytes.len() - 3);
    let truncated = dir.path().join("truncated.bin");
    std::fs::write(&truncated, &bytes).expect("write");
    let err = GeoTables::load(&asn, &truncated).expect_err("truncated");
    assert!(
        matches!(&err, GeoError::Format { path, source: FormatError::Truncated { .. } } if path == &truncated),
        "{err:?}"
    );

    // Degraded: the missing ASN file is unknown, the country file still answers.
    let g = GeoTables::load_or_empty(&missing, &country);
    let info = g.lookup(v4("10.0.2.1"));
    assert_eq!(
        (info.asn, info.asn_name, info.country),
        (0, None, Some(*b"JP"))
    );
    assert!(g.stats().asn.is_none() && g.stats().country.is_some());
    let g = GeoTables::load_or_empty(&asn, &truncated);
    assert_eq!(g.lookup(v4("10.0.2.1")).asn, 64502);
    assert_eq!(g.lookup(v4("10.0.2.1")).country, None);
}

#[test]
fn conflicting_names_and_as0_are_reported() {
    let mut b = AsnBuilder::new();
    b.add_csv(
        "1.0.0.0,1.0.0.255,64500,First\n1.0.1.0,1.0.1.255,64500,Second\n1.0.2.0,1.0.2.255,0,Nobody\n"
            .as_bytes(),
        "x.csv",
    )
    .expect("valid");
    let (t, r) = b.finish("x").expect("builds");
    assert_eq!((r.rows, r.as0_rows, r.conflicting_names), (3, 1, 1));
    assert_eq!(t.name(64500), Some("First"));
    assert_eq!(t.v4_ranges(), 1, "two touching ranges of one ASN merge");
    assert_eq!(
        t.lookup_v4(u32::from(Ipv4Addr::new(1, 0, 2, 1))),
        None,
        "AS0 is unknown"
    );
}
