//! [`FlowKey`]: the kernel's flow key ([`LqosFlowKey`]) in user-space form, and the strings
//! the views show for endpoints and protocols.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use lqos_ebpf::LqosFlowKey;
use serde::{Deserialize, Serialize};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// A flow, oriented like the kernel's key: `local` is the subscriber's address (the one found
/// in the IP map), `remote` the other end. Ports are in host byte order (0 for protocols
/// without ports); IPv4-mapped addresses (`::ffff:a.b.c.d`) are turned back into IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FlowKey {
    pub remote: IpAddr,
    pub local: IpAddr,
    pub remote_port: u16,
    pub local_port: u16,
    pub proto: u8,
}

impl FlowKey {
    /// Converts the kernel's key (network-order ports, IPv4-mapped addresses).
    pub fn from_kernel(key: &LqosFlowKey) -> Self {
        FlowKey {
            remote: unmap(key.remote),
            local: unmap(key.local),
            remote_port: u16::from_be(key.remote_port),
            local_port: u16::from_be(key.local_port),
            proto: key.proto,
        }
    }

    /// The kernel's key for this flow (the inverse of [`FlowKey::from_kernel`]; padding 0).
    pub fn to_kernel(&self) -> LqosFlowKey {
        LqosFlowKey {
            remote: map(self.remote),
            local: map(self.local),
            remote_port: self.remote_port.to_be(),
            local_port: self.local_port.to_be(),
            proto: self.proto,
            pad: [0; 3],
        }
    }

    /// The remote endpoint as `ip:port` (IPv6 as `[v6]:port`).
    pub fn remote_endpoint(&self) -> String {
        SocketAddr::new(self.remote, self.remote_port).to_string()
    }

    /// The subscriber's endpoint as `ip:port` (IPv6 as `[v6]:port`).
    pub fn local_endpoint(&self) -> String {
        SocketAddr::new(self.local, self.local_port).to_string()
    }

    /// The protocol's name ([`proto_name`]).
    pub fn proto_name(&self) -> String {
        proto_name(self.proto)
    }
}

/// `tcp`, `udp`, `icmp`, `ipv6-icmp`, or the protocol number in decimal.
pub fn proto_name(proto: u8) -> String {
    match proto {
        PROTO_TCP => "tcp".to_string(),
        PROTO_UDP => "udp".to_string(),
        PROTO_ICMP => "icmp".to_string(),
        PROTO_ICMPV6 => "ipv6-icmp".to_string(),
        other => other.to_string(),
    }
}

fn unmap(addr: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

fn map(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn kernel_v4() -> LqosFlowKey {
        LqosFlowKey {
            remote: Ipv4Addr::new(100, 64, 1, 2).to_ipv6_mapped().octets(),
            local: Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped().octets(),
            remote_port: 443u16.to_be(),
            local_port: 51000u16.to_be(),
            proto: PROTO_TCP,
            pad: [0; 3],
        }
    }

    #[test]
    fn ipv4_mapped_addresses_and_network_order_ports_convert() {
        let key = FlowKey::from_kernel(&kernel_v4());
        assert_eq!(key.remote, IpAddr::V4(Ipv4Addr::new(100, 64, 1, 2)));
        assert_eq!(key.local, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(key.remote_port, 443);
        assert_eq!(key.local_port, 51000);
        assert_eq!(key.remote_endpoint(), "100.64.1.2:443");
        assert_eq!(key.local_endpoint(), "10.0.0.7:51000");
        assert_eq!(key.proto_name(), "tcp");
    }

    #[test]
    fn round_trip_v4_and_v6() {
        let k4 = kernel_v4();
        assert_eq!(FlowKey::from_kernel(&k4).to_kernel(), k4);
        let k6 = LqosFlowKey {
            remote: "fd00::1".parse::<Ipv6Addr>().unwrap().octets(),
            local: "fd00:1::2".parse::<Ipv6Addr>().unwrap().octets(),
            remote_port: 8080u16.to_be(),
            local_port: 1234u16.to_be(),
            proto: PROTO_UDP,
            pad: [0; 3],
        };
        let key = FlowKey::from_kernel(&k6);
        assert_eq!(key.remote_endpoint(), "[fd00::1]:8080");
        assert_eq!(key.proto_name(), "udp");
        assert_eq!(key.to_kernel(), k6);
        // And from the user-space side.
        let user = FlowKey {
            remote: "192.168.5.5".parse().unwrap(),
            local: "fd00::9".parse().unwrap(),
            remote_port: 0,
            local_port: 0,
            proto: PROTO_ICMP,
        };
        assert_eq!(FlowKey::from_kernel(&user.to_kernel()), user);
    }

    #[test]
    fn protocol_names() {
        assert_eq!(proto_name(1), "icmp");
        assert_eq!(proto_name(58), "ipv6-icmp");
        assert_eq!(proto_name(47), "47");
    }
}
