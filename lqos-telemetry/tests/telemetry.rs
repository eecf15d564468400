//! Telemetry end to end: a circuit's view, the JSON shapes the CLI contract fixes, roll-ups
//! and the dashboard.

mod common;

use common::*;
use lqos_ebpf::{LqosFlow, LqosFlowKey, LqosRttHist, FLOW_DOWN, FLOW_UP, RTT_INTERNET};
use lqos_ebpf::{RTT_BUCKETS, RTT_SUBSCRIBER};
use lqos_telemetry::qoo::Qoo;
use lqos_telemetry::view::{CircuitTelemetry, FlowView};
use lqos_telemetry::{FlowLimits, Telemetry, Window};
use serde_json::Value;

/// A TCP flow of `circuit` with cumulative `down`/`up` bytes, packets = bytes / 1000,
/// `retx_down` retransmits, and a new RTT sample at `now`.
fn tcp(circuit: u32, now: u64, down: u64, up: u64, retx_down: u32) -> LqosFlow {
    let mut f = with_dir(
        flow(circuit, 0, now),
        FLOW_DOWN,
        down,
        (down / 1000) as u32,
        retx_down,
    );
    f = with_dir(f, FLOW_UP, up, (up / 1000) as u32, 0);
    f.sample_ns = [now, now];
    f.rtt_us = [8_000, 31_000];
    f
}

/// Runs `secs` one-second passes of one circuit (index 3) with two flows at 1 MB/s down,
/// 1% download retransmits, subscriber RTT 8 ms and internet RTT 31 ms (5 samples each).
fn busy(secs: u64) -> (Telemetry, LqosRttHist) {
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    let mut hist = LqosRttHist::default();
    for s in 0..=secs {
        let now = 100 + s;
        let b = s * 1_000_000;
        let flows: Vec<(LqosFlowKey, LqosFlow)> = vec![
            (key(1), tcp(3, now * SEC, b, b / 20, (s * 10) as u32)),
            (key(2), tcp(3, now * SEC, b / 2, b / 40, (s * 5) as u32)),
        ];
        let pass = t.ingest_flows(now * SEC, &flows);
        if s > 0 {
            assert_eq!(pass.changed_circuits, vec![3]);
        }
        for c in pass.changed_circuits {
            add_samples(&mut hist, RTT_SUBSCRIBER, 8_000, 5);
            add_samples(&mut hist, RTT_INTERNET, 31_000, 5);
            t.ingest_rtt(now, c, &hist);
        }
    }
    (t, hist)
}

#[test]
fn a_busy_circuit_has_rtt_retransmits_flows_and_qoo() {
    let (t, _) = busy(12);
    let v = t.circuit_view(3, 10);
    assert_eq!(v.flows, 2);
    assert_eq!(
        v.rtt.subscriber.samples, 50,
        "10 one-second slots of 5 samples"
    );
    assert!((v.rtt.subscriber.p50_ms.unwrap() - 8.0).abs() < 1e-6);
    assert!((v.rtt.internet.p90_ms.unwrap() - 31.0).abs() < 1e-6);
    // Baseline at s=1 (the circuit's first reading), samples at s = 2..=12.
    assert_eq!(v.rtt.internet.samples_5m, 55);
    // 15 retransmits per 1,500 down packets each second = 1 %.
    assert!(
        (v.retransmits.down - 1.0).abs() < 1e-9,
        "{}",
        v.retransmits.down
    );
    assert_eq!(v.retransmits.down_packets, 15_000);
    assert!(v.retransmits.significant_down);
    assert!(!v.retransmits.significant_up);
    assert_eq!(v.retransmits.up, 0.0);
    assert!((v.retransmits.down_5m - 1.0).abs() < 1e-9);
    // Latency is good on both sides; 1 % download retransmits reach web_browsing's bad
    // loss threshold, which with the proxy's 0.05 confidence takes 5 points off.
    assert_eq!(v.qoo.subscriber, Some(95));
    assert_eq!(v.qoo.internet, Some(100));
    assert_eq!(v.qoo.score, Some(95));
    assert_eq!(v.top_flows.len(), 2);
    assert_eq!(v.top_flows[0].rate_down_bps, 8_000_000);
    assert_eq!(v.top_flows[0].rtt_ms, Some(8.0));
    // An unknown circuit is all empty, not an error.
    let none = t.circuit_view(77, 10);
    assert_eq!(none.flows, 0);
    assert_eq!(none.rtt.internet.p50_ms, None);
    assert_eq!(none.qoo.score, None);
}

