//! The views the bus, the CLI (`--json`) and the WebUI serve. All are plain data with
//! `Serialize + Deserialize`; no member is ever skipped (they also travel as postcard, which
//! needs every field), and `Option` is JSON `null`.

use serde::{Deserialize, Serialize};

/// Everything lqos knows about one circuit's traffic quality.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CircuitTelemetry {
    pub rtt: RttView,
    pub retransmits: RetransmitView,
    /// Active (tracked, not ended) flows.
    pub flows: u64,
    pub qoo: QooView,
    /// The busiest flows by current rate (both directions).
    pub top_flows: Vec<FlowView>,
    /// Filled by lqosd from netlink queue statistics; default here.
    pub queue: QueueView,
}

/// RTT per side. `internet`: data toward the Internet, the remote end's ACK (upload queue +
/// the path to the server); `subscriber`: data toward the subscriber, the subscriber's ACK
/// (the shaper's download queue + the last mile). Never averaged together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttView {
    pub internet: RttSideView,
    pub subscriber: RttSideView,
}

/// One side's RTT percentiles, milliseconds; `None` without samples in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSideView {
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    /// Samples over the last 10 s.
    pub samples: u64,
    pub p50_5m_ms: Option<f64>,
    pub p90_5m_ms: Option<f64>,
    /// Samples over the last 5 min.
    pub samples_5m: u64,
}

/// One 10-s slot of a circuit's RTT series ([`CircuitRtt::series`](crate::CircuitRtt::series)).
/// Times are seconds of the telemetry's clock (CLOCK_MONOTONIC in lqosd, which converts them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSeriesPoint {
    /// The slot's first second.
    pub start_s: u64,
    /// One past its last second (the newest slot: one past the latest second seen).
    pub end_s: u64,
    pub internet: RttSeriesSide,
    pub subscriber: RttSeriesSide,
}

/// One side of one slot; `None` without samples on that side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSeriesSide {
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub samples: u64,
}

/// Retransmitted TCP packets per 100 TCP packets, per direction (`down`: data toward the
/// subscriber). `down`/`up` and the packet counts are over the last 10 s, `*_5m` over 5 min;
/// `significant_*` is the gate (>= 100 TCP packets and >= 2 retransmits in the 10-s window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetransmitView {
    pub down: f64,
    pub up: f64,
    pub down_packets: u64,
    pub up_packets: u64,
    pub significant_down: bool,
    pub significant_up: bool,
    pub down_5m: f64,
    pub up_5m: f64,
}

/// Quality of Outcome, 0..=100 (`None`: not enough data, or excluded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QooView {
    /// The circuit's score: the lower of the sides that have one.
    pub score: Option<u8>,
    pub internet: Option<u8>,
    pub subscriber: Option<u8>,
    /// The profile's name (`web_browsing` by default).
    pub profile: String,
    /// The operator excluded this circuit from QoO.
    pub excluded: bool,
}

/// A circuit's queues, one per direction (filled by lqosd, not by this crate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    pub down: QueueDirView,
    pub up: QueueDirView,
}

/// One direction's HTB class and leaf qdisc statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueDirView {
    pub sent_bytes: u64,
    pub sent_packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub backlog_bytes: u64,
    pub qlen: u64,
    pub ecn_marks: Option<u64>,
    pub ack_drops: Option<u64>,
    pub peak_delay_us: Option<u64>,
    pub base_delay_us: Option<u64>,
    /// The leaf qdisc's kind: "pfifo", "cake", "fq_codel", ...
    pub leaf: String,
}

/// One flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowView {
    /// The remote end, "ip:port" ("[v6]:port").
    pub remote: String,
    /// The subscriber's end, "ip:port" ("[v6]:port").
    pub local: String,
    /// "tcp", "udp", "icmp", "ipv6-icmp" or the protocol number.
    pub proto: String,
    /// The circuit index (0: none).
    pub circuit: u32,
    /// Bytes since the flow began (IP lengths), toward the subscriber.
    pub bytes_down: u64,
    pub bytes_up: u64,
    /// Bits per second over the last pass.
    pub rate_down_bps: u64,
    pub rate_up_bps: u64,
    /// The last RTT sample of the flow's main data direction (the one with more bytes):
    /// `rtt_subscriber_ms` for a mostly-download flow, `rtt_internet_ms` otherwise.
    pub rtt_ms: Option<f64>,
    pub rtt_subscriber_ms: Option<f64>,
    pub rtt_internet_ms: Option<f64>,
    /// Retransmits in both directions since the flow began.
    pub retransmits: u64,
    pub retransmits_down: u64,
    pub retransmits_up: u64,
    /// Seconds from the first packet to now (to the last packet for an ended flow).
    pub age_s: f64,
    /// The flow ended (FIN/RST or idle) and is in the finished list.
    pub ended: bool,
    /// The remote end's ASN (0: unknown), looked up once when the flow was first seen.
    pub asn: u32,
    /// The ASN's organisation name, when the ASN table knows it.
    pub asn_name: Option<String>,
    /// The remote end's country, ISO 3166-1 alpha-2 (`None`: unknown).
    pub country: Option<String>,
}

/// RTT and retransmits of a group of circuits (a tree node's circuits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RollupView {
    pub rtt: RttView,
    pub retransmits: RetransmitView,
    /// Active flows of the circuits.
    pub flows: u64,
    /// Circuits asked for.
    pub circuits: u64,
}

/// An RTT histogram across all circuits (the dashboard), last 10 s.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttHistogramView {
    /// Upper edges of the buckets, ms; the last bucket (beyond the last edge) has none, so
    /// `subscriber` and `internet` have one more entry than this.
    pub edges_ms: Vec<f64>,
    pub subscriber: Vec<u64>,
    pub internet: Vec<u64>,
}

/// A circuit in a "worst by RTT" list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorstRtt {
    pub circuit: u32,
    pub p90_ms: f64,
    pub samples: u64,
}

/// A circuit in a "worst by retransmits" list (significant directions only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorstRetransmits {
    pub circuit: u32,
    pub retransmits: RetransmitView,
    /// The larger of the significant directions' percentages (the sort key).
    pub worst_percent: f64,
}

/// The dashboard's telemetry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub rtt_histogram: RttHistogramView,
    pub worst_internet_rtt: Vec<WorstRtt>,
    pub worst_subscriber_rtt: Vec<WorstRtt>,
    pub worst_retransmits: Vec<WorstRetransmits>,
    /// Live flows tracked.
    pub flows_tracked: u64,
    /// Kernel entries not tracked because the table was full (cumulative).
    pub flows_dropped: u64,
}
