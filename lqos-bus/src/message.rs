//! The messages: what the scheduler (and later operator tools) ask, what lqosd answers.
//!
//! Payloads are [postcard](https://docs.rs/postcard): compact, not self-describing. An enum
//! variant is a varint index followed by its fields in declaration order, so **the order of
//! variants and of fields is the wire format**: add new variants at the end only; never
//! reorder, remove or change the fields of an existing variant or struct without bumping
//! [`crate::PROTOCOL_VERSION`]. (To extend a struct compatibly, add a new variant that carries
//! the extended form.) `tests` below pins the index of every variant.

use crate::error::{BusError, MessageKind};
use crate::report::{
    CircuitReport, FlowsReport, IpLookup, IssueEntry, QueueLoad, Rate, SchedulerReport,
    ThroughputReport, UrgentIssue,
};
use lqos_plan::{PlanDelta, QueuePlan};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What a client asks lqosd.
///
/// New variants go at the end. A variant from a newer client that this lqosd does not know
/// is answered with [`Response::Error`] and the connection stays open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Is lqosd there? Answered with [`Response::Pong`].
    Ping,
    /// Apply this plan. `generation` grows with every plan the scheduler builds; lqosd
    /// answers [`Response::Unchanged`] for a plan that is not newer or not different from
    /// the live one (so re-submitting after a timeout is harmless), otherwise
    /// [`Response::Applied`] or [`Response::Rejected`].
    SubmitPlan { generation: u64, plan: QueuePlan },
    /// What is live? Answered with [`Response::Status`].
    Status,
    /// The scheduler's heartbeat and progress. Answered with [`Response::Ack`].
    SchedulerReport(SchedulerReport),
    /// The scheduler's last report. Answered with [`Response::Scheduler`].
    SchedulerStatus,
    /// Raise an urgent issue (deduplicated by source, code and message). [`Response::Ack`].
    RaiseIssue(UrgentIssue),
    /// Every kept issue, newest first. Answered with [`Response::Issues`].
    ListIssues,
    /// Mark an issue as seen. [`Response::Ack`], or [`Response::Error`] for an unknown id.
    AckIssue { id: u64 },
    /// Which circuit and classes an address lands in. Answered with [`Response::IpLookup`].
    LookupIp { addr: std::net::IpAddr },
    /// Live throughput with the `top` busiest hosts and circuits each way.
    /// Answered with [`Response::Throughput`].
    Throughput { top: u16 },
    /// One circuit's live rate. Answered with [`Response::CircuitRate`].
    CircuitRate { circuit_id: String },
    /// Live throughput per CPU queue. Answered with [`Response::QueueLoad`].
    QueueLoad,
    /// [`Request::SubmitPlan`] from a fleet box (docs/fleet.md), with its fence: lqosd answers
    /// [`Response::Rejected`] for a fence older than the one it applied last (a deposed
    /// leader's publication), [`Response::Unchanged`] for the same fence (a duplicate
    /// delivery), and otherwise treats it as `SubmitPlan`, remembering the fence (across
    /// restarts) once the plan is live. `fence: None` is a local plan (`refresh --local`):
    /// applied as `SubmitPlan`, the remembered fence stays.
    SubmitFencedPlan {
        generation: u64,
        plan: QueuePlan,
        fence: Option<Fence>,
    },
    /// Apply the plan `delta` makes of the live one: answered exactly as
    /// [`Request::SubmitPlan`] of the patched plan would be, or, when the live plan is not the
    /// delta's base (generation and hash), [`Response::Rejected`] whose first reason starts
    /// with [`BASE_MISMATCH`]: the scheduler then sends the full plan.
    SubmitDelta { generation: u64, delta: PlanDelta },
    /// One circuit's plan, live rate and telemetry (RTT, retransmits, flows, QoO, queue
    /// statistics). Answered with [`Response::Circuit`]. Asking marks the circuit as watched:
    /// its queue statistics are read every second for a while.
    Circuit { circuit_id: String },
    /// Active flows, of one circuit or of all, the busiest first, at most `limit`.
    /// Answered with [`Response::Flows`].
    Flows {
        circuit_id: Option<String>,
        limit: u32,
    },
}

