//! Privileged: flow tracking, TCP RTT and retransmits of `lqos_xdp`, with crafted frames
//! through BPF_PROG_TEST_RUN. Needs root and PANICS otherwise. The namespace provides the two
//! ifindexes: `lqa` faces the Internet (arriving = download), `lo` the subscribers.

mod support;

use std::{
    net::{IpAddr, Ipv4Addr},
    thread::sleep,
    time::Duration,
};

use aya::{
    maps::{HashMap, PerCpuArray},
    Ebpf,
};
use lqos_ebpf::*;
use support::{dataplane::*, packets::*, TestNet};

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
/// `lo` is ifindex 1 in every network namespace.
const LO: u32 = 1;

struct Bed {
    _net: TestNet,
    ebpf: Ebpf,
    /// Arriving here: download (towards the subscriber).
    inet: u32,
    /// Arriving here: upload.
    subs: u32,
}

fn bed_with(sizes: MapSizes, mode: u32) -> Bed {
    let net = TestNet::new();
    let inet = ifindex(net.dev);
    let config = LqosDpConfig {
        mode,
        ifindex_to_internet: inet,
        ifindex_to_network: LO,
        ..LqosDpConfig::default()
    };
    let mut ebpf = load_ready_with(config, sizes);
    insert(&mut ebpf, "100.64.0.0/24", circuit_info(0, 5));
    insert(&mut ebpf, "2001:db8:5::/64", circuit_info(0, 6));
    insert(&mut ebpf, "100.64.9.0/24", circuit_info(0, 0));
    Bed {
        _net: net,
        ebpf,
        inet,
        subs: LO,
    }
}

fn bed() -> Bed {
    let mut sizes = MapSizes::for_this_machine().expect("sizes");
    sizes.circuits = 64;
    bed_with(sizes, MODE_SHAPE)
}

