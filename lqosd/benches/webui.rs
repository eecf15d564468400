//! The WebUI under load: lqosd's real router and state with 100k circuits (generated inputs,
//! a real plan, 20k active hosts, flow telemetry with 50k active flows and 5 minutes of RTT
//! samples on 10k circuits), served on loopback; `wrk` in a second process measures latency
//! at 200 connections, with `/health` (a constant JSON) as the baseline of the same run, while
//! a thread does the flow and queue readers' writes once a second; then headless Chromium
//! times the circuits page until it is usable.
//!
//! `cargo bench -p lqosd --bench webui` (needs wrk; Chromium and webui/node_modules for the
//! page timing, all installed by scripts/setup.sh). Env: LQOS_BENCH_CIRCUITS (100000),
//! LQOS_BENCH_SECS per wrk run (10), LQOS_BENCH_RUNS (3, the median is printed),
//! LQOS_BENCH_FLOWS (50000), LQOS_BENCH_RTT_CIRCUITS (10000), LQOS_BENCH_READERS (1: the
//! readers write during the runs; 0: the telemetry stands still), LQOS_BENCH_ONLY (run only
//! the endpoints whose label contains this text, and the baseline).
//! LQOS_BENCH_GEO=1 (the geo pages' routes, with LQOS_BENCH_FLOWS live flows to 2000 ASNs in
//! 50 countries;
//! every site of the generated network.json gets coordinates for the site map),
//! LQOS_BENCH_ONLY (comma-separated substrings: only the endpoints whose label has one, plus
//! the baseline; e.g. `/api/asn,/api/geo,/api/sitemap,/api/about` for the geo routes).
//!
//! The kernel side is not built: a full apply of 100k circuits takes many minutes on this
//! kernel (docs/benchmarks.md) and changes nothing the API reads (the live plan, as data).

use anyhow::Context;
use lqos_bus::StatusReport;
use lqosd::prefix_index::PrefixIndex;
use lqosd::shared::Shared;
use lqosd::throughput::{Sample, UnknownHost};
use lqosd::web::{self, users, WebState};
use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

#[path = "webui_fixture/telemetry.rs"]
mod telemetry;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Logs in over HTTP; the session cookie.
fn login(port: u16, user: &str, password: &str) -> anyhow::Result<String> {
    let body = format!("{{\"username\":\"{user}\",\"password\":\"{password}\"}}");
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .with_context(|| format!("no session cookie in {answer}"))
}

/// What wrk asks for: one path, or a different search each time (a Lua script).
enum Load {
    Path(String),
    Searches(std::path::PathBuf),
}

/// wrk's latency percentiles and rate: (p50 ms, p99 ms, requests/s).
fn wrk(base: &str, load: &Load, cookie: &str, secs: usize) -> anyhow::Result<(f64, f64, f64)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c200", &format!("-d{secs}s"), "--latency", "-H"])
        .arg(format!("Cookie: {cookie}"));
    let url = match load {
        Load::Path(p) => format!("{base}{p}"),
        Load::Searches(script) => {
            cmd.arg("-s").arg(script);
            format!("{base}/")
        }
    };
    let out = cmd
        .arg(&url)
        .output()
        .context("running wrk (scripts/setup.sh installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ms = |v: &str| -> Option<f64> {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => n / 1e3,
            "ms" => n,
            "s" => n * 1e3,
            _ => return None,
        })
    };
    let pct = |p: &str| {
        text.lines().map(str::split_whitespace).find_map(|mut w| {
            (w.next() == Some(p))
                .then(|| w.next().and_then(ms))
                .flatten()
        })
    };
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok());
    let non2xx = text.lines().any(|l| l.contains("Non-2xx"));
    anyhow::ensure!(!non2xx, "{url}: some answers were not 2xx:\n{text}");
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match (pct("50%"), pct("99%"), rps) {
        (Some(a), Some(b), Some(c)) => Ok((a, b, c)),
        _ => anyhow::bail!("cannot read wrk's output:\n{text}"),
    }
}

/// Percent-encodes a query value (node names have spaces).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The parent node of circuit `id`, percent-encoded.
fn busy_parent(inputs: &lqos_config::Inputs, id: &str) -> Option<String> {
    let c = inputs.circuits.iter().find(|c| c.id == id)?;
    Some(urlencode(&inputs.network.nodes[c.parent?].name))
}

