/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lqos_abi.h - every type shared between the lqos eBPF programs and user space.
 *
 * The Rust mirror lives in lqos-ebpf/src/abi.rs. Both sides check sizes and offsets at
 * compile time, and a Rust test compares the map definitions in the compiled object with
 * the Rust types, so a change here that is not made there fails the build or the tests.
 *
 * Only fixed-width types, no implicit padding: the structs are copied byte for byte by the
 * bpf(2) syscall.
 */
#ifndef LQOS_ABI_H
#define LQOS_ABI_H

#include <linux/types.h>

/* Map names as the kernel sees them (at most 15 characters: BPF_OBJ_NAME_LEN is 16). */
#define LQOS_MAP_IP "lqos_ip_map"
#define LQOS_MAP_CPU "lqos_cpu_map"
#define LQOS_MAP_HOSTS "lqos_hosts"
#define LQOS_MAP_UNKNOWN "lqos_unknown"
#define LQOS_MAP_CONFIG "lqos_config"
#define LQOS_MAP_UNKNOWN_HOSTS "lqos_unk_hosts"

/* Default sizes compiled into the object; user space overrides them before load. */
#define LQOS_IP_MAP_DEFAULT_ENTRIES 1048576
/* Must never exceed the kernel's NR_CPUS; user space sets it to the number of possible CPUs. */
#define LQOS_CPU_MAP_DEFAULT_ENTRIES 64
#define LQOS_HOSTS_DEFAULT_ENTRIES 65536
/* Unknown addresses tracked one by one (LRU: the least recently seen make room). */
#define LQOS_UNKNOWN_HOSTS_ENTRIES 4096

/*
 * LPM trie key. Both families share one trie: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d)
 * with prefixlen = 96 + the IPv4 prefix length. Lookups use prefixlen 128.
 * The layout (a __u32 prefix length followed by the address bytes in network order) is what
 * the kernel's LPM trie requires (struct bpf_lpm_trie_key_u8).
 */
struct lqos_ip_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* What a subscriber prefix maps to. */
struct lqos_ip_info {
	/* Index into lqos_cpu_map: the CPU that processes this subscriber's packets. In
	 * on-a-stick mode the upload direction adds lqos_dp_config.stick_offset. */
	__u32 cpu;
	/* HTB classid (major << 16 | minor) for download, used on the egress of the
	 * subscriber-facing interface (to_network). */
	__u32 classid_down;
	/* HTB classid for upload, used on the egress of the Internet-facing interface. */
	__u32 classid_up;
	/* Reserved for per-mapping options; must be 0. */
	__u32 flags;
};

/* Exact host address (IPv4-mapped for IPv4): the key of lqos_hosts. */
struct lqos_host_key {
	__u8 addr[16];
};

/*
 * Per-CPU traffic counters, the value of lqos_hosts and of lqos_unknown.
 * Bytes are skb->len at TC egress (L2 frame, including the Ethernet header); packets count
 * GSO segments. last_seen_ns is bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last packet on
 * that CPU; user space sums the counters over CPUs and takes the maximum of last_seen_ns.
 */
struct lqos_host_counters {
	__u64 bytes_down;
	__u64 packets_down;
	__u64 bytes_up;
	__u64 packets_up;
	__u64 last_seen_ns;
};

/* Indexes of lqos_unknown (a PERCPU_ARRAY of struct lqos_host_counters). */
enum lqos_unknown_slot {
	/* XDP saw an IP packet in a known direction whose address has no mapping: passed. */
	LQOS_UNKNOWN_XDP = 0,
	/* TC egress saw an IP packet in a known direction whose address has no mapping. */
	LQOS_UNKNOWN_TC = 1,
	/* A mapped host could not be counted because lqos_hosts is full. */
	LQOS_UNKNOWN_HOSTS_FULL = 2,
	LQOS_UNKNOWN_SLOTS = 3,
};

/* lqos_dp_config.mode */
#define LQOS_MODE_SHAPE 0
#define LQOS_MODE_OBSERVE 1

