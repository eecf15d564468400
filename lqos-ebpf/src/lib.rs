//! lqos data plane: the eBPF programs (C in `src/bpf/`, compiled by clang from `build.rs`)
//! and the Rust mirror of everything they share with user space.
//!
//! One object ([`OBJECT`]) holds these programs (and [`PROG_TC_STICK`] on a stick), sharing the
//! maps of [`MAP_NAMES`]:
//!
//! - [`PROG_XDP`] (`xdp`), on the ingress of the shaped interfaces: looks the subscriber up
//!   in [`MAP_IP`] (destination for download, source for upload) and redirects the frame to
//!   its CPU through [`MAP_CPU`]; unmapped addresses pass and are counted in [`MAP_UNKNOWN`].
//!   For mapped traffic it also keeps the flow table [`MAP_FLOWS`] (bytes, packets,
//!   retransmits, TCP timestamps per direction) and adds passive TCP RTT samples to the
//!   per-circuit histograms [`MAP_RTT`] (docs/dataplane.md, "Flow telemetry"). User space
//!   reads them with [`lookup_batch`] / [`lookup_batch_per_cpu`] and ages flows out with
//!   [`delete_batch`].
//! - [`PROG_TC_EGRESS`] (`classifier`, clsact egress): counts bytes/packets per host in
//!   [`MAP_HOSTS`] and sets `skb->priority` to the HTB classid of the interface's direction.
//!
//! [`MAP_CONFIG`] ([`LqosDpConfig`]) says which interface faces what, and observe mode.
//!
//! # Tx queue selection
//!
//! The classid's major selects the HTB under `mq`, but HTB only honours it if the packet is
//! enqueued on that HTB's tx queue. A clsact egress program (tcx or legacy `cls_bpf`, both
//! measured on 6.18 in `tests/attach.rs`) runs *before* `__dev_queue_xmit` picks the queue, and
//! the pick overwrites `skb->queue_mapping` (only `act_skbedit` can make the kernel keep it):
//!
//! - with an XPS map, a written `queue_mapping` is ignored: XPS decides;
//! - without XPS and without a socket-cached queue (forwarded traffic), the flow-hash fallback
//!   treats `queue_mapping` as a recorded rx queue and transmits on `queue_mapping - 1`.
//!
//! So the supported way is LibreQoS's: the XDP cpumap redirect puts a subscriber's packets on
//! its CPU and XPS maps CPU *n* to tx queue *n*. [`CFG_SET_QUEUE_MAPPING`] makes the TC program
//! write `cpu + 1` for setups without XPS.
//!
//! # veth and checksums
//!
//! Native XDP on veth redirecting into the cpumap drops the `CHECKSUM_PARTIAL` state of
//! packets sent by a local socket on the peer (the cpumap builds a new skb), so the receiver
//! discards them (`UdpInCsumErrors`). Real NICs deliver complete checksums. lqosd therefore
//! attaches generic XDP on veth unless `[lqosd] xdp_mode = "native"` (docs/dataplane.md); the
//! test beds turn tx checksum offload off on the sending side (`ethtool -K <peer> tx off`) and
//! ask for native XDP, so that the native path is the one they measure.

mod abi;
#[cfg(feature = "user")]
mod batch;
mod key;
#[cfg(feature = "user")]
mod load;
#[cfg(feature = "user")]
mod pins;

pub use abi::*;
#[cfg(feature = "user")]
pub use batch::{delete_batch, lookup_batch, lookup_batch_per_cpu, BatchError};
pub use key::{classid, classid_parts, KeyError};
#[cfg(feature = "user")]
pub use load::{ensure_bpffs, is_bpffs, load, load_program, LoadError, MapSizes, BPFFS};
#[cfg(feature = "user")]
pub use pins::{replace_stale_pins, PinError, StalePin};

