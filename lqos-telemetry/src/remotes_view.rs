//! The views of [`RemoteStats`](crate::remotes::RemoteStats): per-ASN and per-country
//! summaries over 15 minutes, an ASN's trend, its circuits and flows. The circuits come from
//! one scan of the live flows (what is talking to the ASN now); the rest from the groups'
//! minute slots.

use lqos_ebpf::{FLOW_DOWN, FLOW_UP};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::flow_entry::FlowEntry;
use crate::flows::FlowTable;
use crate::remotes::{country_key, country_of_key, Group, GroupTotals, WINDOW_MINUTES};
use crate::view::FlowView;

/// A group's traffic over the last 15 minutes (`down`: toward the subscribers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteTotals {
    pub bytes_down: u64,
    pub bytes_up: u64,
    /// Live flows now.
    pub active_flows: u64,
    /// Flows first seen in the window.
    pub recent_flows: u64,
    /// Median internet-side RTT (the remote end's ACKs: the path from the shaper to the
    /// remote host and back), milliseconds; `None` without samples.
    pub rtt_median_ms: Option<f64>,
    pub rtt_samples: u64,
    pub tcp_packets: u64,
    pub retransmits: u64,
    /// Retransmits per 100 TCP packets, both directions.
    pub retransmit_percent: f64,
}

impl RemoteTotals {
    fn from_group(g: &Group, t: &GroupTotals) -> Self {
        let tcp = t.tcp_packets[0] + t.tcp_packets[1];
        let retx = t.retransmits[0] + t.retransmits[1];
        RemoteTotals {
            bytes_down: t.bytes[FLOW_DOWN],
            bytes_up: t.bytes[FLOW_UP],
            active_flows: g.active,
            recent_flows: t.flows_started,
            rtt_median_ms: t.rtt.median_ms(),
            rtt_samples: t.rtt.samples(),
            tcp_packets: tcp,
            retransmits: retx,
            retransmit_percent: percent(retx, tcp),
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A circuit's live flows to one ASN or country.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CircuitShare {
    /// The circuit index (lqosd maps it to the circuit id).
    pub circuit: u32,
    pub flows: u64,
    /// Bytes of those flows since they began.
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub retransmits: u64,
    /// Mean of the flows' latest internet-side RTT samples, milliseconds.
    pub rtt_internet_ms: Option<f64>,
}

/// One ASN over the last 15 minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsnSummary {
    /// 0: addresses the ASN table does not know.
    pub asn: u32,
    pub name: Option<String>,
    pub totals: RemoteTotals,
    /// Circuits with live flows to it.
    pub circuits: u64,
    /// The circuits most affected: most retransmits, then highest RTT, then most bytes.
    pub top_circuits: Vec<CircuitShare>,
}

/// One country over the last 15 minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountrySummary {
    /// ISO 3166-1 alpha-2; `None`: unknown.
    pub country: Option<String>,
    pub totals: RemoteTotals,
    pub circuits: u64,
    pub top_circuits: Vec<CircuitShare>,
}

/// Everything per ASN and per country, busiest (bytes) first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteReport {
    pub asns: Vec<AsnSummary>,
    pub countries: Vec<CountrySummary>,
    /// Traffic of ASNs that found the table full (not in `asns`).
    pub other_asns: RemoteTotals,
    /// New ASNs not tracked because the table was full (cumulative).
    pub asns_overflowed: u64,
    /// The geo tables are loaded (otherwise everything is "unknown").
    pub geo_loaded: bool,
}

/// One minute of an ASN's trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// Minutes before the current one (0: the current, partial minute).
    pub minutes_ago: u32,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub flows_started: u64,
    pub rtt_median_ms: Option<f64>,
    pub retransmit_percent: f64,
}

/// One ASN: its summary, its trend over 15 minutes (oldest first), the circuits talking to
/// it now and its busiest live flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsnDetail {
    pub summary: AsnSummary,
    /// The ASN is tracked (it had traffic in the last 15 minutes).
    pub tracked: bool,
    pub trend: Vec<TrendPoint>,
    pub circuits: Vec<CircuitShare>,
    pub flows: Vec<FlowView>,
    /// Countries its live flows go to, by flows.
    pub countries: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Default)]
struct ShareAcc {
    share: CircuitShare,
    rtt_sum_us: u64,
    rtt_n: u64,
}

impl ShareAcc {
    fn add(&mut self, e: &FlowEntry) {
        self.share.circuit = e.circuit;
        self.share.flows += 1;
        self.share.bytes_down += e.bytes[FLOW_DOWN];
        self.share.bytes_up += e.bytes[FLOW_UP];
        self.share.retransmits += u64::from(e.retx[0]) + u64::from(e.retx[1]);
        if e.rtt_us[FLOW_UP] != 0 {
            self.rtt_sum_us += u64::from(e.rtt_us[FLOW_UP]);
            self.rtt_n += 1;
        }
    }

