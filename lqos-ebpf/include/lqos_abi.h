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
#define LQOS_MAP_FLOWS "lqos_flows"
#define LQOS_MAP_RTT "lqos_rtt"
#define LQOS_MAP_FLOW_STATS "lqos_flow_stats"
/* Internal to the programs (not pinned, never read by user space). */
#define LQOS_MAP_CLOCK "lqos_clock"

/* Default sizes compiled into the object; user space overrides them before load. */
#define LQOS_IP_MAP_DEFAULT_ENTRIES 1048576
/* Must never exceed the kernel's NR_CPUS; user space sets it to the number of possible CPUs. */
#define LQOS_CPU_MAP_DEFAULT_ENTRIES 64
#define LQOS_HOSTS_DEFAULT_ENTRIES 65536
/* Unknown addresses tracked one by one (LRU: the least recently seen make room). */
#define LQOS_UNKNOWN_HOSTS_ENTRIES 4096
/* Flows tracked at once (lqos_flows); user space sets [flows] max_flows before load. */
#define LQOS_FLOWS_DEFAULT_ENTRIES 262144
/* Circuit indexes with an RTT histogram (lqos_rtt); user space sets [flows] max_circuits. */
#define LQOS_RTT_DEFAULT_ENTRIES 131072

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
	/* The circuit's index in lqos_rtt (assigned by lqosd, stable while the circuit exists);
	 * 0 = none (no RTT histogram; the flow is still tracked). */
	__u32 circuit;
};

/* Exact host address (IPv4-mapped for IPv4): the key of lqos_hosts. */
struct lqos_host_key {
	__u8 addr[16];
};

/*
 * Per-CPU traffic counters, the value of lqos_hosts and of lqos_unknown.
 * Bytes are skb->len at TC egress (L2 frame, including the Ethernet header); packets count
 * GSO segments. last_seen_ns is CLOCK_MONOTONIC at tick resolution (the coarse clock, up to
 * two ticks behind: lqos_now_coarse() in lqos_flows.h) of the last packet on that CPU; user space sums the
 * counters over CPUs and takes the maximum of last_seen_ns.
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

/*
 * Flow telemetry (written by lqos_xdp, for mapped traffic only).
 *
 * A flow is oriented: `local` is the subscriber's address (the one found in lqos_ip_map),
 * `remote` the other end, so both directions of a connection share one entry. Addresses are
 * IPv4-mapped for IPv4; ports are in network byte order as on the wire (0 for protocols
 * without ports).
 */
struct lqos_flow_key {
	__u8 remote[16];
	__u8 local[16];
	__u16 remote_port;
	__u16 local_port;
	__u8 proto;
	__u8 pad[3];
};

/* Index of lqos_flow.dir[] and lqos_flow.rtt_us[]: the direction of the packets. */
#define LQOS_FLOW_DOWN 0 /* towards the subscriber (arrived on to_internet) */
#define LQOS_FLOW_UP 1	 /* towards the Internet (arrived on to_network) */

/*
 * One direction of a flow. Sequence and timestamp fields are TCP only (0 otherwise).
 * Counters are cumulative and wrap; user space takes wrapping differences.
 */
struct lqos_flow_dir {
	__u64 bytes;	      /* IP packet lengths (L3, no Ethernet header) */
	__u32 packets;
	__u32 retransmits;    /* TCP segments whose sequence number went backwards */
	__u32 highest_seq;    /* end (seq + payload, SYN/FIN count 1) of the furthest segment */
	__u32 tsval;	      /* newest TSval seen, to record only its first appearance */
	__u32 tsecr;	      /* newest TSecr seen */
	__u32 pending_tsval;  /* a TSval waiting for its echo from the other direction; 0: none */
	__u64 pending_ns;     /* when pending_tsval was seen (bpf_ktime_get_ns, precise) */
};

/* lqos_flow.end bits */
#define LQOS_FLOW_FIN (1u << 0)
#define LQOS_FLOW_RST (1u << 1)

/*
 * The value of lqos_flows (128 bytes). RTT samples are taken from data sent in direction d
 * and echoed (TSecr) by an ACK in the other direction: rtt_us[LQOS_FLOW_DOWN] is the
 * subscriber RTT (last mile + the shaper's queue), rtt_us[LQOS_FLOW_UP] the internet RTT.
 */
