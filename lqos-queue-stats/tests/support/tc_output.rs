//! Parsers of `tc` output, the reference the netlink dump is compared with (tests) and the
//! baseline it is timed against (bench). iproute2 6.1 prints no JSON for `tc class show`, so
//! classes are parsed from text; qdiscs come from `tc -s -j qdisc show` through serde_json.

use anyhow::{bail, Context, Result};

/// `TC_H_ROOT`.
pub const ROOT: u32 = 0xFFFF_FFFF;

/// One class of `tc -s class show`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TcClass {
    pub kind: String,
    pub classid: u32,
    pub parent: u32,
    pub leaf: Option<u32>,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub requeues: u64,
    pub backlog: u64,
    pub qlen: u64,
    /// HTB: lended, borrowed, giants, tokens, ctokens.
    pub htb: Option<(u32, u32, u32, i64, i64)>,
}

/// One qdisc of `tc -s -j qdisc show`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TcQdisc {
    pub kind: String,
    pub handle: u32,
    pub parent: u32,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub requeues: u64,
    pub backlog: u64,
    pub qlen: u64,
}

/// `1:10` -> 0x0001_0010, `10:` -> 0x0010_0000, `root` -> `TC_H_ROOT`.
pub fn parse_handle(s: &str) -> Result<u32> {
    if s == "root" {
        return Ok(ROOT);
    }
    let (maj, min) = s.split_once(':').with_context(|| format!("handle {s:?}"))?;
    let maj = u32::from_str_radix(maj, 16).with_context(|| format!("handle {s:?}"))?;
    let min = if min.is_empty() {
        0
    } else {
        u32::from_str_radix(min, 16).with_context(|| format!("handle {s:?}"))?
    };
    Ok(maj << 16 | min)
}

fn num<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T> {
    let s = s.with_context(|| format!("missing {what}"))?;
    s.trim_end_matches([',', ')'])
        .parse()
        .map_err(|_| anyhow::anyhow!("bad {what}: {s:?}"))
}

/// `0b`, `1514b`, `12Kb`, `1.5Mb` -> bytes (iproute2's sprint_size; K and M are approximate).
fn size(s: &str) -> Result<u64> {
    let s = s.trim_end_matches('b');
    let (n, mult) = if let Some(n) = s.strip_suffix('K') {
        (n, 1024.0)
    } else if let Some(n) = s.strip_suffix('M') {
        (n, 1024.0 * 1024.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = n.parse().map_err(|_| anyhow::anyhow!("bad size {s:?}"))?;
    Ok((v * mult).round() as u64)
}

/// Parses the text of `tc -s class show dev X`.
pub fn parse_classes(text: &str) -> Result<Vec<TcClass>> {
    let mut out: Vec<TcClass> = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("class") => {
                let mut c = TcClass {
                    kind: w.next().context("class kind")?.to_owned(),
                    classid: parse_handle(w.next().context("classid")?)?,
                    ..TcClass::default()
                };
                while let Some(t) = w.next() {
                    match t {
                        "root" => c.parent = ROOT,
                        "parent" => c.parent = parse_handle(w.next().context("parent")?)?,
                        "leaf" => c.leaf = Some(parse_handle(w.next().context("leaf")?)?),
                        _ => {}
                    }
                }
                out.push(c);
            }
            Some("Sent") => {
                let c = out.last_mut().context("Sent before class")?;
                // Sent B bytes P pkt (dropped D, overlimits O requeues R)
                let t: Vec<&str> = w.collect();
                c.bytes = num(t.first().copied(), "bytes")?;
                c.packets = num(t.get(2).copied(), "packets")?;
                c.drops = num(t.get(5).copied(), "dropped")?;
                c.overlimits = num(t.get(7).copied(), "overlimits")?;
                c.requeues = num(t.get(9).copied(), "requeues")?;
            }
            Some("backlog") => {
                let c = out.last_mut().context("backlog before class")?;
                c.backlog = size(w.next().context("backlog bytes")?)?;
                let p = w.next().context("backlog packets")?;
                c.qlen = num(Some(p.trim_end_matches('p')), "qlen")?;
            }
            Some("lended:") => {
                let c = out.last_mut().context("lended before class")?;
                let t: Vec<&str> = w.collect();
                let lends = num(t.first().copied(), "lended")?;
                let borrows = num(t.get(2).copied(), "borrowed")?;
                let giants = num(t.get(4).copied(), "giants")?;
                let old = c.htb.unwrap_or_default();
                c.htb = Some((lends, borrows, giants, old.3, old.4));
            }
            Some("tokens:") => {
                let c = out.last_mut().context("tokens before class")?;
                let t: Vec<&str> = w.collect();
                let tokens = num(t.first().copied(), "tokens")?;
                let ctokens = num(t.get(2).copied(), "ctokens")?;
                let old = c.htb.unwrap_or_default();
                c.htb = Some((old.0, old.1, old.2, tokens, ctokens));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parses `tc -s -j qdisc show dev X` with serde_json (LibreQoS's way).
pub fn parse_qdiscs(json: &str) -> Result<Vec<TcQdisc>> {
    let v: serde_json::Value = serde_json::from_str(json).context("tc qdisc JSON")?;
    let Some(list) = v.as_array() else {
        bail!("tc qdisc JSON is not an array");
    };
    let mut out = Vec::with_capacity(list.len());
    for q in list {
        let u = |k: &str| {
            q.get(k)
                .and_then(|x| x.as_u64())
                .with_context(|| format!("{k} in {q}"))
        };
        out.push(TcQdisc {
            kind: q["kind"].as_str().context("kind")?.to_owned(),
            handle: parse_handle(q["handle"].as_str().context("handle")?)?,
            parent: match q.get("parent").and_then(|p| p.as_str()) {
                Some(p) => parse_handle(p)?,
                None => ROOT,
            },
            bytes: u("bytes")?,
            packets: u("packets")?,
            drops: u("drops")?,
            overlimits: u("overlimits")?,
            requeues: u("requeues")?,
            backlog: u("backlog")?,
            qlen: u("qlen")?,
        });
    }
    Ok(out)
}

#[test]
fn parses_htb_class_text() {
    let text = "class htb 1:10 parent 1:1 leaf 10: prio 0 rate 1Mbit ceil 1Mbit burst 1600b cburst 1600b \n Sent 12 bytes 3 pkt (dropped 4, overlimits 5 requeues 6) \n backlog 1514b 1p requeues 6\n lended: 7 borrowed: 8 giants: 9\n tokens: -10 ctokens: 11\n\nclass htb 1:1 root rate 1Gbit\n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n";
    let c = parse_classes(text).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        c[0],
        TcClass {
            kind: "htb".into(),
            classid: 0x10010,
            parent: 0x10001,
            leaf: Some(0x100000),
            bytes: 12,
            packets: 3,
            drops: 4,
            overlimits: 5,
            requeues: 6,
            backlog: 1514,
            qlen: 1,
            htb: Some((7, 8, 9, -10, 11)),
        }
    );
    assert_eq!(c[1].parent, ROOT);
}
