//! One tracked flow ([`FlowEntry`]), one finished flow ([`FinishedFlow`]) and how both turn
//! into a [`FlowView`].

use lqos_ebpf::{LqosFlow, LqosFlowKey, FLOW_DOWN, FLOW_UP};

use crate::geo::GeoTables;
use crate::key::FlowKey;
use crate::remotes::RemoteTag;
use crate::view::FlowView;

/// A live flow: the last kernel reading (the baseline of the next delta) and the rates.
#[derive(Debug, Clone)]
pub(crate) struct FlowEntry {
    pub key: LqosFlowKey,
    pub circuit: u32,
    /// Position in its circuit's list of slab indexes.
    pub pos: u32,
    /// The pass that last saw it.
    pub seen: u32,
    pub ending: bool,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// When the reading below was taken.
    pub read_ns: u64,
    pub bytes: [u64; 2],
    pub packets: [u32; 2],
    pub retx: [u32; 2],
    pub sample_ns: [u64; 2],
    pub rtt_us: [u32; 2],
    pub rate_bps: [u64; 2],
    /// The remote end's ASN and country and their groups (given when first seen).
    pub tag: RemoteTag,
}

impl FlowEntry {
    /// A new entry whose previous reading is `flow` itself (a baseline: the first delta is
    /// zero) or, with `whole`, nothing (the first delta is all of the flow's counters).
    pub fn new(key: LqosFlowKey, flow: &LqosFlow, whole: bool, read_ns: u64) -> Self {
        let mut e = FlowEntry {
            key,
            circuit: flow.circuit,
            pos: 0,
            seen: 0,
            ending: false,
            first_seen_ns: flow.first_seen_ns,
            last_seen_ns: flow.last_seen_ns,
            read_ns,
            bytes: [0; 2],
            packets: [0; 2],
            retx: [0; 2],
            sample_ns: [0; 2],
            rtt_us: [0; 2],
            rate_bps: [0; 2],
            tag: RemoteTag::default(),
        };
        if !whole {
            e.bytes = [flow.dir[0].bytes, flow.dir[1].bytes];
            e.packets = [flow.dir[0].packets, flow.dir[1].packets];
            e.retx = [flow.dir[0].retransmits, flow.dir[1].retransmits];
            e.sample_ns = flow.sample_ns;
            e.rtt_us = flow.rtt_us;
        }
        e
    }

    pub fn view(&self, now_ns: u64, geo: Option<&GeoTables>) -> FlowView {
        let mut v = build_view(
            &self.key,
            self.circuit,
            self.bytes,
            self.rate_bps,
            self.rtt_us,
            self.retx,
            now_ns.saturating_sub(self.first_seen_ns),
            false,
        );
        set_remote(&mut v, self.tag.asn, self.tag.country, geo);
        v
    }

    /// The sort key of "top flows": current rate, then bytes.
    pub fn rank(&self) -> (u64, u64) {
        (
            self.rate_bps[0].saturating_add(self.rate_bps[1]),
            self.bytes[0].saturating_add(self.bytes[1]),
        )
    }
}

/// A flow that ended (FIN/RST or idle), kept for a while after it left the table.
#[derive(Debug, Clone)]
pub(crate) struct FinishedFlow {
    pub key: LqosFlowKey,
    pub circuit: u32,
    pub ended_ns: u64,
    pub duration_ns: u64,
    pub bytes: [u64; 2],
    pub retx: [u32; 2],
    pub rtt_us: [u32; 2],
    pub asn: u32,
    pub country: [u8; 2],
}

impl FinishedFlow {
    pub fn from_entry(e: &FlowEntry, ended_ns: u64) -> Self {
        FinishedFlow {
            key: e.key,
            circuit: e.circuit,
            ended_ns,
            duration_ns: e.last_seen_ns.saturating_sub(e.first_seen_ns),
            bytes: e.bytes,
            retx: e.retx,
            rtt_us: e.rtt_us,
            asn: e.tag.asn,
            country: e.tag.country,
        }
    }

    pub fn view(&self, geo: Option<&GeoTables>) -> FlowView {
        let mut v = build_view(
            &self.key,
            self.circuit,
            self.bytes,
            [0, 0],
            self.rtt_us,
            self.retx,
            self.duration_ns,
            true,
        );
        set_remote(&mut v, self.asn, self.country, geo);
        v
    }
}

/// Fills the view's ASN, its name and the country.
fn set_remote(v: &mut FlowView, asn: u32, country: [u8; 2], geo: Option<&GeoTables>) {
    v.asn = asn;
    v.asn_name = geo.and_then(|g| g.asn_name(asn)).map(str::to_owned);
    v.country = crate::remotes::country_of_key(crate::remotes::country_key(country));
}

#[allow(clippy::too_many_arguments)]
fn build_view(
    key: &LqosFlowKey,
    circuit: u32,
    bytes: [u64; 2],
    rate_bps: [u64; 2],
    rtt_us: [u32; 2],
    retx: [u32; 2],
    age_ns: u64,
    ended: bool,
) -> FlowView {
    let k = FlowKey::from_kernel(key);
    let ms = |us: u32| (us != 0).then(|| f64::from(us) / 1000.0);
    // rtt_us[FLOW_DOWN] is the subscriber RTT (down data), rtt_us[FLOW_UP] the internet RTT.
    let main = if bytes[FLOW_DOWN] >= bytes[FLOW_UP] {
        FLOW_DOWN
    } else {
        FLOW_UP
    };
    FlowView {
        remote: k.remote_endpoint(),
        local: k.local_endpoint(),
        proto: k.proto_name(),
        circuit,
        bytes_down: bytes[FLOW_DOWN],
        bytes_up: bytes[FLOW_UP],
        rate_down_bps: rate_bps[FLOW_DOWN],
        rate_up_bps: rate_bps[FLOW_UP],
        rtt_ms: ms(rtt_us[main]),
        rtt_subscriber_ms: ms(rtt_us[FLOW_DOWN]),
        rtt_internet_ms: ms(rtt_us[FLOW_UP]),
        retransmits: u64::from(retx[FLOW_DOWN]) + u64::from(retx[FLOW_UP]),
        retransmits_down: u64::from(retx[FLOW_DOWN]),
        retransmits_up: u64::from(retx[FLOW_UP]),
        age_s: age_ns as f64 / 1e9,
        ended,
        asn: 0,
        asn_name: None,
        country: None,
    }
}
