//! The leader's side: campaign, then publish the validated inputs after every change (and
//! every `queue_refresh_interval_mins`), fenced by the leadership, until the lease is lost or
//! the service stops (then resign, so the next box leads at once).

use super::journal;
use crate::service::{job, watch};
use lqos_cluster::{campaign, connect, publish, resign, ClusterError, Keys, Lease, Snapshot};
use lqos_config::Config;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::{info, warn};

#[derive(Serialize)]
struct Publication<'a> {
    name: &'a str,
    token: u64,
    generation: Option<u64>,
    hash: Option<&'a str>,
    bytes: Option<u64>,
    compressed: Option<u64>,
    succeeded: bool,
    /// Same hash as the last publication: nothing written.
    skipped: bool,
    error: Option<String>,
}

/// Campaigns and leads until `stop` says so (`Ok`) or leadership is lost (`Err`).
pub async fn term(
    exe: &Path,
    config_path: &Path,
    config: &Config,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    shared: &super::Shared,
) -> Result<(), ClusterError> {
    let Some(fleet) = &config.fleet else {
        return Ok(());
    };
    let keys = Keys::new(&fleet.cluster);
    let client = connect(fleet).await?;
    let lease = Lease::grant(&client, fleet.lease_ttl).await?;
    info!(
        lease = format!("{:x}", lease.id),
        "fleet: campaigning for leadership"
    );
    let leadership = tokio::select! {
        l = campaign(&client, &keys, &fleet.name, &lease) => l?,
        () = super::stopped(stop) => {
            lease.revoke(&client).await;
            return Ok(());
        }
    };
    info!(
        token = leadership.token,
        "fleet: this box leads; publishing"
    );
    super::lock(shared).leader = true;
    journal::append(
        &config.state_directory,
        "elections.jsonl",
        &serde_json::json!({"name": fleet.name, "token": leadership.token}),
    );
    let file = journal::dir(&config.state_directory).join("outgoing.snapshot");
    let mut inputs = watch::InputWatch::new(super::super::inputs(config));
    let interval = Duration::from_secs(u64::from(config.queue_refresh_interval_mins.max(1)) * 60);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        // Validate (after the integrations) in a child with a hard timeout, then publish.
        let (tx, _progress) = tokio::sync::mpsc::unbounded_channel();
        let args = ["--publish-to".into(), file.clone().into_os_string()];
        let job = job::refresh_with(
            exe,
            config_path,
            &args,
            &config.state_directory,
            job::JOB_TIMEOUT,
            tx,
        );
        let outcome = tokio::select! {
            o = job => o,
            () = lease.lost() => return Err(ClusterError::LeaseLost),
            () = super::stopped(stop) => return step_down(&client, &leadership, lease).await,
        };
        inputs.covered();
        let last_run = Instant::now();
        if outcome.ok {
            publish_file(&client, &keys, &leadership, &lease, config, &file).await?;
        } else {
            warn!(summary = %outcome.summary, "fleet: the inputs were not valid: nothing published; every box keeps its plan");
            super::super::tell(config, super::super::issue_for(&outcome)).await;
        }
        // Until the next publication is due.
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if inputs.poll(Instant::now()) {
                        info!("fleet: an input file changed: publishing");
                        break;
                    }
                    if std::fs::remove_file(config.refresh_request_path()).is_ok() || last_run.elapsed() >= interval {
                        break;
                    }
                }
                () = lease.lost() => return Err(ClusterError::LeaseLost),
                () = super::stopped(stop) => return step_down(&client, &leadership, lease).await,
            }
        }
    }
}

async fn publish_file(
    client: &lqos_cluster::Client,
    keys: &Keys,
    leadership: &lqos_cluster::Leadership,
    lease: &Lease,
    config: &Config,
    file: &Path,
) -> Result<(), ClusterError> {
    let name = config.fleet.as_ref().map_or("", |f| f.name.as_str());
    let snapshot = std::fs::read(file)
        .ok()
        .and_then(|b| Snapshot::decode(&b).ok())
        .unwrap_or_default();
    // Bounded: past the lease's deadline a publication could not succeed anyway.
    let wait = lease.deadline().saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let result = match tokio::time::timeout(
        wait,
        publish(client, keys, leadership, lease, name, &snapshot),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(ClusterError::Timeout {
            what: "publishing",
            timeout: wait,
        }),
    };
    let mut record = Publication {
        name,
        token: leadership.token,
        generation: None,
        hash: None,
        bytes: None,
        compressed: None,
        succeeded: false,
        skipped: false,
        error: None,
    };
    match &result {
        Ok(Some(m)) => {
            info!(
                token = m.token,
                generation = m.generation,
                bytes = m.compressed,
                "fleet: published"
            );
            record.generation = Some(m.generation);
            record.hash = Some(&m.hash);
            (record.bytes, record.compressed) = (Some(m.bytes), Some(m.compressed));
            record.succeeded = true;
            journal::append(&config.state_directory, "publications.jsonl", &record);
        }
        Ok(None) => {
            record.skipped = true;
            journal::append(&config.state_directory, "publications.jsonl", &record);
        }
        Err(e) => {
            warn!(error = %e, "fleet: publication refused");
            record.error = Some(e.to_string());
            journal::append(&config.state_directory, "publications.jsonl", &record);
        }
    }
    result.map(|_| ())
}

/// A clean stop: resign (the next box leads in milliseconds), give the lease back.
async fn step_down(
    client: &lqos_cluster::Client,
    leadership: &lqos_cluster::Leadership,
    lease: Lease,
) -> Result<(), ClusterError> {
    if let Err(e) = resign(client, leadership).await {
        warn!(error = %e, "fleet: cannot resign (the lease runs out instead)");
    }
    lease.revoke(client).await;
    Ok(())
}