fn circuit_info(cpu: u32, circuit: u32) -> LqosIpInfo {
    LqosIpInfo {
        circuit,
        ..info(cpu, 7)
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn key(local: IpAddr, local_port: u16, remote: IpAddr, remote_port: u16, proto: u8) -> LqosFlowKey {
    LqosFlowKey {
        remote: LqosHostKey::from_addr(remote).addr,
        local: LqosHostKey::from_addr(local).addr,
        remote_port: remote_port.to_be(),
        local_port: local_port.to_be(),
        proto,
        pad: [0; 3],
    }
}

fn flows(ebpf: &Ebpf) -> Vec<(LqosFlowKey, LqosFlow)> {
    let map: HashMap<_, LqosFlowKey, LqosFlow> =
        HashMap::try_from(ebpf.map(MAP_FLOWS).expect("flows")).expect("hash");
    map.iter().map(|r| r.expect("flow entry")).collect()
}

fn flow(ebpf: &Ebpf, k: &LqosFlowKey) -> LqosFlow {
    let map: HashMap<_, LqosFlowKey, LqosFlow> =
        HashMap::try_from(ebpf.map(MAP_FLOWS).expect("flows")).expect("hash");
    map.get(k, 0)
        .unwrap_or_else(|e| panic!("no flow {k:?}: {e}; flows: {:?}", flows(ebpf)))
}

fn stat(ebpf: &Ebpf, slot: u32) -> u64 {
    let map: PerCpuArray<_, u64> =
        PerCpuArray::try_from(ebpf.map(MAP_FLOW_STATS).expect("stats")).expect("percpu");
    map.get(&slot, 0).expect("stat").iter().sum()
}

fn hist(ebpf: &Ebpf, circuit: u32) -> LqosRttHist {
    let map: PerCpuArray<_, LqosRttHist> =
        PerCpuArray::try_from(ebpf.map(MAP_RTT).expect("rtt")).expect("percpu");
    let mut total = LqosRttHist::default();
    for h in map.get(&circuit, 0).expect("rtt index").iter() {
        for side in 0..2 {
            for b in 0..RTT_BUCKETS {
                total.side[side].count[b] += h.side[side].count[b];
                total.side[side].sum_us[b] += h.side[side].sum_us[b];
            }
        }
    }
    total
}

fn bucket_of(us: u32) -> usize {
    RTT_EDGES_US.iter().filter(|&&e| us > e).count()
}

fn samples(h: &LqosRttHist, side: usize) -> u32 {
    h.side[side].count.iter().sum()
}

/// The histogram side holds exactly one sample, `us`, in the right bucket.
fn assert_one_sample(h: &LqosRttHist, side: usize, us: u32) {
    let b = bucket_of(us);
    assert_eq!(samples(h, side), 1, "side {side}: {h:?}");
    assert_eq!(
        h.side[side].count[b], 1,
        "side {side}: bucket {b} for {us} us"
    );
    assert_eq!(h.side[side].sum_us[b], us, "side {side}: sum");
}

fn send(b: &mut Bed, down: bool, src: IpAddr, dst: IpAddr, t: &Tcp) {
    let ifindex = if down { b.inet } else { b.subs };
    let verdict = run_xdp(&mut b.ebpf, ifindex, &tcp(src, dst, t));
    assert_eq!(verdict, XDP_REDIRECT, "mapped TCP is steered");
}

/// Data down with TSval X, the subscriber's ACK up echoing it ~25 ms later: a subscriber
/// sample. Then data up, the remote ACK down: an internet sample. Then the 100 ms limit, pure
/// ACKs, orientation and both directions in one entry.
fn rtt_both_sides(sub: IpAddr, remote: IpAddr, circuit: u32) {
    let mut b = bed();
    let (sp, rp) = (40000, 443);
    let down = |seq, tsval, tsecr, payload| Tcp {
        seq,
        tsval,
        tsecr,
        payload,
        flags: ACK | PSH,
        ..Tcp::new(rp, sp)
    };
    let up = |seq, tsval, tsecr, payload| Tcp {
        seq,
        tsval,
        tsecr,
        payload,
        flags: ACK,
        ..Tcp::new(sp, rp)
    };
    let k = key(sub, sp, remote, rp, 6);

    send(&mut b, true, remote, sub, &down(1000, 5000, 7000, 100));
    let f = flow(&b.ebpf, &k);
    assert_eq!(f.dir[FLOW_DOWN].packets, 1);
    assert_eq!(f.circuit, circuit);
    assert_eq!(
        f.dir[FLOW_DOWN].pending_tsval, 5000,
        "data records its TSval"
    );
    sleep(Duration::from_millis(25));
    // The subscriber's pure ACK: echoes 5000, and its own TSval is not recorded.
    send(&mut b, false, sub, remote, &up(9000, 8000, 5000, 0));
    let f = flow(&b.ebpf, &k);
    let us = f.rtt_us[FLOW_DOWN];
    assert!((20_000..1_000_000).contains(&us), "subscriber RTT {us} us");
    assert!(f.sample_ns[FLOW_DOWN] > 0);
    assert_eq!(f.dir[FLOW_DOWN].pending_tsval, 0, "matched: cleared");
    assert_eq!(
        f.dir[FLOW_UP].pending_tsval, 0,
        "a pure ACK records no TSval"
    );
    assert_eq!(f.dir[FLOW_UP].tsval, 8000);
    assert_eq!(f.rtt_us[FLOW_UP], 0);
    let h = hist(&b.ebpf, circuit);
    assert_one_sample(&h, RTT_SUBSCRIBER, us);
    assert_eq!(samples(&h, RTT_INTERNET), 0);

    // Internet side: data up (TSval 8001), the remote's ACK down echoing it.
    send(&mut b, false, sub, remote, &up(9000, 8001, 5000, 200));
    sleep(Duration::from_millis(25));
    send(&mut b, true, remote, sub, &down(1100, 5001, 8001, 0));
    let f = flow(&b.ebpf, &k);
    let us_inet = f.rtt_us[FLOW_UP];
    assert!(
        (20_000..1_000_000).contains(&us_inet),
        "internet RTT {us_inet}"
    );
    let h = hist(&b.ebpf, circuit);
    assert_one_sample(&h, RTT_INTERNET, us_inet);
    assert_one_sample(&h, RTT_SUBSCRIBER, us);

    // Within 100 ms of the subscriber sample: new data down records nothing, no sample.
    send(&mut b, true, remote, sub, &down(1100, 5002, 8001, 100));
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_DOWN].pending_tsval, 0);
    send(&mut b, false, sub, remote, &up(9200, 8002, 5002, 0));
    assert_eq!(samples(&hist(&b.ebpf, circuit), RTT_SUBSCRIBER), 1);
    // After 100 ms it does again.
    sleep(Duration::from_millis(110));
    send(&mut b, true, remote, sub, &down(1200, 5003, 8002, 100));
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_DOWN].pending_tsval, 5003);
    send(&mut b, false, sub, remote, &up(9200, 8003, 5003, 0));
    assert_eq!(samples(&hist(&b.ebpf, circuit), RTT_SUBSCRIBER), 2);

    let all = flows(&b.ebpf);
    assert_eq!(all.len(), 1, "one entry for both directions: {all:?}");
    let f = all[0].1;
    assert_eq!(f.dir[FLOW_DOWN].packets, 4);
    assert_eq!(f.dir[FLOW_UP].packets, 4);
    let ip_hdr = if sub.is_ipv4() { 20 } else { 40 };
    let seg = |payload: u64| ip_hdr + 32 + payload;
    assert_eq!(f.dir[FLOW_DOWN].bytes, 3 * seg(100) + seg(0));
    assert_eq!(f.dir[FLOW_UP].bytes, 3 * seg(0) + seg(200));
    assert!(f.last_seen_ns >= f.first_seen_ns && f.first_seen_ns > 0);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERTS), 1);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_SAMPLES), 3);
    assert_eq!(f.dir[FLOW_DOWN].retransmits + f.dir[FLOW_UP].retransmits, 0);
}

