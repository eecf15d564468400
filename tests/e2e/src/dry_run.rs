//! The output of `lqos-scheduler refresh --dry-run`, as tests rely on it.
//!
//! Contract: stdout is the `tc -batch` text of the plan, then a line starting with
//! [`MAPPINGS_MARKER`], then one IP mapping per line:
//!
//! ```text
//! <prefix> <cpu> <classid> <download|upload> <circuit id>
//! 100.64.1.10/32 0 1:1f download 1001
//! 2001:db8:1:100::/56 2 3:a upload Circuit with spaces
//! ```
//!
//! `prefix` is an address or CIDR prefix (a bare address is a host prefix), `cpu` a 0-based
//! integer, `classid` the HTB class in tc notation (`major:minor`, hexadecimal), and the circuit
//! id is the rest of the line (it may contain spaces; surrounding whitespace is trimmed). After
//! the marker, blank lines and lines starting with `#` are ignored, so a summary printed to
//! stdout must be `#` lines (or go to stderr).

use crate::tc::ClassId;
use anyhow::{anyhow, bail, Result};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// The line that separates the tc text from the mappings (matched as a line prefix).
pub const MAPPINGS_MARKER: &str = "# ip mappings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Shaped on `to_network` (towards the subscribers).
    Download,
    /// Shaped on `to_internet` (towards the Internet).
    Upload,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        })
    }
}

/// One IP → (cpu, class) mapping of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub prefix: IpNet,
    pub cpu: u32,
    pub classid: ClassId,
    pub direction: Direction,
    pub circuit_id: String,
}

/// The dry run's stdout, split.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    /// Everything before the marker line: input for `tc -batch -`.
    pub tc_batch: String,
    pub mappings: Vec<Mapping>,
}

/// Parses an address or CIDR prefix; a bare address is a host prefix.
pub fn parse_prefix(text: &str) -> Result<IpNet> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    text.parse::<IpNet>()
        .map_err(|_| anyhow!("expected an IP address or CIDR prefix, found {text:?}"))
}

/// Takes the next whitespace-separated field off the front of `rest`.
fn field<'a>(rest: &mut &'a str, what: &str, line: &str) -> Result<&'a str> {
    let s = rest.trim_start();
    if s.is_empty() {
        bail!("mapping line {line:?}: missing {what} (expected <prefix> <cpu> <classid> <download|upload> <circuit id>)");
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    *rest = &s[end..];
    Ok(&s[..end])
}

/// Parses one mapping line: `<prefix> <cpu> <classid> <download|upload> <circuit id...>`.
pub fn parse_mapping(line: &str) -> Result<Mapping> {
    let mut rest = line;
    let prefix = field(&mut rest, "prefix", line)?;
    let cpu = field(&mut rest, "cpu", line)?;
    let classid = field(&mut rest, "classid", line)?;
    let direction = field(&mut rest, "direction", line)?;
    let circuit_id = rest.trim();
    if circuit_id.is_empty() {
        bail!("mapping line {line:?}: missing the circuit id");
    }
    let prefix = parse_prefix(prefix).map_err(|e| anyhow!("mapping line {line:?}: {e}"))?;
    let cpu = cpu.parse::<u32>().map_err(|_| {
        anyhow!("mapping line {line:?}: expected a 0-based cpu number, found {cpu:?}")
    })?;
    let classid = classid
        .parse::<ClassId>()
        .map_err(|e| anyhow!("mapping line {line:?}: {e}"))?;
    let direction = match direction {
        "download" => Direction::Download,
        "upload" => Direction::Upload,
        other => bail!("mapping line {line:?}: expected download or upload, found {other:?}"),
    };
    Ok(Mapping {
        prefix,
        cpu,
        classid,
        direction,
        circuit_id: circuit_id.to_string(),
    })
}

/// Splits a dry run's stdout into the tc text and the mappings. Every bad mapping line is
/// reported (with its line number), not only the first.
pub fn split_output(stdout: &str) -> Result<DryRun> {
    let Some(marker) = line_start(stdout, MAPPINGS_MARKER) else {
        bail!("no line starting with {MAPPINGS_MARKER:?} in the dry run's stdout:\n{stdout}");
    };
    let tc_batch = stdout[..marker].to_string();
    let after = &stdout[marker..];
    let first_line = tc_batch.lines().count() + 1;
    let mut mappings = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in after.lines().enumerate().skip(1) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_mapping(line) {
            Ok(m) => mappings.push(m),
            Err(e) => errors.push(format!("stdout line {}: {e}", first_line + i)),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} bad mapping line(s):\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    Ok(DryRun { tc_batch, mappings })
}

/// Byte offset of the first line that starts with `prefix`.
fn line_start(text: &str, prefix: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with(prefix) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_lines() {
        let m = parse_mapping("100.64.1.10/32 0 1:1f download 1001").unwrap();
        assert_eq!(m.prefix, "100.64.1.10/32".parse::<IpNet>().unwrap());
        assert_eq!(
            (m.cpu, m.classid, m.direction),
            (
                0,
                ClassId {
                    major: 1,
                    minor: 0x1f
                },
                Direction::Download
            )
        );
        assert_eq!(m.circuit_id, "1001");

        let m =
            parse_mapping("2001:db8:1:100::/56   3\t4:a0  upload  Garcia, Maria  home \r").unwrap();
        assert_eq!(m.prefix.to_string(), "2001:db8:1:100::/56");
        assert_eq!((m.cpu, m.classid.major, m.classid.minor), (3, 4, 0xa0));
        assert_eq!(m.direction, Direction::Upload);
        assert_eq!(m.circuit_id, "Garcia, Maria  home");

        let bare = parse_mapping("198.51.100.9 1 2:ffff upload B-2001").unwrap();
        assert_eq!(bare.prefix.to_string(), "198.51.100.9/32");
        assert_eq!(bare.classid.minor, 0xffff);
    }

    #[test]
    fn bad_mapping_lines() {
        for line in [
            "",
            "100.64.1.10/32 0 1:1f download",
            "100.64.1.10/32 0 1:1f sideways 1001",
            "100.64.1.10/32 -1 1:1f download 1001",
            "100.64.1.10/32 0 1f download 1001",
            "100.64.1.10/32 0 1:1ffff download 1001",
            "100.64.1.300 0 1:1f download 1001",
            "100.64.1.10/33 0 1:1f download 1001",
        ] {
            assert!(parse_mapping(line).is_err(), "accepted {line:?}");
        }
    }

    #[test]
    fn split() {
        let out = "qdisc replace dev lqn0 root handle 7fff: mq\n# a comment\n\
            # ip mappings (prefix cpu classid direction circuit)\n\
            100.64.1.10/32 0 1:1f download 1001\n\n# summary: 1 circuit\n\
            100.64.1.10/32 0 1:1f upload 1001\n";
        let d = split_output(out).unwrap();
        assert_eq!(
            d.tc_batch,
            "qdisc replace dev lqn0 root handle 7fff: mq\n# a comment\n"
        );
        assert_eq!(d.mappings.len(), 2);
        assert_eq!(d.mappings[1].direction, Direction::Upload);

        assert!(split_output("class add dev x\n").is_err());
        let err = split_output("# ip mappings\nnonsense\n1.2.3.4 0 1:1 upload c\nmore nonsense\n")
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("2 bad mapping line(s)")
                && text.contains("stdout line 2")
                && text.contains("stdout line 4"),
            "{text}"
        );
    }
}