/// Adds `latitude`/`longitude` to every node with children (the sites; APs inherit them),
/// spread over a few degrees, for the site map.
fn with_coordinates(network_json: &str) -> anyhow::Result<String> {
    fn walk(nodes: &mut serde_json::Map<String, serde_json::Value>, n: &mut u32) {
        for node in nodes.values_mut() {
            let Some(obj) = node.as_object_mut() else {
                continue;
            };
            let has_children = obj
                .get("children")
                .and_then(|c| c.as_object())
                .is_some_and(|c| !c.is_empty());
            if has_children {
                *n += 1;
                let f = f64::from(*n);
                obj.insert("latitude".into(), (40.0 + (f * 0.37) % 8.0).into());
                obj.insert("longitude".into(), (-100.0 + (f * 0.53) % 12.0).into());
            }
            if let Some(children) = obj.get_mut("children").and_then(|c| c.as_object_mut()) {
                walk(children, n);
            }
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(network_json)?;
    let mut n = 0;
    if let Some(top) = v.as_object_mut() {
        walk(top, &mut n);
    }
    eprintln!("network.json: {n} located sites");
    Ok(serde_json::to_string(&v)?)
}

/// `flows` live flows of the mapped circuits to 2000 ASNs (10.a.b.0/24 each, 50 countries),
/// ingested twice (a baseline, then a second of traffic with RTT samples).
fn geo_traffic(
    shared: &Shared,
    mappings: &[lqos_plan::IpMapping],
    flows: usize,
) -> anyhow::Result<()> {
    use lqos_ebpf::{LqosFlow, LqosFlowKey, FLOW_DOWN, FLOW_UP};
    use lqos_telemetry::geo::build::{AsnBuilder, CountryBuilder};
    const CC: [&str; 50] = [
        "US", "CA", "MX", "BR", "AR", "CL", "CO", "PE", "GB", "FR", "DE", "NL", "BE", "ES", "PT",
        "IT", "CH", "AT", "SE", "NO", "FI", "DK", "PL", "CZ", "RO", "GR", "TR", "RU", "UA", "IN",
        "CN", "JP", "KR", "SG", "ID", "TH", "VN", "PH", "AU", "NZ", "ZA", "NG", "KE", "EG", "MA",
        "SA", "AE", "IL", "IR", "PK",
    ];
    let (mut asn_csv, mut cc_csv) = (String::new(), String::new());
    for i in 0..2000u32 {
        let (a, b) = (i / 256, i % 256);
        asn_csv += &format!(
            "10.{a}.{b}.0,10.{a}.{b}.255,{},Bench Network {i}\n",
            65000 + i
        );
        cc_csv += &format!(
            "10.{a}.{b}.0,10.{a}.{b}.255,{}\n",
            CC[i as usize % CC.len()]
        );
    }
    let mut ab = AsnBuilder::new();
    ab.add_csv(asn_csv.as_bytes(), "bench-asn.csv")?;
    let mut cb = CountryBuilder::new();
    cb.add_csv(cc_csv.as_bytes(), "bench-country.csv")?;
    let geo = lqos_telemetry::geo::GeoTables::new(
        Some(ab.finish("bench ASNs")?.0),
        Some(cb.finish("bench countries")?.0),
    );
    let hub = &shared.telemetry;
    hub.set_geo(Arc::new(geo));
    let mut keys = Vec::with_capacity(flows);
    {
        let mut ix = hub
            .circuits
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        *ix = lqosd::circuit_index::CircuitIndex::new(mappings.len() as u32 + 1);
        for (i, m) in mappings.iter().cycle().take(flows).enumerate() {
            let circuit = ix.map(m.prefix, &m.circuit_id);
            let j = (i % 2000) as u32;
            let remote = std::net::Ipv4Addr::new(10, (j / 256) as u8, (j % 256) as u8, 1);
            let local = match m.prefix.addr() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            };
            let key = LqosFlowKey {
                remote: remote.to_ipv6_mapped().octets(),
                local,
                remote_port: 443u16.to_be(),
                local_port: (10_000 + (i % 50_000) as u16).to_be(),
                proto: 6,
                pad: [0; 3],
            };
            keys.push((key, circuit));
        }
    }
    let sec = 1_000_000_000u64;
    let mut state = hub.write();
    for (pass, now) in [(0u64, 10 * sec), (1, 11 * sec)] {
        let batch: Vec<(LqosFlowKey, LqosFlow)> = keys
            .iter()
            .enumerate()
            .map(|(i, (k, circuit))| {
                let mut f = LqosFlow {
                    first_seen_ns: sec,
                    last_seen_ns: now,
                    circuit: *circuit,
                    ..Default::default()
                };
                f.dir[FLOW_DOWN].bytes = pass * (10_000 + i as u64 * 7);
                f.dir[FLOW_DOWN].packets = (pass * 100) as u32;
                f.dir[FLOW_DOWN].retransmits = (pass * (i as u64 % 3)) as u32;
                f.dir[FLOW_UP].bytes = pass * 1_000;
                f.dir[FLOW_UP].packets = (pass * 100) as u32;
                if pass == 1 {
                    f.sample_ns[FLOW_UP] = now;
                    f.rtt_us[FLOW_UP] = 5_000 + (i as u32 % 200) * 1_000;
                }
                (*k, f)
            })
            .collect();
        state.telemetry.ingest_flows(now, &batch);
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let circuits = env("LQOS_BENCH_CIRCUITS", 100_000);
    let secs = env("LQOS_BENCH_SECS", 10);
    let runs = env("LQOS_BENCH_RUNS", 3);
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let g = lqos_gen::generate(&lqos_gen::GenSpec::new(circuits));
    std::fs::write(d.join("ShapedDevices.csv"), &g.shaped_devices_csv)?;
    std::fs::write(d.join("network.json"), with_coordinates(&g.network_json)?)?;
    // No leaf qdiscs: Linux numbers at most 64,511 qdiscs per interface (docs/planning.md),
    // and the WebUI reads the same plan either way.
    // The maps' data (country centroids, world outlines) from scripts/geo-data.sh's output.
    let geo_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/geo");
    let conf = format!(
        "lqos_directory = \"{0}\"\nstate_directory = \"{0}/state\"\n[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"none\"\n[geo]\ndata_dir = \"{1}\"\n",
        d.display(),
        geo_dir.display()
    );
    std::fs::write(d.join("lqos.conf"), &conf)?;
    let config = lqos_config::Config::parse(&conf, "lqos.conf", d)
        .0
        .context("config")?;
    let t = Instant::now();
    let loaded = lqos_config::load_inputs(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = lqos_scheduler::plan::AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let planned = lqos_scheduler::plan::plan(&loaded.inputs, &config, 2, None, opts)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The CPU Weights page reads the scheduler's rebalance preview of the live generation.
    let mut preview = planned.preview;
    preview.generation = Some(1);
    preview.save(&config.state_directory)?;
    let plan = planned.plan;
    eprintln!(
        "inputs and plan for {circuits} circuits: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (n_flows, n_rtt) = (
        env("LQOS_BENCH_FLOWS", 50_000),
        env("LQOS_BENCH_RTT_CIRCUITS", 10_000),
    );
    let (t, rss) = (Instant::now(), rss_mib());
    let mut fixture = telemetry::Fixture::new(&plan, n_flows, n_rtt)?;
    fixture.warm();
    let busy = fixture.busy[0].clone();
    eprintln!(
        "telemetry: {n_flows} flows over {n_rtt} circuits, 5 min of RTT windows: {:.1} s, +{:.0} MiB RSS",
        t.elapsed().as_secs_f64(),
        rss_mib() - rss
    );
    let rss_before = rss_mib();
    let status = StatusReport {
        applied_generation: Some(1),
        circuits: circuits as u64,
        mapped_ips: plan.mappings.len() as u64,
        ..StatusReport::default()
    };
    let shared = Arc::new(
        Shared::new(PrefixIndex::new(&plan.mappings), status).with_telemetry(fixture.hub.clone()),
    );
    let t = Instant::now();
    shared.set_layout(lqosd::queue_layout::QueueLayout::of(&plan));
    eprintln!(
        "the live plan by CPU queue (once per apply): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    // 20k busy hosts (one per fifth circuit), 1000 unknown ones.
    let hosts: Vec<(IpAddr, u64, u64)> = plan
        .mappings
        .iter()
        .step_by(5)
        .take(20_000)
        .enumerate()
        .map(|(i, m)| {
            (
                m.prefix.addr(),
                1_000_000 + i as u64 * 977,
                100_000 + i as u64 * 13,
            )
        })
        .collect();
    let unknown_hosts = (0..1000u32)
        .map(|i| UnknownHost {
            addr: IpAddr::from([100, 127, (i / 250) as u8, (i % 250) as u8]),
            down_bps: u64::from(i) * 10,
            up_bps: 0,
            bytes_down: 1,
            bytes_up: 0,
            last_seen_unix: 1,
        })
        .collect();
    shared.set_sample(Sample {
        sampled_unix: 1,
        interval_ms: 1000,
        hosts,
        unknown: (1000, 100),
        unknown_hosts,
    });
    users::add(
        &config.web_users_path(),
        "bench",
        "bench password",
        users::Role::Admin,
    )?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The geo pages' fixture replaces the circuit indexes: only when asked (LQOS_BENCH_GEO=1).
    let geo = env("LQOS_BENCH_GEO", 0) == 1;
    if geo {
        let flows = env("LQOS_BENCH_FLOWS", 50_000);
        let t = Instant::now();
        geo_traffic(&shared, &plan.mappings, flows)?;
        eprintln!(
            "{flows} flows to 2000 ASNs ingested: {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let state = runtime
        .block_on(async { WebState::new(shared.clone(), config.clone(), d.join("lqos.conf")) });
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let port = listener.local_addr()?.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let timeouts = web::Timeouts::default();
    let server = runtime.spawn(web::serve_on(state, listener, timeouts, async {
        let _ = stop_rx.await;
    }));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    eprintln!(
        "WebUI state for {circuits} circuits: +{:.0} MiB RSS (process {:.0} MiB)",
        rss_mib() - rss_before,
        rss_mib()
    );
    let cookie = login(port, "bench", "bench password")?;
    let base = format!("http://127.0.0.1:{port}");
    // Searches for 1000 different circuits' names (first word: many matches each), so no
    // answer comes from the recent-searches cache.
    let mut terms: Vec<String> = loaded
        .inputs
        .circuits
        .iter()
        .step_by((circuits / 1000).max(1))
        .filter_map(|c| c.name.split([' ', ',']).next())
        .filter(|w| w.chars().all(|ch| ch.is_ascii_alphanumeric()) && w.len() > 2)
        .map(str::to_owned)
        .collect();
    terms.sort();
    terms.dedup();
    let lua = d.join("searches.lua");
    std::fs::write(
        &lua,
        format!(
            "local terms = {{{}}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", \"/api/circuits?per_page=50&q=\" .. terms[(i % #terms) + 1])\nend\n",
            terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(",")
        ),
    )?;
    // The first top-level node of the plan, for the node answer (its circuits: at most 500).
    let top_node = plan
        .interfaces
        .iter()
        .flat_map(|i| &i.htbs)
        .flat_map(|q| &q.classes)
        .find_map(|c| match (&c.owner, c.parent) {
            (lqos_plan::ClassOwner::Node(n), Some(p)) if p.minor == lqos_plan::QUEUE_ROOT_MINOR => {
                Some(n.clone())
            }
            _ => None,
        })
        .context("no top-level node in the plan")?;
    let mut endpoints = vec![
        ("/health (baseline)", Load::Path("/health".into())),
        ("/api/dashboard", Load::Path("/api/dashboard".into())),
        (
            "/api/circuits, page 1000 of the list",
            Load::Path("/api/circuits?page=1000&per_page=50".into()),
        ),
        (
            "/api/circuits, the same search (paging its results)",
            Load::Path(format!("/api/circuits?q={}&per_page=50&page=2", terms[0])),
        ),
        (
            "/api/circuits, a different search each time",
            Load::Searches(lua),
        ),
        ("/api/tree (top level)", Load::Path("/api/tree".into())),
        (
            "/api/cpu/tree (top level)",
            Load::Path("/api/cpu/tree".into()),
        ),
        (
            "/api/cpu/tree?node= (a top-level node)",
            Load::Path(format!("/api/cpu/tree?node={}", urlencode(&top_node))),
        ),
        ("/api/cpu/weights", Load::Path("/api/cpu/weights".into())),
        (
            "/api/circuits/{id}",
            Load::Path(format!(
                "/api/circuits/{}",
                loaded.inputs.circuits[circuits / 2].id
            )),
        ),
        (
            "/api/circuits/{id}/telemetry (first load: 5 min of RTT slots, 300 s of queues)",
            Load::Path(format!("/api/circuits/{busy}/telemetry")),
        ),
        (
            "/api/circuits/{id}/telemetry?queue_since= (a page's 2-s poll)",
            Load::Path(format!(
                "/api/circuits/{busy}/telemetry?queue_since={}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs()
                    + 24 * 3600
            )),
        ),
        (
            "/api/circuits/{id}/flows",
            Load::Path(format!("/api/circuits/{busy}/flows")),
        ),
        (
            "/api/tree?node= (the busy circuits' parent, with roll-ups)",
            Load::Path(format!(
                "/api/tree?node={}",
                fixture
                    .busy
                    .iter()
                    .find_map(|id| busy_parent(&loaded.inputs, id))
                    .unwrap_or_default()
            )),
        ),
    ];
    let geo_endpoints = vec![
        ("/api/asns (by traffic)", Load::Path("/api/asns".into())),
        (
            "/api/asns?sort=rtt&limit=100",
            Load::Path("/api/asns?sort=rtt&limit=100".into()),
        ),
        ("/api/asns/{asn}", Load::Path("/api/asns/65007".into())),
        (
            "/api/asn-search (name)",
            Load::Path("/api/asn-search?q=network%2012".into()),
        ),
        (
            "/api/geo/countries",
            Load::Path("/api/geo/countries".into()),
        ),
        ("/api/sitemap", Load::Path("/api/sitemap".into())),
        ("/api/about", Load::Path("/api/about".into())),
    ];
    if geo {
        endpoints.extend(geo_endpoints);
    }
    let only = std::env::var("LQOS_BENCH_ONLY").unwrap_or_default();
    let endpoints: Vec<_> = endpoints
        .into_iter()
        .enumerate()
        .filter(|(i, (label, _))| {
            *i == 0 || only.is_empty() || only.split(',').any(|o| label.contains(o))
        })
        .map(|(_, e)| e)
        .collect();
    // The readers write once a second while wrk runs (as lqosd's flow and queue readers do).
    let stop = Arc::new(AtomicBool::new(false));
    let readers = (env("LQOS_BENCH_READERS", 1) == 1).then(|| fixture.spawn(stop.clone()));
    println!(
        "\nWebUI API, {circuits} circuits, wrk -t2 -c200 -d{secs}s on loopback, median of {runs} runs ({} search terms)",
        terms.len()
    );
    println!("| endpoint | p50 ms | p99 ms | requests/s | p99 vs baseline |");
    println!("|---|---:|---:|---:|---:|");
    let mut baseline_p99 = None;
    for (label, load) in &endpoints {
        if !only.is_empty()
            && !label.starts_with("/health")
            && !only.split(',').any(|o| label.contains(o))
        {
            continue;
        }
        let (mut p50, mut p99, mut rps) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            let (a, b, c) = wrk(&base, load, &cookie, secs)?;
            p50.push(a);
            p99.push(b);
            rps.push(c);
        }
        let (p50, p99, rps) = (median(p50), median(p99), median(rps));
        let base_p99 = *baseline_p99.get_or_insert(p99);
        println!(
            "| {label} | {p50:.2} | {p99:.2} | {rps:.0} | {:.1}x |",
            p99 / base_p99
        );
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(readers) = readers {
        let (mut flows, mut queues) = readers
            .join()
            .map_err(|_| anyhow::anyhow!("the readers' thread panicked"))?;
        let p99 = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() * 99 / 100).copied().unwrap_or(0.0)
        };
        println!(
            "\nreaders' longest write-lock hold per pass, median / p99 (ms): flow pass (chunks) {:.1} / {:.1} ({} passes), queue pass {:.1} / {:.1}",
            median(flows.clone()),
            p99(&mut flows),
            flows.len(),
            median(queues.clone()),
            p99(&mut queues)
        );
    }

    // The page in a real browser (skipped, loudly, without Chromium or the driver).
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../webui/tests/page-timing.mjs");
    // The globe and the ASN page need the geo fixture's flows: timed only with it.
    let out = Command::new("node")
        .arg(&script)
        .args([&base, "bench", "bench password"])
        .env("LQOS_TIMING_GEO", if geo { "1" } else { "0" })
        .output();
    match out {
        Ok(o) if o.status.success() => print!("\n{}", String::from_utf8_lossy(&o.stdout)),
        Ok(o) => eprintln!(
            "page timing failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("page timing not run: node: {e}"),
    }
    let _ = stop_tx.send(());
    let _ = runtime.block_on(server);
    Ok(())
}
