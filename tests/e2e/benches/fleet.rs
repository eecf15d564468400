//! Fleet figures (docs/fleet.md), against a private 3-member etcd on loopback and two real
//! `lqos-scheduler run` services in fleet mode (dry-run boxes: they plan their share but have
//! no lqosd, so "applied" here means planned; the e2e test `fleet` measures real applies):
//!
//! - failover: the leader's scheduler SIGKILLed -> the other box's verified election, and
//!   -> its first publication (median and max over `FLEET_RUNS`, default 20);
//! - a change to the inputs -> planned on every box (median and max of 5);
//! - what one publication costs etcd at 10k and 100k circuits (lqos-gen inputs): encoded and
//!   compressed bytes, chunks, and the time to publish and to fetch it.
//!
//! ```text
//! cargo build --bins && cargo bench -p lqos-e2e --bench fleet      # scripts/fleet-bench.sh
//! ```
//! `FLEET_TTL` sets the lease TTL in seconds (default 2, as in the tests; production default 6).

use anyhow::{ensure, Context, Result};
use lqos_cluster::testing::EtcdCluster;
use lqos_e2e::bin_path;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Shaper {
    state: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Shaper {
    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.with_extension("log"))?;
        self.child = Some(
            Command::new(bin_path("lqos-scheduler"))
                .arg("--config")
                .arg(&self.config)
                .arg("run")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()?,
        );
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn journal(&self, file: &str) -> Vec<Value> {
        std::fs::read_to_string(self.state.join("fleet").join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        self.kill();
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn wait<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        ensure!(Instant::now() < deadline, "timed out after {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn leader(boxes: &[Shaper]) -> Option<(usize, u64)> {
    (0..boxes.len())
        .flat_map(|i| {
            boxes[i]
                .journal("elections.jsonl")
                .into_iter()
                .map(move |e| (u(&e, "token"), i))
        })
        .max()
        .map(|(t, i)| (i, t))
}

fn stats(name: &str, mut ms: Vec<u64>) {
    ms.sort_unstable();
    let median = ms.get(ms.len() / 2).copied().unwrap_or(0);
    let max = ms.last().copied().unwrap_or(0);
    println!(
        "{name}: median {median} ms, max {max} ms over {} runs",
        ms.len()
    );
}

fn main() -> Result<()> {
    let runs: usize = std::env::var("FLEET_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let ttl: u64 = std::env::var("FLEET_TTL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let etcd = EtcdCluster::start(3)?;
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    lqos_gen::write_to_dir(&lqos_gen::GenSpec::new(1000), &inputs)?;
    let endpoints: Vec<String> = etcd
        .endpoints()
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect();
    let mut boxes = Vec::new();
    for name in ["a", "b"] {
        let state = dir.path().join(name);
        let config = dir.path().join(format!("{name}.conf"));
        std::fs::write(
            &config,
            format!(
                "lqos_directory = \"{}\"\nstate_directory = \"{}\"\n[bridge]\nto_internet = \"x0\"\nto_network = \"x1\"\n\
                 [queues]\ndry_run = true\ndefault_sqm = \"pfifo\"\n[lqosd]\nbus_socket = \"{}/bus\"\n\
                 [fleet]\nendpoints = [{}]\ncluster = \"bench\"\nname = \"{name}\"\nshare = [\"*\"]\nlease_ttl_secs = {ttl}\n",
                inputs.display(),
                state.display(),
                state.display(),
                endpoints.join(", ")
            ),
        )?;
        let mut b = Shaper {
            state,
            config,
            child: None,
        };
        b.start()?;
        boxes.push(b);
    }
    let published = |boxes: &[Shaper]| {
        boxes
            .iter()
            .flat_map(|b| b.journal("publications.jsonl"))
            .filter(|p| p["succeeded"] == true)
            .map(|p| u(&p, "generation"))
            .max()
    };
    wait(Duration::from_secs(30), || published(&boxes)).context("a first publication")?;

    // Failover.
    let (mut elect, mut first) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        std::thread::sleep(Duration::from_secs(1));
        let (old, token) = leader(&boxes).context("a leader")?;
        let killed = now_ms();
        boxes[old].kill();
        let other = 1 - old;
        let elected = wait(Duration::from_secs(30), || {
            boxes[other]
                .journal("elections.jsonl")
                .iter()
                .find(|e| u(e, "token") > token)
                .map(|e| (u(e, "unix_ms"), u(e, "token")))
        })?;
        let publication = wait(Duration::from_secs(30), || {
            boxes[other]
                .journal("publications.jsonl")
                .iter()
                .find(|p| u(p, "token") == elected.1)
                .map(|p| u(p, "unix_ms"))
        })?;
        elect.push(elected.0.saturating_sub(killed));
        first.push(publication.saturating_sub(killed));
        boxes[old].start()?;
    }
    println!("lease TTL {ttl} s");
    stats("failover (leader SIGKILLed -> new leader verified)", elect);
    stats(
        "failover (leader SIGKILLed -> its first publication attempt)",
        first,
    );

    // A change -> planned on every box.
    std::thread::sleep(Duration::from_secs(2));
    let mut change = Vec::new();
    let csv = std::fs::read_to_string(inputs.join("ShapedDevices.csv"))?;
    for n in 0..5 {
        let before = published(&boxes).unwrap_or(0);
        let written = now_ms();
        std::fs::write(
            inputs.join("ShapedDevices.csv"),
            format!("# change {n}\n{csv}"),
        )?;
        let everywhere = wait(Duration::from_secs(30), || {
            let g = published(&boxes).filter(|g| *g > before)?;
            let at: Option<Vec<u64>> = boxes
                .iter()
                .map(|b| {
                    b.journal("applies.jsonl")
                        .iter()
                        .find(|a| u(a, "generation") == g && a["ok"] == true)
                        .map(|a| u(a, "unix_ms"))
                })
                .collect();
            at.and_then(|t| t.into_iter().max())
        })?;
        change.push(everywhere.saturating_sub(written));
        std::thread::sleep(Duration::from_secs(2));
    }
    stats(
        "a change saved -> planned on every box (includes 1 s of waiting for the file to settle)",
        change,
    );
    drop(boxes);

    // What a publication costs etcd.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(sizes(&etcd))
}

async fn sizes(etcd: &EtcdCluster) -> Result<()> {
    let fleet = lqos_config::Fleet {
        endpoints: etcd.endpoints(),
        cluster: "bench-sizes".into(),
        name: "bench".into(),
        share: vec!["*".into()],
        standby_of: None,
        campaign: true,
        lease_ttl: Duration::from_secs(10),
        tls: None,
        user: None,
    };
    let client = lqos_cluster::connect(&fleet).await?;
    let keys = lqos_cluster::Keys::new(&fleet.cluster);
    let lease = lqos_cluster::Lease::grant(&client, fleet.lease_ttl).await?;
    let lead = lqos_cluster::campaign(&client, &keys, "bench", &lease).await?;
    for n in [10_000, 100_000] {
        let g = lqos_gen::generate(&lqos_gen::GenSpec::new(n));
        let snapshot = lqos_cluster::Snapshot {
            files: vec![
                (
                    "ShapedDevices.csv".into(),
                    g.shaped_devices_csv.into_bytes(),
                ),
                ("network.json".into(), g.network_json.into_bytes()),
            ],
        };
        let started = Instant::now();
        let m = lqos_cluster::publish(&client, &keys, &lead, &lease, "bench", &snapshot)
            .await?
            .context("published")?;
        let publish_ms = started.elapsed().as_millis();
        let started = Instant::now();
        let back = lqos_cluster::fetch(&client, &keys, &m).await?;
        ensure!(back == snapshot);
        println!(
            "{n} circuits: {} bytes of inputs, {} bytes in etcd (zstd, {} chunk(s) of at most 1 MiB), publish {publish_ms} ms, fetch+verify {} ms",
            m.bytes,
            m.compressed,
            m.chunks,
            started.elapsed().as_millis()
        );
    }
    Ok(())
}
