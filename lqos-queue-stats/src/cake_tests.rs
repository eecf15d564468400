//! CAKE xstats built by hand the way `cake_dump_stats` in `sch_cake.c` emits them.

use super::*;
use crate::nla::build::{nest, nla, nla_u32, nla_u64};

/// One tin as the kernel emits it (same attribute order), with values derived from `seed`.
fn tin_bytes(seed: u32) -> Vec<u8> {
    let mut t = Vec::new();
    // nla_put_u64_64bit adds a PAD attribute where a u64 would be misaligned.
    nla(&mut t, TIN_PAD, &[]);
    nla_u64(&mut t, TIN_THRESHOLD_RATE64, 1_000_000 * u64::from(seed));
    nla_u64(&mut t, TIN_SENT_BYTES64, 5_000_000_000 + u64::from(seed));
    nla_u32(&mut t, TIN_BACKLOG_BYTES, 3000 + seed);
    nla_u32(&mut t, TIN_TARGET_US, 5000);
    nla_u32(&mut t, TIN_INTERVAL_US, 100_000);
    nla_u32(&mut t, TIN_SENT_PACKETS, 4000 + seed);
    nla_u32(&mut t, TIN_DROPPED_PACKETS, 10 + seed);
    nla_u32(&mut t, TIN_ECN_MARKED_PACKETS, 20 + seed);
    nla_u32(&mut t, TIN_ACKS_DROPPED_PACKETS, 30 + seed);
    nla_u32(&mut t, TIN_PEAK_DELAY_US, 900 + seed);
    nla_u32(&mut t, TIN_AVG_DELAY_US, 400 + seed);
    nla_u32(&mut t, TIN_BASE_DELAY_US, 100 + seed);
    nla_u32(&mut t, TIN_WAY_INDIRECT_HITS, 1);
    nla_u32(&mut t, TIN_WAY_MISSES, 2);
    nla_u32(&mut t, TIN_WAY_COLLISIONS, 3);
    nla_u32(&mut t, TIN_SPARSE_FLOWS, 4 + seed);
    nla_u32(&mut t, TIN_BULK_FLOWS, 5 + seed);
    nla_u32(&mut t, TIN_UNRESPONSIVE_FLOWS, 6 + seed);
    nla_u32(&mut t, TIN_MAX_SKBLEN, 1514);
    nla_u32(&mut t, TIN_FLOW_QUANTUM, 1514);
    t
}

/// A diffserv4 CAKE's xstats with `tins` tins.
fn cake_bytes(tins: u16) -> Vec<u8> {
    let mut b = Vec::new();
    nla_u64(&mut b, STATS_CAPACITY_ESTIMATE64, 12_500_000);
    nla_u32(&mut b, STATS_MEMORY_LIMIT, 4 << 20);
    nla_u32(&mut b, STATS_MEMORY_USED, 123_456);
    nla_u32(&mut b, STATS_AVG_NETOFF, 14);
    nla_u32(&mut b, STATS_MAX_NETLEN, 1500);
    nla_u32(&mut b, STATS_MAX_ADJLEN, 1538);
    nla_u32(&mut b, STATS_MIN_NETLEN, 60);
    nla_u32(&mut b, STATS_MIN_ADJLEN, 98);
    let mut list = Vec::new();
    for i in 0..tins {
        nest(&mut list, i + 1, &tin_bytes(u32::from(i)));
    }
    nest(&mut b, STATS_TIN_STATS, &list);
    b
}

#[test]
fn decodes_every_field_of_four_tins() {
    let s = decode_cake_xstats(&cake_bytes(4)).unwrap();
    assert_eq!(s.capacity_estimate, 12_500_000);
    assert_eq!(s.memory_limit, 4 << 20);
    assert_eq!(s.memory_used, 123_456);
    assert_eq!(
        (
            s.avg_netoff,
            s.min_netlen,
            s.max_netlen,
            s.min_adjlen,
            s.max_adjlen
        ),
        (14, 60, 1500, 98, 1538)
    );
    assert_eq!(s.tins.len(), 4);
    for (i, t) in s.tins.iter().enumerate() {
        let seed = i as u32;
        let expected = CakeTin {
            index: i as u16,
            threshold_rate: 1_000_000 * u64::from(seed),
            sent_bytes: 5_000_000_000 + u64::from(seed),
            sent_packets: 4000 + u64::from(seed),
            dropped_packets: 10 + u64::from(seed),
            ecn_marked_packets: 20 + u64::from(seed),
            ack_drops: 30 + u64::from(seed),
            backlog_bytes: 3000 + u64::from(seed),
            target_us: 5000,
            interval_us: 100_000,
            peak_delay_us: 900 + seed,
            avg_delay_us: 400 + seed,
            base_delay_us: 100 + seed,
            way_indirect_hits: 1,
            way_misses: 2,
            way_collisions: 3,
            sparse_flows: 4 + seed,
            bulk_flows: 5 + seed,
            unresponsive_flows: 6 + seed,
            max_skblen: 1514,
            flow_quantum: 1514,
            ..Default::default()
        };
        assert_eq!(*t, expected, "tin {i}");
    }
}