#[test]
fn ipv4_rtt_both_sides_and_orientation() {
    rtt_both_sides(ip("100.64.0.7"), ip("192.0.2.200"), 5);
}

#[test]
fn ipv6_rtt_both_sides_and_orientation() {
    rtt_both_sides(ip("2001:db8:5::7"), ip("2001:db8:ffff::1"), 6);
}

/// An ACK without the ACK flag, or with TSecr 0, does not match; the options walk (SYN
/// layout) finds the timestamp; the handshake's SYN records its TSval.
#[test]
fn matching_needs_the_ack_flag_and_a_tsecr() {
    let mut b = bed();
    let (sub, remote) = (ip("100.64.0.8"), ip("192.0.2.201"));
    let k = key(sub, 40001, remote, 80, 6);
    // The subscriber's SYN (walked options) records TSval 100 going up.
    let syn = Tcp {
        flags: SYN,
        tsval: 100,
        opts: Opts::SynLayout,
        ..Tcp::new(40001, 80)
    };
    send(&mut b, false, sub, remote, &syn);
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_UP].pending_tsval, 100);
    // Down, no ACK flag, echoing 100: no match.
    let no_ack = Tcp {
        flags: PSH,
        tsval: 500,
        tsecr: 100,
        payload: 10,
        opts: Opts::SynLayout,
        ..Tcp::new(80, 40001)
    };
    send(&mut b, true, remote, sub, &no_ack);
    // Down, ACK but TSecr 0: no match.
    let zero = Tcp {
        flags: ACK,
        tsval: 501,
        tsecr: 0,
        ..Tcp::new(80, 40001)
    };
    send(&mut b, true, remote, sub, &zero);
    let f = flow(&b.ebpf, &k);
    assert_eq!(f.dir[FLOW_UP].pending_tsval, 100, "still waiting");
    assert_eq!(f.rtt_us[FLOW_UP], 0);
    assert_eq!(samples(&hist(&b.ebpf, 5), RTT_INTERNET), 0);
    // The SYN-ACK echoing 100 matches (walked options again).
    let synack = Tcp {
        flags: SYN | ACK,
        tsval: 502,
        tsecr: 100,
        opts: Opts::SynLayout,
        ..Tcp::new(80, 40001)
    };
    send(&mut b, true, remote, sub, &synack);
    let f = flow(&b.ebpf, &k);
    assert_eq!(f.dir[FLOW_UP].pending_tsval, 0);
    assert!(f.rtt_us[FLOW_UP] < 1_000_000);
    assert_eq!(samples(&hist(&b.ebpf, 5), RTT_INTERNET), 1);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_SAMPLES), 1);
    // A TSecr past the pending TSval (it was missed) clears it without a sample.
    sleep(Duration::from_millis(110));
    let data = Tcp {
        flags: ACK | PSH,
        seq: 2000,
        tsval: 101,
        tsecr: 502,
        payload: 50,
        ..Tcp::new(40001, 80)
    };
    send(&mut b, false, sub, remote, &data);
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_UP].pending_tsval, 101);
    let past = Tcp {
        tsval: 503,
        tsecr: 102,
        ..Tcp::new(80, 40001)
    };
    send(&mut b, true, remote, sub, &past);
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_UP].pending_tsval, 0);
    assert_eq!(samples(&hist(&b.ebpf, 5), RTT_INTERNET), 1);
}

