//! The leader's side: campaign, then publish the validated inputs after every change (and
//! every `queue_refresh_interval_mins`), fenced by the leadership, until the lease is lost or
//! the service stops (then resign, so the next box leads at once).

use super::journal;
use crate::service::{job, watch};
use lqos_cluster::{
    campaign, connect, latest, publish, resign, ClusterError, Keys, Lease, Manifest, Snapshot,
};
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
        let args = ["--publish-to".into(), file.clone().into_os_string()];
        let job = job::refresh_quietly(exe, config_path, &args, &config.state_directory);
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

/// Publishes the validated snapshot in `file`. A transport error (an etcd member just died)
/// is retried while the lease holds; a refusal (not the leader any more) ends the term.
async fn publish_file(
    client: &lqos_cluster::Client,
    keys: &Keys,
    leadership: &lqos_cluster::Leadership,
    lease: &Lease,
    config: &Config,
    file: &Path,
) -> Result<(), ClusterError> {
    let name = config.fleet.as_ref().map_or("", |f| f.name.as_str());
    let snapshot = match std::fs::read(file).map(|b| Snapshot::decode(&b)) {
        Ok(Ok(s)) => s,
        other => {
            warn!(file = %file.display(), ?other, "fleet: the validated inputs cannot be read back: nothing published");
            return Ok(());
        }
    };
    let hash = Snapshot::hash(&snapshot.encode());
    let mut failed_before = false;
    loop {
        // Bounded: past the lease's deadline a publication could not succeed anyway.
        let wait =
            lease.deadline().saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        let attempt = tokio::time::timeout(
            wait,
            publish(client, keys, leadership, lease, name, &snapshot),
        );
        let result = match attempt.await {
            Ok(r) => r,
            Err(_) => Err(ClusterError::Timeout {
                what: "publishing",
                timeout: wait,
            }),
        };
        let journal =
            |r: &Publication| journal::append(&config.state_directory, "publications.jsonl", r);
        match result {
            Ok(Some(m)) => {
                info!(
                    token = m.token,
                    generation = m.generation,
                    bytes = m.compressed,
                    "fleet: published"
                );
                journal(&record(name, leadership.token, Some(&m), false, None));
                return Ok(());
            }
            Ok(None) => {
                // After a failed attempt, "the same as published" may mean that attempt
                // reached etcd after all: then it is this publication.
                let ours = if failed_before {
                    latest(client, keys)
                        .await?
                        .0
                        .map(|(m, _)| m)
                        .filter(|m| m.token == leadership.token && m.hash == hash)
                } else {
                    None
                };
                journal(&record(
                    name,
                    leadership.token,
                    ours.as_ref(),
                    ours.is_none(),
                    None,
                ));
                return Ok(());
            }
            Err(e) => {
                // A transport error (an etcd member just died) is retried while the lease
                // holds; a refusal ends the term.
                let retry = matches!(e, ClusterError::Etcd { .. } | ClusterError::Timeout { .. })
                    && lease.is_valid();
                warn!(error = %super::chain(&e), retry, "fleet: publication failed");
                let error = Some(e.to_string());
                journal(&record(name, leadership.token, None, false, error));
                if !retry {
                    return Err(e);
                }
                failed_before = true;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

fn record<'a>(
    name: &'a str,
    token: u64,
    m: Option<&'a Manifest>,
    skipped: bool,
    error: Option<String>,
) -> Publication<'a> {
    Publication {
        name,
        token,
        generation: m.map(|m| m.generation),
        hash: m.map(|m| m.hash.as_str()),
        bytes: m.map(|m| m.bytes),
        compressed: m.map(|m| m.compressed),
        succeeded: m.is_some() && !skipped,
        skipped,
        error,
    }
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
