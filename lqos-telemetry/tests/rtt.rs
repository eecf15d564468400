//! CircuitRtt: baselines, deltas, windows, percentiles, memory.

mod common;

use common::*;
use lqos_ebpf::{LqosRttHist, RTT_INTERNET, RTT_SUBSCRIBER};
use lqos_telemetry::{sum_cpus, CircuitRtt, Window};

#[test]
fn first_reading_is_a_baseline_then_deltas_fill_the_windows() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    add_samples(&mut h, RTT_INTERNET, 30_000, 1_000); // history before lqosd looked
    r.ingest_rtt(100, 4, &h);
    assert_eq!(
        r.view(4).internet.samples,
        0,
        "the first reading is only a baseline"
    );
    assert_eq!(r.view(4).internet.p50_ms, None);
    add_samples(&mut h, RTT_INTERNET, 40_300, 20);
    add_samples(&mut h, RTT_SUBSCRIBER, 5_500, 10);
    r.ingest_rtt(101, 4, &h);
    let v = r.view(4);
    assert_eq!(v.internet.samples, 20);
    assert_eq!(v.subscriber.samples, 10);
    // Inside the 40-50 ms bucket, the estimate is the samples' mean, not 50 ms.
    let p90 = v.internet.p90_ms.unwrap();
    assert!((p90 - 40.3).abs() < 0.001, "{p90}");
    assert!((v.subscriber.p50_ms.unwrap() - 5.5).abs() < 0.001);
    assert_eq!(v.internet.samples_5m, 20);
    assert!((v.internet.p50_5m_ms.unwrap() - 40.3).abs() < 0.001);
}

#[test]
fn percentiles_pick_the_bucket_of_rank_ceil_p_n() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    r.ingest_rtt(10, 1, &h);
    // 50 at 8.2 ms, 40 at 22 ms, 10 at 180 ms: p50 = rank 50 -> 8.2; p90 = rank 90 -> 22.
    add_samples(&mut h, RTT_SUBSCRIBER, 8_200, 50);
    add_samples(&mut h, RTT_SUBSCRIBER, 22_000, 40);
    add_samples(&mut h, RTT_SUBSCRIBER, 180_000, 10);
    r.ingest_rtt(11, 1, &h);
    let v = r.view(1).subscriber;
    assert!((v.p50_ms.unwrap() - 8.2).abs() < 0.001);
    assert!((v.p90_ms.unwrap() - 22.0).abs() < 0.001);
    // One more slow sample moves rank 90 of 101 (ceil 90.9 = 91) into the slow bucket.
    add_samples(&mut h, RTT_SUBSCRIBER, 180_000, 1);
    r.ingest_rtt(12, 1, &h);
    assert!((r.view(1).subscriber.p90_ms.unwrap() - 180.0).abs() < 0.001);
}

#[test]
fn samples_slide_out_after_10_s_and_5_min() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    r.ingest_rtt(1_000, 2, &h);
    add_samples(&mut h, RTT_INTERNET, 25_000, 7);
    r.ingest_rtt(1_001, 2, &h);
    r.advance(1_010);
    assert_eq!(r.view(2).internet.samples, 7, "still inside 10 s at +9 s");
    r.advance(1_011);
    assert_eq!(
        r.view(2).internet.samples,
        0,
        "out of the 10-s window at +10 s"
    );
    assert_eq!(r.view(2).internet.p50_ms, None);
    assert_eq!(r.view(2).internet.samples_5m, 7);
    // Slot 100 (1000..=1009) leaves the 5-min window when slot 130 (1300) begins.
    r.advance(1_299);
    assert_eq!(r.view(2).internet.samples_5m, 7);
    assert_eq!(r.active_circuits().count(), 1);
    let busy = r.heap_bytes();
    r.advance(1_300);
    assert_eq!(r.view(2).internet.samples_5m, 0);
    assert_eq!(r.view(2).internet.p90_5m_ms, None);
    assert_eq!(
        r.active_circuits().count(),
        0,
        "idle circuits drop their windows"
    );
    assert!(r.heap_bytes() < busy);
    // The baseline stays: the next reading yields only the new samples.
    add_samples(&mut h, RTT_INTERNET, 25_000, 3);
    r.ingest_rtt(1_301, 2, &h);
    assert_eq!(r.view(2).internet.samples, 3);
}

#[test]
fn the_global_histogram_covers_the_last_10_s_of_every_circuit() {
    let mut r = CircuitRtt::new();
    let mut a = LqosRttHist::default();
    let mut b = LqosRttHist::default();
    r.ingest_rtt(50, 1, &a);
    r.ingest_rtt(50, 2, &b);
    add_samples(&mut a, RTT_INTERNET, 3_500, 4);
    add_samples(&mut b, RTT_INTERNET, 3_700, 6);
    add_samples(&mut b, RTT_SUBSCRIBER, 700, 2);
    r.ingest_rtt(51, 1, &a);
    r.ingest_rtt(52, 2, &b);
    let g = r.histogram_10s();
    assert_eq!(g.counts(RTT_INTERNET)[bucket_of(3_500)], 10);
    assert_eq!(g.samples(RTT_SUBSCRIBER), 2);
    assert_eq!(r.totals().samples(RTT_INTERNET), 10);
    r.advance(61);
    assert_eq!(r.histogram_10s().samples(RTT_INTERNET), 6);
    r.advance(62);
    assert_eq!(r.histogram_10s().samples(RTT_INTERNET), 0);
    assert_eq!(
        r.totals().samples(RTT_INTERNET),
        10,
        "totals are cumulative"
    );
}

