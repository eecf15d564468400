//! Geo look-up cost on the real bundled tables (target/geo/, built by scripts/geo-data.sh):
//! median ns per look-up over 1M random addresses (IPv4: uniform over the whole space; IPv6:
//! uniform inside ranges picked at random, since random 2000::/3 addresses nearly all miss), against a
//! baseline measured in the same run: a `BTreeMap` keyed by range start (`range(..=ip)`,
//! the usual "ordered map of ranges"), holding the same ranges. Also the load time (median of
//! 5 loads) and the memory the tables hold.
//!
//!   cargo bench -p lqos-telemetry --bench geo_lookup
//!
//! Env: LQOS_GEO_DIR (target/geo), LQOS_BENCH_LOOKUPS (1000000), LQOS_BENCH_RUNS (11).

use anyhow::{ensure, Context, Result};
use lqos_telemetry::geo::{AsnTable, CountryTable, GeoTables};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

fn env(name: &str, default: usize) -> Result<usize> {
    std::env::var(name).map_or(Ok(default), |v| v.parse().context(name.to_string()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ns per item of one pass of `f` over `items`.
fn pass<T>(items: &[T], f: &dyn Fn(&T) -> u64) -> f64 {
    let start = Instant::now();
    let mut sum = 0u64;
    for i in items {
        sum = sum.wrapping_add(f(i));
    }
    black_box(sum);
    start.elapsed().as_nanos() as f64 / items.len() as f64
}

/// Median ns per item of each case over `runs` rounds; every round runs every case once, in
/// turn, so a busy machine slows the table and its baseline alike.
fn interleaved<T>(items: &[T], runs: usize, cases: &[&dyn Fn(&T) -> u64]) -> Vec<f64> {
    let mut times = vec![Vec::new(); cases.len()];
    for _ in 0..runs {
        for (c, f) in cases.iter().enumerate() {
            times[c].push(pass(items, *f));
        }
    }
    times.into_iter().map(median).collect()
}

fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS")?.parse()?)
}

fn main() -> Result<()> {
    let dir = std::env::var("LQOS_GEO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/geo"));
    let (asn_path, country_path) = (dir.join("asn.bin"), dir.join("country.bin"));
    ensure!(
        asn_path.exists() && country_path.exists(),
        "{} has no tables: run scripts/geo-data.sh",
        dir.display()
    );
    let n = env("LQOS_BENCH_LOOKUPS", 1_000_000)?;
    let runs = env("LQOS_BENCH_RUNS", 11)?;

    // Load time and memory.
    let rss_before = rss_kib()?;
    let tables = GeoTables::load(&asn_path, &country_path)?;
    let rss_after = rss_kib()?;
    let load_ms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let g = GeoTables::load(&asn_path, &country_path).map(black_box);
                assert!(g.is_ok());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    let stats = tables.stats();
    let (a, c) = (
        stats.asn.as_ref().context("asn")?,
        stats.country.as_ref().context("country")?,
    );
    println!(
        "tables: {} ({} IPv4 + {} IPv6 ranges, {} ASNs, file {:.1} MB, held {:.1} MB); {} ({} + {} ranges, file {:.1} MB, held {:.1} MB)",
        a.dataset, a.ipv4_ranges, a.ipv6_ranges, a.asns, a.file_bytes as f64 / 1e6, a.memory_bytes as f64 / 1e6,
        c.dataset, c.ipv4_ranges, c.ipv6_ranges, c.file_bytes as f64 / 1e6, c.memory_bytes as f64 / 1e6,
    );
    println!(
        "load (both files, read + checksum + checks): median {load_ms:.1} ms of 5; RSS +{:.1} MB for one load",
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );

    // Random addresses (a fixed seed: the same addresses every run).
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let v4: Vec<u32> = (0..n).map(|_| rng.gen()).collect();
    let asn: &AsnTable = tables.asn_table().context("asn")?;
    let ranges6: Vec<(u128, u128)> = asn.iter_v6().map(|(s, e, _)| (s, e)).collect();
    let v6: Vec<u128> = (0..n)
        .map(|_| {
            let (s, e) = ranges6[rng.gen_range(0..ranges6.len())];
            s + rng.gen::<u128>() % (e - s).saturating_add(1).max(1)
        })
        .collect();
    let country: &CountryTable = tables.country_table().context("country")?;
    let hits4 = v4.iter().filter(|&&a| asn.lookup_v4(a).is_some()).count();
    let hits6 = v6.iter().filter(|&&a| asn.lookup_v6(a).is_some()).count();

    // The baseline: the same ranges in BTreeMaps keyed by start, each value holding the end,
    // the ASN and its name (a &str into the same name buffer), so both answer (ASN, name).
    let name = |a: u32| asn.name(a).unwrap_or("");
    let b4: BTreeMap<u32, (u32, u32, &str)> = asn
        .iter_v4()
        .map(|(s, e, a)| (s, (e, a, name(a))))
        .collect();
    let b6: BTreeMap<u128, (u128, u32, &str)> = asn
        .iter_v6()
        .map(|(s, e, a)| (s, (e, a, name(a))))
        .collect();
    let btree4 = |&ip: &u32| {
        b4.range(..=ip)
            .next_back()
            .filter(|(_, (end, _, _))| ip <= *end)
            .map_or(0, |(_, (_, a, n))| *a as u64 + n.len() as u64)
    };
    let btree6 = |&ip: &u128| {
        b6.range(..=ip)
            .next_back()
            .filter(|(_, (end, _, _))| ip <= *end)
            .map_or(0, |(_, (_, a, n))| *a as u64 + n.len() as u64)
    };

    let full = |ip: &IpAddr| {
        let i = tables.lookup(*ip);
        i.asn as u64
            + i.country.map_or(0, |c| c[0] as u64)
            + i.asn_name.map_or(0, |s| s.len() as u64)
    };
    let ips4: Vec<IpAddr> = v4.iter().map(|&a| IpAddr::V4(Ipv4Addr::from(a))).collect();
    let ips6: Vec<IpAddr> = v6.iter().map(|&a| IpAddr::V6(Ipv6Addr::from(a))).collect();
    println!("{n} random addresses, median of {runs} interleaved runs (ns per look-up):");
    let r4 = interleaved(
        &v4,
        runs,
        &[
            &|&ip: &u32| {
                asn.lookup_v4(ip)
                    .map_or(0, |(a, n)| a as u64 + n.len() as u64)
            },
            &btree4,
            &|&ip: &u32| country.lookup_v4(ip).map_or(0, |c| c[0] as u64),
        ],
    );
    println!(
        "  IPv4 ASN   ranges {:6.1}   BTreeMap baseline {:6.1}   baseline/ranges {:.2}x   ({:.0}% hits); country {:6.1}",
        r4[0], r4[1], r4[1] / r4[0], hits4 as f64 * 100.0 / n as f64, r4[2]
    );
    let r6 = interleaved(
        &v6,
        runs,
        &[
            &|&ip: &u128| {
                asn.lookup_v6(ip)
                    .map_or(0, |(a, n)| a as u64 + n.len() as u64)
            },
            &btree6,
        ],
    );
    println!(
        "  IPv6 ASN   ranges {:6.1}   BTreeMap baseline {:6.1}   baseline/ranges {:.2}x   ({:.0}% hits)",
        r6[0], r6[1], r6[1] / r6[0], hits6 as f64 * 100.0 / n as f64
    );
    let f4 = interleaved(&ips4, runs, &[&full]);
    let f6 = interleaved(&ips6, runs, &[&full]);
    println!(
        "  GeoTables::lookup (ASN + name + country): IPv4 {:6.1}   IPv6 {:6.1}",
        f4[0], f6[0]
    );
    Ok(())
}
