//! Queue statistics: every HTB class and its leaf qdisc, dumped over netlink (no `tc`
//! processes) every 2 s, every second while someone watches a circuit, attributed to circuits
//! and nodes through the [`ClassIndex`], with a bounded per-second history of watched circuits.

use super::classes::{ClassIndex, Owner};
use lqos_plan::Direction;
use lqos_queue_stats::{InterfaceQueues, QdiscStats, QueueReader};
use lqos_telemetry::view::QueueDirView;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Samples kept per watched circuit: 10 minutes at one a second.
pub const HISTORY: usize = 600;
/// A circuit stays watched this long after the last request for it.
pub const WATCH_FOR: Duration = Duration::from_secs(10);
/// At most this many circuits are watched at once (the oldest watch makes room).
pub const MAX_WATCHED: usize = 64;
/// The period without watchers.
pub const PERIOD: Duration = Duration::from_secs(2);
/// The period while a circuit is watched.
pub const WATCHED_PERIOD: Duration = Duration::from_secs(1);

/// The leaf qdisc's kind, kept small (one per class and direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Leaf {
    #[default]
    None,
    Pfifo,
    Bfifo,
    FqCodel,
    Cake,
    Other,
}

impl Leaf {
    fn of(kind: &str) -> Self {
        match kind {
            "pfifo" => Leaf::Pfifo,
            "bfifo" => Leaf::Bfifo,
            "fq_codel" => Leaf::FqCodel,
            "cake" => Leaf::Cake,
            _ => Leaf::Other,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Leaf::None => "",
            Leaf::Pfifo => "pfifo",
            Leaf::Bfifo => "bfifo",
            Leaf::FqCodel => "fq_codel",
            Leaf::Cake => "cake",
            Leaf::Other => "other",
        }
    }
}

/// One class (and its leaf) in one direction, as last read. Cumulative counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDir {
    pub sent_bytes: u64,
    pub sent_packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub backlog_bytes: u64,
    pub qlen: u64,
    pub ecn_marks: Option<u64>,
    pub ack_drops: Option<u64>,
    pub peak_delay_us: Option<u64>,
    pub base_delay_us: Option<u64>,
    pub leaf: Leaf,
}

impl QueueDir {
    pub fn view(&self) -> QueueDirView {
        QueueDirView {
            sent_bytes: self.sent_bytes,
            sent_packets: self.sent_packets,
            drops: self.drops,
            overlimits: self.overlimits,
            backlog_bytes: self.backlog_bytes,
            qlen: self.qlen,
            ecn_marks: self.ecn_marks,
            ack_drops: self.ack_drops,
            peak_delay_us: self.peak_delay_us,
            base_delay_us: self.base_delay_us,
            leaf: self.leaf.name().to_owned(),
        }
    }
}

/// A class's figures with its leaf's: the leaf qdisc is where packets wait and are dropped
/// (HTB counts a drop of its leaf in the class too, so the two are not added).
fn combine(class: &lqos_queue_stats::ClassStats, leaf: Option<&QdiscStats>) -> QueueDir {
    let mut d = QueueDir {
        sent_bytes: class.bytes,
        sent_packets: class.packets,
        drops: class.drops,
        overlimits: class.overlimits,
        backlog_bytes: class.backlog_bytes,
        qlen: class.qlen,
        ..QueueDir::default()
    };
    let Some(leaf) = leaf else {
        return d;
    };
    d.leaf = Leaf::of(&leaf.kind);
    d.drops = d.drops.max(leaf.drops);
    d.backlog_bytes = leaf.backlog_bytes;
    d.qlen = leaf.qlen;
    if let Some(cake) = &leaf.cake {
        d.ecn_marks = Some(cake.tins.iter().map(|t| t.ecn_marked_packets).sum());
        d.ack_drops = Some(cake.tins.iter().map(|t| t.ack_drops).sum());
        d.peak_delay_us = cake.tins.iter().map(|t| u64::from(t.peak_delay_us)).max();
        d.base_delay_us = cake
            .tins
            .iter()
            .filter(|t| t.sent_packets > 0)
            .map(|t| u64::from(t.base_delay_us))
            .min();
    } else if let Some(fq) = &leaf.fq_codel {
        d.ecn_marks = Some(u64::from(fq.ecn_mark));
    }
    d
}

