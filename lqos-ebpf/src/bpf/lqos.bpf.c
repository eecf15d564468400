// SPDX-License-Identifier: GPL-2.0-only
/*
 * lqos.bpf.c - the lqos data plane: one object, two programs sharing the maps.
 *
 * lqos_xdp (XDP, on the ingress of the shaped interfaces): steers each subscriber's packets
 * to the CPU of its mapping through the cpumap, so that all of a subscriber's traffic is
 * handled, and transmitted, by one CPU (and so reaches the HTB of that CPU's tx queue). It
 * also tracks the flows of mapped subscribers, their TCP RTT and retransmits (lqos_flows.h).
 *
 * lqos_tc_egress (TC clsact egress, section "classifier" because aya rejects libbpf's "tc"):
 * counts bytes/packets per host and direction and sets skb->priority to the HTB classid of
 * the direction of that interface.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"
#include "lqos_maps.h"
#include "lqos_parse.h"
#include "lqos_flows.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline struct lqos_dp_config *lqos_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lqos_config, &zero);
}

/* Per-CPU counters need no atomics: XDP and TC programs run with bottom halves disabled, so
 * nothing else on this CPU touches the same slot while we add. */
static __always_inline void lqos_add(struct lqos_host_counters *c, enum lqos_dir dir,
				     __u64 bytes, __u64 packets, __u64 now)
{
	if (dir == LQOS_DIR_DOWN) {
		c->bytes_down += bytes;
		c->packets_down += packets;
	} else {
		c->bytes_up += bytes;
		c->packets_up += packets;
	}
	c->last_seen_ns = now;
}

static __always_inline void lqos_count_unknown(__u32 slot, enum lqos_dir dir, __u64 bytes,
					       __u64 packets)
{
	struct lqos_host_counters *c = bpf_map_lookup_elem(&lqos_unknown, &slot);

	/* The verifier insists on the NULL check even for an in-range array index. */
	if (c)
		lqos_add(c, dir, bytes, packets, lqos_now_coarse());
}

static __always_inline void lqos_count_host(const struct lqos_ip_key *key, enum lqos_dir dir,
					    __u64 bytes, __u64 packets)
{
	/* lqos_hosts is keyed by the bare 16-byte address that follows prefixlen. */
	const struct lqos_host_key *host = (const void *)key->addr;
	struct lqos_host_counters *c = bpf_map_lookup_elem(&lqos_hosts, host);
	__u64 now = lqos_now_coarse();

	if (c) {
		lqos_add(c, dir, bytes, packets, now);
		return;
	}
	/* First packet of this host: create the entry (this CPU's slot gets the counts, the
	 * kernel zeroes the others). Another CPU may have created it meanwhile (EEXIST): then
	 * look it up again. Still nothing means the map is full. */
	struct lqos_host_counters init = {};

	lqos_add(&init, dir, bytes, packets, now);
	if (bpf_map_update_elem(&lqos_hosts, host, &init, BPF_NOEXIST) == 0)
		return;
	c = bpf_map_lookup_elem(&lqos_hosts, host);
	if (c)
		lqos_add(c, dir, bytes, packets, now);
	else
		lqos_count_unknown(LQOS_UNKNOWN_HOSTS_FULL, dir, bytes, packets);
}

/* The same, per unknown address, in the LRU map (an update never fails for lack of room). */
static __always_inline void lqos_count_unknown_host(const struct lqos_ip_key *key,
						    enum lqos_dir dir, __u64 bytes, __u64 packets)
{
	const struct lqos_host_key *host = (const void *)key->addr;
	struct lqos_host_counters *c = bpf_map_lookup_elem(&lqos_unk_hosts, host);
	__u64 now = lqos_now_coarse();
	struct lqos_host_counters init = {};

	if (c) {
		lqos_add(c, dir, bytes, packets, now);
		return;
	}
	lqos_add(&init, dir, bytes, packets, now);
	if (bpf_map_update_elem(&lqos_unk_hosts, host, &init, BPF_NOEXIST) == 0)
		return;
	/* Another CPU created it meanwhile (EEXIST): count into that entry. */
	c = bpf_map_lookup_elem(&lqos_unk_hosts, host);
	if (c)
		lqos_add(c, dir, bytes, packets, now);
}

SEC("xdp")
int lqos_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lqos_dp_config *cfg = lqos_config_get();
	struct lqos_pkt pkt = {};
	struct lqos_ip_info *info;
	struct lqos_ip_key *key;
	enum lqos_dir dir;
	__be16 ethertype;
	void *l3;

	/* Map lookups may return NULL as far as the verifier knows, even index 0 of an ARRAY. */
	if (!cfg)
		return XDP_PASS;
	if (lqos_parse_l3(data, data_end, &pkt, &l3, &ethertype) != LQOS_PARSE_OK)
		return XDP_PASS;
	/* A tag stripped by the NIC (rx VLAN offload) is invisible here: on a stick, turn
	 * rxvlan offload off. */
	dir = lqos_ingress_dir(cfg, ctx->ingress_ifindex, pkt.vlan);
	if (dir == LQOS_DIR_NONE)
		return XDP_PASS;
	key = dir == LQOS_DIR_DOWN ? &pkt.dst : &pkt.src;
	info = bpf_map_lookup_elem(&lqos_ip_map, key);
	if (!info) {
		lqos_count_unknown(LQOS_UNKNOWN_XDP, dir, bpf_xdp_get_buff_len(ctx), 1);
		return XDP_PASS;
	}
	/* Mapped traffic only, in shape and observe modes. */
	lqos_flow_track(&pkt, l3, ethertype, data_end, dir, info);
	if (cfg->mode != LQOS_MODE_SHAPE)
		return XDP_PASS;
	/* The low bits of flags are the verdict when the cpumap slot is empty: an unpopulated
	 * CPU passes the packet on this CPU instead of dropping it. */
	return bpf_redirect_map(&lqos_cpu_map, lqos_cpu_for(cfg, info, dir), XDP_PASS);
}