/// A segment repeated with a lower sequence number counts one retransmit in its direction;
/// pure ACKs never; FIN and RST set `end`.
#[test]
fn retransmits_fin_and_rst() {
    let mut b = bed();
    let (sub, remote) = (ip("100.64.0.9"), ip("192.0.2.202"));
    let k = key(sub, 40002, remote, 443, 6);
    for seq in [1000, 1100, 1200, 1100] {
        let t = Tcp {
            seq,
            payload: 100,
            flags: ACK,
            opts: Opts::None,
            ..Tcp::new(443, 40002)
        };
        send(&mut b, true, remote, sub, &t);
    }
    for _ in 0..3 {
        let ack = Tcp {
            seq: 7000,
            opts: Opts::None,
            ..Tcp::new(40002, 443)
        };
        send(&mut b, false, sub, remote, &ack);
    }
    let f = flow(&b.ebpf, &k);
    assert_eq!(f.dir[FLOW_DOWN].retransmits, 1);
    assert_eq!(f.dir[FLOW_UP].retransmits, 0);
    assert_eq!(f.dir[FLOW_DOWN].highest_seq, 1300);
    assert_eq!(f.end, 0);
    let fin = Tcp {
        seq: 7000,
        flags: FIN | ACK,
        ..Tcp::new(40002, 443)
    };
    send(&mut b, false, sub, remote, &fin);
    assert_eq!(flow(&b.ebpf, &k).end, FLOW_FIN);
    assert_eq!(flow(&b.ebpf, &k).dir[FLOW_UP].retransmits, 0);

    let k2 = key(sub, 40003, remote, 443, 6);
    let rst = Tcp {
        flags: RST,
        ..Tcp::new(443, 40003)
    };
    send(&mut b, true, remote, sub, &rst);
    assert_eq!(flow(&b.ebpf, &k2).end, FLOW_RST);
}

/// UDP flows carry ports, ICMP none; both directions share the entry.
#[test]
fn udp_and_icmp_flows() {
    let mut b = bed();
    let (sub, remote) = (ip("2001:db8:5::20"), ip("2001:db8:ffff::2"));
    let down = udp(remote, sub, 53, 5353, 40);
    let up = udp(sub, remote, 5353, 53, 10);
    assert_eq!(run_xdp(&mut b.ebpf, b.inet, &down), XDP_REDIRECT);
    assert_eq!(run_xdp(&mut b.ebpf, b.subs, &up), XDP_REDIRECT);
    let f = flow(&b.ebpf, &key(sub, 5353, remote, 53, 17));
    assert_eq!((f.dir[FLOW_DOWN].packets, f.dir[FLOW_UP].packets), (1, 1));
    assert_eq!(f.dir[FLOW_DOWN].bytes, ip_len(&down));
    assert_eq!(f.dir[FLOW_UP].bytes, ip_len(&up));
    let ping = icmp(remote, sub);
    assert_eq!(run_xdp(&mut b.ebpf, b.inet, &ping), XDP_REDIRECT);
    let f = flow(&b.ebpf, &key(sub, 0, remote, 0, 58));
    assert_eq!(f.dir[FLOW_DOWN].packets, 1);
    assert_eq!(flows(&b.ebpf).len(), 2);
}

/// Observe mode tracks flows too (no redirect).
#[test]
fn observe_mode_tracks_flows() {
    let mut sizes = MapSizes::for_this_machine().expect("sizes");
    sizes.circuits = 64;
    let mut b = bed_with(sizes, MODE_OBSERVE);
    let (sub, remote) = (ip("100.64.0.30"), ip("192.0.2.230"));
    let frame = udp(remote, sub, 1, 2, 5);
    assert_eq!(run_xdp(&mut b.ebpf, b.inet, &frame), XDP_PASS);
    assert_eq!(
        flow(&b.ebpf, &key(sub, 2, remote, 1, 17)).dir[FLOW_DOWN].packets,
        1
    );
}

/// Unmapped addresses (a scan of many of them) never create a flow.
#[test]
fn unmapped_traffic_inserts_nothing() {
    let mut b = bed();
    let remote = ip("192.0.2.203");
    for i in 0..2000u32 {
        let dst = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)); // 10.0.x.y: not mapped
        let t = Tcp {
            flags: SYN,
            tsval: i + 1,
            ..Tcp::new(443, (i % 60000) as u16 + 1)
        };
        assert_eq!(
            run_xdp(&mut b.ebpf, b.inet, &tcp(remote, dst, &t)),
            XDP_PASS
        );
        let up = udp(dst, remote, 9, 9, 0);
        assert_eq!(run_xdp(&mut b.ebpf, b.subs, &up), XDP_PASS);
    }
    assert!(flows(&b.ebpf).is_empty(), "unmapped traffic created flows");
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERTS), 0);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERT_FAILED), 0);
    let unknown = unknown_counters(&b.ebpf, UNKNOWN_XDP);
    assert_eq!((unknown.packets_down, unknown.packets_up), (2000, 2000));
}

