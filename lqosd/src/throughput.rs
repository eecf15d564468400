//! Live throughput: the data plane's per-host counters (`lqos_hosts`, per CPU) and the
//! unknown-address counters (`lqos_unknown`), read every [`interval`] through their own handles
//! on the pinned maps (so sampling never waits for an apply), turned into rates per host and
//! per circuit.

use crate::prefix_index::PrefixIndex;
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap};
use lqos_bus::{QueueLoad, Rate, ThroughputReport};
use lqos_ebpf::{
    LqosHostCounters, LqosHostKey, MAP_HOSTS, MAP_UNKNOWN, MAP_UNKNOWN_HOSTS, UNKNOWN_TC,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the counters are read: every second, twice as often with lazy queues (a circuit's
/// first packets are seen within half a second, and its queue built then).
pub fn interval(lazy: bool) -> Duration {
    if lazy {
        INTERVAL / 2
    } else {
        INTERVAL
    }
}

/// The period of the counters without lazy queues, and of the WebUI's live picture.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Rates of the last interval, kept whole; the bus picks the top N from it.
#[derive(Debug, Default)]
pub struct Sample {
    pub sampled_unix: u64,
    pub interval_ms: u64,
    pub hosts: Vec<(IpAddr, u64, u64)>,
    pub unknown: (u64, u64),
    /// Addresses in no circuit that the data plane has seen (at most
    /// [`lqos_ebpf::UNKNOWN_HOSTS_ENTRIES`]).
    pub unknown_hosts: Vec<UnknownHost>,
}

/// One address in no circuit: its rates over the interval and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHost {
    pub addr: IpAddr,
    pub down_bps: u64,
    pub up_bps: u64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    /// When its counters last moved (its first sighting, if they never did since).
    pub last_seen_unix: u64,
}

/// Reads the counters and keeps the previous totals.
pub struct Sampler {
    hosts: PerCpuHashMap<MapData, LqosHostKey, LqosHostCounters>,
    unknown: PerCpuArray<MapData, LqosHostCounters>,
    /// `None` when the pinned maps predate it (an older lqosd's; the next restart adds it).
    unknown_hosts: Option<PerCpuHashMap<MapData, LqosHostKey, LqosHostCounters>>,
    previous: HashMap<IpAddr, (u64, u64)>,
    /// Unknown addresses: last totals and when they last moved.
    previous_unknown_hosts: HashMap<IpAddr, (u64, u64, u64)>,
    previous_unknown: (u64, u64),
    at: Option<Instant>,
}

fn total(values: &[LqosHostCounters]) -> LqosHostCounters {
    let mut t = LqosHostCounters::default();
    values.iter().for_each(|c| t.merge(c));
    t
}

impl Sampler {
    /// Opens the pinned maps of `pin_dir`.
    pub fn open(pin_dir: &Path) -> Result<Self, aya::maps::MapError> {
        let hosts = PerCpuHashMap::try_from(aya::maps::Map::PerCpuHashMap(MapData::from_pin(
            pin_dir.join(MAP_HOSTS),
        )?))?;
        let unknown = PerCpuArray::try_from(aya::maps::Map::PerCpuArray(MapData::from_pin(
            pin_dir.join(MAP_UNKNOWN),
        )?))?;
        let unknown_hosts = MapData::from_pin(pin_dir.join(MAP_UNKNOWN_HOSTS))
            .and_then(|m| PerCpuHashMap::try_from(aya::maps::Map::PerCpuLruHashMap(m)))
            .map_err(|e| tracing::warn!(error = %e, "no per-address unknown traffic"))
            .ok();
        Ok(Self {
            hosts,
            unknown,
            unknown_hosts,
            previous: HashMap::new(),
            previous_unknown_hosts: HashMap::new(),
            previous_unknown: (0, 0),
            at: None,
        })
    }

    /// Reads every counter; rates since the last call (the first call only sets the baseline).
    pub fn sample(&mut self) -> Option<Sample> {
        let now = Instant::now();
        let mut current = HashMap::with_capacity(self.previous.len());
        for (key, values) in self.hosts.iter().flatten() {
            let t = total(&values);
            current.insert(key.to_addr(), (t.bytes_down, t.bytes_up));
        }
        // XDP and TC both count unknown traffic; TC's slot is what left the shaper.
        let unknown = self.unknown.get(&UNKNOWN_TC, 0).map_or((0, 0), |values| {
            let t = total(&values);
            (t.bytes_down, t.bytes_up)
        });
        let unknown_hosts = self.unknown_hosts_now();
        let elapsed = self.at.map(|at| now.duration_since(at));
        self.at = Some(now);
        let previous = std::mem::replace(&mut self.previous, current);
        let previous_unknown = std::mem::replace(&mut self.previous_unknown, unknown);
        let secs = elapsed?.as_secs_f64().max(0.001);
        let rate = |now: u64, before: u64| (now.saturating_sub(before) as f64 * 8.0 / secs) as u64;
        let hosts = self
            .previous
            .iter()
            .filter_map(|(addr, &(d, u))| {
                // A host new since the last sample carried all its bytes in this interval.
                let (pd, pu) = previous.get(addr).copied().unwrap_or((0, 0));
                let (rd, ru) = (rate(d, pd), rate(u, pu));
                (rd > 0 || ru > 0).then_some((*addr, rd, ru))
            })
            .collect();
        let now_unix = crate::reports::now_unix();
        let mut unknown_list = Vec::with_capacity(unknown_hosts.len());
        let mut seen = HashMap::with_capacity(unknown_hosts.len());
        for (addr, (d, u)) in unknown_hosts {
            // Iterating an LRU map while the data plane churns it can meet a key twice.
            if seen.contains_key(&addr) {
                continue;
            }
            let (pd, pu, last) = self
                .previous_unknown_hosts
                .get(&addr)
                .copied()
                .unwrap_or((d, u, now_unix));
            let moved = d != pd || u != pu;
            let last_seen_unix = if moved { now_unix } else { last };
            seen.insert(addr, (d, u, last_seen_unix));
            unknown_list.push(UnknownHost {
                addr,
                down_bps: rate(d, pd),
                up_bps: rate(u, pu),
                bytes_down: d,
                bytes_up: u,
                last_seen_unix,
            });
        }
        self.previous_unknown_hosts = seen;
        unknown_list.sort_by(|a, b| {
            (b.down_bps + b.up_bps, b.last_seen_unix)
                .cmp(&(a.down_bps + a.up_bps, a.last_seen_unix))
        });
        Some(Sample {
            sampled_unix: now_unix,
            interval_ms: (secs * 1e3) as u64,
            hosts,
            unknown: (
                rate(unknown.0, previous_unknown.0),
                rate(unknown.1, previous_unknown.1),
            ),
            unknown_hosts: unknown_list,
        })
    }

    /// Totals of every unknown address in the LRU map.
    fn unknown_hosts_now(&self) -> Vec<(IpAddr, (u64, u64))> {
        let Some(map) = &self.unknown_hosts else {
            return Vec::new();
        };
        map.iter()
            .flatten()
            .map(|(key, values)| {
                let t = total(&values);
                (key.to_addr(), (t.bytes_down, t.bytes_up))
            })
            .filter(|(addr, _)| is_host_address(*addr))
            .collect()
    }
}

/// Whether `addr` can be a subscriber's: not multicast, broadcast, link-local, loopback or
/// unspecified (neighbour discovery, DHCP and IGMP traffic has those, and no operator needs a
/// circuit for them).
fn is_host_address(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            !(a.is_multicast()
                || a.is_broadcast()
                || a.is_link_local()
                || a.is_loopback()
                || a.is_unspecified())
        }
        IpAddr::V6(a) => {
            !(a.is_multicast()
                || a.is_unicast_link_local()
                || a.is_loopback()
                || a.is_unspecified())
        }
    }
}

