//! FlowTable::ingest: deltas, rates, ageing, FIN/RST, the finished list, the caps.

mod common;

use std::time::Duration;

use common::*;
use lqos_ebpf::{FLOW_DOWN, FLOW_FIN, FLOW_RST, FLOW_UP};
use lqos_telemetry::{FlowLimits, FlowTable};

fn table() -> FlowTable {
    FlowTable::new(FlowLimits::default())
}

#[test]
fn rates_come_from_byte_deltas_over_elapsed_time() {
    let mut t = table();
    let f0 = with_dir(flow(5, 0, 100 * SEC), FLOW_DOWN, 1_000, 10, 0);
    t.ingest(100 * SEC, &[(key(1), f0)]);
    // 125,000 bytes down in 1 s = 1 Mbit/s; 12,500 up = 100 kbit/s.
    let f1 = with_dir(
        with_dir(flow(5, 0, 101 * SEC), FLOW_DOWN, 126_000, 100, 0),
        FLOW_UP,
        12_500,
        50,
        0,
    );
    t.ingest(101 * SEC, &[(key(1), f1)]);
    let v = t.get(&key(1)).unwrap();
    assert_eq!(v.rate_down_bps, 1_000_000);
    assert_eq!(v.rate_up_bps, 100_000);
    assert_eq!(v.bytes_down, 126_000);
    // 250,000 more bytes over 2 s is still 1 Mbit/s.
    let f2 = with_dir(f1, FLOW_DOWN, 376_000, 200, 0);
    t.ingest(103 * SEC, &[(key(1), f2)]);
    assert_eq!(t.get(&key(1)).unwrap().rate_down_bps, 1_000_000);
    let p = t.circuit_pass(5).unwrap();
    assert_eq!(p.bytes, [250_000, 0]);
    assert_eq!(p.packets, [100, 0]);
    assert_eq!(p.active_flows, 1);
}

#[test]
fn first_pass_is_a_baseline_and_new_flows_count_whole() {
    let mut t = table();
    let old = with_dir(flow(3, SEC, 10 * SEC), FLOW_DOWN, 5_000_000, 4_000, 7);
    t.ingest(10 * SEC, &[(key(1), old)]);
    let p = t.circuit_pass(3).unwrap();
    assert_eq!(p.bytes, [0, 0], "the table's first pass is a baseline");
    assert_eq!(p.retransmits, [0, 0]);
    assert_eq!(t.get(&key(1)).unwrap().rate_down_bps, 0);

    // A flow born after the previous pass: all of it is new traffic.
    let young = with_dir(flow(3, 10 * SEC + 200, 11 * SEC), FLOW_DOWN, 50_000, 40, 2);
    t.ingest(11 * SEC, &[(key(1), old), (key(2), young)]);
    let p = t.circuit_pass(3).unwrap();
    assert_eq!(p.bytes, [50_000, 0]);
    assert_eq!(p.tcp_packets, [40, 0]);
    assert_eq!(p.retransmits, [2, 0]);
    assert_eq!(t.get(&key(2)).unwrap().rate_down_bps, 400_000);
}

#[test]
fn counters_wrap() {
    let mut t = table();
    let f0 = with_dir(
        flow(9, 0, SEC),
        FLOW_UP,
        u64::MAX - 99,
        u32::MAX - 4,
        u32::MAX - 1,
    );
    t.ingest(SEC, &[(key(1), f0)]);
    let f1 = with_dir(flow(9, 0, 2 * SEC), FLOW_UP, 900, 15, 3);
    t.ingest(2 * SEC, &[(key(1), f1)]);
    let p = t.circuit_pass(9).unwrap();
    assert_eq!(p.bytes, [0, 1_000]);
    assert_eq!(p.packets, [0, 20]);
    assert_eq!(p.tcp_packets, [0, 20]);
    assert_eq!(p.retransmits, [0, 5]);
    assert_eq!(t.get(&key(1)).unwrap().rate_up_bps, 8_000);
}

#[test]
fn idle_flows_age_out_at_the_timeout() {
    let mut t = table();
    let f = with_dir(flow(1, 0, SEC), FLOW_DOWN, 100, 1, 0);
    t.ingest(2 * SEC, &[(key(1), f)]);
    // Idle 29.999 s: kept.
    let pass = t.ingest(31 * SEC - 1, &[(key(1), f)]);
    assert!(pass.expire.is_empty());
    assert_eq!(t.len(), 1);
    // Idle 30 s: ends.
    let pass = t.ingest(31 * SEC, &[(key(1), f)]);
    assert_eq!(pass.expire, vec![key(1)]);
    assert_eq!(t.len(), 0);
    assert_eq!(t.active_flows(1), 0);
    let fin = t.finished(Some(1), 10);
    assert_eq!(fin.len(), 1);
    assert!(fin[0].ended);
    assert_eq!(fin[0].bytes_down, 100);
}

