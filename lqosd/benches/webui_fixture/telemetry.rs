//! The WebUI bench's flow telemetry: a [`TelemetryHub`] whose circuit index maps the plan's
//! circuits, fed synthetic kernel records (`(LqosFlowKey, LqosFlow)` and cumulative RTT
//! histograms) as lqosd's flow reader would, with 5 minutes of history; and, while wrk runs,
//! the two readers' writes once a second (a flow pass over every flow and histogram, and a
//! queue pass over every class of the plan), so requests meet the same lock traffic as in
//! lqosd.

use lqos_ebpf::{LqosFlow, LqosFlowKey, LqosRttHist, FLOW_DOWN, FLOW_UP, RTT_EDGES_US};
use lqos_ebpf::{RTT_INTERNET, RTT_SUBSCRIBER};
use lqos_plan::QueuePlan;
use lqos_queue_stats::{ClassStats, InterfaceQueues};
use lqosd::circuit_index::CircuitIndex;
use lqosd::telemetry::classes::Owner;
use lqosd::telemetry::flow_reader::{ingest_flows, ingest_rtt, ChunkLock};
use lqosd::telemetry::queues::QueuePass;
use lqosd::telemetry::TelemetryHub;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SEC: u64 = 1_000_000_000;

/// xorshift64*: deterministic inputs without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

fn bucket(us: u32) -> usize {
    RTT_EDGES_US
        .iter()
        .position(|&e| us <= e)
        .unwrap_or(RTT_EDGES_US.len())
}

/// The synthetic data plane behind the hub.
pub struct Fixture {
    pub hub: Arc<TelemetryHub>,
    /// The circuits with flows and RTT samples, busiest first (the bench's circuit page).
    pub busy: Vec<Arc<str>>,
    flows: Vec<(LqosFlowKey, LqosFlow)>,
    /// (circuit, changed hands: never here, histogram), as the flow reader reads them.
    hists: Vec<(u32, bool, LqosRttHist)>,
    rng: Rng,
    now_s: u64,
    dumps: Vec<InterfaceQueues>,
}