    /// Adds another flow's (or group's) accumulated share.
    fn merge(&mut self, o: &ShareAcc) {
        self.share.circuit = o.share.circuit;
        self.share.flows += o.share.flows;
        self.share.bytes_down += o.share.bytes_down;
        self.share.bytes_up += o.share.bytes_up;
        self.share.retransmits += o.share.retransmits;
        self.rtt_sum_us += o.rtt_sum_us;
        self.rtt_n += o.rtt_n;
    }

    fn finish(mut self) -> CircuitShare {
        if self.rtt_n > 0 {
            self.share.rtt_internet_ms = Some(self.rtt_sum_us as f64 / self.rtt_n as f64 / 1000.0);
        }
        self.share
    }
}

/// Most affected first: retransmits, then RTT, then bytes, then the circuit index.
fn rank_shares(list: &mut [CircuitShare]) {
    list.sort_by(|a, b| {
        b.retransmits
            .cmp(&a.retransmits)
            .then(
                b.rtt_internet_ms
                    .unwrap_or(0.0)
                    .total_cmp(&a.rtt_internet_ms.unwrap_or(0.0)),
            )
            .then((b.bytes_down + b.bytes_up).cmp(&(a.bytes_down + a.bytes_up)))
            .then(a.circuit.cmp(&b.circuit))
    });
}

/// Groups `(group key, circuit)` shares by group key, ranked.
fn by_group(map: FxHashMap<(u32, u32), ShareAcc>) -> FxHashMap<u32, Vec<CircuitShare>> {
    let mut out: FxHashMap<u32, Vec<CircuitShare>> = FxHashMap::default();
    for ((key, _), acc) in map {
        out.entry(key).or_default().push(acc.finish());
    }
    for list in out.values_mut() {
        rank_shares(list);
    }
    out
}

/// What a [`RemoteReport`] is made of, copied out of the [`FlowTable`] in one quick pass
/// ([`FlowTable::remote_parts`]) so that a caller sharing the table behind a lock can do the
/// aggregation ([`RemoteParts::report`]) after releasing it.
#[derive(Debug, Clone)]
pub struct RemoteParts {
    /// Per live flow of a circuit: (ASN, country key, circuit, its share).
    flows: Vec<(u32, u32, ShareAcc)>,
    /// The groups' summaries, without their circuits yet.
    asns: Vec<AsnSummary>,
    /// With their group keys.
    countries: Vec<(u32, CountrySummary)>,
    other_asns: RemoteTotals,
    asns_overflowed: u64,
    geo_loaded: bool,
}

impl RemoteParts {
    /// The report, each group with its `top_circuits` most affected circuits.
    pub fn report(self, top_circuits: usize) -> RemoteReport {
        let mut asn_shares: FxHashMap<(u32, u32), ShareAcc> = FxHashMap::default();
        let mut country_shares: FxHashMap<(u32, u32), ShareAcc> = FxHashMap::default();
        for (asn, country, flow) in &self.flows {
            let circuit = flow.share.circuit;
            asn_shares.entry((*asn, circuit)).or_default().merge(flow);
            country_shares
                .entry((*country, circuit))
                .or_default()
                .merge(flow);
        }
        let mut asn_shares = by_group(asn_shares);
        let mut country_shares = by_group(country_shares);
        let take = |map: &mut FxHashMap<u32, Vec<CircuitShare>>, key: u32| {
            let mut list = map.remove(&key).unwrap_or_default();
            let n = list.len() as u64;
            list.truncate(top_circuits);
            (n, list)
        };
        let mut asns = self.asns;
        for a in &mut asns {
            (a.circuits, a.top_circuits) = take(&mut asn_shares, a.asn);
        }
        let countries = self
            .countries
            .into_iter()
            .map(|(key, mut c)| {
                (c.circuits, c.top_circuits) = take(&mut country_shares, key);
                c
            })
            .collect();
        RemoteReport {
            asns,
            countries,
            other_asns: self.other_asns,
            asns_overflowed: self.asns_overflowed,
            geo_loaded: self.geo_loaded,
        }
    }
}

impl FlowTable {
    /// Every tracked ASN and country over the last 15 minutes, busiest first, each with its
    /// `top_circuits` most affected circuits (one scan of the live flows).
    pub fn remote_report(&self, top_circuits: usize) -> RemoteReport {
        self.remote_parts().report(top_circuits)
    }

