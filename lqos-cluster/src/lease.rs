//! A lease kept alive in the background, with a local deadline.
//!
//! etcd expires a lease TTL after the last renewal *it* saw. The holder cannot see that
//! moment, so it keeps a conservative one: the send time of the last acknowledged keep-alive
//! plus TTL minus a margin. Past it (paused process, partition, lost quorum) the holder
//! considers the lease lost, and anything fenced by it must stop.

use crate::ClusterError;
use etcd_client::Client;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{debug, warn};

/// A granted lease and its keep-alive task (stopped when dropped).
pub struct Lease {
    pub id: i64,
    pub ttl: Duration,
    deadline: Arc<Mutex<Instant>>,
    lost: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// How long before the computed expiry the holder gives up: a quarter of the TTL, at most 2 s.
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 4).min(Duration::from_secs(2))
}

impl Lease {
    /// Grants a lease of `ttl` (etcd may raise it to its minimum) and keeps it alive.
    pub async fn grant(client: &Client, ttl: Duration) -> Result<Lease, ClusterError> {
        let mut c = client.clone();
        let sent = Instant::now();
        let granted = c
            .lease_grant(ttl.as_secs().max(1) as i64, None)
            .await
            .map_err(ClusterError::etcd("lease grant"))?;
        let ttl = Duration::from_secs(granted.ttl().max(1) as u64);
        let deadline = Arc::new(Mutex::new(sent + ttl - margin(ttl)));
        let (tx, lost) = watch::channel(false);
        let task = tokio::spawn(keep_alive(c, granted.id(), ttl, deadline.clone(), tx));
        Ok(Lease {
            id: granted.id(),
            ttl,
            deadline,
            lost,
            task,
        })
    }

    /// Until when the holder may act on the lease.
    pub fn deadline(&self) -> Instant {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the lease is still ours by the local deadline.
    pub fn is_valid(&self) -> bool {
        !*self.lost.borrow() && Instant::now() < self.deadline()
    }

    /// Resolves once the lease is lost.
    pub async fn lost(&self) {
        let mut rx = self.lost.clone();
        let _ = rx.wait_for(|l| *l).await;
    }

    /// Gives the lease back (its keys go at once), best effort.
    pub async fn revoke(self, client: &Client) {
        self.task.abort();
        let mut c = client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), c.lease_revoke(self.id)).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Renews every TTL/3; moves the deadline on each acknowledgement; says `lost` once the
/// deadline passes or etcd answers that the lease is gone.
async fn keep_alive(
    mut client: Client,
    id: i64,
    ttl: Duration,
    deadline: Arc<Mutex<Instant>>,
    lost: watch::Sender<bool>,
) {
    let period = (ttl / 3).max(Duration::from_millis(200));
    let mut stream = None;
    loop {
        let current = *deadline.lock().unwrap_or_else(|p| p.into_inner());
        if Instant::now() >= current {
            warn!(lease = format!("{id:x}"), "lease deadline passed: lost");
            let _ = lost.send(true);
            return;
        }
        if stream.is_none() {
            match tokio::time::timeout(period, client.lease_keep_alive(id)).await {
                Ok(Ok(s)) => stream = Some(s),
                Ok(Err(e)) => debug!(error = %e, "keep-alive stream"),
                Err(_) => debug!("keep-alive stream: timeout"),
            }
        }
        let started = Instant::now();
        if let Some((keeper, responses)) = stream.as_mut() {
            let sent = Instant::now();
            let acked = async {
                keeper.keep_alive().await?;
                responses.message().await
            };
            match tokio::time::timeout(period, acked).await {
                Ok(Ok(Some(r))) if r.ttl() > 0 => {
                    let mut d = deadline.lock().unwrap_or_else(|p| p.into_inner());
                    *d = (*d).max(sent + ttl - margin(ttl));
                }
                Ok(Ok(Some(_))) => {
                    warn!(lease = format!("{id:x}"), "etcd says the lease is gone");
                    let _ = lost.send(true);
                    return;
                }
                other => {
                    debug!(
                        ?other,
                        "keep-alive not acknowledged; reconnecting the stream"
                    );
                    stream = None;
                }
            }
        }
        tokio::time::sleep(period.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_quarter_of_the_ttl_at_most_two_seconds() {
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(margin(Duration::from_secs(6)), Duration::from_millis(1500));
        assert_eq!(margin(Duration::from_secs(60)), Duration::from_secs(2));
    }
}
