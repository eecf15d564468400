//! Leader election through etcd's Election API, verified.

use crate::{ClusterError, Keys, Lease};
use etcd_client::{Client, LeaderKey, ResignOptions};
use serde::{Deserialize, Serialize};

/// This process leads the fleet: `token` (the election key's create revision) fences
/// everything it writes.
#[derive(Debug, Clone)]
pub struct Leadership {
    pub token: u64,
    pub key: Vec<u8>,
    leader: LeaderKey,
}

/// Who leads, as seen by anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub name: String,
    pub token: u64,
}

/// Campaigns with `lease` until this process leads (or the lease is lost), then checks that
/// its key still exists with the revision the campaign returned (the Election API does not
/// re-check after waiting: Jepsen etcd 3.4.3).
pub async fn campaign(
    client: &Client,
    keys: &Keys,
    name: &str,
    lease: &Lease,
) -> Result<Leadership, ClusterError> {
    let mut c = client.clone();
    let value = serde_json::json!({ "name": name }).to_string();
    // No request timeout here: a campaign waits as long as another box leads.
    let won = tokio::select! {
        r = c.campaign(keys.election(), value, lease.id) => r.map_err(ClusterError::etcd("campaign"))?,
        () = lease.lost() => return Err(ClusterError::LeaseLost),
    };
    let leader = won.leader().cloned().ok_or_else(|| ClusterError::Corrupt {
        key: keys.election(),
        why: "the campaign answered without a leader key".into(),
    })?;
    let key = leader.key().to_vec();
    let shown = String::from_utf8_lossy(&key).into_owned();
    let got = c
        .get(key.clone(), None)
        .await
        .map_err(ClusterError::etcd("verifying the campaign"))?;
    let ours = got
        .kvs()
        .first()
        .is_some_and(|kv| kv.create_revision() == leader.rev() && kv.lease() == lease.id);
    if !ours || !lease.is_valid() {
        return Err(ClusterError::CampaignNotVerified { key: shown });
    }
    Ok(Leadership {
        token: leader.rev() as u64,
        key,
        leader,
    })
}

/// Steps down at once (a clean stop: the next box leads in milliseconds).
pub async fn resign(client: &Client, leadership: &Leadership) -> Result<(), ClusterError> {
    let mut c = client.clone();
    c.resign(Some(
        ResignOptions::new().with_leader(leadership.leader.clone()),
    ))
    .await
    .map_err(ClusterError::etcd("resign"))?;
    Ok(())
}

/// The current leader, `None` when no box leads.
pub async fn current_leader(
    client: &Client,
    keys: &Keys,
) -> Result<Option<LeaderInfo>, ClusterError> {
    let mut c = client.clone();
    let got = c
        .get(
            format!("{}/", keys.election()),
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_sort(
                        etcd_client::SortTarget::Create,
                        etcd_client::SortOrder::Ascend,
                    )
                    .with_limit(1),
            ),
        )
        .await
        .map_err(ClusterError::etcd("reading the leader"))?;
    let Some(kv) = got.kvs().first() else {
        return Ok(None);
    };
    #[derive(Deserialize)]
    struct Value {
        name: String,
    }
    let name = serde_json::from_slice::<Value>(kv.value())
        .map(|v| v.name)
        .unwrap_or_else(|_| String::from_utf8_lossy(kv.value()).into_owned());
    Ok(Some(LeaderInfo {
        name,
        token: kv.create_revision() as u64,
    }))
}