    /// The parts of [`remote_report`](Self::remote_report): a copy of what it needs of each
    /// live flow and the groups' totals; the aggregation is left to [`RemoteParts::report`].
    pub fn remote_parts(&self) -> RemoteParts {
        let minute = self.remotes.minute();
        let flows = self
            .slab
            .iter()
            .flatten()
            .filter(|e| e.circuit != 0)
            .map(|e| {
                let mut share = ShareAcc::default();
                share.add(e);
                (e.tag.asn, country_key(e.tag.country), share)
            })
            .collect();
        let mut asns: Vec<AsnSummary> = self
            .remotes
            .asns
            .groups()
            .map(|g| AsnSummary {
                asn: g.key,
                name: self.asn_name(g.key),
                totals: RemoteTotals::from_group(g, &g.totals(minute)),
                circuits: 0,
                top_circuits: Vec::new(),
            })
            .collect();
        asns.sort_by(|a, b| {
            let ab = a.totals.bytes_down + a.totals.bytes_up;
            let bb = b.totals.bytes_down + b.totals.bytes_up;
            bb.cmp(&ab).then(a.asn.cmp(&b.asn))
        });
        let mut countries: Vec<(u32, CountrySummary)> = self
            .remotes
            .countries
            .groups()
            .map(|g| {
                let summary = CountrySummary {
                    country: country_of_key(g.key),
                    totals: RemoteTotals::from_group(g, &g.totals(minute)),
                    circuits: 0,
                    top_circuits: Vec::new(),
                };
                (g.key, summary)
            })
            .collect();
        countries.sort_by(|(_, a), (_, b)| {
            let ab = a.totals.bytes_down + a.totals.bytes_up;
            let bb = b.totals.bytes_down + b.totals.bytes_up;
            bb.cmp(&ab).then(a.country.cmp(&b.country))
        });
        let other = &self.remotes.asns.overflow;
        RemoteParts {
            flows,
            asns,
            countries,
            other_asns: RemoteTotals::from_group(other, &other.totals(minute)),
            asns_overflowed: self.remotes.asns.overflowed,
            geo_loaded: self.geo.as_ref().is_some_and(|g| g.asn_table().is_some()),
        }
    }

    /// One ASN: summary, trend, circuits talking to it (all, most affected first) and its
    /// `flows` busiest live flows. An ASN without traffic in the window answers with zeros
    /// and `tracked: false`.
    pub fn asn_detail(&self, asn: u32, flows: usize) -> AsnDetail {
        let minute = self.remotes.minute();
        let mut shares: FxHashMap<u32, ShareAcc> = FxHashMap::default();
        let mut countries: FxHashMap<[u8; 2], u64> = FxHashMap::default();
        let mut mine: Vec<&FlowEntry> = Vec::new();
        for e in self.slab.iter().flatten() {
            if e.tag.asn != asn {
                continue;
            }
            mine.push(e);
            if e.tag.country != [0, 0] {
                *countries.entry(e.tag.country).or_default() += 1;
            }
            if e.circuit != 0 {
                shares.entry(e.circuit).or_default().add(e);
            }
        }
        let mut circuits: Vec<CircuitShare> = shares.into_values().map(ShareAcc::finish).collect();
        rank_shares(&mut circuits);
        let mut countries: Vec<(String, u64)> = countries
            .into_iter()
            .map(|(c, n)| (String::from_utf8_lossy(&c).into_owned(), n))
            .collect();
        countries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let group = self.remotes.asns.get(asn);
        let (totals, trend) = match group {
            Some(g) => (
                RemoteTotals::from_group(g, &g.totals(minute)),
                trend(g, minute),
            ),
            None => (RemoteTotals::default(), empty_trend()),
        };
        AsnDetail {
            summary: AsnSummary {
                asn,
                name: self.asn_name(asn),
                totals,
                circuits: circuits.len() as u64,
                top_circuits: circuits.iter().take(5).cloned().collect(),
            },
            tracked: group.is_some(),
            trend,
            circuits,
            flows: self.top(mine.into_iter(), flows),
            countries,
        }
    }

    fn asn_name(&self, asn: u32) -> Option<String> {
        self.geo
            .as_ref()
            .and_then(|g| g.asn_name(asn))
            .map(str::to_owned)
    }
}

fn empty_trend() -> Vec<TrendPoint> {
    (0..WINDOW_MINUTES as u32)
        .rev()
        .map(|minutes_ago| TrendPoint {
            minutes_ago,
            ..Default::default()
        })
        .collect()
}

/// The group's 15 minutes, oldest first (empty minutes as zeros).
fn trend(g: &Group, now_minute: u64) -> Vec<TrendPoint> {
    let mut out = empty_trend();
    for m in g.window(now_minute) {
        let ago = now_minute - m.minute;
        let Some(p) = out.iter_mut().find(|p| u64::from(p.minutes_ago) == ago) else {
            continue;
        };
        p.bytes_down = m.bytes[FLOW_DOWN];
        p.bytes_up = m.bytes[FLOW_UP];
        p.flows_started = m.flows_started;
        p.rtt_median_ms = m.rtt.as_ref().and_then(|r| r.median_ms());
        p.retransmit_percent = percent(
            m.retransmits[0] + m.retransmits[1],
            m.tcp_packets[0] + m.tcp_packets[1],
        );
    }
    out
}