#[test]
fn circuit_json_has_the_cli_contract_members() {
    let (t, _) = busy(3);
    let v = t.circuit_view(3, 10);
    let j: Value = serde_json::to_value(&v).unwrap();
    assert!(j["rtt"]["internet"]["p50_ms"].is_f64());
    assert!(j["rtt"]["internet"]["p90_ms"].is_f64());
    assert!(j["rtt"]["subscriber"]["samples"].is_u64());
    assert!(j["retransmits"]["down"].is_f64());
    assert!(j["retransmits"]["up"].is_f64());
    assert!(j["flows"].is_u64());
    for dir in ["down", "up"] {
        for m in ["drops", "backlog_bytes", "sent_bytes"] {
            assert!(j["queue"][dir][m].is_u64(), "queue.{dir}.{m}");
        }
        // Options are present as null, never skipped.
        assert!(j["queue"][dir]
            .as_object()
            .unwrap()
            .contains_key("ecn_marks"));
        assert!(j["queue"][dir]["ecn_marks"].is_null());
    }
    let flow = &j["top_flows"][0];
    assert_eq!(flow["remote"], "100.64.0.1:443");
    assert_eq!(flow["proto"], "tcp");
    assert!(flow["bytes_down"].is_u64());
    assert!(flow["bytes_up"].is_u64());
    assert!(flow["rtt_ms"].is_f64());
    assert!(flow["retransmits"].is_u64());
    // No samples: null, not absent and not 0.
    let empty = serde_json::to_value(CircuitTelemetry::default()).unwrap();
    let sub = empty["rtt"]["subscriber"].as_object().unwrap();
    assert!(sub.contains_key("p50_ms") && sub["p50_ms"].is_null());
    assert_eq!(sub["samples"], 0);
    let flow = serde_json::to_value(FlowView::default()).unwrap();
    assert!(flow.as_object().unwrap()["rtt_ms"].is_null());
}

#[test]
fn views_round_trip_through_json_and_postcard() {
    let (t, _) = busy(3);
    let v = t.circuit_view(3, 10);
    let back: CircuitTelemetry = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(back, v);
    let bytes = postcard::to_allocvec(&v).unwrap();
    let back: CircuitTelemetry = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, v);
    let d = t.dashboard(5);
    let back = postcard::from_bytes(&postcard::to_allocvec(&d).unwrap()).unwrap();
    assert_eq!(d, back);
}

#[test]
fn a_near_idle_circuit_is_not_significant_nor_among_the_worst() {
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    t.ingest_flows(SEC, &[(key(1), flow(8, 0, SEC))]);
    // 1 retransmit of 3 packets: 33 %, but below the gate.
    let f = with_dir(flow(8, 0, 2 * SEC), FLOW_DOWN, 3_000, 3, 1);
    t.ingest_flows(2 * SEC, &[(key(1), f)]);
    let v = t.circuit_view(8, 0);
    assert!((v.retransmits.down - 100.0 / 3.0).abs() < 1e-9);
    assert!(!v.retransmits.significant_down);
    assert!(t.worst_retransmits(10).is_empty());
    assert!(t.dashboard(10).worst_retransmits.is_empty());
}

#[test]
fn rollups_merge_the_windows_of_their_circuits() {
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    let mut h1 = LqosRttHist::default();
    let mut h2 = LqosRttHist::default();
    t.ingest_flows(
        10 * SEC,
        &[
            (key(1), flow(1, 0, 10 * SEC)),
            (key(2), flow(2, 0, 10 * SEC)),
        ],
    );
    t.ingest_rtt(10, 1, &h1);
    t.ingest_rtt(10, 2, &h2);
    let f1 = with_dir(flow(1, 0, 11 * SEC), FLOW_DOWN, 200_000, 200, 2);
    let f2 = with_dir(flow(2, 0, 11 * SEC), FLOW_DOWN, 100_000, 100, 6);
    t.ingest_flows(11 * SEC, &[(key(1), f1), (key(2), f2)]);
    // 6 samples at 10 ms on circuit 1, 4 at 90 ms on circuit 2: merged p50 = 10, p90 = 90.
    add_samples(&mut h1, RTT_INTERNET, 10_000, 6);
    add_samples(&mut h2, RTT_INTERNET, 90_000, 4);
    t.ingest_rtt(11, 1, &h1);
    t.ingest_rtt(11, 2, &h2);
    let r = t.rollup(&[1, 2, 99]);
    assert_eq!(r.circuits, 3);
    assert_eq!(r.flows, 2);
    assert_eq!(r.rtt.internet.samples, 10);
    assert!((r.rtt.internet.p50_ms.unwrap() - 10.0).abs() < 1e-6);
    assert!((r.rtt.internet.p90_ms.unwrap() - 90.0).abs() < 1e-6);
    assert_eq!(r.retransmits.down_packets, 300);
    assert!((r.retransmits.down - 8.0 / 3.0).abs() < 1e-9);
    assert!(r.retransmits.significant_down);
    let one = t.rollup(&[2]);
    assert_eq!(one.rtt.internet.samples, 4);
    // 100 packets and 6 retransmits pass the gate on their own.
    assert!(one.retransmits.significant_down);
    assert!((one.retransmits.down - 6.0).abs() < 1e-9);
    // 200 packets and 2 retransmits too; 1 would not.
    assert!(t.circuit_view(1, 0).retransmits.significant_down);
}

