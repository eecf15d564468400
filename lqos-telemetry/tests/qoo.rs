//! QoO: the two-threshold score, profiles, the sample minimum, the loss proxy, exclusion.

mod common;

use common::*;
use lqos_ebpf::{RTT_BUCKETS, RTT_INTERNET, RTT_SUBSCRIBER};
use lqos_telemetry::qoo::{profile_by_name, score, Qoo, PROFILES};
use lqos_telemetry::{Dense, RetxTotals};

/// `n` samples of `ms` on `side`.
fn rtt(side: usize, ms: f64, n: u64) -> Dense {
    let mut d = Dense::default();
    let us = (ms * 1000.0) as u32;
    let i = side * RTT_BUCKETS + bucket_of(us);
    d.count[i] = n;
    d.sum_us[i] = u64::from(us) * n;
    d
}

fn no_retx() -> RetxTotals {
    RetxTotals::default()
}

#[test]
fn score_is_100_at_or_below_good_0_at_or_beyond_bad_linear_between() {
    assert_eq!(score(10.0, 50.0, 150.0), 100.0);
    assert_eq!(score(50.0, 50.0, 150.0), 100.0);
    assert_eq!(score(100.0, 50.0, 150.0), 50.0);
    assert_eq!(score(125.0, 50.0, 150.0), 25.0);
    assert_eq!(score(150.0, 50.0, 150.0), 0.0);
    assert_eq!(score(900.0, 50.0, 150.0), 0.0);
}

#[test]
fn web_browsing_latency_scores_from_the_p90() {
    let q = Qoo::default();
    assert_eq!(q.profile().name, "web_browsing");
    let at = |ms| q.score_of(&rtt(RTT_INTERNET, ms, 20), &no_retx()).internet;
    assert_eq!(at(30.0), Some(100));
    assert_eq!(at(50.0), Some(100));
    assert_eq!(at(75.0), Some(75));
    assert_eq!(at(100.0), Some(50));
    assert_eq!(at(150.0), Some(0));
    assert_eq!(at(400.0), Some(0));
}

#[test]
fn latency_needs_five_samples() {
    let q = Qoo::default();
    let v = q.score_of(&rtt(RTT_SUBSCRIBER, 100.0, 4), &no_retx());
    assert_eq!((v.subscriber, v.score), (None, None));
    let v = q.score_of(&rtt(RTT_SUBSCRIBER, 100.0, 5), &no_retx());
    assert_eq!((v.subscriber, v.score), (Some(50), Some(50)));
    assert_eq!(v.internet, None);
}

#[test]
fn circuit_score_is_the_lower_side_with_data() {
    let q = Qoo::default();
    let mut d = rtt(RTT_INTERNET, 100.0, 10);
    d.merge(&rtt(RTT_SUBSCRIBER, 20.0, 10));
    let v = q.score_of(&d, &no_retx());
    assert_eq!(v.internet, Some(50));
    assert_eq!(v.subscriber, Some(100));
    assert_eq!(v.score, Some(50));
    assert!(!v.excluded);
}

#[test]
fn the_retransmit_proxy_takes_at_most_5_points() {
    let q = Qoo::default();
    let d = rtt(RTT_SUBSCRIBER, 10.0, 10);
    // 50 % retransmits on download over 20k packets: strict loss score 0, confidence 0.05.
    let heavy = RetxTotals {
        tcp_packets: [20_000, 0],
        retransmits: [10_000, 0],
    };
    assert_eq!(q.score_of(&d, &heavy).subscriber, Some(95));
    // Half the packets for full confidence: 0.025 -> 2.5 points (rounded to 98, from 97.5).
    let light = RetxTotals {
        tcp_packets: [5_000, 0],
        retransmits: [2_500, 0],
    };
    assert_eq!(q.score_of(&d, &light).subscriber, Some(98));
    // Upload retransmits do not touch the subscriber side.
    let up = RetxTotals {
        tcp_packets: [0, 20_000],
        retransmits: [0, 10_000],
    };
    assert_eq!(q.score_of(&d, &up).subscriber, Some(100));
}

#[test]
fn excluded_circuits_have_no_score() {
    let q = Qoo::new("web_browsing", [7, 9]).unwrap();
    let d = rtt(RTT_INTERNET, 200.0, 50);
    let v = q.view(7, &d, &no_retx());
    assert!(v.excluded);
    assert_eq!((v.score, v.internet, v.subscriber), (None, None, None));
    assert_eq!(v.profile, "web_browsing");
    let v = q.view(8, &d, &no_retx());
    assert!(!v.excluded);
    assert_eq!(v.score, Some(0));
}

#[test]
fn profiles_by_name_and_unknown_names_list_the_known_ones() {
    let p = profile_by_name("video_conferencing").unwrap();
    assert_eq!(p.latency_percentile, 0.95);
    assert_eq!((p.loss_good_pct, p.loss_bad_pct), (0.1, 0.5));
    assert_eq!(PROFILES.len(), 6);
    let err = Qoo::new("gaming", []).unwrap_err().to_string();
    assert!(err.contains("\"gaming\""), "{err}");
    for p in &PROFILES {
        assert!(err.contains(p.name), "{err}");
    }
    // The p95 of a profile is used: 19 fast samples and 1 slow put p95 (rank 19) on fast,
    // 18 + 2 put it on slow.
    let q = Qoo::new("real_time_gaming", []).unwrap();
    let mut d = rtt(RTT_INTERNET, 20.0, 19);
    d.merge(&rtt(RTT_INTERNET, 300.0, 1));
    assert_eq!(q.score_of(&d, &no_retx()).internet, Some(100));
    let mut d = rtt(RTT_INTERNET, 20.0, 18);
    d.merge(&rtt(RTT_INTERNET, 300.0, 2));
    assert_eq!(q.score_of(&d, &no_retx()).internet, Some(0));
}