struct lqos_flow {
	__u64 first_seen_ns;  /* CLOCK_MONOTONIC at tick resolution (coarse, lqos_now_coarse) */
	__u64 last_seen_ns;
	__u32 circuit;	      /* lqos_ip_info.circuit of the local address */
	__u8 end;	      /* LQOS_FLOW_FIN | LQOS_FLOW_RST once seen (either direction) */
	__u8 reserved[3];
	__u32 rtt_us[2];      /* the last RTT sample per direction of the data, 0: none yet */
	__u64 sample_ns[2];   /* when that sample was taken (coarse; at most one per 100 ms) */
	struct lqos_flow_dir dir[2];
};

/*
 * RTT histograms, the value of lqos_rtt (a PERCPU_ARRAY indexed by circuit index).
 * Bucket i counts samples with RTT <= LQOS_RTT_EDGES_US[i] (and above the previous edge);
 * the last bucket counts everything above the last edge. sum_us is the sum of the samples
 * in the bucket (so a percentile can be told inside a bucket). Cumulative, wrapping.
 */
#define LQOS_RTT_BUCKETS 24
/* Upper edges of buckets 0..22 in microseconds; bucket 23 is "more than 1 s". */
#define LQOS_RTT_EDGES_US                                                                  \
	{ 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12500, 15000, 20000, 25000, 30000, \
	  40000, 50000, 65000, 80000, 100000, 150000, 200000, 350000, 600000, 1000000 }

#define LQOS_RTT_SUBSCRIBER 0 /* lqos_rtt_hist.side[]: down data, the subscriber's ACK */
#define LQOS_RTT_INTERNET 1   /* up data, the remote ACK */

struct lqos_rtt_side {
	__u32 count[LQOS_RTT_BUCKETS];
	__u32 sum_us[LQOS_RTT_BUCKETS];
};

struct lqos_rtt_hist {
	struct lqos_rtt_side side[2];
};

/* Indexes of lqos_flow_stats (a PERCPU_ARRAY of __u64, cumulative). */
enum lqos_flow_stat {
	LQOS_FLOW_STAT_INSERTS = 0,	   /* flows created */
	LQOS_FLOW_STAT_INSERT_FAILED = 1,  /* a new flow not tracked: lqos_flows full */
	LQOS_FLOW_STAT_RTT_SAMPLES = 2,	   /* samples added to lqos_rtt */
	LQOS_FLOW_STAT_RTT_NO_CIRCUIT = 3, /* samples of a circuit index outside lqos_rtt (or 0) */
	LQOS_FLOW_STAT_SLOTS = 4,
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
_Static_assert(sizeof(struct lqos_ip_info) == 20, "lqos_ip_info size");
_Static_assert(__builtin_offsetof(struct lqos_ip_info, circuit) == 16, "lqos_ip_info.circuit");
_Static_assert(sizeof(struct lqos_flow_key) == 40, "lqos_flow_key size");
_Static_assert(__builtin_offsetof(struct lqos_flow_key, local) == 16, "flow_key.local");
_Static_assert(__builtin_offsetof(struct lqos_flow_key, remote_port) == 32, "remote_port");
_Static_assert(__builtin_offsetof(struct lqos_flow_key, local_port) == 34, "local_port");
_Static_assert(__builtin_offsetof(struct lqos_flow_key, proto) == 36, "flow_key.proto");
_Static_assert(sizeof(struct lqos_flow_dir) == 40, "lqos_flow_dir size");
_Static_assert(__builtin_offsetof(struct lqos_flow_dir, retransmits) == 12, "retransmits");
_Static_assert(__builtin_offsetof(struct lqos_flow_dir, pending_ns) == 32, "pending_ns");
_Static_assert(sizeof(struct lqos_flow) == 128, "lqos_flow size");
_Static_assert(__builtin_offsetof(struct lqos_flow, circuit) == 16, "flow.circuit");
_Static_assert(__builtin_offsetof(struct lqos_flow, end) == 20, "flow.end");
_Static_assert(__builtin_offsetof(struct lqos_flow, rtt_us) == 24, "flow.rtt_us");
_Static_assert(__builtin_offsetof(struct lqos_flow, sample_ns) == 32, "flow.sample_ns");
_Static_assert(__builtin_offsetof(struct lqos_flow, dir) == 48, "flow.dir");
_Static_assert(sizeof(struct lqos_rtt_side) == 192, "lqos_rtt_side size");
_Static_assert(sizeof(struct lqos_rtt_hist) == 384, "lqos_rtt_hist size");
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