/// Orders plans across a fleet: `token` is the fleet leader's election key's create revision
/// in etcd (grows with every new leader), `generation` grows with every publication. Compared
/// as the pair `(token, generation)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fence {
    pub token: u64,
    pub generation: u64,
}

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "token {} generation {}", self.token, self.generation)
    }
}

/// The first reason of a [`Response::Rejected`] to [`Request::SubmitDelta`] starts with this
/// code when the live plan is not the delta's base (or the delta does not rebuild the plan it
/// promises): nothing was changed, send the full plan.
pub const BASE_MISMATCH: &str = "base-mismatch";

/// Whether lqosd refused a [`Request::SubmitDelta`] because its live plan is not the delta's
/// base: `Rejected` with a first reason that starts with [`BASE_MISMATCH`].
pub fn is_base_mismatch(response: &Response) -> bool {
    matches!(response, Response::Rejected { reasons } if reasons.first().is_some_and(|r| r.starts_with(BASE_MISMATCH)))
}

impl Request {
    /// Variants this build knows (their wire indexes are `0..KNOWN_VARIANTS`).
    pub const KNOWN_VARIANTS: u32 = 16;

    /// The variant's index on the wire.
    pub fn wire_index(&self) -> u32 {
        match self {
            Request::Ping => 0,
            Request::SubmitPlan { .. } => 1,
            Request::Status => 2,
            Request::SchedulerReport(_) => 3,
            Request::SchedulerStatus => 4,
            Request::RaiseIssue(_) => 5,
            Request::ListIssues => 6,
            Request::AckIssue { .. } => 7,
            Request::LookupIp { .. } => 8,
            Request::Throughput { .. } => 9,
            Request::CircuitRate { .. } => 10,
            Request::QueueLoad => 11,
            Request::SubmitFencedPlan { .. } => 12,
            Request::SubmitDelta { .. } => 13,
            Request::Circuit { .. } => 14,
            Request::Flows { .. } => 15,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::SubmitPlan { .. } => "submit-plan",
            Request::Status => "status",
            Request::SchedulerReport(_) => "scheduler-report",
            Request::SchedulerStatus => "scheduler-status",
            Request::RaiseIssue(_) => "raise-issue",
            Request::ListIssues => "list-issues",
            Request::AckIssue { .. } => "ack-issue",
            Request::LookupIp { .. } => "lookup-ip",
            Request::Throughput { .. } => "throughput",
            Request::CircuitRate { .. } => "circuit-rate",
            Request::QueueLoad => "queue-load",
            Request::SubmitFencedPlan { .. } => "submit-fenced-plan",
            Request::SubmitDelta { .. } => "submit-delta",
            Request::Circuit { .. } => "circuit",
            Request::Flows { .. } => "flows",
        }
    }
}

