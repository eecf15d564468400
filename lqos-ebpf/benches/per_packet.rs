//! Per-packet cost of `lqos_xdp` and `lqos_tc_egress` against a floor, with BPF_PROG_TEST_RUN.
//!
//! `cargo bench -p lqos-ebpf --bench per_packet` (root: CAP_BPF, CAP_NET_ADMIN, netns; it
//! PANICS otherwise). The floor (`FLOOR_OBJECT`, `src/bpf/lqos_floor.bpf.c`) does the same
//! parse and one LPM lookup of the destination, nothing else. Both tries hold the same
//! 100,000 prefixes (IPv4 /32 and /29, IPv6 /64 and /56); every test frame is a download frame
//! for one of them, so the real programs take their full path: config lookup, direction, trie
//! hit, then cpumap redirect (XDP) or host counters + `skb->priority` (TC). The verdicts and
//! the priority are asserted on every run, and the "unknown" counters must stay at zero.
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

use std::{
    fs::File,
    mem::size_of,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd, AsRawFd},
    path::PathBuf,
    process::Command,
};

use aya::{
    maps::{Array, CpuMap, LpmTrie, PerCpuArray},
    programs::{SchedClassifier, Xdp},
    Ebpf, EbpfLoader,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use lqos_ebpf::*;

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
const TC_ACT_OK: u32 = 0;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// Program runs per test-run call: the kernel reports their mean.
const REPEAT: u32 = 1_000_000;
/// Test-run calls per case and program; the table shows the median (odd, at least 7).
const RUNS: usize = 9;
const ENTRIES: u32 = 100_000;
const GOAL: f64 = 1.5;
/// The mapping the test frames hit (of every kind of prefix, the one with this index).
const HIT: u32 = 12_345;
const FLOOR_XDP: &str = "floor_xdp";
const FLOOR_TC: &str = "floor_tc";
const FLOOR_MAP: &str = "floor_ip_map";
const SKB_SIZE: usize = 192; // sizeof(struct __sk_buff)
const SKB_PRIORITY: usize = 32; // offsetof(struct __sk_buff, priority)
const SKB_IFINDEX: usize = 40; // offsetof(struct __sk_buff, ifindex)

/// The `test` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

/// Runs `fd` `repeat` times on `data` with context `ctx` (written back from ctx_out);
/// returns (retval of the last run, mean ns per run).
fn test_run(fd: i32, data: &[u8], ctx: &mut [u8], repeat: u32) -> (u32, u32) {
    let mut out = vec![0u8; data.len() + 512];
    let ctx_in = ctx.to_vec();
    let mut attr = TestRunAttr {
        prog_fd: fd as u32,
        data_size_in: data.len() as u32,
        data_size_out: out.len() as u32,
        data_in: data.as_ptr() as u64,
        data_out: out.as_mut_ptr() as u64,
        repeat,
        ctx_size_in: ctx_in.len() as u32,
        ctx_size_out: ctx.len() as u32,
        ctx_in: ctx_in.as_ptr() as u64,
        ctx_out: ctx.as_mut_ptr() as u64,
        ..TestRunAttr::default()
    };
    // SAFETY: every pointer in attr refers to a live buffer of the stated size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr,
            size_of::<TestRunAttr>(),
        )
    };
    assert_eq!(
        rc,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    (attr.retval, attr.duration)
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {args:?}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{args:?} failed ({}): {}", out.status, err.trim()));
    }
    Ok(())
}

