//! What one dump returns: the classes and qdiscs of an interface with their counters.
//!
//! Handles and class ids are the kernel's u32 `major << 16 | minor` (`1:10` is `0x0001_0010`);
//! `parent` of a root qdisc is `TC_H_ROOT` (`0xFFFF_FFFF`). Counters are cumulative since the
//! class or qdisc was created: take deltas between dumps for rates.

use std::collections::HashMap;

/// `TC_H_ROOT`: the parent of a root qdisc or of a top-level class.
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;

/// Builds a handle or class id from its major and minor numbers (`tc`'s `major:minor`, hex).
pub const fn tc_handle(major: u16, minor: u16) -> u32 {
    ((major as u32) << 16) | minor as u32
}

/// The statistics of one class (`RTM_NEWTCLASS`), e.g. an HTB class of a circuit or a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// The kind of the qdisc owning the class (`TCA_KIND`), e.g. `htb`.
    pub kind: String,
    /// The class id, `major << 16 | minor`.
    pub classid: u32,
    /// The parent class id, or [`TC_H_ROOT`] for a top-level class.
    pub parent: u32,
    /// Bytes sent (dequeued) through the class (`gnet_stats_basic.bytes`).
    pub bytes: u64,
    /// Packets sent through the class (`TCA_STATS_PKT64` when the kernel sends it).
    pub packets: u64,
    /// Packets dropped (`gnet_stats_queue.drops`).
    pub drops: u64,
    /// Times the class was over its rate/ceil (HTB: a packet had to wait or borrow).
    pub overlimits: u64,
    /// Packets requeued.
    pub requeues: u64,
    /// Bytes queued now (for an HTB leaf class: its leaf qdisc's backlog).
    pub backlog_bytes: u64,
    /// Packets queued now.
    pub qlen: u64,
    /// The handle of the class's leaf qdisc (`tcm_info`; HTB sets it on leaf classes), if any.
    pub leaf_handle: Option<u32>,
    /// HTB's `struct tc_htb_xstats`, for HTB classes.
    pub htb: Option<HtbXstats>,
    /// The HTB class's configuration as the kernel holds it (`TCA_OPTIONS`).
    pub htb_params: Option<HtbParams>,
}

/// An HTB class's configuration as the kernel dumps it: `struct tc_htb_opt` with the 64-bit
/// rates (`TCA_HTB_RATE64`, `TCA_HTB_CEIL64`) folded in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HtbParams {
    /// Guaranteed rate.
    pub rate: RateSpec,
    /// Ceiling.
    pub ceil: RateSpec,
    /// Burst at `rate`, in packet-scheduler ticks (64 ns on current kernels).
    pub buffer_ticks: u32,
    /// Burst at `ceil`, in ticks.
    pub cbuffer_ticks: u32,
    /// Bytes dequeued per round (DRR quantum).
    pub quantum: u32,
    /// Priority among siblings (0 first).
    pub prio: u32,
    /// Depth from the leaves: 0 for a leaf class.
    pub level: u32,
}

/// One rate of an HTB class (`struct tc_ratespec` as the kernel dumps it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSpec {
    /// Bytes per second.
    pub bytes_per_sec: u64,
    /// `TC_LINKLAYER_*`: 1 Ethernet, 2 ATM.
    pub linklayer: u8,
    /// Bytes added to every packet's size.
    pub overhead: u16,
    /// Smallest packet size counted.
    pub mpu: u16,
}

/// HTB's per-class extended statistics (`struct tc_htb_xstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HtbXstats {
    /// Packets sent with the class's own tokens (tc's "lended").
    pub lends: u32,
    /// Packets sent with tokens borrowed from an ancestor.
    pub borrows: u32,
    /// Packets larger than the class's burst.
    pub giants: u32,
    /// Rate tokens left, in scheduler ticks (negative: in debt).
    pub tokens: i32,
    /// Ceil tokens left, in scheduler ticks.
    pub ctokens: i32,
}

