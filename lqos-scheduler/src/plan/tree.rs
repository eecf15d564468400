//! The shaped tree: network.json with virtual nodes removed (children promoted) and nodes
//! deeper than HTB allows folded into their deepest allowed ancestor.

use lqos_config::{Diagnostic, Diagnostics, Inputs, Location, Severity};
use lqos_plan::MAX_NODE_DEPTH;

/// A node that gets an HTB class.
#[derive(Debug, Clone)]
pub struct ShapeNode {
    pub name: String,
    pub download_mbps: f64,
    pub upload_mbps: f64,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub circuits: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct ShapeTree {
    pub nodes: Vec<ShapeNode>,
    /// Circuits (indexes into `Inputs::circuits`) under no shaped node: generated parents.
    pub unparented: Vec<usize>,
}

impl ShapeTree {
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parent.is_none())
            .map(|(i, _)| i)
    }
}

pub fn build(inputs: &Inputs, notes: &mut Diagnostics) -> ShapeTree {
    let net = &inputs.network;
    let mut tree = ShapeTree::default();
    let mut map: Vec<Option<usize>> = vec![None; net.nodes.len()];
    let mut folded = Vec::new();
    // Iterative DFS: (network node, shaped parent, shaped depth of that parent).
    let mut stack: Vec<(usize, Option<usize>, usize)> = net.roots().map(|r| (r, None, 0)).collect();
    stack.reverse();
    while let Some((n, parent, depth)) = stack.pop() {
        let node = &net.nodes[n];
        let (here, child_depth) = if node.is_virtual {
            (parent, depth)
        } else if depth >= MAX_NODE_DEPTH {
            folded.push(node.name.as_str());
            (parent, depth)
        } else {
            let i = tree.nodes.len();
            tree.nodes.push(ShapeNode {
                name: node.name.clone(),
                download_mbps: node.download_mbps,
                upload_mbps: node.upload_mbps,
                parent,
                children: Vec::new(),
                circuits: Vec::new(),
            });
            if let Some(p) = parent {
                tree.nodes[p].children.push(i);
            }
            (Some(i), depth + 1)
        };
        map[n] = here;
        for &c in node.children.iter().rev() {
            stack.push((c, here, child_depth));
        }
    }
    if !folded.is_empty() {
        notes.push(Diagnostic::new(Severity::Warning, "network.json", Location::File,
            format!("{} node(s) deeper than HTB allows ({MAX_NODE_DEPTH} node levels) are folded into their ancestor at that depth; their own limits are not enforced: {}", folded.len(), preview(&folded))));
    }
    let mut orphaned = Vec::new();
    for (ci, c) in inputs.circuits.iter().enumerate() {
        match c.parent.map(|p| (p, map[p])) {
            Some((_, Some(s))) => tree.nodes[s].circuits.push(ci),
            Some((p, None)) => {
                orphaned.push(net.nodes[p].name.as_str());
                tree.unparented.push(ci);
            }
            None => tree.unparented.push(ci),
        }
    }
    if !orphaned.is_empty() {
        orphaned.sort_unstable();
        orphaned.dedup();
        notes.push(Diagnostic::new(Severity::Info, "network.json", Location::File,
            format!("circuits parented to virtual node(s) with no real ancestor go under generated parent nodes: {}", preview(&orphaned))));
    }
    tree
}

/// A short list for messages.
pub fn preview(items: &[&str]) -> String {
    let mut s: Vec<String> = items.iter().take(8).map(|i| format!("{i:?}")).collect();
    if items.len() > 8 {
        s.push(format!("and {} more", items.len() - 8));
    }
    s.join(", ")
}