SEC("classifier")
int lqos_tc_egress(struct __sk_buff *skb)
{
	struct lqos_dp_config *cfg = lqos_config_get();
	struct lqos_pkt pkt = {};
	struct lqos_ip_info *info;
	struct lqos_ip_key *key;
	enum lqos_dir dir;
	__u16 vlan;
	__u64 packets;
	int parsed;

	if (!cfg) /* verifier: NULL check required, as above */
		return TC_ACT_OK;
	parsed = lqos_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt);
	if (parsed == LQOS_PARSE_SHORT) {
		/* Headers outside the linear area: pull them in (this invalidates every packet
		 * pointer, so data/data_end are reloaded) and parse again. */
		__u32 want = skb->len < LQOS_MAX_HDR_LEN ? skb->len : LQOS_MAX_HDR_LEN;

		if (bpf_skb_pull_data(skb, want) != 0)
			return TC_ACT_OK;
		parsed = lqos_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt);
	}
	if (parsed != LQOS_PARSE_OK)
		return TC_ACT_OK;
	/* A tag the stack will insert on transmit (VLAN device, hw offload) is metadata, not
	 * frame data; it is the outermost one. */
	vlan = skb->vlan_present ? (skb->vlan_tci & LQOS_VLAN_VID_MASK) : pkt.vlan;
	dir = lqos_egress_dir(cfg, skb->ifindex, vlan);
	if (dir == LQOS_DIR_NONE)
		return TC_ACT_OK;

	packets = skb->gso_segs ? skb->gso_segs : 1;
	key = dir == LQOS_DIR_DOWN ? &pkt.dst : &pkt.src;
	info = bpf_map_lookup_elem(&lqos_ip_map, key);
	if (!info) {
		lqos_count_unknown(LQOS_UNKNOWN_TC, dir, skb->len, packets);
		lqos_count_unknown_host(key, dir, skb->len, packets);
		return TC_ACT_OK;
	}
	lqos_count_host(key, dir, skb->len, packets);
	if (cfg->mode != LQOS_MODE_SHAPE)
		return TC_ACT_OK;
	/* HTB (under mq, one per tx queue) honours a priority whose major is its own handle. */
	skb->priority = dir == LQOS_DIR_DOWN ? info->classid_down : info->classid_up;
	/* The tx queue is picked after this program runs, so queue_mapping cannot select it
	 * directly; the kernel's flow-hash fallback (no XPS map, no socket) reads it as a
	 * recorded rx queue, "queue + 1". See LQOS_CFG_SET_QUEUE_MAPPING. */
	if (cfg->flags & LQOS_CFG_SET_QUEUE_MAPPING)
		skb->queue_mapping = lqos_cpu_for(cfg, info, dir) + 1;
	return TC_ACT_OK;
}

/*
 * lqos_tc_stick (TC clsact ingress; attached in on-a-stick mode only): on a stick the shaper
 * is the only path between the interface's two VLANs. Every frame that arrives tagged
 * internet_vlan leaves through the same interface tagged network_vlan, and the other way
 * round, by a redirect to the interface's egress: so it meets lqos_tc_egress and the mq/HTB
 * tree like any transmitted packet. XDP has already steered IP packets of mapped subscribers
 * to their CPU. Frames on other VLANs (or untagged) go to the stack untouched.
 */
SEC("classifier")
int lqos_tc_stick(struct __sk_buff *skb)
{
	struct lqos_dp_config *cfg = lqos_config_get();
	__u16 vlan, proto, tci;

	if (!cfg || !(cfg->flags & LQOS_CFG_ON_A_STICK))
		return TC_ACT_OK;
	if (skb->ifindex != cfg->ifindex_to_internet)
		return TC_ACT_OK;
	/* The stack moves the outer tag into metadata before the ingress hook runs. */
	if (!skb->vlan_present)
		return TC_ACT_OK;
	vlan = skb->vlan_tci & LQOS_VLAN_VID_MASK;
	/* Keep the priority (PCP/DEI) bits of the tag; swap the VLAN id. */
	tci = skb->vlan_tci & ~LQOS_VLAN_VID_MASK;
	if (vlan == cfg->internet_vlan)
		tci |= cfg->network_vlan;
	else if (vlan == cfg->network_vlan)
		tci |= cfg->internet_vlan;
	else
		return TC_ACT_OK;
	proto = (__u16)skb->vlan_proto;
	if (bpf_skb_vlan_pop(skb) != 0 || bpf_skb_vlan_push(skb, proto, tci) != 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}