/// The statistics of one qdisc (`RTM_NEWQDISC`): the root HTB, `mq`, or a class's leaf.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QdiscStats {
    /// `TCA_KIND`: `htb`, `cake`, `fq_codel`, `pfifo`, `bfifo`, ...
    pub kind: String,
    /// The qdisc's handle (`10:` is `0x0010_0000`).
    pub handle: u32,
    /// The class it is attached to, or [`TC_H_ROOT`].
    pub parent: u32,
    /// Bytes sent (dequeued) by the qdisc.
    pub bytes: u64,
    /// Packets sent.
    pub packets: u64,
    /// Packets dropped (for CAKE: all tins, including ACK-filter drops).
    pub drops: u64,
    /// Overlimit events (qdisc-specific meaning).
    pub overlimits: u64,
    /// Packets requeued.
    pub requeues: u64,
    /// Bytes queued now.
    pub backlog_bytes: u64,
    /// Packets queued now.
    pub qlen: u64,
    /// CAKE's extended statistics, for `cake` qdiscs.
    pub cake: Option<CakeStats>,
    /// fq_codel's extended statistics, for `fq_codel` qdiscs.
    pub fq_codel: Option<FqCodelStats>,
}

/// CAKE's qdisc-wide extended statistics (`TCA_CAKE_STATS_*`) and its tins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CakeStats {
    /// Most memory the queue used for packets, bytes (`buffer_max_used`; tc's "memory used").
    pub memory_used: u64,
    /// The memory limit, bytes.
    pub memory_limit: u64,
    /// Estimated link capacity, bytes per second (CAKE's `avg_peak_bandwidth`; 0 unless
    /// `autorate-ingress`).
    pub capacity_estimate: u64,
    /// Average network-header offset, bytes.
    pub avg_netoff: u32,
    /// Smallest and largest packet seen at the network layer, bytes.
    pub min_netlen: u32,
    /// Largest packet seen at the network layer, bytes.
    pub max_netlen: u32,
    /// Smallest and largest packet after overhead compensation, bytes.
    pub min_adjlen: u32,
    /// Largest packet after overhead compensation, bytes.
    pub max_adjlen: u32,
    /// The tins, in the kernel's order (diffserv4: Bulk, Best Effort, Video, Voice).
    pub tins: Vec<CakeTin>,
}

/// One CAKE tin (`TCA_CAKE_TIN_STATS_*`). Attributes the kernel did not send stay 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CakeTin {
    /// The tin's attribute type minus 1: its position in tc's tin list.
    pub index: u16,
    /// The tin's threshold rate, bytes per second.
    pub threshold_rate: u64,
    /// Bytes sent.
    pub sent_bytes: u64,
    /// Packets sent.
    pub sent_packets: u64,
    /// Packets dropped by the AQM or for overload.
    pub dropped_packets: u64,
    /// Bytes dropped (newer kernels only; 0 otherwise).
    pub dropped_bytes: u64,
    /// Packets ECN-marked instead of dropped.
    pub ecn_marked_packets: u64,
    /// Bytes ECN-marked (newer kernels only).
    pub ecn_marked_bytes: u64,
    /// ACKs dropped by the ACK filter.
    pub ack_drops: u64,
    /// Bytes of ACKs dropped (newer kernels only).
    pub ack_drop_bytes: u64,
    /// Bytes queued now.
    pub backlog_bytes: u64,
    /// Packets queued now (newer kernels only).
    pub backlog_packets: u64,
    /// The COBALT target, microseconds.
    pub target_us: u32,
    /// The COBALT interval, microseconds.
    pub interval_us: u32,
    /// Peak queueing delay (tc's `pk_delay`), microseconds.
    pub peak_delay_us: u32,
    /// Average queueing delay (`av_delay`), microseconds.
    pub avg_delay_us: u32,
    /// Base (minimum) delay (`sp_delay`), microseconds.
    pub base_delay_us: u32,
    /// Set-associative hash: hits on an indirect way.
    pub way_indirect_hits: u32,
    /// Set-associative hash: misses.
    pub way_misses: u32,
    /// Set-associative hash: collisions.
    pub way_collisions: u32,
    /// Sparse flows now (CAKE counts decaying flows here too).
    pub sparse_flows: u32,
    /// Bulk flows now.
    pub bulk_flows: u32,
    /// Unresponsive flows now.
    pub unresponsive_flows: u32,
    /// Largest packet seen, bytes.
    pub max_skblen: u32,
    /// The flow quantum, bytes.
    pub flow_quantum: u32,
}

