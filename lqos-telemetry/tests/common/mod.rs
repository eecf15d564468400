//! Builders for kernel records used by the tests.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use lqos_ebpf::{LqosFlow, LqosFlowKey, LqosRttHist, RTT_BUCKETS, RTT_EDGES_US};

pub const SEC: u64 = 1_000_000_000;

/// A TCP key: subscriber 10.0.x.y:40000+n, remote 100.64.0.1:443.
pub fn key(n: u32) -> LqosFlowKey {
    key_proto(n, 6)
}

pub fn key_proto(n: u32, proto: u8) -> LqosFlowKey {
    LqosFlowKey {
        remote: Ipv4Addr::new(100, 64, 0, 1).to_ipv6_mapped().octets(),
        local: Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8)
            .to_ipv6_mapped()
            .octets(),
        remote_port: 443u16.to_be(),
        local_port: (40000 + (n % 20000) as u16).to_be(),
        proto,
        pad: [0; 3],
    }
}

/// A flow of `circuit` first seen at `first_ns`, last seen at `last_ns`.
pub fn flow(circuit: u32, first_ns: u64, last_ns: u64) -> LqosFlow {
    LqosFlow {
        first_seen_ns: first_ns,
        last_seen_ns: last_ns,
        circuit,
        ..Default::default()
    }
}

/// Sets a direction's cumulative counters.
pub fn with_dir(mut f: LqosFlow, dir: usize, bytes: u64, packets: u32, retx: u32) -> LqosFlow {
    f.dir[dir].bytes = bytes;
    f.dir[dir].packets = packets;
    f.dir[dir].retransmits = retx;
    f
}

/// The bucket holding `us`.
pub fn bucket_of(us: u32) -> usize {
    RTT_EDGES_US
        .iter()
        .position(|&e| us <= e)
        .unwrap_or(RTT_BUCKETS - 1)
}

/// Adds `n` samples of `us` to a side of a cumulative histogram (wrapping, like the kernel).
pub fn add_samples(h: &mut LqosRttHist, side: usize, us: u32, n: u32) {
    let b = bucket_of(us);
    h.side[side].count[b] = h.side[side].count[b].wrapping_add(n);
    h.side[side].sum_us[b] = h.side[side].sum_us[b].wrapping_add(us.wrapping_mul(n));
}
