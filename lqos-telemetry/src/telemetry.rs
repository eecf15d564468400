//! [`Telemetry`]: the flow table, the RTT and retransmit windows and the QoO configuration
//! together, and the queries that need more than one of them (circuit views, tree roll-ups,
//! the dashboard).

use lqos_ebpf::{LqosFlow, LqosFlowKey, LqosRttHist, RTT_BUCKETS, RTT_INTERNET, RTT_SUBSCRIBER};
use lqos_ebpf::{FLOW_DOWN, FLOW_UP};

use crate::flows::{FlowLimits, FlowPass, FlowTable, Pass};
use crate::hist::{bucket_upper_ms, Dense};
use crate::qoo::{Qoo, MIN_RTT_SAMPLES};
use crate::retransmits::{retransmit_view, CircuitRetransmits, RetxTotals};
use crate::rtt::{rtt_view, CircuitRtt, Window};
use crate::view::{
    CircuitTelemetry, DashboardView, QueueView, RollupView, RttHistogramView, RttSeriesPoint,
    WorstRetransmits, WorstRtt,
};

/// Flows shown in a circuit's view unless asked otherwise.
pub const DEFAULT_TOP_FLOWS: usize = 10;

/// All of lqosd's telemetry state.
#[derive(Debug)]
pub struct Telemetry {
    flows: FlowTable,
    rtt: CircuitRtt,
    retx: CircuitRetransmits,
    qoo: Qoo,
    /// A finished pass's accounting still to do ([`settle`](Telemetry::settle)).
    unsettled: Unsettled,
}

/// What [`Telemetry::finish_flows`] leaves to [`Telemetry::settle`].
#[derive(Debug, Default)]
struct Unsettled {
    now_s: u64,
    /// Per circuit: TCP packets and retransmits of the pass, per direction.
    retransmits: Vec<(u32, [u64; 2], [u64; 2])>,
    /// The windows' clocks are still to move to `now_s`.
    advance: bool,
}

impl Telemetry {
    /// Empty state with these flow limits and QoO configuration.
    pub fn new(limits: FlowLimits, qoo: Qoo) -> Self {
        Telemetry {
            flows: FlowTable::new(limits),
            rtt: CircuitRtt::new(),
            retx: CircuitRetransmits::new(),
            qoo,
            unsettled: Unsettled::default(),
        }
    }

    /// One second's flow map ([`FlowTable::ingest`]); also feeds each circuit's TCP packets
    /// and retransmits to the retransmit windows and moves every window's clock to
    /// `now_ns / 1e9`. The same as [`begin_flows`](Self::begin_flows), one
    /// [`feed_flows`](Self::feed_flows), [`finish_flows`](Self::finish_flows) and
    /// [`settle`](Self::settle) until it is done.
    pub fn ingest_flows(&mut self, now_ns: u64, flows: &[(LqosFlowKey, LqosFlow)]) -> Pass {
        let mut pass = self.begin_flows(now_ns);
        self.feed_flows(&mut pass, flows);
        let pass = self.finish_flows(pass);
        while !self.settle(usize::MAX) {}
        pass
    }

    /// Starts a pass over a read of the flow map that may be fed in chunks, with readers of
    /// the state in between ([`FlowTable::begin`]). A previous pass's accounting that was
    /// not settled is settled first.
    pub fn begin_flows(&mut self, now_ns: u64) -> FlowPass {
        while !self.settle(usize::MAX) {}
        self.flows.begin(now_ns)
    }

    /// Takes part of the read ([`FlowTable::feed`]).
    pub fn feed_flows(&mut self, pass: &mut FlowPass, flows: &[(LqosFlowKey, LqosFlow)]) {
        self.flows.feed(pass, flows);
    }

    /// Ends the pass ([`FlowTable::finish`]). Each circuit's TCP packets and retransmits go
    /// to the retransmit windows, and the windows' clocks move, in [`settle`](Self::settle).
    pub fn finish_flows(&mut self, pass: FlowPass) -> Pass {
        while !self.settle(usize::MAX) {}
        let now_s = pass.now_ns() / 1_000_000_000;
        let pass = self.flows.finish(pass);
        let u = &mut self.unsettled;
        u.now_s = now_s;
        u.retransmits.clear();
        u.retransmits.extend(
            self.flows
                .circuit_passes()
                .filter(|(c, _)| *c != 0)
                .map(|(c, p)| (c, p.tcp_packets, p.retransmits)),
        );
        u.advance = true;
        pass
    }

