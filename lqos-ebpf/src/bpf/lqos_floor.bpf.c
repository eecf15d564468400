// SPDX-License-Identifier: GPL-2.0-only
/*
 * lqos_floor.bpf.c - the "floor" of the per-packet benchmark (benches/per_packet.rs), never
 * loaded by lqosd.
 *
 * Each program does the least any subscriber-aware data plane must do per packet: the same
 * header parse as lqos (lqos_parse.h) and one LPM trie lookup of the destination address in a
 * trie of the same key/value types, then lets the packet go. The benchmark reports the real
 * programs' cost as a ratio to this floor, measured in the same run on the same map contents.
 *
 * The map has no pinning attribute on purpose: the benchmark gets a private map without a
 * bpffs directory, and its name (floor_ip_map) cannot clash with lqos's pins.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"
#include "lqos_parse.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LQOS_IP_MAP_DEFAULT_ENTRIES);
	__type(key, struct lqos_ip_key);
	__type(value, struct lqos_ip_info);
} floor_ip_map SEC(".maps");

/* The lookup result is deliberately unused: the helper call cannot be optimised away, and
 * branching on it would only add the cost of a compare. */
SEC("xdp")
int floor_xdp(struct xdp_md *ctx)
{
	struct lqos_pkt pkt = {};

	if (lqos_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pkt) !=
	    LQOS_PARSE_OK)
		return XDP_PASS;
	bpf_map_lookup_elem(&floor_ip_map, &pkt.dst);
	return XDP_PASS;
}

SEC("classifier")
int floor_tc(struct __sk_buff *skb)
{
	struct lqos_pkt pkt = {};

	if (lqos_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt) !=
	    LQOS_PARSE_OK)
		return TC_ACT_OK;
	bpf_map_lookup_elem(&floor_ip_map, &pkt.dst);
	return TC_ACT_OK;
}
