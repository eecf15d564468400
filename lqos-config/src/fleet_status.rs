//! `state_directory/fleet/status.json`: the fleet as this box's scheduler last saw it in etcd
//! (written every second or so by `lqos-scheduler run` with `[fleet]`; read by `lqos status`
//! and the WebUI, which talk to no etcd themselves).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One box, as it reports itself (`status/<name>` in etcd).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoxStatus {
    pub name: String,
    /// The share it plans (a standby's is its primary's).
    pub share: Vec<String>,
    pub standby_of: Option<String>,
    pub leader: bool,
    /// The fence of the plan its lqosd applied last.
    pub applied_token: Option<u64>,
    pub applied_generation: Option<u64>,
    pub applied_unix_ms: Option<u64>,
    /// `ok`, or what is wrong (apply refused, lqosd unreachable, etcd unreachable).
    pub health: String,
    pub updated_unix_ms: u64,
}

/// The elected leader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaderStatus {
    pub name: String,
    pub token: u64,
}

/// The latest publication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublicationStatus {
    pub token: u64,
    pub generation: u64,
    pub publisher: String,
    pub created_unix_ms: u64,
    /// Bytes etcd stores for it (compressed inputs).
    pub compressed: u64,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FleetStatus {
    pub updated_unix_ms: u64,
    /// This box.
    pub me: BoxStatus,
    /// `ok`, or why etcd could not be read (then the rest is as last seen).
    pub etcd: String,
    pub leader: Option<LeaderStatus>,
    pub manifest: Option<PublicationStatus>,
    /// Every box that reports (live ones), by name.
    pub boxes: Vec<BoxStatus>,
}

impl FleetStatus {
    /// Reads `state_directory/fleet/status.json`; `None` when absent or unreadable.
    pub fn read(state_directory: &Path) -> Option<FleetStatus> {
        let bytes = std::fs::read(state_directory.join("fleet/status.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// How far behind the latest publication `b` is, in generations (0: up to date).
    pub fn lag(&self, b: &BoxStatus) -> Option<u64> {
        let m = self.manifest.as_ref()?;
        Some(
            m.generation
                .saturating_sub(b.applied_generation.unwrap_or(0)),
        )
    }
}
