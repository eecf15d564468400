//! Address cells: comma-separated addresses or CIDR prefixes, as LibreQoS writes them.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::IpAddr;

/// The address family a cell is meant to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// One entry parsed from a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPrefix {
    pub net: IpNet,
    /// The text as written, when it had host bits set (normalised to the network address).
    pub had_host_bits: Option<String>,
}

/// Parses one address or prefix of either family; a bare address is a host prefix.
pub fn parse_prefix(text: &str) -> Result<IpNet, String> {
    parse_entry(text).map(|p| p.net)
}

fn parse_entry(text: &str) -> Result<ParsedPrefix, String> {
    let t = text.trim();
    if let Ok(addr) = t.parse::<IpAddr>() {
        return Ok(ParsedPrefix {
            net: IpNet::from(addr),
            had_host_bits: None,
        });
    }
    match t.parse::<IpNet>() {
        Ok(net) => {
            let trunc = net.trunc();
            let had_host_bits = (trunc != net).then(|| t.to_string());
            Ok(ParsedPrefix { net: trunc, had_host_bits })
        }
        Err(_) => Err("expected an IP address or CIDR prefix such as 100.64.0.1, 100.64.0.8/29 or 2001:db8::/64".to_string()),
    }
}

/// Parses a cell of one family. Returns the prefixes and, separately, each bad entry with the
/// reason, so every problem in a cell is reported.
pub fn parse_cell(cell: &str, family: Family) -> (Vec<ParsedPrefix>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for entry in cell.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match parse_entry(entry) {
            Ok(p) => match (family, p.net) {
                (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_)) => ok.push(p),
                (Family::V4, IpNet::V6(_)) => bad.push((
                    entry.to_string(),
                    "expected IPv4 in the IPv4 column (IPv6 goes in the IPv6 column)".to_string(),
                )),
                (Family::V6, IpNet::V4(_)) => bad.push((
                    entry.to_string(),
                    "expected IPv6 in the IPv6 column (IPv4 goes in the IPv4 column)".to_string(),
                )),
            },
            Err(why) => bad.push((entry.to_string(), why)),
        }
    }
    (ok, bad)
}

/// A prefix as a closed range of 128-bit numbers (IPv4 kept apart by the family flag).
pub(crate) fn range(net: &IpNet) -> (bool, u128, u128) {
    match net {
        IpNet::V4(n) => (
            false,
            u32::from(n.network()) as u128,
            u32::from(n.broadcast()) as u128,
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// Builds a host prefix for a v4 or v6 address pair as LibreQoS's JSON writes them.
pub fn from_pair(addr: &str, prefix: u8) -> Result<IpNet, String> {
    let a: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| "expected an IP address".to_string())?;
    let net = match a {
        IpAddr::V4(v4) => Ipv4Net::new(v4, prefix).map(IpNet::V4),
        IpAddr::V6(v6) => Ipv6Net::new(v6, prefix).map(IpNet::V6),
    };
    net.map(|n| n.trunc())
        .map_err(|_| format!("prefix length {prefix} is too long for {a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_hold_lists_prefixes_and_report_each_bad_entry() {
        let (ok, bad) = parse_cell(
            " 100.64.0.1, 100.64.0.8/29 ,, 300.1.1.1, 2001:db8::1",
            Family::V4,
        );
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].net.to_string(), "100.64.0.1/32");
        assert_eq!(ok[1].net.to_string(), "100.64.0.8/29");
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].0, "300.1.1.1");
        assert!(bad[1].1.contains("IPv6 column"));
    }

    #[test]
    fn host_bits_are_normalised_and_remembered() {
        let (ok, _) = parse_cell("2001:db8::5/64", Family::V6);
        assert_eq!(ok[0].net.to_string(), "2001:db8::/64");
        assert_eq!(ok[0].had_host_bits.as_deref(), Some("2001:db8::5/64"));
    }

    #[test]
    fn pairs_from_json() {
        assert_eq!(
            from_pair("100.64.9.1", 32).unwrap().to_string(),
            "100.64.9.1/32"
        );
        assert!(from_pair("100.64.9.1", 33).is_err());
        assert!(from_pair("nope", 32).is_err());
    }
}
