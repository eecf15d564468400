/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lqos_l4.h - the transport layer of a parsed packet (XDP flow tracking and its bench floor):
 * protocol, ports, IP length and the TCP header.
 *
 * IPv4: the header length (IHL) is respected; a non-first fragment has no transport header,
 * so its ports are 0 (and it is not looked at as TCP). IPv6: the transport protocol is the
 * fixed header's next header; extension headers are not walked, so a packet with one (hop-by-
 * hop, routing, fragment, ...) is tracked as a flow of that next-header value with ports 0.
 * Ordinary TCP/UDP over IPv6 carries none.
 */
#ifndef LQOS_L4_H
#define LQOS_L4_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define LQOS_IP_OFFSET 0x1fff	 /* fragment offset */

struct lqos_l4 {
	/* The TCP header (its fixed 20 bytes are in bounds), NULL when not TCP. */
	struct tcphdr *tcp;
	/* IP length: IPv4 total length, IPv6 payload length + 40. */
	__u32 ip_len;
	/* Bytes after the IP header(s) (TCP: header + payload). */
	__u32 l4_len;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

/* Fills l4 from the IP header at l3 (as lqos_parse_l3 returned it). Never fails: what cannot
 * be read (short frame, fragment) leaves ports 0 and tcp NULL. */
static __always_inline void lqos_parse_l4(void *l3, __be16 ethertype, void *data_end,
					  struct lqos_l4 *l4)
{
	void *th;

	l4->tcp = NULL;
	l4->sport = 0;
	l4->dport = 0;
	if (ethertype == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3; /* 20 bytes checked by the L3 parse */
		__u32 ihl = (__u32)ip->ihl * 4;

		l4->proto = ip->protocol;
		l4->ip_len = bpf_ntohs(ip->tot_len);
		l4->l4_len = l4->ip_len > ihl ? l4->ip_len - ihl : 0;
		if (ihl < sizeof(struct iphdr) || (ip->frag_off & bpf_htons(LQOS_IP_OFFSET)))
			return;
		th = l3 + ihl;
	} else {
		struct ipv6hdr *ip6 = l3;

		l4->proto = ip6->nexthdr;
		l4->l4_len = bpf_ntohs(ip6->payload_len);
		l4->ip_len = l4->l4_len + sizeof(struct ipv6hdr);
		th = ip6 + 1;
	}
	if (l4->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = th;

		if ((void *)(tcp + 1) > data_end)
			return;
		l4->tcp = tcp;
		l4->sport = tcp->source;
		l4->dport = tcp->dest;
	} else if (l4->proto == IPPROTO_UDP) {
		struct udphdr *udp = th;

		if ((void *)(udp + 1) > data_end)
			return;
		l4->sport = udp->source;
		l4->dport = udp->dest;
	}
}

#endif /* LQOS_L4_H */
