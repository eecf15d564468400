//! [`RemoteStats`]: traffic per remote ASN and per remote country over the last 15 minutes.
//!
//! Each flow is tagged once, when the flow table first tracks it: its remote address is looked
//! up in the [`GeoTables`] and the flow gets a slot in the ASN table and one in the country
//! table ([`RemoteTag`]). After that, a pass adds each flow's deltas to its two groups by slot
//! index (no hashing per flow and pass). A group keeps 15 one-minute slots: bytes each way,
//! TCP packets and retransmits, flows started, and a histogram of internet-side RTT samples
//! (a flow's latest sample, at most one per flow and pass); and the count of its live flows.
//!
//! Memory is bounded: at most `max_groups` groups per table (1000 ASNs by default; countries
//! are at most 26 x 26 codes). A new key finding its table full goes to the table's
//! "overflow" group; once a minute, groups without live flows and without traffic for 15
//! minutes are freed, and when a table is over 90 % full the quietest groups without live
//! flows are freed too, so the busiest stay.

use std::net::IpAddr;

use lqos_ebpf::{RTT_BUCKETS, RTT_EDGES_US};
use rustc_hash::FxHashMap;

use crate::geo::GeoTables;

/// Minutes in the window.
pub const WINDOW_MINUTES: u64 = 15;
/// ASN groups tracked at most (the busiest stay).
pub const DEFAULT_MAX_ASNS: usize = 1000;
/// Country groups tracked at most (every ISO code fits).
pub const MAX_COUNTRIES: usize = 26 * 26 + 1;
/// The slot of a flow whose key found its table full: counted in the overflow group.
pub(crate) const OVERFLOW: u32 = u32::MAX;

/// A flow's remote ASN and country, and its groups' slots (given once, at the first sight).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RemoteTag {
    /// 0: unknown.
    pub asn: u32,
    /// `[0, 0]`: unknown.
    pub country: [u8; 2],
    pub asn_slot: u32,
    pub country_slot: u32,
}

/// A country code as a group key (0: unknown).
pub(crate) fn country_key(cc: [u8; 2]) -> u32 {
    u32::from(u16::from_be_bytes(cc))
}

/// The country code of a group key (`None`: unknown).
pub fn country_of_key(key: u32) -> Option<String> {
    let [_, _, a, b] = key.to_be_bytes();
    (a.is_ascii_uppercase() && b.is_ascii_uppercase())
        .then(|| String::from_utf8_lossy(&[a, b]).into_owned())
}

/// RTT samples in the kernel's buckets: a count and a sum per bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RttBuckets {
    count: [u32; RTT_BUCKETS],
    sum_us: [u64; RTT_BUCKETS],
}

impl RttBuckets {
    fn add(&mut self, us: u32) {
        let b = RTT_EDGES_US
            .iter()
            .position(|&e| us <= e)
            .unwrap_or(RTT_BUCKETS - 1);
        self.count[b] = self.count[b].saturating_add(1);
        self.sum_us[b] += u64::from(us);
    }

    pub(crate) fn merge(&mut self, other: &RttBuckets) {
        for b in 0..RTT_BUCKETS {
            self.count[b] = self.count[b].saturating_add(other.count[b]);
            self.sum_us[b] += other.sum_us[b];
        }
    }

    pub(crate) fn samples(&self) -> u64 {
        self.count.iter().map(|&c| u64::from(c)).sum()
    }

    /// The median in milliseconds, estimated as the mean of the bucket holding it.
    pub(crate) fn median_ms(&self) -> Option<f64> {
        let total = self.samples();
        if total == 0 {
            return None;
        }
        let half = total.div_ceil(2);
        let mut seen = 0u64;
        for b in 0..RTT_BUCKETS {
            seen += u64::from(self.count[b]);
            if seen >= half && self.count[b] > 0 {
                return Some(self.sum_us[b] as f64 / f64::from(self.count[b]) / 1000.0);
            }
        }
        None
    }
}

/// One group's minute.
#[derive(Debug, Clone, Default)]
pub(crate) struct Minute {
    /// Which minute (monotonic seconds / 60) this slot holds.
    pub minute: u64,
    pub bytes: [u64; 2],
    pub tcp_packets: [u64; 2],
    pub retransmits: [u64; 2],
    pub flows_started: u64,
    pub rtt: Option<Box<RttBuckets>>,
}

