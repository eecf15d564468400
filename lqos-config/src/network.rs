//! `network.json`: the operator's topology, a nested object keyed by unique node name.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use crate::json_tree::{self, path_key, Json};
use rustc_hash::FxHashMap as HashMap;

/// One node of the topology. Rates are Mbps.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub id: Option<String>,
    pub node_type: Option<String>,
    pub download_mbps: f64,
    pub upload_mbps: f64,
    /// Grouping only: no HTB class of its own; its children are promoted to its parent.
    pub is_virtual: bool,
    /// Index of the parent in [`Network::nodes`].
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// JSON path of the node, for diagnostics.
    pub path: String,
    /// `(latitude, longitude)` in degrees, when the node has both (`latitude`/`longitude`
    /// keys, as UISP and other integrations write them); drawn on the WebUI's site map.
    pub location: Option<(f64, f64)>,
}

/// The whole topology as an arena; `{}` is an empty (flat) network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    pub nodes: Vec<Node>,
    by_name: HashMap<String, usize>,
}

impl Network {
    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parent.is_none())
            .map(|(i, _)| i)
    }

    /// Builds a network programmatically (tests, integrations). Node names must be unique.
    pub fn push(&mut self, mut node: Node) -> usize {
        let i = self.nodes.len();
        if let Some(p) = node.parent {
            self.nodes[p].children.push(i);
        }
        node.children.clear();
        self.by_name.insert(node.name.clone(), i);
        self.nodes.push(node);
        i
    }
}

/// A node's `latitude` and `longitude` (numbers, or numbers in strings): both present and in
/// range, or `None` with a warning (coordinates only place the node on the site map, so a bad
/// one never rejects the file).
fn location(value: &Json, here: &str, file: &str, diags: &mut Diagnostics) -> Option<(f64, f64)> {
    let mut coord = |key: &str, limit: f64| -> Option<Option<f64>> {
        let v = match value.get(key) {
            None | Some(Json::Null) => return Some(None),
            Some(Json::Number(n)) => Some(*n),
            Some(Json::String(s)) if s.trim().is_empty() => return Some(None),
            Some(Json::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match v {
            Some(n) if n.is_finite() && n.abs() <= limit => Some(Some(n)),
            _ => {
                let preview = value.get(key).map(Json::preview).unwrap_or_default();
                diags.push(
                    Diagnostic::new(
                        Severity::Warning,
                        file,
                        Location::JsonPath(path_key(here, key)),
                        format!("expected degrees between -{limit} and {limit} (the node is left off the site map)"),
                    )
                    .value(preview),
                );
                None
            }
        }
    };
    let lat = coord("latitude", 90.0)?;
    let lon = coord("longitude", 180.0)?;
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some((lat, lon)),
        (None, None) => None,
        _ => {
            diags.push(Diagnostic::new(
                Severity::Warning,
                file,
                Location::JsonPath(here.to_string()),
                "latitude and longitude go together: the node has only one (left off the site map)",
            ));
            None
        }
    }
}

/// Parses network.json text, reporting every problem ([`Severity::Reject`]: a topology error
/// affects every circuit below it, so it is never applied half-right).
pub fn parse(text: &str, file: &str) -> (Network, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut net = Network::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = match json_tree::parse(text) {
        Ok(j) => j,
        Err((line, column, msg)) => {
            diags.push(Diagnostic::new(
                Severity::Reject,
                file,
                Location::Line {
                    line,
                    column: Some(column),
                },
                format!("invalid JSON: {msg}"),
            ));
            return (net, diags);
        }
    };
    match &root {
        Json::Object(members) => walk(members, None, "$", &mut net, &mut diags, file),
        other => diags.push(
            Diagnostic::new(
                Severity::Reject,
                file,
                Location::JsonPath("$".into()),
                "expected an object keyed by node name ({} for a flat network)",
            )
            .value(other.preview()),
        ),
    }
    (net, diags)
}

fn walk(
    members: &[(String, Json)],
    parent: Option<usize>,
    path: &str,
    net: &mut Network,
    diags: &mut Diagnostics,
    file: &str,
) {
    for (name, value) in members {
        let here = path_key(path, name);
        let reject = |diags: &mut Diagnostics, p: String, v: Option<String>, msg: &str| {
            let mut d = Diagnostic::new(Severity::Reject, file, Location::JsonPath(p), msg);
            if let Some(v) = v {
                d = d.value(v);
            }
            diags.push(d);
        };
        if name.trim().is_empty() {
            reject(diags, here.clone(), None, "expected a non-empty node name");
        }
        if let Some(prev) = net.find(name) {
            let msg = format!(
                "duplicate node name: also at {} (node names must be unique across the whole tree)",
                net.nodes[prev].path
            );
            reject(diags, here.clone(), Some(name.clone()), &msg);
            continue;
        }
        let Json::Object(_) = value else {
            reject(
                diags,
                here.clone(),
                Some(value.preview()),
                "expected a node object with downloadBandwidthMbps and uploadBandwidthMbps",
            );
            continue;
        };
        let mut rate = |key: &str| -> f64 {
            match value.get(key) {
                Some(Json::Number(n)) if n.is_finite() && *n > 0.0 => *n,
                Some(other) => {
                    reject(
                        diags,
                        path_key(&here, key),
                        Some(other.preview()),
                        "expected a number of Mbps greater than 0",
                    );
                    0.0
                }
                None => {
                    reject(
                        diags,
                        path_key(&here, key),
                        None,
                        "missing: expected a number of Mbps greater than 0",
                    );
                    0.0
                }
            }
        };
        let download_mbps = rate("downloadBandwidthMbps");
        let upload_mbps = rate("uploadBandwidthMbps");
        let is_virtual = match value.get("virtual") {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                reject(
                    diags,
                    path_key(&here, "virtual"),
                    Some(other.preview()),
                    "expected true or false",
                );
                false
            }
        };
        let text_field = |key: &str, diags: &mut Diagnostics| -> Option<String> {
            match value.get(key) {
                None | Some(Json::Null) => None,
                Some(Json::String(s)) => Some(s.clone()),
                Some(Json::Number(n)) => Some(n.to_string()),
                Some(other) => {
                    diags.push(
                        Diagnostic::new(
                            Severity::Warning,
                            file,
                            Location::JsonPath(path_key(&here, key)),
                            "expected a string (ignored)",
                        )
                        .value(other.preview()),
                    );
                    None
                }
            }
        };
        let id = text_field("id", diags);
        let node_type = text_field("type", diags);
        let location = location(value, &here, file, diags);
        let index = net.push(Node {
            name: name.clone(),
            id,
            node_type,
            download_mbps,
            upload_mbps,
            is_virtual,
            parent,
            children: Vec::new(),
            path: here.clone(),
            location,
        });
        match value.get("children") {
            None | Some(Json::Null) => {}
            Some(Json::Object(children)) => walk(
                children,
                Some(index),
                &path_key(&here, "children"),
                net,
                diags,
                file,
            ),
            Some(other) => reject(
                diags,
                path_key(&here, "children"),
                Some(other.preview()),
                "expected an object of child nodes keyed by name",
            ),
        }
    }
}