#[test]
fn fin_and_rst_end_a_flow_after_its_last_accounting() {
    let mut t = table();
    let a = with_dir(flow(2, 0, SEC), FLOW_DOWN, 1_000, 10, 0);
    let b = with_dir(flow(2, 0, SEC), FLOW_UP, 1_000, 10, 0);
    t.ingest(SEC, &[(key(1), a), (key(2), b)]);
    let mut a2 = with_dir(a, FLOW_DOWN, 3_000, 12, 1);
    a2.end = FLOW_FIN;
    let mut b2 = with_dir(b, FLOW_UP, 1_500, 11, 0);
    b2.end = FLOW_RST;
    let pass = t.ingest(2 * SEC, &[(key(1), a2), (key(2), b2)]);
    assert_eq!(pass.expire.len(), 2);
    assert!(pass.expire.contains(&key(1)) && pass.expire.contains(&key(2)));
    // This pass's accounting still has their last bytes.
    let p = t.circuit_pass(2).unwrap();
    assert_eq!(p.bytes, [2_000, 500]);
    assert_eq!(p.retransmits, [1, 0]);
    assert_eq!(p.active_flows, 0);
    assert_eq!(t.len(), 0);
    let fin = t.finished(None, 10);
    assert_eq!(fin.len(), 2);
    assert!(fin.iter().all(|f| f.ended));
    assert_eq!(fin.iter().map(|f| f.bytes_down).sum::<u64>(), 3_000);
    assert_eq!(fin.iter().map(|f| f.bytes_up).sum::<u64>(), 1_500);
}

#[test]
fn finished_list_is_kept_for_a_while_and_bounded() {
    let limits = FlowLimits {
        max_finished: 3,
        ..FlowLimits::default()
    };
    let mut t = FlowTable::new(limits);
    let mut ended = flow(4, 0, SEC);
    ended.end = FLOW_FIN;
    let flows: Vec<_> = (1..=5).map(|n| (key(n), ended)).collect();
    t.ingest(SEC, &flows);
    assert_eq!(t.finished_len(), 3, "bounded at max_finished");
    // Newest first: the last three ended.
    let keys: Vec<String> = t.finished(None, 10).into_iter().map(|f| f.local).collect();
    assert_eq!(keys, ["10.0.0.5:40005", "10.0.0.4:40004", "10.0.0.3:40003"]);
    t.ingest(60 * SEC, &[]);
    assert_eq!(t.finished_len(), 3, "kept 60 s");
    t.ingest(61 * SEC, &[]);
    assert_eq!(t.finished_len(), 0, "gone after finished_keep");
}

#[test]
fn max_tracked_caps_the_table_and_counts_drops() {
    let limits = FlowLimits {
        max_tracked: 2,
        ..FlowLimits::default()
    };
    let mut t = FlowTable::new(limits);
    let f = flow(1, 0, SEC);
    let mut ending = flow(1, 0, SEC);
    ending.end = FLOW_RST;
    let input = [(key(1), f), (key(2), f), (key(3), f), (key(4), ending)];
    let pass = t.ingest(SEC, &input);
    assert_eq!(t.len(), 2);
    assert_eq!(pass.untracked, 2);
    assert_eq!(t.dropped(), 2);
    // An untracked flow that ends is still expired from the kernel.
    assert_eq!(pass.expire, vec![key(4)]);
    let pass = t.ingest(2 * SEC, &input[..3]);
    assert_eq!(pass.untracked, 1);
    assert_eq!(t.dropped(), 3);
    assert_eq!(t.len(), 2);
    // Memory stays bounded: the slab never grows past the cap.
    let before = t.heap_bytes();
    for s in 3..50 {
        let live = flow(1, 0, s * SEC);
        let input: Vec<_> = (1..=1000).map(|n| (key(n), live)).collect();
        let pass = t.ingest(s * SEC, &input);
        assert_eq!(pass.untracked, 998);
        assert_eq!(t.len(), 2);
    }
    assert_eq!(t.dropped(), 3 + 47 * 998);
    assert_eq!(
        t.heap_bytes(),
        before,
        "no growth with 500x the cap offered"
    );
}

#[test]
fn flows_gone_from_the_kernel_are_dropped_not_finished() {
    let mut t = table();
    let f = flow(6, 0, SEC);
    t.ingest(SEC, &[(key(1), f), (key(2), f)]);
    let pass = t.ingest(2 * SEC, &[(key(2), f)]);
    assert_eq!(pass.vanished, 1);
    assert!(pass.expire.is_empty());
    assert_eq!(t.len(), 1);
    assert!(t.get(&key(1)).is_none());
    assert_eq!(t.finished_len(), 0);
    assert_eq!(t.active_flows(6), 1);
}

