/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lqos_maps.h - the maps of the lqos data plane (BTF-defined, libbpf style; aya reads them).
 * Names are the C identifiers below and must match LQOS_MAP_* in lqos_abi.h and the Rust
 * constants; a Rust test checks each map's type, key size and value size.
 *
 * Every map is pinned by name (in the directory the loader names: lqosd's bpf_pin_dir), so a
 * restarted lqosd reuses the live maps (the IP map survives, shaping never stops) and the
 * programs it swaps in share them with the ones still attached.
 */
#ifndef LQOS_MAPS_H
#define LQOS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"

/* Subscriber prefix -> (cpu, classids). max_entries is overridden by user space before load.
 * The kernel refuses an LPM trie without BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LQOS_IP_MAP_DEFAULT_ENTRIES);
	__type(key, struct lqos_ip_key);
	__type(value, struct lqos_ip_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_ip_map SEC(".maps");

/* CPU index -> cpumap entry (queue size). The kernel rejects more entries than NR_CPUS, so
 * user space sizes it from the possible CPUs before load. No BTF key/value types: the kernel
 * refuses BTF on cpumaps (aya and libbpf both drop it). */
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, LQOS_CPU_MAP_DEFAULT_ENTRIES);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_cpu_map SEC(".maps");

/* Exact host address -> per-CPU counters, written at TC egress. Preallocated (the default)
 * so the fast path never allocates; memory is max_entries * possible CPUs * 40 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, LQOS_HOSTS_DEFAULT_ENTRIES);
	__type(key, struct lqos_host_key);
	__type(value, struct lqos_host_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_hosts SEC(".maps");

/* Traffic without a mapping, and traffic lost to a full lqos_hosts: enum lqos_unknown_slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LQOS_UNKNOWN_SLOTS);
	__type(key, __u32);
	__type(value, struct lqos_host_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_unknown SEC(".maps");

/* Unmapped address -> per-CPU counters, for the WebUI's "unknown IPs" (addresses that send
 * or receive traffic but are in no circuit). LRU, so an address scan cannot fill it: the
 * least recently seen addresses are evicted. Written at TC egress only, like lqos_hosts. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, LQOS_UNKNOWN_HOSTS_ENTRIES);
	__type(key, struct lqos_host_key);
	__type(value, struct lqos_host_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_unk_hosts SEC(".maps");

/* The single struct lqos_dp_config entry (index 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lqos_dp_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_config SEC(".maps");

/* Flow telemetry (lqos_flows.h). Written by lqos_xdp for mapped traffic only.
 *
 * lqos_flows: a preallocated HASH, not an LRU: a flood of new flows must never evict the
 * flows already tracked. When it is full, a new flow is not tracked and counted in
 * lqos_flow_stats[LQOS_FLOW_STAT_INSERT_FAILED]; user space deletes ended and idle flows.
 * Memory: max_entries * (40 + 128 + the kernel's htab element overhead, ~48 bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LQOS_FLOWS_DEFAULT_ENTRIES);
	__type(key, struct lqos_flow_key);
	__type(value, struct lqos_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_flows SEC(".maps");

/* Circuit index -> per-CPU RTT histograms (both sides). max_entries * possible CPUs * 384
 * bytes. Index 0 is "no circuit" and never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LQOS_RTT_DEFAULT_ENTRIES);
	__type(key, __u32);
	__type(value, struct lqos_rtt_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_rtt SEC(".maps");

/* enum lqos_flow_stat: per-CPU cumulative counters of the flow tracking. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LQOS_FLOW_STAT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lqos_flow_stats SEC(".maps");

/* Internal to the programs (user space never reads it, so it is not pinned: each load has its
 * own): per CPU, the coarse clock as last read and the jiffies it was read at. See
 * lqos_now_coarse() in lqos_flows.h. */
struct lqos_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lqos_clock);
} lqos_clock SEC(".maps");

#endif /* LQOS_MAPS_H */
