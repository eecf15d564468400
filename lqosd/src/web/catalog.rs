//! What the WebUI knows of the operator's inputs: circuits with their devices and plans, and
//! the network tree, built from the validated inputs (the scheduler's own validation) and
//! rebuilt when the files change. Search runs over one lower-cased text of every circuit: a
//! trigram index picks the candidates (a query of 3 bytes or more), a substring check confirms
//! them; shorter queries scan the whole text.

use lqos_config::{Circuit, Config, Inputs};
use memchr::memmem;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A node of network.json with what the tree page needs.
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
    /// `(latitude, longitude)` from network.json (the site map).
    pub location: Option<(f64, f64)>,
}

/// The operator's inputs, indexed for the WebUI (immutable: a change builds a new one).
#[derive(Debug, Default)]
pub struct Catalog {
    /// The validated circuits, as the planner gets them.
    pub circuits: Vec<Circuit>,
    pub nodes: Vec<NodeEntry>,
    pub roots: Vec<usize>,
    pub unparented: Vec<usize>,
    devices: usize,
    by_id: HashMap<String, usize>,
    by_node: HashMap<String, usize>,
    /// Every circuit's searchable text, lower case, one after another; `starts[i]` is where
    /// circuit `i`'s begins.
    haystack: String,
    starts: Vec<usize>,
    /// Every 3-byte sequence of the search text -> the circuits whose text has it, ascending.
    trigrams: HashMap<[u8; 3], Vec<u32>>,
    /// The last searches' results (an operator pages through one search's results).
    recent: Mutex<VecDeque<(String, Arc<Vec<usize>>)>>,
}

/// Searches remembered per catalog (a reload starts afresh).
const RECENT_SEARCHES: usize = 32;

impl Catalog {
    /// Indexes validated inputs.
    pub fn new(inputs: Inputs) -> Self {
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
                location: n.location,
            })
            .collect();
        let mut c = Catalog::default();
        let roots = inputs.network.roots().collect();
        for entry in inputs.circuits {
            let i = c.circuits.len();
            c.starts.push(c.haystack.len());
            c.haystack.push_str(&search_text(&entry, &nodes));
            c.haystack.push('\n');
            match entry.parent {
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
        c.devices = c.circuits.iter().map(|c| c.devices.len()).sum();
        c.index_trigrams();
        c.roots = roots;
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
        lqos_config::load_inputs(config).map(|l| Catalog::new(l.inputs))
    }

    /// The index of the circuit with this id.
    pub fn circuit(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The index of the node with this name.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.by_node.get(name).copied()
    }

    /// Devices of every circuit.
    pub fn devices(&self) -> usize {
        self.devices
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
    pub fn search(&self, query: &str) -> Arc<Vec<usize>> {
        let q = query.trim().to_lowercase();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = recent.iter().position(|(k, _)| *k == q) {
            let hit = recent.remove(i).map(|(_, v)| v).unwrap_or_default();
            recent.push_front((q, hit.clone()));
            return hit;
        }
        drop(recent);
        let found = Arc::new(self.scan(&q));
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.push_front((q, found.clone()));
        recent.truncate(RECENT_SEARCHES);
        found
    }

    fn text(&self, i: usize) -> &[u8] {
        let end = self
            .starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.haystack.len());
        &self.haystack.as_bytes()[self.starts[i]..end]
    }

    fn index_trigrams(&mut self) {
        let mut t: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        for i in 0..self.starts.len() {
            for w in self.text(i).windows(3) {
                let list = t.entry([w[0], w[1], w[2]]).or_default();
                // Circuits are visited in order: a repeat within one circuit is the last entry.
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        t.values_mut().for_each(|v| v.shrink_to_fit());
        self.trigrams = t;
    }

    /// Circuits that hold the two rarest trigrams of `q`: a superset of the matches, small
    /// enough that the substring check of each is cheaper than intersecting every list.
    fn candidates(&self, q: &[u8]) -> Vec<u32> {
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        for w in q.windows(3) {
            match self.trigrams.get(&[w[0], w[1], w[2]]) {
                Some(l) => lists.push(l),
                None => return Vec::new(),
            }
        }
        lists.sort_by_key(|l| l.len());
        match lists.as_slice() {
            [] => Vec::new(),
            [only] => only.to_vec(),
            [rarest, next, ..] => rarest
                .iter()
                .copied()
                .filter(|i| next.binary_search(i).is_ok())
                .collect(),
        }
    }

    fn scan(&self, q: &str) -> Vec<usize> {
        if q.is_empty() {
            return (0..self.circuits.len()).collect();
        }
        if q.len() >= 3 {
            let finder = memmem::Finder::new(q.as_bytes());
            return self
                .candidates(q.as_bytes())
                .into_iter()
                .map(|i| i as usize)
                .filter(|&i| finder.find(self.text(i)).is_some())
                .collect();
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

fn search_text(c: &Circuit, nodes: &[NodeEntry]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigram_index_finds_what_a_full_scan_finds() {
        let inputs = lqos_gen::inputs(&lqos_gen::GenSpec::new(3000)).unwrap();
        let c = Catalog::new(inputs);
        let name = &c.circuits[1234].name;
        let queries = [
            name.as_str(),
            "smith",
            "SMITH",
            "100.64.",
            "ap",
            "a",
            "",
            "no such text",
            "1234",
            ":",
            ", ",
            "router",
        ];
        for q in queries {
            let q = q.to_lowercase();
            let full: Vec<usize> = (0..c.circuits.len())
                .filter(|&i| memmem::find(c.text(i), q.as_bytes()).is_some())
                .collect();
            assert_eq!(*c.search(&q), full, "{q:?}");
            assert_eq!(*c.search(&q), full, "{q:?} again, from the cache");
        }
        assert!(c.search(name).contains(&1234));
    }
}
