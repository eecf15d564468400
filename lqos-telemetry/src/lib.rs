//! Telemetry for lqos, as pure data structures: what lqosd reads from the kernel's flow table
//! and RTT histograms goes in, per-flow rates, per-circuit RTT percentiles, retransmit
//! percentages, QoO scores and the views the bus, the CLI and the WebUI show come out.
//! Nothing here touches the kernel, so all of it is tested without root.
//!
//! Each second lqosd:
//! 1. takes `now_ns` (CLOCK_MONOTONIC), reads every entry of the kernel's flow map and calls
//!    [`Telemetry::ingest_flows`] (or [`FlowTable::ingest`] alone; or, to let readers of a
//!    shared state in between, [`Telemetry::begin_flows`], [`Telemetry::feed_flows`] per
//!    chunk of the read, [`Telemetry::finish_flows`] and [`Telemetry::settle`] until done);
//! 2. for each circuit in [`Pass::changed_circuits`], reads its per-CPU RTT histograms, sums
//!    them with [`sum_cpus`] and calls [`Telemetry::ingest_rtt`] with `now_ns / 1e9`;
//! 3. deletes the keys of [`Pass::expire`] from the kernel's map.
//!
//! docs/telemetry.md describes the model, the windows, the gates, QoO and the memory used.

mod error;
mod flow_entry;
mod flows;
pub mod geo;
mod hist;
mod key;
pub mod qoo;
pub mod remotes;
pub mod remotes_view;
mod retransmits;
mod rtt;
mod telemetry;
pub mod view;

pub use error::TelemetryError;
pub use flows::{CircuitPass, FlowLimits, FlowPass, FlowTable, Pass};
pub use hist::{bucket_upper_ms, sum_cpus, Dense, CELLS};
pub use key::{proto_name, FlowKey, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
pub use retransmits::{
    retransmit_view, CircuitRetransmits, RetxTotals, RETX_MIN_PACKETS, RETX_MIN_RETRANSMITS,
};
pub use rtt::{rtt_view, CircuitRtt, Window, LONG_SLOTS, LONG_SLOT_S, SHORT_WINDOW_S};
pub use telemetry::{Telemetry, DEFAULT_TOP_FLOWS};
