/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lqos_flows.h - flow tracking, passive TCP RTT and retransmits, for lqos_xdp.
 *
 * Called only after the IP-map hit (a mapped subscriber), in shape and observe modes, so
 * unmapped traffic never creates a flow. One entry per connection, oriented: local = the
 * subscriber's (mapped) address, remote = the other end; dir[LQOS_FLOW_DOWN] counts packets
 * arriving on to_internet, dir[LQOS_FLOW_UP] those arriving on to_network.
 *
 * RTT (Kathie Nichols' pping method, as ePPing and LibreQoS do it): a TSval seen for the first
 * time on a data (or SYN) segment is remembered with the time it passed; the first ACK in the
 * other direction whose TSecr echoes it gives a sample, now - then. Data going down and the
 * subscriber's ACK give the subscriber RTT (last mile + the shaper's queue, since XDP runs
 * before the HTB); data going up and the remote ACK give the internet RTT (upload queue +
 * the Internet path). Rules: one pending TSval per direction (a new one only when none waits
 * or the waiting one is older than LQOS_TSVAL_TIMEOUT_NS), at most one sample per direction
 * per LQOS_RTT_SAMPLE_INTERVAL_NS, match only with the ACK flag and a non-zero TSecr newer
 * than the last TSecr of that direction; an echo past the pending TSval means it was missed
 * (reordering, an ACK that covered it): dropped.
 *
 * Retransmits: per direction, highest_seq is the end (seq + payload, SYN and FIN count one)
 * of the furthest segment seen; a segment that consumes sequence space and starts before it
 * counts as a retransmit. Duplicated and reordered segments count too; pure ACKs never.
 *
 * Races, accepted as LibreQoS accepts them: the entry is shared by all CPUs and written
 * without atomics. The two directions of a flow usually arrive on different CPUs (different
 * interfaces/queues), so a counter increment can be lost when both CPUs write the same
 * cache line at the same instant, and `end`/`circuit` writes are last-writer-wins. Per-
 * direction fields are written by the CPU of that direction only (one rx queue per flow and
 * direction under RSS), except pending_tsval, which the other direction clears on a match.
 * The histograms (lqos_rtt) and the statistics are per-CPU, so exact.
 */
#ifndef LQOS_FLOWS_H
#define LQOS_FLOWS_H

#include <linux/bpf.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lqos_abi.h"
#include "lqos_maps.h"
#include "lqos_parse.h"
#include "lqos_l4.h"

/* A pending TSval older than this is stale: replaced by a new one, never matched (10 s). */
#define LQOS_TSVAL_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000)
/* At most one RTT sample per flow and direction of the data in this interval (100 ms). */
#define LQOS_RTT_SAMPLE_INTERVAL_NS (100ULL * 1000 * 1000)
/* TCP options walked at most when the timestamp is not where Linux and most stacks put it. */
#define LQOS_TCP_OPT_WALK 10

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

#define LQOS_TCP_FIN 0x01
#define LQOS_TCP_SYN 0x02
#define LQOS_TCP_RST 0x04
#define LQOS_TCP_ACK 0x10
/* NOP, NOP, kind 8 (timestamp), length 10: the layout of Linux, BSD and Windows. */
#define LQOS_TCP_NOP_NOP_TS 0x0101080a

/*
 * The clock of the per-packet path: CLOCK_MONOTONIC at tick resolution. Helper calls are dear
 * on the KVM guests measured (docs/benchmarks.md): bpf_ktime_get_ns() ~40 ns, more than the
 * rest of the TC program, and even bpf_ktime_get_coarse_ns() ~10 ns. bpf_jiffies64() is
 * inlined by the verifier (one load), and the coarse clock only moves when jiffies do, so each
 * CPU keeps the coarse time it read at the current jiffy (lqos_clock, an inlined per-CPU array
 * lookup) and reads the clock again only when jiffies moved: once per tick per CPU. The value
 * can lag the precise clock by up to two ticks (2-8 ms). last/first_seen, sample_ns and the
 * interval and staleness checks use it; only the two ends of an RTT sample (pending_ns and the
 * echo) read the precise clock, a few times per second per flow.
 */
static __always_inline __u64 lqos_now_coarse(void)
{
	__u32 zero = 0;
	struct lqos_clock *c = bpf_map_lookup_elem(&lqos_clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies != j) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->ns;
}

/* a is before b in sequence/timestamp space (RFC 7323 wrap-around compare). */
static __always_inline int lqos_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static __always_inline void lqos_flow_stat(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&lqos_flow_stats, &slot);

	if (c)
		*c += 1;
}

/* The timestamp option of tcp (whose fixed header is in bounds): 1 and tsval, tsecr (host
 * order) if present. Fast path: NOP,NOP,TS at the start of the options. Else a walk of at
 * most LQOS_TCP_OPT_WALK options, every read checked against data_end and the header. */
