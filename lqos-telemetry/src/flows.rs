//! [`FlowTable`]: the user-space side of the kernel's flow table, updated once a second.
//!
//! Rules of [`FlowTable::ingest`] (docs/telemetry.md explains them):
//! - Counters are cumulative and wrap: every delta is a wrapping difference.
//! - A flow's first reading: if the flow began after the previous pass (`first_seen_ns >=`
//!   the previous `now_ns`), all its counters are new traffic and count in this pass's
//!   per-circuit deltas and its rate; otherwise (the table's first pass, a flow that was not
//!   tracked before) it is only a baseline.
//! - A tracked key whose `first_seen_ns` changed is a new kernel entry under the same key
//!   (evicted and re-created): its counters are counted from zero, never as a huge wrap.
//! - Rates: byte deltas over the time since the flow's previous reading, bits per second.
//! - A flow ends when idle for `idle_timeout` or once FIN/RST was seen, after this pass's
//!   accounting: its key goes to [`Pass::expire`] and it moves to the finished list.
//! - Flows no longer in the kernel's map are dropped (not finished: nothing says they ended).
//! - At most `max_tracked` live flows; beyond, new flows are not tracked and
//!   [`FlowTable::dropped`] grows (the ageing rules still apply to them, so lqosd still
//!   deletes their kernel entries when they end).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use lqos_ebpf::{LqosFlow, LqosFlowKey, FLOW_FIN, FLOW_RST, FLOW_UP};
use rustc_hash::FxHashMap;

use crate::flow_entry::{FinishedFlow, FlowEntry};
use crate::geo::GeoTables;
use crate::key::{FlowKey, PROTO_TCP};
use crate::remotes::{FlowDelta, RemoteStats};
use crate::view::FlowView;

/// Limits of a [`FlowTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLimits {
    /// A flow idle this long ends (30 s).
    pub idle_timeout: Duration,
    /// Ended flows stay in the finished list this long (60 s).
    pub finished_keep: Duration,
    /// Live flows tracked at most (262,144; lqosd sets it to the kernel map's size).
    pub max_tracked: usize,
    /// Finished flows kept at most (100,000); the oldest go first.
    pub max_finished: usize,
    /// Remote ASNs tracked at most in the per-ASN statistics (1,000; the busiest stay).
    pub max_asns: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            idle_timeout: Duration::from_secs(30),
            finished_keep: Duration::from_secs(60),
            max_tracked: 262_144,
            max_finished: 100_000,
            max_asns: crate::remotes::DEFAULT_MAX_ASNS,
        }
    }
}

/// What one [`FlowTable::ingest`] tells lqosd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Kernel entries to delete (ended flows, tracked or not).
    pub expire: Vec<LqosFlowKey>,
    /// Circuits whose flows took a new RTT sample since the last pass (ascending, no 0):
    /// lqosd reads only these histograms.
    pub changed_circuits: Vec<u32>,
    /// New flows not tracked in this pass because the table was full.
    pub untracked: u64,
    /// Tracked flows that were gone from the kernel's map (dropped).
    pub vanished: u64,
}

/// A pass of [`FlowTable::begin`], [`FlowTable::feed`] and [`FlowTable::finish`].
#[derive(Debug)]
pub struct FlowPass {
    now_ns: u64,
    prev_ns: Option<u64>,
    pass_no: u32,
    idle_ns: u64,
    live_before: usize,
    seen_before: usize,
    /// This pass's per-circuit deltas (shown once it finishes).
    circuits: FxHashMap<u32, CircuitPass>,
    /// Slab indexes of flows ending in this pass.
    ending: Vec<u32>,
    result: Pass,
}

impl FlowPass {
    /// The time of the read (CLOCK_MONOTONIC, ns).
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }
}

/// One circuit's traffic in one pass, per direction (`[FLOW_DOWN, FLOW_UP]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CircuitPass {
    /// Flows seen in this pass that did not end in it.
    pub active_flows: u64,
    pub bytes: [u64; 2],
    pub packets: [u64; 2],
    pub tcp_packets: [u64; 2],
    pub retransmits: [u64; 2],
    /// A flow of the circuit took a new RTT sample.
    pub rtt_changed: bool,
}