/// The report for the bus: totals and the `top` busiest hosts and circuits each way.
pub fn report(sample: &Sample, index: &PrefixIndex, top: usize) -> ThroughputReport {
    let circuit_of = |a: IpAddr| index.lookup(a).map(|m| m.circuit_id.to_string());
    let mut circuits: HashMap<String, (u64, u64)> = HashMap::new();
    for &(addr, d, u) in &sample.hosts {
        if let Some(c) = circuit_of(addr) {
            let e = circuits.entry(c).or_default();
            e.0 += d;
            e.1 += u;
        }
    }
    let pick = |mut v: Vec<Rate>, by_down: bool| {
        v.sort_by(|a, b| {
            if by_down {
                b.down_bps.cmp(&a.down_bps)
            } else {
                b.up_bps.cmp(&a.up_bps)
            }
        });
        v.truncate(top);
        v
    };
    let hosts: Vec<Rate> = sample
        .hosts
        .iter()
        .map(|&(a, d, u)| Rate {
            name: a.to_string(),
            circuit_id: circuit_of(a),
            down_bps: d,
            up_bps: u,
        })
        .collect();
    let circuits: Vec<Rate> = circuits
        .into_iter()
        .map(|(c, (d, u))| Rate {
            name: c.clone(),
            circuit_id: Some(c),
            down_bps: d,
            up_bps: u,
        })
        .collect();
    ThroughputReport {
        sampled_unix: sample.sampled_unix,
        interval_ms: sample.interval_ms,
        down_bps: sample.hosts.iter().map(|h| h.1).sum::<u64>() + sample.unknown.0,
        up_bps: sample.hosts.iter().map(|h| h.2).sum::<u64>() + sample.unknown.1,
        unknown_down_bps: sample.unknown.0,
        unknown_up_bps: sample.unknown.1,
        active_hosts: sample.hosts.len() as u64,
        top_hosts_down: pick(hosts.clone(), true),
        top_hosts_up: pick(hosts, false),
        top_circuits_down: pick(circuits.clone(), true),
        top_circuits_up: pick(circuits, false),
    }
}

