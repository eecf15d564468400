//! HTB limits and sizing rules, shared by the planner and lqosd so both agree on every number.

/// Minor 1 of every HTB is the queue's root class.
pub const QUEUE_ROOT_MINOR: u16 = 1;
/// Minors are 16-bit; 0 names the qdisc itself.
pub const MAX_MINOR: u16 = 0xffff;

/// HTB allows 8 levels (TC_HTB_MAXDEPTH): the queue's root class, inner classes, and the leaf.
/// With a root class above and the circuit below, at most 6 levels of network nodes remain;
/// deeper nodes are folded into their ancestor at this depth (see docs/planning.md).
pub const MAX_NODE_DEPTH: usize = 6;

/// The kernel warns "quantum of class is big" above 200,000 bytes and "small" below 1,000;
/// the default rate/r2q misses that range at both ends (0.1 Mbit, 100 Gbit). One MTU-sized
/// frame at least, so a class can always send a whole packet per round.
pub fn quantum_bytes(rate_bps: u64) -> u32 {
    let bytes_per_s = rate_bps / 8;
    (bytes_per_s / 10).clamp(1_514, 200_000) as u32
}

/// Burst sized from the rate: HTB's default (about one MTU) passes only ~45% of a 1 Gbit rate
/// on veth. Two milliseconds of traffic at the rate, at least four full frames.
pub fn burst_bytes(rate_bps: u64) -> u32 {
    let two_ms = rate_bps / 8 / 500;
    two_ms.clamp(4 * 1_514, u32::MAX as u64 / 2) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantum_stays_in_the_kernels_quiet_range_from_100kbit_to_100gbit() {
        for rate in [
            100_000u64,
            1_000_000,
            10_000_000,
            1_000_000_000,
            10_000_000_000,
            100_000_000_000,
        ] {
            let q = quantum_bytes(rate);
            assert!((1_000..=200_000).contains(&q), "rate {rate}: quantum {q}");
        }
    }

    #[test]
    fn burst_grows_with_rate() {
        assert_eq!(burst_bytes(1_000_000), 6_056);
        assert_eq!(burst_bytes(1_000_000_000), 250_000);
        assert!(burst_bytes(100_000_000_000) > burst_bytes(1_000_000_000));
    }
}
