//! Full reports of failures under `state_directory/logs/` (shared with the integrations).

pub use lqos_integrations::logs::{keep, unix_now};