/// LPM trie ([`LqosIpKey`] -> [`LqosIpInfo`]); `max_entries` from [`MapSizes::ip_map`].
pub const MAP_IP: &str = "lqos_ip_map";
/// CPUMAP (`u32` CPU index -> `bpf_cpumap_val`); sized to the possible CPUs before load
/// (the kernel rejects more than `NR_CPUS` entries).
pub const MAP_CPU: &str = "lqos_cpu_map";
/// PERCPU_HASH ([`LqosHostKey`] -> [`LqosHostCounters`]), preallocated.
pub const MAP_HOSTS: &str = "lqos_hosts";
/// PERCPU_ARRAY (`u32` slot, [`UNKNOWN_XDP`]... -> [`LqosHostCounters`]).
pub const MAP_UNKNOWN: &str = "lqos_unknown";
/// ARRAY with one [`LqosDpConfig`] at index 0.
pub const MAP_CONFIG: &str = "lqos_config";
/// LRU_PERCPU_HASH ([`LqosHostKey`] -> [`LqosHostCounters`]): traffic of unmapped addresses,
/// one entry per address, [`UNKNOWN_HOSTS_ENTRIES`] at most (least recently seen evicted).
pub const MAP_UNKNOWN_HOSTS: &str = "lqos_unk_hosts";
/// HASH ([`LqosFlowKey`] -> [`LqosFlow`]), preallocated, written by the XDP program for
/// mapped traffic only; a full table refuses new flows (counted in [`MAP_FLOW_STATS`]).
/// `max_entries` from [`MapSizes::flows`].
pub const MAP_FLOWS: &str = "lqos_flows";
/// PERCPU_ARRAY (`u32` circuit index -> [`LqosRttHist`]); `max_entries` from
/// [`MapSizes::circuits`].
pub const MAP_RTT: &str = "lqos_rtt";
/// PERCPU_ARRAY (`u32` slot, [`FLOW_STAT_INSERTS`]... -> `u64`).
pub const MAP_FLOW_STATS: &str = "lqos_flow_stats";
/// PERCPU_ARRAY, one entry: the programs' cache of the coarse clock (per CPU: the jiffies
/// value and the `CLOCK_MONOTONIC_COARSE` time read at it). Internal to the programs, never
/// read by user space, not pinned (each load has its own).
pub const MAP_CLOCK: &str = "lqos_clock";
/// Every map of [`OBJECT`].
pub const MAP_NAMES: [&str; 10] = [
    MAP_IP,
    MAP_CPU,
    MAP_HOSTS,
    MAP_UNKNOWN,
    MAP_CONFIG,
    MAP_UNKNOWN_HOSTS,
    MAP_FLOWS,
    MAP_RTT,
    MAP_FLOW_STATS,
    MAP_CLOCK,
];

/// The XDP program (attach to the ingress of every shaped interface).
pub const PROG_XDP: &str = "lqos_xdp";
/// The TC program (attach to clsact egress of every shaped interface).
pub const PROG_TC_EGRESS: &str = "lqos_tc_egress";
/// The on-a-stick hairpin (attach to clsact ingress of the one interface, on a stick only):
/// frames tagged with one of the two VLANs leave the same interface tagged with the other.
pub const PROG_TC_STICK: &str = "lqos_tc_stick";

/// `max_entries` of [`MAP_IP`] compiled into the object.
pub const IP_MAP_DEFAULT_ENTRIES: u32 = 1_048_576;
/// `max_entries` of [`MAP_HOSTS`] compiled into the object.
pub const HOSTS_DEFAULT_ENTRIES: u32 = 65_536;
/// `max_entries` of [`MAP_UNKNOWN_HOSTS`].
pub const UNKNOWN_HOSTS_ENTRIES: u32 = 4096;
/// `max_entries` of [`MAP_FLOWS`] compiled into the object.
pub const FLOWS_DEFAULT_ENTRIES: u32 = 262_144;
/// `max_entries` of [`MAP_RTT`] compiled into the object.
pub const RTT_DEFAULT_ENTRIES: u32 = 131_072;
/// `max_entries` of [`MAP_CPU`] compiled into the object (always overridden by [`load`]).
pub const CPU_MAP_DEFAULT_ENTRIES: u32 = 64;

/// Alignment wrapper: the ELF parser reads 8-byte fields in place, so the embedded object
/// must not sit at an arbitrary address (same technique as `aya::include_bytes_aligned!`,
/// kept here so the bytes exist without the `user` feature).
#[repr(C, align(32))]
struct Aligned<B: ?Sized> {
    bytes: B,
}

static OBJECT_ALIGNED: &Aligned<[u8]> = &Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/lqos.bpf.o")),
};

/// The compiled eBPF object (ELF, BTF included), 32-byte aligned.
pub static OBJECT: &[u8] = &OBJECT_ALIGNED.bytes;

static FLOOR_OBJECT_ALIGNED: &Aligned<[u8]> = &Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/lqos_floor.bpf.o")),
};

/// Exists only for the per-packet benchmark (`benches/per_packet.rs`); lqosd never loads it.
/// The baseline programs `floor_xdp` and `floor_tc` (`src/bpf/lqos_floor.bpf.c`): the same
/// parse as [`OBJECT`]'s programs and one lookup in their own, unpinned LPM trie
/// `floor_ip_map` (same key/value types as [`MAP_IP`]), nothing else. 32-byte aligned.
pub static FLOOR_OBJECT: &[u8] = &FLOOR_OBJECT_ALIGNED.bytes;

static TEST_SWITCH_OBJECT_ALIGNED: &Aligned<[u8]> = &Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/lqos_test_switch.bpf.o")),
};

/// For tests only; lqosd never loads it. `src/bpf/lqos_test_switch.bpf.c`: a two-VLAN switch
/// of TC programs (`sw_access`, `sw_trunk`, config [`LqosTestSwitchCfg`] in map `sw_cfg`)
/// that the on-a-stick end-to-end test uses, since the test kernel has no 802.1Q devices.
pub static TEST_SWITCH_OBJECT: &[u8] = &TEST_SWITCH_OBJECT_ALIGNED.bytes;

#[cfg(test)]
mod object_tests;
