//! The telemetry part of `/metrics`: aggregates only (RTT histograms per side across all
//! circuits, flows tracked, the kernel flow table's fill and insert failures, queue drops),
//! never a series per circuit or per flow.

use crate::telemetry::TelemetryHub;
use lqos_ebpf::{RTT_BUCKETS, RTT_EDGES_US, RTT_INTERNET, RTT_SUBSCRIBER};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// One side's histogram: label, sum (seconds), count, (upper bound, count) per bucket.
type SideHistogram = (&'static str, f64, u64, Vec<(f64, u64)>);

/// Fixed histograms (already counted), one per `side` label.
#[derive(Debug)]
struct SideHistograms(Vec<SideHistogram>);

impl EncodeMetric for SideHistograms {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (side, sum, count, buckets) in &self.0 {
            let labels = vec![("side".to_owned(), (*side).to_owned())];
            encoder
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn counter(r: &mut Registry, name: &str, help: &str, v: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(v);
    r.register(name, help, c);
}

fn gauge(r: &mut Registry, name: &str, help: &str, v: u64) {
    let g = Gauge::<i64>::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    r.register(name, help, g);
}

/// Adds the telemetry metrics to `r`.
pub fn register(r: &mut Registry, hub: &TelemetryHub) {
    let s = hub.read();
    let k = s.kernel;
    let totals = s.telemetry.rtt().totals();
    let sides = [("internet", RTT_INTERNET), ("subscriber", RTT_SUBSCRIBER)]
        .into_iter()
        .map(|(name, side)| {
            let cells = side * RTT_BUCKETS..(side + 1) * RTT_BUCKETS;
            let sum_us: u64 = totals.sum_us[cells.clone()].iter().sum();
            let counts = &totals.count[cells];
            let buckets = counts
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let le = RTT_EDGES_US
                        .get(i)
                        .map_or(f64::MAX, |us| f64::from(*us) / 1e6);
                    (le, *c)
                })
                .collect();
            (name, sum_us as f64 / 1e6, counts.iter().sum(), buckets)
        })
        .collect();
    r.register(
        "rtt_seconds",
        "Passive TCP round-trip times across all circuits: internet (up data, the remote ACK) and subscriber (down data, the subscriber's ACK) sides",
        SideHistograms(sides),
    );
    gauge(
        r,
        "flows_tracked",
        "Active flows lqosd tracks",
        s.telemetry.flows().len() as u64,
    );
    counter(
        r,
        "flows_dropped",
        "Flows lqosd did not track because it held [flows] max_tracked already",
        s.telemetry.flows().dropped(),
    );
    gauge(
        r,
        "flow_table_entries",
        "Entries in the kernel flow table",
        k.entries,
    );
    gauge(
        r,
        "flow_table_capacity",
        "Size of the kernel flow table ([flows] max_flows)",
        k.capacity,
    );
    counter(
        r,
        "flow_inserts",
        "Flows the kernel started tracking",
        k.inserts,
    );
    counter(
        r,
        "flow_insert_failures",
        "New flows the kernel could not track because its flow table was full",
        k.insert_failed,
    );
    counter(
        r,
        "rtt_samples",
        "RTT samples the kernel took",
        k.rtt_samples,
    );
    gauge(
        r,
        "flow_read_cpu_microseconds",
        "CPU time of lqosd's last pass over the kernel flow table",
        k.pass_cpu_us,
    );
    let drops = Family::<Labels, Counter>::default();
    let queue_drops = hub.queues().drops;
    for (dir, v) in [("down", queue_drops[0]), ("up", queue_drops[1])] {
        drops
            .get_or_create(&vec![("direction".to_owned(), dir.to_owned())])
            .inc_by(v);
    }
    r.register(
        "queue_drops",
        "Packets dropped by the circuits' queues",
        drops,
    );
}
