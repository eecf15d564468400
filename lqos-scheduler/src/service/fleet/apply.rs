//! Every box: apply a publication (its share, planned for its own CPUs, submitted fenced to
//! its lqosd), and report the box's status to etcd and to `status.json`.

use super::{chain, journal, lock, Shared};
use crate::service::job;
use lqos_cluster::{current_leader, fetch, latest, status, ClusterError, Keys, Lease, Manifest};
use lqos_config::fleet_status::{FleetStatus, LeaderStatus, PublicationStatus};
use lqos_config::Config;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};

#[derive(Serialize)]
struct Applied<'a> {
    name: &'a str,
    token: u64,
    generation: u64,
    hash: &'a str,
    ok: bool,
    summary: &'a str,
    /// Milliseconds from the manifest's creation (leader's clock) to the end of the apply.
    lag_ms: i64,
}

/// The share this box plans: its own, or (a standby) its primary's registration.
async fn share(
    client: &lqos_cluster::Client,
    keys: &Keys,
    fleet: &lqos_config::Fleet,
) -> Result<Option<Vec<String>>, ClusterError> {
    match &fleet.standby_of {
        None => Ok(Some(fleet.share.clone())),
        Some(primary) => Ok(status::registration(client, keys, primary)
            .await?
            .map(|r| r.share)),
    }
}

/// Applies `m` unless this box already did. `Ok(false)`: not applied (retry later).
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    exe: &Path,
    config_path: &Path,
    config: &Config,
    client: &lqos_cluster::Client,
    keys: &Keys,
    m: &Manifest,
    applied: &mut Option<lqos_bus::Fence>,
    shared: &Shared,
) -> Result<bool, ClusterError> {
    let Some(fleet) = &config.fleet else {
        return Ok(true);
    };
    let fence = lqos_bus::Fence {
        token: m.token,
        generation: m.generation,
    };
    if applied.is_some_and(|a| fence <= a) {
        return Ok(true);
    }
    let Some(share) = share(client, keys, fleet).await? else {
        warn!(primary = ?fleet.standby_of, "fleet: the primary has not registered its share yet");
        lock(shared).health = "waiting for the primary's registration".into();
        return Ok(false);
    };
    let snapshot = fetch(client, keys, m).await?;
    let dir = journal::dir(&config.state_directory).join("inputs");
    if let Err(e) = snapshot.write_dir(&dir) {
        warn!(error = %e, dir = %dir.display(), "fleet: cannot unpack the publication");
        lock(shared).health = format!("cannot unpack the publication: {e}");
        return Ok(false);
    }
    let args = [
        "--from-snapshot".into(),
        dir.into_os_string(),
        "--fence".into(),
        format!("{}:{}", fence.token, fence.generation).into(),
        "--share".into(),
        share.join(",").into(),
    ];
    let outcome = job::refresh_quietly(exe, config_path, &args, &config.state_directory).await;
    let stale = !outcome.ok
        && outcome
            .preview
            .iter()
            .any(|l| l.contains("stale fleet plan"));
    let lag_ms = journal::unix_ms() as i64 - m.created_unix_ms as i64;
    journal::append(
        &config.state_directory,
        "applies.jsonl",
        &Applied {
            name: &fleet.name,
            token: fence.token,
            generation: fence.generation,
            hash: &m.hash,
            ok: outcome.ok,
            summary: &outcome.summary,
            lag_ms,
        },
    );
    let mut s = lock(shared);
    s.share = share;
    if outcome.ok || stale {
        // A stale refusal: lqosd holds a newer fence already; nothing to redo.
        *applied = Some(fence);
    }
    if outcome.ok {
        info!(%fence, lag_ms, "fleet: applied {}", outcome.summary);
        s.applied_token = Some(fence.token);
        s.applied_generation = Some(fence.generation);
        s.applied_unix_ms = Some(journal::unix_ms());
        s.health = "ok".into();
    } else {
        warn!(%fence, summary = %outcome.summary, "fleet: the publication was not applied; the last plan stays live");
        s.health = format!("apply failed: {}", outcome.summary);
    }
    Ok(outcome.ok || stale)
}

/// Every second or so: this box's status into etcd (on a lease of its own), the fleet's into
/// `status.json`, and a heartbeat to lqosd. Never gives up.
pub async fn report_loop(
    config: Config,
    shared: Shared,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(fleet) = config.fleet.clone() else {
        return;
    };
    let keys = Keys::new(&fleet.cluster);
    let period = (fleet.lease_ttl / 2).clamp(Duration::from_millis(500), Duration::from_secs(2));
    // One round's bound: a member that loses quorum holds a request until its own timeout
    // (5 s and more), and the status must say "unreachable" sooner than that.
    let bound = (period * 2).max(Duration::from_secs(3));
    let mut session: Option<(lqos_cluster::Client, Lease)> = None;
    let mut last: Option<FleetStatus> = None;
    loop {
        let me = lock(&shared).clone();
        let mut view = FleetStatus {
            updated_unix_ms: journal::unix_ms(),
            me: me.clone(),
            ..Default::default()
        };
        let round = async {
            if session.as_ref().is_none_or(|(_, l)| !l.is_valid()) {
                let client = lqos_cluster::connect(&fleet).await?;
                let lease = Lease::grant(&client, fleet.lease_ttl * 2).await?;
                session = Some((client, lease));
            }
            if let Some((client, lease)) = &session {
                let mut me = me.clone();
                me.updated_unix_ms = journal::unix_ms();
                status::report(client, &keys, lease.id, &me).await?;
                view.boxes = status::all(client, &keys).await?;
                view.leader = current_leader(client, &keys).await?.map(|l| LeaderStatus {
                    name: l.name,
                    token: l.token,
                });
                view.manifest = latest(client, &keys)
                    .await?
                    .0
                    .map(|(m, _)| PublicationStatus {
                        token: m.token,
                        generation: m.generation,
                        publisher: m.publisher,
                        created_unix_ms: m.created_unix_ms,
                        compressed: m.compressed,
                    });
            }
            Ok::<(), ClusterError>(())
        };
        let result = match tokio::time::timeout(bound, round).await {
            Ok(r) => r,
            Err(_) => Err(ClusterError::Timeout {
                what: "the fleet's status",
                timeout: bound,
            }),
        };
        let view = match result {
            Ok(()) => {
                view.etcd = "ok".into();
                view.seen_unix_ms = view.updated_unix_ms;
                last = Some(view.clone());
                view
            }
            Err(e) => {
                session = None;
                FleetStatus::unreachable(last.as_ref(), me.clone(), chain(&e), view.updated_unix_ms)
            }
        };
        journal::write_status(&config.state_directory, &view);
        let phase = if me.leader {
            "fleet leader"
        } else {
            "fleet box"
        };
        let report = lqos_bus::SchedulerReport {
            phase: phase.into(),
            sent_unix: crate::logs::unix_now(),
            last_success_unix: me.applied_unix_ms.map(|ms| ms / 1000),
            last_error: (me.health != "ok").then(|| me.health.clone()),
            percent: 100,
            ..Default::default()
        };
        super::super::tell(&config, lqos_bus::Request::SchedulerReport(report)).await;
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = super::stopped(&mut stop) => return,
        }
    }
}
