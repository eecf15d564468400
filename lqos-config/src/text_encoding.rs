//! The text encodings ShapedDevices.csv may come in: UTF-8 with or without a byte order mark
//! (Excel's "CSV UTF-8"), and UTF-16 little- or big-endian with a byte order mark (what
//! spreadsheet tools write as "Unicode text"). UTF-16 is decoded to UTF-8 as it streams, so the
//! CSV reader, its line numbers and every diagnostic work the same for every encoding.
//!
//! Malformed UTF-16 (an odd number of bytes, an unpaired surrogate) is an error naming the line
//! and byte offset, never replaced by U+FFFD: a guessed character could change an address.

use std::io::{self, Read};

/// How a file's text is encoded, as told by its byte order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    /// The encoding its first bytes announce (a byte order mark); plain UTF-8 without one.
    pub fn sniff(prefix: &[u8]) -> TextEncoding {
        if prefix.starts_with(b"\xEF\xBB\xBF") {
            TextEncoding::Utf8Bom
        } else if prefix.starts_with(b"\xFF\xFE") {
            TextEncoding::Utf16Le
        } else if prefix.starts_with(b"\xFE\xFF") {
            TextEncoding::Utf16Be
        } else {
            TextEncoding::Utf8
        }
    }

    /// The byte order mark that starts a file in this encoding (empty for plain UTF-8).
    pub fn bom(self) -> &'static [u8] {
        match self {
            TextEncoding::Utf8 => b"",
            TextEncoding::Utf8Bom => b"\xEF\xBB\xBF",
            TextEncoding::Utf16Le => b"\xFF\xFE",
            TextEncoding::Utf16Be => b"\xFE\xFF",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with a byte order mark",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
        }
    }

    /// `text` as a file in this encoding, byte order mark included.
    pub fn encode(self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bom().len() + text.len() * 2);
        out.extend_from_slice(self.bom());
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => out.extend_from_slice(text.as_bytes()),
            TextEncoding::Utf16Le => text
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_le_bytes())),
            TextEncoding::Utf16Be => text
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_be_bytes())),
        }
        out
    }

    fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    }
}

/// Text that cannot be decoded. `line` is 1-based; `offset` counts bytes from the start of the
/// file, byte order mark included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{encoding} text with an odd number of bytes: the last code unit is cut in half (byte {offset}, line {line}); the file is truncated or not {encoding}", encoding = encoding.label())]
    OddLength {
        encoding: TextEncoding,
        offset: u64,
        line: u64,
    },
    #[error("{encoding}: unpaired surrogate 0x{unit:04X} at byte {offset} (line {line}); expected a high surrogate (D800-DBFF) followed by a low one (DC00-DFFF)", encoding = encoding.label())]
    UnpairedSurrogate {
        encoding: TextEncoding,
        unit: u16,
        offset: u64,
        line: u64,
    },
    #[error("NUL bytes at the start of the file: this looks like UTF-16 without a byte order mark; save it as UTF-8, or as UTF-16 (\"Unicode text\") with a byte order mark")]
    Utf16WithoutBom,
    #[error("expected UTF-8 text (or UTF-16 with a byte order mark); invalid UTF-8 at byte {offset} (line {line})")]
    InvalidUtf8 { offset: u64, line: u64 },
}

impl DecodeError {
    /// The 1-based line of the problem, when it has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            DecodeError::OddLength { line, .. }
            | DecodeError::UnpairedSurrogate { line, .. }
            | DecodeError::InvalidUtf8 { line, .. } => Some(*line),
            DecodeError::Utf16WithoutBom => None,
        }
    }

    /// The decode error carried by an I/O error from a [`Decoder`], if that is what it is.
    pub fn from_io(e: &io::Error) -> Option<&DecodeError> {
        e.get_ref().and_then(|inner| inner.downcast_ref())
    }
}

/// A reader handing on `inner`'s bytes as rewritten, chunk by chunk, by `W`.
pub struct Rewritten<I, W> {
    inner: I,
    rewrite: W,
    /// Rewritten bytes not yet handed out, from `at`.
    out: Vec<u8>,
    at: usize,
    done: bool,
    /// An error found before the first read, returned by it.
    failed: Option<io::Error>,
}

