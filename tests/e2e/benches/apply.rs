//! Full and incremental apply through the real lqosd, against `tc -batch` of the same rendered
//! commands measured in the same run, and lqosd's resident memory. Needs root and the release
//! binaries:
//!
//! ```text
//! cargo build --release -p lqosd && cargo bench -p lqos-e2e --bench apply
//! ```
//! `LQOS_BENCH_SIZES=1000,10000` picks the sizes (default 1000,10000), `LQOS_BENCH_QUEUES` the
//! CPU queues per direction (default 2), `LQOS_BENCH_SQM` the leaf qdisc (default pfifo;
//! `none` for sizes past the kernel's 32,767 numbered qdiscs per interface, such as 50000),
//! `LQOS_BENCH_BASELINE=0` skips the `tc -batch` baseline (it doubles the time of a big size),
//! `LQOS_BENCH_LAZY=Full` runs lqosd with lazy queues (see [`lazy`]).
//!
//! A one-circuit change is measured both ways in the same run: as the full plan
//! (`SubmitPlan`) and as a delta against the live plan (`SubmitDelta`, timed from the finished
//! plan: hash, delta, bus, lqosd's patch and apply); then the whole `lqos-scheduler refresh`
//! process (needs its release build too), once without its saved base (full plan) and once
//! with it (delta).

use anyhow::{ensure, Context, Result};
use lqos_config::Config;
use lqos_e2e::{bin_path, require_root, NetNs, TestDir};
use lqos_plan::{render_tc, QueuePlan};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// lqosd's and the scheduler's lqos.conf: the same `[bridge]` and `[queues]` as
/// [`planning_config`], so the scheduler plans what the bench plans in-process.
fn config_text(dir: &Path, bpffs: &Path) -> String {
    format!(
        "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n{planning}override_available_queues = {q}\n\
         [lqosd]\nbus_socket = \"{d}/bus\"\nbpf_pin_dir = \"{b}/pins\"\n",
        d = dir.display(),
        b = bpffs.display(),
        planning = planning_text(),
        q = queues(),
    )
}

fn sqm() -> String {
    std::env::var("LQOS_BENCH_SQM").unwrap_or_else(|_| "pfifo".into())
}

/// `LQOS_BENCH_LAZY`: lqosd's `lazy_queues` (default `No`). With `Full` and no traffic, lqosd
/// builds only the nodes and the pools, which makes a 100k-circuit shaper quick to set up; a
/// change to a circuit that was never built then costs no tc operation.
fn lazy() -> String {
    std::env::var("LQOS_BENCH_LAZY").unwrap_or_else(|_| "No".into())
}

