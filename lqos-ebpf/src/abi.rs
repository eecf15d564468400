//! Rust mirror of `include/lqos_abi.h`: every struct the kernel programs share with user
//! space, byte for byte. Sizes and field offsets are checked at compile time here and by
//! `_Static_assert` in the header; `tests` in `lib.rs` compare the maps of the compiled object
//! with these types.

use core::mem::{offset_of, size_of};

/// `lqos_dp_config.mode`: classify, steer and count.
pub const MODE_SHAPE: u32 = 0;
/// `lqos_dp_config.mode`: count only; no cpumap redirect, no `skb->priority`.
pub const MODE_OBSERVE: u32 = 1;

/// `lqos_dp_config.flags`: one interface carries both directions, told apart by VLAN id.
pub const CFG_ON_A_STICK: u32 = 1 << 0;
/// `lqos_dp_config.flags`: TC egress also writes `skb->queue_mapping = cpu + 1`. This steers
/// only packets without a socket on a device without an XPS map (see the crate docs, "Tx
/// queue selection"); with XPS configured it is ignored.
pub const CFG_SET_QUEUE_MAPPING: u32 = 1 << 1;

/// `lqos_unknown` slot: XDP saw an IP packet in a known direction without a mapping.
pub const UNKNOWN_XDP: u32 = 0;
/// `lqos_unknown` slot: TC egress saw an IP packet in a known direction without a mapping.
pub const UNKNOWN_TC: u32 = 1;
/// `lqos_unknown` slot: a mapped host that could not be counted because `lqos_hosts` is full.
pub const UNKNOWN_HOSTS_FULL: u32 = 2;
/// Number of `lqos_unknown` slots (its `max_entries`).
pub const UNKNOWN_SLOTS: u32 = 3;

/// `struct lqos_ip_key`: the LPM trie key. IPv4 is IPv4-mapped (`::ffff:a.b.c.d`) with
/// `prefixlen = 96 + v4 length`; the address is in network byte order. Build it with
/// [`LqosIpKey::from_net`](crate::LqosIpKey::from_net).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosIpKey {
    /// Prefix length in bits, 0..=128, over `addr`.
    pub prefixlen: u32,
    pub addr: [u8; 16],
}

/// `struct lqos_ip_info`: what a subscriber prefix maps to.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosIpInfo {
    /// Index into `lqos_cpu_map` (0-based CPU). On a stick, upload adds `stick_offset`.
    pub cpu: u32,
    /// HTB classid (`major << 16 | minor`, see [`classid`](crate::classid)) applied at the
    /// egress of the subscriber-facing interface.
    pub classid_down: u32,
    /// HTB classid applied at the egress of the Internet-facing interface.
    pub classid_up: u32,
    /// Reserved; must be 0.
    pub flags: u32,
    /// The circuit's index in [`MAP_RTT`](crate::MAP_RTT), assigned by lqosd and stable while
    /// the circuit exists; 0 = none (flows are tracked, no RTT histogram).
    pub circuit: u32,
}

/// `struct lqos_host_key`: an exact host address, IPv4-mapped for IPv4 (the `lqos_hosts` key).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosHostKey {
    pub addr: [u8; 16],
}

/// `struct lqos_host_counters`: one CPU's counters for a host (or an `lqos_unknown` slot).
/// Bytes are L2 frame lengths at TC egress; packets count GSO segments; `last_seen_ns` is
/// `CLOCK_MONOTONIC` at tick resolution (the coarse clock, up to two ticks behind).
/// Sum over CPUs with [`LqosHostCounters::merge`], which keeps the
/// latest `last_seen_ns`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosHostCounters {
    pub bytes_down: u64,
    pub packets_down: u64,
    pub bytes_up: u64,
    pub packets_up: u64,
    pub last_seen_ns: u64,
}

impl LqosHostCounters {
    /// Adds another CPU's counters to these.
    pub fn merge(&mut self, other: &Self) {
        self.bytes_down = self.bytes_down.wrapping_add(other.bytes_down);
        self.packets_down = self.packets_down.wrapping_add(other.packets_down);
        self.bytes_up = self.bytes_up.wrapping_add(other.bytes_up);
        self.packets_up = self.packets_up.wrapping_add(other.packets_up);
        self.last_seen_ns = self.last_seen_ns.max(other.last_seen_ns);
    }
}

/// `struct lqos_flow_key`: a flow oriented subscriber side (`local`, the address found in the
/// IP map) / remote side, so both directions share one entry. Addresses IPv4-mapped for IPv4;
/// ports in network byte order (0 for protocols without ports).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosFlowKey {
    pub remote: [u8; 16],
    pub local: [u8; 16],
    pub remote_port: u16,
    pub local_port: u16,
    pub proto: u8,
    pub pad: [u8; 3],
}

