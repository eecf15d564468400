//! RTT histogram arithmetic: summing the per-CPU kernel histograms, the sparse stores the
//! windows are made of, and percentiles estimated from a bucket's mean.
//!
//! A "cell" is one bucket of one side: cell `side * RTT_BUCKETS + bucket`, so a circuit's
//! two sides make [`CELLS`] = 48 cells and a `u64` bit mask says which are present.

use std::collections::VecDeque;

use lqos_ebpf::{LqosRttHist, RTT_BUCKETS, RTT_EDGES_US};

/// Cells of a circuit: 24 buckets per side, two sides.
pub const CELLS: usize = 2 * RTT_BUCKETS;

/// Sums one circuit's per-CPU histograms (what lqosd reads from the PERCPU_ARRAY) with
/// wrapping adds, like the kernel's own counters wrap.
pub fn sum_cpus(per_cpu: &[LqosRttHist]) -> LqosRttHist {
    let mut out = LqosRttHist::default();
    for hist in per_cpu {
        for (o, s) in out.side.iter_mut().zip(hist.side.iter()) {
            for b in 0..RTT_BUCKETS {
                o.count[b] = o.count[b].wrapping_add(s.count[b]);
                o.sum_us[b] = o.sum_us[b].wrapping_add(s.sum_us[b]);
            }
        }
    }
    out
}

/// The bucket's upper edge in milliseconds (`None` for the last, "more than 1 s").
pub fn bucket_upper_ms(bucket: usize) -> Option<f64> {
    RTT_EDGES_US.get(bucket).map(|&us| f64::from(us) / 1000.0)
}

/// A raw kernel reading of one cell: wrapping cumulative count and sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RawCell {
    count: u32,
    sum_us: u32,
}

/// One cell of a window slot: the samples and their mean (a mean, not a sum, so merged
/// slots still fit in 32 bits: the mean of samples in a bucket is below its upper edge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cell {
    pub count: u32,
    pub mean_us: u32,
}

impl Cell {
    fn merge(self, other: Cell) -> Cell {
        let count = u64::from(self.count) + u64::from(other.count);
        if count == 0 {
            return Cell::default();
        }
        let sum = u64::from(self.count) * u64::from(self.mean_us)
            + u64::from(other.count) * u64::from(other.mean_us);
        Cell {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            mean_us: u32::try_from(sum / count).unwrap_or(u32::MAX),
        }
    }
}

/// The difference between two cumulative readings: present cells in `mask`, values in
/// `cells` (indexed by cell; absent cells are zero).
#[derive(Debug, Clone)]
pub(crate) struct Delta {
    pub mask: u64,
    pub cells: [Cell; CELLS],
}

/// A circuit's last cumulative reading, sparse: only non-zero cells are stored (a mask and
/// one `(count, sum)` pair of `u32` per cell).
#[derive(Debug, Clone, Default)]
pub(crate) struct Baseline {
    mask: u64,
    cells: Box<[RawCell]>,
}

/// A count that went back by more than this much is taken as a reset of the kernel's
/// histogram (a reloaded map), not as a wrap: a new baseline, no delta.
const RESET_GAP: u32 = 1 << 31;

impl Baseline {
    /// The sparse form of a cumulative reading.
    pub fn from_hist(hist: &LqosRttHist) -> Self {
        let mut mask = 0u64;
        let mut cells = Vec::new();
        for (i, raw) in raw_cells(hist).enumerate() {
            if raw != RawCell::default() {
                mask |= 1 << i;
                cells.push(raw);
            }
        }
        Baseline {
            mask,
            cells: cells.into_boxed_slice(),
        }
    }

    /// Replaces this reading with `hist`, in place when the same cells are non-zero (the
    /// usual case: no allocation).
    pub fn update(&mut self, hist: &LqosRttHist) {
        let mut mask = 0u64;
        for (i, raw) in raw_cells(hist).enumerate() {
            if raw != RawCell::default() {
                mask |= 1 << i;
            }
        }
        if mask != self.mask {
            *self = Self::from_hist(hist);
            return;
        }
        let present = raw_cells(hist).filter(|raw| *raw != RawCell::default());
        for (cell, raw) in self.cells.iter_mut().zip(present) {
            *cell = raw;
        }
    }

    fn get(&self, i: usize) -> RawCell {
        let bit = 1u64 << i;
        if self.mask & bit == 0 {
            return RawCell::default();
        }
        let pos = (self.mask & (bit - 1)).count_ones() as usize;
        self.cells.get(pos).copied().unwrap_or_default()
    }