impl Fixture {
    /// `flows` flows spread over `circuits` circuits of `plan` (every one with RTT samples).
    pub fn new(plan: &QueuePlan, flows: usize, circuits: usize) -> anyhow::Result<Self> {
        let mut ix = CircuitIndex::new(plan.mappings.len() as u32 + 1);
        for m in &plan.mappings {
            ix.map(m.prefix, &m.circuit_id);
        }
        let mut busy: Vec<(u32, Arc<str>, IpAddr)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in &plan.mappings {
            if busy.len() == circuits {
                break;
            }
            if seen.insert(m.circuit_id.clone()) {
                let index = ix.index_of(&m.circuit_id).unwrap_or(0);
                busy.push((index, m.circuit_id.clone(), m.prefix.addr()));
            }
        }
        let hub = TelemetryHub::new(
            lqos_config::flows::Flows::default(),
            Arc::new(Mutex::new(ix)),
        )?;
        hub.plan_applied(plan);
        let per = flows.div_ceil(busy.len().max(1));
        let records = (0..flows)
            .map(|i| {
                let (index, _, local) = &busy[i / per];
                let remote =
                    Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 + i as u128);
                let key = LqosFlowKey {
                    remote: if i % 3 == 0 {
                        remote.octets()
                    } else {
                        Ipv4Addr::from(0xc633_0000 + i as u32)
                            .to_ipv6_mapped()
                            .octets()
                    },
                    local: v6(*local),
                    remote_port: 443u16.to_be(),
                    local_port: (30_000 + (i % per) as u16).to_be(),
                    proto: if i % 5 == 0 { 17 } else { 6 },
                    pad: [0; 3],
                };
                let flow = LqosFlow {
                    first_seen_ns: SEC,
                    last_seen_ns: SEC,
                    circuit: *index,
                    ..LqosFlow::default()
                };
                (key, flow)
            })
            .collect();
        let hists = busy
            .iter()
            .map(|(i, _, _)| (*i, false, LqosRttHist::default()))
            .collect();
        // The queue reader's dump: every class of the plan, as `tc` numbers them.
        let dumps = plan
            .interfaces
            .iter()
            .map(|iface| {
                let mut classes = HashMap::new();
                for q in &iface.htbs {
                    for c in &q.classes {
                        let id = c.id.as_u32();
                        classes.insert(
                            id,
                            ClassStats {
                                kind: "htb".into(),
                                classid: id,
                                ..ClassStats::default()
                            },
                        );
                    }
                }
                InterfaceQueues::new(classes, Vec::new())
            })
            .collect();
        Ok(Fixture {
            hub: Arc::new(hub),
            busy: busy.into_iter().map(|(_, id, _)| id).collect(),
            flows: records,
            hists,
            rng: Rng(0x5eed),
            now_s: 1_000,
            dumps,
        })
    }

    /// One second of traffic on every flow and RTT samples on every busy circuit; returns
    /// the longest hold of the hub's write lock (the flow reader's chunks, as in lqosd).
    pub fn flow_pass(&mut self, step_s: u64) -> Duration {
        self.now_s += step_s;
        let now_ns = self.now_s * SEC;
        for (_, f) in &mut self.flows {
            f.last_seen_ns = now_ns;
            let down = 1_000 + self.rng.below(200_000);
            f.dir[FLOW_DOWN].bytes += down;
            f.dir[FLOW_DOWN].packets = f.dir[FLOW_DOWN].packets.wrapping_add((down / 1200) as u32);
            f.dir[FLOW_UP].bytes += down / 20;
            f.dir[FLOW_UP].packets = f.dir[FLOW_UP]
                .packets
                .wrapping_add((down / 24_000) as u32 + 1);
            if self.rng.below(50) == 0 {
                f.dir[FLOW_DOWN].retransmits += 2;
            }
            if self.rng.below(3) == 0 {
                f.sample_ns = [now_ns - 1, now_ns - 1];
                f.rtt_us = [
                    3_000 + self.rng.below(20_000) as u32,
                    10_000 + self.rng.below(60_000) as u32,
                ];
            }
        }
        for (_, _, h) in &mut self.hists {
            for (side, base) in [(RTT_SUBSCRIBER, 3_000u64), (RTT_INTERNET, 10_000)] {
                for _ in 0..4 {
                    let us = (base + self.rng.below(base * 6)) as u32;
                    let b = bucket(us);
                    h.side[side].count[b] += 1;
                    h.side[side].sum_us[b] += us;
                }
            }
        }
        // lqosd's flow reader's chunks, each hold of the write lock timed.
        let mut lock = TimedLock {
            hub: &self.hub,
            longest: Duration::ZERO,
        };
        ingest_flows(&mut lock, now_ns, &self.flows);
        ingest_rtt(&mut lock, self.now_s, &self.hists);
        let entries = self.flows.len() as u64;
        lock.with(|s| {
            s.kernel.entries = entries;
            s.kernel.capacity = 262_144;
            s.kernel.passes += 1;
        });
        let longest = lock.longest;
        self.hub.pass_finished();
        longest
    }

    /// Fills 5 minutes of RTT and retransmit windows (30 passes 10 s apart, then 10 a second
    /// apart), and 300 s of queue history for the first busy circuit (watched).
    pub fn warm(&mut self) {
        for _ in 0..30 {
            self.flow_pass(10);
        }
        for _ in 0..10 {
            self.flow_pass(1);
        }
        let watched = self.busy[0].clone();
        let classes = self.hub.classes();
        let now = Instant::now();
        let unix_ms = unix_ms();
        let mut q = self.hub.queues_mut();
        q.watch(&watched, now);
        let owned_by_watched = |pos: usize, id: u32| matches!(classes.owner(pos, id), Some((Owner::Circuit(c), _)) if *c == watched);
        let mine: Vec<InterfaceQueues> = self
            .dumps
            .iter()
            .enumerate()
            .map(|(pos, d)| {
                let classes = d
                    .classes
                    .iter()
                    .filter(|(id, _)| owned_by_watched(pos, **id))
                    .map(|(id, c)| (*id, c.clone()))
                    .collect();
                InterfaceQueues::new(classes, Vec::new())
            })
            .collect();
        for i in 0..300u64 {
            let mut dumps = mine.clone();
            for d in &mut dumps {
                for c in d.classes.values_mut() {
                    c.bytes = i * 1_000_000;
                    c.drops = i * 3;
                    c.backlog_bytes = 20_000 + (i % 7) * 1000;
                }
            }
            q.update(&classes, &dumps, unix_ms - (300 - i) * 1000, now);
        }
    }

    /// One queue pass over every class; returns how long the queues' write lock was held.
    pub fn queue_pass(&mut self) -> Duration {
        let classes = self.hub.classes();
        for d in &mut self.dumps {
            for c in d.classes.values_mut() {
                c.bytes += 125_000;
                c.packets += 100;
            }
        }
        // As lqosd's queue reader: the pass is built outside the lock, installed under it.
        let capacity = self.hub.queues().owners();
        let pass = QueuePass::build(&classes, &self.dumps, capacity);
        let started = Instant::now();
        let retired = self
            .hub
            .queues_mut()
            .install(pass, unix_ms(), Instant::now());
        let held = started.elapsed();
        drop(retired);
        held
    }

    /// Runs both readers' passes once a second on a thread until `stop`; returns the write
    /// lock hold times (flow passes, queue passes), ms.
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<f64>, Vec<f64>)> {
        std::thread::spawn(move || {
            let (mut flows, mut queues) = (Vec::new(), Vec::new());
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                next += Duration::from_secs(1);
                flows.push(self.flow_pass(1).as_secs_f64() * 1e3);
                queues.push(self.queue_pass().as_secs_f64() * 1e3);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (flows, queues)
        })
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The hub's write lock, each hold timed (the longest kept).
struct TimedLock<'a> {
    hub: &'a TelemetryHub,
    longest: Duration,
}

impl ChunkLock for TimedLock<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut lqosd::telemetry::State) -> R) -> R {
        let started = Instant::now();
        let r = f(&mut self.hub.write());
        self.longest = self.longest.max(started.elapsed());
        r
    }
}