/// What lqosd answers. Exactly one response per request, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to [`Request::Ping`]; `version` is lqosd's package version.
    Pong { version: String },
    /// The plan of this generation is live now.
    Applied {
        generation: u64,
        summary: ApplySummary,
    },
    /// The plan was not applied; the previous plan stays live.
    Rejected { reasons: Vec<String> },
    /// The plan is not newer or not different; `generation` is the one that stays live.
    Unchanged { generation: u64 },
    /// Answer to [`Request::Status`].
    Status(StatusReport),
    /// The request could not be served: malformed, unknown to this lqosd, too large, or an
    /// internal failure. The text is for humans; the connection is closed after it unless
    /// the request frame itself was intact.
    Error { message: String },
    /// The request was taken.
    Ack,
    /// Answer to [`Request::SchedulerStatus`]: the last report and how many seconds ago it
    /// arrived; `None` if the scheduler never reported.
    Scheduler(Option<(SchedulerReport, u64)>),
    /// Answer to [`Request::ListIssues`].
    Issues(Vec<IssueEntry>),
    /// Answer to [`Request::LookupIp`]; `None`: the address is not shaped.
    IpLookup(Option<IpLookup>),
    /// Answer to [`Request::Throughput`].
    Throughput(ThroughputReport),
    /// Answer to [`Request::CircuitRate`]; `None`: no such circuit in the live plan.
    CircuitRate(Option<Rate>),
    /// Answer to [`Request::QueueLoad`]: every CPU queue that carries a mapping, by CPU.
    QueueLoad(Vec<QueueLoad>),
    /// Answer to [`Request::Circuit`]; `None`: no such circuit in the live plan.
    Circuit(Option<Box<CircuitReport>>),
    /// Answer to [`Request::Flows`].
    Flows(FlowsReport),
}

impl Response {
    /// Variants this build knows (their wire indexes are `0..KNOWN_VARIANTS`).
    pub const KNOWN_VARIANTS: u32 = 15;

    /// The variant's index on the wire.
    pub fn wire_index(&self) -> u32 {
        match self {
            Response::Pong { .. } => 0,
            Response::Applied { .. } => 1,
            Response::Rejected { .. } => 2,
            Response::Unchanged { .. } => 3,
            Response::Status(_) => 4,
            Response::Error { .. } => 5,
            Response::Ack => 6,
            Response::Scheduler(_) => 7,
            Response::Issues(_) => 8,
            Response::IpLookup(_) => 9,
            Response::Throughput(_) => 10,
            Response::CircuitRate(_) => 11,
            Response::QueueLoad(_) => 12,
            Response::Circuit(_) => 13,
            Response::Flows(_) => 14,
        }
    }
}

/// What applying a plan changed in the kernel, filled in by lqosd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplySummary {
    pub classes_added: u64,
    /// Re-rated classes and classes whose leaf qdisc changed.
    pub classes_changed: u64,
    pub classes_removed: u64,
    pub mappings_added: u64,
    /// Prefixes that moved to another class or CPU.
    pub mappings_changed: u64,
    pub mappings_removed: u64,
    /// Wall time of the apply, milliseconds.
    pub duration_ms: u64,
}

/// What is live in lqosd, filled in by lqosd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Generation of the live plan; `None` before the first plan was applied.
    pub applied_generation: Option<u64>,
    /// Content hash of the live plan as lqosd computes it (hex); compare for equality only.
    pub plan_hash: Option<String>,
    /// Circuits in the live plan.
    pub circuits: u64,
    /// Prefixes in the live IP map.
    pub mapped_ips: u64,
    /// One entry per HTB queue of every interface.
    pub classes_per_queue: Vec<QueueClasses>,
    /// Seconds since lqosd started.
    pub uptime_secs: u64,
    /// Lazy queues, when `[queues] lazy_queues` is not `No`.
    pub lazy: Option<LazyStatus>,
}

/// Which circuits have their queue built under lazy queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LazyStatus {
    /// `Htb` or `Full`.
    pub mode: String,
    /// Circuits whose queue exists now.
    pub built: u64,
    /// Circuits built and collapsed since lqosd started.
    pub activations: u64,
    pub collapses: u64,
    /// `lazy_expire_seconds`; `None`: built circuits never collapse.
    pub expire_secs: Option<u64>,
}

/// How many classes one HTB queue holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueClasses {
    pub interface: String,
    /// The HTB qdisc's handle major (`major:`).
    pub major: u16,
    pub classes: u64,
}

/// Encodes a request payload (without the frame header).
pub fn encode_request(request: &Request) -> Result<Vec<u8>, BusError> {
    encode(request, MessageKind::Request)
}

