//! Privileged: VLAN, QinQ and on-a-stick handling, checked with crafted frames through
//! BPF_PROG_TEST_RUN (this kernel has no 802.1Q devices to make tagged traffic). Needs root
//! and PANICS otherwise. The namespace only provides a real ifindex for the config.

mod support;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd, AsRawFd},
};

use aya::{maps::Array, Ebpf};
use lqos_ebpf::*;
use support::{dataplane::*, TestNet};

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
const TC_ACT_OK: u32 = 0;
const QINQ: u16 = 0x88a8;
const DOT1Q: u16 = 0x8100;
const INTERNET_VLAN: u16 = 100;
const NETWORK_VLAN: u16 = 200;

/// Runs `prog_fd` once on `data` with context `ctx` (read and written back); returns the
/// program's return value.
fn test_run(prog_fd: i32, data: &[u8], ctx: &mut [u8]) -> u32 {
    support::prog_test_run::test_run(prog_fd, data, ctx, 1).0
}

/// XDP verdict for `frame` arriving on `ifindex` (ctx = struct xdp_md).
fn run_xdp(ebpf: &mut Ebpf, ifindex: u32, frame: &[u8]) -> u32 {
    let fd = xdp(ebpf).fd().expect("xdp fd").as_fd().as_raw_fd();
    let md = [0, frame.len() as u32, 0, ifindex, 0, 0];
    let mut ctx: Vec<u8> = md.iter().flat_map(|w| w.to_ne_bytes()).collect();
    test_run(fd, frame, &mut ctx)
}

/// TC verdict and resulting skb->priority for `frame` leaving through `ifindex`.
fn run_tc(ebpf: &mut Ebpf, ifindex: u32, frame: &[u8]) -> (u32, u32) {
    const SKB_SIZE: usize = 192; // sizeof(struct __sk_buff)
    const PRIORITY: usize = 32; // offsetof(struct __sk_buff, priority)
    const IFINDEX: usize = 40; // offsetof(struct __sk_buff, ifindex)
    let fd = tc_egress(ebpf).fd().expect("tc fd").as_fd().as_raw_fd();
    let mut ctx = vec![0u8; SKB_SIZE];
    ctx[IFINDEX..IFINDEX + 4].copy_from_slice(&ifindex.to_ne_bytes());
    let verdict = test_run(fd, frame, &mut ctx);
    let priority = u32::from_ne_bytes(ctx[PRIORITY..PRIORITY + 4].try_into().expect("4 bytes"));
    (verdict, priority)
}

/// Ethernet + `tags` (TPID, VLAN id) + IPv4/IPv6 + UDP with 8 payload bytes.
fn frame(tags: &[(u16, u16)], src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for (tpid, vid) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend(vid.to_be_bytes());
    }
    let udp_len: u16 = 8 + 8;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend(0x0800u16.to_be_bytes());
            f.extend([0x45, 0]);
            f.extend((20 + udp_len).to_be_bytes());
            f.extend([0, 0, 0, 0, 64, 17, 0, 0]);
            f.extend(s.octets());
            f.extend(d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend(0x86ddu16.to_be_bytes());
            f.extend([0x60, 0, 0, 0]);
            f.extend(udp_len.to_be_bytes());
            f.extend([17, 64]);
            f.extend(s.octets());
            f.extend(d.octets());
        }
        _ => panic!("mixed address families"),
    }
    f.extend([0x30, 0x39, 0x00, 0x07]); // ports
    f.extend(udp_len.to_be_bytes());
    f.extend([0; 2 + 8]); // checksum (unchecked) and payload
    f
}

