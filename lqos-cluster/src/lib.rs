//! lqos-cluster: the fleet's coordination through etcd (docs/fleet.md). The only crate that
//! talks to etcd; only lqos-scheduler uses it.
//!
//! - [`connect`]: a client from `[fleet]` (endpoints, TLS, auth), failing fast when the member
//!   it reaches has no Raft leader.
//! - [`Lease`]: a lease kept alive in the background with a local deadline (the last acked
//!   keep-alive's send time + TTL − a margin), so a paused or partitioned holder stops
//!   believing it holds it before etcd expires it.
//! - [`campaign`]: leader election through etcd's Election API, *verified* afterwards (a
//!   returned campaign does not prove the key still exists); the fencing token is the
//!   election key's create revision.
//! - [`publish`]: the validated inputs ([`Snapshot`]), compressed and chunked, then a manifest
//!   with `(token, generation)`, each write in a transaction that compares the leader key
//!   still has our token (and the manifest is the one we read).
//! - [`ManifestWatch`]: every box follows the manifest from a revision on.
//! - [`status`]: each box's registration, applied fence and health.

mod connect;
mod election;
mod error;
mod keys;
mod lease;
mod publish;
mod snapshot;
pub mod status;
pub mod testing;

pub use connect::connect;
pub use election::{campaign, current_leader, resign, LeaderInfo, Leadership};
pub use error::ClusterError;
pub use etcd_client::Client;
pub use keys::Keys;
pub use lease::Lease;
pub use publish::{fetch, latest, publish, Manifest, ManifestWatch};
pub use snapshot::{Snapshot, SnapshotError, INPUT_FILES};
