//! CAKE's extended statistics. The kernel (`sch_cake.c`, `cake_dump_stats`) sends them in
//! `TCA_STATS_APP` (and the compat `TCA_XSTATS`) as nested attributes: `TCA_CAKE_STATS_*`, one of
//! which, `TCA_CAKE_STATS_TIN_STATS`, nests one attribute per tin (type = tin position + 1)
//! holding `TCA_CAKE_TIN_STATS_*`. Ids from `linux/pkt_sched.h`; netlink-packet-route leaves
//! these bytes undecoded (`TcXstats::Other`).

use crate::error::DecodeError;
use crate::model::{CakeStats, CakeTin};
use crate::nla::{u32_of, u64_of, Nlas};

// enum { TCA_CAKE_STATS_* } in linux/pkt_sched.h.
const STATS_PAD: u16 = 1;
const STATS_CAPACITY_ESTIMATE64: u16 = 2;
const STATS_MEMORY_LIMIT: u16 = 3;
const STATS_MEMORY_USED: u16 = 4;
const STATS_AVG_NETOFF: u16 = 5;
const STATS_MIN_NETLEN: u16 = 6;
const STATS_MAX_NETLEN: u16 = 7;
const STATS_MIN_ADJLEN: u16 = 8;
const STATS_MAX_ADJLEN: u16 = 9;
const STATS_TIN_STATS: u16 = 10;

// enum { TCA_CAKE_TIN_STATS_* } in linux/pkt_sched.h.
const TIN_PAD: u16 = 1;
const TIN_SENT_PACKETS: u16 = 2;
const TIN_SENT_BYTES64: u16 = 3;
const TIN_DROPPED_PACKETS: u16 = 4;
const TIN_DROPPED_BYTES64: u16 = 5;
const TIN_ACKS_DROPPED_PACKETS: u16 = 6;
const TIN_ACKS_DROPPED_BYTES64: u16 = 7;
const TIN_ECN_MARKED_PACKETS: u16 = 8;
const TIN_ECN_MARKED_BYTES64: u16 = 9;
const TIN_BACKLOG_PACKETS: u16 = 10;
const TIN_BACKLOG_BYTES: u16 = 11;
const TIN_THRESHOLD_RATE64: u16 = 12;
const TIN_TARGET_US: u16 = 13;
const TIN_INTERVAL_US: u16 = 14;
const TIN_WAY_INDIRECT_HITS: u16 = 15;
const TIN_WAY_MISSES: u16 = 16;
const TIN_WAY_COLLISIONS: u16 = 17;
const TIN_PEAK_DELAY_US: u16 = 18;
const TIN_AVG_DELAY_US: u16 = 19;
const TIN_BASE_DELAY_US: u16 = 20;
const TIN_SPARSE_FLOWS: u16 = 21;
const TIN_BULK_FLOWS: u16 = 22;
const TIN_UNRESPONSIVE_FLOWS: u16 = 23;
const TIN_MAX_SKBLEN: u16 = 24;
const TIN_FLOW_QUANTUM: u16 = 25;

/// `TC_CAKE_MAX_TINS`: more nested tins than this is not CAKE's layout.
const MAX_TINS: usize = 8;

fn stats_name(kind: u16) -> &'static str {
    match kind {
        STATS_PAD => "TCA_CAKE_STATS_PAD",
        STATS_CAPACITY_ESTIMATE64 => "TCA_CAKE_STATS_CAPACITY_ESTIMATE64",
        STATS_MEMORY_LIMIT => "TCA_CAKE_STATS_MEMORY_LIMIT",
        STATS_MEMORY_USED => "TCA_CAKE_STATS_MEMORY_USED",
        STATS_AVG_NETOFF => "TCA_CAKE_STATS_AVG_NETOFF",
        STATS_MIN_NETLEN => "TCA_CAKE_STATS_MIN_NETLEN",
        STATS_MAX_NETLEN => "TCA_CAKE_STATS_MAX_NETLEN",
        STATS_MIN_ADJLEN => "TCA_CAKE_STATS_MIN_ADJLEN",
        STATS_MAX_ADJLEN => "TCA_CAKE_STATS_MAX_ADJLEN",
        STATS_TIN_STATS => "TCA_CAKE_STATS_TIN_STATS",
        _ => "unknown TCA_CAKE_STATS attribute",
    }
}

