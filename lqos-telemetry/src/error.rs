//! [`TelemetryError`]: what can go wrong configuring telemetry.

/// Errors of this crate (only configuration can be wrong: the data paths accept anything).
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A QoO profile name that is not one of [`crate::qoo::PROFILES`].
    #[error("unknown QoO profile {name:?} (known: {known})")]
    UnknownQooProfile { name: String, known: String },
}
