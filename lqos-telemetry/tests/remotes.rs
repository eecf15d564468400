//! Per-ASN and per-country statistics: tagging once per flow, bytes, flows, RTT median,
//! retransmits, circuits, the 15-minute trend, expiry and the cap on ASNs.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::*;
use lqos_ebpf::{LqosFlow, LqosFlowKey, FLOW_DOWN, FLOW_UP};
use lqos_telemetry::geo::build::{AsnBuilder, CountryBuilder};
use lqos_telemetry::geo::GeoTables;
use lqos_telemetry::{FlowLimits, FlowTable};

const ASN_CSV: &str = "\
100.80.0.0,100.95.255.255,64501,Exemple Video CDN
100.96.0.0,100.103.255.255,64502,Example Cloud K.K.
100.104.0.0,100.111.255.255,64503,Exemplo Telecom
100.112.0.0,100.119.255.255,64504,Example Gaming
";
const COUNTRY_CSV: &str = "\
100.80.0.0,100.95.255.255,FR
100.96.0.0,100.103.255.255,JP
100.104.0.0,100.111.255.255,BR
100.112.0.0,100.119.255.255,FR
";

fn geo(asn_csv: &str, country_csv: &str) -> Arc<GeoTables> {
    let mut a = AsnBuilder::new();
    a.add_csv(asn_csv.as_bytes(), "asn.csv").unwrap();
    let mut c = CountryBuilder::new();
    c.add_csv(country_csv.as_bytes(), "country.csv").unwrap();
    Arc::new(GeoTables::new(
        Some(a.finish("test asn").unwrap().0),
        Some(c.finish("test country").unwrap().0),
    ))
}

fn table_with(limits: FlowLimits) -> FlowTable {
    let mut t = FlowTable::new(limits);
    t.set_geo(Some(geo(ASN_CSV, COUNTRY_CSV)));
    t
}

fn table() -> FlowTable {
    table_with(FlowLimits::default())
}

/// A TCP key from subscriber 10.0.0.n to `remote`.
fn key_to(n: u32, remote: [u8; 4]) -> LqosFlowKey {
    let mut k = key(n);
    k.remote = Ipv4Addr::from(remote).to_ipv6_mapped().octets();
    k
}

/// A flow of `circuit` first seen at 0 with cumulative bytes and retransmits.
fn f(circuit: u32, now: u64, down: u64, up: u64, packets: u32, retx: u32) -> LqosFlow {
    with_dir(
        with_dir(flow(circuit, 0, now), FLOW_DOWN, down, packets, retx),
        FLOW_UP,
        up,
        packets,
        0,
    )
}

/// The flow began at `first_ns` (after the previous pass: counted whole).
fn started(mut fl: LqosFlow, first_ns: u64) -> LqosFlow {
    fl.first_seen_ns = first_ns;
    fl
}

fn with_rtt(mut fl: LqosFlow, sample_ns: u64, us: u32) -> LqosFlow {
    fl.sample_ns[FLOW_UP] = sample_ns;
    fl.rtt_us[FLOW_UP] = us;
    fl
}

#[test]
fn bytes_flows_and_circuits_add_up_per_asn_and_country() {
    let mut t = table();
    let cdn = key_to(1, [100, 80, 0, 10]);
    let cloud = key_to(2, [100, 96, 0, 10]);
    let cdn2 = key_to(3, [100, 81, 1, 1]);
    let now = 120 * SEC;
    // First pass: a baseline (the table's first pass counts nothing).
    t.ingest(
        now,
        &[
            (cdn, f(7, now, 1000, 100, 10, 0)),
            (cloud, f(8, now, 500, 50, 5, 0)),
        ],
    );
    // One second later a third flow appears (counted whole) and the others grow.
    let now = now + SEC;
    t.ingest(
        now,
        &[
            (cdn, f(7, now, 11_000, 600, 20, 0)),
            (cloud, f(8, now, 2_500, 150, 10, 0)),
            (cdn2, started(f(9, now, 4_000, 400, 8, 0), now - SEC / 2)),
        ],
    );
    let r = t.remote_report(5);
    assert!(r.geo_loaded);
    let asn = |n: u32| r.asns.iter().find(|a| a.asn == n).unwrap();
    let a = asn(64501);
    assert_eq!(a.name.as_deref(), Some("Exemple Video CDN"));
    assert_eq!(a.totals.bytes_down, 10_000 + 4_000);
    assert_eq!(a.totals.bytes_up, 500 + 400);
    assert_eq!(a.totals.active_flows, 2);
    assert_eq!(a.totals.recent_flows, 2);
    assert_eq!(a.circuits, 2);
    assert_eq!(
        a.top_circuits.iter().map(|c| c.circuit).collect::<Vec<_>>(),
        [7, 9],
        "most bytes first when nothing retransmits"
    );
    let b = asn(64502);
    assert_eq!((b.totals.bytes_down, b.totals.bytes_up), (2_000, 100));
    // Busiest first.
    assert_eq!(r.asns[0].asn, 64501);
    let fr = r
        .countries
        .iter()
        .find(|c| c.country.as_deref() == Some("FR"));
    let jp = r
        .countries
        .iter()
        .find(|c| c.country.as_deref() == Some("JP"));
    assert_eq!(fr.unwrap().totals.bytes_down, 14_000);
    assert_eq!(jp.unwrap().totals.bytes_down, 2_000);
    // The flow views carry the ASN, its name and the country.
    let v = t.get(&cloud).unwrap();
    assert_eq!(v.asn, 64502);
    assert_eq!(v.asn_name.as_deref(), Some("Example Cloud K.K."));
    assert_eq!(v.country.as_deref(), Some("JP"));
}

