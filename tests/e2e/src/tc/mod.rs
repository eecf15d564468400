//! Reading `tc` on both sides: the `tc -batch` text a plan renders to, and what the kernel
//! reports back with `tc class show` / `tc -j qdisc show`.
//!
//! Rates: the kernel keeps HTB rates in whole bytes per second. iproute2's `print_rate` prints
//! them in JSON as that raw number of *bytes* per second; in text it multiplies by 8 and
//! divides by 1000 (truncating) while the value is a multiple of 1000 or at least a million:
//! 12500000bit shows as `12500Kbit`, 10000000000bit as `10Gbit`, 5123457bit as `5123Kbit`.
//! `tc -j qdisc show` is JSON, but iproute2 6.1 (this machine) ignores `-j` for `class show`
//! and prints text, so [`live_classes`] reads either and a live rate is compared within 1%.

mod live;

pub use live::{apply_batch, class_from_text, live_classes, live_qdiscs, LiveClass, LiveQdisc};

use anyhow::{anyhow, bail, Context, Result};
use std::fmt;
use std::str::FromStr;

/// A tc handle or class id `major:minor` (hexadecimal in tc notation; `1:` is `1:0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId {
    pub major: u16,
    pub minor: u16,
}

impl FromStr for ClassId {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ClassId> {
        let (major, minor) = s
            .split_once(':')
            .ok_or_else(|| anyhow!("expected a tc class id major:minor in hex, found {s:?}"))?;
        let hex = |t: &str| -> Result<u16> {
            let t = t.trim_start_matches("0x");
            if t.is_empty() {
                return Ok(0);
            }
            u16::from_str_radix(t, 16).map_err(|e| anyhow!("bad hex number {t:?} in {s:?}: {e}"))
        };
        Ok(ClassId {
            major: hex(major)?,
            minor: hex(minor)?,
        })
    }
}

impl fmt::Display for ClassId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:x}", self.major, self.minor)
    }
}

/// Parses a tc rate (`10000000bit`, `100mbit`, `12500Kbit`, `1.5gbit`, `125000bps`...) into
/// bits per second. As in tc, a bare number is bits per second, `bps` is *bytes* per second,
/// units are case-insensitive, and `Ki`/`Mi`/... are powers of 1024.
pub fn parse_rate(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow!("expected a tc rate such as 100mbit, found {text:?}"))?;
    let unit = unit.to_ascii_lowercase();
    let (prefix, per_unit) = if let Some(p) = unit.strip_suffix("bit") {
        (p, 1.0)
    } else if let Some(p) = unit.strip_suffix("bps") {
        (p, 8.0)
    } else if unit.is_empty() {
        ("", 1.0)
    } else {
        bail!("unknown rate unit in {text:?}");
    };
    let scale = match prefix {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024f64.powi(2),
        "gi" => 1024f64.powi(3),
        "ti" => 1024f64.powi(4),
        _ => bail!("unknown rate unit in {text:?}"),
    };
    Ok((value * scale * per_unit).round() as u64)
}

/// True when a live rate matches a planned one: equal up to the kernel's byte granularity
/// and tc's display rounding (at most 1%).
pub fn rate_matches(planned_bits: u64, live_bits: u64) -> bool {
    let tolerance = (planned_bits / 100).max(8);
    planned_bits.abs_diff(live_bits) <= tolerance
}

/// A `class add|replace|change` line of a tc batch.
#[derive(Debug, Clone, PartialEq)]
pub struct TcClass {
    pub dev: String,
    pub parent: Option<ClassId>,
    pub classid: ClassId,
    pub kind: String,
    /// Bits per second; `None` when the line has no `rate`.
    pub rate_bits: Option<u64>,
    /// Bits per second; `None` when the line has no `ceil` (HTB then uses the rate).
    pub ceil_bits: Option<u64>,
}

/// A `qdisc add|replace|change` line of a tc batch.
#[derive(Debug, Clone, PartialEq)]
pub struct TcQdisc {
    pub dev: String,
    /// `None` for `root`.
    pub parent: Option<ClassId>,
    pub handle: Option<ClassId>,
    pub kind: String,
}

/// What a tc batch creates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TcScript {
    pub classes: Vec<TcClass>,
    pub qdiscs: Vec<TcQdisc>,
}

struct Common {
    dev: Option<String>,
    parent: Option<ClassId>,
    id: Option<ClassId>,
    kind: Option<String>,
    rest: Vec<String>,
}