static __always_inline int lqos_tcp_ts(struct tcphdr *tcp, void *data_end, __u32 *tsval,
				       __u32 *tsecr)
{
	__u32 optlen = (__u32)tcp->doff * 4;
	__u8 *opt = (__u8 *)(tcp + 1);
	__u32 off = 0;

	if (optlen <= sizeof(*tcp))
		return 0;
	optlen -= sizeof(*tcp); /* 1..40 */
	if (optlen >= 12 && (void *)(opt + 12) <= data_end) {
		__be32 *w = (__be32 *)opt;

		if (w[0] == bpf_htonl(LQOS_TCP_NOP_NOP_TS)) {
			*tsval = bpf_ntohl(w[1]);
			*tsecr = bpf_ntohl(w[2]);
			return 1;
		}
	}
#pragma unroll
	for (int i = 0; i < LQOS_TCP_OPT_WALK; i++) {
		__u8 *p;
		__u8 kind, len;

		if (off >= optlen || off > 40)
			return 0;
		p = opt + off;
		if ((void *)(p + 2) > data_end)
			return 0;
		kind = p[0];
		if (kind == 0) /* end of options */
			return 0;
		if (kind == 1) { /* NOP */
			off += 1;
			continue;
		}
		len = p[1];
		if (kind == 8) {
			if (len != 10 || off + 10 > optlen || (void *)(p + 10) > data_end)
				return 0;
			*tsval = (__u32)p[2] << 24 | (__u32)p[3] << 16 | (__u32)p[4] << 8 | p[5];
			*tsecr = (__u32)p[6] << 24 | (__u32)p[7] << 16 | (__u32)p[8] << 8 | p[9];
			return 1;
		}
		if (len < 2)
			return 0;
		off += len;
	}
	return 0;
}

/* One RTT sample of data sent in direction `side` (LQOS_FLOW_DOWN = LQOS_RTT_SUBSCRIBER,
 * LQOS_FLOW_UP = LQOS_RTT_INTERNET) into the circuit's per-CPU histogram. */
static __always_inline void lqos_rtt_add(__u32 circuit, __u32 side, __u32 us)
{
	const __u32 edges[LQOS_RTT_BUCKETS - 1] = LQOS_RTT_EDGES_US;
	struct lqos_rtt_hist *h;
	__u32 bucket = 0;

	if (circuit == 0) {
		lqos_flow_stat(LQOS_FLOW_STAT_RTT_NO_CIRCUIT);
		return;
	}
	h = bpf_map_lookup_elem(&lqos_rtt, &circuit);
	if (!h) {
		lqos_flow_stat(LQOS_FLOW_STAT_RTT_NO_CIRCUIT);
		return;
	}
	/* The first edge >= us: the number of edges below it (unrolled, constants only). */
#pragma unroll
	for (int i = 0; i < LQOS_RTT_BUCKETS - 1; i++)
		bucket += us > edges[i];
	if (bucket >= LQOS_RTT_BUCKETS) /* for the verifier */
		return;
	h->side[side & 1].count[bucket] += 1;
	h->side[side & 1].sum_us[bucket] += us;
	lqos_flow_stat(LQOS_FLOW_STAT_RTT_SAMPLES);
}

