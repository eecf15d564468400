//! What the fleet's tests share (tests/fleet.rs, examples/fleet-webui-bed.rs): a real 3-member
//! etcd in a management namespace bridged to every box's shaper namespace, the `[fleet]` table
//! of a box, and the boxes' JSON-lines journals.

use crate::testbed::Testbed;
use crate::NetNs;
use anyhow::Result;
use lqos_cluster::testing::EtcdCluster;
use serde_json::Value;

/// The etcd cluster and the namespace it runs in (dropped in that order: etcd first).
pub struct Management {
    pub etcd: EtcdCluster,
    ns: NetNs,
}

impl Management {
    /// A management namespace with the bridge `mb` (10.99.0.1/24) and 3 etcd members on it.
    pub fn start() -> Result<Management> {
        let ns = NetNs::new()?;
        ns.run("ip", &["link", "add", "mb", "type", "bridge"])?;
        ns.add_addr("mb", "10.99.0.1/24")?;
        ns.set_up("mb")?;
        let etcd = EtcdCluster::start_in(3, Some(ns.name()), "10.99.0.1")?;
        Ok(Management { etcd, ns })
    }

    /// Bridges box `index`'s shaper namespace to the management network as `mg0`
    /// (10.99.0.`10 + index`).
    pub fn attach(&self, index: usize, tb: &Testbed) -> Result<()> {
        let here = format!("mv{index}");
        self.ns.add_veth_to(&here, &tb.shaper, "mg0", 1)?;
        self.ns.run("ip", &["link", "set", &here, "master", "mb"])?;
        self.ns.set_up(&here)?;
        tb.shaper
            .add_addr("mg0", &format!("10.99.0.{}/24", 10 + index))?;
        tb.shaper.set_up("mg0")
    }

    /// The `[fleet]` table of box `name` in `cluster` (lease TTL 2 s), with its `role` lines
    /// (its share, `standby_of`, `campaign`).
    pub fn fleet_conf(&self, cluster: &str, name: &str, role: &str) -> String {
        let endpoints: Vec<String> = self
            .etcd
            .endpoints()
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect();
        format!(
            "[fleet]\nendpoints = [{}]\ncluster = \"{cluster}\"\nname = \"{name}\"\n{role}\nlease_ttl_secs = 2\n",
            endpoints.join(", ")
        )
    }
}

/// The records of a JSON-lines journal under a box's directory (`rel`), unreadable lines
/// skipped; none when the file does not exist yet.
pub fn journal(tb: &Testbed, rel: &str) -> Vec<Value> {
    std::fs::read_to_string(tb.dir.join(rel))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A record's unsigned field, 0 when missing.
pub fn field(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}
