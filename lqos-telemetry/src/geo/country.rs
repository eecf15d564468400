//! The IP -> country table: IPv4 and IPv6 ranges with an ISO 3166-1 alpha-2 code each.

use super::error::{FormatError, GeoError};
use super::format::{self, Contents, Kind};
use super::table::RangeTable;
use std::path::Path;

/// IP -> country ranges, as loaded from a country table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryTable {
    label: String,
    v4: RangeTable<u32, [u8; 2]>,
    v6: RangeTable<u128, [u8; 2]>,
    file_bytes: u64,
}

/// True for a code of two ASCII capitals (`FR`); the tables hold nothing else.
pub fn is_country_code(code: [u8; 2]) -> bool {
    code.iter().all(u8::is_ascii_uppercase)
}

impl CountryTable {
    /// Reads and checks a country table file.
    pub fn load(path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|source| GeoError::Format {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses and checks the bytes of a country table file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let s = format::split::<[u8; 2]>(bytes, Kind::Country)?;
        if s.asn_count != 0 || !s.names.is_empty() {
            return Err(FormatError::HeaderMismatch {
                announced: (s.asn_entries.len() + s.names.len()) as u64,
                computed: 0,
            });
        }
        let v4 = RangeTable::decode(s.v4, s.v4_count, "IPv4")?;
        let v6 = RangeTable::decode(s.v6, s.v6_count, "IPv6")?;
        let mut table = Self::from_ranges(s.label.to_string(), v4, v6)?;
        table.file_bytes = bytes.len() as u64;
        Ok(table)
    }

    /// Builds a table from checked ranges, checking the codes. Used by the converter.
    pub(crate) fn from_ranges(
        label: String,
        v4: RangeTable<u32, [u8; 2]>,
        v6: RangeTable<u128, [u8; 2]>,
    ) -> Result<Self, FormatError> {
        for (family, values) in [("IPv4", v4.values()), ("IPv6", v6.values())] {
            if let Some(index) = values.iter().position(|&c| !is_country_code(c)) {
                return Err(FormatError::BadValue {
                    family,
                    index,
                    reason: "country code is not two ASCII capitals",
                });
            }
        }
        let mut table = Self {
            label,
            v4,
            v6,
            file_bytes: 0,
        };
        table.file_bytes = table.to_bytes().len() as u64;
        Ok(table)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::write(&Contents {
            kind: Kind::Country,
            label: &self.label,
            v4: &self.v4,
            v6: &self.v6,
            asn_entries: &[],
            names: "",
        })
    }

    /// The country of an IPv4 address (`u32::from(Ipv4Addr)`).
    #[inline]
    pub fn lookup_v4(&self, addr: u32) -> Option<[u8; 2]> {
        self.v4.get(addr)
    }

    /// The country of an IPv6 address (IPv4-mapped ones are not mapped here).
    #[inline]
    pub fn lookup_v6(&self, addr: u128) -> Option<[u8; 2]> {
        self.v6.get(addr)
    }

    /// The dataset this table was built from (name and version).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// IPv4 ranges held.
    pub fn v4_ranges(&self) -> usize {
        self.v4.len()
    }

    /// IPv6 ranges held.
    pub fn v6_ranges(&self) -> usize {
        self.v6.len()
    }

    /// Size of the file the table came from (or would be written as).
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Heap bytes the loaded table holds.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes() + self.v6.memory_bytes() + self.label.capacity()
    }

    /// Iterates the IPv4 ranges as `(start, end, code)`.
    pub fn iter_v4(&self) -> impl Iterator<Item = (u32, u32, [u8; 2])> + '_ {
        self.v4.iter()
    }

    /// Iterates the IPv6 ranges as `(start, end, code)`.
    pub fn iter_v6(&self) -> impl Iterator<Item = (u128, u128, [u8; 2])> + '_ {
        self.v6.iter()
    }
}
