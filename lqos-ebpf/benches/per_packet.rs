//! Per-packet cost of `lqos_xdp` and `lqos_tc_egress` against floors, with BPF_PROG_TEST_RUN.
//!
//! `cargo bench -p lqos-ebpf --bench per_packet` (root: CAP_BPF, CAP_NET_ADMIN, netns; it
//! PANICS otherwise). The floors (`FLOOR_OBJECT`, `src/bpf/lqos_floor.bpf.c`): `floor_xdp` and
//! `floor_tc` do the same parse and one LPM lookup of the destination, nothing else;
//! `floor_flow_xdp` also parses down to the ports and updates one flow-hash entry keyed and
//! sized like `lqos_flows` (in place; inserted by the warm-up call). Both tries hold the same
//! 100,000 prefixes (IPv4 /32 and /29, IPv6 /64 and /56); every test frame is a download frame
//! for one of them (TCP with payload and the NOP,NOP,timestamp options Linux sends), so the real
//! programs take their full path: config lookup, direction, trie hit, then (XDP) the flow of an
//! ESTABLISHED connection (the entry exists after the warm-up call: counters, sequence check,
//! timestamp parse and compare) and the cpumap redirect, or (TC) host counters +
//! `skb->priority`. The verdicts and the priority are asserted on every run, and at the end the
//! "unknown" counters must be zero and the flow table hold exactly the bench's flows.
//!
//! Each figure is the kernel's `duration` (mean ns per program run over `REPEAT` runs, which
//! excludes the time the loop spends rescheduled); real and floor runs alternate, and the table
//! shows the median of `RUNS`. Without `BPF_F_TEST_XDP_LIVE_FRAMES` the kernel only returns the
//! XDP verdict: the redirect *helper* is measured, the cpumap enqueue that follows it in a driver
//! is not (it is the same for any cpumap-steering design, so the ratio stays comparable).
//!
//! A private network namespace with a veth pair supplies the two ifindexes (ingress from the
//! Internet for XDP, egress towards the subscribers for TC); guards remove it and the bpffs pin
//! directory even on panic.

mod support;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd, AsRawFd},
    path::PathBuf,
};

use aya::{
    maps::{Array, CpuMap, HashMap, LpmTrie, PerCpuArray},
    programs::{SchedClassifier, Xdp},
    Ebpf, EbpfLoader,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use lqos_ebpf::*;
use support::{ifindex, require_root, test_run, NetNs, PinDir};

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
const TC_ACT_OK: u32 = 0;
/// Program runs per test-run call: the kernel reports their mean.
const REPEAT: u32 = 1_000_000;
/// Test-run calls per case and program; the table shows the median (odd, at least 7).
const RUNS: usize = 9;
const ENTRIES: u32 = 100_000;
/// Goals: TC vs its floor; XDP vs parse + LPM; XDP vs parse + LPM + flow hash.
const GOAL_TC: f64 = 1.5;
const GOAL_XDP_LPM: f64 = 2.0;
const GOAL_XDP_FLOW: f64 = 1.3;
/// The mapping the test frames hit (of every kind of prefix, the one with this index).
const HIT: u32 = 12_345;
const FLOOR_XDP: &str = "floor_xdp";
const FLOOR_TC: &str = "floor_tc";
const FLOOR_FLOW_XDP: &str = "floor_flow_xdp";
const FLOOR_MAP: &str = "floor_ip_map";
const SKB_SIZE: usize = 192; // sizeof(struct __sk_buff)
const SKB_PRIORITY: usize = 32; // offsetof(struct __sk_buff, priority)
const SKB_IFINDEX: usize = 40; // offsetof(struct __sk_buff, ifindex)

/// Prefix `i` of each kind, scattered (an odd multiplier is a bijection modulo 2^n, so the
/// 25,000 of each kind are distinct): IPv4 /32 in 10/8, /29 in 100.64/10, IPv6 /64 in
/// fd00:1::/32, /56 in fd00:2::/32.
fn prefixes(i: u32) -> [IpNet; 4] {
    let s = i.wrapping_mul(0x9e37_79b1);
    let v4 = |a: u32, len| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).expect("v4 prefix"));
    let v6 = |hi: u64, len| {
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(u128::from(hi) << 64), len).expect("v6"))
    };
    [
        v4(0x0a00_0000 | (s & 0x00ff_ffff), 32),
        v4(0x6440_0000 | ((s & 0x0007_ffff) << 3), 29),
        v6(0xfd00_0001_0000_0000 | u64::from(s), 64),
        v6(
            0xfd00_0002_0000_0000 | (u64::from(s & 0x00ff_ffff) << 8),
            56,
        ),
    ]
}

