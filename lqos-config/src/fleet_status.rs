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
    /// `ok`, or why etcd could not be read (then the leader, the publication and the other
    /// boxes are as last seen, at `seen_unix_ms`).
    pub etcd: String,
    /// When etcd was last read (0: never).
    pub seen_unix_ms: u64,
    pub leader: Option<LeaderStatus>,
    pub manifest: Option<PublicationStatus>,
    /// Every box that reports (live ones), by name.
    pub boxes: Vec<BoxStatus>,
}

impl FleetStatus {
    /// The view when etcd cannot be read: this box as it is now, the rest as `last` saw it
    /// (an operator looking during an outage still sees the fleet it last knew, marked as
    /// such, not an empty one).
    pub fn unreachable(
        last: Option<&FleetStatus>,
        me: BoxStatus,
        error: String,
        now_ms: u64,
    ) -> FleetStatus {
        let mut view = last.cloned().unwrap_or_default();
        for b in view.boxes.iter_mut().filter(|b| b.name == me.name) {
            *b = me.clone();
        }
        view.updated_unix_ms = now_ms;
        view.me = me;
        view.etcd = error;
        view
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn box_status(name: &str, health: &str, generation: u64) -> BoxStatus {
        BoxStatus {
            name: name.into(),
            share: vec![format!("Site{name}")],
            health: health.into(),
            applied_token: Some(7),
            applied_generation: Some(generation),
            ..Default::default()
        }
    }

    #[test]
    fn an_unreachable_etcd_keeps_the_fleet_as_last_seen_with_this_box_as_it_is() {
        let last = FleetStatus {
            updated_unix_ms: 1_000,
            seen_unix_ms: 1_000,
            me: box_status("b", "ok", 3),
            etcd: "ok".into(),
            leader: Some(LeaderStatus {
                name: "a".into(),
                token: 7,
            }),
            manifest: Some(PublicationStatus {
                token: 7,
                generation: 4,
                publisher: "a".into(),
                ..Default::default()
            }),
            boxes: vec![box_status("a", "ok", 4), box_status("b", "ok", 3)],
        };
        let me = box_status("b", "etcd: no leader", 3);
        let v = FleetStatus::unreachable(Some(&last), me.clone(), "no leader".into(), 9_000);
        assert_eq!(v.etcd, "no leader");
        assert_eq!((v.updated_unix_ms, v.seen_unix_ms), (9_000, 1_000));
        assert_eq!(v.leader, last.leader);
        assert_eq!(v.manifest, last.manifest);
        assert_eq!(v.boxes, vec![box_status("a", "ok", 4), me.clone()]);
        assert_eq!(v.me, me);
        assert_eq!(v.lag(&v.boxes[1]), Some(1));
        // Never seen: only this box, and nothing else claimed.
        let never = FleetStatus::unreachable(None, me.clone(), "refused".into(), 9_000);
        assert_eq!(
            (
                never.seen_unix_ms,
                never.leader.is_none(),
                never.boxes.len()
            ),
            (0, true, 0)
        );
    }
}
