//! Fenced publication of the inputs, and following it.

use crate::snapshot::{compress, decompress};
use crate::{ClusterError, Keys, Leadership, Lease, Snapshot};
use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, Txn, TxnOp, WatchOptions, WatchStream,
};
use serde::{Deserialize, Serialize};

/// Chunks stay well under etcd's default 1.5 MiB request limit.
pub const CHUNK_BYTES: usize = 1 << 20;

/// What the leader published last (the value of the `manifest` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The publishing leader's fencing token.
    pub token: u64,
    /// Grows by one with every publication, across leaders.
    pub generation: u64,
    pub publisher: String,
    pub created_unix_ms: u64,
    /// SHA-256 of the encoded [`Snapshot`].
    pub hash: String,
    /// Encoded size, and compressed size (what etcd stores).
    pub bytes: u64,
    pub compressed: u64,
    pub chunks: u32,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn parse(key: &str, value: &[u8]) -> Result<Manifest, ClusterError> {
    serde_json::from_slice(value).map_err(|e| ClusterError::Corrupt {
        key: key.to_owned(),
        why: e.to_string(),
    })
}

/// The latest manifest and the revision it was written at (0: none yet), plus the store's
/// revision when read (to watch from).
pub async fn latest(
    client: &Client,
    keys: &Keys,
) -> Result<(Option<(Manifest, i64)>, i64), ClusterError> {
    let mut c = client.clone();
    let got = c
        .get(keys.manifest(), None)
        .await
        .map_err(ClusterError::etcd("reading the manifest"))?;
    let revision = got.header().map_or(0, |h| h.revision());
    let manifest = match got.kvs().first() {
        Some(kv) => Some((parse(&keys.manifest(), kv.value())?, kv.mod_revision())),
        None => None,
    };
    Ok((manifest, revision))
}

/// A put guarded by the leadership: applied only while the election key still has `token`.
async fn fenced(
    c: &mut Client,
    leadership: &Leadership,
    extra: Vec<Compare>,
    ops: Vec<TxnOp>,
) -> Result<(), ClusterError> {
    let mut when = vec![Compare::create_revision(
        leadership.key.clone(),
        CompareOp::Equal,
        leadership.token as i64,
    )];
    when.extend(extra);
    let r = c
        .txn(Txn::new().when(when).and_then(ops))
        .await
        .map_err(ClusterError::etcd("publishing"))?;
    if r.succeeded() {
        Ok(())
    } else {
        Err(ClusterError::NotLeader {
            token: leadership.token,
        })
    }
}

/// Publishes `snapshot` as the next generation, unless it is the one published last
/// (`Ok(None)`). Every write is fenced by the leadership; the manifest also by its own
/// revision as read here, so two writers can never both succeed from the same state.
pub async fn publish(
    client: &Client,
    keys: &Keys,
    leadership: &Leadership,
    lease: &Lease,
    publisher: &str,
    snapshot: &Snapshot,
) -> Result<Option<Manifest>, ClusterError> {
    if !lease.is_valid() {
        return Err(ClusterError::LeaseLost);
    }
    let mut c = client.clone();
    let (current, _) = latest(client, keys).await?;
    let encoded = snapshot.encode();
    let hash = Snapshot::hash(&encoded);
    if current.as_ref().is_some_and(|(m, _)| m.hash == hash) {
        return Ok(None);
    }
    let packed = compress(&encoded);
    let chunks: Vec<&[u8]> = packed.chunks(CHUNK_BYTES).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let key = keys.blob(&hash, n as u32);
        fenced(
            &mut c,
            leadership,
            vec![],
            vec![TxnOp::put(key, *chunk, None)],
        )
        .await?;
    }
    let manifest = Manifest {
        token: leadership.token,
        generation: current.as_ref().map_or(1, |(m, _)| m.generation + 1),
        publisher: publisher.to_owned(),
        created_unix_ms: unix_ms(),
        hash: hash.clone(),
        bytes: encoded.len() as u64,
        compressed: packed.len() as u64,
        chunks: chunks.len() as u32,
    };
    let seen = current.as_ref().map_or(0, |(_, rev)| *rev);
    let value = serde_json::to_vec(&manifest).unwrap_or_default();
    // A lease that ran out while the chunks went up: do not even try.
    if !lease.is_valid() {
        return Err(ClusterError::LeaseLost);
    }
    fenced(
        &mut c,
        leadership,
        vec![Compare::mod_revision(
            keys.manifest(),
            CompareOp::Equal,
            seen,
        )],
        vec![TxnOp::put(keys.manifest(), value, None)],
    )
    .await?;
    // Chunks of older publications than the previous one are garbage (a box still fetching
    // the previous one finds it whole).
    let keep = [hash, current.map(|(m, _)| m.hash).unwrap_or_default()];
    if let Ok(listed) = c
        .get(
            keys.blobs(),
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
    {
        let mut stale: Vec<String> = listed
            .kvs()
            .iter()
            .filter_map(|kv| kv.key_str().ok())
            .filter_map(|k| k.strip_prefix(&keys.blobs())?.split('/').next())
            .filter(|h| !keep.iter().any(|k| k == h))
            .map(|h| format!("{}{h}/", keys.blobs()))
            .collect();
        stale.dedup();
        for prefix in stale {
            let op = TxnOp::delete(
                prefix,
                Some(etcd_client::DeleteOptions::new().with_prefix()),
            );
            let _ = fenced(&mut c, leadership, vec![], vec![op]).await;
        }
    }
    Ok(Some(manifest))
}

