//! `lqos support`: one .tar.gz an operator attaches to a bug report. Everything in it is text
//! they can read first (`MANIFEST.txt` lists the parts). Secrets of lqos.conf are hidden as in
//! the WebUI; nothing that identifies a subscriber goes in (IP and MAC addresses, circuit and
//! device ids, names and comments are replaced) unless `--with-subscriber-data`, which also adds
//! the input files themselves. A part that cannot be collected says why instead.

mod facts;
mod scrub;

use anyhow::Context;
use lqos_bus::{Request, Response};
use lqos_cli::cli::SupportArgs;
use lqos_config::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of the bundle.
struct Part {
    name: String,
    text: String,
    /// Subscriber data possible: scrubbed unless `--with-subscriber-data`.
    personal: bool,
}

fn part(name: &str, text: String, personal: bool) -> Part {
    Part {
        name: name.to_owned(),
        text,
        personal,
    }
}

/// Collects the bundle and writes it; returns its path.
pub fn run(
    config_path: &Path,
    socket: Option<PathBuf>,
    args: &SupportArgs,
) -> anyhow::Result<PathBuf> {
    let conf_text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let loaded = Config::load(config_path);
    let config = loaded.as_ref().ok().map(|(c, _)| c);
    let mut parts = vec![
        part("versions.txt", facts::versions(), false),
        part("kernel.txt", facts::kernel(), false),
        part(
            "lqos.conf",
            lqos_config::redact::redact_secrets(&conf_text, "(hidden)").unwrap_or_else(|| {
                "# lqos.conf does not parse as TOML: left out (its secrets could not be told apart)\n"
                    .into()
            }),
            false,
        ),
    ];
    let Some(config) = config else {
        let why = loaded.err().map_or(String::new(), |e| format!("{e:#}"));
        parts.push(part("validation.txt", why, true));
        return write(parts, args, "lqos", &scrub::Scrubber::new(""));
    };
    let interfaces = facts::interface_names(config);
    parts.push(part("nics.txt", facts::nics(&interfaces), false));
    parts.push(part("validation.txt", facts::validation(config_path), true));
    parts.push(part("tc.txt", facts::tc_summary(&interfaces), false));
    parts.push(part("bpf.txt", facts::bpf_summary(config), false));
    parts.push(part("logs.txt", facts::service_logs(), true));
    let socket = socket.unwrap_or_else(|| config.lqosd.bus_socket.clone());
    let (status, issues) = ask_lqosd(&socket);
    parts.push(part("status.txt", status, false));
    parts.push(part("urgent-issues.txt", issues, true));
    // Decoded as the scheduler reads it (UTF-8 or UTF-16 with a byte order mark).
    let csv = std::fs::read(config.shaped_devices_path())
        .map(|b| {
            lqos_config::text_encoding::decode(&b).map_or_else(
                |_| String::from_utf8_lossy(&b).into_owned(),
                |(text, _)| text,
            )
        })
        .unwrap_or_default();
    if args.with_subscriber_data {
        parts.push(part("ShapedDevices.csv", csv.clone(), true));
        let net = std::fs::read_to_string(config.network_json_path())
            .unwrap_or_else(|e| format!("cannot read: {e}"));
        parts.push(part("network.json", net, true));
    }
    write(parts, args, &config.node_name, &scrub::Scrubber::new(&csv))
}

/// lqosd's status and urgent issues, as `lqos status` and `lqos issues` print them.
fn ask_lqosd(socket: &Path) -> (String, String) {
    let answer = |request: Request| -> Result<Response, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(async {
                let mut c = lqos_bus::Client::connect(socket, Duration::from_secs(3)).await?;
                c.request(&request).await
            })
            .map_err(|e| {
                format!(
                    "lqosd at {} does not answer: {}",
                    socket.display(),
                    e.chain()
                )
            })
    };
    let mut status = Vec::new();
    let shown = match (answer(Request::Status), answer(Request::SchedulerStatus)) {
        (Ok(Response::Status(s)), Ok(Response::Scheduler(r))) => {
            crate::show::status(&mut status, &s, r.as_ref()).map_err(|e| e.to_string())
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
        other => Err(format!("unexpected answer: {other:?}")),
    };
    let status = match shown {
        Ok(()) => String::from_utf8_lossy(&status).into_owned(),
        Err(e) => e,
    };
    let mut issues = Vec::new();
    let issues = match answer(Request::ListIssues) {
        Ok(Response::Issues(list)) => match crate::show::issues(&mut issues, &list) {
            Ok(()) => String::from_utf8_lossy(&issues).into_owned(),
            Err(e) => e.to_string(),
        },
        Ok(other) => format!("unexpected answer: {other:?}"),
        Err(e) => e,
    };
    (status, issues)
}

fn write(
    parts: Vec<Part>,
    args: &SupportArgs,
    node: &str,
    scrubber: &scrub::Scrubber,
) -> anyhow::Result<PathBuf> {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let node: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = format!("lqos-support-{node}-{unix}");
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{dir}.tar.gz")));
    // Logs and configuration: readable by its owner only.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
    }
    .with_context(|| format!("creating {}", path.display()))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    let mut manifest = format!(
        "lqos support bundle, {} (lqos {})\nsubscriber data: {}\n\n",
        facts::now_utc(),
        env!("CARGO_PKG_VERSION"),
        if args.with_subscriber_data {
            "included (--with-subscriber-data)".to_owned()
        } else {
            format!(
                "left out: IP and MAC addresses and {} circuit/device ids, names and comments replaced by {}",
                scrubber.identifiers,
                scrub::REDACTED
            )
        }
    );
    for p in &parts {
        manifest += &format!("{:<22} {} bytes\n", p.name, p.text.len());
    }
    let all = std::iter::once(part("MANIFEST.txt", manifest, false)).chain(parts);
    for p in all {
        let text = if p.personal && !args.with_subscriber_data {
            scrubber.scrub(&p.text)
        } else {
            p.text
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(unix);
        header.set_cksum();
        tar.append_data(&mut header, format!("{dir}/{}", p.name), text.as_bytes())
            .with_context(|| format!("writing {} into {}", p.name, path.display()))?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .with_context(|| format!("finishing {}", path.display()))?;
    Ok(path)
}
