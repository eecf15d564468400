//! `QueuePlan`: what shaping means, as a value. The scheduler computes it; lqosd diffs it
//! against what is live and applies only the difference. It renders as the equivalent
//! `tc -batch` text for `--dry-run`, debugging and tests.

mod delta;
mod diff;
mod hash;
mod htb;
mod lazy;
mod ops;
mod preview;
mod render;
mod steering;

pub use delta::{DeltaError, InterfaceDelta, ListDelta, PlanDelta, Replaced, Run};
pub use diff::{diff, diff_patched, PlanDiff};
pub use hash::{plan_hash, PlanHashes};
pub use htb::{burst_bytes, quantum_bytes, MAX_MINOR, MAX_NODE_DEPTH, QUEUE_ROOT_MINOR};
pub use lazy::{materialise, rematerialise, CircuitState, KernelPatch, Laziness};
pub use ops::{build_interface, is_batch_text, rollback, steps, Step, TcOp};
pub use preview::{
    EntryKind, Move, PreviewError, QueueWeight, RebalancePreview, MAX_LISTED_MOVES,
    REBALANCE_PREVIEW_FILE, REBALANCE_PREVIEW_FORMAT,
};
pub use render::{
    render_diff, render_mappings, render_tc, write_diff, write_mappings, write_tc, MAPPINGS_HEADER,
};
pub use steering::{online_cpus, parse_cpu_list, steering_problems, Steering};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The `mq` root's handle major on every shaped interface (LibreQoS uses the same).
pub const MQ_MAJOR: u16 = 0x7fff;

/// The first handle major given to leaf qdiscs: below it lie the HTB majors (one per queue
/// and direction, at most 1,023 of them).
pub const FIRST_LEAF_HANDLE: u16 = 0x400;

/// Leaf qdiscs one interface can hold with explicit handles: majors `400:`..`ffff:` but `7fff:`.
pub const MAX_LEAF_QDISCS: usize = (u16::MAX - FIRST_LEAF_HANDLE) as usize;

/// An HTB class id `major:minor` (both 16-bit; written in hex by tc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClassId {
    pub major: u16,
    pub minor: u16,
}

impl ClassId {
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }
    /// The 32-bit handle the kernel stores (`major << 16 | minor`), as in `skb->priority`.
    pub const fn as_u32(self) -> u32 {
        (self.major as u32) << 16 | self.minor as u32
    }
}

impl fmt::Display for ClassId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:x}", self.major, self.minor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Towards the subscribers: shaped leaving `to_network`.
    Download,
    /// Towards the Internet: shaped leaving `to_internet`.
    Upload,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        })
    }
}

/// The whole plan for one shaper.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueuePlan {
    /// CPU queues per direction (on a stick each interface carries twice as many).
    pub queues: u16,
    pub interfaces: Vec<InterfacePlan>,
    /// Every prefix that is shaped, with where its packets go in each direction.
    pub mappings: Vec<IpMapping>,
}

/// One network interface: an `mq` root with one HTB per tx queue below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InterfacePlan {
    pub name: String,
    pub htbs: Vec<HtbQueue>,
}

/// One HTB qdisc under `mq` class `7fff:<mq_minor>` with handle `<major>:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HtbQueue {
    pub major: u16,
    /// The mq class (1-based tx queue) this HTB hangs from.
    pub mq_minor: u16,
    pub direction: Direction,
    /// The CPU whose packets use this queue.
    pub cpu: u32,
    /// Parents always come before their children.
    pub classes: Vec<HtbClass>,
}

/// One HTB class; rates in bit/s, sizes in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HtbClass {
    pub id: ClassId,
    /// `None` for the queue's root class (its parent is the HTB qdisc itself).
    pub parent: Option<ClassId>,
    pub rate_bps: u64,
    pub ceil_bps: u64,
    pub burst: u32,
    pub cburst: u32,
    pub quantum: u32,
    pub owner: ClassOwner,
    /// The leaf qdisc as tc arguments (`cake diffserv4`, `pfifo`); `None`: HTB's default.
    pub leaf: Option<Arc<str>>,
}

/// What a class stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClassOwner {
    QueueRoot,
    Node(String),
    /// Shared with the mappings: one allocation per circuit id.
    Circuit(Arc<str>),
    /// Where idle circuits' packets wait under their parent while their classes do not exist
    /// (lazy queues, `Full`): never in a plan the scheduler makes, only in what lqosd builds.
    LazyPool,
}

/// A shaped prefix and where its packets go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IpMapping {
    pub prefix: IpNet,
    /// CPU to steer the packets to (0-based).
    pub cpu: u32,
    pub download: ClassId,
    pub upload: ClassId,
    pub circuit_id: Arc<str>,
}

impl QueuePlan {
    /// Classes of every interface.
    pub fn classes(&self) -> impl Iterator<Item = (&InterfacePlan, &HtbQueue, &HtbClass)> {
        self.interfaces.iter().flat_map(|i| {
            i.htbs
                .iter()
                .flat_map(move |q| q.classes.iter().map(move |c| (i, q, c)))
        })
    }
}

/// Class ids of the last applied plan, kept in `state_directory` so that every unchanged node
/// and circuit keeps its class id across rebuilds. Queues are 0-based; minors as in [`ClassId`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassIdState {
    /// Queues per direction the ids were assigned for; a different count re-bins everything.
    pub queues: u16,
    /// Node name -> (queue, minor).
    pub nodes: std::collections::HashMap<String, (u16, u16)>,
    /// Generated parent node on queue -> minor.
    pub generated: std::collections::HashMap<u16, u16>,
    /// Circuit id -> (queue, minor).
    pub circuits: std::collections::HashMap<String, (u16, u16)>,
}

/// File name of [`ClassIdState`] in `state_directory`.
pub const CLASS_ID_STATE_FILE: &str = "classids.json";