#[test]
fn a_key_read_twice_in_one_pass_counts_once() {
    let mut t = table();
    t.ingest(SEC, &[(key(1), flow(2, 0, SEC))]);
    let f = with_dir(flow(2, 0, 2 * SEC), FLOW_DOWN, 1_000, 1, 0);
    t.ingest(2 * SEC, &[(key(1), f), (key(1), f)]);
    assert_eq!(t.circuit_pass(2).unwrap().bytes, [1_000, 0]);
    assert_eq!(t.circuit_pass(2).unwrap().active_flows, 1);
}

#[test]
fn changed_circuits_are_those_with_new_rtt_samples() {
    let mut t = table();
    let mut a = flow(7, 0, SEC);
    a.sample_ns = [SEC / 2, 0];
    let b = flow(3, 0, SEC);
    let mut none = flow(0, 0, SEC);
    none.sample_ns = [SEC / 2, 0];
    // First pass: baselines, nothing changed.
    let pass = t.ingest(SEC, &[(key(1), a), (key(2), b), (key(3), none)]);
    assert!(pass.changed_circuits.is_empty());
    let mut a2 = a;
    a2.sample_ns = [SEC / 2, SEC + 5];
    let mut b2 = b;
    b2.sample_ns = [SEC + 7, 0];
    let mut none2 = none;
    none2.sample_ns = [SEC + 9, 0];
    let pass = t.ingest(2 * SEC, &[(key(1), a2), (key(2), b2), (key(3), none2)]);
    assert_eq!(
        pass.changed_circuits,
        vec![3, 7],
        "sorted, circuit 0 left out"
    );
    let pass = t.ingest(3 * SEC, &[(key(1), a2), (key(2), b2), (key(3), none2)]);
    assert!(pass.changed_circuits.is_empty());
    // A new flow arriving with a sample counts as a change.
    let mut c = flow(11, 3 * SEC + 1, 4 * SEC);
    c.sample_ns = [0, 4 * SEC - 10];
    let pass = t.ingest(4 * SEC, &[(key(1), a2), (key(2), b2), (key(4), c)]);
    assert_eq!(pass.changed_circuits, vec![11]);
}

#[test]
fn only_tcp_counts_toward_retransmit_packets() {
    let mut t = table();
    let udp = key_proto(1, 17);
    t.ingest(SEC, &[(udp, flow(8, 0, SEC))]);
    let f = with_dir(flow(8, 0, 2 * SEC), FLOW_DOWN, 10_000, 10, 3);
    t.ingest(2 * SEC, &[(udp, f)]);
    let p = t.circuit_pass(8).unwrap();
    assert_eq!(p.packets, [10, 0]);
    assert_eq!(p.tcp_packets, [0, 0]);
    assert_eq!(p.retransmits, [0, 0]);
    assert_eq!(t.get(&udp).unwrap().proto, "udp");
}

#[test]
fn a_flow_whose_circuit_changes_moves_between_circuits() {
    let mut t = table();
    t.ingest(SEC, &[(key(1), flow(1, 0, SEC)), (key(2), flow(1, 0, SEC))]);
    assert_eq!(t.active_flows(1), 2);
    t.ingest(
        2 * SEC,
        &[(key(1), flow(2, 0, SEC)), (key(2), flow(1, 0, SEC))],
    );
    assert_eq!(t.active_flows(1), 1);
    assert_eq!(t.active_flows(2), 1);
    assert_eq!(t.flows_of(2)[0].local, "10.0.0.1:40001");
    assert_eq!(t.flows_of(2)[0].circuit, 2);
}

#[test]
fn top_flows_are_ordered_by_rate_and_views_pick_the_main_direction() {
    let mut t = table();
    let base: Vec<_> = (1..=4).map(|n| (key(n), flow(5, 0, SEC))).collect();
    t.ingest(SEC, &base);
    let mut next = Vec::new();
    for n in 1..=4u32 {
        let mut f = with_dir(flow(5, 0, 2 * SEC), FLOW_DOWN, u64::from(n) * 1_000, 1, 0);
        // Flow 4 is mostly upload.
        if n == 4 {
            f = with_dir(f, FLOW_UP, 100_000, 1, 0);
        }
        f.rtt_us = [12_500, 48_000];
        next.push((key(n), f));
    }
    t.ingest(2 * SEC, &next);
    let top = t.top_flows(5, 2);
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].local, "10.0.0.4:40004");
    assert_eq!(top[1].local, "10.0.0.3:40003");
    // Flow 4 sends more up: its rtt_ms is the internet RTT; flow 3's the subscriber RTT.
    assert_eq!(top[0].rtt_ms, Some(48.0));
    assert_eq!(top[1].rtt_ms, Some(12.5));
    assert_eq!(top[1].rtt_subscriber_ms, Some(12.5));
    assert_eq!(top[1].rtt_internet_ms, Some(48.0));
    assert_eq!(top[0].remote, "100.64.0.1:443");
    assert_eq!(top[0].proto, "tcp");
    assert!((top[0].age_s - 2.0).abs() < 1e-9);
    assert_eq!(t.flows_of(5).len(), 4);
    assert_eq!(t.all_flows(3).len(), 3);
    assert_eq!(t.top_flows(5, 0).len(), 0);
    assert!(t.top_flows(99, 5).is_empty());
    // No sample yet: null, not 0 ms.
    t.ingest(3 * SEC, &[(key(9), flow(5, 0, 3 * SEC))]);
    assert_eq!(t.flows_of(5)[0].rtt_ms, None);
}

