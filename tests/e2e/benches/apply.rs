//! Full and incremental apply through the real lqosd, against `tc -batch` of the same rendered
//! commands measured in the same run, and lqosd's resident memory. Needs root and the release
//! binaries:
//!
//! ```text
//! cargo build --release -p lqosd && cargo bench -p lqos-e2e --bench apply
//! ```
//! `LQOS_BENCH_SIZES=1000,10000` picks the sizes (default 1000,10000), `LQOS_BENCH_QUEUES` the
//! CPU queues per direction (default 2), `LQOS_BENCH_SQM` the leaf qdisc (default pfifo;
//! `none` for sizes past the kernel's 32,767 numbered qdiscs per interface, such as 50000).

use anyhow::{ensure, Context, Result};
use lqos_config::Config;
use lqos_e2e::{bin_path, require_root, NetNs, TestDir};
use lqos_plan::{render_tc, QueuePlan};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn config_text(dir: &Path, bpffs: &Path) -> String {
    format!(
        "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"lqi\"\nto_network = \"lqn\"\n\
         [queues]\ndefault_sqm = \"pfifo\"\ndownlink_bandwidth_mbps = 100000\nuplink_bandwidth_mbps = 100000\n\
         [lqosd]\nbus_socket = \"{d}/bus\"\nbpf_pin_dir = \"{b}/pins\"\n",
        d = dir.display(),
        b = bpffs.display()
    )
}

struct Bed {
    ns: NetNs,
    dir: TestDir,
    lqosd: Option<Child>,
}

impl Drop for Bed {
    fn drop(&mut self) {
        if let Some(mut c) = self.lqosd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.join("bpf"))
            .status();
    }
}

fn bed() -> Result<Bed> {
    let dir = TestDir::new("bench-apply")?;
    let bpffs = lqos_e2e::testbed::private_bpffs(&dir)?;
    let ns = NetNs::new()?;
    ns.add_veth("lqi", "lqn", u32::from(queues()))?;
    ns.set_up("lqi")?;
    ns.set_up("lqn")?;
    dir.write("lqos.conf", config_text(dir.path(), &bpffs))?;
    Ok(Bed {
        ns,
        dir,
        lqosd: None,
    })
}

fn plan_for(
    circuits: usize,
    seed: u64,
    rerate: Option<usize>,
    previous: Option<&lqos_plan::ClassIdState>,
) -> Result<(QueuePlan, lqos_plan::ClassIdState)> {
    let sqm = std::env::var("LQOS_BENCH_SQM").unwrap_or_else(|_| "pfifo".into());
    let text = format!("[bridge]\nto_internet = \"lqi\"\nto_network = \"lqn\"\n[queues]\ndefault_sqm = \"{sqm}\"\ndownlink_bandwidth_mbps = 100000\nuplink_bandwidth_mbps = 100000\n");
    let config = Config::parse(&text, "lqos.conf", Path::new("/"))
        .0
        .context("config")?;
    let mut inputs = lqos_gen::inputs(&lqos_gen::GenSpec {
        seed,
        ..lqos_gen::GenSpec::new(circuits)
    })
    .map_err(|d| anyhow::anyhow!("inputs: {d}"))?;
    for c in &mut inputs.circuits {
        c.sqm = None;
    }
    if let Some(k) = rerate {
        // Down, so no parent's ceiling can absorb the change.
        let c = &mut inputs.circuits[k];
        c.download_max *= 0.5;
        c.download_min = c.download_min.min(c.download_max);
    }
    let p = plan(
        &inputs,
        &config,
        queues(),
        previous,
        AssignOptions {
            binpacking: true,
            rebalance: false,
        },
    )
    .context("plan")?;
    Ok((p.plan, p.state))
}

/// CPU queues per direction (`LQOS_BENCH_QUEUES`, default 2: this machine's CPUs).
fn queues() -> u16 {
    std::env::var("LQOS_BENCH_QUEUES")
        .ok()
        .and_then(|q| q.parse().ok())
        .unwrap_or(2)
}

fn tc_batch(ns: &NetNs, dir: &TestDir, text: &str) -> Result<Duration> {
    let path = dir.write("plan.tc", text)?;
    let started = Instant::now();
    let out = ns.exec("tc", &["-batch", path.to_str().context("path")?])?;
    let took = started.elapsed();
    ensure!(
        out.status.success(),
        "tc -batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for dev in ["lqi", "lqn"] {
        ns.exec("tc", &["qdisc", "del", "dev", dev, "root"])?;
    }
    Ok(took)
}