fn tin_list_name(_: u16) -> &'static str {
    "a CAKE tin (TCA_CAKE_STATS_TIN_STATS entry)"
}

fn tin_name(kind: u16) -> &'static str {
    match kind {
        TIN_PAD => "TCA_CAKE_TIN_STATS_PAD",
        TIN_SENT_PACKETS => "TCA_CAKE_TIN_STATS_SENT_PACKETS",
        TIN_SENT_BYTES64 => "TCA_CAKE_TIN_STATS_SENT_BYTES64",
        TIN_DROPPED_PACKETS => "TCA_CAKE_TIN_STATS_DROPPED_PACKETS",
        TIN_DROPPED_BYTES64 => "TCA_CAKE_TIN_STATS_DROPPED_BYTES64",
        TIN_ACKS_DROPPED_PACKETS => "TCA_CAKE_TIN_STATS_ACKS_DROPPED_PACKETS",
        TIN_ACKS_DROPPED_BYTES64 => "TCA_CAKE_TIN_STATS_ACKS_DROPPED_BYTES64",
        TIN_ECN_MARKED_PACKETS => "TCA_CAKE_TIN_STATS_ECN_MARKED_PACKETS",
        TIN_ECN_MARKED_BYTES64 => "TCA_CAKE_TIN_STATS_ECN_MARKED_BYTES64",
        TIN_BACKLOG_PACKETS => "TCA_CAKE_TIN_STATS_BACKLOG_PACKETS",
        TIN_BACKLOG_BYTES => "TCA_CAKE_TIN_STATS_BACKLOG_BYTES",
        TIN_THRESHOLD_RATE64 => "TCA_CAKE_TIN_STATS_THRESHOLD_RATE64",
        TIN_TARGET_US => "TCA_CAKE_TIN_STATS_TARGET_US",
        TIN_INTERVAL_US => "TCA_CAKE_TIN_STATS_INTERVAL_US",
        TIN_WAY_INDIRECT_HITS => "TCA_CAKE_TIN_STATS_WAY_INDIRECT_HITS",
        TIN_WAY_MISSES => "TCA_CAKE_TIN_STATS_WAY_MISSES",
        TIN_WAY_COLLISIONS => "TCA_CAKE_TIN_STATS_WAY_COLLISIONS",
        TIN_PEAK_DELAY_US => "TCA_CAKE_TIN_STATS_PEAK_DELAY_US",
        TIN_AVG_DELAY_US => "TCA_CAKE_TIN_STATS_AVG_DELAY_US",
        TIN_BASE_DELAY_US => "TCA_CAKE_TIN_STATS_BASE_DELAY_US",
        TIN_SPARSE_FLOWS => "TCA_CAKE_TIN_STATS_SPARSE_FLOWS",
        TIN_BULK_FLOWS => "TCA_CAKE_TIN_STATS_BULK_FLOWS",
        TIN_UNRESPONSIVE_FLOWS => "TCA_CAKE_TIN_STATS_UNRESPONSIVE_FLOWS",
        TIN_MAX_SKBLEN => "TCA_CAKE_TIN_STATS_MAX_SKBLEN",
        TIN_FLOW_QUANTUM => "TCA_CAKE_TIN_STATS_FLOW_QUANTUM",
        _ => "unknown TCA_CAKE_TIN_STATS attribute",
    }
}

/// Decodes CAKE's xstats: the payload of `TCA_STATS_APP` (or `TCA_XSTATS`) of a `cake` qdisc.
/// Unknown attributes are skipped; a truncated one, or a known one shorter than its type, is an
/// error naming it. More than `TC_CAKE_MAX_TINS` (8) tins is an error.
pub fn decode_cake_xstats(buf: &[u8]) -> Result<CakeStats, DecodeError> {
    let mut stats = CakeStats::default();
    for nla in Nlas::new(buf, "CAKE xstats (TCA_STATS_APP)", stats_name) {
        let (kind, payload) = nla?;
        let name = stats_name(kind);
        match kind {
            STATS_CAPACITY_ESTIMATE64 => stats.capacity_estimate = u64_of(payload, name)?,
            STATS_MEMORY_LIMIT => stats.memory_limit = u64::from(u32_of(payload, name)?),
            STATS_MEMORY_USED => stats.memory_used = u64::from(u32_of(payload, name)?),
            STATS_AVG_NETOFF => stats.avg_netoff = u32_of(payload, name)?,
            STATS_MIN_NETLEN => stats.min_netlen = u32_of(payload, name)?,
            STATS_MAX_NETLEN => stats.max_netlen = u32_of(payload, name)?,
            STATS_MIN_ADJLEN => stats.min_adjlen = u32_of(payload, name)?,
            STATS_MAX_ADJLEN => stats.max_adjlen = u32_of(payload, name)?,
            STATS_TIN_STATS => decode_tins(payload, &mut stats.tins)?,
            _ => {}
        }
    }
    Ok(stats)
}

