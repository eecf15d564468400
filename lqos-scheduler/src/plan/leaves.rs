//! Each circuit's leaf qdisc: its `sqm` column, else `fq_codel` at or above
//! `fast_queues_fq_codel`, else `default_sqm`; CAKE on a slow circuit gets a longer `rtt`.

use lqos_config::{Circuit, Config, SqmKind};
use lqos_plan::Direction;
use std::sync::Arc;

/// CAKE's `rtt` for slow circuits, as LibreQoS sets it: (at most this many Mbps, rtt in ms).
/// At 1 Mbps one 1500-byte packet takes 12 ms to send; with CAKE's default 100 ms rtt its
/// 5 ms target is shorter than one packet, so it drops what it cannot help queuing. LibreQoS
/// matches whole Mbps (1, 2, 3, 4) and writes the time without a unit, which `tc` reads as
/// microseconds; lqos matches fractional rates up to each bound and writes milliseconds.
pub const SLOW_CAKE_RTT: [(f64, u32); 4] = [(1.0, 300), (2.0, 180), (3.0, 140), (4.0, 120)];

/// A leaf spec and, when it is CAKE without an `rtt` of its own, its slow-circuit variants
/// (one per [`SLOW_CAKE_RTT`] entry). Allocated once, shared by every class that uses them.
struct Leaf {
    spec: Arc<str>,
    slow: Option<Vec<Arc<str>>>,
}

impl Leaf {
    fn new(spec: &str) -> Leaf {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let cake = words.first() == Some(&"cake") && !words.contains(&"rtt");
        Leaf {
            spec: spec.into(),
            slow: cake.then(|| {
                SLOW_CAKE_RTT
                    .iter()
                    .map(|(_, ms)| format!("{spec} rtt {ms}ms").into())
                    .collect()
            }),
        }
    }

    /// The spec for a circuit whose maximum in this direction is `max_mbps`.
    fn for_rate(&self, max_mbps: f64) -> Arc<str> {
        let slow = self.slow.as_ref().and_then(|variants| {
            SLOW_CAKE_RTT
                .iter()
                .position(|(bound, _)| max_mbps <= *bound)
                .and_then(|i| variants.get(i))
        });
        slow.unwrap_or(&self.spec).clone()
    }
}

pub(super) struct Leaves {
    cake: Leaf,
    fq_codel: Arc<str>,
    /// `None`: `default_sqm = "none"` (HTB's own default leaf).
    default: Option<Leaf>,
}

impl Leaves {
    pub(super) fn new(config: &Config) -> Self {
        let d = &config.queues.default_sqm;
        Leaves {
            cake: Leaf::new("cake diffserv4"),
            fq_codel: "fq_codel".into(),
            default: (!d.eq_ignore_ascii_case("none")).then(|| Leaf::new(d)),
        }
    }

    /// The circuit's leaf qdisc in a direction (`None`: HTB's default leaf).
    pub(super) fn pick(
        &self,
        circuit: &Circuit,
        dir: Direction,
        config: &Config,
    ) -> Option<Arc<str>> {
        let (kind, max) = match dir {
            Direction::Download => (circuit.sqm.and_then(|s| s.download), circuit.download_max),
            Direction::Upload => (circuit.sqm.and_then(|s| s.upload), circuit.upload_max),
        };
        match kind {
            Some(SqmKind::Cake) => Some(self.cake.for_rate(max)),
            Some(SqmKind::FqCodel) => Some(self.fq_codel.clone()),
            Some(SqmKind::None) => None,
            None if config.queues.fast_queues_fq_codel.is_some_and(|t| max >= t) => {
                Some(self.fq_codel.clone())
            }
            None => self.default.as_ref().map(|d| d.for_rate(max)),
        }
    }
}
