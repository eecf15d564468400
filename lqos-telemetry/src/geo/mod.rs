//! IP -> ASN (number and name) and IP -> country, from open datasets converted at build time
//! into compact sorted range tables (docs/geo-data.md). Loaded once at start, looked up with a
//! binary search; no network access, ever. A missing or corrupt file leaves that half of the
//! answer "unknown" (see [`GeoTables::load_or_empty`]).

mod asn;
pub mod build;
mod country;
mod error;
mod format;
mod table;

pub use asn::{AsnMatch, AsnTable};
pub use country::{is_country_code, CountryTable};
pub use error::{BuildError, FormatError, GeoError};

use std::net::IpAddr;
use std::path::Path;

/// Where the .deb installs the bundled tables (the `[geo]` defaults of lqos.conf).
pub const DEFAULT_ASN_FILE: &str = "/usr/share/lqos/geo/asn.bin";
/// Where the .deb installs the bundled country table.
pub const DEFAULT_COUNTRY_FILE: &str = "/usr/share/lqos/geo/country.bin";

/// What is known about one address. `asn` 0 and `None` mean unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeoInfo<'a> {
    /// The announcing ASN, 0 when unknown.
    pub asn: u32,
    pub asn_name: Option<&'a str>,
    /// ISO 3166-1 alpha-2, two ASCII capitals.
    pub country: Option<[u8; 2]>,
}

impl GeoInfo<'_> {
    /// The country code as text (`"FR"`).
    pub fn country_str(&self) -> Option<&str> {
        self.country
            .as_ref()
            .and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// One loaded table, as the About page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// The dataset and its version, as written by the converter.
    pub dataset: String,
    pub ipv4_ranges: usize,
    pub ipv6_ranges: usize,
    /// ASNs with a name (0 for the country table).
    pub asns: usize,
    pub file_bytes: u64,
    pub memory_bytes: usize,
}

/// Both tables; `None` where a table is not loaded (its answers are "unknown").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GeoStats {
    pub asn: Option<TableStats>,
    pub country: Option<TableStats>,
}

/// The ASN and country tables lqosd holds.
#[derive(Debug, Clone, Default)]
pub struct GeoTables {
    asn: Option<AsnTable>,
    country: Option<CountryTable>,
}

/// An address as a table key: IPv4 (also when IPv4-mapped IPv6) or IPv6.
enum Key {
    V4(u32),
    V6(u128),
}

fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(a) => Key::V4(u32::from(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => Key::V4(u32::from(v4)),
            None => Key::V6(u128::from(a)),
        },
    }
}

impl GeoTables {
    /// No tables: every lookup answers "unknown".
    pub fn empty() -> Self {
        Self::default()
    }

    /// Tables already loaded (or built); either may be absent.
    pub fn new(asn: Option<AsnTable>, country: Option<CountryTable>) -> Self {
        Self { asn, country }
    }

    /// Loads both files; any problem with either is an error.
    pub fn load(asn_path: &Path, country_path: &Path) -> Result<Self, GeoError> {
        Ok(Self {
            asn: Some(AsnTable::load(asn_path)?),
            country: Some(CountryTable::load(country_path)?),
        })
    }

    /// Loads what it can: a file that is missing or corrupt is logged as a warning and its
    /// answers become "unknown"; the other file is still used. Never fails.
    pub fn load_or_empty(asn_path: &Path, country_path: &Path) -> Self {
        fn warn_unknown<T>(what: &str, r: Result<T, GeoError>) -> Option<T> {
            r.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default();
                tracing::warn!("{e}{cause}; {what} will show as unknown");
            })
            .ok()
        }
        Self {
            asn: warn_unknown("ASNs", AsnTable::load(asn_path)),
            country: warn_unknown("countries", CountryTable::load(country_path)),
        }
    }

    /// The ASN, its name and the country of `ip`. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is
    /// looked up as IPv4.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo<'_> {
        let k = key(ip);
        let asn = self.asn.as_ref().and_then(|t| match k {
            Key::V4(a) => t.lookup_v4(a),
            Key::V6(a) => t.lookup_v6(a),
        });
        let country = self.country.as_ref().and_then(|t| match k {
            Key::V4(a) => t.lookup_v4(a),
            Key::V6(a) => t.lookup_v6(a),
        });
        GeoInfo {
            asn: asn.map_or(0, |(n, _)| n),
            asn_name: asn.map(|(_, name)| name),
            country,
        }
    }

    /// An ASN's name, if the ASN table knows it.
    pub fn asn_name(&self, asn: u32) -> Option<&str> {
        self.asn.as_ref()?.name(asn)
    }

    /// ASNs by number (`15169`, `AS15169`) or by a case-insensitive part of their name; see
    /// [`AsnTable::search`].
    pub fn search_asn(&self, query: &str, limit: usize) -> Vec<AsnMatch<'_>> {
        self.asn
            .as_ref()
            .map(|t| t.search(query, limit))
            .unwrap_or_default()
    }

    /// The ASN table, when loaded.
    pub fn asn_table(&self) -> Option<&AsnTable> {
        self.asn.as_ref()
    }

    /// The country table, when loaded.
    pub fn country_table(&self) -> Option<&CountryTable> {
        self.country.as_ref()
    }

    /// Datasets, counts and sizes for the About page.
    pub fn stats(&self) -> GeoStats {
        GeoStats {
            asn: self.asn.as_ref().map(|t| TableStats {
                dataset: t.label().to_string(),
                ipv4_ranges: t.v4_ranges(),
                ipv6_ranges: t.v6_ranges(),
                asns: t.asns(),
                file_bytes: t.file_bytes(),
                memory_bytes: t.memory_bytes(),
            }),
            country: self.country.as_ref().map(|t| TableStats {
                dataset: t.label().to_string(),
                ipv4_ranges: t.v4_ranges(),
                ipv6_ranges: t.v6_ranges(),
                asns: 0,
                file_bytes: t.file_bytes(),
                memory_bytes: t.memory_bytes(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
