//! What the scheduler and operator tools exchange with lqosd besides plans: the scheduler's
//! heartbeat and progress, urgent issues, IP-map look-ups. Field order is wire format (see
//! [`crate::message`]).

use lqos_plan::ClassId;
use serde::{Deserialize, Serialize};

/// The scheduler's state, sent as a heartbeat every few seconds and at every phase change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerReport {
    /// "waiting for lqosd", "refreshing", "idle".
    pub phase: String,
    /// When the scheduler sent this (Unix seconds): lqosd calls it stale after a minute.
    pub sent_unix: u64,
    /// When the last refresh succeeded.
    pub last_success_unix: Option<u64>,
    /// The last refresh's error, while failures go on.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub last_duration_ms: Option<u64>,
    /// When the next interval refresh is due (edits may come first).
    pub next_run_unix: Option<u64>,
    /// While refreshing: the step, e.g. "3/4 planning".
    pub step: String,
    /// While refreshing: how much of the refresh is done.
    pub percent: u8,
    /// Each enabled CRM/NMS integration's status.
    pub integrations: Vec<IntegrationReport>,
}

/// One CRM/NMS integration as the scheduler last ran it (its own interval, its own result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationReport {
    /// "uisp", "splynx", ...
    pub name: String,
    pub last_run_unix: Option<u64>,
    pub last_duration_ms: Option<u64>,
    pub ok: bool,
    /// "ok", or why the last run failed.
    pub result: String,
    /// Circuits imported and records skipped by the last run.
    pub imported: u64,
    pub skipped: u64,
    pub next_run_unix: Option<u64>,
    /// Time spent running in the last hour (busy ratio = this / 3,600,000).
    pub busy_ms_last_hour: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IssueSeverity {
    Warning,
    Error,
}

/// Something an operator must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrgentIssue {
    /// Who raised it: "scheduler", "lqosd", an integration's name.
    pub source: String,
    pub severity: IssueSeverity,
    /// A stable machine-readable code, e.g. "refresh_failed".
    pub code: String,
    /// One line for humans.
    pub message: String,
    /// Details: the rows at fault, an output preview.
    pub context: String,
}

/// An issue as lqosd keeps it: raised again with the same source, code and message, it is
/// counted, not repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueEntry {
    pub id: u64,
    pub issue: UrgentIssue,
    pub first_seen_unix: u64,
    pub last_seen_unix: u64,
    pub count: u32,
    pub acknowledged: bool,
}

/// Where an address lands in the live plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpLookup {
    /// The longest planned prefix that holds the address.
    pub prefix: String,
    pub circuit_id: String,
    pub cpu: u32,
    pub download: ClassId,
    pub upload: ClassId,
}

/// One host's or circuit's rate, bit/s on the wire (Ethernet frames, as HTB meters them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// An address (hosts) or a circuit id (circuits).
    pub name: String,
    /// The host's circuit, when the live plan has one.
    pub circuit_id: Option<String>,
    pub down_bps: u64,
    pub up_bps: u64,
}

/// Live throughput from the data plane's counters, over the last sampling interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputReport {
    /// When the last sample was taken (Unix seconds); 0 before the first.
    pub sampled_unix: u64,
    pub interval_ms: u64,
    pub down_bps: u64,
    pub up_bps: u64,
    /// Traffic of addresses without a mapping (passed unshaped).
    pub unknown_down_bps: u64,
    pub unknown_up_bps: u64,
    /// Hosts with traffic in the interval.
    pub active_hosts: u64,
    pub top_hosts_down: Vec<Rate>,
    pub top_hosts_up: Vec<Rate>,
    pub top_circuits_down: Vec<Rate>,
    pub top_circuits_up: Vec<Rate>,
}

/// One CPU queue's rate over the last sampling interval, bit/s: the traffic of every host whose
/// prefix the live plan maps to that CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLoad {
    pub cpu: u32,
    pub down_bps: u64,
    pub up_bps: u64,
}

/// One direction of a circuit in the live plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassPlan {
    /// HTB class id, `major:minor` in hex as tc prints it.
    pub classid: String,
    /// The parent class (a node's, or the queue root's).
    pub parent: Option<String>,
    pub rate_mbps: f64,
    pub ceil_mbps: f64,
    /// The leaf qdisc spec (`cake diffserv4`, `pfifo`, ...); `None` for a lazy circuit whose
    /// leaf is not built.
    pub leaf: Option<String>,
}

/// Answer to [`crate::Request::Circuit`]: what the plan gives the circuit, its live rate and its
/// telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CircuitReport {
    pub circuit_id: String,
    /// The circuit's prefixes in the IP map.
    pub prefixes: Vec<String>,
    pub cpu: u32,
    pub download: ClassPlan,
    pub upload: ClassPlan,
    /// Live rate over the last sampling interval (bit/s, Ethernet frames).
    pub down_bps: u64,
    pub up_bps: u64,
    pub telemetry: lqos_telemetry::view::CircuitTelemetry,
}

/// Answer to [`crate::Request::Flows`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowsReport {
    /// Active flows matching the request (before `limit`).
    pub total: u64,
    pub flows: Vec<lqos_telemetry::view::FlowView>,
}
