//! lqosd reading the kernel flow table: the real lqosd on a shaper with 1,000 circuits, the
//! pinned `lqos_flows` filled with 100,000 active flows (kept fresh: a tenth of them move each
//! second, so every flow is seen every 10 s and none idles out). Prints lqosd's CPU per
//! second (the flow reader's own pass, from /metrics, and the whole process, from
//! /proc/PID/stat) and its RSS before and with the flows. Needs root and release binaries:
//!
//! ```text
//! cargo build --release --bins && cargo bench -p lqos-e2e --bench flow_reader
//! ```
//! `LQOS_BENCH_FLOWS` (default 100000).

use anyhow::{ensure, Context, Result};
use aya::maps::{HashMap as BpfHashMap, Map, MapData};
use lqos_e2e::bed::metrics;
use lqos_e2e::require_root;
use lqos_e2e::testbed::Testbed;
use lqos_ebpf::{LqosFlow, LqosFlowDir, LqosFlowKey, MAP_FLOWS};
use std::time::{Duration, Instant};

fn monotonic_ns() -> u64 {
    // SAFETY: a zeroed timespec filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn proc_field(pid: u32, key: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = text.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn flow(i: u32, circuits: u32, now: u64, tick: u64) -> (LqosFlowKey, LqosFlow) {
    let mut key = LqosFlowKey::default();
    key.remote[10] = 0xff;
    key.remote[11] = 0xff;
    key.remote[12..16].copy_from_slice(&[100, 65, (i >> 8) as u8, i as u8]);
    key.local[10] = 0xff;
    key.local[11] = 0xff;
    key.local[12..16].copy_from_slice(&[100, 64, 1, (i % 250) as u8 + 1]);
    key.remote_port = 443u16.to_be();
    key.local_port = (10000 + (i % 50000) as u16).to_be();
    key.proto = 6;
    let dir = |bytes: u64| LqosFlowDir {
        bytes,
        packets: (bytes / 1000) as u32,
        ..LqosFlowDir::default()
    };
    let value = LqosFlow {
        first_seen_ns: now - 60_000_000_000,
        last_seen_ns: now,
        circuit: 1 + i % circuits,
        dir: [dir(tick * 150_000 + u64::from(i)), dir(tick * 5_000)],
        ..LqosFlow::default()
    };
    (key, value)
}

fn main() -> Result<()> {
    require_root();
    let flows: u32 = std::env::var("LQOS_BENCH_FLOWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let circuits = 1000u32;
    let mut tb = Testbed::new("flowbench")?;
    let generated = lqos_gen::generate(&lqos_gen::GenSpec::new(circuits as usize));
    tb.write_inputs(
        &generated.network_json,
        &lqos_e2e::shaped_csv::without_sqm(&generated.shaped_devices_csv)?,
        &format!("[flows]\nmax_flows = {}\n", (flows * 2).max(131_072)),
    )?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    let pid = tb.lqosd_pid().context("lqosd pid")?;
    std::thread::sleep(Duration::from_secs(3));
    let rss_before = proc_field(pid, "VmRSS:")?;
    let pin = tb.bpffs.join("pins").join(MAP_FLOWS);
    let mut map: BpfHashMap<_, LqosFlowKey, LqosFlow> =
        BpfHashMap::try_from(Map::HashMap(MapData::from_pin(&pin)?))?;
    // Writes flows `range`: their counters move and they were just seen.
    let fill = |map: &mut BpfHashMap<MapData, LqosFlowKey, LqosFlow>,
                range: std::ops::Range<u32>,
                tick: u64|
     -> Result<()> {
        let now = monotonic_ns();
        for i in range {
            let (k, v) = flow(i, circuits, now, tick);
            map.insert(k, v, 0)?;
        }
        Ok(())
    };
    let started = Instant::now();
    fill(&mut map, 0..flows, 1)?;
    println!(
        "{flows} flows written into the pinned {MAP_FLOWS} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // Let lqosd take them in, then measure over 10 s while the flows keep moving.
    std::thread::sleep(Duration::from_secs(3));
    let (mut pass_us, mut wall_us) = (Vec::new(), Vec::new());
    let ticks_before = cpu_ticks(pid)?;
    let t0 = Instant::now();
    let mut filling = Duration::ZERO;
    // A tenth of the flows move each second, so every flow is seen every 10 s (idle timeout
    // 30 s): all stay active, and the bench's own syscalls stay small beside lqosd's work.
    let tenth = flows.div_ceil(10);
    for tick in 2..22u64 {
        let f = Instant::now();
        let start = (tick as u32 % 10) * tenth;
        fill(&mut map, start..(start + tenth).min(flows), tick)?;
        filling += f.elapsed();
        std::thread::sleep(Duration::from_secs(1).saturating_sub(f.elapsed()));
        let m = metrics(&tb)?;
        let tracked = metric(&m, "lqos_flows_tracked").unwrap_or(0.0);
        ensure!(
            tracked >= f64::from(flows) * 0.99,
            "lqosd tracks {tracked} flows: {m}"
        );
        pass_us.push(metric(&m, "lqos_flow_read_cpu_microseconds").unwrap_or(f64::NAN));
        wall_us.push(tracked);
    }
    let secs = t0.elapsed().as_secs_f64();
    let ticks = cpu_ticks(pid)? - ticks_before;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let rss_with = proc_field(pid, "VmRSS:")?;
    let hwm = proc_field(pid, "VmHWM:")?;
    println!(
        "flow reader pass (CPU of its thread, from /metrics): median {:.1} ms per second over {} passes (min {:.1}, max {:.1})",
        median(pass_us.clone()) / 1e3,
        pass_us.len(),
        pass_us.iter().cloned().fold(f64::MAX, f64::min) / 1e3,
        pass_us.iter().cloned().fold(0.0, f64::max) / 1e3,
    );
    println!(
        "lqosd process CPU: {:.1} ms per second over {secs:.1} s (all threads: flow and queue readers, counters, WebUI ticker)",
        ticks as f64 / hz * 1e3 / secs
    );
    println!(
        "lqosd RSS: {:.1} MiB before the flows, {:.1} MiB with {flows} flows (peak {:.1} MiB); goal under 250 MB",
        rss_before as f64 / 1024.0,
        rss_with as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "(the bench's own rewriting of every flow each second took {:.0} ms per second of it)",
        filling.as_secs_f64() * 1e3 / 20.0
    );
    Ok(())
}
