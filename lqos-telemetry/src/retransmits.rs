//! [`CircuitRetransmits`]: per-circuit TCP packets and retransmits per direction over the last
//! 10 s and 5 min, and the retransmit percentage with its significance gate.
//!
//! The kernel counts a TCP segment as retransmitted when its sequence number goes backwards,
//! so duplicates and reordering count too: it is a proxy for loss, not loss.
//!
//! **Gate.** A percentage is *significant* only when its window holds at least
//! [`RETX_MIN_PACKETS`] TCP packets **and** at least [`RETX_MIN_RETRANSMITS`] retransmits in
//! that direction. Without it a near-idle circuit (a camera check-in, one slow start) shows
//! 1 retransmit of 3 packets as 33 % (LibreQoS #1033, fixed by the same gate in #1046). The
//! numbers are always reported; only "worst circuits" lists and colouring use the gate.

use std::collections::VecDeque;

use lqos_ebpf::{FLOW_DOWN, FLOW_UP};
use rustc_hash::FxHashMap;

use crate::rtt::{Window, LONG_SLOT_S};
use crate::view::RetransmitView;

/// The gate's minimum TCP packets in the window and direction.
pub const RETX_MIN_PACKETS: u64 = 100;
/// The gate's minimum retransmits in the window and direction.
pub const RETX_MIN_RETRANSMITS: u64 = 2;

/// TCP packets and retransmits per direction ([`FLOW_DOWN`], [`FLOW_UP`]) over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetxTotals {
    pub tcp_packets: [u64; 2],
    pub retransmits: [u64; 2],
}

impl RetxTotals {
    /// Adds another circuit's totals (node roll-ups).
    pub fn merge(&mut self, other: &RetxTotals) {
        for d in [FLOW_DOWN, FLOW_UP] {
            self.tcp_packets[d] += other.tcp_packets[d];
            self.retransmits[d] += other.retransmits[d];
        }
    }

    /// Retransmits per 100 TCP packets in direction `dir`; 0 without packets.
    pub fn percent(&self, dir: usize) -> f64 {
        if self.tcp_packets[dir] == 0 {
            return 0.0;
        }
        (self.retransmits[dir] as f64 * 100.0 / self.tcp_packets[dir] as f64).min(100.0)
    }

    /// Whether direction `dir` passes the gate (module docs).
    pub fn significant(&self, dir: usize) -> bool {
        self.tcp_packets[dir] >= RETX_MIN_PACKETS && self.retransmits[dir] >= RETX_MIN_RETRANSMITS
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    slot: u64,
    tcp: [u32; 2],
    retx: [u32; 2],
}

#[derive(Debug, Default)]
struct Windows {
    short: VecDeque<Slot>,
    long: VecDeque<Slot>,
}

fn push(ring: &mut VecDeque<Slot>, slot: u64, tcp: [u64; 2], retx: [u64; 2]) {
    let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    match ring.back_mut() {
        Some(back) if back.slot >= slot => {
            for d in [FLOW_DOWN, FLOW_UP] {
                back.tcp[d] = back.tcp[d].saturating_add(sat(tcp[d]));
                back.retx[d] = back.retx[d].saturating_add(sat(retx[d]));
            }
        }
        _ => ring.push_back(Slot {
            slot,
            tcp: tcp.map(sat),
            retx: retx.map(sat),
        }),
    }
}

fn expire(ring: &mut VecDeque<Slot>, oldest: u64) {
    while ring.front().is_some_and(|s| s.slot < oldest) {
        ring.pop_front();
    }
}

/// Per-circuit retransmit windows (fed each pass by the flow table's per-circuit deltas).
#[derive(Debug, Default)]
pub struct CircuitRetransmits {
    circuits: FxHashMap<u32, Box<Windows>>,
    now_s: u64,
}

impl CircuitRetransmits {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one pass's TCP packets and retransmits of `circuit` at `now_s`. Passes without
    /// TCP packets add nothing (and allocate nothing).
    pub fn add(&mut self, now_s: u64, circuit: u32, tcp_packets: [u64; 2], retransmits: [u64; 2]) {
        self.now_s = self.now_s.max(now_s);
        if tcp_packets == [0, 0] && retransmits == [0, 0] {
            return;
        }
        let w = self.circuits.entry(circuit).or_default();
        push(&mut w.short, self.now_s, tcp_packets, retransmits);
        push(
            &mut w.long,
            self.now_s / LONG_SLOT_S,
            tcp_packets,
            retransmits,
        );
        expire(&mut w.short, Window::TenSeconds.oldest_slot(self.now_s));
        expire(&mut w.long, Window::FiveMinutes.oldest_slot(self.now_s));
    }

    /// Moves the clock and drops circuits without TCP packets for 5 minutes.
    pub fn advance(&mut self, now_s: u64) {
        self.now_s = self.now_s.max(now_s);
        let short = Window::TenSeconds.oldest_slot(self.now_s);
        let long = Window::FiveMinutes.oldest_slot(self.now_s);
        self.circuits.retain(|_, w| {
            expire(&mut w.short, short);
            expire(&mut w.long, long);
            !(w.short.is_empty() && w.long.is_empty())
        });
    }