#[test]
fn on_a_stick_vlan_and_qinq_direction() {
    let net = TestNet::new();
    let ifindex = ifindex(net.dev);
    let cpus = MapSizes::for_this_machine().expect("sizes").cpus;
    let config = LqosDpConfig {
        flags: CFG_ON_A_STICK,
        ifindex_to_internet: ifindex,
        ifindex_to_network: ifindex,
        internet_vlan: INTERNET_VLAN,
        network_vlan: NETWORK_VLAN,
        stick_offset: 1,
        ..LqosDpConfig::default()
    };
    let mut ebpf = load_ready(config);
    // v4 subscriber on CPU 0 (upload: CPU 1); v6 on the last CPU (upload: past the cpumap).
    insert(&mut ebpf, "198.51.100.7/32", info(0, 7));
    insert(&mut ebpf, "2001:db8:5::/64", info(cpus - 1, 8));
    let sub4 = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let sub6 = IpAddr::V6("2001:db8:5::9".parse::<Ipv6Addr>().expect("v6"));
    let net4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let net6 = IpAddr::V6("2001:db8:ffff::1".parse::<Ipv6Addr>().expect("v6"));
    let redirect_if = |cpu: u32| if cpu < cpus { XDP_REDIRECT } else { XDP_PASS };

    // Ingress (XDP): internet VLAN = download (dst), network VLAN = upload (src, + offset).
    let cases = [
        (
            "v4 down",
            frame(&[(DOT1Q, INTERNET_VLAN)], net4, sub4),
            XDP_REDIRECT,
        ),
        (
            "v4 up",
            frame(&[(DOT1Q, NETWORK_VLAN)], sub4, net4),
            redirect_if(1),
        ),
        (
            "qinq v6 down",
            frame(&[(QINQ, INTERNET_VLAN), (DOT1Q, 42)], net6, sub6),
            XDP_REDIRECT,
        ),
        (
            "qinq v6 up",
            frame(&[(QINQ, NETWORK_VLAN), (DOT1Q, 42)], sub6, net6),
            redirect_if(cpus),
        ),
        ("other vlan", frame(&[(DOT1Q, 300)], net4, sub4), XDP_PASS),
        ("untagged", frame(&[], net4, sub4), XDP_PASS),
        (
            "unmapped",
            frame(&[(DOT1Q, INTERNET_VLAN)], sub4, net4),
            XDP_PASS,
        ),
    ];
    for (name, f, want) in &cases {
        assert_eq!(run_xdp(&mut ebpf, ifindex, f), *want, "XDP {name}");
    }
    let truncated = &cases[0].1[..14 + 4 + 10];
    assert_eq!(
        run_xdp(&mut ebpf, ifindex, truncated),
        XDP_PASS,
        "XDP truncated"
    );
    // Only "unmapped" had no mapping (the v6 upload past the cpumap was mapped).
    let unknown = unknown_counters(&ebpf, UNKNOWN_XDP);
    assert_eq!(
        (unknown.packets_down, unknown.packets_up),
        (1, 0),
        "{unknown:?}"
    );

    // Egress (TC): network VLAN = download (dst), internet VLAN = upload (src).
    let tc_cases = [
        (
            "v4 down",
            frame(&[(DOT1Q, NETWORK_VLAN)], net4, sub4),
            classid(1, 7),
        ),
        (
            "v4 up",
            frame(&[(DOT1Q, INTERNET_VLAN)], sub4, net4),
            classid(2, 7),
        ),
        (
            "qinq v6 down",
            frame(&[(QINQ, NETWORK_VLAN), (DOT1Q, 9)], net6, sub6),
            classid(1, 8),
        ),
        (
            "qinq v6 up",
            frame(&[(QINQ, INTERNET_VLAN), (DOT1Q, 9)], sub6, net6),
            classid(2, 8),
        ),
        ("other vlan", frame(&[(DOT1Q, 300)], net4, sub4), 0),
        ("untagged", frame(&[], net4, sub4), 0),
    ];
    for (name, f, want) in &tc_cases {
        assert_eq!(
            run_tc(&mut ebpf, ifindex, f),
            (TC_ACT_OK, *want),
            "TC {name}"
        );
    }
    let v4 = host_counters(&ebpf, "198.51.100.7");
    assert_eq!((v4.packets_down, v4.packets_up), (1, 1), "{v4:?}");
    assert_eq!(v4.bytes_down, tc_cases[0].1.len() as u64);

    // Observe mode: counted, never classified or redirected.
    let mut cfg: Array<_, LqosDpConfig> =
        Array::try_from(ebpf.map_mut(MAP_CONFIG).expect("config")).expect("array");
    cfg.set(
        0,
        LqosDpConfig {
            mode: MODE_OBSERVE,
            ..config
        },
        0,
    )
    .expect("config");
    assert_eq!(
        run_xdp(&mut ebpf, ifindex, &cases[0].1),
        XDP_PASS,
        "observe XDP"
    );
    assert_eq!(
        run_tc(&mut ebpf, ifindex, &tc_cases[0].1),
        (TC_ACT_OK, 0),
        "observe TC"
    );
    assert_eq!(host_counters(&ebpf, "198.51.100.7").packets_down, 2);
}
