//! Every planned circuit reaches its own HTB (issue 13, bugs 1 and 2): queues never outnumber
//! the CPUs that serve them, lqosd refuses a plan steered to CPUs it lacks, and TCP from veth
//! senders that leave checksums to offload is shaped, not black-holed.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Options, Testbed, CSV_HEADER};
use std::time::Duration;

/// Four top-level nodes, so that the planner spreads circuits over up to four queues.
const FOUR_SITES: &str = r#"{
  "S1": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
  "S2": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
  "S3": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
  "S4": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000}}"#;

fn online_cpus() -> Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    Ok(lqos_plan::parse_cpu_list(&text).context("cpu list")?.len())
}

#[test]
fn override_above_the_cpus_leaves_no_circuit_unshaped() -> Result<()> {
    require_root();
    let _one = serial();
    // Twice as many queues as CPUs, on veths that have them: the planner must not use the
    // queues that have no CPU, and lqosd must refuse a plan that does.
    let cpus = online_cpus()?;
    let queues = (cpus * 2) as u32;
    let mut tb = Testbed::with(
        "steer",
        Options {
            queues,
            ..Options::default()
        },
    )?;
    let sites = ["S1", "S2", "S3", "S4"];
    let addrs: Vec<String> = (1..=4).map(|i| format!("100.64.7.{i}")).collect();
    let mut rows = String::from(CSV_HEADER);
    for (i, (site, addr)) in sites.iter().zip(&addrs).enumerate() {
        tb.add_subscriber_addr(&format!("{addr}/16"))?;
        rows += &device_row(&format!("C{}", i + 1), site, addr, "", 10.0, 2.0);
    }
    tb.write_inputs(FOUR_SITES, &rows, "")?;
    let conf = std::fs::read_to_string(tb.config())?.replace(
        "[queues]\n",
        &format!("[queues]\noverride_available_queues = {queues}\n"),
    );
    std::fs::write(tb.config(), conf)?;
    tb.start_lqosd()?;

    // A plan built as the scheduler did before the fix: one queue per tx queue.
    let (config, _) = lqos_config::Config::load(&tb.config())?;
    let loaded = lqos_config::load_inputs(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let planned = lqos_scheduler::plan::plan(
        &loaded.inputs,
        &config,
        queues as u16,
        None,
        lqos_scheduler::plan::AssignOptions {
            binpacking: true,
            rebalance: false,
        },
    )?;
    let bus = tb.dir.join("bus");
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut c = lqos_bus::Client::connect(&bus, Duration::from_secs(5)).await?;
            c.request(&lqos_bus::Request::SubmitPlan {
                generation: 1,
                plan: planned.plan,
            })
            .await
        })?;
    let lqos_bus::Response::Rejected { reasons } = answer else {
        anyhow::bail!("lqosd accepted a plan steered to CPUs it lacks: {answer:?}");
    };
    let text = reasons.join("\n");
    eprintln!("lqosd refused the unclamped plan:\n{text}");
    ensure!(
        text.contains(&format!("CPU {cpus}, which is not online"))
            && text.contains("lower override_available_queues"),
        "the reasons name the missing CPU and the fix:\n{text}"
    );
    ensure!(
        live_tree(&tb)?.is_empty(),
        "nothing of the refused plan reached the kernel"
    );

    // The scheduler clamps, says so, and every circuit is shaped both ways.
    let out = tb.refresh()?;
    ensure!(
        out.contains(&format!(
            "queues: {cpus} per direction (override_available_queues {queues} clamped to the CPUs)"
        )) && out.contains("warning: lqos.conf key `queues.override_available_queues`"),
        "the refresh clamps with a warning:\n{out}"
    );
    for addr in &addrs {
        let d = tb.measure_plan(addr, false, 10.0)?;
        let u = tb.measure_plan(addr, true, 2.0)?;
        eprintln!("{addr}: download {d:.2} (plan 10), upload {u:.2} (plan 2)");
        ensure!(
            within(d, 10.0, 0.05) && within(u, 2.0, 0.05),
            "{addr}: {d:.2}/{u:.2} Mbit/s, plan 10/2 (±5%)"
        );
    }
    Ok(())
}

/// XDP mode of `dev` in the shaper: 1 native (driver), 2 generic.
fn xdp_mode(tb: &Testbed, dev: &str) -> Result<u64> {
    let out = tb
        .shaper
        .run("ip", &["-j", "-d", "link", "show", "dev", dev])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    v[0]["xdp"]["mode"]
        .as_u64()
        .with_context(|| format!("no XDP on {dev}: {out}"))
}

#[test]
fn veth_senders_with_checksum_offload_are_shaped_through_generic_xdp() -> Result<()> {
    require_root();
    let _one = serial();
    let mut tb = Testbed::with(
        "csum",
        Options {
            checksum_offload: true,
            ..Options::default()
        },
    )?;
    tb.add_subscriber_addr("100.64.6.1/16")?;
    tb.write_inputs(
        NET,
        &format!(
            "{CSV_HEADER}{}",
            device_row("K", "Site", "100.64.6.1", "", 20.0, 5.0)
        ),
        "",
    )?;
    tb.start_lqosd()?;
    tb.refresh()?;
    // Native XDP into a cpumap would drop every TCP segment of these senders: iperf3 would
    // not even connect. Generic XDP keeps their checksum state.
    let d = tb.measure_plan("100.64.6.1", false, 20.0)?;
    let u = tb.measure_plan("100.64.6.1", true, 5.0)?;
    eprintln!("checksum offload on: download {d:.2} (plan 20), upload {u:.2} (plan 5)");
    ensure!(
        within(d, 20.0, 0.05) && within(u, 5.0, 0.05),
        "{d:.2}/{u:.2} Mbit/s, plan 20/5 (±5%)"
    );
    for dev in ["lqi", "lqn"] {
        ensure!(xdp_mode(&tb, dev)? == 2, "{dev}: generic XDP");
    }
    let log = tb.lqosd_log();
    ensure!(
        log.contains("lqn is a veth device") && log.contains("generic"),
        "the log says why XDP is generic:\n{log}"
    );
    let issues = lqos(&tb, &["issues"])?;
    ensure!(
        issues.contains("xdp_generic") && issues.contains("xdp_mode = \"native\""),
        "an urgent issue says what was chosen and how to change it:\n{issues}"
    );

    // Asking for native (as every other test bed does, senders' checksums off) re-attaches
    // the pinned links natively on the next start.
    tb.stop_lqosd()?;
    let conf = std::fs::read_to_string(tb.config())?;
    std::fs::write(
        tb.config(),
        conf.replace("[lqosd]\n", "[lqosd]\nxdp_mode = \"native\"\n"),
    )?;
    tb.start_lqosd()?;
    for dev in ["lqi", "lqn"] {
        ensure!(
            xdp_mode(&tb, dev)? == 1,
            "{dev}: native XDP after xdp_mode = \"native\":\n{}",
            tb.lqosd_log()
        );
    }
    Ok(())
}

#[test]
fn the_usual_test_beds_run_native_xdp() -> Result<()> {
    require_root();
    let rows = [device_row("N", "Site", "100.64.6.9", "", 20.0, 5.0)];
    let tb = shaped("native", &rows, &["100.64.6.9/16"])?;
    for dev in ["lqi", "lqn"] {
        ensure!(xdp_mode(&tb, dev)? == 1, "{dev}: native XDP");
    }
    Ok(())
}
