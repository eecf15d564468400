//! Address allocators. Every allocator hands out strictly increasing, disjoint blocks, and the
//! pools are disjoint from each other, so no address or prefix can overlap another.

use rand::rngs::StdRng;
use rand::Rng;
use std::net::{Ipv4Addr, Ipv6Addr};

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// Subscriber /32 pools, used in order: CGNAT space (minus 100.64.0.0/24), then 10.0.0.0/8.
const HOST_POOLS: &[(u32, u32)] = &[
    (v4(100, 64, 1, 0), v4(100, 127, 255, 255)),
    (v4(10, 0, 0, 0), v4(10, 255, 255, 255)),
];

/// Business /29 blocks come from 198.18.0.0/15 (16,384 blocks).
const BLOCK_BASE: u32 = v4(198, 18, 0, 0);
const BLOCK_COUNT: u32 = 1 << 14;

/// /56 delegations: 2001:db8:0000::/33 holds 2^23 of them.
const V6_56_COUNT: u32 = 1 << 23;
/// /64 delegations: 2001:db8:8000::/33 holds 2^31 of them.
const V6_64_COUNT: u32 = 1 << 31;

/// Hands out IPv4 host addresses, /29 blocks and IPv6 prefixes.
pub(crate) struct Allocator {
    pool: usize,
    next_host: u32,
    next_block: u32,
    next_56: u32,
    next_64: u32,
}

impl Allocator {
    pub(crate) fn new() -> Self {
        Allocator {
            pool: 0,
            next_host: HOST_POOLS[0].0,
            next_block: 1,
            next_56: 256,
            next_64: 0,
        }
    }

    /// Next subscriber /32, skipping .0 and .255 and leaving occasional small gaps.
    ///
    /// # Panics
    /// When all host pools (about 20 million addresses) are used up, which cannot happen
    /// within [`crate::MAX_CIRCUITS`].
    pub(crate) fn host(&mut self, rng: &mut StdRng) -> Ipv4Addr {
        loop {
            let Some(&(_, end)) = HOST_POOLS.get(self.pool) else {
                panic!("lqos-gen: IPv4 host pools exhausted");
            };
            if self.next_host > end {
                self.pool += 1;
                if let Some(&(start, _)) = HOST_POOLS.get(self.pool) {
                    self.next_host = start;
                }
                continue;
            }
            let a = self.next_host;
            self.next_host += 1;
            if matches!(a & 0xff, 0 | 255) {
                continue;
            }
            if rng.gen_ratio(1, 40) {
                self.next_host = self.next_host.saturating_add(rng.gen_range(1..=8));
            }
            return Ipv4Addr::from(a);
        }
    }

    /// Next aligned /29 from the business range, or `None` once it is used up.
    pub(crate) fn block29(&mut self) -> Option<Ipv4Addr> {
        if self.next_block >= BLOCK_COUNT {
            return None;
        }
        let a = BLOCK_BASE + self.next_block * 8;
        self.next_block += 1;
        Some(Ipv4Addr::from(a))
    }

    /// Next /56 as `2001:db8:x:yy00::/56`, or `None` once the range is used up.
    pub(crate) fn prefix56(&mut self, rng: &mut StdRng) -> Option<String> {
        if self.next_56 >= V6_56_COUNT {
            return None;
        }
        let i = self.next_56;
        self.next_56 += 1 + self.gap(rng);
        let a = Ipv6Addr::new(
            0x2001,
            0xdb8,
            (i >> 8) as u16,
            ((i & 0xff) << 8) as u16,
            0,
            0,
            0,
            0,
        );
        Some(format!("{a}/56"))
    }

    /// Next /64 as `2001:db8:8xxx:yyyy::/64`, or `None` once the range is used up.
    pub(crate) fn prefix64(&mut self, rng: &mut StdRng) -> Option<String> {
        if self.next_64 >= V6_64_COUNT {
            return None;
        }
        let j = self.next_64;
        self.next_64 += 1 + self.gap(rng);
        let a = Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x8000 | (j >> 16) as u16,
            j as u16,
            0,
            0,
            0,
            0,
        );
        Some(format!("{a}/64"))
    }

    fn gap(&self, rng: &mut StdRng) -> u32 {
        if rng.gen_ratio(1, 50) {
            rng.gen_range(1..=4)
        } else {
            0
        }
    }
}
