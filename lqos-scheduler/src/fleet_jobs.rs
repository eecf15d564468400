//! The fleet's refresh jobs (run by the fleet service as `refresh --publish-to FILE` on the
//! leader and `refresh --from-snapshot DIR --fence T:G --share ...` on every box), and the
//! explicit local mode (`refresh --local`). See docs/fleet.md.

use anyhow::Context;
use lqos_cluster::Snapshot;
use lqos_config::{Config, InputTexts};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// `TOKEN:GENERATION`.
pub fn parse_fence(text: Option<&str>) -> anyhow::Result<Option<lqos_bus::Fence>> {
    let Some(text) = text else { return Ok(None) };
    let (t, g) = text
        .split_once(':')
        .with_context(|| format!("--fence {text}: expected TOKEN:GENERATION"))?;
    Ok(Some(lqos_bus::Fence {
        token: t
            .parse()
            .with_context(|| format!("--fence {text}: bad token"))?,
        generation: g
            .parse()
            .with_context(|| format!("--fence {text}: bad generation"))?,
    }))
}

/// The leader's job: run the integrations, validate the inputs, and write exactly the bytes
/// that were validated to `file` (the service publishes them). Nothing is planned or applied.
pub fn publish_to(config_path: &Path, file: &Path, debug: bool) -> anyhow::Result<ExitCode> {
    let (config, _) = Config::load(config_path).context("loading the configuration")?;
    eprintln!("progress: 1/3 integrations");
    for line in lqos_scheduler::imports::run(&config, false) {
        eprintln!("{line}");
    }
    eprintln!("progress: 2/3 validating inputs");
    // Waits until nobody writes the files, then reads them once more as bytes: what is
    // published is what is validated here.
    if let Err(rejected) = lqos_scheduler::steady::load_steady(&config) {
        print(&rejected.diagnostics, debug);
        eprintln!("{rejected}: nothing published");
        return Ok(ExitCode::FAILURE);
    }
    let snapshot = Snapshot::read_dir(&config.lqos_directory)
        .with_context(|| format!("reading the inputs in {}", config.lqos_directory.display()))?;
    let get = |name: &str| {
        snapshot
            .files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    };
    let texts = InputTexts {
        shaped_devices: get("ShapedDevices.csv").unwrap_or_default(),
        network: std::str::from_utf8(get("network.json").unwrap_or_default())
            .context("network.json is not UTF-8")?,
        overrides: get("lqos_overrides.json")
            .map(std::str::from_utf8)
            .transpose()
            .context("lqos_overrides.json is not UTF-8")?,
    };
    let (inputs, diagnostics) = lqos_config::parse_inputs(&texts, &config.ip_ranges);
    let Some(inputs) = inputs else {
        print(&diagnostics, debug);
        eprintln!("inputs rejected (they changed while read?): nothing published");
        return Ok(ExitCode::FAILURE);
    };
    eprintln!("progress: 3/3 writing the snapshot");
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, snapshot.encode())
        .and_then(|()| std::fs::rename(&tmp, file))
        .with_context(|| format!("writing {}", file.display()))?;
    eprintln!(
        "published inputs ready: {} circuits, {} quarantined",
        inputs.circuits.len(),
        inputs.quarantined.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn print(d: &lqos_config::Diagnostics, debug: bool) {
    for item in d
        .iter()
        .filter(|i| debug || i.severity != lqos_config::Severity::Info)
    {
        eprintln!("{item}");
    }
}

/// The share `refresh --local` plans on a fleet box: `[fleet] share`, or for a standby the
/// share it applied last (from `state_directory/fleet/status.json`). `None`: not a fleet
/// box, or a standby that never applied anything (then everything is planned).
pub fn local_share(config_path: &Path) -> Option<Vec<String>> {
    let (config, _) = Config::load(config_path).ok()?;
    let fleet = config.fleet?;
    if !fleet.share.is_empty() {
        return Some(fleet.share);
    }
    let seen = lqos_config::fleet_status::FleetStatus::read(&config.state_directory)?;
    (!seen.me.share.is_empty()).then_some(seen.me.share)
}

/// `refresh --local` on a fleet box: lqosd shows it as an urgent issue (the box is off the
/// fleet's plan until the next publication).
pub fn raise_local_mode(config: &Config) {
    let issue = lqos_bus::Request::RaiseIssue(lqos_bus::UrgentIssue {
        source: "fleet".into(),
        severity: lqos_bus::IssueSeverity::Warning,
        code: "fleet_local_mode".into(),
        message: "refresh --local: this fleet box shapes its local inputs, not the fleet's publication (until the next one)".into(),
        context: String::new(),
    });
    let socket = config.lqosd.bus_socket.clone();
    let sent = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| {
            rt.block_on(async {
                let mut c = lqos_bus::Client::connect(&socket, Duration::from_secs(2)).await?;
                c.request_with_timeout(&issue, Duration::from_secs(2)).await
            })
        });
    if !matches!(sent, Ok(Ok(_))) {
        eprintln!("warning: cannot tell lqosd about the local mode");
    }
    eprintln!(
        "fleet: explicit local mode (no etcd); the next fleet publication replaces this plan"
    );
}