/// fq_codel's qdisc extended statistics (`struct tc_fq_codel_qd_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FqCodelStats {
    /// Largest packet seen, bytes.
    pub maxpacket: u32,
    /// Packets dropped because the qdisc was over its packet limit.
    pub drop_overlimit: u32,
    /// Packets ECN-marked instead of dropped.
    pub ecn_mark: u32,
    /// Flows created since the qdisc was.
    pub new_flow_count: u32,
    /// Flows in the new-flows list now.
    pub new_flows_len: u32,
    /// Flows in the old-flows list now.
    pub old_flows_len: u32,
    /// Packets CE-marked above `ce_threshold`.
    pub ce_mark: u32,
    /// Memory used for packets now, bytes.
    pub memory_usage: u32,
    /// Packets dropped because the qdisc was over its memory limit.
    pub drop_overmemory: u32,
}

/// Everything one [`crate::QueueReader::dump`] found on an interface.
#[derive(Debug, Clone, Default)]
pub struct InterfaceQueues {
    /// The classes, by class id.
    pub classes: HashMap<u32, ClassStats>,
    /// The qdiscs, in the kernel's order (root first).
    pub qdiscs: Vec<QdiscStats>,
    /// Index into `qdiscs` by parent class id, built once.
    by_parent: HashMap<u32, usize>,
}

impl InterfaceQueues {
    /// Wraps classes and qdiscs, building the parent index [`InterfaceQueues::leaf_of`] uses.
    pub fn new(classes: HashMap<u32, ClassStats>, qdiscs: Vec<QdiscStats>) -> Self {
        let mut by_parent = HashMap::with_capacity(qdiscs.len());
        for (i, q) in qdiscs.iter().enumerate() {
            if q.parent != TC_H_ROOT {
                by_parent.entry(q.parent).or_insert(i);
            }
        }
        InterfaceQueues {
            classes,
            qdiscs,
            by_parent,
        }
    }

    /// The qdisc attached to class `classid` (its leaf: CAKE, fq_codel, pfifo...), if any. A map
    /// lookup; `None` also when `qdiscs` was changed so that the index no longer matches.
    pub fn leaf_of(&self, classid: u32) -> Option<&QdiscStats> {
        let i = *self.by_parent.get(&classid)?;
        self.qdiscs.get(i).filter(|q| q.parent == classid)
    }

    /// The class `classid`, if any.
    pub fn class(&self, classid: u32) -> Option<&ClassStats> {
        self.classes.get(&classid)
    }

    /// The root qdisc (parent [`TC_H_ROOT`]), if any.
    pub fn root(&self) -> Option<&QdiscStats> {
        self.qdiscs.iter().find(|q| q.parent == TC_H_ROOT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qdisc(kind: &str, handle: u32, parent: u32) -> QdiscStats {
        QdiscStats {
            kind: kind.into(),
            handle,
            parent,
            ..Default::default()
        }
    }

    #[test]
    fn leaf_of_finds_the_qdisc_by_parent() {
        let q = InterfaceQueues::new(
            HashMap::new(),
            vec![
                qdisc("htb", tc_handle(1, 0), TC_H_ROOT),
                qdisc("pfifo", tc_handle(0x10, 0), tc_handle(1, 0x10)),
                qdisc("bfifo", tc_handle(0x20, 0), tc_handle(1, 0x20)),
            ],
        );
        assert_eq!(q.leaf_of(tc_handle(1, 0x20)).unwrap().kind, "bfifo");
        assert_eq!(q.leaf_of(tc_handle(1, 0x10)).unwrap().handle, 0x0010_0000);
        assert!(q.leaf_of(tc_handle(1, 0x30)).is_none());
        assert!(q.leaf_of(TC_H_ROOT).is_none());
        assert_eq!(q.root().unwrap().kind, "htb");
    }

    #[test]
    fn stale_index_gives_none_not_a_wrong_qdisc() {
        let mut q = InterfaceQueues::new(
            HashMap::new(),
            vec![
                qdisc("htb", tc_handle(1, 0), TC_H_ROOT),
                qdisc("pfifo", tc_handle(0x10, 0), tc_handle(1, 0x10)),
            ],
        );
        q.qdiscs.swap(0, 1);
        assert!(q.leaf_of(tc_handle(1, 0x10)).is_none());
    }
}