#[test]
fn nested_flag_on_the_tin_list_is_ignored() {
    let mut b = Vec::new();
    let mut list = Vec::new();
    nest(&mut list, 1 | 0x8000, &tin_bytes(7));
    nest(&mut b, STATS_TIN_STATS | 0x8000, &list);
    let s = decode_cake_xstats(&b).unwrap();
    assert_eq!(s.tins.len(), 1);
    assert_eq!(s.tins[0].index, 0);
    assert_eq!(s.tins[0].sent_packets, 4007);
}

#[test]
fn unknown_attributes_are_skipped() {
    let mut b = Vec::new();
    nla(&mut b, 200, &[1, 2, 3]);
    nla_u32(&mut b, STATS_MEMORY_USED, 77);
    let mut tin = tin_bytes(1);
    nla_u64(&mut tin, 99, 5);
    let mut list = Vec::new();
    nest(&mut list, 1, &tin);
    nest(&mut b, STATS_TIN_STATS, &list);
    nla(&mut b, 0x3fff, &[]);
    let s = decode_cake_xstats(&b).unwrap();
    assert_eq!(s.memory_used, 77);
    assert_eq!(s.tins[0].sent_packets, 4001);
}

#[test]
fn empty_input_is_all_zero_with_no_tins() {
    assert_eq!(decode_cake_xstats(&[]).unwrap(), CakeStats::default());
}

#[test]
fn truncated_top_level_attribute_names_it() {
    let mut b = cake_bytes(1);
    let mut head = Vec::new();
    nla_u64(&mut head, STATS_CAPACITY_ESTIMATE64, 1);
    // Cut inside the first attribute's payload.
    b.truncate(head.len() - 3);
    let err = decode_cake_xstats(&b).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::TruncatedAttribute {
            attribute: "TCA_CAKE_STATS_CAPACITY_ESTIMATE64",
            ..
        }
    ));
}

#[test]
fn truncated_tin_attribute_names_it() {
    // A tin whose last attribute (flow quantum, u32) is cut, inside a correctly sized nest.
    let mut tin = tin_bytes(0);
    tin.truncate(tin.len() - 2);
    let mut list = Vec::new();
    nest(&mut list, 1, &tin);
    let mut b = Vec::new();
    nest(&mut b, STATS_TIN_STATS, &list);
    let err = decode_cake_xstats(&b).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TruncatedAttribute {
            attribute: "TCA_CAKE_TIN_STATS_FLOW_QUANTUM",
            kind: TIN_FLOW_QUANTUM,
            declared: 8,
            available: 6,
        }
    );
    assert!(err.to_string().contains("TCA_CAKE_TIN_STATS_FLOW_QUANTUM"));
}

#[test]
fn known_attribute_too_short_for_its_type_names_it() {
    let mut tin = Vec::new();
    nla(&mut tin, TIN_SENT_BYTES64, &[1, 2, 3, 4]);
    let mut list = Vec::new();
    nest(&mut list, 1, &tin);
    let mut b = Vec::new();
    nest(&mut b, STATS_TIN_STATS, &list);
    let err = decode_cake_xstats(&b).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooShort {
            what: "TCA_CAKE_TIN_STATS_SENT_BYTES64",
            len: 4,
            expected: 8
        }
    );
}

#[test]
fn more_than_eight_tins_is_an_error() {
    assert_eq!(decode_cake_xstats(&cake_bytes(8)).unwrap().tins.len(), 8);
    let err = decode_cake_xstats(&cake_bytes(9)).unwrap_err();
    assert!(matches!(err, DecodeError::TooMany { max: 8, .. }));
}

#[test]
fn every_prefix_of_valid_bytes_is_an_error_or_ok_never_a_panic() {
    let b = cake_bytes(4);
    let mut errors = 0;
    for len in 0..b.len() {
        if decode_cake_xstats(&b[..len]).is_err() {
            errors += 1;
        }
    }
    // Most cuts fall inside an attribute.
    assert!(errors > b.len() / 2, "{errors} of {}", b.len());
}
