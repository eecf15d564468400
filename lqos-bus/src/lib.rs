//! The local bus between `lqos-scheduler` (client) and `lqosd` (server): versioned,
//! length-prefixed frames over a Unix socket (default [`DEFAULT_SOCKET_PATH`], mode 0660, group
//! [`SOCKET_GROUP`] when it exists).
//!
//! # Wire format
//!
//! Every message is one frame: a 10-byte header (magic `LQOS`, protocol version `u16`,
//! payload length `u32`, both big-endian; see [`frame`]) and a [postcard] payload holding
//! one [`Request`] or [`Response`]. A connection carries any number of request/response
//! pairs, strictly alternating; either side may close it between pairs.
//!
//! # Versioning
//!
//! - The header's version ([`PROTOCOL_VERSION`]) changes only for incompatible changes: a
//!   changed header, or changed fields or order of existing message variants. A receiver
//!   refuses any other version before reading the payload, with
//!   [`BusError::VersionMismatch`] ("client speaks bus v2, lqosd speaks v1"). lqosd answers
//!   such a frame with a [`Response::Error`] framed in its own version and closes; a client
//!   reports the mismatch from the response header alone, without decoding the payload.
//! - New requests and responses are added as new variants **at the end** of their enum,
//!   without a version change. An lqosd that does not know a request variant answers
//!   [`Response::Error`] ("unknown request variant 5 ...") and keeps the connection open, so a
//!   newer client can fall back; a client that receives an unknown response variant gets
//!   [`BusError::UnknownVariant`].
//!
//! # Use
//!
//! lqosd: [`bind`] then [`serve`] with a [`Handler`]. The scheduler: [`Client::connect`] then
//! [`Client::request`] (or [`Client::request_with_timeout`] for plan submissions, which wait
//! for the whole apply).
//!
//! [postcard]: https://docs.rs/postcard

mod bind;
mod client;
mod error;
pub mod frame;
mod message;
pub mod report;
mod server;

pub use bind::{bind, bind_with_group, group_id, DEFAULT_SOCKET_PATH, SOCKET_GROUP, SOCKET_MODE};
pub use client::{Client, ClientOptions};
pub use error::{BusError, MessageKind, Stage};
pub use frame::{FrameHeader, HEADER_LEN, MAGIC, PROTOCOL_VERSION};
pub use message::{
    decode_request, decode_response, encode_request, encode_response, is_base_mismatch,
    ApplySummary, Fence, LazyStatus, QueueClasses, Request, Response, StatusReport, BASE_MISMATCH,
};
pub use report::{
    CircuitReport, ClassPlan, FlowsReport, IntegrationReport, IpLookup, IssueEntry, IssueSeverity,
    QueueLoad, Rate, SchedulerReport, ThroughputReport, UrgentIssue,
};
pub use server::{serve, Handler, Limits, DEFAULT_MAX_REQUEST_BYTES};

/// The plan types carried by [`Request::SubmitPlan`] and [`Request::SubmitDelta`], re-exported
/// for convenience.
pub use lqos_plan::{PlanDelta, QueuePlan};