fn planning_text() -> String {
    format!("[bridge]\nto_internet = \"lqi\"\nto_network = \"lqn\"\n[queues]\ndefault_sqm = \"{}\"\ndownlink_bandwidth_mbps = 100000\nuplink_bandwidth_mbps = 100000\nlazy_queues = \"{}\"\n", sqm(), lazy())
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

/// lqos-gen's files for `circuits` (seed 1) without per-circuit sqm, so every leaf is the
/// bench's `default_sqm`.
fn bench_files(circuits: usize) -> Result<lqos_gen::Generated> {
    let mut g = lqos_gen::generate(&lqos_gen::GenSpec::new(circuits));
    g.shaped_devices_csv = edit_csv(&g.shaped_devices_csv, |_, _| {})?;
    Ok(g)
}

/// The CSV with `edit(header, row)` applied to every row (the comment line is dropped).
fn edit_csv(
    text: &str,
    mut edit: impl FnMut(&csv::StringRecord, &mut Vec<String>),
) -> Result<String> {
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = r.headers()?.clone();
    let sqm = header
        .iter()
        .position(|h| h == "sqm")
        .context("sqm column")?;
    let mut w = csv::Writer::from_writer(Vec::with_capacity(text.len()));
    w.write_record(&header)?;
    for row in r.records() {
        let mut row: Vec<String> = row?.iter().map(str::to_owned).collect();
        row[sqm].clear();
        edit(&header, &mut row);
        w.write_record(&row)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?)
}

/// The files with circuit `id`'s download ceiling halved (as [`rerated`] does in-process).
fn rerated_csv(text: &str, id: &str) -> Result<String> {
    edit_csv(text, |h, row| {
        let col = |name| h.iter().position(|x| x == name);
        let (Some(cid), Some(max), Some(min)) = (
            col("Circuit ID"),
            col("Download Max Mbps"),
            col("Download Min Mbps"),
        ) else {
            return;
        };
        if row[cid] == id {
            let half = row[max].parse::<f64>().unwrap_or(2.0) * 0.5;
            let low = row[min].parse::<f64>().unwrap_or(1.0).min(half);
            row[max] = half.to_string();
            row[min] = low.to_string();
        }
    })
}

/// The inputs with circuit `k`'s download ceiling halved: down, so no parent's ceiling can
/// absorb the change.
fn rerated(inputs: &lqos_config::Inputs, k: usize) -> lqos_config::Inputs {
    let mut inputs = inputs.clone();
    let c = &mut inputs.circuits[k];
    c.download_max *= 0.5;
    c.download_min = c.download_min.min(c.download_max);
    inputs
}

fn plan_for(
    inputs: &lqos_config::Inputs,
    previous: Option<&lqos_plan::ClassIdState>,
) -> Result<(QueuePlan, lqos_plan::ClassIdState)> {
    let config = Config::parse(&planning_text(), "lqos.conf", Path::new("/"))
        .0
        .context("config")?;
    let p = plan(
        inputs,
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
    settle(rt, bed)?;
    let started = Instant::now();
    let request = lqos_bus::Request::SubmitPlan {
        generation,
        plan: plan.clone(),
    };
    let ms = ask(rt, bed, &request)?;
    Ok((started.elapsed(), ms))
}

/// The same change as a delta against `base` (live as `base_generation`), timed from the
/// finished plan as the scheduler does it: hash, delta, bus, lqosd's patch and apply.
fn submit_delta(
    rt: &tokio::runtime::Runtime,
    bed: &Bed,
    (base_generation, base, base_hash): (u64, &QueuePlan, u64),
    generation: u64,
    plan: &QueuePlan,
) -> Result<(Duration, u64, usize)> {
    settle(rt, bed)?;
    let started = Instant::now();
    // As the scheduler does it: the new plan's hash in the pass that compares the plans.
    let delta = lqos_plan::PlanDelta::against(base_generation, base_hash, base, plan);
    let bytes = postcard_len(&delta);
    let ms = ask(
        rt,
        bed,
        &lqos_bus::Request::SubmitDelta { generation, delta },
    )?;
    Ok((started.elapsed(), ms, bytes))
}

fn postcard_len(delta: &lqos_plan::PlanDelta) -> usize {
    lqos_bus::encode_request(&lqos_bus::Request::SubmitDelta {
        generation: 0,
        delta: delta.clone(),
    })
    .map_or(0, |b| b.len())
}

/// Waits until lqosd has finished the work that follows its previous answer (the address
/// index, the telemetry's and the WebUI's view of the new plan, under the shaper's lock): a
/// `Status` request takes the same lock. Each timed change then starts on an idle lqosd, as a
/// refresh does, minutes after the one before.
fn settle(rt: &tokio::runtime::Runtime, bed: &Bed) -> Result<()> {
    rt.block_on(async {
        let mut c = lqos_bus::Client::connect(bed.dir.join("bus"), Duration::from_secs(5)).await?;
        c.request_with_timeout(&lqos_bus::Request::Status, Duration::from_secs(60))
            .await
    })?;
    Ok(())
}

/// lqosd's own apply time (ms) of an applied request.
fn ask(rt: &tokio::runtime::Runtime, bed: &Bed, request: &lqos_bus::Request) -> Result<u64> {
    let resp = rt.block_on(async {
        let mut c = lqos_bus::Client::connect(bed.dir.join("bus"), Duration::from_secs(5)).await?;
        c.request_with_timeout(request, Duration::from_secs(3600))
            .await
    })?;
    match resp {
        lqos_bus::Response::Applied { summary, .. } => Ok(summary.duration_ms),
        other => anyhow::bail!("lqosd: {other:?}"),
    }
}

/// One `lqos-scheduler refresh` process in the bed's namespace: its wall time and stderr.
fn refresh(bed: &Bed) -> Result<(Duration, String)> {
    let conf = bed.dir.join("lqos.conf");
    let started = Instant::now();
    let out = bed
        .ns
        .command(
            bin_path("lqos-scheduler").to_str().context("path")?,
            &["--config", conf.to_str().context("path")?, "refresh"],
        )
        .output()?;
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(out.status.success(), "refresh failed: {err}");
    Ok((took, err))
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
    let baseline = std::env::var("LQOS_BENCH_BASELINE").map_or(true, |v| v != "0");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("queues per direction: {}, leaf qdisc: {}", queues(), sqm());
    let mut changes_table = vec![
        "\n1-circuit change (medians; lqosd's own apply time in brackets)\n".to_owned(),
        "| circuits | full plan round trip | delta round trip | delta size | refresh process, full plan | refresh process, delta |".to_owned(),
        "|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    println!(
        "| circuits | classes | prefixes | tc -batch | lqosd full apply | ratio | lqosd RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let files = bench_files(n)?;
        let inputs = lqos_gen::parse(&files).map_err(|d| anyhow::anyhow!("inputs: {d}"))?;
        let (full, state) = plan_for(&inputs, None)?;
        let full_hash = lqos_plan::plan_hash(&full);
        let classes: usize = full
            .interfaces
            .iter()
            .flat_map(|i| &i.htbs)
            .map(|q| q.classes.len())
            .sum();
        let mut bed = bed()?;
        let base_time = if baseline {
            Some(tc_batch(&bed.ns, &bed.dir, &render_tc(&full))?)
        } else {
            None
        };
        start_lqosd(&mut bed)?;
        let (applied, _) = submit(&rt, &bed, 1, &full)?;
        let (mut by_plan, mut by_delta) = (Vec::new(), Vec::new());
        let (mut inside_plan, mut inside_delta, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        let mut generation = 1;
        for k in 0..5 {
            let (changed, _) = plan_for(&rerated(&inputs, k * 7 + 1), Some(&state))?;
            let changed_hash = lqos_plan::plan_hash(&changed);
            // Back and forth: every submission differs from the live plan by one circuit.
            let (took, ms) = submit(&rt, &bed, generation + 1, &changed)?;
            by_plan.push(took);
            inside_plan.push(Duration::from_millis(ms));
            submit(&rt, &bed, generation + 2, &full)?;
            let (took, ms, bytes) = submit_delta(
                &rt,
                &bed,
                (generation + 2, &full, full_hash),
                generation + 3,
                &changed,
            )?;
            by_delta.push(took);
            inside_delta.push(Duration::from_millis(ms));
            sizes.push(bytes);
            submit_delta(
                &rt,
                &bed,
                (generation + 3, &changed, changed_hash),
                generation + 4,
                &full,
            )?;
            generation += 4;
        }
        let rss = bed.lqosd.as_ref().map_or(f64::NAN, rss_mib);
        let (process_full, process_delta) = refresh_processes(&bed, &files, &inputs)?;
        println!(
            "| {n} | {classes} | {} | {} | {:.2} s | {} | {rss:.0} MiB |",
            full.mappings.len(),
            base_time.map_or("-".into(), |b| format!("{:.2} s", b.as_secs_f64())),
            applied.as_secs_f64(),
            base_time.map_or("-".into(), |b| format!(
                "{:.2}x",
                applied.as_secs_f64() / b.as_secs_f64()
            )),
        );
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        sizes.sort();
        changes_table.push(format!(
            "| {n} | {:.1} ms ({} ms) | {:.1} ms ({} ms) | {} bytes | {:.0} ms | {:.0} ms |",
            ms(median(by_plan)),
            median(inside_plan).as_millis(),
            ms(median(by_delta)),
            median(inside_delta).as_millis(),
            sizes[sizes.len() / 2],
            ms(process_full),
            ms(process_delta),
        ));
    }
    for line in changes_table {
        println!("{line}");
    }
    rss_with_mapped_ips(&rt, 100_000)
}

/// Medians of `lqos-scheduler refresh` processes that each change one circuit, sent as the
/// full plan (no saved base) and as a delta. lqosd holds the bench's plan of the same files.
fn refresh_processes(
    bed: &Bed,
    files: &lqos_gen::Generated,
    inputs: &lqos_config::Inputs,
) -> Result<(Duration, Duration)> {
    let csv = bed.dir.join(lqos_gen::SHAPED_DEVICES_FILE);
    // Files written a while ago: the scheduler reads files only once they have been still for
    // a second (lqos_scheduler::steady), a wait that is not the refresh's work.
    let write_old = |path: &Path, text: &str| -> Result<()> {
        std::fs::write(path, text)?;
        std::fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(5))?;
        Ok(())
    };
    write_old(&bed.dir.join(lqos_gen::NETWORK_FILE), &files.network_json)?;
    write_old(&csv, &files.shaped_devices_csv)?;
    let base = bed
        .dir
        .join("state")
        .join(lqos_scheduler::state::SUBMITTED_PLAN_FILE);
    // The scheduler plans what lqosd holds: unchanged, and its base is kept from now on.
    let (_, err) = refresh(bed)?;
    ensure!(
        err.contains("unchanged: generation"),
        "first refresh: {err}"
    );
    let (mut full, mut delta) = (Vec::new(), Vec::new());
    for k in 0..3 {
        let id = inputs.circuits[k * 7 + 2].id.as_str();
        let changed = rerated_csv(&files.shaped_devices_csv, id)?;
        for (text, by_delta) in [
            (&changed, false),
            (&files.shaped_devices_csv, true),
            (&changed, true),
            (&files.shaped_devices_csv, false),
        ] {
            write_old(&csv, text)?;
            if !by_delta {
                std::fs::remove_file(&base)?;
            }
            let (took, err) = refresh(bed)?;
            let sent = if by_delta {
                "sent a delta of "
            } else {
                "sending the full plan"
            };
            ensure!(
                err.contains(sent) && err.contains("applied generation"),
                "refresh: {err}"
            );
            if k == 0 {
                eprintln!("refresh ({:.0} ms):\n{err}", took.as_secs_f64() * 1e3);
            }
            if by_delta { &mut delta } else { &mut full }.push(took);
        }
    }
    Ok((median(full), median(delta)))
}

/// lqosd's resident memory holding `ips` mapped prefixes: a 1k-circuit plan whose circuits
/// get extra /32s until the IP map holds `ips` entries.
fn rss_with_mapped_ips(rt: &tokio::runtime::Runtime, ips: usize) -> Result<()> {
    let (mut p, _) = plan_for(
        &lqos_gen::parse(&bench_files(1000)?).map_err(|d| anyhow::anyhow!("inputs: {d}"))?,
        None,
    )?;
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