fn decode_tins(buf: &[u8], tins: &mut Vec<CakeTin>) -> Result<(), DecodeError> {
    for nla in Nlas::new(buf, "TCA_CAKE_STATS_TIN_STATS", tin_list_name) {
        let (kind, payload) = nla?;
        if tins.len() == MAX_TINS {
            return Err(DecodeError::TooMany {
                what: "TCA_CAKE_STATS_TIN_STATS (TC_CAKE_MAX_TINS)",
                max: MAX_TINS,
            });
        }
        let mut tin = decode_tin(payload)?;
        tin.index = kind.saturating_sub(1);
        tins.push(tin);
    }
    Ok(())
}

fn decode_tin(buf: &[u8]) -> Result<CakeTin, DecodeError> {
    let mut t = CakeTin::default();
    for nla in Nlas::new(buf, "a CAKE tin", tin_name) {
        let (kind, p) = nla?;
        let n = tin_name(kind);
        match kind {
            TIN_SENT_PACKETS => t.sent_packets = u64::from(u32_of(p, n)?),
            TIN_SENT_BYTES64 => t.sent_bytes = u64_of(p, n)?,
            TIN_DROPPED_PACKETS => t.dropped_packets = u64::from(u32_of(p, n)?),
            TIN_DROPPED_BYTES64 => t.dropped_bytes = u64_of(p, n)?,
            TIN_ACKS_DROPPED_PACKETS => t.ack_drops = u64::from(u32_of(p, n)?),
            TIN_ACKS_DROPPED_BYTES64 => t.ack_drop_bytes = u64_of(p, n)?,
            TIN_ECN_MARKED_PACKETS => t.ecn_marked_packets = u64::from(u32_of(p, n)?),
            TIN_ECN_MARKED_BYTES64 => t.ecn_marked_bytes = u64_of(p, n)?,
            TIN_BACKLOG_PACKETS => t.backlog_packets = u64::from(u32_of(p, n)?),
            TIN_BACKLOG_BYTES => t.backlog_bytes = u64::from(u32_of(p, n)?),
            TIN_THRESHOLD_RATE64 => t.threshold_rate = u64_of(p, n)?,
            TIN_TARGET_US => t.target_us = u32_of(p, n)?,
            TIN_INTERVAL_US => t.interval_us = u32_of(p, n)?,
            TIN_WAY_INDIRECT_HITS => t.way_indirect_hits = u32_of(p, n)?,
            TIN_WAY_MISSES => t.way_misses = u32_of(p, n)?,
            TIN_WAY_COLLISIONS => t.way_collisions = u32_of(p, n)?,
            TIN_PEAK_DELAY_US => t.peak_delay_us = u32_of(p, n)?,
            TIN_AVG_DELAY_US => t.avg_delay_us = u32_of(p, n)?,
            TIN_BASE_DELAY_US => t.base_delay_us = u32_of(p, n)?,
            TIN_SPARSE_FLOWS => t.sparse_flows = u32_of(p, n)?,
            TIN_BULK_FLOWS => t.bulk_flows = u32_of(p, n)?,
            TIN_UNRESPONSIVE_FLOWS => t.unresponsive_flows = u32_of(p, n)?,
            TIN_MAX_SKBLEN => t.max_skblen = u32_of(p, n)?,
            TIN_FLOW_QUANTUM => t.flow_quantum = u32_of(p, n)?,
            _ => {}
        }
    }
    Ok(t)
}

#[cfg(test)]
#[path = "cake_tests.rs"]
mod tests;
