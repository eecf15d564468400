//! Checks the shaped interfaces before anything is attached: they exist, are up and have the
//! tx queues an `mq` root needs. Read through `ip -j -d link` (netlink), which is right in any
//! network namespace (sysfs may show another one).

use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("cannot run `ip -j -d link show dev {interface}` (is iproute2 installed?)")]
    Spawn {
        interface: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interface {interface} does not exist (lqos.conf names it): {detail}")]
    Missing { interface: String, detail: String },
    #[error("unexpected output of `ip -j -d link show dev {interface}`: {detail}")]
    Output { interface: String, detail: String },
    #[error("interface {interface} is down (operstate {state}): bring it up with `ip link set {interface} up`")]
    Down { interface: String, state: String },
    #[error("interface {interface} has {queues} tx queue(s); lqos needs a multi-queue interface (mq) with at least {needed}")]
    TooFewQueues {
        interface: String,
        queues: u64,
        needed: u64,
    },
}

/// What lqosd needs to know of a shaped interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub name: String,
    pub ifindex: u32,
    pub tx_queues: u64,
    /// The link kind of a virtual device (`veth`, `bridge`, ...); `None` for hardware.
    pub kind: Option<String>,
    /// The XDP program attached before lqosd started: native (`true`), generic (`false`),
    /// none (`None`).
    pub xdp_native: Option<bool>,
}

/// Looks `interface` up; `min_queues` is 2 for a bridge member, 2 on a stick (one per direction).
pub fn check(interface: &str, min_queues: u64) -> Result<LinkInfo, PreflightError> {
    let out = Command::new("ip")
        .args(["-j", "-d", "link", "show", "dev", interface])
        .output()
        .map_err(|source| PreflightError::Spawn {
            interface: interface.to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(PreflightError::Missing {
            interface: interface.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    parse(interface, &out.stdout, min_queues)
}

fn parse(interface: &str, json: &[u8], min_queues: u64) -> Result<LinkInfo, PreflightError> {
    let bad = |detail: String| PreflightError::Output {
        interface: interface.to_owned(),
        detail,
    };
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let link = v.get(0).ok_or_else(|| bad("empty list".into()))?;
    let ifindex = link
        .get("ifindex")
        .and_then(|x| x.as_u64())
        .ok_or_else(|| bad("no ifindex".into()))?;
    let tx_queues = link
        .get("num_tx_queues")
        .and_then(|x| x.as_u64())
        .ok_or_else(|| bad("no num_tx_queues".into()))?;
    let up = link
        .get("flags")
        .and_then(|f| f.as_array())
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some("UP")));
    if !up {
        let state = link
            .get("operstate")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown")
            .to_owned();
        return Err(PreflightError::Down {
            interface: interface.to_owned(),
            state,
        });
    }
    if tx_queues < min_queues {
        return Err(PreflightError::TooFewQueues {
            interface: interface.to_owned(),
            queues: tx_queues,
            needed: min_queues,
        });
    }
    let kind = link
        .pointer("/linkinfo/info_kind")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    // iproute2's `xdp.mode`: XDP_ATTACHED_DRV (1), _SKB (2), _HW (3), _MULTI (4).
    let xdp_native = match link.pointer("/xdp/mode").and_then(|m| m.as_u64()) {
        Some(1) => Some(true),
        Some(2) => Some(false),
        _ => None,
    };
    Ok(LinkInfo {
        name: interface.to_owned(),
        ifindex: ifindex as u32,
        tx_queues,
        kind,
        xdp_native,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: &str = r#"[{"ifindex":7,"ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP","num_tx_queues":4}]"#;

    #[test]
    fn reads_index_and_queues() {
        assert_eq!(
            parse("eth1", UP.as_bytes(), 2).expect("ok"),
            LinkInfo {
                name: "eth1".into(),
                ifindex: 7,
                tx_queues: 4,
                kind: None,
                xdp_native: None,
            }
        );
        let veth = UP.replace(
            r#""num_tx_queues":4"#,
            r#""num_tx_queues":4,"linkinfo":{"info_kind":"veth"}"#,
        );
        let link = parse("eth1", veth.as_bytes(), 2).expect("ok");
        assert_eq!(link.kind.as_deref(), Some("veth"));
        let generic = UP.replace(
            r#""num_tx_queues":4"#,
            r#""num_tx_queues":4,"xdp":{"mode":2,"prog":{"id":9}}"#,
        );
        assert_eq!(
            parse("eth1", generic.as_bytes(), 2).expect("ok").xdp_native,
            Some(false)
        );
    }

    #[test]
    fn down_and_single_queue_interfaces_are_refused_with_the_fix() {
        let down = UP
            .replace("\"UP\",\"LOWER_UP\"", "\"NO-CARRIER\"")
            .replace("operstate\":\"UP", "operstate\":\"DOWN");
        let e = parse("eth1", down.as_bytes(), 2)
            .expect_err("down")
            .to_string();
        assert!(e.contains("ip link set eth1 up"), "{e}");
        let e = parse("eth1", UP.as_bytes(), 8)
            .expect_err("queues")
            .to_string();
        assert!(
            e.contains("4 tx queue(s)") && e.contains("at least 8"),
            "{e}"
        );
        let e = parse("eth1", b"[]", 2).expect_err("empty").to_string();
        assert!(e.contains("empty list"), "{e}");
    }
}