/// One second (or two) of a watched circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    pub unix_ms: u64,
    pub down: QueueDir,
    pub up: QueueDir,
}

/// What the last passes found.
#[derive(Debug, Default)]
pub struct QueueState {
    /// Per circuit or node: [download, upload].
    latest: FxHashMap<Owner, [QueueDir; 2]>,
    watched: FxHashMap<Arc<str>, (Instant, VecDeque<QueueSample>)>,
    /// Drops of every circuit's queues, summed at the last pass, per direction.
    pub drops: [u64; 2],
    /// Backlog of every circuit's queues at the last pass, bytes, per direction.
    pub backlog_bytes: [u64; 2],
    pub passes: u64,
    pub last_pass: Option<Duration>,
    pub last_error: Option<String>,
}

/// One pass's figures, attributed to circuits and nodes: built without the hub's lock.
#[derive(Debug, Default)]
pub struct QueuePass {
    latest: FxHashMap<Owner, [QueueDir; 2]>,
    drops: [u64; 2],
    backlog_bytes: [u64; 2],
}

impl QueuePass {
    /// Attributes one dump per interface of the plan (`dumps[i]` is `classes.interfaces[i]`);
    /// `capacity`: the owners of the last pass, to size the map once.
    pub fn build(classes: &ClassIndex, dumps: &[InterfaceQueues], capacity: usize) -> Self {
        let mut latest: FxHashMap<Owner, [QueueDir; 2]> =
            FxHashMap::with_capacity_and_hasher(capacity, Default::default());
        let (mut drops, mut backlog) = ([0u64; 2], [0u64; 2]);
        for (pos, dump) in dumps.iter().enumerate() {
            for (classid, class) in &dump.classes {
                let Some((owner, dir)) = classes.owner(pos, *classid) else {
                    continue;
                };
                let d = combine(class, dump.leaf_of(*classid));
                if matches!(owner, Owner::Circuit(_)) {
                    drops[slot(*dir)] += d.drops;
                    backlog[slot(*dir)] += d.backlog_bytes;
                }
                latest.entry(owner.clone()).or_default()[slot(*dir)] = d;
            }
        }
        Self {
            latest,
            drops,
            backlog_bytes: backlog,
        }
    }
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Download => 0,
        Direction::Upload => 1,
    }
}

impl QueueState {
    /// The latest figures of a circuit's or node's two classes.
    pub fn of(&self, owner: &Owner) -> Option<&[QueueDir; 2]> {
        self.latest.get(owner)
    }

    /// Circuits and nodes with figures at the last pass.
    pub fn owners(&self) -> usize {
        self.latest.len()
    }

    /// Marks `circuit` as watched (its history is kept and the period shortens).
    pub fn watch(&mut self, circuit: &Arc<str>, now: Instant) {
        if let Some((seen, _)) = self.watched.get_mut(circuit) {
            *seen = now;
            return;
        }
        if self.watched.len() >= MAX_WATCHED {
            if let Some(oldest) = self
                .watched
                .iter()
                .min_by_key(|(_, (seen, _))| *seen)
                .map(|(k, _)| k.clone())
            {
                self.watched.remove(&oldest);
            }
        }
        self.watched.insert(circuit.clone(), (now, VecDeque::new()));
    }

    /// When `circuit` was last marked watched (`None`: not watched).
    pub fn watched_at(&self, circuit: &str) -> Option<Instant> {
        self.watched.get(circuit).map(|(seen, _)| *seen)
    }