/// One circuit's rate over the last interval; `None` if the live plan has no such circuit.
pub fn circuit_rate(sample: &Sample, index: &PrefixIndex, circuit_id: &str) -> Option<Rate> {
    if !index.has_circuit(circuit_id) {
        return None;
    }
    let (mut down_bps, mut up_bps) = (0, 0);
    for &(addr, d, u) in &sample.hosts {
        if index
            .lookup(addr)
            .is_some_and(|m| &*m.circuit_id == circuit_id)
        {
            down_bps += d;
            up_bps += u;
        }
    }
    Some(Rate {
        name: circuit_id.to_owned(),
        circuit_id: Some(circuit_id.to_owned()),
        down_bps,
        up_bps,
    })
}

/// Each CPU queue's rate: every host's traffic added to the CPU its prefix maps to in the live
/// plan; every CPU that carries a mapping is listed (idle ones at 0), by CPU. Unmapped traffic
/// is in no queue.
pub fn queue_load(sample: &Sample, index: &PrefixIndex) -> Vec<QueueLoad> {
    let mut queues: Vec<QueueLoad> = index
        .cpus()
        .iter()
        .map(|&cpu| QueueLoad {
            cpu,
            ..QueueLoad::default()
        })
        .collect();
    for &(addr, d, u) in &sample.hosts {
        let Some(m) = index.lookup(addr) else {
            continue;
        };
        // `cpus()` is sorted and holds every mapping's CPU.
        if let Ok(i) = queues.binary_search_by_key(&m.cpu, |q| q.cpu) {
            queues[i].down_bps += d;
            queues[i].up_bps += u;
        }
    }
    queues
}