    /// Forgets a circuit (its index was given to another one).
    pub fn forget(&mut self, circuit: u32) {
        self.circuits.remove(&circuit);
    }

    /// One circuit's totals over `window`.
    pub fn totals(&self, circuit: u32, window: Window) -> RetxTotals {
        let mut t = RetxTotals::default();
        let Some(w) = self.circuits.get(&circuit) else {
            return t;
        };
        let oldest = window.oldest_slot(self.now_s);
        let ring = match window {
            Window::TenSeconds => &w.short,
            Window::FiveMinutes => &w.long,
        };
        for s in ring.iter().filter(|s| s.slot >= oldest) {
            for d in [FLOW_DOWN, FLOW_UP] {
                t.tcp_packets[d] += u64::from(s.tcp[d]);
                t.retransmits[d] += u64::from(s.retx[d]);
            }
        }
        t
    }

    /// Circuits with TCP packets in the last 5 minutes (unordered).
    pub fn active_circuits(&self) -> impl Iterator<Item = u32> + '_ {
        self.circuits.keys().copied()
    }

    /// The view of one circuit.
    pub fn view(&self, circuit: u32) -> RetransmitView {
        retransmit_view(
            &self.totals(circuit, Window::TenSeconds),
            &self.totals(circuit, Window::FiveMinutes),
        )
    }

    /// Bytes of heap held (computed from sizes and capacities).
    pub fn heap_bytes(&self) -> usize {
        let table = self.circuits.capacity() * (size_of::<(u32, Box<Windows>)>() + 1);
        let inner: usize = self
            .circuits
            .values()
            .map(|w| {
                size_of::<Windows>() + (w.short.capacity() + w.long.capacity()) * size_of::<Slot>()
            })
            .sum();
        table + inner
    }
}

/// The [`RetransmitView`] of 10-s and 5-min totals.
pub fn retransmit_view(short: &RetxTotals, long: &RetxTotals) -> RetransmitView {
    RetransmitView {
        down: short.percent(FLOW_DOWN),
        up: short.percent(FLOW_UP),
        down_packets: short.tcp_packets[FLOW_DOWN],
        up_packets: short.tcp_packets[FLOW_UP],
        significant_down: short.significant(FLOW_DOWN),
        significant_up: short.significant(FLOW_UP),
        down_5m: long.percent(FLOW_DOWN),
        up_5m: long.percent(FLOW_UP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_needs_100_packets_and_2_retransmits() {
        let t = |p, r| RetxTotals {
            tcp_packets: [p, 0],
            retransmits: [r, 0],
        };
        assert!(!t(3, 1).significant(FLOW_DOWN)); // 33 %, near idle
        assert!(!t(99, 5).significant(FLOW_DOWN));
        assert!(!t(1000, 1).significant(FLOW_DOWN));
        assert!(t(100, 2).significant(FLOW_DOWN));
        assert!((t(3, 1).percent(FLOW_DOWN) - 33.333).abs() < 0.01);
        assert_eq!(t(0, 0).percent(FLOW_DOWN), 0.0);
        assert!(!t(1000, 50).significant(FLOW_UP));
    }

    #[test]
    fn windows_slide_out_after_10_s_and_5_min() {
        let mut r = CircuitRetransmits::new();
        r.add(1000, 7, [200, 100], [4, 0]);
        r.add(1001, 7, [100, 0], [1, 0]);
        let v = r.view(7);
        assert_eq!(v.down_packets, 300);
        assert!((v.down - 5.0 / 3.0).abs() < 1e-9);
        assert!(v.significant_down);
        assert!(!v.significant_up);
        assert_eq!(v.up, 0.0);
        // 1001 + 9 = 1010: the slot of 1001 is still in, 1000 is out.
        r.advance(1010);
        assert_eq!(r.totals(7, Window::TenSeconds).tcp_packets, [100, 0]);
        r.advance(1011);
        assert_eq!(r.totals(7, Window::TenSeconds).tcp_packets, [0, 0]);
        assert!((r.view(7).down_5m - 5.0 / 3.0).abs() < 1e-9);
        // Slot 100 (1000..1009) leaves the 5-min window when slot 130 begins.
        r.advance(1299);
        assert_eq!(r.totals(7, Window::FiveMinutes).tcp_packets, [300, 100]);
        r.advance(1300);
        assert_eq!(r.totals(7, Window::FiveMinutes), RetxTotals::default());
        assert_eq!(r.active_circuits().count(), 0);
    }

    #[test]
    fn idle_passes_allocate_nothing_and_forget_clears() {
        let mut r = CircuitRetransmits::new();
        r.add(5, 1, [0, 0], [0, 0]);
        assert_eq!(r.active_circuits().count(), 0);
        r.add(5, 1, [10, 10], [1, 1]);
        r.forget(1);
        assert_eq!(r.totals(1, Window::FiveMinutes), RetxTotals::default());
    }
}
