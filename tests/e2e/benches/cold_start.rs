//! Cold start: lqosd starting after a reboot (no qdiscs, no pins, a saved plan in
//! `state_directory`) while 5% of the circuits carry traffic, with `lazy_queues` No, Htb and
//! Full. Prints, per mode, the time from lqosd's start until every active circuit is shaped at
//! its own plan, and until every circuit's queue exists; and the `tc -batch` floor of the full
//! tree and of the Full mode's tree in the same run. Needs root and release binaries:
//!
//! ```text
//! cargo build --release --bins && cargo bench -p lqos-e2e --bench cold_start
//! ```
//! `LQOS_BENCH_CIRCUITS` (default 50000), `LQOS_BENCH_MODES` (default `Full,Htb,No`).

use anyhow::{ensure, Context, Result};
use lqos_e2e::testbed::Testbed;
use lqos_e2e::{bin_path, require_root};
use lqos_plan::{materialise, Laziness, QueuePlan};
use std::collections::HashSet;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set in the child that sends the traffic inside the Internet-side namespace.
const SENDER: &str = "LQOS_COLD_START_SENDER";

fn main() -> Result<()> {
    if let Ok(file) = std::env::var(SENDER) {
        return send_forever(&file);
    }
    require_root();
    let circuits: usize = std::env::var("LQOS_BENCH_CIRCUITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let modes = std::env::var("LQOS_BENCH_MODES").unwrap_or_else(|_| "Full,Htb,No".into());
    let mut tb = Testbed::new("cold")?;
    let generated = lqos_gen::generate(&lqos_gen::GenSpec::new(circuits));
    tb.write_inputs(
        &generated.network_json,
        &lqos_e2e::shaped_csv::without_sqm(&generated.shaped_devices_csv)?,
        "",
    )?;
    // The saved plan comes from a normal run (cheap with Full), then the machine "reboots".
    set_mode(&mut tb, "Full")?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    tb.stop_lqosd()?;
    let saved = tb.dir.join("state/lqosd/live-plan.bin");
    let saved_bytes = std::fs::read(&saved)?;
    let plan = dry_run_plan(&tb)?;
    let active = pick_active(&plan, 20);
    println!(
        "{circuits} circuits, {} classes, {} prefixes; {} active circuits (5%), queues per direction {}",
        plan.classes().count(),
        plan.mappings.len(),
        active.circuits.len(),
        plan.queues
    );
    reboot(&tb, &saved, &saved_bytes)?;
    let floor_full = tc_batch(&tb, &lqos_plan::render_tc(&plan))?;
    let lazy_tree = materialise(&plan, Laziness::Full, &active.circuits);
    let floor_lazy = tc_batch(&tb, &lqos_plan::render_tc(&lazy_tree))?;
    println!(
        "tc -batch floor: full tree {:.2} s; Full mode's tree with the active circuits built {:.2} s",
        floor_full.as_secs_f64(),
        floor_lazy.as_secs_f64()
    );
    let sender = start_sender(&tb, &active.addrs)?;
    println!("| lazy_queues | active circuits shaped at their own plan | every circuit's queue exists | lqosd RSS |");
    println!("|---|---:|---:|---:|");
    for mode in modes.split(',').map(str::trim) {
        set_mode(&mut tb, mode)?;
        let (shaped, complete, rss) = measure(&mut tb, mode, &active)?;
        let secs =
            |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2} s", d.as_secs_f64()));
        println!(
            "| {mode} | {} | {} | {rss:.0} MiB |",
            secs(Some(shaped)),
            secs(complete)
        );
        tb.stop_lqosd()?;
        reboot(&tb, &saved, &saved_bytes)?;
    }
    drop(sender);
    Ok(())
}

/// The circuits that carry traffic and one IPv4 address of each.
struct Active {
    circuits: HashSet<Arc<str>>,
    /// Download class ids (as tc prints them) of the active circuits.
    classes: HashSet<String>,
    addrs: Vec<Ipv4Addr>,
}

/// Every `every`-th circuit (in plan order) with an IPv4 prefix.
fn pick_active(plan: &QueuePlan, every: usize) -> Active {
    let mut seen = HashSet::new();
    let mut active = Active {
        circuits: HashSet::new(),
        classes: HashSet::new(),
        addrs: Vec::new(),
    };
    for m in &plan.mappings {
        let ipnet::IpNet::V4(net) = m.prefix else {
            continue;
        };
        if !seen.insert(m.circuit_id.clone()) {
            continue;
        }
        if seen.len() % every == 0 {
            active.circuits.insert(m.circuit_id.clone());
            active.classes.insert(m.download.to_string());
            active.addrs.push(net.hosts().next().unwrap_or(net.addr()));
        }
    }
    active
}

fn set_mode(tb: &mut Testbed, mode: &str) -> Result<()> {
    tb.queues_conf = format!("lazy_queues = \"{mode}\"\nlazy_expire_seconds = 0\n");
    let csv = std::fs::read_to_string(tb.dir.join("ShapedDevices.csv"))?;
    let net = std::fs::read_to_string(tb.dir.join("network.json"))?;
    tb.write_inputs(&net, &csv, "")?;
    Ok(())
}

