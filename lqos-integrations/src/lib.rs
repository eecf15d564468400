//! CRM/NMS integrations for lqos-scheduler: one module per source (a typed API client plus a
//! pure mapping function), one shared HTTP client ([`http`]), one shared model and renderer
//! ([`model`], [`render`]) that turn every source's records into the ShapedDevices.csv and
//! network.json the file parser reads, and the run logic ([`run`]): per-source intervals,
//! locks and timeouts, the suspicious-import guard, atomic writes, status.

pub mod graphql;
pub mod http;
pub mod http_import;
pub mod logs;
pub mod model;
pub mod model_de;
pub mod netzur;
pub mod powercode;
pub mod render;
pub mod run;
pub mod snmp;
pub mod sonar;
pub mod sources;
pub mod splynx;
pub mod status;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod uisp;
pub mod visp;
pub mod wispgate;

pub use model::{CircuitRec, DeviceRec, Import, NodeRec, RecordIssue};
pub use render::{render, Rendered};
pub use run::{dry_run, run_enabled, Report, RunError, SourceOutcome};