#[test]
fn forget_makes_the_next_reading_a_baseline() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    r.ingest_rtt(1, 3, &h);
    add_samples(&mut h, RTT_INTERNET, 10_000, 5);
    r.ingest_rtt(2, 3, &h);
    assert_eq!(r.view(3).internet.samples, 5);
    r.forget(3);
    assert_eq!(r.view(3).internet.samples, 0);
    add_samples(&mut h, RTT_INTERNET, 10_000, 5);
    r.ingest_rtt(3, 3, &h);
    assert_eq!(r.view(3).internet.samples, 0, "a new baseline after forget");
    assert_eq!(r.view(3).internet.samples_5m, 0);
}

#[test]
fn counters_that_wrap_give_the_right_delta() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    let b = bucket_of(12_000);
    h.side[RTT_SUBSCRIBER].count[b] = u32::MAX - 2;
    h.side[RTT_SUBSCRIBER].sum_us[b] = u32::MAX - 5_000;
    r.ingest_rtt(7, 9, &h);
    add_samples(&mut h, RTT_SUBSCRIBER, 12_000, 10);
    assert!(
        h.side[RTT_SUBSCRIBER].count[b] < 10,
        "the test's counter wrapped"
    );
    r.ingest_rtt(8, 9, &h);
    let v = r.view(9).subscriber;
    assert_eq!(v.samples, 10);
    assert!((v.p50_ms.unwrap() - 12.0).abs() < 0.001);
}

#[test]
fn per_cpu_histograms_are_summed_before_ingest() {
    let mut cpu0 = LqosRttHist::default();
    let mut cpu1 = LqosRttHist::default();
    add_samples(&mut cpu0, RTT_INTERNET, 60_000, 3);
    add_samples(&mut cpu1, RTT_INTERNET, 60_000, 2);
    let s = sum_cpus(&[cpu0, cpu1]);
    assert_eq!(s.side[RTT_INTERNET].count[bucket_of(60_000)], 5);
    assert_eq!(s.side[RTT_INTERNET].sum_us[bucket_of(60_000)], 300_000);
}

#[test]
fn circuit_zero_is_ignored_and_same_second_readings_merge() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    r.ingest_rtt(1, 0, &h);
    assert!(r.is_empty());
    r.ingest_rtt(1, 5, &h);
    add_samples(&mut h, RTT_INTERNET, 2_000, 1);
    r.ingest_rtt(2, 5, &h);
    add_samples(&mut h, RTT_INTERNET, 4_000, 1);
    r.ingest_rtt(2, 5, &h);
    let d = r.window(5, Window::TenSeconds);
    assert_eq!(d.samples(RTT_INTERNET), 2);
    assert_eq!(
        d.sum_us[RTT_INTERNET * lqos_ebpf::RTT_BUCKETS + bucket_of(2_000)],
        2_000
    );
    assert_eq!(r.len(), 1);
}

#[test]
fn the_series_has_one_point_per_10_s_slot_with_each_sides_own_percentiles() {
    let mut r = CircuitRtt::new();
    let mut h = LqosRttHist::default();
    r.ingest_rtt(1_000, 3, &h);
    assert!(r.series(3).is_empty(), "a baseline alone is no point");
    // Slot 100 (1000..1009): internet 20 ms, subscriber 4 ms.
    add_samples(&mut h, RTT_INTERNET, 20_000, 9);
    add_samples(&mut h, RTT_INTERNET, 80_000, 1);
    add_samples(&mut h, RTT_SUBSCRIBER, 4_000, 10);
    r.ingest_rtt(1_005, 3, &h);
    // Slot 101: nothing. Slot 102 (1020..1029): internet only, 45 ms, still filling at 1023.
    add_samples(&mut h, RTT_INTERNET, 45_000, 5);
    r.ingest_rtt(1_023, 3, &h);
    let s = r.series(3);
    assert_eq!(s.len(), 2, "the empty slot is a gap: {s:?}");
    assert_eq!((s[0].start_s, s[0].end_s), (1_000, 1_010));
    assert_eq!(
        (s[1].start_s, s[1].end_s),
        (1_020, 1_024),
        "the newest slot ends now"
    );
    // Never averaged: each side has its own figures, per slot.
    assert!((s[0].internet.p50_ms.unwrap() - 20.0).abs() < 0.001);
    assert!(
        (s[0].internet.p90_ms.unwrap() - 20.0).abs() < 0.001,
        "rank 9 of 10"
    );
    assert_eq!(s[0].internet.samples, 10);
    assert!((s[0].subscriber.p50_ms.unwrap() - 4.0).abs() < 0.001);
    assert!((s[1].internet.p50_ms.unwrap() - 45.0).abs() < 0.001);
    assert_eq!(s[1].subscriber.p50_ms, None);
    assert_eq!(s[1].subscriber.samples, 0);
    // The 5-min window's slots only: slot 100 leaves when slot 130 begins.
    r.advance(1_299);
    assert_eq!(r.series(3).len(), 2);
    r.advance(1_300);
    let s = r.series(3);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].start_s, 1_020);
    assert_eq!(s[0].end_s, 1_030, "complete once the clock moved on");
    assert!(r.series(4).is_empty(), "an unknown circuit has no series");
}
