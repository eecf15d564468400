//! Converts IP -> ASN and IP -> country CSVs into lqos's compact range tables
//! (docs/geo-data.md), and checks a built table. Run at build time by scripts/geo-data.sh;
//! operators can use it to convert a newer dataset of the same CSV format.
//!
//!   lqos-geo-build asn --label "@ip-location-db/asn@2.3.2026061719" --out asn.bin v4.csv v6.csv
//!   lqos-geo-build country --label "..." --out country.bin v4.csv v6.csv
//!   lqos-geo-build check --asn asn.bin --country country.bin [IP...]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lqos_telemetry::geo::build::{AsnBuilder, BuildReport, CountryBuilder};
use lqos_telemetry::geo::{AsnTable, CountryTable, GeoTables};
use std::fs::File;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    version,
    about = "Build and check lqos's IP -> ASN / country range tables"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an ASN table from CSVs of `start,end,asn,name` (IPv4 and IPv6 rows, any order).
    Asn(BuildArgs),
    /// Build a country table from CSVs of `start,end,CC` (ISO 3166-1 alpha-2).
    Country(BuildArgs),
    /// Load tables as lqosd does, print what they hold, and look up addresses.
    Check {
        #[arg(long)]
        asn: Option<PathBuf>,
        #[arg(long)]
        country: Option<PathBuf>,
        /// Addresses to look up.
        ips: Vec<IpAddr>,
    },
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The dataset and its version, stored in the file and shown on the About page.
    #[arg(long)]
    label: String,
    /// The table file to write (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Print the conversion report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The CSV files.
    #[arg(required = true)]
    csv: Vec<PathBuf>,
}

fn open(path: &Path) -> Result<BufReader<File>> {
    Ok(BufReader::with_capacity(
        1 << 20,
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    ))
}

/// Writes next to `out` and renames, so a reader never sees half a file.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<()> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    // Readable by all, as the .deb installs it (a temporary file is created 0600).
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn finish(
    args: &BuildArgs,
    kind: &str,
    bytes: Vec<u8>,
    report: BuildReport,
    started: Instant,
) -> Result<()> {
    write_atomically(&args.out, &bytes)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    eprintln!(
        "lqos-geo-build: {kind} {}: {} rows -> {} IPv4 + {} IPv6 ranges, {} ASNs, {} bytes \
         ({} overlapping rows resolved, {} AS0 rows left out, {} conflicting names) in {:.1} s",
        args.out.display(),
        report.rows,
        report.v4_ranges,
        report.v6_ranges,
        report.asns,
        bytes.len(),
        report.overlapping_rows,
        report.as0_rows,
        report.conflicting_names,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Asn(args) => {
            let started = Instant::now();
            let mut b = AsnBuilder::new();
            for csv in &args.csv {
                b.add_csv(open(csv)?, &csv.display().to_string())?;
            }
            let (table, report) = b.finish(&args.label)?;
            finish(&args, "ASN table", table.to_bytes(), report, started)
        }
        Command::Country(args) => {
            let started = Instant::now();
            let mut b = CountryBuilder::new();
            for csv in &args.csv {
                b.add_csv(open(csv)?, &csv.display().to_string())?;
            }
            let (table, report) = b.finish(&args.label)?;
            finish(&args, "country table", table.to_bytes(), report, started)
        }
        Command::Check { asn, country, ips } => {
            let asn = asn.map(|p| AsnTable::load(&p)).transpose()?;
            let country = country.map(|p| CountryTable::load(&p)).transpose()?;
            let tables = GeoTables::new(asn, country);
            println!("{}", serde_json::to_string_pretty(&tables.stats())?);
            for ip in ips {
                let info = tables.lookup(ip);
                println!(
                    "{ip}\tAS{}\t{}\t{}",
                    info.asn,
                    info.asn_name.unwrap_or("-"),
                    info.country_str().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
}