/// Samples every `period` on a blocking thread, forever; the latest sample is in `out`.
pub async fn run(pin_dir: std::path::PathBuf, out: Arc<crate::shared::Shared>, period: Duration) {
    let opened = tokio::task::spawn_blocking(move || Sampler::open(&pin_dir)).await;
    let mut sampler = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return tracing::error!(error = %e, "cannot open the counter maps: no live throughput")
        }
        Err(e) => return tracing::error!(error = %e, "counter sampler failed to start"),
    };
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let (s, sample) = match tokio::task::spawn_blocking(move || {
            let sample = sampler.sample();
            (sampler, sample)
        })
        .await
        {
            Ok(x) => x,
            Err(e) => return tracing::error!(error = %e, "counter sampler stopped"),
        };
        sampler = s;
        if let Some(sample) = sample {
            out.set_sample(sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_plan::{ClassId, IpMapping};

    #[test]
    fn unknown_addresses_leave_out_what_no_subscriber_has() {
        for a in ["100.64.99.7", "2001:db8::7", "198.51.100.9"] {
            assert!(is_host_address(a.parse().unwrap()), "{a}");
        }
        for a in [
            "0.0.0.0",
            "224.0.0.22",
            "255.255.255.255",
            "169.254.1.1",
            "::",
            "ff02::2",
            "fe80::1",
            "::1",
        ] {
            assert!(!is_host_address(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn the_report_ranks_hosts_and_circuits_each_way() {
        let mapping = |p: &str, id: &str| IpMapping {
            prefix: p.parse().expect("p"),
            cpu: 0,
            download: ClassId::new(1, 2),
            upload: ClassId::new(2, 2),
            circuit_id: id.into(),
        };
        let index =
            PrefixIndex::new(&[mapping("100.64.0.1/32", "A"), mapping("100.64.0.8/29", "B")]);
        let sample = Sample {
            sampled_unix: 1,
            interval_ms: 1000,
            hosts: vec![
                ("100.64.0.1".parse().expect("a"), 5_000, 90),
                ("100.64.0.9".parse().expect("a"), 3_000, 10),
                ("100.64.0.10".parse().expect("a"), 3_000, 500),
            ],
            unknown: (7, 1),
            unknown_hosts: Vec::new(),
        };
        let r = report(&sample, &index, 1);
        assert_eq!((r.down_bps, r.up_bps, r.active_hosts), (11_007, 601, 3));
        assert_eq!(r.top_hosts_down[0].name, "100.64.0.1");
        assert_eq!(r.top_hosts_up[0].circuit_id.as_deref(), Some("B"));
        assert_eq!(
            (
                r.top_circuits_down[0].name.as_str(),
                r.top_circuits_down[0].down_bps
            ),
            ("B", 6_000)
        );
        assert_eq!(r.top_circuits_up.len(), 1);
        let b = circuit_rate(&sample, &index, "B").expect("B");
        assert_eq!((b.down_bps, b.up_bps), (6_000, 510));
        assert!(circuit_rate(&sample, &index, "nope").is_none());
    }

    #[test]
    fn queue_load_adds_each_host_to_its_cpu_and_lists_idle_cpus() {
        let mapping = |p: &str, cpu: u32| IpMapping {
            prefix: p.parse().expect("p"),
            cpu,
            download: ClassId::new(1, 2),
            upload: ClassId::new(2, 2),
            circuit_id: "c".into(),
        };
        let index = PrefixIndex::new(&[
            mapping("100.64.0.0/29", 2),
            mapping("100.64.0.8/29", 0),
            mapping("100.64.0.16/29", 5),
        ]);
        let sample = Sample {
            hosts: vec![
                ("100.64.0.1".parse().expect("a"), 1_000, 10),
                ("100.64.0.2".parse().expect("a"), 2_000, 20),
                ("100.64.0.9".parse().expect("a"), 300, 3),
                // Unmapped: in no queue.
                ("198.51.100.1".parse().expect("a"), 9_999, 9_999),
            ],
            ..Sample::default()
        };
        let load: Vec<(u32, u64, u64)> = queue_load(&sample, &index)
            .iter()
            .map(|q| (q.cpu, q.down_bps, q.up_bps))
            .collect();
        assert_eq!(load, vec![(0, 300, 3), (2, 3_000, 30), (5, 0, 0)]);
    }
}