/// One way of rewriting a byte stream.
pub trait Rewrite {
    /// Appends to `out` what `input` becomes; an empty `input` is the end of the stream.
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()>;
}

impl<I: Read, W: Rewrite> Rewritten<I, W> {
    fn new(inner: I, rewrite: W, failed: Option<io::Error>) -> Self {
        Rewritten {
            inner,
            rewrite,
            out: Vec::new(),
            at: 0,
            done: false,
            failed,
        }
    }
}

impl<I: Read, W: Rewrite> Read for Rewritten<I, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.failed.take() {
            self.done = true;
            return Err(e);
        }
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let mut chunk = [0u8; 1 << 14];
            let n = loop {
                match self.inner.read(&mut chunk) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r?,
                }
            };
            self.out.clear();
            self.at = 0;
            self.done = n == 0;
            self.rewrite.rewrite(&chunk[..n], &mut self.out)?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads a file in any [`TextEncoding`] and yields UTF-8 without a byte order mark. UTF-8 input
/// passes through untouched (the CSV reader checks it); UTF-16 is transcoded, and a malformed
/// code unit is an `InvalidData` error carrying a [`DecodeError`].
pub type Decoder<R> = Rewritten<R, Transcode>;

/// The rewriting of a [`Decoder`].
pub struct Transcode {
    encoding: TextEncoding,
    /// Input bytes not yet decoded (the prefix read to sniff, half a code unit).
    raw: Vec<u8>,
    /// A high surrogate waiting for its low half, with its byte offset.
    high: Option<(u16, u64)>,
    /// Byte offset in the file of `raw[0]`; newlines decoded so far.
    offset: u64,
    newlines: u64,
}