/// Index of [`LqosFlow::dir`] and [`LqosFlow::rtt_us`]: towards the subscriber.
pub const FLOW_DOWN: usize = 0;
/// Index of [`LqosFlow::dir`] and [`LqosFlow::rtt_us`]: towards the Internet.
pub const FLOW_UP: usize = 1;
/// [`LqosFlow::end`]: a FIN was seen.
pub const FLOW_FIN: u8 = 1 << 0;
/// [`LqosFlow::end`]: a RST was seen.
pub const FLOW_RST: u8 = 1 << 1;

/// `struct lqos_flow_dir`: one direction of a flow; cumulative, wrapping counters.
/// Sequence and timestamp fields are TCP only.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosFlowDir {
    /// IP packet lengths (L3).
    pub bytes: u64,
    pub packets: u32,
    /// TCP segments whose sequence number went backwards (retransmits, duplicates, reordering).
    pub retransmits: u32,
    /// End (seq + payload; SYN and FIN count one) of the furthest segment seen.
    pub highest_seq: u32,
    pub tsval: u32,
    pub tsecr: u32,
    pub pending_tsval: u32,
    /// Precise `CLOCK_MONOTONIC` (`bpf_ktime_get_ns`) of `pending_tsval`.
    pub pending_ns: u64,
}

/// `struct lqos_flow`: the value of [`MAP_FLOWS`](crate::MAP_FLOWS), 128 bytes.
/// `rtt_us[FLOW_DOWN]` is the subscriber RTT (down data, the subscriber's ACK),
/// `rtt_us[FLOW_UP]` the internet RTT; 0 = no sample yet.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosFlow {
    /// `CLOCK_MONOTONIC` nanoseconds at tick resolution (the coarse clock, up to two ticks
    /// behind), like `last_seen_ns` and `sample_ns`.
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub circuit: u32,
    /// [`FLOW_FIN`] | [`FLOW_RST`].
    pub end: u8,
    pub reserved: [u8; 3],
    pub rtt_us: [u32; 2],
    pub sample_ns: [u64; 2],
    pub dir: [LqosFlowDir; 2],
}

/// Buckets per side of [`LqosRttHist`].
pub const RTT_BUCKETS: usize = 24;
/// Upper edges (microseconds) of buckets `0..RTT_BUCKETS - 1`; the last bucket is "more
/// than 1 s". `LQOS_RTT_EDGES_US` in `lqos_abi.h` (a test compares them).
pub const RTT_EDGES_US: [u32; RTT_BUCKETS - 1] = [
    1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12500, 15000, 20000, 25000, 30000, 40000,
    50000, 65000, 80000, 100000, 150000, 200000, 350000, 600000, 1000000,
];
/// [`LqosRttHist::side`]: down data, the subscriber's ACK (last mile + the shaper's queue).
pub const RTT_SUBSCRIBER: usize = 0;
/// [`LqosRttHist::side`]: up data, the remote end's ACK.
pub const RTT_INTERNET: usize = 1;

/// `struct lqos_rtt_side`: per bucket, the number of samples and their sum (microseconds).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosRttSide {
    pub count: [u32; RTT_BUCKETS],
    pub sum_us: [u32; RTT_BUCKETS],
}

/// `struct lqos_rtt_hist`: one CPU's cumulative RTT histograms of a circuit, the value of
/// [`MAP_RTT`](crate::MAP_RTT) (PERCPU_ARRAY indexed by circuit index).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosRttHist {
    pub side: [LqosRttSide; 2],
}

/// [`MAP_FLOW_STATS`](crate::MAP_FLOW_STATS) slot: flows created.
pub const FLOW_STAT_INSERTS: u32 = 0;
/// Slot: new flows not tracked because the flow table was full.
pub const FLOW_STAT_INSERT_FAILED: u32 = 1;
/// Slot: RTT samples added to the histograms.
pub const FLOW_STAT_RTT_SAMPLES: u32 = 2;
/// Slot: RTT samples of a circuit without a histogram (index 0 or beyond the map).
pub const FLOW_STAT_RTT_NO_CIRCUIT: u32 = 3;
/// Number of slots.
pub const FLOW_STAT_SLOTS: u32 = 4;

