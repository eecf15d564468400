//! What the WebUI knows of the operator's inputs: circuits with their devices and plans, and
//! the network tree, built from the validated inputs (the scheduler's own validation) and
//! rebuilt when the files change. Search runs over one lower-cased text of every circuit, so
//! a query over 100k circuits is one substring scan.

use lqos_config::{Config, Inputs};
use memchr::memmem;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct CircuitEntry {
    pub id: String,
    pub name: String,
    /// Index into [`Catalog::nodes`]; `None`: unparented.
    pub parent: Option<usize>,
    pub download_min: f64,
    pub download_max: f64,
    pub upload_min: f64,
    pub upload_max: f64,
    pub sqm: Option<String>,
    pub devices: Vec<lqos_config::circuits::Device>,
}

#[derive(Debug, Clone)]
pub struct NodeEntry {
    pub name: String,
    pub id: Option<String>,
    pub node_type: Option<String>,
    pub download_mbps: f64,
    pub upload_mbps: f64,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Circuits directly under this node.
    pub circuits: Vec<usize>,
    /// Circuits in the whole subtree.
    pub subtree_circuits: usize,
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub circuits: Vec<CircuitEntry>,
    pub nodes: Vec<NodeEntry>,
    pub roots: Vec<usize>,
    pub unparented: Vec<usize>,
    by_id: HashMap<String, usize>,
    by_node: HashMap<String, usize>,
    /// Every circuit's searchable text, lower case, one after another; `starts[i]` is where
    /// circuit `i`'s begins.
    haystack: String,
    starts: Vec<usize>,
}

impl Catalog {
    pub fn new(inputs: &Inputs) -> Self {
        let mut nodes: Vec<NodeEntry> = inputs
            .network
            .nodes
            .iter()
            .map(|n| NodeEntry {
                name: n.name.clone(),
                id: n.id.clone(),
                node_type: n.node_type.clone(),
                download_mbps: n.download_mbps,
                upload_mbps: n.upload_mbps,
                parent: n.parent,
                children: n.children.clone(),
                circuits: Vec::new(),
                subtree_circuits: 0,
            })
            .collect();
        let mut c = Catalog::default();
        for circuit in &inputs.circuits {
            let i = c.circuits.len();
            let entry = CircuitEntry {
                id: circuit.id.clone(),
                name: circuit.name.clone(),
                parent: circuit.parent,
                download_min: circuit.download_min,
                download_max: circuit.download_max,
                upload_min: circuit.upload_min,
                upload_max: circuit.upload_max,
                sqm: circuit.sqm.map(|s| s.to_string()),
                devices: circuit.devices.clone(),
            };
            c.starts.push(c.haystack.len());
            c.haystack.push_str(&search_text(&entry, &nodes));
            c.haystack.push('\n');
            match circuit.parent {
                Some(p) => {
                    nodes[p].circuits.push(i);
                    let mut up = Some(p);
                    while let Some(n) = up {
                        nodes[n].subtree_circuits += 1;
                        up = nodes[n].parent;
                    }
                }
                None => c.unparented.push(i),
            }
            c.by_id.insert(entry.id.clone(), i);
            c.circuits.push(entry);
        }
        c.roots = inputs.network.roots().collect();
        c.by_node = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        c.nodes = nodes;
        c
    }

    /// Reads and validates the operator's files, as the scheduler does.
    pub fn load(config: &Config) -> Result<Self, lqos_config::Rejected> {
        lqos_config::load_inputs(config).map(|l| Catalog::new(&l.inputs))
    }

    pub fn circuit(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn node(&self, name: &str) -> Option<usize> {
        self.by_node.get(name).copied()
    }

    pub fn devices(&self) -> usize {
        self.circuits.iter().map(|c| c.devices.len()).sum()
    }

    /// Names from the top of the tree down to `node`.
    pub fn path(&self, node: usize) -> Vec<String> {
        let mut path = Vec::new();
        let mut up = Some(node);
        while let Some(n) = up {
            path.push(self.nodes[n].name.clone());
            up = self.nodes[n].parent;
        }
        path.reverse();
        path
    }

    /// Circuits matching `query` (case-insensitive substring of id, name, parent node,
    /// device names and ids, MACs, IPs), in file order; all of them for an empty query.
    pub fn search(&self, query: &str) -> Vec<usize> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return (0..self.circuits.len()).collect();
        }
        let mut found: Vec<usize> = Vec::new();
        for at in memmem::find_iter(self.haystack.as_bytes(), q.as_bytes()) {
            let i = self.starts.partition_point(|&s| s <= at) - 1;
            if found.last() != Some(&i) {
                found.push(i);
            }
        }
        found
    }
}

fn search_text(c: &CircuitEntry, nodes: &[NodeEntry]) -> String {
    let mut t = format!("{}\t{}", c.id, c.name);
    if let Some(p) = c.parent {
        t.push('\t');
        t.push_str(&nodes[p].name);
    }
    for d in &c.devices {
        t.push('\t');
        t.push_str(&d.id);
        t.push('\t');
        t.push_str(&d.name);
        t.push('\t');
        t.push_str(&d.mac);
        for ip in &d.ips {
            t.push('\t');
            t.push_str(&ip.to_string());
        }
    }
    // A query never spans two circuits: no newline survives in the text.
    t.replace('\n', " ").to_lowercase()
}