fn start_lqosd(bed: &mut Bed) -> Result<()> {
    let conf = bed.dir.join("lqos.conf");
    let log = std::fs::File::create(bed.dir.join("lqosd.log"))?;
    let mut cmd = bed.ns.command(
        bin_path("lqosd").to_str().context("path")?,
        &["--config", conf.to_str().context("path")?],
    );
    cmd.env(
        "RUST_LOG",
        std::env::var("LQOS_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
    )
    .stdout(Stdio::null())
    .stderr(log);
    bed.lqosd = Some(cmd.spawn()?);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(bed.dir.join("bus")).is_err() {
        ensure!(Instant::now() < deadline, "lqosd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Round trip of one submission, and lqosd's own apply time (ms) from its answer.
fn submit(
    rt: &tokio::runtime::Runtime,
    bed: &Bed,
    generation: u64,
    plan: &QueuePlan,
) -> Result<(Duration, u64)> {
    let started = Instant::now();
    let resp = rt.block_on(async {
        let mut c = lqos_bus::Client::connect(bed.dir.join("bus"), Duration::from_secs(5)).await?;
        c.request_with_timeout(
            &lqos_bus::Request::SubmitPlan {
                generation,
                plan: plan.clone(),
            },
            Duration::from_secs(1800),
        )
        .await
    })?;
    let took = started.elapsed();
    match resp {
        lqos_bus::Response::Applied { summary, .. } => Ok((took, summary.duration_ms)),
        other => anyhow::bail!("lqosd: {other:?}"),
    }
}

fn rss_mib(child: &Child) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<()> {
    require_root();
    let sizes: Vec<usize> = std::env::var("LQOS_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "queues per direction: {}, leaf qdisc: {}",
        queues(),
        std::env::var("LQOS_BENCH_SQM").unwrap_or_else(|_| "pfifo".into())
    );
    println!("| circuits | classes | prefixes | tc -batch | lqosd full apply | ratio | 1-circuit change: round trip | of which lqosd's apply | lqosd RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let (full, state) = plan_for(n, 1, None, None)?;
        let classes: usize = full
            .interfaces
            .iter()
            .flat_map(|i| &i.htbs)
            .map(|q| q.classes.len())
            .sum();
        let mut bed = bed()?;
        let baseline = tc_batch(&bed.ns, &bed.dir, &render_tc(&full))?;
        start_lqosd(&mut bed)?;
        let (applied, _) = submit(&rt, &bed, 1, &full)?;
        let (mut changes, mut inside) = (Vec::new(), Vec::new());
        for k in 0..5 {
            let (changed, _) = plan_for(n, 1, Some(k * 7 + 1), Some(&state))?;
            // Back and forth: every submission differs from the live plan by one circuit.
            let (took, ms) = submit(&rt, &bed, 2 + 2 * k as u64, &changed)?;
            changes.push(took);
            inside.push(Duration::from_millis(ms));
            submit(&rt, &bed, 3 + 2 * k as u64, &full)?;
        }
        let rss = bed.lqosd.as_ref().map_or(f64::NAN, rss_mib);
        println!(
            "| {n} | {classes} | {} | {:.2} s | {:.2} s | {:.2}x | {:.1} ms | {} ms | {rss:.0} MiB |",
            full.mappings.len(),
            baseline.as_secs_f64(),
            applied.as_secs_f64(),
            applied.as_secs_f64() / baseline.as_secs_f64(),
            median(changes).as_secs_f64() * 1e3,
            median(inside).as_millis()
        );
    }
    rss_with_mapped_ips(&rt, 100_000)
}

/// lqosd's resident memory holding `ips` mapped prefixes: a 1k-circuit plan whose circuits
/// get extra /32s until the IP map holds `ips` entries.
fn rss_with_mapped_ips(rt: &tokio::runtime::Runtime, ips: usize) -> Result<()> {
    let (mut p, _) = plan_for(1000, 1, None, None)?;
    let base = p.mappings.clone();
    let mut i = 0u32;
    while p.mappings.len() < ips {
        let mut m = base[i as usize % base.len()].clone();
        m.prefix = ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
            0x0a00_0000 + i,
        )));
        p.mappings.push(m);
        i += 1;
    }
    let mut bed = bed()?;
    start_lqosd(&mut bed)?;
    let idle = bed.lqosd.as_ref().map_or(f64::NAN, rss_mib);
    let (took, _) = submit(rt, &bed, 1, &p)?;
    let rss = bed.lqosd.as_ref().map_or(f64::NAN, rss_mib);
    println!("\nlqosd RSS: {idle:.0} MiB before the first plan, {rss:.0} MiB with {} mapped prefixes ({} classes; applied in {:.2} s)", p.mappings.len(), p.interfaces.iter().flat_map(|i| &i.htbs).map(|q| q.classes.len()).sum::<usize>(), took.as_secs_f64());
    Ok(())
}