#[test]
fn limits_default_to_the_documented_values() {
    let l = FlowLimits::default();
    assert_eq!(l.idle_timeout, Duration::from_secs(30));
    assert_eq!(l.finished_keep, Duration::from_secs(60));
    assert!(l.max_tracked > 0 && l.max_finished > 0);
}

#[test]
fn a_recreated_kernel_entry_is_counted_from_zero_not_as_a_wrap() {
    let mut t = table();
    let old = with_dir(
        flow(2, SEC, 5 * SEC),
        FLOW_DOWN,
        5_000_000_000,
        4_000_000,
        9,
    );
    t.ingest(5 * SEC, &[(key(1), old)]);
    // Evicted and re-created within the second: first_seen moved, counters small again.
    let new = with_dir(flow(2, 5 * SEC + 10, 6 * SEC), FLOW_DOWN, 3_000, 3, 0);
    t.ingest(6 * SEC, &[(key(1), new)]);
    let p = t.circuit_pass(2).unwrap();
    assert_eq!(p.bytes, [3_000, 0]);
    assert_eq!(p.packets, [3, 0]);
    assert_eq!(p.retransmits, [0, 0]);
    assert_eq!(t.get(&key(1)).unwrap().rate_down_bps, 24_000);
}

/// Builds 40 flows of 4 circuits with the given byte counts, read at `t_s`.
fn read_of(t_s: u64, bytes: u64) -> Vec<(lqos_ebpf::LqosFlowKey, lqos_ebpf::LqosFlow)> {
    (1..=40)
        .map(|n| {
            let f = with_dir(
                flow(n % 4 + 1, SEC, t_s * SEC),
                FLOW_DOWN,
                bytes * u64::from(n),
                10,
                0,
            );
            (key(n), f)
        })
        .collect()
}

#[test]
fn a_pass_fed_in_chunks_equals_one_ingest_and_shows_the_last_pass_until_it_finishes() {
    let mut whole = table();
    let mut chunked = table();
    whole.ingest(10 * SEC, &read_of(10, 1_000));
    chunked.ingest(10 * SEC, &read_of(10, 1_000));
    whole.ingest(11 * SEC, &read_of(11, 2_000));
    chunked.ingest(11 * SEC, &read_of(11, 2_000));
    let before = chunked.circuit_pass(1).cloned().unwrap();
    assert!(before.bytes[FLOW_DOWN] > 0);

    // A third read, the last flow ending with a FIN: whole, and in chunks of 7 (the last
    // chunk first, so the order does not matter either).
    let mut read = read_of(12, 5_000);
    read[39].1.end = FLOW_FIN;
    let a = whole.ingest(12 * SEC, &read);
    let mut pass = chunked.begin(12 * SEC);
    let chunks: Vec<_> = read.chunks(7).collect();
    chunked.feed(&mut pass, chunks[chunks.len() - 1]);
    // Between chunks, readers see the last finished pass's per-circuit figures.
    assert_eq!(chunked.circuit_pass(1), Some(&before));
    assert_eq!(chunked.len(), 40);
    for c in &chunks[..chunks.len() - 1] {
        chunked.feed(&mut pass, c);
    }
    assert_eq!(chunked.circuit_pass(1), Some(&before));
    let b = chunked.finish(pass);

    assert_eq!(a, b);
    assert_eq!(b.expire, vec![key(40)]);
    assert_eq!(chunked.len(), 39);
    assert_eq!(chunked.finished_len(), 1);
    for c in 1..=4 {
        assert_eq!(
            whole.circuit_pass(c),
            chunked.circuit_pass(c),
            "circuit {c}"
        );
        assert_ne!(chunked.circuit_pass(c), Some(&before));
    }
    for n in 1..=39 {
        assert_eq!(whole.get(&key(n)), chunked.get(&key(n)), "flow {n}");
    }
}
