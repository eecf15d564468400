//! Takes what identifies subscribers out of text for a support bundle: IP addresses and
//! prefixes, MAC addresses, and every circuit id, circuit name, device id, device name and
//! comment of ShapedDevices.csv (whole words only, so `C10` does not touch `C100`).

use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::BTreeSet;
use std::net::IpAddr;

pub const REDACTED: &str = "(redacted)";

/// Identifiers shorter than this are not looked for (they would match everywhere).
const MIN_LEN: usize = 3;
/// Purely numeric ids shorter than this are left alone: they are indistinguishable from
/// counts and sizes, and identify nobody without the CSV.
const MIN_NUMERIC_LEN: usize = 5;

pub struct Scrubber {
    known: Option<AhoCorasick>,
    /// How many identifiers are looked for (for the bundle's manifest).
    pub identifiers: usize,
}

/// The identifying cells of ShapedDevices.csv: the columns whose normalised header is one of
/// these (the legacy 13-column layout has the same names).
const IDENTIFYING: &[&str] = &[
    "circuitid",
    "circuitname",
    "deviceid",
    "devicename",
    "mac",
    "comment",
];

impl Scrubber {
    /// A scrubber for the subscribers of `csv` (ShapedDevices.csv's text; rows that do not
    /// parse still give their cells).
    pub fn new(csv: &str) -> Self {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .comment(Some(b'#'))
            .from_reader(csv.as_bytes());
        let mut columns: Vec<usize> = Vec::new();
        let mut words = BTreeSet::new();
        for (i, record) in reader.records().filter_map(Result::ok).enumerate() {
            if i == 0 {
                columns = record
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| IDENTIFYING.contains(&normalise(h).as_str()))
                    .map(|(c, _)| c)
                    .collect();
                continue;
            }
            for c in &columns {
                if let Some(cell) = record.get(*c).map(str::trim) {
                    let numeric = cell.chars().all(|ch| ch.is_ascii_digit());
                    if cell.len() >= MIN_LEN && !(numeric && cell.len() < MIN_NUMERIC_LEN) {
                        words.insert(cell.to_owned());
                    }
                }
            }
        }
        let identifiers = words.len();
        let known = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .ok()
            .filter(|_| identifiers > 0);
        Self { known, identifiers }
    }

    /// `text` with every known identifier, IP address or prefix and MAC address replaced.
    pub fn scrub(&self, text: &str) -> String {
        let named = match &self.known {
            Some(ac) => {
                let mut out = String::with_capacity(text.len());
                let mut last = 0;
                for m in ac.find_iter(text) {
                    let before = text[..m.start()].chars().next_back();
                    let after = text[m.end()..].chars().next();
                    if before.is_some_and(is_word) || after.is_some_and(is_word) {
                        continue;
                    }
                    out.push_str(&text[last..m.start()]);
                    out.push_str(REDACTED);
                    last = m.end();
                }
                out.push_str(&text[last..]);
                out
            }
            None => text.to_owned(),
        };
        scrub_addresses(&named)
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Replaces every token that is an IP address, an IP prefix or a MAC address. Tokens are runs
/// of hex digits, letters and `:./`; times such as `20:04:26` are no IPv6 address and stay.
fn scrub_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        // Sentence punctuation after an address is not part of it.
        let core = token.trim_end_matches(['.', ':', '/']);
        if is_address(core) {
            out.push_str(REDACTED);
            out.push_str(&token[core.len()..]);
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '/' | '-') {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn is_address(t: &str) -> bool {
    if t.len() < 3 {
        return false;
    }
    let ip = t
        .split_once('/')
        .map_or(t, |(a, len)| if len.parse::<u8>().is_ok() { a } else { t });
    ip.parse::<IpAddr>().is_ok() || is_mac(t)
}

/// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`.
fn is_mac(t: &str) -> bool {
    let parts: Vec<&str> = t.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n\
        C10,Jane Doe,D-77,Jane's router,Site,02:00:00:00:00:01,100.64.1.10,fd00::10/64,1,1,10,2,call before 5pm\n\
        42,Bob,4242,Bob TV,Site,,100.64.1.11,,1,1,10,2,\n\
        # a comment line\n";

    #[test]
    fn subscribers_are_taken_out_of_logs_and_diagnostics() {
        let s = Scrubber::new(CSV);
        let text = "2026-12-02T20:04:26.452Z WARN error: ShapedDevices.csv:2: \"100.64.1.10\": overlaps fd00::10/64 of circuit \"C10\" (Jane Doe, MAC 02:00:00:00:00:01, note: call before 5pm); C100 and D-77x stay. Bob TV at 10.0.0.1.";
        let out = s.scrub(text);
        for gone in [
            "100.64.1.10",
            "fd00::10",
            "\"C10\"",
            "Jane Doe",
            "02:00:00:00:00:01",
            "call before 5pm",
            "Bob TV",
            "10.0.0.1",
        ] {
            assert!(!out.contains(gone), "{gone} left in {out}");
        }
        for kept in [
            "20:04:26.452Z",
            "ShapedDevices.csv:2:",
            "C100",
            "D-77x",
            "overlaps",
        ] {
            assert!(out.contains(kept), "{kept} lost in {out}");
        }
        assert!(out.ends_with(&format!("{REDACTED}.")), "{out}");
    }

    #[test]
    fn short_and_numeric_ids_are_not_looked_for() {
        let s = Scrubber::new(CSV);
        // "42" is too short, "4242" a number too short to tell from a count; "Bob" is a name.
        let out = s.scrub("prefixes=42 4242 Bob");
        assert_eq!(out, format!("prefixes=42 4242 {REDACTED}"));
        assert_eq!(
            Scrubber::new("").scrub("1.2.3.4 x"),
            format!("{REDACTED} x")
        );
    }

    #[test]
    fn addresses_and_prefixes_are_recognised() {
        for a in ["100.64.0.0/10", "::1", "2001:db8::/32", "aa-bb-cc-dd-ee-ff"] {
            assert!(is_address(a), "{a}");
        }
        for a in [
            "20:04:26",
            "1.5",
            "lqos.conf",
            "v1.2.3",
            "a:b",
            "2026-12-02",
        ] {
            assert!(!is_address(a), "{a}");
        }
    }
}
