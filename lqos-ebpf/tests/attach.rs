//! Privileged: loads the data plane with aya inside throwaway network namespaces, attaches
//! it to a veth, fills the maps and pushes real UDP traffic through it. Needs root and
//! PANICS otherwise (it never skips). Each test owns its namespaces (`lqe-<pid>-<n>`), which
//! a guard deletes even on panic.

mod support;

use std::{collections::BTreeSet, net::IpAddr};

use aya::{maps::LpmTrie, Ebpf};
use lqos_ebpf::*;
use support::{dataplane::*, run, traffic::*, TestNet};

/// The mappings of the tests: an IPv4 /32 (CPU 0), an IPv4 /29 and an IPv6 /64 (CPU 1).
fn insert_test_mappings(ebpf: &mut Ebpf) {
    insert(ebpf, "192.0.2.2/32", info(0, 0x10));
    insert(ebpf, "192.0.2.8/29", info(1, 0x11));
    insert(ebpf, "2001:db8:1::/64", info(1, 0x20));
}

/// An HTB root on `dev` with classes 1:10 and 1:20: their counters prove skb->priority.
fn add_htb(dev: &str) {
    run(&[
        "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb",
    ]);
    for id in ["1:10", "1:20"] {
        run(&[
            "tc", "class", "add", "dev", dev, "parent", "1:", "classid", id, "htb", "rate",
            "100mbit",
        ]);
    }
}

/// `dev` faces the subscribers (the peer): leaving it is download, arriving is upload.
fn subscriber_facing(dev: &str, mode: u32, flags: u32) -> LqosDpConfig {
    LqosDpConfig {
        mode,
        flags,
        ifindex_to_network: ifindex(dev),
        ..LqosDpConfig::default()
    }
}

#[test]
fn attach_map_classify_and_count() {
    let net = TestNet::new();
    run(&[
        "ip",
        "-n",
        &net.peer_ns,
        "addr",
        "add",
        "192.0.2.50/24",
        "dev",
        net.peer_dev,
    ]);
    add_htb(net.dev);
    let Attached { mut ebpf, xdp_mode } =
        attach(net.dev, subscriber_facing(net.dev, MODE_SHAPE, 0));
    eprintln!("XDP on veth attached in {xdp_mode} mode");
    insert_test_mappings(&mut ebpf);

    // Exact keys read back, and longest-prefix lookups as the programs do them.
    let get = |k| lookup(&ebpf, k);
    let key = |s: &str| LqosIpKey::from_net(s.parse().expect("prefix"));
    let addr = |s: &str| LqosIpKey::from_addr(s.parse::<IpAddr>().expect("addr"));
    assert_eq!(get(key("192.0.2.2/32")), Some(info(0, 0x10)));
    assert_eq!(get(key("192.0.2.8/29")), Some(info(1, 0x11)));
    assert_eq!(get(key("2001:db8:1::/64")), Some(info(1, 0x20)));
    assert_eq!(get(addr("192.0.2.13")), Some(info(1, 0x11)));
    assert_eq!(get(addr("2001:db8:1::2")), Some(info(1, 0x20)));
    assert_eq!(get(addr("192.0.2.16")), None);
    assert_eq!(get(addr("2001:db8:2::1")), None);
    let trie: LpmTrie<_, [u8; 16], LqosIpInfo> =
        LpmTrie::try_from(ebpf.map(MAP_IP).expect("ip map")).expect("lpm trie");
    let keys: BTreeSet<String> = trie
        .keys()
        .map(|k| {
            let k = k.expect("key");
            let key = LqosIpKey {
                prefixlen: k.prefix_len(),
                addr: k.data(),
            };
            key.to_net().expect("net").to_string()
        })
        .collect();
    let want = ["192.0.2.2/32", "192.0.2.8/29", "2001:db8:1::/64"].map(String::from);
    assert_eq!(keys, BTreeSet::from(want));

    // Real traffic: UDP echoes to the peer over IPv4 and IPv6, and to an unmapped address.
    let wakeups_before = cpumap_wakeups(&ebpf);
    let echo = spawn_echo(net.peer_ns.clone(), "[::]:7000".parse().expect("bind"), 6);
    let stray = spawn_echo(
        net.peer_ns.clone(),
        "192.0.2.50:7001".parse().expect("bind"),
        1,
    );
    echo_round_trips("192.0.2.2:7000".parse().expect("v4"), 3);
    echo_round_trips("[2001:db8:1::2]:7000".parse().expect("v6"), 3);
    echo_round_trips("192.0.2.50:7001".parse().expect("stray"), 1);
    echo.join().expect("echo thread");
    stray.join().expect("stray echo thread");
    let wakeups_after = cpumap_wakeups(&ebpf);

    let v4 = host_counters(&ebpf, "192.0.2.2");
    let v6 = host_counters(&ebpf, "2001:db8:1::2");
    eprintln!("192.0.2.2: {v4:?}\n2001:db8:1::2: {v6:?}");
    assert!(
        v4.packets_down >= 3 && v4.bytes_down >= 3 * PROBE_V4,
        "v4 download: {v4:?}"
    );
    assert!(
        v6.packets_down >= 3 && v6.bytes_down >= 3 * PROBE_V6,
        "v6 download: {v6:?}"
    );
    assert_eq!(
        (v4.packets_up, v6.packets_up),
        (0, 0),
        "nothing left towards the Internet"
    );
    assert!(v4.last_seen_ns > 0 && v6.last_seen_ns > 0);
    assert_eq!(
        host_counters(&ebpf, "192.0.2.50"),
        LqosHostCounters::default()
    );
    let tc_unknown = unknown_counters(&ebpf, UNKNOWN_TC);
    let xdp_unknown = unknown_counters(&ebpf, UNKNOWN_XDP);
    assert!(
        tc_unknown.packets_down >= 1,
        "unmapped egress counted: {tc_unknown:?}"
    );
    assert!(
        xdp_unknown.packets_up >= 1,
        "unmapped ingress counted: {xdp_unknown:?}"
    );
    assert_eq!(
        unknown_counters(&ebpf, UNKNOWN_HOSTS_FULL),
        LqosHostCounters::default()
    );

    let classes = net.class_packets(net.dev);
    assert!(
        packets_of(&classes, "1:10") >= 3,
        "IPv4 download in HTB 1:10: {classes:?}"
    );
    assert!(
        packets_of(&classes, "1:20") >= 3,
        "IPv6 download in HTB 1:20: {classes:?}"
    );
    // The echo replies were redirected: the IPv4 host's CPU 0 and the IPv6 host's CPU 1.
    let cpus = MapSizes::for_this_machine().expect("sizes").cpus;
    for cpu in [0, 1].into_iter().filter(|cpu| *cpu < cpus) {
        assert!(
            woken(&wakeups_before, &wakeups_after, cpu),
            "cpumap kthread of CPU {cpu} never woke: {wakeups_before:?} -> {wakeups_after:?}"
        );
    }
}

