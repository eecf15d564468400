//! A client from `[fleet]`.

use crate::ClusterError;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use lqos_config::Fleet;
use std::time::Duration;

fn read(path: &std::path::Path) -> Result<Vec<u8>, ClusterError> {
    std::fs::read(path).map_err(|source| ClusterError::Tls {
        path: path.to_path_buf(),
        source,
    })
}

/// Connects to the fleet's etcd. Requests to a member without a Raft leader fail instead of
/// waiting (`require_leader`), so a box on the minority side of a partition notices; HTTP/2
/// keep-alives notice a dead connection within seconds. No per-request timeout: campaigns
/// and watches are long-lived (callers bound their own waits).
pub async fn connect(fleet: &Fleet) -> Result<Client, ClusterError> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
        .with_require_leader(true);
    if let Some(tls) = &fleet.tls {
        let mut t = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca_file)?));
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            t = t.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        options = options.with_tls(t);
    }
    if let Some((user, password)) = &fleet.user {
        options = options.with_user(user, password);
    }
    Client::connect(&fleet.endpoints, Some(options))
        .await
        .map_err(|source| ClusterError::Connect {
            endpoints: fleet.endpoints.join(","),
            source,
        })
}