    /// Does up to `max` circuits of the last finished pass's retransmit accounting; once
    /// none is left, a call moves every window's clock (one pass over the circuits with
    /// windows). Returns true when nothing is left. Until then, the retransmit windows lag
    /// the flow table by part of a second.
    pub fn settle(&mut self, max: usize) -> bool {
        let u = &mut self.unsettled;
        if !u.retransmits.is_empty() {
            let from = u.retransmits.len().saturating_sub(max);
            for (circuit, tcp, retx) in u.retransmits.drain(from..) {
                self.retx.add(u.now_s, circuit, tcp, retx);
            }
            return false;
        }
        if u.advance {
            u.advance = false;
            self.retx.advance(u.now_s);
            self.rtt.advance(u.now_s);
        }
        true
    }

    /// A circuit's cumulative RTT histogram ([`CircuitRtt::ingest_rtt`]).
    pub fn ingest_rtt(&mut self, now_s: u64, circuit: u32, cumulative: &LqosRttHist) {
        self.rtt.ingest_rtt(now_s, circuit, cumulative);
    }

    /// Forgets a circuit's RTT baseline and windows and its retransmit windows (lqosd gave
    /// its index to another circuit).
    pub fn forget(&mut self, circuit: u32) {
        self.rtt.forget(circuit);
        self.retx.forget(circuit);
    }

    /// The ASN and country tables new flows are looked up in, once each, when first seen
    /// (`None`: every flow's ASN and country are unknown).
    pub fn set_geo(&mut self, geo: Option<std::sync::Arc<crate::geo::GeoTables>>) {
        self.flows.set_geo(geo);
    }

    /// Per-ASN and per-country traffic over the last 15 minutes
    /// ([`FlowTable::remote_report`]).
    pub fn remote_report(&self, top_circuits: usize) -> crate::remotes_view::RemoteReport {
        self.flows.remote_report(top_circuits)
    }

    /// The parts of [`remote_report`](Self::remote_report), to aggregate outside a lock
    /// ([`FlowTable::remote_parts`]).
    pub fn remote_parts(&self) -> crate::remotes_view::RemoteParts {
        self.flows.remote_parts()
    }

    /// One ASN ([`FlowTable::asn_detail`]).
    pub fn asn_detail(&self, asn: u32, flows: usize) -> crate::remotes_view::AsnDetail {
        self.flows.asn_detail(asn, flows)
    }