#[test]
fn a_flow_is_looked_up_once_when_first_seen() {
    let mut t = table();
    let k = key_to(1, [100, 80, 0, 10]);
    t.ingest(SEC, &[(k, f(1, SEC, 10, 10, 1, 0))]);
    assert_eq!(t.get(&k).unwrap().asn, 64501);
    // New tables that map the same address elsewhere: the tracked flow keeps its tag,
    // a new flow to the same address gets the new answer.
    t.set_geo(Some(geo(
        "100.80.0.0,100.80.255.255,64999,Moved\n",
        "100.80.0.0,100.80.255.255,DE\n",
    )));
    let k2 = key_to(2, [100, 80, 0, 10]);
    t.ingest(
        2 * SEC,
        &[
            (k, f(1, 2 * SEC, 20, 20, 2, 0)),
            (k2, f(2, 2 * SEC, 5, 5, 1, 0)),
        ],
    );
    assert_eq!(t.get(&k).unwrap().asn, 64501);
    assert_eq!(t.get(&k).unwrap().country.as_deref(), Some("FR"));
    assert_eq!(t.get(&k2).unwrap().asn, 64999);
    assert_eq!(t.get(&k2).unwrap().country.as_deref(), Some("DE"));
}

#[test]
fn without_tables_everything_is_unknown() {
    let mut t = FlowTable::new(FlowLimits::default());
    let k = key_to(1, [100, 80, 0, 10]);
    t.ingest(SEC, &[(k, f(1, SEC, 10, 10, 1, 0))]);
    t.ingest(2 * SEC, &[(k, f(1, 2 * SEC, 110, 10, 2, 0))]);
    let r = t.remote_report(5);
    assert!(!r.geo_loaded);
    assert_eq!(r.asns.len(), 1);
    assert_eq!(r.asns[0].asn, 0);
    assert_eq!(r.asns[0].name, None);
    assert_eq!(r.asns[0].totals.bytes_down, 100);
    assert_eq!(r.countries[0].country, None);
    let v = t.get(&k).unwrap();
    assert_eq!((v.asn, v.country), (0, None));
}

#[test]
fn rtt_median_and_retransmits_per_asn() {
    let mut t = table();
    let k1 = key_to(1, [100, 104, 0, 1]);
    let k2 = key_to(2, [100, 104, 0, 2]);
    let k3 = key_to(3, [100, 104, 0, 3]);
    let s = 60 * SEC;
    t.ingest(
        s,
        &[
            (k1, f(1, s, 0, 0, 0, 0)),
            (k2, f(2, s, 0, 0, 0, 0)),
            (k3, f(3, s, 0, 0, 0, 0)),
        ],
    );
    // Three internet samples: 10 ms, 12 ms, 200 ms -> the median is in 12 ms's bucket.
    let s2 = s + SEC;
    t.ingest(
        s2,
        &[
            (k1, with_rtt(f(1, s2, 10_000, 1000, 100, 0), s2, 10_000)),
            (k2, with_rtt(f(2, s2, 10_000, 1000, 100, 10), s2, 12_000)),
            (k3, with_rtt(f(3, s2, 10_000, 1000, 100, 0), s2, 200_000)),
        ],
    );
    // The same sample again (unchanged sample_ns) is not counted twice.
    let s3 = s2 + SEC;
    t.ingest(
        s3,
        &[
            (k1, with_rtt(f(1, s3, 10_000, 1000, 100, 0), s2, 10_000)),
            (k2, with_rtt(f(2, s3, 10_000, 1000, 100, 10), s2, 12_000)),
            (k3, with_rtt(f(3, s3, 10_000, 1000, 100, 0), s2, 200_000)),
        ],
    );
    let r = t.remote_report(5);
    let a = r.asns.iter().find(|a| a.asn == 64503).unwrap();
    assert_eq!(a.totals.rtt_samples, 3);
    let med = a.totals.rtt_median_ms.unwrap();
    assert!((9.0..=13.0).contains(&med), "median {med}");
    // 10 retransmits of 600 TCP packets (100 each way per flow).
    assert_eq!(a.totals.tcp_packets, 600);
    assert_eq!(a.totals.retransmits, 10);
    assert!((a.totals.retransmit_percent - 10.0 * 100.0 / 600.0).abs() < 1e-9);
    // The circuit with retransmits is the most affected, then the one with the highest RTT.
    let order: Vec<u32> = a.top_circuits.iter().map(|c| c.circuit).collect();
    assert_eq!(order, [2, 3, 1]);
    assert_eq!(a.top_circuits[1].rtt_internet_ms, Some(200.0));
}

