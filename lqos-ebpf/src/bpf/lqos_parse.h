/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lqos_parse.h - header parsing and direction, shared by the XDP and the TC program.
 * Everything is __always_inline: one program per section, no BPF-to-BPF calls to reason about.
 */
#ifndef LQOS_PARSE_H
#define LQOS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"

/* 802.1Q/802.1ad tag; the kernel's struct vlan_hdr is not part of the UAPI headers. */
struct lqos_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

#define LQOS_VLAN_VID_MASK 0x0fff
/* Ethernet + two VLAN tags (QinQ) + IPv6: the most a parse ever reads. */
#define LQOS_MAX_HDR_LEN (ETH_HLEN + 2 * sizeof(struct lqos_vlan_hdr) + sizeof(struct ipv6hdr))

enum lqos_dir {
	LQOS_DIR_NONE = 0,
	LQOS_DIR_DOWN = 1, /* towards the subscribers: look up the destination */
	LQOS_DIR_UP = 2,   /* towards the Internet: look up the source */
};

enum lqos_parse_result {
	LQOS_PARSE_OK = 0,
	LQOS_PARSE_NOT_IP = 1,
	/* Ran past data_end: a truncated frame, or (TC) headers outside the linear area. */
	LQOS_PARSE_SHORT = 2,
};

struct lqos_pkt {
	/* Both keys are ready for the LPM trie (prefixlen 128); .addr is the exact host. */
	struct lqos_ip_key src;
	struct lqos_ip_key dst;
	/* VLAN id of the outermost tag in the frame data, 0 if untagged. */
	__u16 vlan;
};

/* ::ffff:a.b.c.d. The words are written through a __u32 pointer: key->addr sits at offset 4
 * of a 4-byte aligned struct, and the verifier rejects misaligned stack stores. */
static __always_inline void lqos_set_v4_mapped(struct lqos_ip_key *key, __be32 addr)
{
	__u32 *w = (__u32 *)key->addr;

	key->prefixlen = 128;
	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = addr;
}

static __always_inline void lqos_set_v6(struct lqos_ip_key *key, const struct in6_addr *addr)
{
	key->prefixlen = 128;
	__builtin_memcpy(key->addr, addr, sizeof(key->addr));
}

/* Parse Ethernet, up to two VLAN tags (0x88a8/0x8100 outer, 0x8100 inner), IPv4 or IPv6.
 * Every header access is preceded by a check against data_end: the verifier rejects any
 * packet read it cannot prove in bounds. *l3 gets the IP header (checked to be in bounds,
 * IPv4: its fixed 20 bytes) and *ethertype ETH_P_IP or ETH_P_IPV6 (network order); callers
 * that do not use them pay nothing (everything is inlined, dead stores vanish). */
static __always_inline int lqos_parse_l3(void *data, void *data_end, struct lqos_pkt *pkt,
					 void **l3, __be16 *ethertype)
{
	struct ethhdr *eth = data;
	void *cursor;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return LQOS_PARSE_SHORT;
	proto = eth->h_proto;
	cursor = eth + 1;

	/* A fixed trip count: the verifier needs bounded loops, and unrolling keeps the
	 * cursor a constant offset so the bounds checks stay simple. */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct lqos_vlan_hdr *vh = cursor;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return LQOS_PARSE_SHORT;
		if (i == 0)
			pkt->vlan = bpf_ntohs(vh->tci) & LQOS_VLAN_VID_MASK;
		proto = vh->encapsulated_proto;
		cursor = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;

		if ((void *)(ip + 1) > data_end)
			return LQOS_PARSE_SHORT;
		lqos_set_v4_mapped(&pkt->src, ip->saddr);
		lqos_set_v4_mapped(&pkt->dst, ip->daddr);
		*l3 = ip;
		*ethertype = proto;
		return LQOS_PARSE_OK;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;

		if ((void *)(ip6 + 1) > data_end)
			return LQOS_PARSE_SHORT;
		lqos_set_v6(&pkt->src, &ip6->saddr);
		lqos_set_v6(&pkt->dst, &ip6->daddr);
		*l3 = ip6;
		*ethertype = proto;
		return LQOS_PARSE_OK;
	}
	return LQOS_PARSE_NOT_IP;
}

/* lqos_parse_l3 for callers that need the addresses only (TC, the floors). */
static __always_inline int lqos_parse(void *data, void *data_end, struct lqos_pkt *pkt)
{
	void *l3;
	__be16 ethertype;

	return lqos_parse_l3(data, data_end, pkt, &l3, &ethertype);
}

/* Direction of a frame arriving on ifindex with outer VLAN id vlan (0: untagged). */
static __always_inline enum lqos_dir lqos_ingress_dir(const struct lqos_dp_config *cfg,
						      __u32 ifindex, __u16 vlan)
{
	if (cfg->flags & LQOS_CFG_ON_A_STICK) {
		if (ifindex != cfg->ifindex_to_internet)
			return LQOS_DIR_NONE;
		if (vlan == cfg->internet_vlan)
			return LQOS_DIR_DOWN;
		if (vlan == cfg->network_vlan)
			return LQOS_DIR_UP;
		return LQOS_DIR_NONE;
	}
	/* An unset config (ifindex 0) matches nothing: real ifindexes start at 1. */
	if (ifindex == cfg->ifindex_to_internet)
		return LQOS_DIR_DOWN;
	if (ifindex == cfg->ifindex_to_network)
		return LQOS_DIR_UP;
	return LQOS_DIR_NONE;
}

/* Direction of a frame leaving through ifindex with outer VLAN id vlan. */
static __always_inline enum lqos_dir lqos_egress_dir(const struct lqos_dp_config *cfg,
						     __u32 ifindex, __u16 vlan)
{
	if (cfg->flags & LQOS_CFG_ON_A_STICK) {
		if (ifindex != cfg->ifindex_to_network)
			return LQOS_DIR_NONE;
		if (vlan == cfg->network_vlan)
			return LQOS_DIR_DOWN;
		if (vlan == cfg->internet_vlan)
			return LQOS_DIR_UP;
		return LQOS_DIR_NONE;
	}
	if (ifindex == cfg->ifindex_to_network)
		return LQOS_DIR_DOWN;
	if (ifindex == cfg->ifindex_to_internet)
		return LQOS_DIR_UP;
	return LQOS_DIR_NONE;
}

/* The CPU (and tx queue) of a mapping in a direction: upload on a stick uses the upper half. */
static __always_inline __u32 lqos_cpu_for(const struct lqos_dp_config *cfg,
					  const struct lqos_ip_info *info, enum lqos_dir dir)
{
	if (dir == LQOS_DIR_UP && (cfg->flags & LQOS_CFG_ON_A_STICK))
		return info->cpu + cfg->stick_offset;
	return info->cpu;
}

#endif /* LQOS_PARSE_H */
