// SPDX-License-Identifier: GPL-2.0-only
/*
 * lqos_test_switch.bpf.c - FOR TESTS ONLY (lqosd never loads it): a two-VLAN switch made of TC
 * programs, because the test kernel has no 802.1Q devices and no bridge VLAN filtering. In
 * the on-a-stick end-to-end test it connects an "internet" host and a "subscribers" host
 * (untagged access ports) to the shaper's one interface (the tagged trunk).
 *
 * sw_access (clsact ingress of an access port): tag the frame with the port's VLAN and send it
 * out of the trunk. sw_trunk (clsact ingress of the trunk): untag and send the frame out of
 * the access port of its VLAN; other VLANs are dropped.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lqos_test_switch_cfg);
} sw_cfg SEC(".maps");

static __always_inline struct lqos_test_switch_cfg *sw_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sw_cfg, &zero);
}

SEC("classifier")
int sw_access(struct __sk_buff *skb)
{
	struct lqos_test_switch_cfg *cfg = sw_config();
	__u16 vlan;

	if (!cfg) /* verifier: NULL check required */
		return TC_ACT_SHOT;
	if (skb->ifindex == cfg->ifindex_internet)
		vlan = cfg->internet_vlan;
	else if (skb->ifindex == cfg->ifindex_subscribers)
		vlan = cfg->network_vlan;
	else
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), vlan) != 0)
		return TC_ACT_SHOT;
	return bpf_redirect(cfg->ifindex_trunk, 0);
}

SEC("classifier")
int sw_trunk(struct __sk_buff *skb)
{
	struct lqos_test_switch_cfg *cfg = sw_config();
	__u16 vlan;
	__u32 to;

	if (!cfg || !skb->vlan_present)
		return TC_ACT_SHOT;
	vlan = skb->vlan_tci & 0x0fff;
	if (vlan == cfg->internet_vlan)
		to = cfg->ifindex_internet;
	else if (vlan == cfg->network_vlan)
		to = cfg->ifindex_subscribers;
	else
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_pop(skb) != 0)
		return TC_ACT_SHOT;
	return bpf_redirect(to, 0);
}
