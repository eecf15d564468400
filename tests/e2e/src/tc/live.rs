//! What the kernel reports back: `tc class show`, `tc -j qdisc show`, and applying a batch.

use super::{parse_rate, value_of, ClassId};
use crate::NetNs;
use anyhow::{anyhow, bail, Context, Result};

/// Feeds a `tc -batch` text to tc inside `ns`. tc stops at the first failing command; the
/// error then names that command (from tc's `Command failed -:N`) and tc's messages, without
/// HTB's "quantum of class ... is big" warnings.
pub fn apply_batch(ns: &NetNs, text: &str) -> Result<()> {
    let out = ns.exec_stdin("tc", &["-batch", "-"], text.as_bytes())?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (warnings, messages): (Vec<&str>, Vec<&str>) = stderr
        .lines()
        .partition(|l| l.starts_with("Warning: sch_htb: quantum of class"));
    let failed = messages
        .iter()
        .find_map(|l| l.strip_prefix("Command failed -:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .and_then(|n| {
            text.lines()
                .nth(n.checked_sub(1)?)
                .map(|l| format!("line {n}: {l}"))
        })
        .unwrap_or_else(|| "(tc did not say which line)".into());
    bail!(
        "tc -batch rejected the text at {failed}\ntc said ({} quantum warnings left out):\n{}",
        warnings.len(),
        messages.join("\n")
    )
}

/// A class as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveClass {
    pub kind: String,
    pub classid: ClassId,
    pub parent: Option<ClassId>,
    /// Handle of the class's leaf qdisc, when it has one.
    pub leaf: Option<ClassId>,
    pub rate_bits: Option<u64>,
    pub ceil_bits: Option<u64>,
}

/// A qdisc as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveQdisc {
    pub kind: String,
    pub handle: ClassId,
    /// `None` for the root qdisc.
    pub parent: Option<ClassId>,
}

/// The classes of `dev` inside `ns`: from `tc -j class show` when it prints JSON, else from
/// the text form (see the module notes).
pub fn live_classes(ns: &NetNs, dev: &str) -> Result<Vec<LiveClass>> {
    let out = ns.run("tc", &["-j", "class", "show", "dev", dev])?;
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&out) {
        return items.iter().map(class_from_json).collect();
    }
    out.lines()
        .filter(|l| l.starts_with("class "))
        .map(class_from_text)
        .collect()
}

/// Parses one line of `tc class show`, e.g.
/// `class htb 1:1f parent 1:1 leaf 8001: prio 3 rate 12500Kbit ceil 25Mbit burst 1600b ...`.
pub fn class_from_text(line: &str) -> Result<LiveClass> {
    let tokens: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let context = || format!("tc class show line: {line}");
    let (kind, id) = match tokens.as_slice() {
        [_, kind, id, ..] => (kind.clone(), id.parse().with_context(context)?),
        _ => bail!("{}", context()),
    };
    let id_of = |key| {
        value_of(&tokens, key)
            .map(str::parse::<ClassId>)
            .transpose()
    };
    let rate = |key| value_of(&tokens, key).map(parse_rate).transpose();
    Ok(LiveClass {
        kind,
        classid: id,
        parent: id_of("parent").with_context(context)?,
        leaf: id_of("leaf").with_context(context)?,
        rate_bits: rate("rate").with_context(context)?,
        ceil_bits: rate("ceil").with_context(context)?,
    })
}

fn class_from_json(v: &serde_json::Value) -> Result<LiveClass> {
    let text = |key: &str| v.get(key).and_then(|x| x.as_str());
    let id = |key: &str| text(key).map(str::parse::<ClassId>).transpose();
    // Numbers are bytes per second (iproute2 prints the kernel's value); strings are tc rates.
    let rate = |key: &str| -> Result<Option<u64>> {
        match v.get(key) {
            None => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_u64().map(|b| b * 8)),
            Some(serde_json::Value::String(s)) => parse_rate(s).map(Some),
            Some(other) => bail!("unexpected {key} {other} in {v}"),
        }
    };
    Ok(LiveClass {
        kind: text("class")
            .or_else(|| text("kind"))
            .unwrap_or_default()
            .to_string(),
        classid: id("handle")?.ok_or_else(|| anyhow!("class without a handle: {v}"))?,
        parent: id("parent")?,
        leaf: id("leaf")?,
        rate_bits: rate("rate")?,
        ceil_bits: rate("ceil")?,
    })
}

/// The qdiscs of `dev` inside `ns` (`tc -j qdisc show`, JSON in every iproute2 we use).
pub fn live_qdiscs(ns: &NetNs, dev: &str) -> Result<Vec<LiveQdisc>> {
    let out = ns.run("tc", &["-j", "qdisc", "show", "dev", dev])?;
    let items: Vec<serde_json::Value> = serde_json::from_str(&out).with_context(|| {
        format!("`tc -j qdisc show dev {dev}` did not print a JSON array: {out}")
    })?;
    items
        .iter()
        .map(|v| {
            let text = |key: &str| v.get(key).and_then(|x| x.as_str());
            Ok(LiveQdisc {
                kind: text("kind").unwrap_or_default().to_string(),
                handle: text("handle")
                    .ok_or_else(|| anyhow!("qdisc without a handle: {v}"))?
                    .parse()?,
                parent: text("parent").map(str::parse).transpose()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_class_text() {
        let c = class_from_text("class htb 1:1f parent 1:1 leaf 8001: prio 3 rate 12500Kbit ceil 25Mbit burst 1600b cburst 1600b ").unwrap();
        assert_eq!(
            c.classid,
            ClassId {
                major: 1,
                minor: 0x1f
            }
        );
        assert_eq!(
            c.leaf,
            Some(ClassId {
                major: 0x8001,
                minor: 0
            })
        );
        assert_eq!(
            (c.rate_bits, c.ceil_bits),
            (Some(12_500_000), Some(25_000_000))
        );
        let root = class_from_text("class mq 7fff:1 root leaf 1: ").unwrap();
        assert_eq!((root.kind.as_str(), root.parent), ("mq", None));
        let j: serde_json::Value = serde_json::json!({"class":"htb","handle":"1:1f","parent":"1:1","rate":1562500,"ceil":3125000});
        let c = class_from_json(&j).unwrap();
        assert_eq!(
            (c.rate_bits, c.ceil_bits),
            (Some(12_500_000), Some(25_000_000))
        );
    }
}