/// The flows lqosd tracks (module docs for the rules).
#[derive(Debug)]
pub struct FlowTable {
    limits: FlowLimits,
    /// Kernel key -> slab index.
    index: FxHashMap<LqosFlowKey, u32>,
    pub(crate) slab: Vec<Option<FlowEntry>>,
    free: Vec<u32>,
    /// Circuit -> slab indexes of its live flows.
    by_circuit: FxHashMap<u32, Vec<u32>>,
    /// The last finished pass's per-circuit deltas.
    circuits: FxHashMap<u32, CircuitPass>,
    /// The map before that, cleared and reused by the next pass (not freed).
    spare_circuits: FxHashMap<u32, CircuitPass>,
    finished: VecDeque<FinishedFlow>,
    /// Scratch for a pass's ending flows (kept between passes, not freed).
    ending: Vec<u32>,
    pass: u32,
    last_ns: Option<u64>,
    dropped: u64,
    /// The ASN and country tables new flows are looked up in (none: all unknown).
    pub(crate) geo: Option<Arc<GeoTables>>,
    /// Traffic per remote ASN and country.
    pub(crate) remotes: RemoteStats,
}

/// Bits per second of `bytes` over `elapsed_ns` (> 0); 64-bit arithmetic unless a delta of
/// more than 2.3 GB needs 128 bits (a 128-bit division costs ~10x a 64-bit one).
fn rate_bps(bytes: u64, elapsed_ns: u64) -> u64 {
    match bytes.checked_mul(8_000_000_000) {
        Some(bits_ns) => bits_ns / elapsed_ns,
        None => u64::try_from(u128::from(bytes) * 8_000_000_000 / u128::from(elapsed_ns))
            .unwrap_or(u64::MAX),
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new(limits: FlowLimits) -> Self {
        let remotes = RemoteStats::new(limits.max_asns);
        FlowTable {
            limits,
            index: FxHashMap::default(),
            slab: Vec::new(),
            free: Vec::new(),
            by_circuit: FxHashMap::default(),
            circuits: FxHashMap::default(),
            spare_circuits: FxHashMap::default(),
            finished: VecDeque::new(),
            ending: Vec::new(),
            pass: 0,
            last_ns: None,
            dropped: 0,
            geo: None,
            remotes,
        }
    }

    /// The ASN and country tables flows first seen from now on are looked up in (one
    /// look-up per new flow).
    pub fn set_geo(&mut self, geo: Option<Arc<GeoTables>>) {
        self.geo = geo;
    }

    /// The ASN and country tables in use.
    pub fn geo(&self) -> Option<&Arc<GeoTables>> {
        self.geo.as_ref()
    }

    /// Per-ASN and per-country traffic ([`RemoteStats`]).
    pub fn remotes(&self) -> &RemoteStats {
        &self.remotes
    }

    /// The limits in use.
    pub fn limits(&self) -> &FlowLimits {
        &self.limits
    }

    /// Takes every entry of the kernel's flow map, read at `now_ns` (CLOCK_MONOTONIC, taken
    /// just before reading the map). Duplicate keys in one read (a map iterated while it
    /// changes) count once. The same as [`begin`](Self::begin), one [`feed`](Self::feed) of
    /// all of `flows` and [`finish`](Self::finish).
    pub fn ingest(&mut self, now_ns: u64, flows: &[(LqosFlowKey, LqosFlow)]) -> Pass {
        let mut pass = self.begin(now_ns);
        self.feed(&mut pass, flows);
        self.finish(pass)
    }

    /// Starts a pass over a read of the kernel's map taken at `now_ns`. Until
    /// [`finish`](Self::finish), the table's views show the previous pass's per-circuit
    /// figures (the entries fed so far already carry their new counters), so a caller may
    /// feed the read in chunks and let readers in between.
    pub fn begin(&mut self, now_ns: u64) -> FlowPass {
        self.pass = self.pass.wrapping_add(1);
        self.remotes.advance(now_ns / 1_000_000_000);
        let mut circuits = std::mem::take(&mut self.spare_circuits);
        circuits.clear();
        FlowPass {
            now_ns,
            prev_ns: self.last_ns,
            pass_no: self.pass,
            idle_ns: u64::try_from(self.limits.idle_timeout.as_nanos()).unwrap_or(u64::MAX),
            live_before: self.index.len(),
            seen_before: 0,
            circuits,
            ending: std::mem::take(&mut self.ending),
            result: Pass::default(),
        }
    }

    /// Takes part of the read (any split of it, in order or not).
    pub fn feed(&mut self, p: &mut FlowPass, flows: &[(LqosFlowKey, LqosFlow)]) {
        let now_ns = p.now_ns;
        for (key, flow) in flows {
            let ending = flow.end & (FLOW_FIN | FLOW_RST) != 0
                || now_ns.saturating_sub(flow.last_seen_ns) >= p.idle_ns;
            let slot = match self.index.get(key) {
                Some(&slot) => {
                    let Some(entry) = self.slab[slot as usize].as_ref() else {
                        continue;
                    };
                    if entry.seen == p.pass_no {
                        continue; // a duplicate of this read
                    }
                    p.seen_before += 1;
                    slot
                }
                None => {
                    if self.index.len() >= self.limits.max_tracked {
                        self.dropped += 1;
                        p.result.untracked += 1;
                        if ending {
                            p.result.expire.push(*key);
                        }
                        continue;
                    }
                    let whole = p.prev_ns.is_some_and(|prev| flow.first_seen_ns >= prev);
                    let read_ns = if whole {
                        p.prev_ns.unwrap_or(now_ns)
                    } else {
                        now_ns
                    };
                    let mut entry = FlowEntry::new(*key, flow, whole, read_ns);
                    let remote = FlowKey::from_kernel(key).remote;
                    entry.tag = self.remotes.tag(self.geo.as_deref(), remote);
                    self.insert(*key, entry)
                }
            };
            self.update(slot, flow, now_ns, ending, &mut p.circuits);
            if ending {
                p.ending.push(slot);
                p.result.expire.push(*key);
            }
        }
    }

    /// Ends a pass: ended flows move to the finished list, flows the read did not hold are
    /// dropped, and the pass's per-circuit figures replace the previous ones.
    pub fn finish(&mut self, p: FlowPass) -> Pass {
        let FlowPass {
            now_ns,
            pass_no,
            live_before,
            seen_before,
            circuits,
            mut ending,
            result: mut pass,
            ..
        } = p;
        for &slot in &ending {
            if let Some(entry) = self.remove(slot) {
                self.finish_flow(FinishedFlow::from_entry(&entry, now_ns));
            }
        }
        ending.clear();
        self.ending = ending;
        if seen_before < live_before {
            pass.vanished = self.drop_unseen(pass_no);
        }
        self.expire_finished(now_ns);
        self.last_ns = Some(now_ns);
        self.spare_circuits = std::mem::replace(&mut self.circuits, circuits);
        pass.changed_circuits = self
            .circuits
            .iter()
            .filter(|(c, p)| **c != 0 && p.rtt_changed)
            .map(|(c, _)| *c)
            .collect();
        pass.changed_circuits.sort_unstable();
        pass
    }

    /// Applies a reading to a tracked entry: deltas, rates, per-circuit sums.
    fn update(
        &mut self,
        slot: u32,
        flow: &LqosFlow,
        now_ns: u64,
        ending: bool,
        circuits: &mut FxHashMap<u32, CircuitPass>,
    ) {
        let Some(e) = self.slab[slot as usize].as_mut() else {
            return;
        };
        if flow.first_seen_ns != e.first_seen_ns {
            // The kernel dropped the entry and made a new one under the same key (LRU
            // eviction, a delete racing new packets): its counters start from zero again.
            e.bytes = [0; 2];
            e.packets = [0; 2];
            e.retx = [0; 2];
            e.sample_ns = [0; 2];
        }
        let elapsed = now_ns.saturating_sub(e.read_ns);
        let old_circuit = e.circuit;
        let mut d_bytes = [0u64; 2];
        let mut d_packets = [0u64; 2];
        let mut d_retx = [0u64; 2];
        let mut rtt_changed = false;
        let internet_sample = flow.sample_ns[FLOW_UP] != 0
            && flow.sample_ns[FLOW_UP] != e.sample_ns[FLOW_UP]
            && flow.rtt_us[FLOW_UP] != 0;
        for d in 0..2 {
            let dir = &flow.dir[d];
            d_bytes[d] = dir.bytes.wrapping_sub(e.bytes[d]);
            d_packets[d] = u64::from(dir.packets.wrapping_sub(e.packets[d]));
            d_retx[d] = u64::from(dir.retransmits.wrapping_sub(e.retx[d]));
            if elapsed > 0 {
                e.rate_bps[d] = rate_bps(d_bytes[d], elapsed);
            }
            rtt_changed |= flow.sample_ns[d] != 0 && flow.sample_ns[d] != e.sample_ns[d];
            e.bytes[d] = dir.bytes;
            e.packets[d] = dir.packets;
            e.retx[d] = dir.retransmits;
        }
        e.sample_ns = flow.sample_ns;
        e.rtt_us = flow.rtt_us;
        e.last_seen_ns = flow.last_seen_ns;
        e.first_seen_ns = flow.first_seen_ns;
        e.read_ns = now_ns;
        e.seen = self.pass;
        e.ending = ending;
        let tcp = e.key.proto == PROTO_TCP;
        let tag = e.tag;
        self.remotes.add(
            &tag,
            &FlowDelta {
                bytes: d_bytes,
                tcp_packets: if tcp { d_packets } else { [0; 2] },
                retransmits: if tcp { d_retx } else { [0; 2] },
                rtt_internet_us: internet_sample.then_some(flow.rtt_us[FLOW_UP]),
            },
        );
        if flow.circuit != old_circuit {
            self.unlink(slot, old_circuit);
            self.link(slot, flow.circuit);
        }
        let c = circuits.entry(flow.circuit).or_default();
        c.active_flows += u64::from(!ending);
        for d in 0..2 {
            c.bytes[d] += d_bytes[d];
            c.packets[d] += d_packets[d];
            if tcp {
                c.tcp_packets[d] += d_packets[d];
                c.retransmits[d] += d_retx[d];
            }
        }
        c.rtt_changed |= rtt_changed;
    }

    fn insert(&mut self, key: LqosFlowKey, entry: FlowEntry) -> u32 {
        let circuit = entry.circuit;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.slab.push(Some(entry));
                (self.slab.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.link(slot, circuit);
        slot
    }

    fn link(&mut self, slot: u32, circuit: u32) {
        let list = self.by_circuit.entry(circuit).or_default();
        if let Some(e) = self.slab[slot as usize].as_mut() {
            e.circuit = circuit;
            e.pos = list.len() as u32;
        }
        list.push(slot);
    }

    fn unlink(&mut self, slot: u32, circuit: u32) {
        let Some(pos) = self.slab[slot as usize].as_ref().map(|e| e.pos as usize) else {
            return;
        };
        let Some(list) = self.by_circuit.get_mut(&circuit) else {
            return;
        };
        if list.get(pos) != Some(&slot) {
            return;
        }
        list.swap_remove(pos);
        if let Some(&moved) = list.get(pos) {
            if let Some(e) = self.slab[moved as usize].as_mut() {
                e.pos = pos as u32;
            }
        }
        if list.is_empty() {
            self.by_circuit.remove(&circuit);
        }
    }

    fn remove(&mut self, slot: u32) -> Option<FlowEntry> {
        let circuit = self.slab[slot as usize].as_ref()?.circuit;
        self.unlink(slot, circuit);
        let entry = self.slab[slot as usize].take()?;
        self.index.remove(&entry.key);
        self.remotes.release(&entry.tag);
        self.free.push(slot);
        Some(entry)
    }

    /// Drops the live flows this pass did not see; returns how many.
    fn drop_unseen(&mut self, pass_no: u32) -> u64 {
        let mut gone = 0;
        for slot in 0..self.slab.len() as u32 {
            let unseen = self.slab[slot as usize]
                .as_ref()
                .is_some_and(|e| e.seen != pass_no);
            if unseen {
                self.remove(slot);
                gone += 1;
            }
        }
        gone
    }

    fn finish_flow(&mut self, flow: FinishedFlow) {
        if self.limits.max_finished == 0 {
            return;
        }
        while self.finished.len() >= self.limits.max_finished {
            self.finished.pop_front();
        }
        self.finished.push_back(flow);
    }

    fn expire_finished(&mut self, now_ns: u64) {
        let keep = u64::try_from(self.limits.finished_keep.as_nanos()).unwrap_or(u64::MAX);
        while self
            .finished
            .front()
            .is_some_and(|f| now_ns.saturating_sub(f.ended_ns) >= keep)
        {
            self.finished.pop_front();
        }
    }

    fn now_ns(&self) -> u64 {
        self.last_ns.unwrap_or(0)
    }

    /// Live flows tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// New kernel flows not tracked because the table was full, summed over passes (a flow
    /// left untracked for 10 passes counts 10 times).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Finished flows kept.
    pub fn finished_len(&self) -> usize {
        self.finished.len()
    }

    /// Live flows of `circuit`.
    pub fn active_flows(&self, circuit: u32) -> u64 {
        self.by_circuit.get(&circuit).map_or(0, |l| l.len() as u64)
    }

    /// The last pass's deltas of `circuit` (`None`: no flow of it was seen in that pass).
    pub fn circuit_pass(&self, circuit: u32) -> Option<&CircuitPass> {
        self.circuits.get(&circuit)
    }

    /// The last pass's deltas of every circuit seen in it (circuit 0 included).
    pub fn circuit_passes(&self) -> impl Iterator<Item = (u32, &CircuitPass)> + '_ {
        self.circuits.iter().map(|(c, p)| (*c, p))
    }

    /// One live flow.
    pub fn get(&self, key: &LqosFlowKey) -> Option<FlowView> {
        let slot = *self.index.get(key)?;
        self.slab[slot as usize]
            .as_ref()
            .map(|e| e.view(self.now_ns(), self.geo.as_deref()))
    }

    /// Every live flow of `circuit` (unordered).
    pub fn flows_of(&self, circuit: u32) -> Vec<FlowView> {
        self.top_flows(circuit, usize::MAX)
    }

    /// The `n` busiest live flows of `circuit`, by current rate (both directions), then bytes.
    pub fn top_flows(&self, circuit: u32, n: usize) -> Vec<FlowView> {
        let Some(list) = self.by_circuit.get(&circuit) else {
            return Vec::new();
        };
        let entries = list.iter().filter_map(|&s| self.slab[s as usize].as_ref());
        self.top(entries, n)
    }

    /// The `limit` busiest live flows of all circuits.
    pub fn all_flows(&self, limit: usize) -> Vec<FlowView> {
        self.top(self.slab.iter().flatten(), limit)
    }

    pub(crate) fn top<'a>(
        &self,
        entries: impl Iterator<Item = &'a FlowEntry>,
        n: usize,
    ) -> Vec<FlowView> {
        let mut all: Vec<&FlowEntry> = entries.collect();
        let by_rank = |a: &&FlowEntry, b: &&FlowEntry| b.rank().cmp(&a.rank());
        if n < all.len() {
            if n == 0 {
                return Vec::new();
            }
            all.select_nth_unstable_by(n - 1, by_rank);
            all.truncate(n);
        }
        all.sort_by(by_rank);
        let now = self.now_ns();
        let geo = self.geo.as_deref();
        all.into_iter().map(|e| e.view(now, geo)).collect()
    }

    /// Finished flows (of `circuit`, or all), newest first, at most `limit`.
    pub fn finished(&self, circuit: Option<u32>, limit: usize) -> Vec<FlowView> {
        self.finished
            .iter()
            .rev()
            .filter(|f| circuit.is_none_or(|c| f.circuit == c))
            .take(limit)
            .map(|f| f.view(self.geo.as_deref()))
            .collect()
    }

    /// Bytes of heap the table holds, computed from sizes and capacities (hash tables as
    /// capacity x (entry + 1 control byte)).
    pub fn heap_bytes(&self) -> usize {
        let index = self.index.capacity() * (size_of::<(LqosFlowKey, u32)>() + 1);
        let slab = self.slab.capacity() * size_of::<Option<FlowEntry>>();
        let free = self.free.capacity() * 4;
        let lists: usize = self.by_circuit.values().map(|l| l.capacity() * 4).sum();
        let by_circuit = self.by_circuit.capacity() * (size_of::<(u32, Vec<u32>)>() + 1);
        let circuits = (self.circuits.capacity() + self.spare_circuits.capacity())
            * (size_of::<(u32, CircuitPass)>() + 1);
        let finished = self.finished.capacity() * size_of::<FinishedFlow>();
        index
            + slab
            + free
            + lists
            + by_circuit
            + circuits
            + finished
            + self.ending.capacity() * 4
            + self.remotes.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::rate_bps;

    #[test]
    fn rates_of_huge_deltas_do_not_overflow() {
        assert_eq!(rate_bps(125_000, 1_000_000_000), 1_000_000);
        assert_eq!(rate_bps(250_000, 2_000_000_000), 1_000_000);
        // 10 GB in one second needs the 128-bit path.
        assert_eq!(rate_bps(10_000_000_000, 1_000_000_000), 80_000_000_000);
        assert_eq!(rate_bps(u64::MAX, 1), u64::MAX);
    }
}