/// `struct lqos_dp_config`: the single entry of `lqos_config`. All-zero (the state before
/// user space writes it) matches no interface: every packet passes untouched.
///
/// Bridge mode: arriving on `ifindex_to_internet` (or leaving `ifindex_to_network`) is
/// download, arriving on `ifindex_to_network` (or leaving `ifindex_to_internet`) is upload.
/// On a stick ([`CFG_ON_A_STICK`]) both ifindexes name the one interface and the outer VLAN
/// id decides (0 = untagged); upload uses `cpu + stick_offset`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LqosDpConfig {
    /// [`MODE_SHAPE`] or [`MODE_OBSERVE`].
    pub mode: u32,
    /// [`CFG_ON_A_STICK`], [`CFG_SET_QUEUE_MAPPING`].
    pub flags: u32,
    pub ifindex_to_internet: u32,
    pub ifindex_to_network: u32,
    pub internet_vlan: u16,
    pub network_vlan: u16,
    pub stick_offset: u32,
    pub reserved: [u32; 2],
}

/// FOR TESTS ONLY: the config of the test VLAN switch ([`crate::TEST_SWITCH_OBJECT`], map
/// `sw_cfg`), `struct lqos_test_switch_cfg` in `lqos_abi.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LqosTestSwitchCfg {
    /// The tagged port towards the shaper.
    pub ifindex_trunk: u32,
    /// The untagged port of the Internet host (`internet_vlan`).
    pub ifindex_internet: u32,
    /// The untagged port of the subscribers' host (`network_vlan`).
    pub ifindex_subscribers: u32,
    pub internet_vlan: u16,
    pub network_vlan: u16,
}

const _: () = {
    assert!(size_of::<LqosTestSwitchCfg>() == 16);
    assert!(offset_of!(LqosTestSwitchCfg, internet_vlan) == 12);
    assert!(size_of::<LqosIpKey>() == 20);
    assert!(offset_of!(LqosIpKey, addr) == 4);
    assert!(size_of::<LqosIpInfo>() == 20);
    assert!(offset_of!(LqosIpInfo, circuit) == 16);
    assert!(size_of::<LqosFlowKey>() == 40);
    assert!(offset_of!(LqosFlowKey, local) == 16);
    assert!(offset_of!(LqosFlowKey, remote_port) == 32);
    assert!(offset_of!(LqosFlowKey, local_port) == 34);
    assert!(offset_of!(LqosFlowKey, proto) == 36);
    assert!(size_of::<LqosFlowDir>() == 40);
    assert!(offset_of!(LqosFlowDir, retransmits) == 12);
    assert!(offset_of!(LqosFlowDir, pending_ns) == 32);
    assert!(size_of::<LqosFlow>() == 128);
    assert!(offset_of!(LqosFlow, circuit) == 16);
    assert!(offset_of!(LqosFlow, end) == 20);
    assert!(offset_of!(LqosFlow, rtt_us) == 24);
    assert!(offset_of!(LqosFlow, sample_ns) == 32);
    assert!(offset_of!(LqosFlow, dir) == 48);
    assert!(size_of::<LqosRttSide>() == 192);
    assert!(size_of::<LqosRttHist>() == 384);
    assert!(offset_of!(LqosIpInfo, classid_down) == 4);
    assert!(offset_of!(LqosIpInfo, classid_up) == 8);
    assert!(offset_of!(LqosIpInfo, flags) == 12);
    assert!(size_of::<LqosHostKey>() == 16);
    assert!(size_of::<LqosHostCounters>() == 40);
    assert!(offset_of!(LqosHostCounters, bytes_up) == 16);
    assert!(offset_of!(LqosHostCounters, last_seen_ns) == 32);
    assert!(size_of::<LqosDpConfig>() == 32);
    assert!(offset_of!(LqosDpConfig, ifindex_to_network) == 12);
    assert!(offset_of!(LqosDpConfig, internet_vlan) == 16);
    assert!(offset_of!(LqosDpConfig, network_vlan) == 18);
    assert!(offset_of!(LqosDpConfig, stick_offset) == 20);
};

// SAFETY: all are `repr(C)`, made only of integers, without padding (the size checks above
// equal the sum of the fields), so every bit pattern is valid and no byte is uninitialised.
#[cfg(feature = "user")]
mod pod {
    use super::*;
    unsafe impl aya::Pod for LqosIpKey {}
    unsafe impl aya::Pod for LqosIpInfo {}
    unsafe impl aya::Pod for LqosHostKey {}
    unsafe impl aya::Pod for LqosHostCounters {}
    unsafe impl aya::Pod for LqosDpConfig {}
    unsafe impl aya::Pod for LqosTestSwitchCfg {}
    unsafe impl aya::Pod for LqosFlowKey {}
    unsafe impl aya::Pod for LqosFlowDir {}
    unsafe impl aya::Pod for LqosFlow {}
    unsafe impl aya::Pod for LqosRttSide {}
    unsafe impl aya::Pod for LqosRttHist {}
}