#[test]
fn trend_has_fifteen_minutes_and_groups_expire() {
    let mut t = table();
    let k = key_to(1, [100, 96, 0, 1]);
    let mut bytes = 0;
    // One pass per minute for 5 minutes, 1000 more bytes each time.
    for m in 0..5u64 {
        let now = (600 + m * 60) * SEC;
        t.ingest(now, &[(k, f(4, now, bytes, 0, 1, 0))]);
        bytes += 1000;
    }
    let d = t.asn_detail(64502, 10);
    assert!(d.tracked);
    assert_eq!(d.trend.len(), 15);
    assert_eq!(d.trend.last().unwrap().minutes_ago, 0);
    // Minutes 1..=4 each carried 1000 bytes; the first was the baseline.
    let per_minute: Vec<u64> = d.trend.iter().map(|p| p.bytes_down).collect();
    assert_eq!(&per_minute[10..], &[0, 1000, 1000, 1000, 1000]);
    assert_eq!(d.summary.totals.bytes_down, 4000);
    assert_eq!(d.circuits.len(), 1);
    assert_eq!(d.circuits[0].circuit, 4);
    assert_eq!(d.flows.len(), 1);
    assert_eq!(d.flows[0].asn, 64502);
    assert_eq!(d.countries, [("JP".to_string(), 1)]);
    // The flow goes away; 15 minutes later the ASN is no longer tracked.
    t.ingest(1000 * SEC, &[]);
    assert_eq!(t.asn_detail(64502, 10).summary.totals.active_flows, 0);
    assert!(t.asn_detail(64502, 10).tracked, "still in the window");
    t.ingest(2000 * SEC, &[]);
    let gone = t.asn_detail(64502, 10);
    assert!(!gone.tracked);
    assert_eq!(gone.summary.totals.bytes_down, 0);
    assert_eq!(t.remotes().asns_tracked(), 0);
    assert_eq!(t.remotes().countries_tracked(), 0);
}

#[test]
fn the_number_of_asns_is_capped_and_the_quietest_go_first() {
    let limits = FlowLimits {
        max_asns: 2,
        ..FlowLimits::default()
    };
    let mut t = table_with(limits);
    let a = key_to(1, [100, 80, 0, 1]);
    let b = key_to(2, [100, 96, 0, 1]);
    let c = key_to(3, [100, 104, 0, 1]);
    let now = 60 * SEC;
    t.ingest(
        now,
        &[(a, f(1, now, 0, 0, 1, 0)), (b, f(2, now, 0, 0, 1, 0))],
    );
    t.ingest(
        now + SEC,
        &[
            (a, f(1, now, 5000, 0, 1, 0)),
            (b, f(2, now, 100, 0, 1, 0)),
            (c, f(3, now, 0, 0, 1, 0)),
        ],
    );
    let r = t.remote_report(5);
    assert_eq!(r.asns.len(), 2, "capped at 2");
    assert!(r.asns.iter().all(|x| x.asn != 64503));
    assert_eq!(r.asns_overflowed, 1);
    assert_eq!(
        r.other_asns.active_flows, 1,
        "the third flow counts as other"
    );
    // b ends; at the next minute the quietest group without live flows (b) is freed, so a
    // new ASN finds room; a (busy, live) stays.
    for later in [125 * SEC, 185 * SEC] {
        t.ingest(
            later,
            &[
                (a, f(1, later, 9000, 0, 2, 0)),
                (c, f(3, later, 0, 0, 1, 0)),
            ],
        );
    }
    let later = 186 * SEC;
    let d = key_to(4, [100, 112, 0, 1]);
    t.ingest(
        later,
        &[
            (a, f(1, later, 9000, 0, 2, 0)),
            (c, f(3, later, 0, 0, 1, 0)),
            (d, f(4, later, 0, 0, 1, 0)),
        ],
    );
    let asns: Vec<u32> = t.remote_report(5).asns.iter().map(|x| x.asn).collect();
    assert!(asns.contains(&64501), "the busy one stays: {asns:?}");
    assert!(
        asns.contains(&64504),
        "the new one got the freed slot: {asns:?}"
    );
    assert!(!asns.contains(&64502));
}

#[test]
fn unknown_addresses_are_their_own_group() {
    let mut t = table();
    let k = key_to(1, [192, 0, 2, 1]);
    t.ingest(SEC, &[(k, f(1, SEC, 0, 0, 1, 0))]);
    t.ingest(2 * SEC, &[(k, f(1, SEC, 700, 0, 2, 0))]);
    let r = t.remote_report(5);
    let unknown = r.asns.iter().find(|a| a.asn == 0).unwrap();
    assert_eq!(unknown.totals.bytes_down, 700);
    assert_eq!(unknown.name, None);
    let v = t.get(&k).unwrap();
    assert_eq!(v.asn, 0);
    assert_eq!(
        v.remote.parse::<std::net::SocketAddr>().unwrap().ip(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
    );
}
