//! Flow telemetry end to end: the real lqosd reading the kernel flow table while iperf3 and
//! hand-made packets cross the shaper, checked through the operator CLI's JSON contract
//! (`lqos flows --json`, `lqos circuit ID --json`) and the pinned maps themselves.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::packets::{send_udp, Udp};
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER, INET_V4};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::time::Duration;

const SUB: &str = "100.64.1.20";

/// A shaped bed with one 50/20 Mbit/s circuit at [`SUB`], lqosd running with `flows` as the
/// `[flows]` table.
fn bed(label: &str, flows: &str) -> Result<Testbed> {
    let mut tb = Testbed::new(label)?;
    tb.add_subscriber_addr(&format!("{SUB}/16"))?;
    let rows = device_row("C1", "Site", SUB, "", 50.0, 20.0);
    tb.write_inputs(
        NET,
        &format!("{CSV_HEADER}{rows}"),
        &format!("[flows]\n{flows}\n"),
    )?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    Ok(tb)
}

fn json(tb: &Testbed, args: &[&str]) -> Result<Value> {
    let text = lqos(tb, args)?;
    serde_json::from_str(&text).with_context(|| format!("lqos {args:?} printed {text}"))
}

fn flows(tb: &Testbed) -> Result<Vec<Value>> {
    Ok(json(tb, &["flows", "--json"])?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Entries in the kernel's flow table (the pinned map).
fn kernel_flows(tb: &Testbed) -> Result<usize> {
    let pin = tb.bpffs.join("pins").join(lqos_ebpf::MAP_FLOWS);
    let map = aya::maps::MapData::from_pin(&pin).with_context(|| pin.display().to_string())?;
    let map: aya::maps::HashMap<_, lqos_ebpf::LqosFlowKey, lqos_ebpf::LqosFlow> =
        aya::maps::HashMap::try_from(aya::maps::Map::HashMap(map))?;
    Ok(map.keys().filter(Result::is_ok).count())
}

/// Download packets XDP saw without a mapping (the `lqos_unknown` XDP slot, all CPUs).
fn xdp_unknown_packets_down(tb: &Testbed) -> Result<u64> {
    let pin = tb.bpffs.join("pins").join(lqos_ebpf::MAP_UNKNOWN);
    let map = aya::maps::MapData::from_pin(&pin).with_context(|| pin.display().to_string())?;
    let map: aya::maps::PerCpuArray<_, lqos_ebpf::LqosHostCounters> =
        aya::maps::PerCpuArray::try_from(aya::maps::Map::PerCpuArray(map))?;
    let values = map.get(&lqos_ebpf::UNKNOWN_XDP, 0)?;
    Ok(values.iter().map(|c| c.packets_down).sum())
}

fn tcp_flow_to_iperf(flows: &[Value]) -> Option<&Value> {
    flows.iter().find(|f| {
        f["proto"] == "tcp"
            && f["remote"]
                .as_str()
                .is_some_and(|r| r.starts_with(&format!("{INET_V4}:")))
            && f["bytes_down"].as_u64().unwrap_or(0) > 100_000
    })
}

#[test]
fn a_flow_appears_counted_both_ways_ends_on_fin_and_ages_out() -> Result<()> {
    require_root();
    let _one = serial();
    let tb = bed("flow-life", "flow_timeout_seconds = 3")?;
    let started = std::time::Instant::now();
    let flow = tb.start_flow(SUB, false, 6)?;
    let mut seen = None;
    ensure!(
        wait_until(Duration::from_secs(10), || {
            let f = flows(&tb)?;
            seen = tcp_flow_to_iperf(&f).cloned();
            Ok(seen.is_some())
        })?,
        "no TCP flow from {INET_V4} in `lqos flows --json` within 10 s: {:?}",
        flows(&tb)?
    );
    let f = seen.context("seen")?;
    eprintln!("flow seen after {:?}: {f}", started.elapsed());
    ensure!(
        f["bytes_up"].as_u64().unwrap_or(0) > 0,
        "ACKs count up: {f}"
    );
    ensure!(f["rate_down_bps"].as_u64().unwrap_or(0) > 1_000_000, "{f}");
    for key in [
        "remote",
        "proto",
        "bytes_down",
        "bytes_up",
        "rtt_ms",
        "retransmits",
    ] {
        ensure!(f.get(key).is_some(), "member {key} missing: {f}");
    }
    flow.finish()?;
    // iperf3 closes with FIN: the flow leaves the active list at the next passes.
    ensure!(
        wait_until(Duration::from_secs(5), || Ok(tcp_flow_to_iperf(&flows(
            &tb
        )?)
        .is_none()))?,
        "the finished flow is still listed: {:?}",
        flows(&tb)?
    );
    // A UDP flow without an end ages out after flow_timeout_seconds (3 s).
    let sub: Ipv4Addr = SUB.parse()?;
    let inet: Ipv4Addr = INET_V4.parse()?;
    send_udp(
        &tb.subs,
        vec![
            Udp {
                src: sub,
                sport: 40000,
                dst: inet,
                dport: 9
            };
            20
        ],
    )?;
    let udp = |f: &Vec<Value>| {
        f.iter()
            .any(|x| x["proto"] == "udp" && x["remote"] == format!("{INET_V4}:9"))
    };
    ensure!(
        wait_until(Duration::from_secs(5), || Ok(udp(&flows(&tb)?)))?,
        "the UDP flow did not appear"
    );
    let t = std::time::Instant::now();
    ensure!(
        wait_until(Duration::from_secs(8), || Ok(!udp(&flows(&tb)?)))?,
        "the idle UDP flow did not age out"
    );
    eprintln!("UDP flow aged out {:?} after it was listed", t.elapsed());
    ensure!(
        wait_until(Duration::from_secs(5), || Ok(kernel_flows(&tb)? == 0))?,
        "lqosd did not delete the ended flows from the kernel table ({} left)",
        kernel_flows(&tb)?
    );
    Ok(())
}

#[test]
fn the_circuit_json_holds_the_contract_members_with_live_figures() -> Result<()> {
    require_root();
    let _one = serial();
    let tb = bed("circuit-json", "")?;
    let flow = tb.start_flow(SUB, false, 6)?;
    let mut last = Value::Null;
    ensure!(
        wait_until(Duration::from_secs(10), || {
            last = json(&tb, &["circuit", "C1", "--json"])?;
            Ok(last["flows"].as_u64().unwrap_or(0) >= 1
                && last["queue"]["down"]["sent_bytes"].as_u64().unwrap_or(0) > 100_000)
        })?,
        "no live flow or queue figures within 10 s: {last:#}"
    );
    flow.finish()?;
    let c = json(&tb, &["circuit", "C1", "--json"])?;
    for side in ["internet", "subscriber"] {
        let s = &c["rtt"][side];
        for key in ["p50_ms", "p90_ms"] {
            ensure!(
                s[key].is_null() || s[key].is_number(),
                "rtt.{side}.{key}: {c:#}"
            );
        }
        ensure!(s["samples"].is_u64(), "rtt.{side}.samples: {c:#}");
    }
    // A download flow's data goes down: its subscriber side takes samples (the veths' RTT
    // is tiny, but a sample is a sample).
    ensure!(
        c["rtt"]["subscriber"]["samples"].as_u64().unwrap_or(0) > 0,
        "no subscriber-side RTT sample from a 6 s download: {c:#}"
    );
    for dir in ["down", "up"] {
        ensure!(
            c["retransmits"][dir].is_number(),
            "retransmits.{dir}: {c:#}"
        );
        for key in ["drops", "backlog_bytes", "sent_bytes"] {
            ensure!(c["queue"][dir][key].is_u64(), "queue.{dir}.{key}: {c:#}");
        }
    }
    ensure!(c["queue"]["down"]["leaf"] == "pfifo", "{c:#}");
    ensure!(
        c["plan"]["download"]["ceil_mbps"].as_f64() == Some(50.0),
        "{c:#}"
    );
    ensure!(c["flows"].is_u64(), "{c:#}");
    // The text form names the same things.
    let text = lqos(&tb, &["circuit", "C1"])?;
    for word in ["RTT", "retransmits", "QoO", "queues", "active flows"] {
        ensure!(
            text.contains(word),
            "`lqos circuit C1` lacks {word}: {text}"
        );
    }
    Ok(())
}

#[test]
fn a_scan_of_100k_unmapped_addresses_inserts_nothing() -> Result<()> {
    require_root();
    let tb = bed("scan", "")?;
    // Route a private range nobody maps through a subscriber-side address: the scan crosses
    // the shaper (download direction) and dies on the subscribers' host.
    tb.inet
        .run("ip", &["route", "add", "100.96.0.0/12", "via", SUB])?;
    let inet: Ipv4Addr = INET_V4.parse()?;
    let base = u32::from(Ipv4Addr::new(100, 96, 0, 0));
    let scan: Vec<Udp> = (0..100_000u32)
        .map(|i| Udp {
            src: inet,
            sport: 50000,
            dst: Ipv4Addr::from(base + i),
            dport: 80 + (i % 1000) as u16,
        })
        .collect();
    let sent = send_udp(&tb.inet, scan)?;
    ensure!(sent == 100_000, "sent {sent}");
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        kernel_flows(&tb)? == 0,
        "{} flows inserted by a scan",
        kernel_flows(&tb)?
    );
    ensure!(flows(&tb)?.is_empty(), "{:?}", flows(&tb)?);
    // The scan did cross the shaper: XDP counted it as unmapped download traffic.
    let crossed = xdp_unknown_packets_down(&tb)?;
    ensure!(
        crossed >= 100_000,
        "XDP saw only {crossed} unmapped download packets"
    );
    Ok(())
}

#[test]
fn a_flood_beyond_max_flows_counts_insert_failures_and_keeps_shaping() -> Result<()> {
    require_root();
    let _one = serial();
    let tb = bed("flood", "max_flows = 1024")?;
    let flow = tb.start_flow(SUB, false, 8)?;
    ensure!(
        wait_until(Duration::from_secs(10), || Ok(tcp_flow_to_iperf(&flows(
            &tb
        )?)
        .is_some()))?,
        "the iperf3 flow is not tracked"
    );
    let before = tcp_flow_to_iperf(&flows(&tb)?).cloned().context("flow")?;
    let sub: Ipv4Addr = SUB.parse()?;
    let inet: Ipv4Addr = INET_V4.parse()?;
    let flood: Vec<Udp> = (0..3000u16)
        .map(|i| Udp {
            src: sub,
            sport: 10000 + i,
            dst: inet,
            dport: 9,
        })
        .collect();
    send_udp(&tb.subs, flood)?;
    std::thread::sleep(Duration::from_secs(2));
    let table = kernel_flows(&tb)?;
    ensure!(
        table <= 1024,
        "the table holds {table} flows, more than max_flows"
    );
    let metrics = lqos_e2e::bed::metrics(&tb)?;
    let failed = metric(&metrics, "lqos_flow_insert_failures_total").context("metric")?;
    ensure!(failed >= 1900.0, "insert failures {failed}: {metrics}");
    // The flow that was there before keeps counting.
    let after = tcp_flow_to_iperf(&flows(&tb)?)
        .cloned()
        .context("the old flow vanished")?;
    ensure!(
        after["bytes_down"].as_u64() > before["bytes_down"].as_u64(),
        "the old flow stopped counting: {before} -> {after}"
    );
    // And shaping held: the download stayed at its plan.
    let mbps = flow.finish()?.wire_mbps();
    ensure!(
        within(mbps, 50.0, 0.1),
        "download {mbps:.1} Mbit/s during the flood, plan 50"
    );
    Ok(())
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .next()
}
