//! [`CircuitRtt`]: per-circuit RTT windows built from the kernel's cumulative histograms.
//!
//! lqosd reads a circuit's histogram (summed over CPUs with [`sum_cpus`](crate::sum_cpus))
//! when [`Pass::changed_circuits`](crate::Pass) names it and hands it to
//! [`CircuitRtt::ingest_rtt`]. The first reading of a circuit is only a baseline; later ones
//! yield the samples taken since the previous reading, which go to two rings:
//! - **10 s**: 1-s slots; the window is the slots of the last 10 seconds (`now-9 ..= now`);
//! - **5 min**: 10-s slots; the window is the current slot and the 29 before it (290-300 s).
//!
//! Memory: per circuit ever read, a hash-map entry (~40 B) and the sparse baseline (8 B per
//! non-zero bucket); per circuit with samples in the last 5 minutes, boxed rings: 16 B per
//! slot header plus 8 B per non-empty bucket per slot (docs/telemetry.md has the figures).

use lqos_ebpf::{LqosRttHist, RTT_INTERNET, RTT_SUBSCRIBER};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

use crate::hist::{Baseline, Dense, Ring};
use crate::view::{RttSeriesPoint, RttSeriesSide, RttSideView, RttView};

/// Length of the short window, seconds (1-s slots).
pub const SHORT_WINDOW_S: u64 = 10;
/// Width of a slot of the long window, seconds.
pub const LONG_SLOT_S: u64 = 10;
/// Slots of the long window (30 x 10 s = 5 min).
pub const LONG_SLOTS: u64 = 30;

/// Which window a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 10 seconds.
    TenSeconds,
    /// The last 5 minutes (to a 10-s granularity).
    FiveMinutes,
}

impl Window {
    /// The oldest slot number (in the window's own slots) that is inside the window at `now_s`.
    pub(crate) fn oldest_slot(self, now_s: u64) -> u64 {
        match self {
            Window::TenSeconds => now_s.saturating_sub(SHORT_WINDOW_S - 1),
            Window::FiveMinutes => (now_s / LONG_SLOT_S).saturating_sub(LONG_SLOTS - 1),
        }
    }
}

#[derive(Debug, Default)]
struct RttWindows {
    short: Ring,
    long: Ring,
}

#[derive(Debug, Default)]
struct RttState {
    /// `None` until the first reading.
    baseline: Option<Baseline>,
    /// `None` while the circuit has had no samples for 5 minutes.
    windows: Option<Box<RttWindows>>,
}

/// Per-circuit RTT state: the last cumulative reading of each circuit and the sparse
/// 10-s and 5-min windows of the samples since, plus a 10-s histogram across all circuits.
#[derive(Debug, Default)]
pub struct CircuitRtt {
    circuits: FxHashMap<u32, RttState>,
    now_s: u64,
    /// The last 10 one-second slots across all circuits (for the dashboard).
    global: VecDeque<(u64, Dense)>,
    /// Every sample since start, across all circuits (for Prometheus histograms).
    totals: Dense,
    resets: u64,
}

impl CircuitRtt {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes circuit `circuit`'s cumulative histogram read at `now_s` (seconds of
    /// CLOCK_MONOTONIC, the same clock as the flows' `now_ns / 1e9`). The first reading of a
    /// circuit (or the first after [`forget`](Self::forget), or one whose counts went back:
    /// a reset map) is a baseline; later ones add the new samples to the windows. Circuit 0
    /// ("no circuit") has no histogram and is ignored.
    pub fn ingest_rtt(&mut self, now_s: u64, circuit: u32, cumulative: &LqosRttHist) {
        if circuit == 0 {
            return;
        }
        self.now_s = self.now_s.max(now_s);
        let now_s = self.now_s;
        let state = self.circuits.entry(circuit).or_default();
        let delta = match &state.baseline {
            None => None,
            Some(base) => {
                let d = base.delta_to(cumulative);
                if d.is_none() {
                    self.resets += 1;
                }
                d
            }
        };
        match state.baseline.as_mut() {
            Some(base) => base.update(cumulative),
            None => state.baseline = Some(Baseline::from_hist(cumulative)),
        }
        let Some(delta) = delta else { return };
        if delta.mask == 0 {
            return;
        }
        let windows = state.windows.get_or_insert_with(Box::default);
        windows.short.add(now_s, &delta);
        windows.long.add(now_s / LONG_SLOT_S, &delta);
        windows.short.expire(Window::TenSeconds.oldest_slot(now_s));
        windows.long.expire(Window::FiveMinutes.oldest_slot(now_s));
        self.totals.add_delta(&delta);
        match self.global.back_mut() {
            Some((t, dense)) if *t == now_s => dense.add_delta(&delta),
            _ => {
                let mut dense = Dense::default();
                dense.add_delta(&delta);
                self.global.push_back((now_s, dense));
            }
        }
        self.expire_global();
    }

    /// Forgets a circuit (lqosd gave its index to another circuit): the next reading is a
    /// new baseline and its windows are empty.
    pub fn forget(&mut self, circuit: u32) {
        self.circuits.remove(&circuit);
    }

    /// Moves the clock to `now_s` and frees the windows of circuits without samples in the
    /// last 5 minutes (one pass over the circuits; call it once a second).
    pub fn advance(&mut self, now_s: u64) {
        self.now_s = self.now_s.max(now_s);
        let short = Window::TenSeconds.oldest_slot(self.now_s);
        let long = Window::FiveMinutes.oldest_slot(self.now_s);
        for state in self.circuits.values_mut() {
            if let Some(w) = state.windows.as_mut() {
                w.short.expire(short);
                w.long.expire(long);
                if w.long.is_empty() && w.short.is_empty() {
                    state.windows = None;
                }
            }
        }
        self.expire_global();
    }