fn info(i: u32, cpus: u32) -> LqosIpInfo {
    let minor = (i % 0xfff0 + 1) as u16;
    LqosIpInfo {
        cpu: i % cpus,
        classid_down: classid(1, minor),
        classid_up: classid(2, minor),
        flags: 0,
        circuit: 0,
    }
}

fn fill(ebpf: &mut Ebpf, map: &str, cpus: u32) {
    let mut trie: LpmTrie<_, [u8; 16], LqosIpInfo> =
        LpmTrie::try_from(ebpf.map_mut(map).expect("ip map")).expect("lpm trie");
    for i in 0..ENTRIES / 4 {
        for net in prefixes(i) {
            let key = LqosIpKey::from_net(net);
            trie.insert(&key.into(), info(i, cpus), 0)
                .expect("insert a prefix");
        }
    }
}

/// Ethernet + IPv4/IPv6 + TCP (ACK|PSH, NOP,NOP,TS options, payload) of `len` bytes in all
/// (Ethernet header included, no FCS).
fn frame(src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend(0x0800u16.to_be_bytes());
            f.extend([0x45, 0]);
            f.extend(((len - 14) as u16).to_be_bytes());
            f.extend([0, 1, 0x40, 0, 64, 6, 0, 0]); // id, DF, TTL, TCP, checksum
            f.extend(s.octets());
            f.extend(d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend(0x86ddu16.to_be_bytes());
            f.extend([0x60, 0, 0, 0]);
            f.extend(((len - 54) as u16).to_be_bytes());
            f.extend([6, 64]);
            f.extend(s.octets());
            f.extend(d.octets());
        }
        _ => panic!("mixed address families"),
    }
    // Ports 443 -> 51000, seq, ack, data offset 8, ACK|PSH, window, checksum, urgent, then
    // NOP, NOP, TS (TSval, TSecr). Checksums stay 0: no program reads them.
    f.extend([
        0x01, 0xbb, 0xc7, 0x38, 0, 0, 0x10, 0, 0, 0, 0, 1, 0x80, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f.extend([1, 1, 8, 10, 0x12, 0x34, 0x56, 0x78, 0x0a, 0xbc, 0xde, 0xf0]);
    assert!(
        f.len() < len,
        "{len} bytes cannot hold the headers and a payload ({})",
        f.len()
    );
    f.resize(len, 0);
    f
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Xdp,
    Tc,
}

/// (retval, priority after the run, ns per run) of one test-run call.
fn measure(fd: i32, kind: Kind, ifindex: u32, data: &[u8], repeat: u32) -> (u32, u32, u32) {
    let mut ctx = match kind {
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress
        Kind::Xdp => [0, data.len() as u32, 0, ifindex, 0, 0]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect(),
        Kind::Tc => {
            let mut ctx = vec![0u8; SKB_SIZE];
            ctx[SKB_IFINDEX..SKB_IFINDEX + 4].copy_from_slice(&ifindex.to_ne_bytes());
            ctx
        }
    };
    let (retval, ns) = test_run(fd, data, &mut ctx, repeat);
    let priority = match kind {
        Kind::Xdp => 0,
        Kind::Tc => {
            u32::from_ne_bytes(ctx[SKB_PRIORITY..SKB_PRIORITY + 4].try_into().expect("u32"))
        }
    };
    (retval, priority, ns)
}

/// Verifies program `name` of `ebpf` as `kind`; returns its fd (valid while `ebpf` lives).
fn verify(ebpf: &mut Ebpf, name: &str, kind: Kind) -> i32 {
    let prog = ebpf
        .program_mut(name)
        .unwrap_or_else(|| panic!("no program {name}"));
    let fd = match kind {
        Kind::Xdp => {
            let xdp: &mut Xdp = prog.try_into().expect("an XDP program");
            xdp.load()
                .unwrap_or_else(|e| panic!("verifying {name}: {e}"));
            xdp.fd()
        }
        Kind::Tc => {
            let tc: &mut SchedClassifier = prog.try_into().expect("a TC classifier");
            tc.load()
                .unwrap_or_else(|e| panic!("verifying {name}: {e}"));
            tc.fd()
        }
    };
    fd.expect("program fd").as_fd().as_raw_fd()
}

/// (median, min, max).
fn stats(mut v: Vec<u32>) -> (u32, u32, u32) {
    v.sort_unstable();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    require_root();
    let _ns = NetNs::new();
    let (to_internet, to_network) = (ifindex("lqbi"), ifindex("lqbn"));

    let sizes = MapSizes::for_this_machine().expect("map sizes");
    let pins = PinDir(PathBuf::from(format!(
        "{BPFFS}/lqos-bench-{}",
        std::process::id()
    )));
    let mut real = load(&sizes, &pins.0).expect("load the lqos object");
    std::fs::remove_dir_all(&pins.0).expect("remove the pin directory");
    let mut cpumap = CpuMap::try_from(real.map_mut(MAP_CPU).expect("cpu map")).expect("cpumap");
    for cpu in 0..sizes.cpus {
        cpumap.set(cpu, 2048, None, 0).expect("cpumap entry");
    }
    let config = LqosDpConfig {
        mode: MODE_SHAPE,
        ifindex_to_internet: to_internet,
        ifindex_to_network: to_network,
        ..LqosDpConfig::default()
    };
    let mut cfg: Array<_, LqosDpConfig> =
        Array::try_from(real.map_mut(MAP_CONFIG).expect("config")).expect("array");
    cfg.set(0, config, 0).expect("write the config");
    let mut floor = EbpfLoader::new()
        .load(FLOOR_OBJECT)
        .expect("load the floor object");
    // Download: XDP looks the destination up on ingress from the Internet, TC counts and
    // classifies it on egress towards the subscribers. (kind, ifindex, real program, its
    // verdict, [(floor, floor verdict, goal)])
    let targets = [
        (
            Kind::Xdp,
            to_internet,
            PROG_XDP,
            XDP_REDIRECT,
            vec![
                (FLOOR_XDP, XDP_PASS, GOAL_XDP_LPM),
                (FLOOR_FLOW_XDP, XDP_PASS, GOAL_XDP_FLOW),
            ],
        ),
        (
            Kind::Tc,
            to_network,
            PROG_TC_EGRESS,
            TC_ACT_OK,
            vec![(FLOOR_TC, TC_ACT_OK, GOAL_TC)],
        ),
    ]
    .map(|(kind, ifindex, name, want, floors)| {
        let real_fd = verify(&mut real, name, kind);
        let floors: Vec<_> = floors
            .into_iter()
            .map(|(f, want, goal)| (f, verify(&mut floor, f, kind), want, goal))
            .collect();
        (kind, ifindex, name, real_fd, want, floors)
    });

    fill(&mut real, MAP_IP, sizes.cpus);
    fill(&mut floor, FLOOR_MAP, sizes.cpus);
    let [v4_32, _, v6_64, _] = prefixes(HIT);
    let (IpNet::V4(v4), IpNet::V6(v6)) = (v4_32, v6_64) else {
        unreachable!()
    };
    let sub4 = IpAddr::V4(v4.addr());
    let sub6 = IpAddr::V6(Ipv6Addr::from(u128::from(v6.addr()) | 0x42));
    let inet4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let inet6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1));
    let want_priority = info(HIT, sizes.cpus).classid_down;

    println!(
        "lqos per-packet cost, BPF_PROG_TEST_RUN: {ENTRIES} prefixes in both tries, repeat {REPEAT}, \
         median of {RUNS} runs, kernel {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()
    );
    println!("XDP: verdict only (no BPF_F_TEST_XDP_LIVE_FRAMES): the cpumap enqueue after XDP_REDIRECT is not measured");
    println!("XDP frames belong to an established TCP flow (entry created by the warm-up call)");
    println!();
    println!(
        "| case | real ns/pkt | floor | floor ns/pkt | real/floor | goal | min-max real; floor |"
    );
    println!("|---|---:|---|---:|---:|---|---|");
    let mut misses = 0;
    for (kind, ifindex, name, real_fd, want, floors) in targets {
        let want_real = (want, if kind == Kind::Tc { want_priority } else { 0 });
        // IPv4 67 B and IPv6 87 B: the smallest frames with these headers and a payload byte.
        for (family, src, dst, small) in [("IPv4", inet4, sub4, 67), ("IPv6", inet6, sub6, 87)] {
            for len in [small, 1500] {
                let data = frame(src, dst, len);
                let case = format!("{name} {family}/TCP {len} B");
                let mut real_ns = Vec::new();
                let mut floor_ns = vec![Vec::new(); floors.len()];
                // One warm-up call (it creates the flow and the TC host entry), then the
                // measured ones, real and floors alternating.
                for i in 0..=RUNS {
                    let repeat = if i == 0 { 1000 } else { REPEAT };
                    let (r, p, ns) = measure(real_fd, kind, ifindex, &data, repeat);
                    assert_eq!(
                        (r, p),
                        want_real,
                        "{case}: verdict, priority (repeat {repeat})"
                    );
                    for (j, (fname, ffd, fwant, _)) in floors.iter().enumerate() {
                        let (r, p, fns) = measure(*ffd, kind, ifindex, &data, repeat);
                        assert_eq!((r, p), (*fwant, 0), "{case}: {fname} verdict, priority");
                        if i > 0 {
                            floor_ns[j].push(fns);
                        }
                    }
                    if i > 0 {
                        real_ns.push(ns);
                    }
                }
                let (r, rmin, rmax) = stats(real_ns);
                for ((fname, _, _, goal), fns) in floors.iter().zip(floor_ns) {
                    let (f, fmin, fmax) = stats(fns);
                    let ratio = f64::from(r) / f64::from(f.max(1));
                    let verdict = if ratio <= *goal { "PASS" } else { "MISS" };
                    misses += usize::from(ratio > *goal);
                    println!(
                        "| {case} | {r} | {fname} | {f} | {ratio:.2}x | <= {goal}x {verdict} | \
                         {rmin}-{rmax}; {fmin}-{fmax} |"
                    );
                }
            }
        }
    }

    // Every run took the mapped path: nothing was counted as unknown or lost to a full map.
    let unknown: PerCpuArray<_, LqosHostCounters> =
        PerCpuArray::try_from(real.map(MAP_UNKNOWN).expect("unknown map")).expect("percpu array");
    for slot in [UNKNOWN_XDP, UNKNOWN_TC, UNKNOWN_HOSTS_FULL] {
        let values = unknown.get(&slot, 0).expect("unknown slot");
        let packets: u64 = values.iter().map(|c| c.packets_down + c.packets_up).sum();
        assert_eq!(
            packets, 0,
            "unknown slot {slot} counted packets: the bench missed the mapped path"
        );
    }
    // One flow per family (both frame sizes share the 5-tuple), none refused.
    let flows: HashMap<_, LqosFlowKey, LqosFlow> =
        HashMap::try_from(real.map(MAP_FLOWS).expect("flows")).expect("hash");
    let entries: Vec<_> = flows.iter().map(|e| e.expect("flow")).collect();
    assert_eq!(entries.len(), 2, "the bench's two flows: {entries:?}");
    for (_, f) in &entries {
        assert!(f.dir[FLOW_DOWN].packets as u64 > u64::from(REPEAT), "{f:?}");
    }
    let stats_map: PerCpuArray<_, u64> =
        PerCpuArray::try_from(real.map(MAP_FLOW_STATS).expect("flow stats")).expect("percpu");
    let failed: u64 = stats_map
        .get(&FLOW_STAT_INSERT_FAILED, 0)
        .expect("stat")
        .iter()
        .sum();
    assert_eq!(failed, 0, "flow inserts failed");
    println!();
    println!("{misses} comparison(s) above their goal");
}
