//! What can go wrong talking to the fleet's etcd.

/// Errors of the fleet's coordination. Any of them leaves shaping as it is.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to etcd at {endpoints}")]
    Connect {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    #[error("cannot read {path} (fleet TLS)")]
    Tls {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("etcd: {what} failed")]
    Etcd {
        what: &'static str,
        #[source]
        source: etcd_client::Error,
    },
    #[error("etcd did not answer {what} within {timeout:?}")]
    Timeout {
        what: &'static str,
        timeout: std::time::Duration,
    },
    #[error("the lease ran out (no keep-alive acknowledged in time): not the leader any more")]
    LeaseLost,
    #[error("the campaign returned but its key {key} is gone or not ours: not the leader")]
    CampaignNotVerified { key: String },
    #[error("the publication was refused by etcd: token {token} no longer holds the leadership (or another writer published first)")]
    NotLeader { token: u64 },
    #[error("{key} in etcd is corrupt: {why}")]
    Corrupt { key: String, why: String },
    #[error("the published inputs are corrupt")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("the watch on {key} was compacted past revision {revision}: read it again")]
    Compacted { key: String, revision: i64 },
}

impl ClusterError {
    pub(crate) fn etcd(what: &'static str) -> impl FnOnce(etcd_client::Error) -> Self {
        move |source| ClusterError::Etcd { what, source }
    }
}