/// A full table refuses new flows (counted) and keeps counting the flows it has.
#[test]
fn full_table_counts_insert_failures() {
    let mut sizes = MapSizes::for_this_machine().expect("sizes");
    sizes.flows = 4;
    sizes.circuits = 64;
    let mut b = bed_with(sizes, MODE_SHAPE);
    let (sub, remote) = (ip("100.64.0.10"), ip("192.0.2.204"));
    for port in 1..=10u16 {
        let frame = udp(remote, sub, 53, port, 20);
        assert_eq!(
            run_xdp(&mut b.ebpf, b.inet, &frame),
            XDP_REDIRECT,
            "still steered"
        );
    }
    assert_eq!(flows(&b.ebpf).len(), 4);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERTS), 4);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERT_FAILED), 6);
    for _ in 0..3 {
        let frame = udp(remote, sub, 53, 1, 20);
        run_xdp(&mut b.ebpf, b.inet, &frame);
    }
    let f = flow(&b.ebpf, &key(sub, 1, remote, 53, 17));
    assert_eq!(f.dir[FLOW_DOWN].packets, 4);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_INSERT_FAILED), 6);
}

/// A circuit index of 0 (or past the histogram map) gives no histogram sample, counted.
#[test]
fn circuit_zero_counts_no_circuit() {
    let mut b = bed();
    let (sub, remote) = (ip("100.64.9.1"), ip("192.0.2.205"));
    let data = Tcp {
        flags: ACK | PSH,
        tsval: 10,
        payload: 10,
        ..Tcp::new(443, 40004)
    };
    send(&mut b, true, remote, sub, &data);
    let ack = Tcp {
        tsval: 20,
        tsecr: 10,
        ..Tcp::new(40004, 443)
    };
    send(&mut b, false, sub, remote, &ack);
    let f = flow(&b.ebpf, &key(sub, 40004, remote, 443, 6));
    assert_eq!(f.circuit, 0);
    assert!(f.rtt_us[FLOW_DOWN] < 1_000_000 && f.sample_ns[FLOW_DOWN] > 0);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_NO_CIRCUIT), 1);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_SAMPLES), 0);
    assert_eq!(samples(&hist(&b.ebpf, 0), RTT_SUBSCRIBER), 0);

    // Index 99 is past this bed's 64 histograms.
    insert(&mut b.ebpf, "100.64.10.0/24", circuit_info(0, 99));
    let sub = ip("100.64.10.1");
    send(&mut b, true, remote, sub, &data);
    send(&mut b, false, sub, remote, &ack);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_NO_CIRCUIT), 2);
    assert_eq!(stat(&b.ebpf, FLOW_STAT_RTT_SAMPLES), 0);
}

fn monotonic_ns() -> u64 {
    // SAFETY: a zeroed timespec the call fills in.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; CLOCK_MONOTONIC always exists.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// first/last seen follow CLOCK_MONOTONIC at tick resolution (the per-CPU coarse clock cache
/// is refreshed when jiffies move, so it does not stand still).
#[test]
fn flow_times_follow_the_monotonic_clock() {
    let mut b = bed();
    let (sub, remote) = (ip("100.64.0.40"), ip("192.0.2.240"));
    let frame = udp(remote, sub, 7, 8, 5);
    let k = key(sub, 8, remote, 7, 17);
    let before = monotonic_ns();
    run_xdp(&mut b.ebpf, b.inet, &frame);
    let f = flow(&b.ebpf, &k);
    let after = monotonic_ns();
    // Up to two ticks (at most 2 x 10 ms at HZ=100) behind, never ahead.
    assert!(f.first_seen_ns <= after, "{} > {after}", f.first_seen_ns);
    assert!(
        before - f.first_seen_ns.min(before) < 25_000_000,
        "first_seen lags"
    );
    assert_eq!(f.first_seen_ns, f.last_seen_ns);
    sleep(Duration::from_millis(60));
    run_xdp(&mut b.ebpf, b.inet, &frame);
    let g = flow(&b.ebpf, &k);
    let moved = g.last_seen_ns - f.first_seen_ns;
    assert!(
        (35_000_000..500_000_000).contains(&moved),
        "last_seen moved {moved} ns"
    );
    assert_eq!(g.first_seen_ns, f.first_seen_ns);
}