#[test]
fn dashboard_lists_the_worst_circuits_and_the_histogram() {
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    let mut hists = vec![LqosRttHist::default(); 4];
    t.ingest_flows(20 * SEC, &[]);
    for (c, h) in hists.iter().enumerate().skip(1) {
        t.ingest_rtt(20, c as u32, h);
    }
    // Circuit 1: 30 ms; 2: 120 ms; 3: 500 ms but only 3 samples (below the minimum).
    add_samples(&mut hists[1], RTT_INTERNET, 30_000, 10);
    add_samples(&mut hists[2], RTT_INTERNET, 120_000, 10);
    add_samples(&mut hists[3], RTT_INTERNET, 500_000, 3);
    add_samples(&mut hists[2], RTT_SUBSCRIBER, 2_000, 10);
    t.ingest_flows(21 * SEC, &[]);
    for (c, h) in hists.iter().enumerate().skip(1) {
        t.ingest_rtt(21, c as u32, h);
    }
    let worst = t.worst_rtt(RTT_INTERNET, Window::TenSeconds, 5);
    let order: Vec<u32> = worst.iter().map(|w| w.circuit).collect();
    assert_eq!(order, [2, 1]);
    assert!((worst[0].p90_ms - 120.0).abs() < 1e-6);
    let d = t.dashboard(1);
    assert_eq!(d.worst_internet_rtt.len(), 1);
    assert_eq!(d.worst_subscriber_rtt[0].circuit, 2);
    assert_eq!(d.rtt_histogram.edges_ms.len(), RTT_BUCKETS - 1);
    assert_eq!(d.rtt_histogram.internet.len(), RTT_BUCKETS);
    assert_eq!(d.rtt_histogram.internet.iter().sum::<u64>(), 23);
    assert_eq!(d.rtt_histogram.edges_ms[0], 1.0);
    // Ten seconds later the 10-s lists and histogram are empty; the 5-min list is not.
    t.ingest_flows(31 * SEC, &[]);
    assert!(t.worst_rtt(RTT_INTERNET, Window::TenSeconds, 5).is_empty());
    assert_eq!(t.worst_rtt(RTT_INTERNET, Window::FiveMinutes, 5).len(), 2);
    assert_eq!(t.dashboard(5).rtt_histogram.internet.iter().sum::<u64>(), 0);
}

#[test]
fn forget_clears_rtt_and_retransmits() {
    let (mut t, mut hist) = busy(3);
    t.forget(3);
    let v = t.circuit_view(3, 0);
    assert_eq!(v.rtt.internet.samples_5m, 0);
    assert_eq!(v.retransmits.down_packets, 0);
    add_samples(&mut hist, RTT_INTERNET, 31_000, 5);
    t.ingest_rtt(104, 3, &hist);
    assert_eq!(
        t.circuit_view(3, 0).rtt.internet.samples,
        0,
        "a new baseline"
    );
}

#[test]
fn a_pass_settled_a_few_circuits_at_a_time_equals_one_ingest() {
    let new = || Telemetry::new(FlowLimits::default(), Qoo::default());
    let (mut whole, mut stepped) = (new(), new());
    let read = |s: u64| -> Vec<(LqosFlowKey, LqosFlow)> {
        (1..=6u32)
            .map(|c| {
                (
                    key(c),
                    tcp(
                        c,
                        s * SEC,
                        s * 400_000,
                        s * 20_000,
                        (s * u64::from(c)) as u32,
                    ),
                )
            })
            .collect()
    };
    let mut calls = 0;
    for s in 10..14 {
        whole.ingest_flows(s * SEC, &read(s));
        let mut pass = stepped.begin_flows(s * SEC);
        for chunk in read(s).chunks(4) {
            stepped.feed_flows(&mut pass, chunk);
        }
        stepped.finish_flows(pass);
        // Before settling, the retransmit windows have not taken this pass yet.
        if s == 13 {
            assert_ne!(
                format!("{:?}", whole.circuit_view(6, 0).retransmits),
                format!("{:?}", stepped.circuit_view(6, 0).retransmits)
            );
        }
        while !stepped.settle(2) {
            calls += 1;
        }
    }
    assert_eq!(calls, 4 * 3, "six circuits, two per call, each pass");
    for c in 1..=6 {
        let (a, b) = (whole.circuit_view(c, 0), stepped.circuit_view(c, 0));
        assert_eq!(
            format!("{:?}", a.retransmits),
            format!("{:?}", b.retransmits),
            "circuit {c}"
        );
        assert!(b.retransmits.down > 0.0, "circuit {c}: {:?}", b.retransmits);
    }
}