    /// `hist - self` with wrapping arithmetic, or `None` when the histogram was reset.
    pub fn delta_to(&self, hist: &LqosRttHist) -> Option<Delta> {
        let mut delta = Delta {
            mask: 0,
            cells: [Cell::default(); CELLS],
        };
        for (i, cur) in raw_cells(hist).enumerate() {
            let prev = self.get(i);
            let count = cur.count.wrapping_sub(prev.count);
            if count == 0 {
                continue;
            }
            if count >= RESET_GAP {
                return None;
            }
            let sum = cur.sum_us.wrapping_sub(prev.sum_us);
            delta.mask |= 1 << i;
            delta.cells[i] = Cell {
                count,
                mean_us: sum / count,
            };
        }
        Some(delta)
    }

    pub fn heap_bytes(&self) -> usize {
        self.cells.len() * size_of::<RawCell>()
    }
}

fn raw_cells(hist: &LqosRttHist) -> impl Iterator<Item = RawCell> + '_ {
    hist.side.iter().flat_map(|side| {
        side.count
            .iter()
            .zip(side.sum_us.iter())
            .map(|(&count, &sum_us)| RawCell { count, sum_us })
    })
}

/// A slot's header in a [`Ring`]: its number (time / slot width) and the cells it holds.
#[derive(Debug, Clone, Copy)]
struct Hdr {
    slot: u64,
    mask: u64,
}

/// A time ring of sparse histogram slots: headers and cells in two FIFOs, so adding a slot
/// appends and expiring one pops from the front (no per-slot allocation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    hdrs: VecDeque<Hdr>,
    cells: VecDeque<Cell>,
}

impl Ring {
    /// Adds `delta` to slot `slot` (merged into the newest slot when it is the same one).
    pub fn add(&mut self, slot: u64, delta: &Delta) {
        if delta.mask == 0 {
            return;
        }
        if let Some(back) = self.hdrs.back_mut() {
            if back.slot >= slot {
                // Same slot (or a clock that went back): merge into the newest slot.
                let mut merged = delta.cells;
                let n = back.mask.count_ones() as usize;
                let start = self.cells.len() - n;
                for (cell, i) in self.cells.drain(start..).zip(bits(back.mask)) {
                    merged[i] = merged[i].merge(cell);
                }
                back.mask |= delta.mask;
                self.cells.extend(bits(back.mask).map(|i| merged[i]));
                return;
            }
        }
        self.hdrs.push_back(Hdr {
            slot,
            mask: delta.mask,
        });
        self.cells.extend(bits(delta.mask).map(|i| delta.cells[i]));
    }

    /// Drops the slots older than `oldest`.
    pub fn expire(&mut self, oldest: u64) {
        while let Some(front) = self.hdrs.front() {
            if front.slot >= oldest {
                break;
            }
            let n = front.mask.count_ones() as usize;
            self.cells.drain(..n);
            self.hdrs.pop_front();
        }
    }

    /// Adds the slots from `oldest` on to `into`.
    pub fn accumulate(&self, oldest: u64, into: &mut Dense) {
        let mut cells = self.cells.iter();
        for hdr in &self.hdrs {
            let keep = hdr.slot >= oldest;
            for i in bits(hdr.mask) {
                if let Some(c) = cells.next() {
                    if keep {
                        into.count[i] += u64::from(c.count);
                        into.sum_us[i] += u64::from(c.count) * u64::from(c.mean_us);
                    }
                }
            }
        }
    }

    /// Each slot from `oldest` on, oldest first, as its slot number and a dense histogram.
    pub fn slots(&self, oldest: u64) -> Vec<(u64, Dense)> {
        let mut out = Vec::with_capacity(self.hdrs.len());
        let mut cells = self.cells.iter();
        for hdr in &self.hdrs {
            let keep = hdr.slot >= oldest;
            let mut dense = Dense::default();
            for i in bits(hdr.mask) {
                if let Some(c) = cells.next() {
                    dense.count[i] += u64::from(c.count);
                    dense.sum_us[i] += u64::from(c.count) * u64::from(c.mean_us);
                }
            }
            if keep {
                out.push((hdr.slot, dense));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.hdrs.is_empty()
    }

    /// The newest slot's number.
    pub fn newest(&self) -> Option<u64> {
        self.hdrs.back().map(|h| h.slot)
    }

    pub fn heap_bytes(&self) -> usize {
        self.hdrs.capacity() * size_of::<Hdr>() + self.cells.capacity() * size_of::<Cell>()
    }
}

/// Iterates the set bits of `mask`, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// A dense histogram of both sides with 64-bit counts and sums: what queries accumulate
/// windows (and several circuits) into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dense {
    /// Samples per cell (`side * RTT_BUCKETS + bucket`).
    pub count: [u64; CELLS],
    /// Sum of the samples per cell, microseconds.
    pub sum_us: [u64; CELLS],
}

impl Default for Dense {
    fn default() -> Self {
        Dense {
            count: [0; CELLS],
            sum_us: [0; CELLS],
        }
    }
}

impl Dense {
    /// Adds another histogram to this one.
    pub fn merge(&mut self, other: &Dense) {
        for i in 0..CELLS {
            self.count[i] += other.count[i];
            self.sum_us[i] += other.sum_us[i];
        }
    }

