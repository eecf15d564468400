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
 * floor_flow_xdp is the floor of lqos_xdp's flow tracking: the parse down to the ports
 * (lqos_l4.h), the LPM lookup, and one update of a flow hash keyed and sized like lqos_flows
 * (look the oriented key up, add to a counter in place, insert when missing): what any
 * per-flow accounting pays, without RTT, retransmits or the cpumap redirect.
 *
 * The maps have no pinning attribute on purpose: the benchmark gets private maps without a
 * bpffs directory, and their names (floor_*) cannot clash with lqos's pins.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"
#include "lqos_parse.h"
#include "lqos_l4.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LQOS_IP_MAP_DEFAULT_ENTRIES);
	__type(key, struct lqos_ip_key);
	__type(value, struct lqos_ip_info);
} floor_ip_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LQOS_FLOWS_DEFAULT_ENTRIES);
	__type(key, struct lqos_flow_key);
	__type(value, struct lqos_flow);
} floor_flows SEC(".maps");

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

/* Download only (the destination is the local side), as every bench frame is. */
SEC("xdp")
int floor_flow_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct lqos_flow_key key __attribute__((aligned(8)));
	struct lqos_pkt pkt = {};
	struct lqos_flow *f;
	struct lqos_l4 l4;
	__be16 ethertype;
	void *l3;

	if (lqos_parse_l3((void *)(long)ctx->data, data_end, &pkt, &l3, &ethertype) !=
	    LQOS_PARSE_OK)
		return XDP_PASS;
	bpf_map_lookup_elem(&floor_ip_map, &pkt.dst);
	lqos_parse_l4(l3, ethertype, data_end, &l4);
	__builtin_memcpy(key.local, pkt.dst.addr, sizeof(key.local));
	__builtin_memcpy(key.remote, pkt.src.addr, sizeof(key.remote));
	key.local_port = l4.dport;
	key.remote_port = l4.sport;
	key.proto = l4.proto;
	key.pad[0] = 0;
	key.pad[1] = 0;
	key.pad[2] = 0;
	f = bpf_map_lookup_elem(&floor_flows, &key);
	if (f) {
		f->dir[0].bytes += l4.ip_len;
		f->dir[0].packets += 1;
	} else {
		struct lqos_flow init = {};

		init.dir[0].bytes = l4.ip_len;
		init.dir[0].packets = 1;
		bpf_map_update_elem(&floor_flows, &key, &init, BPF_NOEXIST);
	}
	return XDP_PASS;
}
