//! Writes the starting inputs of every target into `DIR/<target>/` (default
//! `lqos-fuzz/seeds`): etc/'s files and tests/fixtures/inputs for the input files, encoded
//! requests and responses (with a plan of etc/'s inputs) for the bus, JSON bodies for the
//! WebUI. `scripts/fuzz.sh --seed` starts from these; rerun it when a format changes.

use anyhow::{bail, Context, Result};
use lqos_bus::report::{IpLookup, IssueSeverity, Rate, SchedulerReport, UrgentIssue};
use lqos_bus::{encode_request, encode_response, FrameHeader, Request, Response};
use lqos_config::{Config, InputTexts};
use std::path::{Path, PathBuf};

#[path = "../tests/support/integration_seeds.rs"]
mod integration_seeds;

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("lqos-fuzz/seeds"));
    let etc = root.join("etc");
    let fixtures = root.join("tests/fixtures/inputs");
    let copy = |target: &str, files: &[PathBuf]| -> Result<()> {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        for f in files {
            let (from, name) = (f.parent().and_then(Path::file_name), f.file_name());
            let (Some(from), Some(name)) = (from, name) else {
                bail!("{}: not a file in a directory", f.display());
            };
            let to = dir.join(format!(
                "{}-{}",
                from.to_string_lossy(),
                name.to_string_lossy()
            ));
            let text = std::fs::read(f).with_context(|| format!("{}", f.display()))?;
            let text = match (from.to_str(), f.extension().and_then(|e| e.to_str())) {
                (Some("etc"), Some("csv")) => shorten(&text, 12),
                (Some("etc"), _) => shorten(&text, usize::MAX),
                _ => text,
            };
            std::fs::write(to, text)?;
        }
        Ok(())
    };
    let with_ext = |ext: &str| -> Result<Vec<PathBuf>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(&fixtures)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == ext) {
                v.push(p);
            }
        }
        Ok(v)
    };
    let mut csvs = with_ext("csv")?;
    csvs.push(etc.join("ShapedDevices.csv"));
    copy("shaped_devices", &csvs)?;
    let mut jsons = with_ext("json")?;
    jsons.push(etc.join("network.json"));
    copy("network_json", &jsons)?;
    copy("overrides", &[etc.join("lqos_overrides.json")])?;
    let mut confs = with_ext("conf")?;
    confs.push(etc.join("lqos.conf"));
    copy("lqos_conf", &confs)?;

    let (requests, responses) = messages(&etc)?;
    let write = |target: &str, name: String, bytes: &[u8]| -> Result<()> {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        Ok(std::fs::write(dir.join(name), bytes)?)
    };
    let frame = |payload: &[u8]| -> Vec<u8> {
        let mut v = FrameHeader::new(payload.len() as u32).to_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    };
    for (mode, kind, payloads) in [(0u8, "request", &requests), (1u8, "response", &responses)] {
        let mut stream = vec![mode];
        for (i, p) in payloads.iter().enumerate() {
            write(
                "bus_messages",
                format!("{kind}-{i}"),
                &[&[mode][..], p].concat(),
            )?;
            if p.len() < 4096 {
                stream.extend(frame(p));
            }
        }
        write("bus_frames", format!("{kind}s"), &stream)?;
    }
    let bodies = [
        (
            0u8,
            r#"{"circuit_id":"9001","name":"New","parent_node":"Hilltop AP North","download_min_mbps":5,"upload_min_mbps":1,"download_max_mbps":10,"upload_max_mbps":2,"sqm":"","devices":[{"device_id":"9001-1","name":"R","mac":"","ipv4":"100.64.9.1","ipv6":"","comment":""}]}"#,
        ),
        (
            1u8,
            r#"{"circuit_id":"1001","name":"Garcia","download_min_mbps":50,"upload_min_mbps":10,"download_max_mbps":100,"upload_max_mbps":20,"sqm":"cake","devices":[{"device_id":"1001-1","name":"R","ipv4":"100.64.1.10, 100.64.1.11","ipv6":"2001:db8:1:100::/56"}]}"#,
        ),
        (2u8, r#"{"username":"admin","password":"correct horse"}"#),
    ];
    for (i, (mode, body)) in bodies.iter().enumerate() {
        write(
            "webui_bodies",
            format!("body-{i}"),
            &[&[*mode][..], body.as_bytes()].concat(),
        )?;
    }
    for (i, input) in integration_seeds::inputs()?.iter().enumerate() {
        write("integrations", format!("crm-{i}"), input)?;
    }
    println!("seeds written to {}", out.display());
    Ok(())
}

