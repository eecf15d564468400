//! What can be wrong with a geo table file ([`GeoError`], [`FormatError`]) or with the CSV a
//! table is built from ([`BuildError`]).

use std::path::PathBuf;

/// A table file that could not be loaded. lqosd logs it and carries on with "unknown".
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read (missing, permissions, I/O).
    #[error("cannot read geo table {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid table of the expected kind.
    #[error("geo table {path} is unusable")]
    Format {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
}

/// What is wrong inside a table file (see docs/geo-data.md for the layout).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// The first 8 bytes are not `LQOSGEO\0`: not a geo table at all.
    #[error("bad magic: not an lqos geo table")]
    BadMagic,
    /// Written by a newer (or older) converter whose layout this build does not read.
    #[error("format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    /// An ASN file given where a country file is expected, or the reverse.
    #[error("this is a {found} table, expected a {expected} table")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    /// The file ends before the length its header announces.
    #[error("truncated at offset {offset}: the header announces {needed} bytes")]
    Truncated { offset: u64, needed: u64 },
    /// The file is longer than its header announces.
    #[error("{extra} unexpected bytes after offset {offset}")]
    TrailingBytes { offset: u64, extra: u64 },
    /// The CRC-32 of the header and body does not match the stored one.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    /// The header's counts do not add up to its body length.
    #[error("the header's counts need {computed} body bytes but it announces {announced}")]
    HeaderMismatch { announced: u64, computed: u64 },
    /// Ranges must be sorted, each `start <= end`, each starting after the previous one's end.
    #[error("{family} range at index {index} is unsorted or overlaps the previous one")]
    Unsorted { family: &'static str, index: usize },
    /// A range's value is invalid (an ASN index past the table, a country code that is not
    /// two ASCII capitals).
    #[error("{family} range at index {index}: {reason}")]
    BadValue {
        family: &'static str,
        index: usize,
        reason: &'static str,
    },
    /// The ASN name table is unsorted or points outside the name buffer.
    #[error("ASN table entry {index}: {reason}")]
    BadAsnEntry { index: usize, reason: &'static str },
    /// The dataset label or the name buffer is not UTF-8.
    #[error("the {what} is not valid UTF-8")]
    BadUtf8 { what: &'static str },
}

/// A CSV row the converter cannot use (the tool stops: a dataset with bad rows is not
/// silently half-converted).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot read {source_name}")]
    Read {
        source_name: String,
        #[source]
        source: csv::Error,
    },
    #[error("{source_name} line {line}: {reason}")]
    BadRow {
        source_name: String,
        line: u64,
        reason: String,
    },
    #[error("too many {what} for the format ({count}, at most {max})")]
    TooLarge {
        what: &'static str,
        count: usize,
        max: usize,
    },
}
