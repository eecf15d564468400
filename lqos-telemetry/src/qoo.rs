//! Quality of Outcome after draft-ietf-ippm-qoo: each metric has a *good* threshold (at or
//! below it the metric scores 100) and a *bad* one (at or beyond it, 0), linear between.
//!
//! - **Latency**: the profile's percentile of the circuit's 5-min RTT histogram, per side;
//!   needs at least [`MIN_RTT_SAMPLES`] samples on that side, else the side has no score.
//! - **Loss**: the retransmit proxy over 5 min (retransmits per TCP packet in the side's data
//!   direction: `subscriber` uses download data, `internet` upload data). Retransmits count
//!   duplicates and reordering, so like LibreQoS the loss score is weighted by a low
//!   confidence: `100 - c * (100 - strict)` with `c = min(packets / 10 000, 1) * 0.05`, so
//!   the proxy can take at most 5 points off.
//! - A side's score is `min(latency, loss)`; the circuit's is the lower of the sides that
//!   have one; `None` when neither does, or when the operator excluded the circuit.
//!
//! The profiles are LibreQoS's defaults (`web_browsing` unless configured).

use lqos_ebpf::{FLOW_DOWN, FLOW_UP, RTT_INTERNET, RTT_SUBSCRIBER};
use rustc_hash::FxHashSet;

use crate::hist::Dense;
use crate::retransmits::RetxTotals;
use crate::view::QooView;
use crate::TelemetryError;

/// Fewest RTT samples on a side (5-min window) for a latency score.
pub const MIN_RTT_SAMPLES: u64 = 5;
/// The most the retransmit proxy's confidence reaches.
pub const LOSS_CONFIDENCE_MAX: f64 = 0.05;
/// TCP packets at which the proxy reaches its full (low) confidence.
pub const LOSS_CONFIDENCE_PACKETS: f64 = 10_000.0;
/// The profile used when none is configured.
pub const DEFAULT_PROFILE: &str = "web_browsing";

/// A QoO profile: the latency percentile and both metrics' thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct QooProfile {
    pub name: &'static str,
    /// The latency percentile, 0 < p <= 1 (0.9 = p90).
    pub latency_percentile: f64,
    pub latency_good_ms: f64,
    pub latency_bad_ms: f64,
    /// Loss thresholds, percent.
    pub loss_good_pct: f64,
    pub loss_bad_pct: f64,
}

const fn profile(name: &'static str, p: f64, lg: f64, lb: f64, pg: f64, pb: f64) -> QooProfile {
    QooProfile {
        name,
        latency_percentile: p,
        latency_good_ms: lg,
        latency_bad_ms: lb,
        loss_good_pct: pg,
        loss_bad_pct: pb,
    }
}

/// LibreQoS's default profiles (`src/qoo_profiles.json`).
pub static PROFILES: [QooProfile; 6] = [
    profile("web_browsing", 0.90, 50.0, 150.0, 0.5, 1.0),
    profile("video_streaming", 0.95, 50.0, 100.0, 0.1, 1.0),
    profile("video_conferencing", 0.95, 50.0, 100.0, 0.1, 0.5),
    profile("audio_streaming", 0.95, 50.0, 100.0, 0.1, 1.0),
    profile("online_backup", 0.95, 100.0, 150.0, 0.1, 1.0),
    profile("real_time_gaming", 0.95, 50.0, 100.0, 0.5, 1.0),
];

/// The profile named `name`, or an error listing the known names.
pub fn profile_by_name(name: &str) -> Result<&'static QooProfile, TelemetryError> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| TelemetryError::UnknownQooProfile {
            name: name.to_string(),
            known: PROFILES
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The two-threshold score: 100 at or below `good`, 0 at or beyond `bad`, linear between.
pub fn score(value: f64, good: f64, bad: f64) -> f64 {
    if value <= good {
        100.0
    } else if value >= bad {
        0.0
    } else {
        100.0 * (bad - value) / (bad - good)
    }
}

/// The QoO configuration: a profile and the circuits excluded from scoring.
#[derive(Debug, Clone)]
pub struct Qoo {
    profile: &'static QooProfile,
    excluded: FxHashSet<u32>,
}

impl Default for Qoo {
    fn default() -> Self {
        Qoo {
            profile: &PROFILES[0],
            excluded: FxHashSet::default(),
        }
    }
}

impl Qoo {
    /// The profile named `profile` (see [`PROFILES`]) with `excluded` circuit indexes.
    pub fn new(
        profile: &str,
        excluded: impl IntoIterator<Item = u32>,
    ) -> Result<Self, TelemetryError> {
        Ok(Qoo {
            profile: profile_by_name(profile)?,
            excluded: excluded.into_iter().collect(),
        })
    }

    /// The profile in use.
    pub fn profile(&self) -> &'static QooProfile {
        self.profile
    }

    /// Replaces the excluded circuits.
    pub fn set_excluded(&mut self, excluded: impl IntoIterator<Item = u32>) {
        self.excluded = excluded.into_iter().collect();
    }

    /// Whether `circuit` is excluded.
    pub fn is_excluded(&self, circuit: u32) -> bool {
        self.excluded.contains(&circuit)
    }

    /// One side's score: `rtt_side` of the histogram, `dir` of the retransmits.
    fn side(&self, rtt: &Dense, rtt_side: usize, retx: &RetxTotals, dir: usize) -> Option<f64> {
        if rtt.samples(rtt_side) < MIN_RTT_SAMPLES {
            return None;
        }
        let p = self.profile;
        let latency_ms = rtt.percentile_ms(rtt_side, p.latency_percentile)?;
        let latency = score(latency_ms, p.latency_good_ms, p.latency_bad_ms);
        let packets = retx.tcp_packets[dir] as f64;
        let confidence = (packets / LOSS_CONFIDENCE_PACKETS).min(1.0) * LOSS_CONFIDENCE_MAX;
        let strict = score(retx.percent(dir), p.loss_good_pct, p.loss_bad_pct);
        let loss = 100.0 - confidence * (100.0 - strict);
        Some(latency.min(loss))
    }

    /// The view for `circuit` from its 5-min RTT histogram and retransmit totals.
    pub fn view(&self, circuit: u32, rtt_5m: &Dense, retx_5m: &RetxTotals) -> QooView {
        if self.is_excluded(circuit) {
            return QooView {
                score: None,
                internet: None,
                subscriber: None,
                profile: self.profile.name.to_string(),
                excluded: true,
            };
        }
        self.score_of(rtt_5m, retx_5m)
    }

    /// The view of a histogram and retransmit totals (a circuit or a group of them).
    pub fn score_of(&self, rtt_5m: &Dense, retx_5m: &RetxTotals) -> QooView {
        let internet = self.side(rtt_5m, RTT_INTERNET, retx_5m, FLOW_UP);
        let subscriber = self.side(rtt_5m, RTT_SUBSCRIBER, retx_5m, FLOW_DOWN);
        let circuit = match (internet, subscriber) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let to_u8 = |s: Option<f64>| s.map(|v| v.round().clamp(0.0, 100.0) as u8);
        QooView {
            score: to_u8(circuit),
            internet: to_u8(internet),
            subscriber: to_u8(subscriber),
            profile: self.profile.name.to_string(),
            excluded: false,
        }
    }
}
