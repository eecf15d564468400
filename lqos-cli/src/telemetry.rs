//! `lqos circuit` and `lqos flows`: a circuit's plan, rate and telemetry, and active flows, as
//! text or as JSON (`--json`, the contract scripts and tests rely on: docs/telemetry.md).

use lqos_bus::{CircuitReport, FlowsReport};
use lqos_telemetry::view::{FlowView, QueueDirView, RttSideView};
use std::io::{self, Write};

/// `lqos circuit ID --json`: the telemetry's members (`rtt`, `retransmits`, `flows`, `qoo`,
/// `top_flows`, `queue`) at the top level, beside `circuit_id`, `plan` and `rate`.
pub fn circuit_json(r: &CircuitReport) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(&r.telemetry)?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("circuit_id".into(), r.circuit_id.clone().into());
        obj.insert(
            "plan".into(),
            serde_json::json!({
                "prefixes": r.prefixes,
                "cpu": r.cpu,
                "download": r.download,
                "upload": r.upload,
            }),
        );
        obj.insert(
            "rate".into(),
            serde_json::json!({ "down_bps": r.down_bps, "up_bps": r.up_bps }),
        );
    }
    Ok(v)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} ms"))
}

fn mbps(bps: u64) -> String {
    format!("{:.2} Mbit/s", bps as f64 / 1e6)
}

fn rtt_line(out: &mut impl Write, side: &str, r: &RttSideView) -> io::Result<()> {
    writeln!(
        out,
        "  {side:<11} p50 {:>9}  p90 {:>9}  ({} samples in 10 s; 5 min: p50 {}, p90 {}, {} samples)",
        ms(r.p50_ms),
        ms(r.p90_ms),
        r.samples,
        ms(r.p50_5m_ms),
        ms(r.p90_5m_ms),
        r.samples_5m
    )
}

fn queue_line(out: &mut impl Write, dir: &str, q: &QueueDirView) -> io::Result<()> {
    let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    writeln!(
        out,
        "  {dir:<5} {} sent {} B / {} pkts, drops {}, overlimits {}, backlog {} B ({} pkts), ECN marks {}, ACK drops {}, delay peak {} base {} us",
        q.leaf,
        q.sent_bytes,
        q.sent_packets,
        q.drops,
        q.overlimits,
        q.backlog_bytes,
        q.qlen,
        opt(q.ecn_marks),
        opt(q.ack_drops),
        opt(q.peak_delay_us),
        opt(q.base_delay_us),
    )
}

/// `lqos circuit ID`.
pub fn circuit(out: &mut impl Write, r: &CircuitReport) -> io::Result<()> {
    let t = &r.telemetry;
    writeln!(out, "circuit {} on CPU {}", r.circuit_id, r.cpu)?;
    writeln!(out, "  prefixes: {}", r.prefixes.join(", "))?;
    for (dir, c) in [("down", &r.download), ("up", &r.upload)] {
        writeln!(
            out,
            "  {dir:<5} class {} (parent {}), rate {} Mbit/s, ceil {} Mbit/s, leaf {}",
            c.classid,
            c.parent.as_deref().unwrap_or("-"),
            c.rate_mbps,
            c.ceil_mbps,
            c.leaf.as_deref().unwrap_or("(not built: lazy)")
        )?;
    }
    writeln!(
        out,
        "live: down {}, up {}",
        mbps(r.down_bps),
        mbps(r.up_bps)
    )?;
    writeln!(
        out,
        "RTT (percentiles: mean of the samples in the bucket holding the rank):"
    )?;
    rtt_line(out, "internet", &t.rtt.internet)?;
    rtt_line(out, "subscriber", &t.rtt.subscriber)?;
    let gate = |significant: bool| {
        if significant {
            ""
        } else {
            " (too few packets to judge)"
        }
    };
    writeln!(
        out,
        "retransmits (10 s): down {:.2}% of {} TCP packets{}, up {:.2}% of {}{}",
        t.retransmits.down,
        t.retransmits.down_packets,
        gate(t.retransmits.significant_down),
        t.retransmits.up,
        t.retransmits.up_packets,
        gate(t.retransmits.significant_up)
    )?;
    let score = |s: Option<u8>| s.map_or("-".into(), |s| s.to_string());
    if t.qoo.excluded {
        writeln!(out, "QoO: excluded by [flows] qoo_exclude_circuits")?;
    } else {
        writeln!(
            out,
            "QoO ({}): {} (internet {}, subscriber {})",
            t.qoo.profile,
            score(t.qoo.score),
            score(t.qoo.internet),
            score(t.qoo.subscriber)
        )?;
    }
    writeln!(out, "queues:")?;
    queue_line(out, "down", &t.queue.down)?;
    queue_line(out, "up", &t.queue.up)?;
    writeln!(out, "active flows: {}", t.flows)?;
    if !t.top_flows.is_empty() {
        flows_table(out, &t.top_flows)?;
    }
    Ok(())
}

/// `lqos flows`.
pub fn flows(out: &mut impl Write, r: &FlowsReport) -> io::Result<()> {
    writeln!(out, "{} active flows", r.total)?;
    if !r.flows.is_empty() {
        flows_table(out, &r.flows)?;
    }
    if (r.flows.len() as u64) < r.total {
        writeln!(
            out,
            "({} more; --limit N shows more)",
            r.total - r.flows.len() as u64
        )?;
    }
    Ok(())
}

/// "AS64501 Exemple Vidéo CDN, SAS (FR)", "-" when nothing is known.
fn remote_network(f: &FlowView) -> String {
    let asn = match (f.asn, &f.asn_name) {
        (0, _) => String::new(),
        (n, Some(name)) => format!("AS{n} {name}"),
        (n, None) => format!("AS{n}"),
    };
    match (asn.is_empty(), &f.country) {
        (true, None) => "-".to_string(),
        (true, Some(c)) => c.clone(),
        (false, None) => asn,
        (false, Some(c)) => format!("{asn} ({c})"),
    }
}

fn flows_table(out: &mut impl Write, flows: &[FlowView]) -> io::Result<()> {
    writeln!(
        out,
        "  {:<6} {:<42} {:<42} {:>14} {:>14} {:>12} {:>12} {:>10} {:>7}  ASN / country",
        "proto", "remote", "local", "down", "up", "bytes down", "bytes up", "RTT", "retrans"
    )?;
    for f in flows {
        writeln!(
            out,
            "  {:<6} {:<42} {:<42} {:>14} {:>14} {:>12} {:>12} {:>10} {:>7}  {}",
            f.proto,
            f.remote,
            f.local,
            mbps(f.rate_down_bps),
            mbps(f.rate_up_bps),
            f.bytes_down,
            f.bytes_up,
            ms(f.rtt_ms),
            f.retransmits,
            remote_network(f)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod remote_network_tests {
    use super::*;

    #[test]
    fn the_flows_table_names_the_remote_network() {
        let mut f = FlowView::default();
        assert_eq!(remote_network(&f), "-");
        f.country = Some("FR".into());
        assert_eq!(remote_network(&f), "FR");
        f.asn = 64501;
        assert_eq!(remote_network(&f), "AS64501 (FR)");
        f.asn_name = Some("Exemple Vidéo CDN, SAS".into());
        assert_eq!(remote_network(&f), "AS64501 Exemple Vidéo CDN, SAS (FR)");
        let mut out = Vec::new();
        flows_table(&mut out, &[f]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().next().unwrap().ends_with("ASN / country"));
        assert!(text.contains("AS64501 Exemple Vidéo CDN, SAS (FR)"));
    }
}