/// Encodes a response payload (without the frame header).
pub fn encode_response(response: &Response) -> Result<Vec<u8>, BusError> {
    encode(response, MessageKind::Response)
}

/// Decodes a request payload; an index past the known variants is
/// [`BusError::UnknownVariant`], anything else that does not decode is [`BusError::Decode`].
pub fn decode_request(payload: &[u8]) -> Result<Request, BusError> {
    decode(payload, MessageKind::Request, Request::KNOWN_VARIANTS)
}

/// Decodes a response payload, with the same errors as [`decode_request`].
pub fn decode_response(payload: &[u8]) -> Result<Response, BusError> {
    decode(payload, MessageKind::Response, Response::KNOWN_VARIANTS)
}

fn encode<T: Serialize>(message: &T, what: MessageKind) -> Result<Vec<u8>, BusError> {
    postcard::to_stdvec(message).map_err(|source| BusError::Encode { what, source })
}

fn decode<T: DeserializeOwned>(
    payload: &[u8],
    what: MessageKind,
    known: u32,
) -> Result<T, BusError> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((message, [])) => Ok(message),
        Ok((_, rest)) => Err(BusError::TrailingBytes {
            what,
            count: rest.len(),
        }),
        // The variant index is the payload's first varint; read it alone to tell "newer peer"
        // from "garbage".
        Err(source) => match postcard::take_from_bytes::<u32>(payload) {
            Ok((index, _)) if index >= known => {
                Err(BusError::UnknownVariant { what, index, known })
            }
            _ => Err(BusError::Decode { what, source }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_requests() -> Vec<Request> {
        let plan = QueuePlan {
            queues: 1,
            interfaces: Vec::new(),
            mappings: Vec::new(),
        };
        vec![
            Request::Ping,
            Request::SubmitPlan {
                generation: 7,
                plan,
            },
            Request::Status,
            Request::SchedulerReport(SchedulerReport {
                phase: "idle".into(),
                ..SchedulerReport::default()
            }),
            Request::SchedulerStatus,
            Request::RaiseIssue(issue()),
            Request::ListIssues,
            Request::AckIssue { id: 3 },
            Request::LookupIp {
                addr: "100.64.1.2".parse().expect("addr"),
            },
            Request::Throughput { top: 10 },
            Request::CircuitRate {
                circuit_id: "1001".into(),
            },
            Request::QueueLoad,
            Request::SubmitFencedPlan {
                generation: 8,
                plan: QueuePlan {
                    queues: 1,
                    interfaces: Vec::new(),
                    mappings: Vec::new(),
                },
                fence: Some(Fence {
                    token: 3,
                    generation: 9,
                }),
            },
            Request::SubmitDelta {
                generation: 9,
                delta: lqos_plan::PlanDelta::between(7, &empty(), &empty()),
            },
            Request::Circuit {
                circuit_id: "c".into(),
            },
            Request::Flows {
                circuit_id: None,
                limit: 10,
            },
        ]
    }

    fn empty() -> QueuePlan {
        QueuePlan {
            queues: 1,
            interfaces: Vec::new(),
            mappings: Vec::new(),
        }
    }

    fn issue() -> UrgentIssue {
        UrgentIssue {
            source: "scheduler".into(),
            severity: crate::report::IssueSeverity::Error,
            code: "refresh_failed".into(),
            message: "m".into(),
            context: "c".into(),
        }
    }

    fn sample_responses() -> Vec<Response> {
        vec![
            Response::Pong {
                version: "0.1.0".into(),
            },
            Response::Applied {
                generation: 7,
                summary: ApplySummary::default(),
            },
            Response::Rejected {
                reasons: vec!["no".into()],
            },
            Response::Unchanged { generation: 7 },
            Response::Status(StatusReport::default()),
            Response::Error {
                message: "bad".into(),
            },
            Response::Ack,
            Response::Scheduler(Some((SchedulerReport::default(), 4))),
            Response::Issues(vec![IssueEntry {
                id: 1,
                issue: issue(),
                first_seen_unix: 1,
                last_seen_unix: 2,
                count: 3,
                acknowledged: false,
            }]),
            Response::IpLookup(Some(IpLookup {
                prefix: "100.64.1.0/29".into(),
                circuit_id: "c".into(),
                cpu: 1,
                download: lqos_plan::ClassId::new(1, 5),
                upload: lqos_plan::ClassId::new(2, 5),
            })),
            Response::Throughput(ThroughputReport::default()),
            Response::CircuitRate(Some(Rate {
                name: "1001".into(),
                circuit_id: Some("1001".into()),
                down_bps: 1,
                up_bps: 2,
            })),
            Response::QueueLoad(vec![QueueLoad {
                cpu: 1,
                down_bps: 3,
                up_bps: 4,
            }]),
            Response::Circuit(None),
            Response::Flows(crate::FlowsReport {
                total: 0,
                flows: Vec::new(),
            }),
        ]
    }

    /// Pins the wire index of every variant: reordering variants breaks older peers.
    #[test]
    fn every_variant_keeps_its_wire_index() {
        let requests = sample_requests();
        let known = Request::KNOWN_VARIANTS;
        assert_eq!(requests.len() as u32, known);
        for (i, r) in requests.iter().enumerate() {
            assert_eq!(r.wire_index(), i as u32);
            assert_eq!(encode_request(r).ok().map(|b| b[0]), Some(i as u8), "{r:?}");
        }
        let responses = sample_responses();
        assert_eq!(responses.len() as u32, Response::KNOWN_VARIANTS);
        for (i, r) in responses.iter().enumerate() {
            assert_eq!(r.wire_index(), i as u32);
            assert_eq!(
                encode_response(r).ok().map(|b| b[0]),
                Some(i as u8),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_base_mismatch_is_told_apart_from_other_rejections() {
        let mismatch = Response::Rejected {
            reasons: vec![format!(
                "{BASE_MISMATCH}: the delta is against generation 1"
            )],
        };
        assert!(is_base_mismatch(&mismatch));
        let other = Response::Rejected {
            reasons: vec!["the plan shapes eth9".into()],
        };
        assert!(!is_base_mismatch(&other));
        assert!(!is_base_mismatch(&Response::Unchanged { generation: 1 }));
    }

    #[test]
    fn every_message_round_trips() {
        for r in sample_requests() {
            let bytes = encode_request(&r).expect("encode");
            assert_eq!(decode_request(&bytes).expect("decode"), r);
        }
        for r in sample_responses() {
            let bytes = encode_response(&r).expect("encode");
            assert_eq!(decode_response(&bytes).expect("decode"), r);
        }
    }

    #[test]
    fn fences_order_by_token_then_generation() {
        let f = |token, generation| Fence { token, generation };
        assert!(f(5, 1) > f(4, 99), "a new leader's first publication wins");
        assert!(f(5, 2) > f(5, 1));
        assert_eq!(f(5, 2).cmp(&f(5, 2)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn a_newer_variant_is_told_apart_from_garbage() {
        let err = decode_request(&[16]).err();
        assert!(
            matches!(
                err,
                Some(BusError::UnknownVariant {
                    index: 16,
                    known: 16,
                    ..
                })
            ),
            "{err:?}"
        );
        // SubmitPlan whose plan is cut short.
        let err = decode_request(&[1, 7]).err();
        assert!(matches!(err, Some(BusError::Decode { .. })), "{err:?}");
        let err = decode_request(&[]).err();
        assert!(matches!(err, Some(BusError::Decode { .. })), "{err:?}");
        let err = decode_request(&[0, 0]).err();
        assert!(
            matches!(err, Some(BusError::TrailingBytes { count: 1, .. })),
            "{err:?}"
        );
    }
}
