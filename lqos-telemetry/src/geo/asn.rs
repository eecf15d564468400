//! The IP -> ASN table: IPv4 and IPv6 ranges whose values index one ASN table (number and
//! name), names kept in one deduplicated string buffer.

use super::error::{FormatError, GeoError};
use super::format::{self, Contents, Kind, ASN_ENTRY_LEN};
use super::table::{Key, RangeTable};
use std::path::Path;

/// One ASN: its number and where its name sits in the name buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AsnEntry {
    asn: u32,
    offset: u32,
    len: u32,
}

/// An ASN found by [`AsnTable::search`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AsnMatch<'a> {
    pub asn: u32,
    pub name: &'a str,
}

/// IP -> ASN ranges and ASN -> name, as loaded from an ASN table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnTable {
    label: String,
    v4: RangeTable<u32, u32>,
    v6: RangeTable<u128, u32>,
    entries: Vec<AsnEntry>,
    names: String,
    file_bytes: u64,
}

impl AsnTable {
    /// Reads and checks an ASN table file.
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

    /// Parses and checks the bytes of an ASN table file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let s = format::split::<u32>(bytes, Kind::Asn)?;
        let v4 = RangeTable::decode(s.v4, s.v4_count, "IPv4")?;
        let v6 = RangeTable::decode(s.v6, s.v6_count, "IPv6")?;
        let entries = s
            .asn_entries
            .chunks_exact(ASN_ENTRY_LEN)
            .map(|e| AsnEntry {
                asn: <u32 as Key>::get(&e[0..4]),
                offset: <u32 as Key>::get(&e[4..8]),
                len: <u32 as Key>::get(&e[8..12]),
            })
            .collect();
        let names = String::from_utf8(s.names.to_vec()).map_err(|_| FormatError::BadUtf8 {
            what: "name buffer",
        })?;
        debug_assert_eq!(s.asn_count, s.asn_entries.len() / ASN_ENTRY_LEN);
        let mut table = Self::from_parts(s.label.to_string(), v4, v6, entries, names)?;
        table.file_bytes = bytes.len() as u64;
        Ok(table)
    }

    /// Builds a table from checked ranges (values index `asns`) and `(asn, name)` sorted by
    /// ASN; names are deduplicated into one buffer. Used by the converter.
    pub(crate) fn from_ranges(
        label: String,
        v4: RangeTable<u32, u32>,
        v6: RangeTable<u128, u32>,
        asns: &[(u32, &str)],
    ) -> Result<Self, FormatError> {
        let mut names = String::new();
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut entries = Vec::with_capacity(asns.len());
        for &(asn, name) in asns {
            let offset = *seen.entry(name).or_insert_with(|| {
                let at = names.len() as u32;
                names.push_str(name);
                at
            });
            entries.push(AsnEntry {
                asn,
                offset,
                len: name.len() as u32,
            });
        }
        let mut table = Self::from_parts(label, v4, v6, entries, names)?;
        table.file_bytes = table.to_bytes().len() as u64;
        Ok(table)
    }

    fn from_parts(
        label: String,
        v4: RangeTable<u32, u32>,
        v6: RangeTable<u128, u32>,
        entries: Vec<AsnEntry>,
        names: String,
    ) -> Result<Self, FormatError> {
        for (index, e) in entries.iter().enumerate() {
            if index > 0 && e.asn <= entries[index - 1].asn {
                return Err(FormatError::BadAsnEntry {
                    index,
                    reason: "ASNs are not strictly ascending",
                });
            }
            let end = e.offset as usize + e.len as usize;
            if names.get(e.offset as usize..end).is_none() {
                return Err(FormatError::BadAsnEntry {
                    index,
                    reason: "name outside the name buffer or not on a character boundary",
                });
            }
        }
        let count = entries.len() as u32;
        for (family, values) in [("IPv4", v4.values()), ("IPv6", v6.values())] {
            if let Some(index) = values.iter().position(|&v| v >= count) {
                return Err(FormatError::BadValue {
                    family,
                    index,
                    reason: "ASN index past the ASN table",
                });
            }
        }
        Ok(Self {
            label,
            v4,
            v6,
            entries,
            names,
            file_bytes: 0,
        })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries: Vec<(u32, u32, u32)> = self
            .entries
            .iter()
            .map(|e| (e.asn, e.offset, e.len))
            .collect();
        format::write(&Contents {
            kind: Kind::Asn,
            label: &self.label,
            v4: &self.v4,
            v6: &self.v6,
            asn_entries: &entries,
            names: &self.names,
        })
    }

    #[inline]
    fn entry(&self, index: u32) -> (u32, &str) {
        let e = self.entries[index as usize];
        let range = e.offset as usize..(e.offset + e.len) as usize;
        // Safe indexing (`&self.names[range]`) reads the bytes at both ends to check the char
        // boundaries: two more cache misses per look-up. `from_parts` has checked every entry's
        // range with `names.get(range)` (in bounds, on boundaries) and neither `entries` nor
        // `names` changes afterwards.
        // SAFETY: the range was checked to be in bounds and on char boundaries (above).
        let name = unsafe { self.names.get_unchecked(range) };
        (e.asn, name)
    }

    /// The ASN (and its name) announcing an IPv4 address (`u32::from(Ipv4Addr)`).
    #[inline]
    pub fn lookup_v4(&self, addr: u32) -> Option<(u32, &str)> {
        self.v4.get(addr).map(|i| self.entry(i))
    }

    /// The ASN (and its name) announcing an IPv6 address (IPv4-mapped ones are not mapped
    /// here: [`super::GeoTables::lookup`] does that).
    #[inline]
    pub fn lookup_v6(&self, addr: u128) -> Option<(u32, &str)> {
        self.v6.get(addr).map(|i| self.entry(i))
    }

    /// An ASN's name.
    pub fn name(&self, asn: u32) -> Option<&str> {
        let i = self.entries.binary_search_by_key(&asn, |e| e.asn).ok()?;
        Some(self.entry(i as u32).1)
    }

    /// ASNs matching `query`: a number (`15169`, `AS15169`) finds that ASN; any other text
    /// finds names containing it (case-insensitive), those starting with it first, then by
    /// ASN. At most `limit` results; an empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<AsnMatch<'_>> {
        let query = query.trim();
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let digits = query
            .strip_prefix("AS")
            .or_else(|| query.strip_prefix("as"))
            .or_else(|| query.strip_prefix("As"))
            .unwrap_or(query);
        if let Ok(asn) = digits.parse::<u32>() {
            return self
                .name(asn)
                .map(|name| vec![AsnMatch { asn, name }])
                .unwrap_or_default();
        }
        let needle = query.to_lowercase();
        let mut found: Vec<(bool, AsnMatch<'_>)> = Vec::new();
        for i in 0..self.entries.len() {
            let (asn, name) = self.entry(i as u32);
            if let Some(at) = find_ignoring_case(name, &needle) {
                found.push((at != 0, AsnMatch { asn, name }));
            }
        }
        // Entries are in ASN order, so a stable sort on "starts with" keeps ASN order within.
        found.sort_by_key(|(later, _)| *later);
        found.into_iter().take(limit).map(|(_, m)| m).collect()
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

    /// ASNs (with names) held.
    pub fn asns(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of the name buffer (each distinct name once).
    pub fn name_bytes(&self) -> usize {
        self.names.len()
    }

    /// Size of the file the table came from (or would be written as).
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Heap bytes the loaded table holds.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes()
            + self.v6.memory_bytes()
            + self.entries.capacity() * size_of::<AsnEntry>()
            + self.names.capacity()
            + self.label.capacity()
    }

    /// Iterates the IPv4 ranges as `(start, end, asn)`.
    pub fn iter_v4(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        self.v4.iter().map(|(s, e, i)| (s, e, self.entry(i).0))
    }

    /// Iterates the IPv6 ranges as `(start, end, asn)`.
    pub fn iter_v6(&self) -> impl Iterator<Item = (u128, u128, u32)> + '_ {
        self.v6.iter().map(|(s, e, i)| (s, e, self.entry(i).0))
    }
}

/// Where `needle` (already lowercase) occurs in `hay`, ignoring case; ASCII names (nearly all)
/// are compared without allocating.
fn find_ignoring_case(hay: &str, needle: &str) -> Option<usize> {
    if hay.is_ascii() {
        let n = needle.as_bytes();
        if n.len() > hay.len() {
            return None;
        }
        hay.as_bytes()
            .windows(n.len())
            .position(|w| w.eq_ignore_ascii_case(n))
    } else {
        hay.to_lowercase().find(needle)
    }
}