/// Splits `dev X parent P classid|handle C [root] KIND params...` into its parts.
fn common(tokens: &[&str], id_key: &str) -> Result<Common> {
    let mut c = Common {
        dev: None,
        parent: None,
        id: None,
        kind: None,
        rest: Vec::new(),
    };
    let mut i = 0;
    while i < tokens.len() {
        let value = || {
            tokens
                .get(i + 1)
                .copied()
                .ok_or_else(|| anyhow!("{:?} without a value", tokens[i]))
        };
        match tokens[i] {
            "dev" => c.dev = Some(value()?.to_string()),
            "parent" => c.parent = Some(value()?.parse()?),
            k if k == id_key => c.id = Some(value()?.parse()?),
            "root" => {
                i += 1;
                continue;
            }
            "estimator" => {
                i += 3;
                continue;
            }
            kind => {
                c.kind = Some(kind.to_string());
                c.rest = tokens[i + 1..].iter().map(|t| t.to_string()).collect();
                break;
            }
        }
        i += 2;
    }
    Ok(c)
}

fn value_of<'a>(rest: &'a [String], key: &str) -> Option<&'a str> {
    rest.iter()
        .position(|t| t == key)
        .and_then(|i| rest.get(i + 1))
        .map(String::as_str)
}

/// Parses the classes and qdiscs a `tc -batch` text adds. Comments (`#` to the end of the
/// line) and other commands (filters, deletes) are skipped.
pub fn parse_script(text: &str) -> Result<TcScript> {
    let mut script = TcScript::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (object, verb) = match tokens.as_slice() {
            [object, verb, ..] => (*object, *verb),
            _ => continue,
        };
        if !matches!(verb, "add" | "replace" | "change") {
            continue;
        }
        let context = || format!("tc batch line {}: {raw}", n + 1);
        match object {
            "class" => {
                let c = common(&tokens[2..], "classid").with_context(context)?;
                let rate = |key| value_of(&c.rest, key).map(parse_rate).transpose();
                script.classes.push(TcClass {
                    dev: c
                        .dev
                        .clone()
                        .ok_or_else(|| anyhow!("no dev"))
                        .with_context(context)?,
                    parent: c.parent,
                    classid: c
                        .id
                        .ok_or_else(|| anyhow!("no classid"))
                        .with_context(context)?,
                    kind: c.kind.clone().unwrap_or_default(),
                    rate_bits: rate("rate").with_context(context)?,
                    ceil_bits: rate("ceil").with_context(context)?,
                });
            }
            "qdisc" => {
                let c = common(&tokens[2..], "handle").with_context(context)?;
                script.qdiscs.push(TcQdisc {
                    dev: c
                        .dev
                        .ok_or_else(|| anyhow!("no dev"))
                        .with_context(context)?,
                    parent: c.parent,
                    handle: c.id,
                    kind: c
                        .kind
                        .ok_or_else(|| anyhow!("no qdisc kind"))
                        .with_context(context)?,
                });
            }
            _ => {}
        }
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10000000bit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("12500Kbit").unwrap(), 12_500_000);
        assert_eq!(parse_rate("25Mbit").unwrap(), 25_000_000);
        assert_eq!(parse_rate("10Gbit").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("1.5mbit").unwrap(), 1_500_000);
        assert_eq!(parse_rate("125000bps").unwrap(), 1_000_000);
        assert_eq!(parse_rate("1Kibit").unwrap(), 1024);
        assert_eq!(parse_rate("64000").unwrap(), 64_000);
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10qbit").is_err());
        assert!(rate_matches(5_123_457, 5_123_000));
        assert!(!rate_matches(5_000_000, 5_100_000));
    }

    #[test]
    fn script_lines() {
        let text = "# plan\nqdisc replace dev lqn0 root handle 7fff: mq\n\
            qdisc add dev lqn0 parent 7fff:2 handle 2: htb default 2\n\
            class add dev lqn0 parent 2: classid 2:1 htb rate 10000mbit ceil 10000mbit\n\
            class add dev lqn0 parent 2:1 classid 2:1f htb rate 50000000bit ceil 100000000bit prio 3 # Garcia, Maria\n\
            qdisc add dev lqn0 parent 2:1f pfifo\nfilter add dev lqn0 parent 2: bpf obj x.o\n";
        let s = parse_script(text).unwrap();
        assert_eq!(s.qdiscs.len(), 3);
        assert_eq!(
            s.qdiscs[0],
            TcQdisc {
                dev: "lqn0".into(),
                parent: None,
                handle: Some("7fff:".parse().unwrap()),
                kind: "mq".into()
            }
        );
        assert_eq!(
            s.qdiscs[2].parent,
            Some(ClassId {
                major: 2,
                minor: 0x1f
            })
        );
        assert_eq!(s.qdiscs[2].kind, "pfifo");
        assert_eq!(s.classes.len(), 2);
        let c = &s.classes[1];
        assert_eq!(
            (c.classid.to_string(), c.kind.as_str()),
            ("2:1f".to_string(), "htb")
        );
        assert_eq!(
            (c.rate_bits, c.ceil_bits),
            (Some(50_000_000), Some(100_000_000))
        );
    }
}
