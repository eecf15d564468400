//! Longest-prefix match over the live plan's mappings, for look-ups and for attributing host
//! traffic to circuits: one hash map per prefix length in use (a plan has a handful), probed
//! from the longest length down.

use ipnet::IpNet;
use lqos_plan::IpMapping;
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct PrefixIndex {
    /// (family is v4, prefix length) -> network -> index into `mappings`, longest first.
    by_len: Vec<((bool, u8), HashMap<IpNet, usize>)>,
    mappings: Vec<IpMapping>,
    /// Every CPU some mapping steers to, ascending.
    cpus: Vec<u32>,
}

impl PrefixIndex {
    pub fn new(mappings: &[IpMapping]) -> Self {
        let mut by: HashMap<(bool, u8), HashMap<IpNet, usize>> = HashMap::new();
        for (i, m) in mappings.iter().enumerate() {
            let net = m.prefix.trunc();
            by.entry((matches!(net, IpNet::V4(_)), net.prefix_len()))
                .or_default()
                .insert(net, i);
        }
        let mut by_len: Vec<_> = by.into_iter().collect();
        by_len.sort_by_key(|((_, len), _)| std::cmp::Reverse(*len));
        let mut cpus: Vec<u32> = mappings.iter().map(|m| m.cpu).collect();
        cpus.sort_unstable();
        cpus.dedup();
        Self {
            by_len,
            mappings: mappings.to_vec(),
            cpus,
        }
    }

    /// Every CPU some mapping steers to, ascending.
    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }

    /// The prefixes of a circuit, as text.
    pub fn prefixes_of(&self, circuit_id: &str) -> Vec<String> {
        self.mappings
            .iter()
            .filter(|m| &*m.circuit_id == circuit_id)
            .map(|m| m.prefix.to_string())
            .collect()
    }

    pub fn has_circuit(&self, circuit_id: &str) -> bool {
        self.mappings.iter().any(|m| &*m.circuit_id == circuit_id)
    }

    /// The mapping with the longest prefix that holds `addr`.
    pub fn lookup(&self, addr: IpAddr) -> Option<&IpMapping> {
        let v4 = addr.is_ipv4();
        self.by_len
            .iter()
            .filter(|((f, _), _)| *f == v4)
            .find_map(|((_, len), nets)| {
                let net = IpNet::new(addr, *len).ok()?.trunc();
                nets.get(&net).map(|&i| &self.mappings[i])
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_plan::ClassId;

    fn m(prefix: &str, id: &str) -> IpMapping {
        IpMapping {
            prefix: prefix.parse().expect("prefix"),
            cpu: 0,
            download: ClassId::new(1, 2),
            upload: ClassId::new(2, 2),
            circuit_id: id.into(),
        }
    }

    #[test]
    fn the_longest_prefix_wins_in_both_families() {
        let idx = PrefixIndex::new(&[
            m("100.64.0.0/16", "wide"),
            m("100.64.1.0/29", "block"),
            m("100.64.1.5/32", "host"),
            m("2001:db8::/56", "v6"),
        ]);
        let at = |a: &str| {
            idx.lookup(a.parse().expect("addr"))
                .map(|m| m.circuit_id.to_string())
        };
        assert_eq!(at("100.64.1.5").as_deref(), Some("host"));
        assert_eq!(at("100.64.1.6").as_deref(), Some("block"));
        assert_eq!(at("100.64.9.9").as_deref(), Some("wide"));
        assert_eq!(at("100.65.0.1"), None);
        assert_eq!(at("2001:db8:0:ff::1").as_deref(), Some("v6"));
        assert_eq!(at("2001:db8:1::1"), None);
    }
}
