//! The committed test/demo dataset (etc/geo-test/*.csv, converted by scripts/geo-data.sh into
//! target/geo/test/*.bin) maps the test hosts' own addresses as docs/geo-data.md documents;
//! the demo and the browser tests rely on these answers.

use anyhow::Result;
use lqos_telemetry::geo::build::{AsnBuilder, CountryBuilder};
use lqos_telemetry::geo::{AsnTable, CountryTable, GeoTables};
use std::path::PathBuf;

fn tables() -> Result<GeoTables> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../etc/geo-test");
    let mut asn = AsnBuilder::new();
    asn.add_csv(std::fs::File::open(dir.join("asn.csv"))?, "asn.csv")?;
    let (asn, report) = asn.finish("test")?;
    assert_eq!((report.rows, report.overlapping_rows), (15, 0));
    let mut country = CountryBuilder::new();
    country.add_csv(std::fs::File::open(dir.join("country.csv"))?, "country.csv")?;
    let (country, _) = country.finish("test")?;
    Ok(GeoTables::new(
        Some(AsnTable::from_bytes(&asn.to_bytes())?),
        Some(CountryTable::from_bytes(&country.to_bytes())?),
    ))
}

#[test]
fn the_test_hosts_addresses_map_to_the_documented_asns_and_countries() -> Result<()> {
    let g = tables()?;
    for (ip, asn, cc) in [
        ("100.64.1.10", 64500, "US"), // demo subscribers (100.64.0.0/12)
        ("100.79.255.255", 64500, "US"),
        ("100.80.0.0", 64501, "FR"),
        ("100.96.0.1", 64502, "JP"),
        ("100.104.0.1", 64503, "BR"),
        ("100.112.0.1", 64504, "ZA"),
        ("100.127.255.254", 64505, "DE"), // the demo's internet host
        ("10.123.0.1", 64506, "GB"),
        ("192.168.1.1", 64507, "CA"),
        ("fd00::1", 64505, "DE"),
        ("fd00:64::2", 64500, "US"),
        ("fd00:65::10", 64501, "FR"),
        ("fd00:66::1", 64502, "JP"),
        ("fd00:67::1", 64503, "BR"),
        ("fd00:68::1", 64504, "ZA"),
        ("fd12:3456::1", 64506, "GB"),
        ("::ffff:100.96.0.1", 64502, "JP"),
    ] {
        let info = g.lookup(ip.parse()?);
        assert_eq!((info.asn, info.country_str()), (asn, Some(cc)), "{ip}");
        assert!(info.asn_name.is_some_and(|n| !n.is_empty()), "{ip}");
    }
    for outside in ["100.128.0.0", "100.63.255.255", "8.8.8.8", "fe80::1"] {
        assert_eq!(g.lookup(outside.parse()?).asn, 0, "{outside}");
    }
    assert_eq!(g.search_asn("telecomunicações", 5)[0].asn, 64503);
    assert_eq!(g.search_asn("example", 10).len(), 5);
    Ok(())
}