#[test]
fn observe_mode_counts_without_classifying_or_steering() {
    let net = TestNet::new();
    add_htb(net.dev);
    let Attached { mut ebpf, .. } = attach(net.dev, subscriber_facing(net.dev, MODE_OBSERVE, 0));
    insert_test_mappings(&mut ebpf);
    let wakeups_before = cpumap_wakeups(&ebpf);
    let echo = spawn_echo(net.peer_ns.clone(), "[::]:7000".parse().expect("bind"), 3);
    echo_round_trips("192.0.2.2:7000".parse().expect("v4"), 3);
    echo.join().expect("echo thread");

    let v4 = host_counters(&ebpf, "192.0.2.2");
    assert!(v4.packets_down >= 3, "observe mode still counts: {v4:?}");
    let classes = net.class_packets(net.dev);
    assert_eq!(
        packets_of(&classes, "1:10"),
        0,
        "observe mode must not classify: {classes:?}"
    );
    assert!(
        !woken(&wakeups_before, &cpumap_wakeups(&ebpf), 0),
        "observe mode must not redirect"
    );
}

/// Pins what the kernel does with `skb->queue_mapping` written at clsact egress (see the
/// crate docs): ignored when XPS decides, honoured as "queue + 1" by the flow-hash fallback.
#[test]
fn queue_mapping_at_egress_only_steers_without_xps() {
    let net = TestNet::new();
    // Only the probes may leave: no IPv6 autoconf/MLD chatter to land on a queue by hash.
    let no_v6 = format!("echo 1 > /proc/sys/net/ipv6/conf/{}/disable_ipv6", net.dev);
    net.exec_in(&net.ns, &["sh", "-c", &no_v6]);
    // mq: one default qdisc per tx queue; its classes 7fff:1 and 7fff:2 count each queue.
    run(&[
        "tc", "qdisc", "add", "dev", net.dev, "root", "handle", "7fff:", "mq",
    ]);
    let xps = |q0: &str, q1: &str| {
        let script = format!(
            "echo {q0} > /sys/class/net/{d}/queues/tx-0/xps_cpus && \
             echo {q1} > /sys/class/net/{d}/queues/tx-1/xps_cpus",
            d = net.dev
        );
        net.exec_in(&net.ns, &["sh", "-c", &script]);
    };
    let config = subscriber_facing(net.dev, MODE_SHAPE, CFG_SET_QUEUE_MAPPING);
    let Attached { mut ebpf, .. } = attach(net.dev, config);
    insert(&mut ebpf, "192.0.2.2/32", info(1, 0x10)); // CPU 1: tx queue 1, mq class 7fff:2
    let echo = spawn_echo(net.peer_ns.clone(), "[::]:7000".parse().expect("bind"), 16);
    let burst = || {
        // One socket per datagram: no socket-cached tx queue, like forwarded traffic.
        for _ in 0..8 {
            echo_round_trips("192.0.2.2:7000".parse().expect("v4"), 1);
        }
    };

    // XPS sends every CPU to tx-0: the program's queue_mapping = 2 is overwritten.
    xps(&all_cpus_mask(), "0");
    let before = net.class_packets(net.dev);
    burst();
    let with_xps = net.class_packets(net.dev);
    let moved = |from: &[(String, u64)], to: &[(String, u64)], id| {
        packets_of(to, id) - packets_of(from, id)
    };
    assert!(
        moved(&before, &with_xps, "7fff:1") >= 8,
        "XPS decides: {before:?} -> {with_xps:?}"
    );
    assert_eq!(
        moved(&before, &with_xps, "7fff:2"),
        0,
        "queue_mapping ignored under XPS"
    );

    // No XPS: the flow-hash fallback reads queue_mapping - 1 = 1.
    xps("0", "0");
    burst();
    let without_xps = net.class_packets(net.dev);
    echo.join().expect("echo thread");
    assert!(
        moved(&with_xps, &without_xps, "7fff:2") >= 8,
        "steered: {with_xps:?} -> {without_xps:?}"
    );
    assert_eq!(
        moved(&with_xps, &without_xps, "7fff:1"),
        0,
        "steered: {with_xps:?} -> {without_xps:?}"
    );
}