    /// The flow table.
    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }

    /// The RTT windows.
    pub fn rtt(&self) -> &CircuitRtt {
        &self.rtt
    }

    /// The retransmit windows.
    pub fn retransmits(&self) -> &CircuitRetransmits {
        &self.retx
    }

    /// The QoO configuration.
    pub fn qoo(&self) -> &Qoo {
        &self.qoo
    }

    /// Replaces the QoO configuration (a reloaded lqos.conf).
    pub fn set_qoo(&mut self, qoo: Qoo) {
        self.qoo = qoo;
    }

    /// Everything about one circuit, with its `top_n` busiest flows; `queue` is left default
    /// for lqosd to fill.
    pub fn circuit_view(&self, circuit: u32, top_n: usize) -> CircuitTelemetry {
        let long = self.rtt.window(circuit, Window::FiveMinutes);
        let short = self.rtt.window(circuit, Window::TenSeconds);
        let retx_long = self.retx.totals(circuit, Window::FiveMinutes);
        let retx_short = self.retx.totals(circuit, Window::TenSeconds);
        CircuitTelemetry {
            rtt: rtt_view(&short, &long),
            retransmits: retransmit_view(&retx_short, &retx_long),
            flows: self.flows.active_flows(circuit),
            qoo: self.qoo.view(circuit, &long, &retx_long),
            top_flows: self.flows.top_flows(circuit, top_n),
            queue: QueueView::default(),
        }
    }

    /// A circuit's RTT per 10-s slot over the last 5 minutes ([`CircuitRtt::series`]).
    pub fn rtt_series(&self, circuit: u32) -> Vec<RttSeriesPoint> {
        self.rtt.series(circuit)
    }

    /// RTT, retransmits and active flows of a group of circuits (a tree node's): their
    /// windows merged, so percentiles are over all their samples.
    pub fn rollup(&self, circuits: &[u32]) -> RollupView {
        let mut short = Dense::default();
        let mut long = Dense::default();
        let mut retx_short = RetxTotals::default();
        let mut retx_long = RetxTotals::default();
        let mut flows = 0;
        for &c in circuits {
            if self.rtt.accumulate(c, Window::FiveMinutes, &mut long) {
                self.rtt.accumulate(c, Window::TenSeconds, &mut short);
            }
            retx_short.merge(&self.retx.totals(c, Window::TenSeconds));
            retx_long.merge(&self.retx.totals(c, Window::FiveMinutes));
            flows += self.flows.active_flows(c);
        }
        RollupView {
            rtt: rtt_view(&short, &long),
            retransmits: retransmit_view(&retx_short, &retx_long),
            flows,
            circuits: circuits.len() as u64,
        }
    }

    /// The RTT histogram across all circuits over the last 10 s, per side.
    pub fn rtt_histogram(&self) -> RttHistogramView {
        let dense = self.rtt.histogram_10s();
        RttHistogramView {
            edges_ms: (0..RTT_BUCKETS).filter_map(bucket_upper_ms).collect(),
            subscriber: dense.counts(RTT_SUBSCRIBER).to_vec(),
            internet: dense.counts(RTT_INTERNET).to_vec(),
        }
    }

    /// The `n` circuits with the highest p90 on `side` ([`RTT_INTERNET`] or
    /// [`RTT_SUBSCRIBER`]) over `window`, among those with at least 5 samples there
    /// (one pass over the circuits with samples in the last 5 minutes).
    pub fn worst_rtt(&self, side: usize, window: Window, n: usize) -> Vec<WorstRtt> {
        let [internet, subscriber] = self.worst_rtt_both(window, n);
        if side == RTT_INTERNET {
            internet
        } else {
            subscriber
        }
    }

    /// [`worst_rtt`](Self::worst_rtt) of both sides in one pass: `[internet, subscriber]`.
    pub fn worst_rtt_both(&self, window: Window, n: usize) -> [Vec<WorstRtt>; 2] {
        let mut out: [Vec<WorstRtt>; 2] = [Vec::new(), Vec::new()];
        for circuit in self.rtt.active_circuits() {
            if window == Window::TenSeconds && !self.rtt.has_recent(circuit) {
                continue;
            }
            let dense = self.rtt.window(circuit, window);
            for (list, side) in out.iter_mut().zip([RTT_INTERNET, RTT_SUBSCRIBER]) {
                let samples = dense.samples(side);
                if samples < MIN_RTT_SAMPLES {
                    continue;
                }
                if let Some(p90_ms) = dense.percentile_ms(side, 0.9) {
                    list.push(WorstRtt {
                        circuit,
                        p90_ms,
                        samples,
                    });
                }
            }
        }
        for list in &mut out {
            list.sort_by(|a, b| {
                b.p90_ms
                    .total_cmp(&a.p90_ms)
                    .then(a.circuit.cmp(&b.circuit))
            });
            list.truncate(n);
        }
        out
    }

    /// The `n` circuits with the highest significant retransmit percentage (either
    /// direction) over the last 10 s; circuits without a significant direction are left out.
    pub fn worst_retransmits(&self, n: usize) -> Vec<WorstRetransmits> {
        let mut out: Vec<WorstRetransmits> = Vec::new();
        for circuit in self.retx.active_circuits() {
            let short = self.retx.totals(circuit, Window::TenSeconds);
            let worst = [FLOW_DOWN, FLOW_UP]
                .into_iter()
                .filter(|&d| short.significant(d))
                .map(|d| short.percent(d))
                .fold(None, |acc: Option<f64>, p| {
                    Some(acc.map_or(p, |a| a.max(p)))
                });
            if let Some(worst_percent) = worst {
                out.push(WorstRetransmits {
                    circuit,
                    retransmits: self.retx.view(circuit),
                    worst_percent,
                });
            }
        }
        out.sort_by(|a, b| {
            b.worst_percent
                .total_cmp(&a.worst_percent)
                .then(a.circuit.cmp(&b.circuit))
        });
        out.truncate(n);
        out
    }

    /// The dashboard: the 10-s RTT histogram, the `n` worst circuits by internet and by
    /// subscriber p90 (10 s) and by retransmits, and the flow counts.
    pub fn dashboard(&self, n: usize) -> DashboardView {
        let [worst_internet_rtt, worst_subscriber_rtt] = self.worst_rtt_both(Window::TenSeconds, n);
        DashboardView {
            rtt_histogram: self.rtt_histogram(),
            worst_internet_rtt,
            worst_subscriber_rtt,
            worst_retransmits: self.worst_retransmits(n),
            flows_tracked: self.flows.len() as u64,
            flows_dropped: self.flows.dropped(),
        }
    }

    /// Bytes of heap held by all the state (computed from sizes and capacities).
    pub fn heap_bytes(&self) -> usize {
        self.flows.heap_bytes() + self.rtt.heap_bytes() + self.retx.heap_bytes()
    }
}