impl Minute {
    fn is_empty(&self) -> bool {
        self.bytes == [0; 2] && self.flows_started == 0 && self.tcp_packets == [0; 2]
    }
}

/// One ASN's or country's traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub key: u32,
    /// Live flows tagged with this group.
    pub active: u64,
    pub minutes: [Minute; WINDOW_MINUTES as usize],
}

/// A group's window summed up.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GroupTotals {
    pub bytes: [u64; 2],
    pub tcp_packets: [u64; 2],
    pub retransmits: [u64; 2],
    pub flows_started: u64,
    pub rtt: RttBuckets,
}

impl Group {
    fn new(key: u32) -> Self {
        Group {
            key,
            ..Default::default()
        }
    }

    fn minute_mut(&mut self, minute: u64) -> &mut Minute {
        let m = &mut self.minutes[(minute % WINDOW_MINUTES) as usize];
        if m.minute != minute {
            *m = Minute {
                minute,
                ..Default::default()
            };
        }
        m
    }

    /// Minutes inside the window ending at `now_minute`.
    pub(crate) fn window(&self, now_minute: u64) -> impl Iterator<Item = &Minute> + '_ {
        let oldest = (now_minute + 1).saturating_sub(WINDOW_MINUTES);
        self.minutes
            .iter()
            .filter(move |m| m.minute >= oldest && m.minute <= now_minute && !m.is_empty())
    }

    pub(crate) fn totals(&self, now_minute: u64) -> GroupTotals {
        let mut t = GroupTotals::default();
        for m in self.window(now_minute) {
            for d in 0..2 {
                t.bytes[d] += m.bytes[d];
                t.tcp_packets[d] += m.tcp_packets[d];
                t.retransmits[d] += m.retransmits[d];
            }
            t.flows_started += m.flows_started;
            if let Some(r) = &m.rtt {
                t.rtt.merge(r);
            }
        }
        t
    }

    fn window_bytes(&self, now_minute: u64) -> u64 {
        self.window(now_minute)
            .map(|m| m.bytes[0] + m.bytes[1])
            .sum()
    }
}

/// One table of groups (ASNs or countries), at most `max` of them plus the overflow group.
#[derive(Debug)]
pub(crate) struct GroupTable {
    slots: Vec<Option<Group>>,
    index: FxHashMap<u32, u32>,
    free: Vec<u32>,
    max: usize,
    pub overflow: Group,
    /// Keys that found the table full (cumulative).
    pub overflowed: u64,
}

impl GroupTable {
    fn new(max: usize) -> Self {
        GroupTable {
            slots: Vec::new(),
            index: FxHashMap::default(),
            free: Vec::new(),
            max,
            overflow: Group::new(u32::MAX),
            overflowed: 0,
        }
    }

    /// The slot of `key`, made if there is room; [`OVERFLOW`] otherwise.
    fn slot_of(&mut self, key: u32) -> u32 {
        if let Some(&s) = self.index.get(&key) {
            return s;
        }
        if self.index.len() >= self.max {
            self.overflowed += 1;
            return OVERFLOW;
        }
        let group = Some(Group::new(key));
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = group;
                s
            }
            None => {
                self.slots.push(group);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, s);
        s
    }

    fn group_mut(&mut self, slot: u32) -> Option<&mut Group> {
        if slot == OVERFLOW {
            return Some(&mut self.overflow);
        }
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The group of `key`, if tracked.
    pub(crate) fn get(&self, key: u32) -> Option<&Group> {
        let &s = self.index.get(&key)?;
        self.slots.get(s as usize)?.as_ref()
    }

    /// Every tracked group (not the overflow one).
    pub(crate) fn groups(&self) -> impl Iterator<Item = &Group> + '_ {
        self.slots.iter().flatten()
    }

    /// Groups tracked.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Frees groups without live flows and without traffic in the window; over 90 % full,
    /// also the quietest groups without live flows, down to 90 %.
    fn expire(&mut self, now_minute: u64) {
        let mut idle: Vec<(u64, u32)> = Vec::new();
        for (s, g) in self.slots.iter().enumerate() {
            if let Some(g) = g {
                if g.active == 0 {
                    idle.push((g.window_bytes(now_minute), s as u32));
                }
            }
        }
        let target = self.max * 9 / 10;
        idle.sort_unstable();
        let mut over = self.index.len().saturating_sub(target);
        for (bytes, s) in idle {
            if bytes > 0 && over == 0 {
                break;
            }
            over = over.saturating_sub(1);
            if let Some(g) = self.slots[s as usize].take() {
                self.index.remove(&g.key);
                self.free.push(s);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        let rtt: usize = self
            .groups()
            .flat_map(|g| g.minutes.iter())
            .filter(|m| m.rtt.is_some())
            .count()
            * size_of::<RttBuckets>();
        self.slots.capacity() * size_of::<Option<Group>>()
            + self.index.capacity() * (size_of::<(u32, u32)>() + 1)
            + self.free.capacity() * 4
            + rtt
    }
}

/// What one flow did in one pass, for [`RemoteStats::add`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlowDelta {
    pub bytes: [u64; 2],
    pub tcp_packets: [u64; 2],
    pub retransmits: [u64; 2],
    /// A new internet-side RTT sample, microseconds.
    pub rtt_internet_us: Option<u32>,
}