/* Sequence, FIN/RST and timestamp handling of one TCP segment going in direction di. */
static __always_inline void lqos_flow_tcp(struct lqos_flow *f, __u32 di, struct tcphdr *tcp,
					  __u32 l4_len, void *data_end, __u32 circuit,
					  __u64 now)
{
	struct lqos_flow_dir *d = &f->dir[di & 1];
	struct lqos_flow_dir *o = &f->dir[(di ^ 1) & 1];
	__u8 flags = ((__u8 *)tcp)[13];
	__u32 hdr = (__u32)tcp->doff * 4;
	__u32 payload = l4_len > hdr ? l4_len - hdr : 0;
	__u32 seq = bpf_ntohl(tcp->seq);
	__u32 end = seq + payload + !!(flags & LQOS_TCP_SYN) + !!(flags & LQOS_TCP_FIN);
	__u32 tsval, tsecr, pending;

	if (flags & (LQOS_TCP_FIN | LQOS_TCP_RST))
		f->end |= ((flags & LQOS_TCP_FIN) ? LQOS_FLOW_FIN : 0) |
			  ((flags & LQOS_TCP_RST) ? LQOS_FLOW_RST : 0);

	if (d->packets == 1) { /* the first packet of this direction (counted already) */
		d->highest_seq = end;
	} else {
		if (end != seq && lqos_before(seq, d->highest_seq))
			d->retransmits += 1;
		if (lqos_before(d->highest_seq, end))
			d->highest_seq = end;
	}

	if (!lqos_tcp_ts(tcp, data_end, &tsval, &tsecr))
		return;
	/* Record: the first appearance of a TSval on a segment with payload or SYN. */
	if (d->tsval == 0 || lqos_before(d->tsval, tsval)) {
		d->tsval = tsval;
		if ((payload || (flags & LQOS_TCP_SYN)) &&
		    (__s64)(now - f->sample_ns[di & 1]) >= (__s64)LQOS_RTT_SAMPLE_INTERVAL_NS &&
		    (d->pending_tsval == 0 ||
		     (__s64)(now - d->pending_ns) > (__s64)LQOS_TSVAL_TIMEOUT_NS)) {
			/* The precise clock: one end of a sample. Written before the TSval, so a
			 * CPU that sees the TSval sees its time (x86 keeps stores in order). */
			d->pending_ns = bpf_ktime_get_ns();
			barrier();
			d->pending_tsval = tsval;
		}
	}
	/* Match: an ACK echoing a newer TSecr against the other direction's pending TSval. */
	if (!(flags & LQOS_TCP_ACK) || tsecr == 0)
		return;
	if (d->tsecr != 0 && !lqos_before(d->tsecr, tsecr))
		return;
	d->tsecr = tsecr;
	pending = o->pending_tsval;
	if (pending == 0)
		return;
	if (tsecr == pending) {
		__u64 rtt_ns = bpf_ktime_get_ns() - o->pending_ns;
		__u32 side = (di ^ 1) & 1, us;

		o->pending_tsval = 0;
		/* Stale (or a time from another CPU not yet visible): not a round trip. */
		if ((__s64)rtt_ns <= 0 || rtt_ns > LQOS_TSVAL_TIMEOUT_NS)
			return;
		us = rtt_ns / 1000;
		f->rtt_us[side] = us;
		f->sample_ns[side] = now;
		lqos_rtt_add(circuit, side, us);
	} else if (lqos_before(pending, tsecr)) {
		o->pending_tsval = 0; /* echoed past it: missed */
	}
}

/* A new flow entry (BPF_NOEXIST: another CPU may create it first, then it is looked up).
 * NULL when the table is full (counted). */
static __always_inline struct lqos_flow *lqos_flow_create(const struct lqos_flow_key *key,
							  __u32 circuit, __u64 now)
{
	struct lqos_flow init = {};
	struct lqos_flow *f;
	long rc;

	init.first_seen_ns = now;
	init.last_seen_ns = now;
	init.circuit = circuit;
	rc = bpf_map_update_elem(&lqos_flows, key, &init, BPF_NOEXIST);
	if (rc == 0)
		lqos_flow_stat(LQOS_FLOW_STAT_INSERTS);
	f = bpf_map_lookup_elem(&lqos_flows, key);
	if (!f && rc != 0)
		lqos_flow_stat(LQOS_FLOW_STAT_INSERT_FAILED);
	return f;
}

/* Counts one packet of a mapped subscriber (pkt/l3/ethertype from lqos_parse_l3) in its
 * flow, creating the flow on its first packet. */
static __always_inline void lqos_flow_track(const struct lqos_pkt *pkt, void *l3,
					    __be16 ethertype, void *data_end, enum lqos_dir dir,
					    const struct lqos_ip_info *info)
{
	struct lqos_flow_key key __attribute__((aligned(8)));
	__u32 di = dir == LQOS_DIR_DOWN ? LQOS_FLOW_DOWN : LQOS_FLOW_UP;
	__u32 circuit = info->circuit;
	__u64 now = lqos_now_coarse();
	struct lqos_flow_dir *d;
	struct lqos_flow *f;
	struct lqos_l4 l4;

	lqos_parse_l4(l3, ethertype, data_end, &l4);
	if (di == LQOS_FLOW_DOWN) {
		__builtin_memcpy(key.local, pkt->dst.addr, sizeof(key.local));
		__builtin_memcpy(key.remote, pkt->src.addr, sizeof(key.remote));
		key.local_port = l4.dport;
		key.remote_port = l4.sport;
	} else {
		__builtin_memcpy(key.local, pkt->src.addr, sizeof(key.local));
		__builtin_memcpy(key.remote, pkt->dst.addr, sizeof(key.remote));
		key.local_port = l4.sport;
		key.remote_port = l4.dport;
	}
	key.proto = l4.proto;
	key.pad[0] = 0;
	key.pad[1] = 0;
	key.pad[2] = 0;

	f = bpf_map_lookup_elem(&lqos_flows, &key);
	if (!f) {
		f = lqos_flow_create(&key, circuit, now);
		if (!f)
			return;
	}
	f->last_seen_ns = now;
	if (f->circuit != circuit) /* the circuit got another index (lqosd reassigned it) */
		f->circuit = circuit;
	d = &f->dir[di & 1];
	d->bytes += l4.ip_len;
	d->packets += 1;
	if (l4.tcp)
		lqos_flow_tcp(f, di, l4.tcp, l4.l4_len, data_end, circuit, now);
}

#endif /* LQOS_FLOWS_H */