/// One of etc/'s commented examples without its comment and blank lines, and with at most
/// `rows` lines after the first: every mutation of a seed carries the seed's bulk, so small
/// seeds keep the fuzzer fast and the corpus small (tests/fixtures/inputs has comments and
/// layouts of its own).
fn shorten(text: &[u8], rows: usize) -> Vec<u8> {
    text.split_inclusive(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty() && !l.trim_ascii_start().starts_with(b"#"))
        .take(rows.saturating_add(1))
        .flatten()
        .copied()
        .collect()
}

/// Encoded message payloads.
type Payloads = Vec<Vec<u8>>;

/// Encoded requests (a plan of etc/'s inputs among them) and responses.
fn messages(etc: &Path) -> Result<(Payloads, Payloads)> {
    let read = |name: &str| std::fs::read_to_string(etc.join(name));
    let (config, diags) = Config::parse(&read("lqos.conf")?, "lqos.conf", etc);
    let Some(config) = config else {
        bail!("etc/lqos.conf: {diags:?}")
    };
    let csv = read("ShapedDevices.csv")?;
    let (network, overrides) = (read("network.json")?, read("lqos_overrides.json")?);
    let texts = InputTexts {
        shaped_devices: csv.as_bytes(),
        network: &network,
        overrides: Some(&overrides),
    };
    let (Some(inputs), _) = lqos_config::parse_inputs(&texts, &config.ip_ranges) else {
        bail!("etc/'s inputs do not validate");
    };
    let opts = lqos_scheduler::plan::AssignOptions {
        binpacking: false,
        rebalance: false,
    };
    let planned = lqos_scheduler::plan::plan(&inputs, &config, 2, None, opts)?;
    let issue = UrgentIssue {
        source: "scheduler".into(),
        severity: IssueSeverity::Error,
        code: "inputs".into(),
        message: "rejected".into(),
        context: "line 3".into(),
    };
    let report = SchedulerReport {
        phase: "idle".into(),
        sent_unix: 1,
        last_success_unix: Some(1),
        last_error: None,
        consecutive_failures: 0,
        last_duration_ms: Some(5),
        next_run_unix: Some(2),
        step: "planning".into(),
        percent: 50,
        integrations: Vec::new(),
    };
    let requests = [
        Request::Ping,
        Request::SubmitPlan {
            generation: 7,
            plan: planned.plan,
        },
        Request::Status,
        Request::SchedulerReport(report.clone()),
        Request::RaiseIssue(issue),
        Request::AckIssue { id: 3 },
        Request::LookupIp {
            addr: "100.64.1.10".parse()?,
        },
        Request::Throughput { top: 10 },
        Request::CircuitRate {
            circuit_id: "1001".into(),
        },
    ];
    let lookup = IpLookup {
        prefix: "100.64.1.10/32".into(),
        circuit_id: "1001".into(),
        cpu: 1,
        download: lqos_plan::ClassId::new(1, 5),
        upload: lqos_plan::ClassId::new(2, 5),
    };
    let responses = [
        Response::Pong {
            version: "0.1.0".into(),
        },
        Response::Rejected {
            reasons: vec!["no".into()],
        },
        Response::Unchanged { generation: 7 },
        Response::Error {
            message: "bad".into(),
        },
        Response::Ack,
        Response::Scheduler(Some((report, 3))),
        Response::IpLookup(Some(lookup)),
        Response::CircuitRate(Some(Rate {
            name: "Garcia".into(),
            circuit_id: Some("1001".into()),
            down_bps: 5,
            up_bps: 6,
        })),
    ];
    let requests = requests
        .iter()
        .map(encode_request)
        .collect::<Result<_, _>>()?;
    let responses = responses
        .iter()
        .map(encode_response)
        .collect::<Result<_, _>>()?;
    Ok((requests, responses))
}
