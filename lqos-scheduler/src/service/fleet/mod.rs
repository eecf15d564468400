//! `lqos-scheduler run` with `[fleet]` (docs/fleet.md): every box follows the fleet's
//! publications and applies its own share through its lqosd; one box at a time (elected
//! through etcd) also runs the integrations and publishes ([`leader`]).
//!
//! Losing etcd never changes shaping: the box keeps its last plan, raises an urgent issue,
//! and retries; `lqos-scheduler refresh --local` applies the local inputs explicitly.

mod apply;
pub mod journal;
mod leader;

use lqos_cluster::{connect, latest, status, ClusterError, Keys, ManifestWatch};
use lqos_config::Config;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

/// How often a box reads the latest manifest besides watching it.
const RECHECK: Duration = Duration::from_secs(5);

/// What the box has applied and how it is, shared by the follower and the status reporter.
type Shared = Arc<Mutex<status::BoxStatus>>;

/// Runs the fleet service until SIGTERM/SIGINT.
pub async fn run(config_path: &Path, config: Config) -> anyhow::Result<()> {
    let Some(fleet) = config.fleet.clone() else {
        anyhow::bail!("no [fleet] in the configuration");
    };
    let _lock = super::lock::acquire(&config.state_directory)?;
    let exe = std::env::current_exe()?;
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    super::notify(&[sd_notify::NotifyState::Ready]);
    let shared: Shared = Arc::new(Mutex::new(status::BoxStatus {
        name: fleet.name.clone(),
        share: fleet.share.clone(),
        standby_of: fleet.standby_of.clone(),
        health: "starting".into(),
        ..Default::default()
    }));
    let leader = fleet.campaign.then(|| {
        let (exe, path, config, mut stop, shared) = (
            exe.clone(),
            config_path.to_path_buf(),
            config.clone(),
            stop_rx.clone(),
            shared.clone(),
        );
        tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    break;
                }
                lock(&shared).leader = false;
                if let Err(e) = leader::term(&exe, &path, &config, &mut stop, &shared).await {
                    warn!(error = %chain(&e), "fleet: not leading");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stopped(&mut stop) => {}
                    }
                }
            }
        })
    });
    let reporter = tokio::spawn(apply::report_loop(
        config.clone(),
        shared.clone(),
        stop_rx.clone(),
    ));
    let follow = follow(&exe, config_path, &config, &shared);
    tokio::select! {
        () = follow => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    info!("fleet: stopping");
    let _ = stop_tx.send(true);
    if let Some(l) = leader {
        let _ = tokio::time::timeout(Duration::from_secs(3), l).await;
    }
    reporter.abort();
    Ok(())
}

pub(crate) fn lock(s: &Shared) -> std::sync::MutexGuard<'_, status::BoxStatus> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Follows the publications forever: reconnects after any etcd trouble, raising an urgent
/// issue once etcd has been unreachable for longer than the lease TTL.
async fn follow(exe: &Path, config_path: &Path, config: &Config, shared: &Shared) {
    let Some(fleet) = &config.fleet else { return };
    let mut applied: Option<lqos_bus::Fence> = None;
    let mut down_since: Option<Instant> = None;
    let mut raised = false;
    loop {
        let result = follow_once(
            exe,
            config_path,
            config,
            shared,
            &mut applied,
            &mut down_since,
        )
        .await;
        if let Err(e) = result {
            let since = *down_since.get_or_insert_with(Instant::now);
            lock(shared).health = format!("etcd: {}", chain(&e));
            if since.elapsed() > fleet.lease_ttl && !raised {
                raised = true;
                warn!(error = %chain(&e), "fleet: etcd unreachable; shaping stays on the last applied plan");
                super::tell(config, etcd_issue(&e)).await;
            }
        }
        if down_since.is_none() {
            raised = false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn etcd_issue(e: &ClusterError) -> lqos_bus::Request {
    lqos_bus::Request::RaiseIssue(lqos_bus::UrgentIssue {
        source: "fleet".into(),
        severity: lqos_bus::IssueSeverity::Error,
        code: "fleet_etcd_unreachable".into(),
        message: "etcd is unreachable (or has no quorum): this box keeps shaping its last applied plan and retries; `lqos-scheduler refresh --local` applies local inputs explicitly".into(),
        context: chain(e),
    })
}

/// One connection's worth of following: the latest manifest, then the watch from there.
async fn follow_once(
    exe: &Path,
    config_path: &Path,
    config: &Config,
    shared: &Shared,
    applied: &mut Option<lqos_bus::Fence>,
    down_since: &mut Option<Instant>,
) -> Result<(), ClusterError> {
    let Some(fleet) = &config.fleet else {
        return Ok(());
    };
    let keys = Keys::new(&fleet.cluster);
    let client = connect(fleet).await?;
    if fleet.standby_of.is_none() {
        status::register(
            &client,
            &keys,
            &status::Registration {
                name: fleet.name.clone(),
                share: fleet.share.clone(),
                standby_of: None,
            },
        )
        .await?;
    }
    let (current, revision) = latest(&client, &keys).await?;
    if down_since.take().is_some() {
        info!("fleet: etcd is back");
    }
    {
        let mut s = lock(shared);
        if cleared_by_etcd(&s.health) {
            s.health = "ok".into();
        }
    }
    let mut watch = ManifestWatch::start(&client, &keys, revision + 1).await?;
    // The latest publication first, then each new one; and the latest again every few
    // seconds, in case a watch went quiet without an error (applying is idempotent).
    let mut next = current.map(|(m, _)| m);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    loop {
        let m = match next.take() {
            Some(m) => m,
            None => tokio::select! {
                w = watch.next() => w?.0,
                _ = recheck.tick() => match latest(&client, &keys).await?.0 {
                    Some((m, _)) => m,
                    None => continue,
                },
            },
        };
        let done = apply::apply(
            exe,
            config_path,
            config,
            &client,
            &keys,
            &m,
            applied,
            shared,
        );
        if !done.await? {
            // Not applied (lqosd down, a refused plan): read the latest again in a while.
            tokio::time::sleep(Duration::from_secs(2)).await;
            return Ok(());
        }
    }
}

/// Whether etcd answering again makes this box's health `ok`: it clears an etcd error (and
/// `starting`), not a failed apply, which only a successful apply clears (clearing that too
/// made the health flicker to `ok` on every retry while the box could not apply).
fn cleared_by_etcd(health: &str) -> bool {
    health == "starting" || health.starts_with("etcd: ")
}

/// Resolves once the service stops.
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn etcd_coming_back_clears_an_etcd_error_but_not_a_failed_apply() {
        assert!(super::cleared_by_etcd("starting"));
        assert!(super::cleared_by_etcd("etcd: reading the manifest failed"));
        assert!(!super::cleared_by_etcd(
            "apply failed: refresh failed (exit status: 1)"
        ));
        assert!(!super::cleared_by_etcd(
            "waiting for the primary's registration"
        ));
        assert!(!super::cleared_by_etcd(
            "cannot unpack the publication: corrupt"
        ));
    }
}