/// Per-ASN and per-country traffic over the last 15 minutes (module docs).
#[derive(Debug)]
pub struct RemoteStats {
    pub(crate) asns: GroupTable,
    pub(crate) countries: GroupTable,
    minute: u64,
}

impl Default for RemoteStats {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ASNS)
    }
}

impl RemoteStats {
    /// Empty, tracking at most `max_asns` ASNs.
    pub fn new(max_asns: usize) -> Self {
        RemoteStats {
            asns: GroupTable::new(max_asns.max(1)),
            countries: GroupTable::new(MAX_COUNTRIES),
            minute: 0,
        }
    }

    /// The current minute (monotonic seconds / 60).
    pub fn minute(&self) -> u64 {
        self.minute
    }

    /// Moves the clock to `now_s`; at a new minute, frees idle groups.
    pub(crate) fn advance(&mut self, now_s: u64) {
        let minute = now_s / 60;
        if minute > self.minute {
            self.minute = minute;
            self.asns.expire(minute);
            self.countries.expire(minute);
        }
    }

    /// Tags a new flow to `remote` (one look-up) and counts it as started and live.
    pub(crate) fn tag(&mut self, geo: Option<&GeoTables>, remote: IpAddr) -> RemoteTag {
        let (asn, country) = match geo {
            Some(g) => {
                let info = g.lookup(remote);
                (info.asn, info.country.unwrap_or([0, 0]))
            }
            None => (0, [0, 0]),
        };
        let tag = RemoteTag {
            asn,
            country,
            asn_slot: self.asns.slot_of(asn),
            country_slot: self.countries.slot_of(country_key(country)),
        };
        let minute = self.minute;
        self.each_group(&tag, |g| {
            g.active += 1;
            g.minute_mut(minute).flows_started += 1;
        });
        tag
    }

    /// Calls `f` on the flow's ASN group and country group. (A slot is never freed while a
    /// flow holds it: its group has `active > 0`.)
    fn each_group(&mut self, tag: &RemoteTag, mut f: impl FnMut(&mut Group)) {
        if let Some(g) = self.asns.group_mut(tag.asn_slot) {
            f(g);
        }
        if let Some(g) = self.countries.group_mut(tag.country_slot) {
            f(g);
        }
    }

    /// Adds one flow's pass to its groups.
    pub(crate) fn add(&mut self, tag: &RemoteTag, d: &FlowDelta) {
        if d.bytes == [0; 2] && d.tcp_packets == [0; 2] && d.rtt_internet_us.is_none() {
            return;
        }
        let minute = self.minute;
        self.each_group(tag, |g| {
            let m = g.minute_mut(minute);
            for i in 0..2 {
                m.bytes[i] += d.bytes[i];
                m.tcp_packets[i] += d.tcp_packets[i];
                m.retransmits[i] += d.retransmits[i];
            }
            if let Some(us) = d.rtt_internet_us {
                m.rtt.get_or_insert_with(Default::default).add(us);
            }
        });
    }

    /// A tagged flow left the table.
    pub(crate) fn release(&mut self, tag: &RemoteTag) {
        self.each_group(tag, |g| g.active = g.active.saturating_sub(1));
    }

    /// ASNs tracked.
    pub fn asns_tracked(&self) -> usize {
        self.asns.len()
    }

    /// Countries tracked.
    pub fn countries_tracked(&self) -> usize {
        self.countries.len()
    }

    /// Bytes of heap held (from sizes and capacities).
    pub fn heap_bytes(&self) -> usize {
        self.asns.heap_bytes() + self.countries.heap_bytes()
    }
}