    /// A watched circuit's history, oldest first (empty when not watched).
    pub fn history(&self, circuit: &str) -> std::collections::vec_deque::Iter<'_, QueueSample> {
        const NONE: &VecDeque<QueueSample> = &VecDeque::new();
        self.watched.get(circuit).map_or(NONE, |(_, h)| h).iter()
    }

    /// The period the next pass should wait.
    pub fn period(&self, now: Instant) -> Duration {
        let active = self
            .watched
            .values()
            .any(|(seen, _)| now.duration_since(*seen) < WATCH_FOR);
        if active {
            WATCHED_PERIOD
        } else {
            PERIOD
        }
    }

    /// Takes in one dump per interface of the plan (`dumps[i]` is `classes.interfaces[i]`).
    pub fn update(
        &mut self,
        classes: &ClassIndex,
        dumps: &[InterfaceQueues],
        unix_ms: u64,
        now: Instant,
    ) {
        let pass = QueuePass::build(classes, dumps, self.latest.len());
        drop(self.install(pass, unix_ms, now));
    }

    /// Installs a pass built (outside any lock) by [`QueuePass::build`]; returns the pass it
    /// replaces, to be dropped after the lock is released.
    #[must_use]
    pub fn install(&mut self, pass: QueuePass, unix_ms: u64, now: Instant) -> QueuePass {
        let QueuePass {
            latest,
            drops,
            backlog_bytes: backlog,
        } = pass;
        // Watches that lapsed long ago lose their history.
        self.watched
            .retain(|_, (seen, _)| now.duration_since(*seen) < Duration::from_secs(600));
        for (circuit, (_, history)) in &mut self.watched {
            if let Some([down, up]) = latest.get(&Owner::Circuit(circuit.clone())) {
                if history.len() == HISTORY {
                    history.pop_front();
                }
                history.push_back(QueueSample {
                    unix_ms,
                    down: *down,
                    up: *up,
                });
            }
        }
        self.passes += 1;
        QueuePass {
            latest: std::mem::replace(&mut self.latest, latest),
            drops: std::mem::replace(&mut self.drops, drops),
            backlog_bytes: std::mem::replace(&mut self.backlog_bytes, backlog),
        }
    }
}

/// Dumps every interface of the plan; `ifindexes` caches name -> ifindex.
pub fn dump_all(
    reader: &mut QueueReader,
    classes: &ClassIndex,
    ifindexes: &mut FxHashMap<Arc<str>, u32>,
) -> Result<Vec<InterfaceQueues>, String> {
    let mut out = Vec::with_capacity(classes.interfaces.len());
    for name in &classes.interfaces {
        let index = match ifindexes.get(name) {
            Some(i) => *i,
            None => {
                let i = ifindex(name).ok_or_else(|| format!("no interface {name}"))?;
                ifindexes.insert(name.clone(), i);
                i
            }
        };
        out.push(
            reader
                .dump(index)
                .map_err(|e| format!("queue statistics of {name}: {e}"))?,
        );
    }
    Ok(out)
}

fn ifindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Runs the queue reader on its own thread until the process ends (lqosd runs in the shaper's
/// network namespace, so the netlink socket opened here sees the shaped interfaces).
pub fn spawn(hub: Arc<super::TelemetryHub>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("queue-reader".into())
        .spawn(move || {
            let mut reader = loop {
                match QueueReader::new() {
                    Ok(r) => break r,
                    Err(e) => {
                        tracing::warn!(error = %crate::state::with_causes(&e), "queue statistics: no netlink socket yet");
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
            };
            let mut ifindexes = FxHashMap::default();
            let mut last_error = String::new();
            loop {
                let started = Instant::now();
                let classes = hub.classes();
                let unix_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let capacity = hub.queues().owners();
                let result = dump_all(&mut reader, &classes, &mut ifindexes)
                    .map(|dumps| QueuePass::build(&classes, &dumps, capacity));
                let mut retired = None;
                let period = {
                    let mut q = hub.queues_mut();
                    match result {
                        Ok(pass) => {
                            retired = Some(q.install(pass, unix_ms, Instant::now()));
                            q.last_pass = Some(started.elapsed());
                            q.last_error = None;
                        }
                        Err(e) => {
                            if e != last_error {
                                tracing::warn!(error = %e, "queue statistics pass failed");
                                last_error = e.clone();
                            }
                            // An interface renamed or re-created: look the indexes up again.
                            ifindexes.clear();
                            q.last_error = Some(e);
                        }
                    }
                    q.period(Instant::now())
                };
                drop(retired);
                std::thread::sleep(period.saturating_sub(started.elapsed()));
            }
        })
        .map(drop)
}
