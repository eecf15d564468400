//! The flow reader: once a second, the whole kernel flow table in a few batch syscalls
//! (`BPF_MAP_LOOKUP_BATCH`: aya 0.13 has no batch look-ups, lqos-ebpf implements them), into
//! [`lqos_telemetry::Telemetry`]; the flows it expires deleted in one batch; the RTT
//! histograms of the circuits that took a sample since the last pass (and only those) read
//! per CPU; the kernel's flow counters.

use super::{State, TelemetryHub};
use aya::maps::{MapData, PerCpuArray};
use lqos_ebpf::{
    LqosFlow, LqosFlowKey, LqosRttHist, FLOW_STAT_INSERTS, FLOW_STAT_INSERT_FAILED,
    FLOW_STAT_RTT_NO_CIRCUIT, FLOW_STAT_RTT_SAMPLES, MAP_FLOWS, MAP_FLOW_STATS, MAP_RTT,
};
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the flow table is read.
pub const PERIOD: Duration = Duration::from_secs(1);
/// Entries per batch syscall.
const BATCH: u32 = 4096;
/// Flows ingested per hold of the hub's write lock (well under 1 ms of work).
const FEED_CHUNK: usize = 2048;
/// Circuits' retransmit accounting per hold of the hub's write lock.
const SETTLE_CHUNK: usize = 2048;
/// RTT histograms ingested per hold of the hub's write lock.
const RTT_CHUNK: usize = 256;

/// Runs one chunk of a pass under the hub's write lock: lqosd takes the lock; the WebUI bench
/// also times each hold.
pub trait ChunkLock {
    fn with<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> R;
}

impl ChunkLock for &TelemetryHub {
    fn with<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.write())
    }
}

/// One pass of `flows` into the telemetry, in chunks, each under its own hold of the lock:
/// the WebUI's and the bus's readers get in between (a whole pass over 50k flows held the lock
/// for tens of ms on a busy box).
pub fn ingest_flows(
    lock: &mut impl ChunkLock,
    now_ns: u64,
    flows: &[(LqosFlowKey, LqosFlow)],
) -> lqos_telemetry::Pass {
    let mut pass = lock.with(|s| s.telemetry.begin_flows(now_ns));
    for chunk in flows.chunks(FEED_CHUNK) {
        lock.with(|s| s.telemetry.feed_flows(&mut pass, chunk));
    }
    let pass = lock.with(|s| s.telemetry.finish_flows(pass));
    while !lock.with(|s| s.telemetry.settle(SETTLE_CHUNK)) {}
    pass
}