/* lqos_dp_config.flags */
/* One interface carries both directions, told apart by VLAN id (internet_vlan/network_vlan). */
#define LQOS_CFG_ON_A_STICK (1u << 0)
/*
 * Also write skb->queue_mapping = cpu + 1 at TC egress. The kernel picks the tx queue after
 * the egress hook, so this does not select the queue by itself: it only steers packets
 * without a socket on a device without an XPS map, where the flow-hash fallback reads
 * queue_mapping as a recorded rx queue (value - 1). With XPS (CPU n -> tx queue n, after the
 * cpumap redirect put the packet on CPU n) the write is ignored and not needed.
 */
#define LQOS_CFG_SET_QUEUE_MAPPING (1u << 1)

/*
 * Data-plane configuration, the single entry of lqos_config (an ARRAY). An all-zero entry
 * (the state before user space writes it) matches no interface, so every packet passes
 * untouched.
 *
 * Bridge mode: packets arriving on ifindex_to_internet travel towards the subscribers
 * (download: the destination address is looked up); packets arriving on ifindex_to_network
 * travel towards the Internet (upload: the source address is looked up). At egress the roles
 * swap: egress of to_network is download, egress of to_internet is upload.
 *
 * On a stick (LQOS_CFG_ON_A_STICK): both ifindexes name the one interface; a frame whose
 * outer VLAN id is internet_vlan arrives from / leaves towards the Internet, network_vlan
 * the subscribers. Upload uses cpu + stick_offset (the upper half of the queues).
 */
struct lqos_dp_config {
	__u32 mode;
	__u32 flags;
	__u32 ifindex_to_internet;
	__u32 ifindex_to_network;
	__u16 internet_vlan;
	__u16 network_vlan;
	__u32 stick_offset;
	__u32 reserved[2];
};

/*
 * FOR TESTS ONLY: the config of lqos_test_switch.bpf.c (single entry of its map sw_cfg), a
 * VLAN switch that the on-a-stick end-to-end test builds from TC programs.
 */
struct lqos_test_switch_cfg {
	__u32 ifindex_trunk;
	__u32 ifindex_internet;
	__u32 ifindex_subscribers;
	__u16 internet_vlan;
	__u16 network_vlan;
};

_Static_assert(sizeof(struct lqos_test_switch_cfg) == 16, "lqos_test_switch_cfg size");
_Static_assert(__builtin_offsetof(struct lqos_test_switch_cfg, internet_vlan) == 12, "sw vlan");
_Static_assert(sizeof(struct lqos_ip_key) == 20, "lqos_ip_key size");
_Static_assert(__builtin_offsetof(struct lqos_ip_key, addr) == 4, "lqos_ip_key.addr");
_Static_assert(sizeof(struct lqos_ip_info) == 16, "lqos_ip_info size");
_Static_assert(__builtin_offsetof(struct lqos_ip_info, classid_down) == 4, "classid_down");
_Static_assert(__builtin_offsetof(struct lqos_ip_info, classid_up) == 8, "classid_up");
_Static_assert(__builtin_offsetof(struct lqos_ip_info, flags) == 12, "lqos_ip_info.flags");
_Static_assert(sizeof(struct lqos_host_key) == 16, "lqos_host_key size");
_Static_assert(sizeof(struct lqos_host_counters) == 40, "lqos_host_counters size");
_Static_assert(__builtin_offsetof(struct lqos_host_counters, bytes_up) == 16, "bytes_up");
_Static_assert(__builtin_offsetof(struct lqos_host_counters, last_seen_ns) == 32, "last_seen");
_Static_assert(sizeof(struct lqos_dp_config) == 32, "lqos_dp_config size");
_Static_assert(__builtin_offsetof(struct lqos_dp_config, ifindex_to_network) == 12, "to_net");
_Static_assert(__builtin_offsetof(struct lqos_dp_config, internet_vlan) == 16, "inet_vlan");
_Static_assert(__builtin_offsetof(struct lqos_dp_config, network_vlan) == 18, "net_vlan");
_Static_assert(__builtin_offsetof(struct lqos_dp_config, stick_offset) == 20, "stick_off");

#endif /* LQOS_ABI_H */
