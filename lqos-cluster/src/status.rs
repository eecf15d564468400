//! Each box's registration (its share, kept) and status (its applied fence and health, on
//! the box's own lease: it disappears when the box does).

use crate::{ClusterError, Keys};
use etcd_client::{Client, GetOptions, PutOptions};
use serde::{Deserialize, Serialize};

/// `boxes/<name>`: what a box shapes. A standby reads its primary's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    pub share: Vec<String>,
    pub standby_of: Option<String>,
}

pub use lqos_config::fleet_status::BoxStatus;

/// Writes this box's registration (no lease: a standby must find it while the box is down).
pub async fn register(client: &Client, keys: &Keys, r: &Registration) -> Result<(), ClusterError> {
    let mut c = client.clone();
    c.put(
        keys.registration(&r.name),
        serde_json::to_vec(r).unwrap_or_default(),
        None,
    )
    .await
    .map_err(ClusterError::etcd("registering the box"))?;
    Ok(())
}

/// The registration of `name`, if any.
pub async fn registration(
    client: &Client,
    keys: &Keys,
    name: &str,
) -> Result<Option<Registration>, ClusterError> {
    let mut c = client.clone();
    let got = c
        .get(keys.registration(name), None)
        .await
        .map_err(ClusterError::etcd("reading a registration"))?;
    Ok(got
        .kvs()
        .first()
        .and_then(|kv| serde_json::from_slice(kv.value()).ok()))
}

/// Writes this box's status on `lease` (the box's own).
pub async fn report(
    client: &Client,
    keys: &Keys,
    lease: i64,
    s: &BoxStatus,
) -> Result<(), ClusterError> {
    let mut c = client.clone();
    c.put(
        keys.status(&s.name),
        serde_json::to_vec(s).unwrap_or_default(),
        Some(PutOptions::new().with_lease(lease)),
    )
    .await
    .map_err(ClusterError::etcd("reporting the box's status"))?;
    Ok(())
}

/// Every box that reports (live ones), by name.
pub async fn all(client: &Client, keys: &Keys) -> Result<Vec<BoxStatus>, ClusterError> {
    let mut c = client.clone();
    let got = c
        .get(keys.statuses(), Some(GetOptions::new().with_prefix()))
        .await
        .map_err(ClusterError::etcd("reading the boxes' status"))?;
    let mut boxes: Vec<BoxStatus> = got
        .kvs()
        .iter()
        .filter_map(|kv| serde_json::from_slice(kv.value()).ok())
        .collect();
    boxes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(boxes)
}