    fn expire_global(&mut self) {
        let oldest = Window::TenSeconds.oldest_slot(self.now_s);
        while self.global.front().is_some_and(|(t, _)| *t < oldest) {
            self.global.pop_front();
        }
    }

    /// The latest time seen, seconds.
    pub fn now_s(&self) -> u64 {
        self.now_s
    }

    /// Adds circuit `circuit`'s samples in `window` to `into` (for roll-ups over many
    /// circuits); returns whether the circuit had any window state.
    pub fn accumulate(&self, circuit: u32, window: Window, into: &mut Dense) -> bool {
        let Some(w) = self.circuits.get(&circuit).and_then(|s| s.windows.as_ref()) else {
            return false;
        };
        let oldest = window.oldest_slot(self.now_s);
        match window {
            Window::TenSeconds => w.short.accumulate(oldest, into),
            Window::FiveMinutes => w.long.accumulate(oldest, into),
        }
        true
    }

    /// One circuit's samples in `window` (empty when it has none).
    pub fn window(&self, circuit: u32, window: Window) -> Dense {
        let mut dense = Dense::default();
        self.accumulate(circuit, window, &mut dense);
        dense
    }

    /// One circuit's RTT over the last 5 minutes as a series: one point per 10-s slot that
    /// has samples, oldest first, each with both sides' p50/p90 over that slot alone (the
    /// newest slot is still filling). Slots without samples are left out (a gap).
    pub fn series(&self, circuit: u32) -> Vec<RttSeriesPoint> {
        let Some(w) = self.circuits.get(&circuit).and_then(|s| s.windows.as_ref()) else {
            return Vec::new();
        };
        w.long
            .slots(Window::FiveMinutes.oldest_slot(self.now_s))
            .into_iter()
            .map(|(slot, dense)| {
                let start_s = slot * LONG_SLOT_S;
                RttSeriesPoint {
                    start_s,
                    end_s: (start_s + LONG_SLOT_S).min(self.now_s + 1).max(start_s + 1),
                    internet: series_side(&dense, RTT_INTERNET),
                    subscriber: series_side(&dense, RTT_SUBSCRIBER),
                }
            })
            .collect()
    }

    /// The p50/p90 view of one circuit (both windows, both sides).
    pub fn view(&self, circuit: u32) -> RttView {
        rtt_view(
            &self.window(circuit, Window::TenSeconds),
            &self.window(circuit, Window::FiveMinutes),
        )
    }

    /// Circuits that had samples in the last 5 minutes (unordered).
    pub fn active_circuits(&self) -> impl Iterator<Item = u32> + '_ {
        self.circuits
            .iter()
            .filter(|(_, s)| s.windows.is_some())
            .map(|(c, _)| *c)
    }

    /// Whether `circuit` had samples in the last 10 seconds.
    pub(crate) fn has_recent(&self, circuit: u32) -> bool {
        self.circuits
            .get(&circuit)
            .and_then(|s| s.windows.as_ref())
            .and_then(|w| w.short.newest())
            .is_some_and(|t| t >= Window::TenSeconds.oldest_slot(self.now_s))
    }

    /// All circuits' samples over the last 10 seconds.
    pub fn histogram_10s(&self) -> Dense {
        let oldest = Window::TenSeconds.oldest_slot(self.now_s);
        let mut dense = Dense::default();
        for (_, d) in self.global.iter().filter(|(t, _)| *t >= oldest) {
            dense.merge(d);
        }
        dense
    }

    /// Every sample since start, all circuits (cumulative, for Prometheus histograms).
    pub fn totals(&self) -> &Dense {
        &self.totals
    }

    /// Readings taken as a reset of the kernel's histogram (counts that went back).
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Circuits with state (a baseline at least).
    pub fn len(&self) -> usize {
        self.circuits.len()
    }

    /// Whether no circuit has state.
    pub fn is_empty(&self) -> bool {
        self.circuits.is_empty()
    }

    /// Bytes of heap this store holds (computed from sizes and capacities; the map's own
    /// table counted as capacity x (entry + 1 control byte)).
    pub fn heap_bytes(&self) -> usize {
        let table = self.circuits.capacity() * (size_of::<(u32, RttState)>() + 1);
        let inner: usize = self
            .circuits
            .values()
            .map(|s| {
                s.baseline.as_ref().map_or(0, Baseline::heap_bytes)
                    + s.windows.as_ref().map_or(0, |w| {
                        size_of::<RttWindows>() + w.short.heap_bytes() + w.long.heap_bytes()
                    })
            })
            .sum();
        table + inner + self.global.capacity() * size_of::<(u64, Dense)>()
    }
}

/// The [`RttView`] of a 10-s and a 5-min histogram.
pub fn rtt_view(short: &Dense, long: &Dense) -> RttView {
    RttView {
        internet: side_view(short, long, RTT_INTERNET),
        subscriber: side_view(short, long, RTT_SUBSCRIBER),
    }
}

fn series_side(dense: &Dense, side: usize) -> RttSeriesSide {
    RttSeriesSide {
        p50_ms: dense.percentile_ms(side, 0.5),
        p90_ms: dense.percentile_ms(side, 0.9),
        samples: dense.samples(side),
    }
}

fn side_view(short: &Dense, long: &Dense, side: usize) -> RttSideView {
    RttSideView {
        p50_ms: short.percentile_ms(side, 0.5),
        p90_ms: short.percentile_ms(side, 0.9),
        samples: short.samples(side),
        p50_5m_ms: long.percentile_ms(side, 0.5),
        p90_5m_ms: long.percentile_ms(side, 0.9),
        samples_5m: long.samples(side),
    }
}

// Every cell of a circuit has a bit in a u64 mask.
const _: () = assert!(crate::hist::CELLS <= 64);
