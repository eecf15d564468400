//! How answers are printed.

use lqos_bus::{
    IpLookup, IssueEntry, IssueSeverity, Rate, SchedulerReport, StatusReport, ThroughputReport,
};
use std::io::{self, Write};
use std::net::IpAddr;

pub fn status(
    out: &mut impl Write,
    s: &StatusReport,
    scheduler: Option<&(SchedulerReport, u64)>,
) -> io::Result<()> {
    match s.applied_generation {
        Some(g) => writeln!(
            out,
            "shaper: {} circuits, {} prefixes mapped, generation {g} (hash {})",
            s.circuits,
            s.mapped_ips,
            s.plan_hash.as_deref().unwrap_or("?")
        )?,
        None => writeln!(out, "shaper: attached, no plan applied yet")?,
    }
    writeln!(out, "lqosd up {} s", s.uptime_secs)?;
    if let Some(l) = &s.lazy {
        let expiry = l.expire_secs.map_or("never collapse".to_owned(), |e| {
            format!("collapse after {e} s idle")
        });
        writeln!(
            out,
            "lazy queues {}: {} of {} circuits built ({} built, {} collapsed since start; {expiry})",
            l.mode, l.built, s.circuits, l.activations, l.collapses
        )?;
    }
    for q in &s.classes_per_queue {
        writeln!(
            out,
            "  {} htb {:x}: {} classes",
            q.interface, q.major, q.classes
        )?;
    }
    match scheduler {
        None => writeln!(
            out,
            "scheduler: never reported (is lqos_scheduler running?)"
        )?,
        Some((r, age)) => {
            let stale = if *age > 60 {
                " (STALE: no heartbeat for over a minute)"
            } else {
                ""
            };
            let step = if r.step.is_empty() {
                String::new()
            } else {
                format!(": step {}, {}% done", r.step, r.percent)
            };
            writeln!(
                out,
                "scheduler: {}{step} (reported {age} s ago){stale}",
                r.phase
            )?;
            if let Some(e) = &r.last_error {
                writeln!(
                    out,
                    "  last refresh FAILED ({} in a row): {}",
                    r.consecutive_failures,
                    e.replace('\n', "\n    ")
                )?;
            }
            if let Some(ms) = r.last_duration_ms {
                writeln!(out, "  last refresh took {ms} ms")?;
            }
        }
    }
    Ok(())
}

pub fn issues(out: &mut impl Write, list: &[IssueEntry]) -> io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "no urgent issues");
    }
    for e in list {
        let sev = match e.issue.severity {
            IssueSeverity::Error => "ERROR",
            IssueSeverity::Warning => "warning",
        };
        let acked = if e.acknowledged {
            " (acknowledged)"
        } else {
            ""
        };
        writeln!(
            out,
            "#{} {sev} {}/{} x{}{acked}: {}",
            e.id, e.issue.source, e.issue.code, e.count, e.issue.message
        )?;
        for line in e.issue.context.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

pub fn lookup(out: &mut impl Write, addr: IpAddr, l: &IpLookup) -> io::Result<()> {
    writeln!(
        out,
        "{addr}: circuit {} via {}, cpu {}, download class {}, upload class {}",
        l.circuit_id, l.prefix, l.cpu, l.download, l.upload
    )
}

fn mbps(bps: u64) -> String {
    format!("{:.1} Mbit/s", bps as f64 / 1e6)
}

pub fn throughput(out: &mut impl Write, t: &ThroughputReport) -> io::Result<()> {
    if t.sampled_unix == 0 {
        return writeln!(
            out,
            "no sample yet (lqosd samples its counters every second)"
        );
    }
    writeln!(
        out,
        "total: down {}, up {} ({} active hosts); unknown addresses: down {}, up {}",
        mbps(t.down_bps),
        mbps(t.up_bps),
        t.active_hosts,
        mbps(t.unknown_down_bps),
        mbps(t.unknown_up_bps)
    )?;
    let list = |out: &mut dyn Write, title: &str, v: &[Rate], down: bool| -> io::Result<()> {
        writeln!(out, "{title}:")?;
        for r in v {
            let c = match (
                &r.circuit_id,
                r.name == r.circuit_id.clone().unwrap_or_default(),
            ) {
                (Some(c), false) => format!(" (circuit {c})"),
                _ => String::new(),
            };
            writeln!(
                out,
                "  {:>14}  {}{c}",
                mbps(if down { r.down_bps } else { r.up_bps }),
                r.name
            )?;
        }
        Ok(())
    };
    list(out, "top hosts by download", &t.top_hosts_down, true)?;
    list(out, "top hosts by upload", &t.top_hosts_up, false)?;
    list(out, "top circuits by download", &t.top_circuits_down, true)?;
    list(out, "top circuits by upload", &t.top_circuits_up, false)
}

pub fn circuit(out: &mut impl Write, r: &Rate) -> io::Result<()> {
    writeln!(
        out,
        "circuit {}: down {}, up {}",
        r.name,
        mbps(r.down_bps),
        mbps(r.up_bps)
    )
}
