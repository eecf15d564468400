//! What `lqos-scheduler refresh --rebalance` would move: the scheduler computes it at every
//! refresh (and dry run) and writes it to `state_directory` as [`REBALANCE_PREVIEW_FILE`];
//! lqosd serves it to the WebUI's CPU Weights page without running the planner itself
//! (docs/planning.md, "Rebalance preview").

use serde::{Deserialize, Serialize};

/// File name of the [`RebalancePreview`] in `state_directory` (JSON).
pub const REBALANCE_PREVIEW_FILE: &str = "rebalance-preview.json";

/// The format of [`RebalancePreview`]; a reader refuses any other.
pub const REBALANCE_PREVIEW_FORMAT: u32 = 1;

/// Moves listed in the file at most (the heaviest first); `moves_total` counts them all.
pub const MAX_LISTED_MOVES: usize = 1000;

/// The binning a refresh kept, against the one a rebalance would make from scratch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebalancePreview {
    /// [`REBALANCE_PREVIEW_FORMAT`].
    pub format: u32,
    /// The plan generation lqosd applied from this refresh; `None` for a dry run (nothing
    /// applied) or a refresh whose plan was not applied.
    pub generation: Option<u64>,
    /// Written by `refresh --dry-run` (or with `dry_run = true` in lqos.conf).
    pub dry_run: bool,
    /// When it was written (seconds since the epoch).
    pub written_unix: u64,
    /// Queues per direction.
    pub queues: u16,
    /// `use_binpacking`: by weight (true) or round-robin by count (false).
    pub binpacking: bool,
    /// Per queue (0-based, by index): the weight and the top-level entries each binning puts there.
    pub per_queue: Vec<QueueWeight>,
    /// Top-level nodes and unparented circuits that a rebalance would put on another queue,
    /// heaviest first, at most [`MAX_LISTED_MOVES`].
    pub moves: Vec<Move>,
    /// Every move, listed or not.
    pub moves_total: usize,
    /// Top-level entries binned (nodes and unparented circuits).
    pub entries: usize,
}

/// One queue's load under the kept binning and under a rebalance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueWeight {
    pub queue: u16,
    /// Sum of the binning weights (Mbps) of what the kept binning put here.
    pub kept_weight_mbps: f64,
    /// Top-level nodes and unparented circuits the kept binning put here.
    pub kept_entries: usize,
    /// The same after a rebalance.
    pub rebalanced_weight_mbps: f64,
    pub rebalanced_entries: usize,
}

/// What a top-level entry of the binning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A top-level node of the shaped tree (a virtual node's promoted child included), with
    /// its whole subtree.
    Node,
    /// An unparented circuit (under its queue's generated parent node).
    Circuit,
}

/// A top-level entry that a rebalance would put on another queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub kind: EntryKind,
    /// The node's name, or the circuit's id.
    pub name: String,
    /// Its binning weight (Mbps).
    pub weight_mbps: f64,
    /// 0-based queues: now, and after a rebalance.
    pub from: u16,
    pub to: u16,
}

/// Why a preview file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("cannot read it")]
    Read(#[source] std::io::Error),
    #[error("it is not a rebalance preview")]
    Corrupt(#[source] serde_json::Error),
    #[error("its format is {found}, this version reads {REBALANCE_PREVIEW_FORMAT}")]
    Format { found: u32 },
}

impl RebalancePreview {
    /// Parses the file's text (a missing file is the caller's [`PreviewError::Read`]).
    pub fn parse(text: &[u8]) -> Result<Self, PreviewError> {
        let p: RebalancePreview = serde_json::from_slice(text).map_err(PreviewError::Corrupt)?;
        if p.format != REBALANCE_PREVIEW_FORMAT {
            return Err(PreviewError::Format { found: p.format });
        }
        Ok(p)
    }

    /// Reads `state_dir/`[`REBALANCE_PREVIEW_FILE`].
    pub fn load(state_dir: &std::path::Path) -> Result<Self, PreviewError> {
        let bytes =
            std::fs::read(state_dir.join(REBALANCE_PREVIEW_FILE)).map_err(PreviewError::Read)?;
        Self::parse(&bytes)
    }

    /// Writes it to `state_dir` atomically (a temp file in the same directory, renamed over
    /// the old one): a reader sees the old preview or the new one, never half of one.
    pub fn save(&self, state_dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(state_dir)?;
        let tmp = state_dir.join(format!(".{REBALANCE_PREVIEW_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, state_dir.join(REBALANCE_PREVIEW_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview() -> RebalancePreview {
        RebalancePreview {
            format: REBALANCE_PREVIEW_FORMAT,
            generation: Some(7),
            dry_run: false,
            written_unix: 1_700_000_000,
            queues: 2,
            binpacking: true,
            per_queue: vec![QueueWeight {
                queue: 0,
                kept_weight_mbps: 100.0,
                kept_entries: 1,
                rebalanced_weight_mbps: 50.0,
                rebalanced_entries: 1,
            }],
            moves: vec![Move {
                kind: EntryKind::Node,
                name: "Site".into(),
                weight_mbps: 50.0,
                from: 0,
                to: 1,
            }],
            moves_total: 1,
            entries: 2,
        }
    }

    #[test]
    fn saved_and_loaded_back_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            RebalancePreview::load(dir.path()),
            Err(PreviewError::Read(_))
        ));
        preview().save(dir.path()).unwrap();
        assert_eq!(RebalancePreview::load(dir.path()).unwrap(), preview());
        let text = std::fs::read_to_string(dir.path().join(REBALANCE_PREVIEW_FILE)).unwrap();
        assert!(text.contains("\"kind\": \"node\""), "{text}");
        assert!(matches!(
            RebalancePreview::parse(b"{\"format\": 1"),
            Err(PreviewError::Corrupt(_))
        ));
        let newer = text.replace("\"format\": 1", "\"format\": 2");
        assert!(matches!(
            RebalancePreview::parse(newer.as_bytes()),
            Err(PreviewError::Format { found: 2 })
        ));
    }
}