/// The inputs a manifest names, fetched and checked against its hash.
pub async fn fetch(
    client: &Client,
    keys: &Keys,
    manifest: &Manifest,
) -> Result<Snapshot, ClusterError> {
    let mut c = client.clone();
    let mut packed = Vec::with_capacity(manifest.compressed as usize);
    for n in 0..manifest.chunks {
        let key = keys.blob(&manifest.hash, n);
        let got = c
            .get(key.clone(), None)
            .await
            .map_err(ClusterError::etcd("fetching the inputs"))?;
        let kv = got.kvs().first().ok_or_else(|| ClusterError::Corrupt {
            key: key.clone(),
            why: "missing chunk (collected after a newer publication?)".into(),
        })?;
        packed.extend_from_slice(kv.value());
    }
    let encoded = decompress(&packed, manifest.bytes as usize)?;
    let got = Snapshot::hash(&encoded);
    if got != manifest.hash {
        return Err(crate::SnapshotError::Hash {
            expected: manifest.hash.clone(),
            got,
        }
        .into());
    }
    Ok(Snapshot::decode(&encoded)?)
}

/// Follows the manifest from a revision on.
pub struct ManifestWatch {
    stream: WatchStream,
    key: String,
    from: i64,
}

impl ManifestWatch {
    /// Watches puts of the manifest from `from_revision` (inclusive).
    pub async fn start(
        client: &Client,
        keys: &Keys,
        from_revision: i64,
    ) -> Result<ManifestWatch, ClusterError> {
        let mut c = client.clone();
        let options = WatchOptions::new().with_start_revision(from_revision);
        let stream = c
            .watch(keys.manifest(), Some(options))
            .await
            .map_err(ClusterError::etcd("watching the manifest"))?;
        Ok(ManifestWatch {
            stream,
            key: keys.manifest(),
            from: from_revision,
        })
    }

    /// The next published manifest with its revision; `Err` when the watch ends (reconnect
    /// and read the manifest again).
    pub async fn next(&mut self) -> Result<(Manifest, i64), ClusterError> {
        loop {
            let Some(r) = self
                .stream
                .message()
                .await
                .map_err(ClusterError::etcd("watching the manifest"))?
            else {
                return Err(ClusterError::Etcd {
                    what: "watching the manifest",
                    source: etcd_client::Error::WatchError("the watch ended".into()),
                });
            };
            if r.compact_revision() > 0 || r.canceled() {
                return Err(ClusterError::Compacted {
                    key: self.key.clone(),
                    revision: self.from,
                });
            }
            if let Some(kv) = r
                .events()
                .iter()
                .rev()
                .filter(|e| e.event_type() == EventType::Put)
                .find_map(|e| e.kv())
            {
                self.from = kv.mod_revision() + 1;
                return Ok((parse(&self.key, kv.value())?, kv.mod_revision()));
            }
        }
    }
}
