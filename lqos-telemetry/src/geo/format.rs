//! The table file layout (docs/geo-data.md "File format"): a 64-byte header, then the body.
//!
//! ```text
//! header (little-endian)
//!   0  [u8; 8]  magic "LQOSGEO\0"
//!   8  u16      format version (1)
//!  10  u16      kind: 1 = ASN, 2 = country
//!  12  u32      label length (bytes)
//!  16  u32      IPv4 range count
//!  20  u32      IPv6 range count
//!  24  u32      ASN table entries (0 in a country table)
//!  28  u32      name buffer length (0 in a country table)
//!  32  u64      body length (bytes after the header)
//!  40  u32      CRC-32 (IEEE) of header bytes 0..40 followed by the whole body
//!  44  [u8; 20] reserved, zero
//! body
//!   label       UTF-8, the dataset and its version
//!   IPv4        starts [u32; n4], ends [u32; n4], values [V; n4]
//!   IPv6        starts [u128; n6], ends [u128; n6], values [V; n6]
//!   ASN table   [(asn u32, name offset u32, name length u32); entries]   (ASN tables only)
//!   names       UTF-8, deduplicated, referenced by the ASN table         (ASN tables only)
//! V = u32 index into the ASN table (ASN tables), [u8; 2] ISO 3166 alpha-2 (country tables)
//! ```

use super::error::FormatError;
use super::table::{encoded_len, Key, RangeTable, Value};

pub(crate) const MAGIC: [u8; 8] = *b"LQOSGEO\0";
pub(crate) const FORMAT_VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = 64;
/// Header bytes covered by the checksum (everything before the checksum itself).
const CHECKSUMMED_HEADER: usize = 40;
/// One ASN table entry: asn, name offset, name length.
pub(crate) const ASN_ENTRY_LEN: usize = 12;

/// Which table a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Asn = 1,
    Country = 2,
}

impl Kind {
    fn name(code: u16) -> &'static str {
        match code {
            1 => "ASN",
            2 => "country",
            _ => "unknown",
        }
    }
}

/// A file's sections, sliced out of its bytes after the checks of [`split`].
pub(crate) struct Sections<'a> {
    pub label: &'a str,
    pub v4_count: usize,
    pub v4: &'a [u8],
    pub v6_count: usize,
    pub v6: &'a [u8],
    pub asn_count: usize,
    pub asn_entries: &'a [u8],
    pub names: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn checksum(header: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..CHECKSUMMED_HEADER]);
    h.update(body);
    h.finalize()
}

/// Checks the header, the length and the checksum, and slices the body into its sections.
/// `V` is the range value type of `kind`.
pub(crate) fn split<V: Value>(bytes: &[u8], kind: Kind) -> Result<Sections<'_>, FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Truncated {
            offset: bytes.len() as u64,
            needed: HEADER_LEN as u64,
        });
    }
    let version = u16_at(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let found = u16_at(bytes, 10);
    if found != kind as u16 {
        return Err(FormatError::WrongKind {
            expected: Kind::name(kind as u16),
            found: Kind::name(found),
        });
    }
    let body_len = u64_at(bytes, 32);
    let needed = (HEADER_LEN as u64).saturating_add(body_len);
    let actual = bytes.len() as u64;
    if actual < needed {
        return Err(FormatError::Truncated {
            offset: actual,
            needed,
        });
    }
    if actual > needed {
        return Err(FormatError::TrailingBytes {
            offset: needed,
            extra: actual - needed,
        });
    }
    let (header, body) = bytes.split_at(HEADER_LEN);
    let stored = u32_at(header, 40);
    let computed = checksum(header, body);
    if stored != computed {
        return Err(FormatError::ChecksumMismatch { stored, computed });
    }
    let label_len = u32_at(header, 12) as usize;
    let v4_count = u32_at(header, 16) as usize;
    let v6_count = u32_at(header, 20) as usize;
    let asn_count = u32_at(header, 24) as usize;
    let names_len = u32_at(header, 28) as usize;
    let v4_len = encoded_len::<u32, V>(v4_count);
    let v6_len = encoded_len::<u128, V>(v6_count);
    let asn_len = asn_count * ASN_ENTRY_LEN;
    let computed_len = (label_len + v4_len + v6_len + asn_len + names_len) as u64;
    if computed_len != body_len {
        return Err(FormatError::HeaderMismatch {
            announced: body_len,
            computed: computed_len,
        });
    }
    let (label, rest) = body.split_at(label_len);
    let (v4, rest) = rest.split_at(v4_len);
    let (v6, rest) = rest.split_at(v6_len);
    let (asn_entries, names) = rest.split_at(asn_len);
    let label = std::str::from_utf8(label).map_err(|_| FormatError::BadUtf8 {
        what: "dataset label",
    })?;
    Ok(Sections {
        label,
        v4_count,
        v4,
        v6_count,
        v6,
        asn_count,
        asn_entries,
        names,
    })
}

/// What a file holds, to be written by [`write`].
pub(crate) struct Contents<'a, V> {
    pub kind: Kind,
    pub label: &'a str,
    pub v4: &'a RangeTable<u32, V>,
    pub v6: &'a RangeTable<u128, V>,
    /// `(asn, name offset, name length)`, sorted by ASN (empty in a country table).
    pub asn_entries: &'a [(u32, u32, u32)],
    pub names: &'a str,
}

/// Serialises a table file. Counts over `u32::MAX` are refused by the builder before this.
pub(crate) fn write<V: Value>(c: &Contents<'_, V>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(c.label.as_bytes());
    c.v4.encode(&mut body);
    c.v6.encode(&mut body);
    for &(asn, off, len) in c.asn_entries {
        for v in [asn, off, len] {
            Key::put(v, &mut body);
        }
    }
    body.extend_from_slice(c.names.as_bytes());
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(c.kind as u16).to_le_bytes());
    for n in [
        c.label.len(),
        c.v4.len(),
        c.v6.len(),
        c.asn_entries.len(),
        c.names.len(),
    ] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    let crc = checksum(&out, &body);
    out.extend_from_slice(&crc.to_le_bytes());
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(&body);
    out
}

/// Re-computes and stores the checksum of a file whose bytes were edited (tests build
/// structurally bad files that pass the checksum this way).
#[cfg(test)]
pub(crate) fn reseal(bytes: &mut [u8]) {
    let (header, body) = bytes.split_at_mut(HEADER_LEN);
    let crc = checksum(header, body);
    header[40..44].copy_from_slice(&crc.to_le_bytes());
}