fn dry_run_plan(tb: &Testbed) -> Result<QueuePlan> {
    let mut state = lqosd::state::StateDir::new(&tb.dir.join("state"));
    Ok(state.load()?.context("a saved plan")?.plan)
}

/// What a reboot leaves: no programs, maps or queues, the saved plan on disk.
fn reboot(tb: &Testbed, saved: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let out = tb.shaper.exec(
        bin_path("lqosd").to_str().context("path")?,
        &[
            "--config",
            tb.config().to_str().context("path")?,
            "teardown",
        ],
    )?;
    ensure!(
        out.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(tb.dir.join("state/lqosd/lazy-built.json"));
    std::fs::write(saved, bytes)?;
    for dev in ["lqi", "lqn"] {
        let q = tb.shaper.run("tc", &["qdisc", "show", "dev", dev])?;
        ensure!(
            !q.contains("htb"),
            "{dev} still has queues after teardown:\n{q}"
        );
    }
    Ok(())
}

fn tc_batch(tb: &Testbed, text: &str) -> Result<Duration> {
    let path = tb.dir.write("floor.tc", text)?;
    let started = Instant::now();
    let out = tb
        .shaper
        .exec("tc", &["-batch", path.to_str().context("path")?])?;
    let took = started.elapsed();
    ensure!(
        out.status.success(),
        "tc -batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for dev in ["lqi", "lqn"] {
        tb.shaper
            .exec("tc", &["qdisc", "del", "dev", dev, "root"])?;
    }
    Ok(took)
}

/// Starts lqosd on the rebooted machine; returns when every active circuit is shaped at its
/// own plan, and when every circuit's queue exists (`None` for Full: by design never).
fn measure(
    tb: &mut Testbed,
    mode: &str,
    active: &Active,
) -> Result<(Duration, Option<Duration>, f64)> {
    let started = Instant::now();
    tb.spawn_lqosd()?;
    tb.wait_for_bus(Duration::from_secs(1800))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let socket = tb.dir.join("bus");
    let status = || -> Result<lqos_bus::StatusReport> {
        rt.block_on(async {
            let mut c = lqos_bus::Client::connect(&socket, Duration::from_secs(5)).await?;
            match c
                .request_with_timeout(&lqos_bus::Request::Status, Duration::from_secs(1800))
                .await?
            {
                lqos_bus::Response::Status(s) => Ok(s),
                other => anyhow::bail!("{other:?}"),
            }
        })
    };
    let deadline = Duration::from_secs(1800);
    // lqosd binds its bus once the saved plan is rebuilt (the whole tree, or with Full the
    // nodes and pools): from then on every prefix is in the IP map.
    let mut complete = None;
    loop {
        ensure!(started.elapsed() < deadline, "{mode}: no plan after 30 min");
        let s = status()?;
        if s.applied_generation.is_some() {
            if mode != "Full" {
                complete = Some(started.elapsed());
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    loop {
        ensure!(
            started.elapsed() < deadline,
            "{mode}: active circuits not shaped after 30 min"
        );
        let built = status()?.lazy.map_or(u64::MAX, |l| l.built);
        if built >= active.circuits.len() as u64 && missing_classes(tb, active)? == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let shaped = started.elapsed();
    let rss = tb.lqosd_pid().map_or(f64::NAN, |pid| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    });
    Ok((shaped, complete, rss))
}

/// Active circuits whose download class is not in the kernel.
fn missing_classes(tb: &Testbed, active: &Active) -> Result<usize> {
    let out = tb.shaper.run("tc", &["class", "show", "dev", "lqn"])?;
    let live: HashSet<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("class htb ")?.split_whitespace().next())
        .collect();
    Ok(active
        .classes
        .iter()
        .filter(|c| !live.contains(c.as_str()))
        .count())
}

/// Starts this bench binary again inside the Internet-side namespace as the traffic sender;
/// the active addresses are reached through static neighbour entries to the subscriber host.
fn start_sender(tb: &Testbed, addrs: &[Ipv4Addr]) -> Result<Sender> {
    let mac = tb.subs.run("cat", &["/sys/class/net/eth0/address"])?;
    let mut batch = String::new();
    for a in addrs {
        batch.push_str(&format!(
            "route replace {a}/32 dev eth0\nneigh replace {a} lladdr {} dev eth0 nud permanent\n",
            mac.trim()
        ));
    }
    let neigh = tb.dir.write("neigh.batch", batch)?;
    tb.inet
        .run("ip", &["-batch", neigh.to_str().context("path")?])?;
    let list: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let file = tb.dir.write("active.txt", list)?;
    let exe = std::env::current_exe()?;
    let child = tb
        .inet
        .command(exe.to_str().context("path")?, &[])
        .env(SENDER, file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Sender(child))
}

struct Sender(std::process::Child);

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sender: one small UDP datagram to every address, every 100 ms, forever.
fn send_forever(file: &str) -> Result<()> {
    let addrs: Vec<IpAddr> = std::fs::read_to_string(file)?
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    let payload = [0u8; 64];
    loop {
        for a in &addrs {
            let _ = socket.send_to(&payload, (*a, 9));
        }
        std::io::stdout().flush()?;
        std::thread::sleep(Duration::from_millis(100));
    }
}