/// Reads the first bytes of `inner` to find its encoding. A read error, or NUL bytes that
/// betray UTF-16 without a byte order mark, is returned by the first `read`.
pub fn decoder<R: Read>(mut inner: R) -> Decoder<R> {
    let mut prefix = [0u8; 3];
    let mut n = 0;
    let mut failed = None;
    while n < prefix.len() {
        match inner.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let prefix = &prefix[..n];
    let encoding = TextEncoding::sniff(prefix);
    if encoding == TextEncoding::Utf8 && looks_like_utf16(prefix) {
        failed = Some(invalid(DecodeError::Utf16WithoutBom));
    }
    let bom = encoding.bom().len();
    let transcode = Transcode {
        encoding,
        raw: prefix[bom..].to_vec(),
        high: None,
        offset: bom as u64,
        newlines: 0,
    };
    Rewritten::new(inner, transcode, failed)
}

impl Transcode {
    /// Decodes the whole code units in `raw` into `out`.
    fn decode_raw(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let whole = self.raw.len() / 2 * 2;
        for i in (0..whole).step_by(2) {
            let pair = [self.raw[i], self.raw[i + 1]];
            let unit = match self.encoding {
                TextEncoding::Utf16Be => u16::from_be_bytes(pair),
                _ => u16::from_le_bytes(pair),
            };
            if unit < 0x80 && self.high.is_none() {
                // ASCII, nearly all of a CSV: one byte, no UTF-8 encoding needed.
                self.newlines += u64::from(unit == 0x0A);
                out.push(unit as u8);
                continue;
            }
            let at = self.offset + i as u64;
            let unpaired = |unit, offset| {
                invalid(DecodeError::UnpairedSurrogate {
                    encoding: self.encoding,
                    unit,
                    offset,
                    line: self.newlines + 1,
                })
            };
            let c = match (self.high.take(), unit) {
                (Some((hi, _)), 0xDC00..=0xDFFF) => {
                    char::decode_utf16([hi, unit]).next().and_then(Result::ok)
                }
                (Some((hi, hi_at)), _) => return Err(unpaired(hi, hi_at)),
                (None, 0xD800..=0xDBFF) => {
                    self.high = Some((unit, at));
                    continue;
                }
                (None, 0xDC00..=0xDFFF) => return Err(unpaired(unit, at)),
                (None, _) => char::from_u32(u32::from(unit)),
            };
            // Every pairing above is a valid scalar value; `None` cannot happen.
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            if c == '\n' {
                self.newlines += 1;
            }
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        self.raw.drain(..whole);
        self.offset += whole as u64;
        Ok(())
    }
}

impl Rewrite for Transcode {
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if !self.encoding.is_utf16() {
            out.append(&mut self.raw);
            out.extend_from_slice(input);
            return Ok(());
        }
        self.raw.extend_from_slice(input);
        self.decode_raw(out)?;
        if !input.is_empty() {
            return Ok(());
        }
        let line = self.newlines + 1;
        if let Some((unit, offset)) = self.high {
            return Err(invalid(DecodeError::UnpairedSurrogate {
                encoding: self.encoding,
                unit,
                offset,
                line,
            }));
        }
        if !self.raw.is_empty() {
            return Err(invalid(DecodeError::OddLength {
                encoding: self.encoding,
                offset: self.offset,
                line,
            }));
        }
        Ok(())
    }
}

/// One NUL in the first two bytes: ASCII in UTF-16 (a CSV never starts with NUL in UTF-8).
fn looks_like_utf16(prefix: &[u8]) -> bool {
    prefix.len() >= 2 && (prefix[0] == 0) != (prefix[1] == 0)
}

fn invalid(e: DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Text with every CRLF turned into LF and a final LF added when the last line has none, so
/// that a CSV record always ends just past an LF: csv-core ends a record at the CR of a CRLF
/// and at EOF, which would put line numbers one line early. A lone CR is left as it is.
pub type LfLines<R> = Rewritten<R, LfEnds>;

/// The rewriting of [`LfLines`].
#[derive(Default)]
pub struct LfEnds {
    /// A CR read, not yet known to be followed by an LF.
    cr: bool,
    /// The last byte handed on (`None` before the first).
    last: Option<u8>,
}

pub fn lf_lines<R: Read>(inner: R) -> LfLines<R> {
    Rewritten::new(inner, LfEnds::default(), None)
}

impl Rewrite for LfEnds {
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        let mut rest = input;
        if std::mem::take(&mut self.cr) && rest.first() != Some(&b'\n') {
            out.push(b'\r');
        }
        // Copied in runs between CRs: a CR is dropped before an LF, kept before anything else,
        // and decided by the next chunk when it ends this one.
        while let Some(i) = rest.iter().position(|&b| b == b'\r') {
            out.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            match rest.first() {
                Some(b'\n') => {}
                Some(_) => out.push(b'\r'),
                None => self.cr = true,
            }
        }
        out.extend_from_slice(rest);
        if input.is_empty()
            && out[start..]
                .last()
                .or(self.last.as_ref())
                .is_some_and(|&b| b != b'\n')
        {
            out.push(b'\n');
        }
        if let Some(&b) = out[start..].last() {
            self.last = Some(b);
        }
        Ok(())
    }
}

/// A whole file's bytes as UTF-8 text (without its byte order mark) and the encoding to write
/// it back in.
pub fn decode(bytes: &[u8]) -> Result<(String, TextEncoding), DecodeError> {
    let encoding = TextEncoding::sniff(bytes);
    let body = &bytes[encoding.bom().len()..];
    if !encoding.is_utf16() {
        if encoding == TextEncoding::Utf8 && looks_like_utf16(body) {
            return Err(DecodeError::Utf16WithoutBom);
        }
        return match std::str::from_utf8(body) {
            Ok(text) => Ok((text.to_owned(), encoding)),
            Err(e) => {
                let before = &body[..e.valid_up_to()];
                Err(DecodeError::InvalidUtf8 {
                    offset: (encoding.bom().len() + e.valid_up_to()) as u64,
                    line: before.iter().filter(|&&b| b == b'\n').count() as u64 + 1,
                })
            }
        };
    }
    let mut text = String::with_capacity(body.len());
    match decoder(bytes).read_to_string(&mut text) {
        Ok(_) => Ok((text, encoding)),
        // The decoder only fails with a DecodeError on a slice; it always yields UTF-8.
        Err(e) => Err(DecodeError::from_io(&e)
            .cloned()
            .unwrap_or(DecodeError::InvalidUtf8 { offset: 0, line: 1 })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, so every code unit and surrogate pair straddles reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    fn stream(bytes: &[u8]) -> Result<String, DecodeError> {
        let mut text = String::new();
        decoder(Trickle(bytes))
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|e| DecodeError::from_io(&e).cloned().unwrap())
    }

    const TEXT: &str = "a,b\r\nSão Paulo,\u{1F600}\n";

    #[test]
    fn every_encoding_round_trips_through_the_decoder() {
        for enc in [
            TextEncoding::Utf8,
            TextEncoding::Utf8Bom,
            TextEncoding::Utf16Le,
            TextEncoding::Utf16Be,
        ] {
            let bytes = enc.encode(TEXT);
            assert_eq!(stream(&bytes).unwrap(), TEXT, "{enc:?}");
            assert_eq!(decode(&bytes).unwrap(), (TEXT.to_owned(), enc));
        }
    }

    #[test]
    fn malformed_utf16_names_the_line_and_byte() {
        let mut odd = TextEncoding::Utf16Le.encode("a\nb\n");
        odd.push(b'c');
        let e = DecodeError::OddLength {
            encoding: TextEncoding::Utf16Le,
            offset: 10,
            line: 3,
        };
        assert_eq!(stream(&odd), Err(e.clone()));
        assert_eq!(decode(&odd), Err(e));

        // A high surrogate followed by a letter, on line 2 at byte 2 (BOM) + 4.
        let mut lone: Vec<u8> = b"\xFE\xFF".to_vec();
        for u in [0x61u16, 0x0A, 0xD83D, 0x62] {
            lone.extend_from_slice(&u.to_be_bytes());
        }
        let e = DecodeError::UnpairedSurrogate {
            encoding: TextEncoding::Utf16Be,
            unit: 0xD83D,
            offset: 6,
            line: 2,
        };
        assert_eq!(stream(&lone), Err(e.clone()));
        assert!(e
            .to_string()
            .contains("UTF-16BE: unpaired surrogate 0xD83D at byte 6 (line 2)"));
        // A low surrogate alone, and a high one at the very end.
        assert!(matches!(
            stream(b"\xFF\xFE\x00\xDC"),
            Err(DecodeError::UnpairedSurrogate {
                unit: 0xDC00,
                offset: 2,
                ..
            })
        ));
        assert!(matches!(
            stream(b"\xFF\xFEa\x00\x3D\xD8"),
            Err(DecodeError::UnpairedSurrogate {
                unit: 0xD83D,
                offset: 4,
                ..
            })
        ));
    }

    #[test]
    fn lf_lines_normalises_crlf_and_ends_the_last_line() {
        let lf = |bytes: &[u8]| {
            let mut out = Vec::new();
            lf_lines(Trickle(bytes)).read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(lf(b"a\r\nb\r\n"), b"a\nb\n");
        assert_eq!(lf(b"a\r\nb"), b"a\nb\n");
        assert_eq!(lf(b"a\rb\r"), b"a\rb\r\n");
        assert_eq!(lf(b""), b"");
        assert_eq!(lf(b"\n"), b"\n");
    }

    #[test]
    fn utf16_without_a_bom_and_bad_utf8_are_named() {
        let no_bom = &TextEncoding::Utf16Le.encode("a,b\n")[2..];
        assert_eq!(stream(no_bom), Err(DecodeError::Utf16WithoutBom));
        assert_eq!(decode(no_bom), Err(DecodeError::Utf16WithoutBom));
        assert_eq!(
            decode(b"a\nb\xFF"),
            Err(DecodeError::InvalidUtf8 { offset: 3, line: 2 })
        );
    }
}
