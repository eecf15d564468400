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
            for i in &r.integrations {
                let busy = i.busy_ms_last_hour as f64 / 36_000.0;
                writeln!(
                    out,
                    "  integration {}: {} ({} imported, {} skipped; last run {} ms; busy {busy:.2}% of the last hour)",
                    i.name,
                    if i.ok { "ok" } else { i.result.as_str() },
                    i.imported,
                    i.skipped,
                    i.last_duration_ms.unwrap_or(0)
                )?;
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

/// The fleet section of `lqos status` (`[fleet]` in lqos.conf).
pub fn fleet(
    out: &mut impl Write,
    view: Option<&lqos_config::fleet_status::FleetStatus>,
    now_ms: u64,
) -> io::Result<()> {
    let Some(v) = view else {
        return writeln!(
            out,
            "fleet: no status yet (is `lqos-scheduler run` running? it writes state_directory/fleet/status.json)"
        );
    };
    let age = now_ms.saturating_sub(v.updated_unix_ms) / 1000;
    let etcd = if v.etcd == "ok" {
        "etcd ok".to_owned()
    } else {
        format!(
            "ETCD UNREACHABLE ({}): shaping stays on the last applied plan",
            v.etcd
        )
    };
    writeln!(out, "fleet: box {}, {etcd} (seen {age} s ago)", v.me.name)?;
    if v.etcd != "ok" && v.seen_unix_ms > 0 {
        let seen = now_ms.saturating_sub(v.seen_unix_ms) / 1000;
        writeln!(out, "  as last seen in etcd {seen} s ago:")?;
    }
    match &v.leader {
        Some(l) => writeln!(out, "  leader: {} (token {})", l.name, l.token)?,
        None => writeln!(out, "  leader: NONE (no box leads: nothing is published)")?,
    }
    if let Some(m) = &v.manifest {
        writeln!(
            out,
            "  latest publication: token {} generation {} by {} ({} bytes in etcd)",
            m.token, m.generation, m.publisher, m.compressed
        )?;
    }
    for b in &v.boxes {
        let applied = match (b.applied_token, b.applied_generation) {
            (Some(t), Some(g)) => format!("token {t} generation {g}"),
            _ => "nothing applied".into(),
        };
        let lag = v.lag(b).map_or(String::new(), |l| format!(", lag {l}"));
        let share = match &b.standby_of {
            Some(p) => format!("standby of {p}: {}", b.share.join(", ")),
            None => b.share.join(", "),
        };
        writeln!(
            out,
            "  {}{}: share [{share}], applied {applied}{lag}, {}",
            b.name,
            if b.leader { " (leader)" } else { "" },
            b.health
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lqos_config::fleet_status::{BoxStatus, FleetStatus, LeaderStatus};

    fn shown(v: &FleetStatus) -> String {
        let mut out = Vec::new();
        super::fleet(&mut out, Some(v), 20_000).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_fleet_section_marks_what_is_as_last_seen_while_etcd_is_unreachable() {
        let me = BoxStatus {
            name: "b".into(),
            share: vec!["SiteB".into()],
            applied_token: Some(7),
            applied_generation: Some(3),
            health: "etcd: no leader".into(),
            ..Default::default()
        };
        let v = FleetStatus {
            updated_unix_ms: 19_000,
            seen_unix_ms: 12_000,
            me: me.clone(),
            etcd: "no leader".into(),
            leader: Some(LeaderStatus {
                name: "a".into(),
                token: 7,
            }),
            manifest: None,
            boxes: vec![me],
        };
        let text = shown(&v);
        assert!(
            text.starts_with("fleet: box b, ETCD UNREACHABLE (no leader)"),
            "{text}"
        );
        assert!(
            text.contains("  as last seen in etcd 8 s ago:\n  leader: a (token 7)\n"),
            "{text}"
        );
        assert!(
            text.contains("  b: share [SiteB], applied token 7 generation 3, etcd: no leader"),
            "{text}"
        );
        let ok = FleetStatus {
            etcd: "ok".into(),
            seen_unix_ms: 19_000,
            ..v
        };
        assert!(!shown(&ok).contains("as last seen"));
    }
}