/// RTT histograms, `(circuit, changed hands since its last reading, histogram)`, in chunks
/// under the lock: a circuit that changed hands starts afresh.
pub fn ingest_rtt(lock: &mut impl ChunkLock, now_s: u64, readings: &[(u32, bool, LqosRttHist)]) {
    for chunk in readings.chunks(RTT_CHUNK) {
        lock.with(|s| {
            for (circuit, changed_hands, hist) in chunk {
                if *changed_hands {
                    s.telemetry.forget(*circuit);
                }
                s.telemetry.ingest_rtt(now_s, *circuit, hist);
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowReaderError {
    #[error("opening the pinned map {map}")]
    Open {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("reading {map}")]
    Batch {
        map: &'static str,
        #[source]
        source: lqos_ebpf::BatchError,
    },
}

/// The pinned maps the reader uses, opened once.
pub struct FlowMaps {
    flows: MapData,
    rtt: PerCpuArray<MapData, LqosRttHist>,
    stats: PerCpuArray<MapData, u64>,
    capacity: u64,
}

impl FlowMaps {
    pub fn open(pin_dir: &Path) -> Result<Self, FlowReaderError> {
        let open = |map: &'static str| {
            MapData::from_pin(pin_dir.join(map))
                .map_err(|source| FlowReaderError::Open { map, source })
        };
        let flows = open(MAP_FLOWS)?;
        let capacity = u64::from(flows.info().map_or(0, |i| i.max_entries()));
        let rtt = PerCpuArray::try_from(aya::maps::Map::PerCpuArray(open(MAP_RTT)?)).map_err(
            |source| FlowReaderError::Open {
                map: MAP_RTT,
                source,
            },
        )?;
        let stats = PerCpuArray::try_from(aya::maps::Map::PerCpuArray(open(MAP_FLOW_STATS)?))
            .map_err(|source| FlowReaderError::Open {
                map: MAP_FLOW_STATS,
                source,
            })?;
        Ok(Self {
            flows,
            rtt,
            stats,
            capacity,
        })
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: a zeroed timespec filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `CLOCK_MONOTONIC` nanoseconds: the kernel's `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The reader's state between passes.
pub struct FlowReader {
    maps: FlowMaps,
    buf: Vec<(LqosFlowKey, LqosFlow)>,
    /// Who held each histogram index at its last reading.
    owners: FxHashMap<u32, Arc<str>>,
    /// When the last "too many flows" warning was logged.
    warned: Option<Instant>,
}

impl FlowReader {
    pub fn new(maps: FlowMaps) -> Self {
        Self {
            maps,
            buf: Vec::new(),
            owners: FxHashMap::default(),
            warned: None,
        }
    }

    /// One pass: read, ingest, expire, histograms, counters.
    pub fn pass(&mut self, hub: &TelemetryHub) -> Result<(), FlowReaderError> {
        let (wall, cpu) = (Instant::now(), clock_ns(libc::CLOCK_THREAD_CPUTIME_ID));
        // Before the read: a flow first seen after this instant is new in this pass.
        let now_ns = monotonic_ns();
        lqos_ebpf::lookup_batch(&self.maps.flows, BATCH, &mut self.buf).map_err(|source| {
            FlowReaderError::Batch {
                map: MAP_FLOWS,
                source,
            }
        })?;
        let pass = ingest_flows(&mut &*hub, now_ns, &self.buf);
        let quiet = self
            .warned
            .is_none_or(|w| w.elapsed() >= Duration::from_secs(60));
        if pass.untracked > 0 && quiet {
            tracing::warn!(
                untracked = pass.untracked,
                max_tracked = hub.config.max_tracked,
                "more live flows than [flows] max_tracked: the rest are counted, not tracked"
            );
            self.warned = Some(Instant::now());
        }
        let deleted = if pass.expire.is_empty() {
            0
        } else {
            lqos_ebpf::delete_batch(&self.maps.flows, &pass.expire).map_err(|source| {
                FlowReaderError::Batch {
                    map: MAP_FLOWS,
                    source,
                }
            })?
        };
        // Histograms of the circuits with new samples, read outside the state's lock.
        let mut readings = Vec::with_capacity(pass.changed_circuits.len());
        {
            let ix = hub.circuits.lock().unwrap_or_else(|p| p.into_inner());
            for &circuit in &pass.changed_circuits {
                let Ok(values) = self.maps.rtt.get(&circuit, 0) else {
                    continue;
                };
                let owner = ix.circuit_at(circuit).cloned();
                let changed_hands = match (&owner, self.owners.get(&circuit)) {
                    (Some(now), Some(before)) => now != before,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                match owner {
                    Some(o) => {
                        self.owners.insert(circuit, o);
                    }
                    None => {
                        self.owners.remove(&circuit);
                    }
                }
                readings.push((circuit, changed_hands, lqos_telemetry::sum_cpus(&values)));
            }
        }
        let stat = |slot: u32| {
            self.maps
                .stats
                .get(&slot, 0)
                .map_or(0, |v| v.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
        };
        let counters = (
            stat(FLOW_STAT_INSERTS),
            stat(FLOW_STAT_INSERT_FAILED),
            stat(FLOW_STAT_RTT_SAMPLES),
            stat(FLOW_STAT_RTT_NO_CIRCUIT),
        );
        let now_s = now_ns / 1_000_000_000;
        ingest_rtt(&mut &*hub, now_s, &readings);
        let mut s = hub.write();
        let k = &mut s.kernel;
        (k.inserts, k.insert_failed, k.rtt_samples, k.rtt_no_circuit) = counters;
        k.entries = (self.buf.len() as u64).saturating_sub(u64::from(deleted));
        k.capacity = self.maps.capacity;
        k.deleted += u64::from(deleted);
        k.passes += 1;
        k.pass_wall_us = wall.elapsed().as_micros() as u64;
        k.pass_cpu_us = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).saturating_sub(cpu) / 1000;
        s.last_error = None;
        drop(s);
        hub.pass_finished();
        Ok(())
    }
}

/// Runs the flow reader on its own thread until the process ends. A pass that fails is
/// logged (once per distinct error) and retried at the next period.
pub fn spawn(pin_dir: std::path::PathBuf, hub: Arc<TelemetryHub>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("flow-reader".into())
        .spawn(move || {
            let maps = loop {
                match FlowMaps::open(&pin_dir) {
                    Ok(m) => break m,
                    Err(e) => {
                        tracing::warn!(error = %crate::state::with_causes(&e), "flow telemetry waits for its maps");
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
            };
            let mut reader = FlowReader::new(maps);
            let mut next = Instant::now();
            let mut last_error = String::new();
            loop {
                next += PERIOD;
                if let Err(e) = reader.pass(&hub) {
                    let text = crate::state::with_causes(&e);
                    if text != last_error {
                        tracing::error!(error = %text, "flow telemetry pass failed");
                    }
                    hub.write().last_error = Some(text.clone());
                    last_error = text;
                }
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        })
        .map(drop)
}