    pub(crate) fn add_delta(&mut self, delta: &Delta) {
        for i in bits(delta.mask) {
            let c = delta.cells[i];
            self.count[i] += u64::from(c.count);
            self.sum_us[i] += u64::from(c.count) * u64::from(c.mean_us);
        }
    }

    /// One side's bucket counts.
    pub fn counts(&self, side: usize) -> &[u64] {
        &self.count[side * RTT_BUCKETS..(side + 1) * RTT_BUCKETS]
    }

    /// Samples of one side.
    pub fn samples(&self, side: usize) -> u64 {
        self.counts(side).iter().sum()
    }

    /// The `p`-quantile (0 < p <= 1) of one side in milliseconds, `None` without samples.
    /// The sample of rank `ceil(p * N)` is located in its bucket, and the estimate is the
    /// mean of that bucket's samples (its sum over its count), not the bucket's edge.
    pub fn percentile_ms(&self, side: usize, p: f64) -> Option<f64> {
        let range = side * RTT_BUCKETS..(side + 1) * RTT_BUCKETS;
        let counts = &self.count[range.clone()];
        let sums = &self.sum_us[range];
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        // Float rounding must not push an exact rank up (0.9 * 10 = 9.000000000000002).
        let rank = ((p * total as f64) - 1e-9).ceil().clamp(1.0, total as f64) as u64;
        let mut seen = 0u64;
        for (count, sum) in counts.iter().zip(sums) {
            seen += count;
            if seen >= rank {
                return Some(*sum as f64 / *count as f64 / 1000.0);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_ebpf::{RTT_INTERNET, RTT_SUBSCRIBER};

    /// The bucket holding `us` (the first whose upper edge is >= us).
    fn bucket_of(us: u32) -> usize {
        RTT_EDGES_US
            .iter()
            .position(|&e| us <= e)
            .unwrap_or(RTT_BUCKETS - 1)
    }

    fn add_samples(h: &mut LqosRttHist, side: usize, us: u32, n: u32) {
        let b = bucket_of(us);
        h.side[side].count[b] = h.side[side].count[b].wrapping_add(n);
        h.side[side].sum_us[b] = h.side[side].sum_us[b].wrapping_add(us.wrapping_mul(n));
    }

    fn dense_of(h: &LqosRttHist) -> Dense {
        let mut d = Dense::default();
        d.add_delta(&Baseline::default().delta_to(h).unwrap());
        d
    }

    #[test]
    fn sum_cpus_wraps() {
        let mut a = LqosRttHist::default();
        a.side[0].count[3] = u32::MAX;
        a.side[1].sum_us[5] = u32::MAX - 1;
        let mut b = LqosRttHist::default();
        b.side[0].count[3] = 5;
        b.side[1].sum_us[5] = 10;
        b.side[1].count[0] = 7;
        let s = sum_cpus(&[a, b]);
        assert_eq!(s.side[0].count[3], 4);
        assert_eq!(s.side[1].sum_us[5], 8);
        assert_eq!(s.side[1].count[0], 7);
        assert_eq!(sum_cpus(&[]), LqosRttHist::default());
    }

    #[test]
    fn tight_distribution_reports_its_mean_not_the_bucket_edge() {
        let mut h = LqosRttHist::default();
        // 40.3 ms sits in the 40-50 ms bucket.
        add_samples(&mut h, RTT_INTERNET, 40_300, 50);
        let d = dense_of(&h);
        let p50 = d.percentile_ms(RTT_INTERNET, 0.5).unwrap();
        let p90 = d.percentile_ms(RTT_INTERNET, 0.9).unwrap();
        assert!((p50 - 40.3).abs() < 0.01, "{p50}");
        assert!((p90 - 40.3).abs() < 0.01, "{p90}");
        assert_eq!(d.percentile_ms(RTT_SUBSCRIBER, 0.5), None);
        assert_eq!(d.samples(RTT_INTERNET), 50);
    }

    #[test]
    fn percentile_rank_is_ceil_p_n() {
        let mut h = LqosRttHist::default();
        // 9 samples at 2.5 ms, 1 at 120 ms: p90 = rank 9 -> 2.5 ms; p95 = rank 10 -> 120 ms.
        add_samples(&mut h, RTT_SUBSCRIBER, 2_500, 9);
        add_samples(&mut h, RTT_SUBSCRIBER, 120_000, 1);
        let d = dense_of(&h);
        assert_eq!(d.percentile_ms(RTT_SUBSCRIBER, 0.9), Some(2.5));
        assert_eq!(d.percentile_ms(RTT_SUBSCRIBER, 0.95), Some(120.0));
        assert_eq!(d.percentile_ms(RTT_SUBSCRIBER, 0.5), Some(2.5));
        // One sample is enough.
        let mut one = LqosRttHist::default();
        add_samples(&mut one, RTT_SUBSCRIBER, 7_000, 1);
        assert_eq!(dense_of(&one).percentile_ms(RTT_SUBSCRIBER, 0.9), Some(7.0));
    }

    #[test]
    fn deltas_wrap_and_resets_are_detected() {
        let mut prev = LqosRttHist::default();
        prev.side[0].count[2] = u32::MAX - 1;
        prev.side[0].sum_us[2] = u32::MAX - 100;
        let base = Baseline::from_hist(&prev);
        let mut cur = prev;
        add_samples(&mut cur, 0, 2_500, 4); // count and sum both wrap
        let d = base.delta_to(&cur).unwrap();
        assert_eq!(d.mask, 1 << 2);
        assert_eq!(
            d.cells[2],
            Cell {
                count: 4,
                mean_us: 2_500
            }
        );
        // A histogram that went back to (nearly) zero is a reset, not 4 billion samples.
        let mut before = LqosRttHist::default();
        before.side[1].count[7] = 1_000;
        let mut reset = LqosRttHist::default();
        reset.side[1].count[7] = 3;
        assert!(Baseline::from_hist(&before).delta_to(&reset).is_none());
    }

    #[test]
    fn baseline_is_sparse() {
        let mut h = LqosRttHist::default();
        add_samples(&mut h, 1, 30_000, 3);
        add_samples(&mut h, 0, 500, 1);
        let b = Baseline::from_hist(&h);
        assert_eq!(b.cells.len(), 2);
        assert_eq!(b.heap_bytes(), 16);
        assert!(b.delta_to(&h).unwrap().mask == 0);
        // Updates: in place with the same cells, rebuilt with new ones; both exact.
        let mut b = b;
        let before = b.cells.as_ptr();
        add_samples(&mut h, 1, 30_000, 2);
        b.update(&h);
        assert_eq!(b.cells.as_ptr(), before);
        assert_eq!(b.get(RTT_BUCKETS + bucket_of(30_000)).count, 5);
        add_samples(&mut h, 0, 9_000, 1);
        b.update(&h);
        assert_eq!(b.cells.len(), 3);
        assert!(b.delta_to(&h).unwrap().mask == 0);
        assert_eq!(
            b.get(bucket_of(9_000)),
            RawCell {
                count: 1,
                sum_us: 9_000
            }
        );
    }

    #[test]
    fn ring_merges_same_slot_and_expires_old_ones() {
        let mut ring = Ring::default();
        let delta = |cell: usize, count: u32, mean_us: u32| {
            let mut d = Delta {
                mask: 1 << cell,
                cells: [Cell::default(); CELLS],
            };
            d.cells[cell] = Cell { count, mean_us };
            d
        };
        ring.add(10, &delta(3, 2, 2_000));
        ring.add(10, &delta(3, 2, 4_000));
        ring.add(10, &delta(1, 1, 1_500));
        ring.add(11, &delta(30, 5, 60_000));
        let mut all = Dense::default();
        ring.accumulate(0, &mut all);
        assert_eq!(all.count[3], 4);
        assert_eq!(all.sum_us[3], 12_000);
        assert_eq!(all.count[1], 1);
        assert_eq!(all.count[30], 5);
        let mut newest = Dense::default();
        ring.accumulate(11, &mut newest);
        assert_eq!(newest.count[3], 0);
        assert_eq!(newest.count[30], 5);
        ring.expire(11);
        let mut after = Dense::default();
        ring.accumulate(0, &mut after);
        assert_eq!(after, newest);
        ring.expire(12);
        assert!(ring.is_empty());
    }
}
