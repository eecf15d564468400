//! Conversions between addresses/prefixes and the map keys, and classid packing.
//!
//! One LPM trie holds both families: an IPv4 prefix `a.b.c.d/n` is stored as the
//! IPv4-mapped IPv6 prefix `::ffff:a.b.c.d/(96 + n)`. A real IPv6 address in
//! `::ffff:0:0/96` is therefore indistinguishable from the IPv4 one (such addresses do not
//! appear on the wire).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::abi::{LqosHostKey, LqosIpKey};

/// Bits in front of an IPv4 address inside its IPv4-mapped form.
const V4_MAPPED_PREFIX: u32 = 96;

/// Packs an HTB classid `major:minor` the way the kernel stores it (`skb->priority`,
/// `tc` handles): `major << 16 | minor`.
pub const fn classid(major: u16, minor: u16) -> u32 {
    (major as u32) << 16 | minor as u32
}

/// Splits a packed classid back into `(major, minor)`.
pub const fn classid_parts(classid: u32) -> (u16, u16) {
    ((classid >> 16) as u16, classid as u16)
}

/// A key read back from a map that names no valid prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("LPM key prefix length {prefixlen} is larger than 128")]
    PrefixTooLong { prefixlen: u32 },
}

fn mapped(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn unmapped(octets: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(octets);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl LqosIpKey {
    /// The trie key of a prefix; host bits are cleared so that one prefix has one key.
    pub fn from_net(net: IpNet) -> Self {
        let net = net.trunc();
        let prefixlen = match net {
            IpNet::V4(v4) => V4_MAPPED_PREFIX + u32::from(v4.prefix_len()),
            IpNet::V6(v6) => u32::from(v6.prefix_len()),
        };
        Self {
            prefixlen,
            addr: mapped(net.addr()),
        }
    }

    /// The key that looks up one address (prefix length 128), as the programs do.
    pub fn from_addr(addr: IpAddr) -> Self {
        Self {
            prefixlen: 128,
            addr: mapped(addr),
        }
    }

    /// The prefix a key stands for: IPv4 when the address is IPv4-mapped and the prefix
    /// covers at least the mapping bits, IPv6 otherwise.
    pub fn to_net(&self) -> Result<IpNet, KeyError> {
        let prefixlen = self.prefixlen;
        let too_long = KeyError::PrefixTooLong { prefixlen };
        let len = u8::try_from(prefixlen).map_err(|_| too_long)?;
        match unmapped(self.addr) {
            IpAddr::V4(v4) if prefixlen >= V4_MAPPED_PREFIX => {
                Ipv4Net::new(v4, len - V4_MAPPED_PREFIX as u8)
                    .map(IpNet::V4)
                    .map_err(|_| too_long)
            }
            _ => Ipv6Net::new(Ipv6Addr::from(self.addr), len)
                .map(IpNet::V6)
                .map_err(|_| too_long),
        }
    }
}

impl From<IpNet> for LqosIpKey {
    fn from(net: IpNet) -> Self {
        Self::from_net(net)
    }
}

impl LqosHostKey {
    pub fn from_addr(addr: IpAddr) -> Self {
        Self { addr: mapped(addr) }
    }

    /// The host address, IPv4 for IPv4-mapped keys.
    pub fn to_addr(&self) -> IpAddr {
        unmapped(self.addr)
    }
}

impl From<IpAddr> for LqosHostKey {
    fn from(addr: IpAddr) -> Self {
        Self::from_addr(addr)
    }
}

impl From<Ipv4Addr> for LqosHostKey {
    fn from(addr: Ipv4Addr) -> Self {
        Self::from_addr(IpAddr::V4(addr))
    }
}

/// aya's LPM trie API takes its own key type: `LpmTrie<_, [u8; 16], LqosIpInfo>`.
#[cfg(feature = "user")]
impl From<LqosIpKey> for aya::maps::lpm_trie::Key<[u8; 16]> {
    fn from(key: LqosIpKey) -> Self {
        aya::maps::lpm_trie::Key::new(key.prefixlen, key.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test prefix")
    }

    #[test]
    fn ipv4_is_mapped_with_96_bit_offset() {
        let key = LqosIpKey::from_net(net("192.0.2.8/29"));
        assert_eq!(key.prefixlen, 96 + 29);
        assert_eq!(&key.addr[..12], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        assert_eq!(&key.addr[12..], &[192, 0, 2, 8]);
        assert_eq!(key.to_net(), Ok(net("192.0.2.8/29")));
    }

    #[test]
    fn host_bits_are_cleared() {
        assert_eq!(
            LqosIpKey::from_net(net("192.0.2.13/29")),
            LqosIpKey::from_net(net("192.0.2.8/29"))
        );
        assert_eq!(
            LqosIpKey::from_net(net("2001:db8::1/64")).to_net(),
            Ok(net("2001:db8::/64"))
        );
    }

    #[test]
    fn ipv6_is_stored_verbatim() {
        let key = LqosIpKey::from_net(net("2001:db8:1::/48"));
        assert_eq!(key.prefixlen, 48);
        assert_eq!(
            key.addr,
            "2001:db8:1::".parse::<Ipv6Addr>().expect("addr").octets()
        );
    }

    #[test]
    fn edge_prefix_lengths_round_trip() {
        for s in [
            "0.0.0.0/0",
            "10.1.2.3/32",
            "::/0",
            "2001:db8::1/128",
            "::1/128",
        ] {
            let key = LqosIpKey::from_net(net(s));
            assert_eq!(key.to_net(), Ok(net(s)), "{s}");
        }
        assert_eq!(LqosIpKey::from_net(net("0.0.0.0/0")).prefixlen, 96);
    }

    #[test]
    fn short_mapped_prefix_reads_back_as_ipv6() {
        let key = LqosIpKey {
            prefixlen: 80,
            addr: mapped("1.2.3.4".parse().expect("addr")),
        };
        assert!(matches!(key.to_net(), Ok(IpNet::V6(_))));
    }

    #[test]
    fn oversize_prefix_is_an_error() {
        let key = LqosIpKey {
            prefixlen: 129,
            ..LqosIpKey::default()
        };
        assert_eq!(
            key.to_net(),
            Err(KeyError::PrefixTooLong { prefixlen: 129 })
        );
        let key = LqosIpKey {
            prefixlen: 1 << 20,
            ..LqosIpKey::default()
        };
        assert!(key.to_net().is_err());
    }

    #[test]
    fn lookup_key_and_host_key_agree() {
        let addr: IpAddr = "100.64.0.1".parse().expect("addr");
        let lookup = LqosIpKey::from_addr(addr);
        assert_eq!(lookup.prefixlen, 128);
        assert_eq!(lookup.addr, LqosHostKey::from_addr(addr).addr);
        assert_eq!(LqosHostKey::from_addr(addr).to_addr(), addr);
        let v6: IpAddr = "2001:db8::42".parse().expect("addr");
        assert_eq!(LqosHostKey::from(v6).to_addr(), v6);
    }

    #[test]
    fn classid_packs_major_minor() {
        assert_eq!(classid(1, 0x10), 0x0001_0010);
        assert_eq!(classid(0xffff, 0xffff), u32::MAX);
        assert_eq!(classid_parts(classid(0x7fff, 3)), (0x7fff, 3));
    }
}