fn setns(ns: &File) -> std::io::Result<()> {
    // SAFETY: a valid namespace fd; setns only changes this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A private network namespace holding the veth pair `lqbi` (faces the Internet) / `lqbn`
/// (faces the subscribers), entered by this thread; left and deleted (veths with it) on drop.
struct NetNs {
    name: String,
    original: File,
    entered: bool,
}

impl NetNs {
    fn new() -> Self {
        let original = File::open("/proc/thread-self/ns/net").expect("this thread's netns");
        let name = format!("lqos-bench-{}", std::process::id());
        run(&["ip", "netns", "add", &name]).expect("create the namespace");
        // The guard exists right after the namespace does (and not before: a failed add must
        // not delete a namespace that is not ours), so a half-built setup is removed too.
        let mut ns = NetNs {
            name,
            original,
            entered: false,
        };
        #[rustfmt::skip]
        run(&["ip", "-n", &ns.name, "link", "add", "lqbi", "type", "veth", "peer", "name", "lqbn"])
            .expect("create the veth pair");
        let target = File::open(format!("/run/netns/{}", ns.name)).expect("open the namespace");
        setns(&target).expect("enter the namespace");
        ns.entered = true;
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if self.entered {
            if let Err(e) = setns(&self.original) {
                eprintln!("cannot return to the original network namespace: {e}");
            }
        }
        if let Err(e) = run(&["ip", "netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// The bpffs directory the real object pins its maps in; removed right after loading (the
/// maps live on through the fds) and again on drop in case loading panicked.
struct PinDir(PathBuf);

impl Drop for PinDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.0) {
                eprintln!("cleanup: cannot remove {}: {e}", self.0.display());
            }
        }
    }
}

fn ifindex(dev: &str) -> u32 {
    let name = std::ffi::CString::new(dev).expect("interface name");
    // SAFETY: a valid NUL-terminated string; resolved in this thread's network namespace.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {dev} in the bench namespace");
    index
}

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

/// Ethernet + IPv4/IPv6 + TCP (ACK) of `len` bytes in all (Ethernet header included, no FCS).
fn frame(src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend(0x0800u16.to_be_bytes());
            let mut ip = vec![0x45, 0];
            ip.extend(((len - 14) as u16).to_be_bytes());
            ip.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
            ip.extend(s.octets());
            ip.extend(d.octets());
            let sum: u32 = ip
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum();
            let sum = (sum & 0xffff) + (sum >> 16);
            ip[10..12].copy_from_slice(&(!((sum & 0xffff) + (sum >> 16)) as u16).to_be_bytes());
            f.extend(ip);
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
    // Ports 443 -> 51000, seq, ack, data offset 5, ACK, window; checksum left 0.
    f.extend([
        0x01, 0xbb, 0xc7, 0x38, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    assert!(
        f.len() <= len,
        "{len} bytes cannot hold the headers ({})",
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

fn prog_fd(ebpf: &Ebpf, name: &str) -> i32 {
    let prog = ebpf
        .program(name)
        .unwrap_or_else(|| panic!("program {name}"));
    prog.fd().expect("program fd").as_fd().as_raw_fd()
}

/// (median, min, max).
fn stats(mut v: Vec<u32>) -> (u32, u32, u32) {
    v.sort_unstable();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "\n\n*** lqos-ebpf per_packet bench: NOT RUN, needs root (CAP_BPF, CAP_NET_ADMIN, network \
         namespaces). Run as root: `cargo bench -p lqos-ebpf --bench per_packet`. ***\n"
    );
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
    let xdp: &mut Xdp = real
        .program_mut(PROG_XDP)
        .expect("xdp")
        .try_into()
        .expect("xdp type");
    xdp.load().expect("verify lqos_xdp");
    let tc: &mut SchedClassifier = real
        .program_mut(PROG_TC_EGRESS)
        .expect("tc")
        .try_into()
        .expect("tc");
    tc.load().expect("verify lqos_tc_egress");
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
    let fx: &mut Xdp = floor
        .program_mut(FLOOR_XDP)
        .expect("floor xdp")
        .try_into()
        .expect("xdp type");
    fx.load().expect("verify floor_xdp");
    let ft: &mut SchedClassifier = floor
        .program_mut(FLOOR_TC)
        .expect("floor tc")
        .try_into()
        .expect("tc");
    ft.load().expect("verify floor_tc");

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
    println!();
    println!("| case | real ns/pkt | floor ns/pkt | real/floor | goal <= {GOAL}x | min-max real; floor |");
    println!("|---|---:|---:|---:|---|---|");
    let mut misses = 0;
    for kind in [Kind::Xdp, Kind::Tc] {
        let (real_fd, floor_fd, ifindex, name) = match kind {
            Kind::Xdp => (
                prog_fd(&real, PROG_XDP),
                prog_fd(&floor, FLOOR_XDP),
                to_internet,
                "lqos_xdp",
            ),
            Kind::Tc => (
                prog_fd(&real, PROG_TC_EGRESS),
                prog_fd(&floor, FLOOR_TC),
                to_network,
                "lqos_tc_egress",
            ),
        };
        // Download: XDP looks up the destination on ingress from the Internet; TC counts and
        // classifies on egress towards the subscribers.
        let want_real = match kind {
            Kind::Xdp => (XDP_REDIRECT, 0),
            Kind::Tc => (TC_ACT_OK, want_priority),
        };
        let want_floor = (
            if kind == Kind::Xdp {
                XDP_PASS
            } else {
                TC_ACT_OK
            },
            0,
        );
        for (family, src, dst, small) in [("IPv4", inet4, sub4, 64), ("IPv6", inet6, sub6, 74)] {
            for len in [small, 1500] {
                let data = frame(src, dst, len);
                let case = format!("{name} {family}/TCP {len} B");
                let (mut real_ns, mut floor_ns) = (Vec::new(), Vec::new());
                // One warm-up call (it also creates the TC host entry), then the measured ones.
                for i in 0..=RUNS {
                    let repeat = if i == 0 { 1000 } else { REPEAT };
                    let (r, p, ns) = measure(real_fd, kind, ifindex, &data, repeat);
                    assert_eq!(
                        (r, p),
                        want_real,
                        "{case}: real verdict, priority (repeat {repeat})"
                    );
                    let (r, p, fns) = measure(floor_fd, kind, ifindex, &data, repeat);
                    assert_eq!((r, p), want_floor, "{case}: floor verdict, priority");
                    if i > 0 {
                        real_ns.push(ns);
                        floor_ns.push(fns);
                    }
                }
                let ((r, rmin, rmax), (f, fmin, fmax)) = (stats(real_ns), stats(floor_ns));
                let ratio = f64::from(r) / f64::from(f.max(1));
                let verdict = if ratio <= GOAL { "PASS" } else { "MISS" };
                misses += usize::from(ratio > GOAL);
                println!("| {case} | {r} | {f} | {ratio:.2}x | {verdict} | {rmin}-{rmax}; {fmin}-{fmax} |");
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
    println!();
    println!("{misses} case(s) above the {GOAL}x goal");
}
