//! Loading, attaching and reading the data plane from the privileged tests.

use std::{collections::BTreeMap, ffi::CString};

use aya::{
    maps::{Array, CpuMap, LpmTrie, Map, PerCpuArray, PerCpuHashMap},
    programs::{tc, SchedClassifier, TcAttachType, Xdp, XdpFlags},
    Ebpf,
};
use ipnet::IpNet;
use lqos_ebpf::*;

/// Loaded and attached data plane; `xdp_mode` says which attach mode the kernel accepted.
pub struct Attached {
    pub ebpf: Ebpf,
    pub xdp_mode: &'static str,
}

pub fn ifindex(dev: &str) -> u32 {
    let name = CString::new(dev).expect("interface name");
    // SAFETY: a valid NUL-terminated string; resolved in this thread's network namespace.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {dev} in this namespace");
    index
}

/// Loads the object sized for this machine, fills the cpumap (queue size 2048 on every
/// possible CPU), verifies both programs and writes the config; nothing is attached.
pub fn load_ready(config: LqosDpConfig) -> Ebpf {
    load_ready_with(config, MapSizes::for_this_machine().expect("map sizes"))
}

/// [`load_ready`] with the given map sizes.
pub fn load_ready_with(config: LqosDpConfig, sizes: MapSizes) -> Ebpf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pin_dir =
        std::path::PathBuf::from(format!("/sys/fs/bpf/lqos-test-{}-{n}", std::process::id()));
    let mut ebpf = load(&sizes, &pin_dir).expect("load the object");
    // Private maps: the pins go, the maps live on through the Ebpf's fds.
    std::fs::remove_dir_all(&pin_dir).expect("remove the test pin directory");
    let mut cpus = CpuMap::try_from(ebpf.map_mut(MAP_CPU).expect("cpu map")).expect("cpumap");
    for cpu in 0..sizes.cpus {
        cpus.set(cpu, 2048, None, 0).expect("cpumap entry");
    }
    lqos_ebpf::load_program(|| xdp(&mut ebpf).load()).expect("verify the XDP program");
    lqos_ebpf::load_program(|| tc_egress(&mut ebpf).load()).expect("verify the TC program");
    let mut cfg: Array<_, LqosDpConfig> =
        Array::try_from(ebpf.map_mut(MAP_CONFIG).expect("config map")).expect("array");
    cfg.set(0, config, 0).expect("write config");
    ebpf
}

pub fn xdp(ebpf: &mut Ebpf) -> &mut Xdp {
    let prog = ebpf.program_mut(PROG_XDP).expect("xdp program");
    prog.try_into().expect("xdp type")
}

pub fn tc_egress(ebpf: &mut Ebpf) -> &mut SchedClassifier {
    let prog = ebpf.program_mut(PROG_TC_EGRESS).expect("tc program");
    prog.try_into().expect("classifier type")
}

/// [`load_ready`], then XDP (native, else generic) on `dev` and the TC program on its
/// clsact egress.
pub fn attach(dev: &str, config: LqosDpConfig) -> Attached {
    let mut ebpf = load_ready(config);
    let prog = xdp(&mut ebpf);
    let xdp_mode = match prog.attach(dev, XdpFlags::DRV_MODE) {
        Ok(_) => "native (DRV_MODE)",
        Err(native) => {
            eprintln!("native XDP refused on {dev}: {native}; falling back to SKB_MODE");
            prog.attach(dev, XdpFlags::SKB_MODE)
                .expect("generic XDP attach");
            "generic (SKB_MODE)"
        }
    };
    tc::qdisc_add_clsact(dev).expect("clsact qdisc");
    tc_egress(&mut ebpf)
        .attach(dev, TcAttachType::Egress)
        .expect("attach clsact egress");
    Attached { ebpf, xdp_mode }
}

pub fn insert(ebpf: &mut Ebpf, net: &str, info: LqosIpInfo) {
    let mut trie: LpmTrie<_, [u8; 16], LqosIpInfo> =
        LpmTrie::try_from(ebpf.map_mut(MAP_IP).expect("ip map")).expect("lpm trie");
    let key = LqosIpKey::from_net(net.parse::<IpNet>().expect("prefix"));
    trie.insert(&key.into(), info, 0).expect("insert mapping");
}

pub fn lookup(ebpf: &Ebpf, key: LqosIpKey) -> Option<LqosIpInfo> {
    let trie: LpmTrie<_, [u8; 16], LqosIpInfo> =
        LpmTrie::try_from(ebpf.map(MAP_IP).expect("ip map")).expect("lpm trie");
    trie.get(&key.into(), 0).ok()
}

pub fn host_counters(ebpf: &Ebpf, addr: &str) -> LqosHostCounters {
    let hosts: PerCpuHashMap<_, LqosHostKey, LqosHostCounters> =
        PerCpuHashMap::try_from(ebpf.map(MAP_HOSTS).expect("hosts")).expect("percpu hash");
    let key = LqosHostKey::from_addr(addr.parse().expect("addr"));
    let mut total = LqosHostCounters::default();
    if let Ok(per_cpu) = hosts.get(&key, 0) {
        per_cpu.iter().for_each(|c| total.merge(c));
    }
    total
}

pub fn unknown_counters(ebpf: &Ebpf, slot: u32) -> LqosHostCounters {
    let map: PerCpuArray<_, LqosHostCounters> =
        PerCpuArray::try_from(ebpf.map(MAP_UNKNOWN).expect("unknown")).expect("percpu array");
    let mut total = LqosHostCounters::default();
    map.get(&slot, 0)
        .expect("unknown slot")
        .iter()
        .for_each(|c| total.merge(c));
    total
}

/// Context switches of each cpumap kthread (`cpumap/<cpu>/map:<id>`) of our cpumap, by CPU:
/// the kthread only wakes when XDP redirected frames to it.
pub fn cpumap_wakeups(ebpf: &Ebpf) -> BTreeMap<u32, u64> {
    let Some(Map::CpuMap(data)) = ebpf.map(MAP_CPU) else {
        panic!("{MAP_CPU} is not a cpumap")
    };
    let id = data.info().expect("cpumap info").id();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let path = entry.expect("/proc entry").path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let Some(cpu) = comm.trim().strip_prefix("cpumap/").and_then(|rest| {
            let (cpu, map) = rest.split_once("/map:")?;
            (map == id.to_string())
                .then(|| cpu.parse::<u32>().ok())
                .flatten()
        }) else {
            continue;
        };
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum();
        out.insert(cpu, switches);
    }
    out
}

pub fn woken(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>, cpu: u32) -> bool {
    after.get(&cpu).copied().unwrap_or(0) > before.get(&cpu).copied().unwrap_or(0)
}

pub fn info(cpu: u32, minor: u16) -> LqosIpInfo {
    LqosIpInfo {
        cpu,
        classid_down: classid(1, minor),
        classid_up: classid(2, minor),
        flags: 0,
        circuit: 0,
    }
}
